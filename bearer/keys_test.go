package bearer_test

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	mrand "math/rand/v2"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/tidegate/tidegate/bearer"
)

func TestCheckHMACSecretRefusesWeakSecrets(t *testing.T) {
	tests := map[string]struct {
		secret string
		want   error
	}{
		"empty":                    {"", bearer.ErrShortSecret},
		"31 random bytes":          {string(testSecret[:31]), bearer.ErrShortSecret},
		"over 1 KiB":               {string(make([]byte, 1025)), bearer.ErrShortSecret},
		"one byte repeated":        {strings.Repeat("a", 64), bearer.ErrWeakSecret},
		"zero bytes":               {string(make([]byte, 32)), bearer.ErrWeakSecret},
		"a passphrase":             {"correct horse battery staple and more words", bearer.ErrWeakSecret},
		"run-together words":       {"correcthorsebatterystapleandmorewords", bearer.ErrWeakSecret},
		"a repeated password":      {"password1password1password1password1", bearer.ErrWeakSecret},
		"a repeated random block":  {"f3a9c1e0b7d2846a" + "f3a9c1e0b7d2846a" + "f3a9c1e0b7d2846a" + "f3a9c1e0b7d2846a", bearer.ErrWeakSecret},
		"a hex pattern":            {"0123456789abcdef0123456789abcdef", bearer.ErrWeakSecret},
		"the alphabet":             {"abcdefghijklmnopqrstuvwxyz012345", bearer.ErrWeakSecret},
		"32 decimal digits":        {"73019284756102938475610293847561", bearer.ErrWeakSecret},
		"a repeated password, mix": {"Tr0ub4dor&3Tr0ub4dor&3Tr0ub4dor&3!!", bearer.ErrWeakSecret},
		"two bytes alternating":    {strings.Repeat("\x01\xfe", 32), bearer.ErrWeakSecret},
		"a keyboard walk":          {"qwertyuiopasdfghjklzxcvbnm123456", bearer.ErrWeakSecret},
		"a keyboard walk, shifted": {"QWERTYUIOPASDFGHJKLZXCVBNM!@#$%^", bearer.ErrWeakSecret},
		"a tutorial secret":        {"ThisIsMySuperSecretKeyForJWTTokens2024", bearer.ErrWeakSecret},
		"another tutorial secret":  {"MySecretKeyForJwtTokenGenerationAndValidation", bearer.ErrWeakSecret},
		"a production secret":      {"Administrator2024!SecretKeyForProduction", bearer.ErrWeakSecret},
		"a placeholder":            {"please-changeme-before-deploying-this-42", bearer.ErrWeakSecret},
		"a password in the middle": {"xK9#mQ2$vL7@Password!nR4&wT8*jH3^", bearer.ErrWeakSecret},
		"counting bytes": {string(func() []byte {
			b := make([]byte, 64)
			for i := range b {
				b[i] = byte(i)
			}
			return b
		}()), bearer.ErrWeakSecret},
	}
	for name, tc := range tests {
		assert.ErrorIs(t, bearer.CheckHMACSecret([]byte(tc.secret)), tc.want, name)
		_, err := bearer.NewHMACKey("k", []byte(tc.secret))
		assert.ErrorIs(t, err, tc.want, name)
	}
}

