package bearer

import (
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/tidegate/tidegate/middleware"
)

// The internal tests' key material (the same bytes as the black-box tests').
var (
	internalSecret = []byte("\x05\xbf\xeb\x32\x46\x08\x57\x9b\x74\xfc\x4c\xd0\xed\x63\xd4\x9e\x11\xfc\x96\x55\xe3\x7d\x80\xc2\xe0\xb7\xdd\x5c\xa8\x10\x77\x18")
	internalOther  = []byte("\x78\x2c\xd3\x0a\xe9\xf5\x86\x32\xd9\xea\x95\xaf\x87\xd3\x04\x6e\x5c\x96\xc0\xad\x1f\x84\xb2\x58\x3a\xd9\x7d\xb8\x84\x31\xb9\x11")
	internalNow    = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
)

// internalVerifier returns a verifier of one HS256 key "hs1" and one
// Ed25519 key "ed1", on a clock fixed at internalNow.
func internalVerifier(t testing.TB) *tokenVerifier {
	t.Helper()
	hs, err := NewHMACKey("hs1", internalSecret)
	require.NoError(t, err)
	ed, err := GenerateKey("ed1", EdDSA)
	require.NoError(t, err)
	set, err := NewKeySet(hs, ed)
	require.NoError(t, err)
	c := defaultCommon()
	c.now = func() time.Time { return internalNow }
	return newTokenVerifier(&c, set, nil)
}

// internalToken signs claims (changed by kv pairs; a nil value deletes)
// with secret under kid hs1.
func internalToken(t testing.TB, secret []byte, kv ...any) string {
	t.Helper()
	return internalTokenWithKID(t, "hs1", secret, kv...)
}

func internalTokenWithKID(t testing.TB, kid string, secret []byte, kv ...any) string {
	t.Helper()
	claims := jwt.MapClaims{
		"iss": DefaultIssuer, "aud": DefaultAudience, "sub": "u-1", "jti": "j-1", "sid": "s-1",
		"iat": internalNow.Add(-time.Hour).Unix(), "exp": internalNow.Add(time.Hour).Unix(),
	}
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] == nil {
			delete(claims, kv[i].(string))
		} else {
			claims[kv[i].(string)] = kv[i+1]
		}
	}
	tok := jwt.NewWithClaims(jwt.SigningMethodHS256, claims)
	tok.Header["kid"], tok.Header["typ"] = kid, "at+jwt"
	s, err := tok.SignedString(secret)
	require.NoError(t, err)
	return s
}

// flipLast changes the last character of a token (in its signature).
func flipLast(tok string) string {
	if tok[len(tok)-1] == 'A' {
		return tok[:len(tok)-1] + "Q"
	}
	return tok[:len(tok)-1] + "A"
}

// keySourceFunc adapts a function to keySource.
type keySourceFunc func(kid string) (*Key, error)

func (f keySourceFunc) key(_ context.Context, kid string) (*Key, error) { return f(kid) }

// asReason returns the Reason of a verification error.
func asReason(t *testing.T, err error) string {
	t.Helper()
	e := middleware.AsError(err)
	require.NotNil(t, e)
	return e.Reason
}

func TestVerifierRefusesOversizedTokensItself(t *testing.T) {
	v := internalVerifier(t)
	v.maxBytes = 600
	var c Claims
	err := v.parse(t.Context(), strings.Repeat("a", 601), &c, forAccess)
	assert.Equal(t, reasonOversized, asReason(t, err))
	err = v.parse(t.Context(), strings.Repeat("a", 590)+"..", &c, forAccess)
	assert.Equal(t, reasonMalformed, asReason(t, err), "within the limit, golang-jwt decides")
}

func TestParsersAcceptTheKeySetsAlgorithms(t *testing.T) {
	assert.Equal(t, []string{EdDSA, HS256}, internalVerifier(t).methods)
	c := defaultCommon()
	assert.Equal(t, []string{EdDSA, ES256}, newTokenVerifier(&c, nil, &JWKSVerifier{}).methods,
		"a JWKS verifier accepts what a JWKS document can hold, never HS256")
}

