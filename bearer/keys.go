package bearer

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"hash"
	"io"
	"log/slog"
	"slices"
	"strconv"
	"sync"

	"github.com/golang-jwt/jwt/v5"

	"github.com/tidegate/tidegate/internal/withheld"
)

// The signing algorithms a Key can have (RFC 7518 §3.1, RFC 8037 §3.1).
const (
	// HS256 is HMAC with SHA-256, a shared secret of at least 32 bytes.
	HS256 = "HS256"
	// EdDSA is Ed25519 (RFC 8037).
	EdDSA = "EdDSA"
	// ES256 is ECDSA on P-256 with SHA-256.
	ES256 = "ES256"
)

// maxKIDBytes bounds a key id.
const maxKIDBytes = 64

// Key is one signing or verification key with its key id (the JWS "kid")
// and its algorithm. The algorithm belongs to the key, never to the token:
// a token naming a kid is verified with that key's algorithm only, so an
// attacker cannot pick one (RFC 8725 §3.1).
//
// Keys are immutable and safe for concurrent use.
type Key struct {
	id     string
	alg    string
	method jwt.SigningMethod
	public crypto.PublicKey // ed25519.PublicKey or *ecdsa.PublicKey

	// m holds what must never be printed, behind a pointer: fmt prints a
	// pointer it meets inside a struct as an address. A Key held by value
	// in an unexported field of the application's own struct is printed
	// field by field, without Format, and showed its secret.
	m *keyMaterial
}

// keyMaterial is a Key's secret material, and what is derived from it.
type keyMaterial struct {
	secret []byte        // HS256
	signer crypto.Signer // EdDSA, ES256; nil for a verification-only key

	// verification is what golang-jwt's SigningMethod.Verify takes for
	// alg: the secret ([]byte) for HS256, the public key otherwise. It is
	// boxed once here, not on every verification.
	verification any
	// macs holds *macState values of an HS256 key (see verify), so that
	// verifying neither keys a new HMAC nor allocates.
	macs *sync.Pool
}

// String describes the key by its kid and algorithm, never its material:
// whoever has an HS256 secret or a private key can mint any token.
func (k *Key) String() string {
	if k == nil {
		return "bearer key <nil>"
	}
	return "bearer key " + strconv.Quote(k.id) + " (" + k.alg + ")"
}

// GoString is String, so that %#v is as safe as %v.
func (k *Key) GoString() string { return k.String() }

// Format implements fmt.Formatter so that every verb prints String. Without
// it, fmt printed the key field by field, secret and private key included.
// Its receiver is a value, so that a dereferenced key (fmt.Print(*k)) is
// covered too: a Key value has none of the pointer receivers' methods. (fmt
// prints a nil *Key as "<nil>".)
func (k Key) Format(f fmt.State, _ rune) { _, _ = io.WriteString(f, k.String()) }

// LogValue implements slog.LogValuer: a logged key shows its kid and
// algorithm only.
func (k *Key) LogValue() slog.Value {
	if k == nil {
		return slog.StringValue("<nil>")
	}
	return slog.GroupValue(slog.String("kid", k.id), slog.String("alg", k.alg))
}

// NewHMACKey returns an HS256 key. The secret must be at least 32 bytes
// (RFC 7518 §3.2) and must not look like a password: see CheckHMACSecret for
// the rule. An empty kid is derived from the secret. The secret is copied.
func NewHMACKey(kid string, secret []byte) (*Key, error) {
	if err := CheckHMACSecret(secret); err != nil {
		return nil, err
	}
	secret = append([]byte(nil), secret...)
	k := &Key{alg: HS256, method: jwt.SigningMethodHS256, m: &keyMaterial{secret: secret, verification: secret,
		macs: &sync.Pool{New: func() any { return &macState{mac: hmac.New(sha256.New, secret)} }}}}
	return k, k.setID(kid, secret)
}

// NewEd25519Key returns an EdDSA signing key. An empty kid is derived from
// the public key.
func NewEd25519Key(kid string, priv ed25519.PrivateKey) (*Key, error) {
	if len(priv) != ed25519.PrivateKeySize {
		return nil, errors.New("bearer: invalid Ed25519 private key")
	}
	k, err := NewEd25519VerificationKey(kid, priv.Public().(ed25519.PublicKey))
	if err != nil {
		return nil, err
	}
	k.m.signer = append(ed25519.PrivateKey(nil), priv...) // Keys are immutable: not the caller's slice
	return k, nil
}

// NewEd25519VerificationKey returns an EdDSA key that verifies only. It
// refuses a public key of small order, which has no private key and under
// which anybody could forge signatures (see hasSmallOrder).
func NewEd25519VerificationKey(kid string, pub ed25519.PublicKey) (*Key, error) {
	if len(pub) != ed25519.PublicKeySize {
		return nil, errors.New("bearer: invalid Ed25519 public key")
	}
	if hasSmallOrder(pub) {
		return nil, errors.New("bearer: Ed25519 public key of small order")
	}
	pub = append(ed25519.PublicKey(nil), pub...)
	k := &Key{alg: EdDSA, method: jwt.SigningMethodEdDSA, public: pub, m: &keyMaterial{verification: pub}}
	return k, k.setID(kid, pub)
}