// TestCheckHMACSecretAcceptsRandomSecrets draws many secrets of every
// common encoding from a seeded generator (so the test is deterministic) and
// requires that none is refused.
func TestCheckHMACSecretAcceptsRandomSecrets(t *testing.T) {
	rng := mrand.New(mrand.NewChaCha8([32]byte{1, 2, 3}))
	randomBytes := func(n int) []byte {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(rng.Uint32())
		}
		return b
	}
	printable := func(n int) []byte {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(0x20 + rng.IntN(95))
		}
		return b
	}
	encodings := []struct {
		name string
		gen  func() []byte
	}{
		{"32 raw bytes", func() []byte { return randomBytes(32) }},
		{"64 raw bytes", func() []byte { return randomBytes(64) }},
		{"hex of 16 bytes", func() []byte { return []byte(hex.EncodeToString(randomBytes(16))) }},
		{"hex of 32 bytes", func() []byte { return []byte(hex.EncodeToString(randomBytes(32))) }},
		{"base64 of 32 bytes", func() []byte { return []byte(base64.StdEncoding.EncodeToString(randomBytes(32))) }},
		{"base64url of 24", func() []byte { return []byte(base64.RawURLEncoding.EncodeToString(randomBytes(24))) }},
		{"32 printable chars", func() []byte { return printable(32) }},
		{"100 printable chars", func() []byte { return printable(100) }},
		{"40 decimal digits", func() []byte {
			b := make([]byte, 40)
			for i := range b {
				b[i] = byte('0' + rng.IntN(10))
			}
			return b
		}},
	}
	for _, enc := range encodings {
		for range 3000 {
			secret := enc.gen()
			require.NoError(t, bearer.CheckHMACSecret(secret), "%s: %q", enc.name, secret)
		}
	}
	assert.NoError(t, bearer.CheckHMACSecret(testSecret))
}

func TestNewHMACKey(t *testing.T) {
	secret := append([]byte(nil), testSecret...)
	k, err := bearer.NewHMACKey("", secret)
	require.NoError(t, err)
	assert.Equal(t, bearer.HS256, k.Algorithm())
	assert.True(t, k.CanSign())
	assert.Nil(t, k.Public(), "a secret is never handed out")
	assert.Len(t, k.ID(), 12, "a derived kid")
	again, err := bearer.NewHMACKey("", testSecret)
	require.NoError(t, err)
	assert.Equal(t, k.ID(), again.ID(), "replicas with the same secret derive the same kid")
	other, err := bearer.NewHMACKey("", otherSecret)
	require.NoError(t, err)
	assert.NotEqual(t, k.ID(), other.ID())

	for _, kid := range []string{"a b", `a"b`, "é", strings.Repeat("k", 65), "a/b"} {
		_, err := bearer.NewHMACKey(kid, testSecret)
		assert.Error(t, err, kid)
	}
	for _, kid := range []string{"k", "key-2026.01_a", strings.Repeat("k", 64)} {
		_, err := bearer.NewHMACKey(kid, testSecret)
		assert.NoError(t, err, kid)
	}
}

func TestParseHMACKey(t *testing.T) {
	want, err := bearer.NewHMACKey("", testSecret)
	require.NoError(t, err)
	for name, file := range map[string]string{
		"raw bytes":           string(testSecret),
		"base64 with newline": base64.StdEncoding.EncodeToString(testSecret) + "\n",
		"base64url unpadded":  base64.RawURLEncoding.EncodeToString(testSecret),
		"base64 with spaces":  "  " + base64.StdEncoding.EncodeToString(testSecret) + " \r\n",
	} {
		k, err := bearer.ParseHMACKey("", []byte(file))
		require.NoError(t, err, name)
		assert.Equal(t, want.ID(), k.ID(), name)
	}
	_, err = bearer.ParseHMACKey("", []byte("correct horse battery staple and more words\n"))
	assert.ErrorIs(t, err, bearer.ErrWeakSecret)
	_, err = bearer.ParseHMACKey("", []byte(base64.StdEncoding.EncodeToString(testSecret[:20])))
	assert.Error(t, err, "28 characters of base64 decode to 20 bytes; as text they are too short")
	_, err = bearer.ParseHMACKey("", nil)
	assert.ErrorIs(t, err, bearer.ErrShortSecret)
}

// TestParseHMACKeyRefusesAnEncodedPassword: a key file holding the base64
// of an obvious password (echo -n passwordpassword... | base64 > key)
// decodes to bytes CheckHMACSecret refuses, and the text, which looks
// random to it, was taken as the secret instead: a password-grade secret,
// crackable offline from any one token, through the documented key-file
// route. Only hex text falls back to the text.
func TestParseHMACKeyRefusesAnEncodedPassword(t *testing.T) {
	for _, password := range []string{
		"passwordpasswordpasswordpassword",
		"changemechangemechangemechangeme",
		"my-super-secret-jwt-key-for-prod",
		"abcdefghijklmnopqrstuvwxyz012345",
	} {
		require.Error(t, bearer.CheckHMACSecret([]byte(password)), "the password itself is refused: %s", password)
		for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawURLEncoding} {
			file := enc.EncodeToString([]byte(password)) + "\n"
			_, err := bearer.ParseHMACKey("", []byte(file))
			assert.ErrorIs(t, err, bearer.ErrWeakSecret, "key file %q (the base64 of %q)", file, password)
		}
	}
}