// TestGolangJWTChecksTheSignatureFirst pins what parse relies on for its
// reasons (not for its safety: a failed signature is a failure either way):
// golang-jwt v5 verifies the signature before it validates any claim, so a
// forged token that is also expired, of another issuer and not yet issued
// reports a bad signature and no claim error. If a golang-jwt upgrade
// changes this order, this test says so.
func TestGolangJWTChecksTheSignatureFirst(t *testing.T) {
	v := internalVerifier(t)
	forged := internalToken(t, internalOther,
		"exp", internalNow.Add(-time.Hour).Unix(), "iss", "https://evil.example", "iat", internalNow.Add(time.Hour).Unix())
	_, accessErr := v.access.ParseWithClaims(forged, &accessClaims{}, v.keyfunc)
	_, refreshErr := v.refresh.ParseWithClaims(forged, &refreshClaims{}, v.keyfunc)
	for name, err := range map[string]error{"access": accessErr, "refresh": refreshErr} {
		require.ErrorIs(t, err, jwt.ErrTokenSignatureInvalid, name)
		for _, claimErr := range []error{jwt.ErrTokenInvalidClaims, jwt.ErrTokenExpired, jwt.ErrTokenInvalidIssuer, jwt.ErrTokenUsedBeforeIssued} {
			assert.NotErrorIs(t, err, claimErr, name)
		}
	}
	var c Claims
	assert.Equal(t, reasonSignature, asReason(t, v.parse(t.Context(), forged, &c, forAccess)))
	assert.Equal(t, reasonSignature, asReason(t, v.parse(t.Context(), forged, &c, forRefresh)))
	assert.Equal(t, reasonSignature, asReason(t, v.parse(t.Context(), forged, &c, forLogout)))
}

// TestRefreshParserNeverJudgesExpiry: for a refresh or a logout an expired
// token passes if and only if everything else about it holds; the refresh
// parser reports no expiry at all, so no forged token can pass as merely
// "expired". For a logout, iat in the future is not judged either.
func TestRefreshParserNeverJudgesExpiry(t *testing.T) {
	v := internalVerifier(t)
	long := internalNow.Add(-30 * 24 * time.Hour).Unix()
	expired := internalToken(t, internalSecret, "exp", long, "iat", long-3600)
	var c Claims
	require.NoError(t, v.parse(t.Context(), expired, &c, forRefresh))
	assert.Equal(t, "u-1", c.Subject)
	assert.Equal(t, "s-1", c.LoginID)
	assert.Equal(t, reasonExpired, asReason(t, v.parse(t.Context(), expired, &Claims{}, forAccess)), "the access parser does judge it")

	edKey, _ := v.keys.Lookup("ed1")
	edPublicBytes := []byte(edKey.Public().(ed25519.PublicKey))
	payload := expired[strings.IndexByte(expired, '.') : strings.LastIndexByte(expired, '.')+1]
	none := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none","kid":"hs1","typ":"at+jwt"}`)) + payload

	for name, tc := range map[string]struct {
		token, reason string
	}{
		"expired and forged":                         {internalToken(t, internalOther, "exp", long, "iat", long-3600), reasonSignature},
		"expired, signature flipped":                 {flipLast(expired), reasonSignature},
		"expired, alg none":                          {none, reasonAlg},
		"expired, HS256 over the Ed25519 public key": {internalTokenWithKID(t, "ed1", edPublicBytes, "exp", long), reasonAlg},
		"expired, another issuer":                    {internalToken(t, internalSecret, "exp", long, "iss", "https://evil.example"), reasonIssuer},
		"expired, another audience":                  {internalToken(t, internalSecret, "exp", long, "aud", "other"), reasonAudience},
		"expired, iat in the future":                 {internalToken(t, internalSecret, "exp", long, "iat", internalNow.Add(time.Hour).Unix()), reasonNotYet},
		"expired, nbf in the future":                 {internalToken(t, internalSecret, "exp", long, "nbf", internalNow.Add(time.Hour).Unix()), reasonNotYet},
		"no exp at all":                              {internalToken(t, internalSecret, "exp", nil), reasonClaims},
		"expired, no iat":                            {internalToken(t, internalSecret, "exp", long, "iat", nil), reasonClaims},
		"expired, no sub":                            {internalToken(t, internalSecret, "exp", long, "sub", nil), reasonClaims},
		"expired, exp not a number":                  {internalToken(t, internalSecret, "exp", "yesterday"), reasonMalformed},
		"expired, unknown kid":                       {internalTokenWithKID(t, "hs2", internalSecret, "exp", long), reasonUnknownKey},
	} {
		err := v.parse(t.Context(), tc.token, &Claims{}, forRefresh)
		require.Error(t, err, name)
		assert.Equal(t, tc.reason, asReason(t, err), name)
		_, err = v.refresh.ParseWithClaims(tc.token, &refreshClaims{}, v.keyfunc)
		assert.NotErrorIs(t, err, jwt.ErrTokenExpired, name)

		err = v.parse(t.Context(), tc.token, &Claims{}, forLogout)
		if tc.reason == reasonNotYet {
			assert.NoError(t, err, "%s: a logout judges no time claim", name)
			continue
		}
		assert.Equal(t, tc.reason, asReason(t, err), "%s, for a logout", name)
	}
}