// NewES256Key returns an ES256 signing key on P-256. An empty kid is derived
// from the public key.
func NewES256Key(kid string, priv *ecdsa.PrivateKey) (*Key, error) {
	if priv == nil {
		return nil, errors.New("bearer: nil ES256 private key")
	}
	k, err := NewES256VerificationKey(kid, &priv.PublicKey)
	if err != nil {
		return nil, err
	}
	// A copy of its own, as Keys are immutable: not the caller's, which
	// the caller may wipe or change.
	raw, err := priv.Bytes()
	if err != nil {
		return nil, errors.New("bearer: invalid ES256 private key")
	}
	own, err := ecdsa.ParseRawPrivateKey(elliptic.P256(), raw)
	clear(raw)
	if err != nil || !own.PublicKey.Equal(k.public) {
		return nil, errors.New("bearer: invalid ES256 private key")
	}
	k.m.signer = own
	return k, nil
}

// NewES256VerificationKey returns an ES256 key that verifies only. The key
// must be a point on P-256.
func NewES256VerificationKey(kid string, pub *ecdsa.PublicKey) (*Key, error) {
	if pub == nil || pub.Curve != elliptic.P256() {
		return nil, errors.New("bearer: ES256 needs a P-256 public key")
	}
	point, err := pub.Bytes() // validates the point
	if err != nil {
		return nil, errors.New("bearer: invalid P-256 public key")
	}
	if pub, err = ecdsa.ParseUncompressedPublicKey(elliptic.P256(), point); err != nil { // a copy of its own
		return nil, errors.New("bearer: invalid P-256 public key")
	}
	k := &Key{alg: ES256, method: jwt.SigningMethodES256, public: pub, m: &keyMaterial{verification: pub}}
	return k, k.setID(kid, point)
}

// GenerateKey returns a new random key for alg (HS256, EdDSA or ES256) with
// the given kid (derived from the key when empty).
func GenerateKey(kid, alg string) (*Key, error) {
	switch alg {
	case HS256:
		// CheckHMACSecret refuses about one random secret in ten million
		// (rules 2 and 5): draw again then.
		secret := make([]byte, 32)
		for {
			_, _ = rand.Read(secret)
			if CheckHMACSecret(secret) == nil {
				return NewHMACKey(kid, secret)
			}
		}
	case EdDSA:
		_, priv, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			return nil, err
		}
		return NewEd25519Key(kid, priv)
	case ES256:
		priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return nil, err
		}
		return NewES256Key(kid, priv)
	}
	return nil, errors.New("bearer: unsupported algorithm " + quote(alg))
}

// ParseHMACKey reads an HS256 secret from the content of a key file: base64
// text (standard or URL alphabet, padded or not, surrounding whitespace
// ignored) when the whole file is such text and decodes to at least 32
// bytes, and the raw bytes otherwise. The result must pass CheckHMACSecret.
// Replicas given the same file derive the same key and, with an empty kid,
// the same kid.
//
// Hex text (openssl rand -hex 32) is also base64 text, and what it decodes
// to as base64 is not random-looking: about one such file in a hundred
// decodes to bytes CheckHMACSecret refuses. When the decoded bytes are
// refused but the text is hex and itself passes, the text is the secret.
// Any other text is not: the base64 of a password (echo -n password... |
// base64) looks random to CheckHMACSecret, while its decoding, the
// password, is refused, and so is the file.
func ParseHMACKey(kid string, data []byte) (*Key, error) {
	if text := trimSpace(data); len(text) > 0 {
		for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.URLEncoding,
			base64.RawStdEncoding, base64.RawURLEncoding} {
			if b, err := enc.DecodeString(string(text)); err == nil && len(b) >= minSecretBytes {
				if CheckHMACSecret(b) == nil || !isHex(text) || CheckHMACSecret(text) != nil {
					return NewHMACKey(kid, b)
				}
				break // hex text that is a sound secret, whose decoding is not
			}
		}
		if isText(data) {
			data = text // a passphrase file: its newline is not part of it
		}
	}
	return NewHMACKey(kid, data)
}

// ID returns the key id.
func (k *Key) ID() string { return k.id }

// Algorithm returns the key's algorithm: HS256, EdDSA or ES256.
func (k *Key) Algorithm() string { return k.alg }

// CanSign reports whether the key holds private (or secret) material.
func (k *Key) CanSign() bool { return k.m != nil && (k.m.secret != nil || k.m.signer != nil) }