// TestParseHMACKeyAcceptsHexFiles: a hex key file (openssl rand -hex 32)
// is also base64 text, and about one in a hundred decodes, as base64, to
// bytes CheckHMACSecret refuses; such a file is then read as text. Files
// whose decoding passes keep the decoded key, as before.
func TestParseHMACKeyAcceptsHexFiles(t *testing.T) {
	rng := mrand.New(mrand.NewChaCha8([32]byte{4, 5, 6}))
	decodedWeak, decodedSound := 0, 0
	for range 3000 {
		raw := make([]byte, 32)
		for i := range raw {
			raw[i] = byte(rng.Uint32())
		}
		text := hex.EncodeToString(raw)
		k, err := bearer.ParseHMACKey("", []byte(text+"\n"))
		require.NoError(t, err, "%s", text)

		decoded, err := base64.StdEncoding.DecodeString(text)
		require.NoError(t, err, "64 hex digits are base64 text")
		want := decoded
		if bearer.CheckHMACSecret(decoded) != nil {
			want = []byte(text)
			decodedWeak++
		} else {
			decodedSound++
		}
		wantKey, err := bearer.NewHMACKey("", want)
		require.NoError(t, err)
		assert.Equal(t, wantKey.ID(), k.ID(), "%s", text)
	}
	assert.Positive(t, decodedWeak, "the fallback to the text was exercised")
	assert.Positive(t, decodedSound)
}

func TestAsymmetricKeys(t *testing.T) {
	ed, err := bearer.NewEd25519Key("", edPrivate)
	require.NoError(t, err)
	assert.Equal(t, bearer.EdDSA, ed.Algorithm())
	assert.Equal(t, edPublic, ed.Public())
	assert.True(t, ed.CanSign())
	pub, err := bearer.NewEd25519VerificationKey("", edPublic)
	require.NoError(t, err)
	assert.False(t, pub.CanSign())
	assert.Equal(t, ed.ID(), pub.ID(), "the derived kid depends on the public key only")

	_, err = bearer.NewEd25519Key("k", edPrivate[:10])
	assert.Error(t, err)
	_, err = bearer.NewEd25519VerificationKey("k", edPublic[:10])
	assert.Error(t, err)

	ec, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	es, err := bearer.NewES256Key("es", ec)
	require.NoError(t, err)
	assert.Equal(t, bearer.ES256, es.Algorithm())
	_, err = bearer.NewES256Key("es", nil)
	assert.Error(t, err)
	p384, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	require.NoError(t, err)
	_, err = bearer.NewES256VerificationKey("es", &p384.PublicKey)
	assert.Error(t, err, "ES256 is P-256 only")
}

func TestGenerateKey(t *testing.T) {
	for _, alg := range []string{bearer.HS256, bearer.EdDSA, bearer.ES256} {
		k, err := bearer.GenerateKey("", alg)
		require.NoError(t, err, alg)
		assert.Equal(t, alg, k.Algorithm())
		assert.True(t, k.CanSign())
	}
	_, err := bearer.GenerateKey("k", "RS256")
	assert.Error(t, err)
	_, err = bearer.GenerateKey("k", "none")
	assert.Error(t, err)
}