// TestFailurePassesKeySourceErrorsThrough: a key source that cannot answer
// (a JWKS fetch failing) stays a 503 through golang-jwt's wrapping, and is
// never read as a bad token.
func TestFailurePassesKeySourceErrorsThrough(t *testing.T) {
	c := defaultCommon()
	c.now = func() time.Time { return internalNow }
	down := middleware.Unavailable("jwks", errors.New("down"))
	v := newTokenVerifier(&c, nil, keySourceFunc(func(string) (*Key, error) { return nil, down }))
	_, priv, err := ed25519.GenerateKey(nil)
	require.NoError(t, err)
	tok := jwt.NewWithClaims(jwt.SigningMethodEdDSA, jwt.MapClaims{})
	tok.Header["kid"], tok.Header["typ"] = "ed1", "at+jwt"
	s, err := tok.SignedString(priv)
	require.NoError(t, err)
	err = v.parse(t.Context(), s, &Claims{}, forAccess)
	assert.ErrorIs(t, err, middleware.ErrUnavailable)
	assert.Equal(t, 503, middleware.AsError(err).Status)
}

func TestValidRefreshToken(t *testing.T) {
	tok := middleware.NewToken()
	assert.True(t, validRefreshToken(tok))
	for name, bad := range map[string]string{
		"short":                 tok[:42],
		"long":                  tok + "A",
		"standard alphabet":     "+" + tok[1:],
		"padding":               tok[:42] + "=",
		"non-canonical":         strings.Repeat("A", 42) + "B", // 2 of the last character's bits must be 0
		"space":                 " " + tok[1:],
		"43 bytes of non-ASCII": strings.Repeat("é", 21) + "A",
	} {
		assert.False(t, validRefreshToken(bad), name)
	}
}

// refreshParseSeeds are the seeds of FuzzRefreshParse, also in
// testdata/fuzz/FuzzRefreshParse: HS256 signatures are deterministic, so
// the corpus holds the same strings.
func refreshParseSeeds(t testing.TB) []string {
	long := internalNow.Add(-30 * 24 * time.Hour).Unix()
	return []string{
		internalToken(t, internalSecret),                                  // valid
		internalToken(t, internalSecret, "exp", long, "iat", long-3600),   // expired, genuine: accepted
		internalToken(t, internalOther, "exp", long, "iat", long-3600),    // expired and forged
		internalToken(t, internalSecret, "exp", nil),                      // no exp
		internalToken(t, internalSecret, "exp", long, "iss", "https://x"), // expired, another issuer
		internalTokenWithKID(t, "ed1", internalSecret, "exp", long),       // HS256 under the EdDSA kid
		base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none","kid":"hs1","typ":"at+jwt"}`)) + ".e30.",
	}
}

// FuzzRefreshParse fuzzes the second parser, the one POST /refresh and
// /logout use, which accepts expired access tokens and so is the one a
// forger would aim at. Whatever the input, nothing may panic, and a token
// it accepts must carry a genuine signature of a configured key under that
// key's algorithm (checked by a plain golang-jwt parser that validates no
// claims), the configured issuer and audience, and exp, iat, sub and jti,
// with iat not in the future (for a refresh; a logout judges no time
// claim).
func FuzzRefreshParse(f *testing.F) {
	for _, tok := range refreshParseSeeds(f) {
		f.Add(tok)
	}
	v := internalVerifier(f)
	ed, _ := v.keys.Lookup("ed1")
	oracle := jwt.NewParser(jwt.WithValidMethods([]string{HS256, EdDSA}), jwt.WithStrictDecoding(), jwt.WithoutClaimsValidation())
	keyfunc := func(t *jwt.Token) (any, error) {
		switch kid := t.Header["kid"]; {
		case kid == "hs1" && t.Method.Alg() == HS256:
			return internalSecret, nil
		case kid == "ed1" && t.Method.Alg() == EdDSA:
			return ed.Public(), nil
		}
		return nil, errors.New("no such key")
	}
	f.Fuzz(func(t *testing.T, token string) {
		for _, mode := range []parseMode{forRefresh, forLogout} {
			var c Claims
			if v.parse(context.Background(), token, &c, mode) != nil {
				continue
			}
			_, err := oracle.ParseWithClaims(token, jwt.MapClaims{}, keyfunc)
			require.NoError(t, err, "accepted without a genuine signature (mode %d): %q", mode, token)
			require.Equal(t, DefaultIssuer, c.Issuer)
			require.Contains(t, []string(c.Audience), DefaultAudience)
			require.NotNil(t, c.ExpiresAt)
			require.NotNil(t, c.IssuedAt)
			if mode == forRefresh {
				require.False(t, c.IssuedAt.After(internalNow.Add(DefaultLeeway)), "iat in the future")
			}
			require.NotEmpty(t, c.Subject)
			require.NotEmpty(t, c.ID)
		}
	})
}

// TestRefreshParseSeeds keeps FuzzRefreshParse meaningful: of its seeds,
// exactly the genuine ones (valid, or expired but otherwise sound) pass.
func TestRefreshParseSeeds(t *testing.T) {
	v := internalVerifier(t)
	for i, tok := range refreshParseSeeds(t) {
		err := v.parse(t.Context(), tok, &Claims{}, forRefresh)
		if i < 2 {
			assert.NoError(t, err, "seed %d", i)
		} else {
			assert.Error(t, err, "seed %d", i)
		}
	}
}