// Public returns a copy of the public key (ed25519.PublicKey or
// *ecdsa.PublicKey), or nil for an HS256 key, whose secret is never handed
// out. A copy, as Keys are immutable: writing into the key it verifies with
// changed which tokens it accepted.
func (k *Key) Public() crypto.PublicKey {
	switch pub := k.public.(type) {
	case ed25519.PublicKey:
		return append(ed25519.PublicKey(nil), pub...)
	case *ecdsa.PublicKey:
		point, err := pub.Bytes()
		if err != nil {
			return nil // not reached: the constructor checked the point
		}
		own, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), point)
		if err != nil {
			return nil
		}
		return own
	}
	return nil
}

// setID sets the kid, deriving one from material when kid is empty.
func (k *Key) setID(kid string, material []byte) error {
	if kid == "" {
		sum := sha256.Sum256(append([]byte(k.alg+"\x00"), material...))
		kid = base64.RawURLEncoding.EncodeToString(sum[:9])
	}
	if !validKID(kid) {
		return errors.New("bearer: kid must be 1 to 64 characters of A-Z a-z 0-9 . _ -")
	}
	k.id = kid
	return nil
}

// macState is a keyed HMAC-SHA256 state with the buffers one verification
// needs: hash.Hash takes bytes, and its Sum's argument escapes, so both
// live here rather than being allocated per call.
type macState struct {
	mac   hash.Hash
	input []byte
	sum   [sha256.Size]byte
}

// verify reports whether sig is the key's signature of input. It is
// golang-jwt's SigningMethod.Verify, but for HS256, which it does itself
// as golang-jwt does (HMAC-SHA256 compared in constant time with
// hmac.Equal, RFC 7518 §3.2) with a pooled keyed state instead of keying a
// new one on every call.
func (k *Key) verify(input string, sig []byte) bool {
	if k.m.macs == nil {
		return k.method.Verify(input, sig, k.m.verification) == nil
	}
	st := k.m.macs.Get().(*macState)
	defer k.m.macs.Put(st)
	st.input = append(st.input[:0], input...)
	st.mac.Reset()
	st.mac.Write(st.input)
	return hmac.Equal(sig, st.mac.Sum(st.sum[:0]))
}

// signingKey returns what jwt's SigningMethod.Sign expects.
func (k *Key) signingKey() any {
	if k.alg == HS256 {
		return k.m.secret
	}
	return k.m.signer
}

// validKID reports whether s is a kid tidegate issues or accepts: short, and
// of characters that need no escaping in JSON or a header.
func validKID(s string) bool {
	if s == "" || len(s) > maxKIDBytes {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '.' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// KeySet holds the key that signs new tokens and every key that still
// verifies tokens, by kid. Rotating keys means building a new set with the
// new signing key and the old one kept for verification until the tokens it
// signed have expired.
type KeySet struct {
	withheld.Contents[KeySet] // prints as its name alone: no secret in a log

	signing *Key
	byID    map[string]*Key
}

// NewKeySet returns a key set. signing must be able to sign; verification
// keys may be public-only. Kids must be unique.
func NewKeySet(signing *Key, verification ...*Key) (*KeySet, error) {
	if signing == nil || !signing.CanSign() {
		return nil, errors.New("bearer: the signing key must hold private material")
	}
	s := &KeySet{signing: signing, byID: map[string]*Key{signing.id: signing}}
	for _, k := range verification {
		if k == nil || k.method == nil {
			return nil, errors.New("bearer: a verification key must come from NewHMACKey, GenerateKey or another constructor")
		}
		if _, dup := s.byID[k.id]; dup {
			return nil, errors.New("bearer: duplicate kid " + quote(k.id))
		}
		s.byID[k.id] = k
	}
	return s, nil
}

// Signing returns the key that signs new tokens.
func (s *KeySet) Signing() *Key { return s.signing }

// Lookup returns the key with the given kid.
func (s *KeySet) Lookup(kid string) (*Key, bool) {
	k, ok := s.byID[kid]
	return k, ok
}

// algorithms returns the algorithms of the set's keys, sorted and without
// repeats: the jwt.WithValidMethods of its verifier.
func (s *KeySet) algorithms() []string {
	algs := make([]string, 0, len(s.byID))
	for _, k := range s.byID {
		algs = append(algs, k.alg)
	}
	slices.Sort(algs)
	return slices.Compact(algs)
}

// quote quotes a configuration value for an error message, bounded.
func quote(s string) string {
	if len(s) > 64 {
		s = s[:64] + "..."
	}
	return `"` + s + `"`
}

// isHex reports whether b is hex digits only.
func isHex(b []byte) bool {
	for _, c := range b {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') && (c < 'A' || c > 'F') {
			return false
		}
	}
	return true
}

func trimSpace(b []byte) []byte {
	for len(b) > 0 && isSpace(b[0]) {
		b = b[1:]
	}
	for len(b) > 0 && isSpace(b[len(b)-1]) {
		b = b[:len(b)-1]
	}
	return b
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

// isText reports whether b is printable ASCII and whitespace only.
func isText(b []byte) bool {
	for _, c := range b {
		if (c < 0x20 || c > 0x7e) && !isSpace(c) {
			return false
		}
	}
	return true
}
