package bearer

import (
	"context"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/tidegate/tidegate/middleware"
)

// BenchmarkVerifierHS256 measures the bearer Verifier alone, without the
// middleware and cache around it: the part of a first sight this package
// owns (golang-jwt's ParseWithClaims, the Keyfunc, the revocation check and
// the principal), to compare with BenchmarkParseWithClaimsHS256.
func BenchmarkVerifierHS256(b *testing.B) {
	secret := []byte("\x05\xbf\xeb\x32\x46\x08\x57\x9b\x74\xfc\x4c\xd0\xed\x63\xd4\x9e\x11\xfc\x96\x55\xe3\x7d\x80\xc2\xe0\xb7\xdd\x5c\xa8\x10\x77\x18")
	key, err := NewHMACKey("hs1", secret)
	if err != nil {
		b.Fatal(err)
	}
	set, err := NewKeySet(key)
	if err != nil {
		b.Fatal(err)
	}
	list, err := NewMemoryRevocationList()
	if err != nil {
		b.Fatal(err)
	}
	cfg := defaultCommon()
	cfg.revocations = list
	v := newTokenVerifier(&cfg, set, nil)
	now := time.Now()
	c := Claims{
		RegisteredClaims: jwt.RegisteredClaims{Issuer: DefaultIssuer, Subject: "u-1", Audience: jwt.ClaimStrings{DefaultAudience},
			ExpiresAt: jwt.NewNumericDate(now.Add(time.Hour)), IssuedAt: jwt.NewNumericDate(now), ID: "abcdefghijklmnopqrstuv"},
		LoginID: "abcdefghijklmnopqrstuv", Roles: []string{"user"},
	}
	t := jwt.NewWithClaims(jwt.SigningMethodHS256, c)
	t.Header["typ"], t.Header["kid"] = "at+jwt", "hs1"
	tok, err := t.SignedString(secret)
	if err != nil {
		b.Fatal(err)
	}
	cred := middleware.Credential{Kind: Kind, Token: tok}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := v.Verify(ctx, cred); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkKeyVerifyHS256 measures the HMAC check of a first sight's
// fast path (Key.verify) on a signing input of an access token's length:
// a pooled keyed state, no allocation.
func BenchmarkKeyVerifyHS256(b *testing.B) {
	key, err := NewHMACKey("hs1", internalSecret)
	if err != nil {
		b.Fatal(err)
	}
	input := string(make([]byte, 250))
	sig, err := key.method.Sign(input, key.signingKey())
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if !key.verify(input, sig) {
			b.Fatal("signature refused")
		}
	}
}
