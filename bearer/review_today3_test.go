package bearer_test

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/require"
	"github.com/tidegate/tidegate/bearer"
	"github.com/tidegate/tidegate/middleware"
)

// leakThenForge serves doc as the issuer's JWKS document (after one good
// fetch), has the verifier fetch it, and returns whether a token forged
// with priv under kid is still accepted.
func leakThenForge(t *testing.T, doc func(ecPriv *ecdsa.PrivateKey) string,
	method jwt.SigningMethod, kid string, priv func(ecPriv *ecdsa.PrivateKey) any) {
	t.Helper()
	issuerEnv, ecPriv := asymmetricEnv(t)
	srv := newJWKSServer(t, issuerEnv.svc.JWKSHandler())
	v, h := newJWKSVerifier(t, issuerEnv, srv.URL, bearer.WithRefetchInterval(time.Second))
	require.Equal(t, http.StatusOK, get(h, issuerEnv.authenticate(t, "mary@example.com").AccessToken).Code)
	es := forge(t, jwt.SigningMethodES256, ecPriv, map[string]any{"kid": "es1"}, validClaims(issuerEnv.clock.Now()))
	require.Equal(t, http.StatusOK, get(h, es).Code, "es1 is trusted before the leak")

	srv.set(serveString(http.StatusOK, doc(ecPriv)))
	issuerEnv.clock.Advance(2 * time.Second)
	unknown := forge(t, jwt.SigningMethodEdDSA, edPrivate, map[string]any{"kid": "ed9"}, validClaims(issuerEnv.clock.Now()))
	_, err := v.Verify(t.Context(), middleware.Credential{Kind: bearer.Kind, Token: unknown})
	require.Error(t, err)
	require.EqualValues(t, 2, srv.fetches.Load(), "the leaking document was fetched")

	claims := validClaims(issuerEnv.clock.Now())
	claims["sub"], claims["roles"], claims["jti"] = "u-admin", []string{"admin"}, "attacker"
	forged := forge(t, method, priv(ecPriv), map[string]any{"kid": kid}, claims)
	p, err := v.Verify(t.Context(), middleware.Credential{Kind: bearer.Kind, Token: forged})
	require.Error(t, err, "a token signed with the private part the document published was accepted for %q", p.Subject)
}

// TestReviewToday3LeakedSpellings: each document publishes ed1's seed (or
// es1's scalar) in a way a JSON reader other than json.Decoder.Token, or a
// lenient base64 / big-integer reader, reads as the private part.
func TestReviewToday3LeakedSpellings(t *testing.T) {
	x, d := b64.EncodeToString(edPublic), b64.EncodeToString(edSeed)
	head := `{"kty":"OKP","crv":"Ed25519","kid":"ed1","alg":"EdDSA","use":"sig","x":"` + x + `"`
	edDocs := map[string]string{
		"control: plain leak": `{"keys":[` + head + `,"d":"` + d + `"}]}`,
		// json.Decoder.Token fails to decode 1e400 into a float64 and the
		// scan stops there; JSON.parse reads Infinity, Python inf, and
		// both go on to the entry.
		"number out of float64 range before keys":  `{"exp":1e400,"keys":[` + head + `,"d":"` + d + `"}]}`,
		"number out of float64 range in the entry": `{"keys":[` + head + `,"n":-1e999,"d":"` + d + `"}]}`,
		// the entry is never closed, so its d is never counted.
		"trailing comma inside the entry": `{"keys":[` + head + `,"d":"` + d + `",}]}`,
		"truncated document":              `{"keys":[` + head + `,"d":"` + d + `"`,
		// Node's Buffer.from(s, "base64") and Python's b64decode (validate
		// off) skip spaces and take both alphabets.
		"space inside d":  `{"keys":[` + head + `,"d":"` + d[:20] + " " + d[20:] + `"}]}`,
		"mixed alphabets": `{"keys":[` + head + `,"d":"` + strings.Replace(d, "_", "/", 1) + `"}]}`,
	}
	for name, doc := range edDocs {
		t.Run(name, func(t *testing.T) {
			leakThenForge(t, func(*ecdsa.PrivateKey) string { return doc },
				jwt.SigningMethodEdDSA, edKID, func(*ecdsa.PrivateKey) any { return edPrivate })
		})
	}
	// A big-integer encoder (Java's BigInteger.toByteArray) emits a 33rd,
	// leading zero byte; every reader that reads d as an integer reads it.
	t.Run("control: P-256 d, 32 bytes", func(t *testing.T) {
		leakThenForge(t, func(ecPriv *ecdsa.PrivateKey) string {
			raw, err := ecPriv.Bytes()
			require.NoError(t, err)
			return `{"keys":[{"kty":"EC","crv":"P-256","kid":"es1","d":"` + b64.EncodeToString(raw) + `"}]}`
		}, jwt.SigningMethodES256, "es1", func(ecPriv *ecdsa.PrivateKey) any { return ecPriv })
	})
	t.Run("P-256 d with a leading zero byte (33 bytes)", func(t *testing.T) {
		leakThenForge(t, func(ecPriv *ecdsa.PrivateKey) string {
			raw, err := ecPriv.Bytes()
			require.NoError(t, err)
			return `{"keys":[{"kty":"EC","crv":"P-256","kid":"es1","d":"` + b64.EncodeToString(append([]byte{0}, raw...)) + `"}]}`
		}, jwt.SigningMethodES256, "es1", func(ecPriv *ecdsa.PrivateKey) any { return ecPriv })
	})
}