func TestNewKeySet(t *testing.T) {
	hs, err := bearer.NewHMACKey(hsKID, testSecret)
	require.NoError(t, err)
	edPub, err := bearer.NewEd25519VerificationKey(edKID, edPublic)
	require.NoError(t, err)
	set, err := bearer.NewKeySet(hs, edPub)
	require.NoError(t, err)
	assert.Same(t, hs, set.Signing())
	got, ok := set.Lookup(edKID)
	assert.True(t, ok)
	assert.Same(t, edPub, got)
	_, ok = set.Lookup("nope")
	assert.False(t, ok)

	_, err = bearer.NewKeySet(nil)
	assert.Error(t, err)
	_, err = bearer.NewKeySet(edPub)
	assert.Error(t, err, "a verification-only key cannot sign")
	dup, err := bearer.NewHMACKey(hsKID, otherSecret)
	require.NoError(t, err)
	_, err = bearer.NewKeySet(hs, dup)
	assert.Error(t, err, "duplicate kid")
	_, err = bearer.NewKeySet(hs, nil)
	assert.Error(t, err)
}

func TestKeyRotation(t *testing.T) {
	// Tokens signed by the old key keep working once a new key signs.
	old := newEnv(t)
	tok := old.authenticate(t, "mary@example.com").AccessToken

	newKey, err := bearer.NewHMACKey("hs2", otherSecret)
	require.NoError(t, err)
	oldKey, err := bearer.NewHMACKey(hsKID, testSecret)
	require.NoError(t, err)
	set, err := bearer.NewKeySet(newKey, oldKey)
	require.NoError(t, err)
	rotated := newEnvWithKeys(t, set)
	assert.Equal(t, 200, rotated.whoami(tok).Code)
	fresh := rotated.authenticate(t, "mary@example.com").AccessToken
	h, _ := decodeJWT(t, fresh)
	assert.Equal(t, "hs2", h["kid"])
	assert.Equal(t, 401, old.whoami(fresh).Code, "the old service does not know the new key")
}

// TestPublicIsACopy: Public hands out a copy: writing into what it
// returned changed the key the Service verifies with, and so which tokens
// it accepted.
func TestPublicIsACopy(t *testing.T) {
	ecPriv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	es, err := bearer.NewES256Key("es1", ecPriv)
	require.NoError(t, err)
	ed, err := bearer.NewEd25519Key(edKID, edPrivate)
	require.NoError(t, err)
	for _, key := range []*bearer.Key{ed, es} {
		keys, err := bearer.NewKeySet(key)
		require.NoError(t, err)
		e := newEnvWithKeys(t, keys)
		token := e.authenticate(t, "mary@example.com").AccessToken
		other, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		require.NoError(t, err)
		switch pub := key.Public().(type) {
		case ed25519.PublicKey:
			clear(pub)
		case *ecdsa.PublicKey:
			*pub = other.PublicKey
		}
		assert.Equal(t, http.StatusOK, e.whoami(token).Code, "%s: the Service's own token still verifies", key.Algorithm())
	}
}

// TestKeysOwnTheirMaterial: "Keys are immutable", and NewHMACKey copies
// its secret; the asymmetric constructors kept the caller's private key. A
// caller that wipes or reuses its copy after building the key (ordinary key
// hygiene) made the Service sign every token with another key, which its
// own verifier then refused.
func TestKeysOwnTheirMaterial(t *testing.T) {
	t.Run("EdDSA", func(t *testing.T) {
		priv := append(ed25519.PrivateKey(nil), edPrivate...)
		key, err := bearer.NewEd25519Key(edKID, priv)
		require.NoError(t, err)
		keys, err := bearer.NewKeySet(key)
		require.NoError(t, err)
		e := newEnvWithKeys(t, keys)
		clear(priv) // the caller wipes its copy
		assert.Equal(t, http.StatusOK, e.whoami(e.authenticate(t, "mary@example.com").AccessToken).Code)
	})
	t.Run("ES256", func(t *testing.T) {
		priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		require.NoError(t, err)
		key, err := bearer.NewES256Key("es1", priv)
		require.NoError(t, err)
		keys, err := bearer.NewKeySet(key)
		require.NoError(t, err)
		e := newEnvWithKeys(t, keys)
		other, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		require.NoError(t, err)
		*priv = *other // the caller reuses its key value
		assert.Equal(t, http.StatusOK, e.whoami(e.authenticate(t, "mary@example.com").AccessToken).Code)
	})
}