// TestReviewToday3SeedPubHalfIsTakenOnTrust: a 64-byte d whose seed half is
// some other key's and whose second half is ed1's public key is no private
// part of ed1 (it is x under another name), yet it makes ed1 untrusted for
// good: the issuer's genuine tokens are refused after the issuer serves
// its correct document again.
func TestReviewToday3SeedPubHalfIsTakenOnTrust(t *testing.T) {
	issuerEnv, _ := asymmetricEnv(t)
	srv := newJWKSServer(t, issuerEnv.svc.JWKSHandler())
	v, h := newJWKSVerifier(t, issuerEnv, srv.URL, bearer.WithRefetchInterval(time.Second))
	require.Equal(t, http.StatusOK, get(h, issuerEnv.authenticate(t, "mary@example.com").AccessToken).Code)

	other := make([]byte, ed25519.SeedSize)
	other[0] = 7
	d := append(append([]byte{}, other...), edPublic...) // not ed1's private part
	srv.set(serveString(http.StatusOK, `{"keys":[{"kty":"OKP","crv":"Ed25519","kid":"x1","d":"`+b64.EncodeToString(d)+`"}]}`))
	issuerEnv.clock.Advance(2 * time.Second)
	unknown := forge(t, jwt.SigningMethodEdDSA, edPrivate, map[string]any{"kid": "ed9"}, validClaims(issuerEnv.clock.Now()))
	_, _ = v.Verify(t.Context(), middleware.Credential{Kind: bearer.Kind, Token: unknown})

	srv.set(issuerEnv.svc.JWKSHandler())
	issuerEnv.clock.Advance(2 * time.Second)
	_, _ = v.Verify(t.Context(), middleware.Credential{Kind: bearer.Kind, Token: unknown})
	require.EqualValues(t, 3, srv.fetches.Load())

	rec := get(h, issuerEnv.authenticate(t, "mary@example.com").AccessToken)
	require.Equal(t, http.StatusOK, rec.Code, "ed1 distrusted by a d that is not its private part: %s", rec.Body.String())
}

// Not a finding, a record: what a valid token gets once no key is trusted.
func TestReviewToday3FailClosedStatus(t *testing.T) {
	issuerEnv, _ := asymmetricEnv(t)
	srv := newJWKSServer(t, issuerEnv.svc.JWKSHandler())
	v, h := newJWKSVerifier(t, issuerEnv, srv.URL, bearer.WithRefetchInterval(time.Second))
	require.Equal(t, http.StatusOK, get(h, issuerEnv.authenticate(t, "mary@example.com").AccessToken).Code)
	var doc strings.Builder
	doc.WriteString(`{"keys":[`)
	for i := range 65 {
		if i > 0 {
			doc.WriteString(",")
		}
		doc.WriteString(`{"d":""}`)
	}
	doc.WriteString(`]}`)
	srv.set(serveString(http.StatusOK, doc.String()))
	issuerEnv.clock.Advance(2 * time.Second)
	unknown := forge(t, jwt.SigningMethodEdDSA, edPrivate, map[string]any{"kid": "ed9"}, validClaims(issuerEnv.clock.Now()))
	_, _ = v.Verify(t.Context(), middleware.Credential{Kind: bearer.Kind, Token: unknown})
	t.Logf("after a failed document with 65 empty d: %d", get(h, issuerEnv.authenticate(t, "mary@example.com").AccessToken).Code)
	srv.set(issuerEnv.svc.JWKSHandler())
	issuerEnv.clock.Advance(2 * time.Second)
	_, _ = v.Verify(t.Context(), middleware.Credential{Kind: bearer.Kind, Token: unknown})
	rec := get(h, issuerEnv.authenticate(t, "mary@example.com").AccessToken)
	t.Logf("after a good document: %d %q", rec.Code, rec.Header().Get("WWW-Authenticate"))
}
