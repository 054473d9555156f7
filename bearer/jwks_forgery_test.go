package bearer_test

import (
	"encoding/base64"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/require"
	"github.com/tidegate/tidegate/bearer"
	"github.com/tidegate/tidegate/middleware"
)

// TestJWKSRefusesSmallOrderEd25519Keys: an Ed25519 "x" that decodes
// to a point of small order (the identity 0x01 00..00, or the 32 zero bytes
// a broken issuer serving a zeroed buffer would publish, a point of order
// 4) has no private key behind it, and crypto/ed25519 (cofactorless, no
// small-order check on A) accepts the signature R = identity, S = 0 for
// every message under the identity, and for one message in four under the
// order-4 point. A JWKS document carrying such a key must not make the
// verifier accept tokens that anybody can sign without a private key.
func TestJWKSRefusesSmallOrderEd25519Keys(t *testing.T) {
	identity := append([]byte{1}, make([]byte, 31)...)
	zero := make([]byte, 32)
	for name, x := range map[string][]byte{"identity": identity, "zero bytes (order 4)": zero} {
		t.Run(name, func(t *testing.T) {
			issuerEnv, _ := asymmetricEnv(t)
			doc := `{"keys":[{"kty":"OKP","crv":"Ed25519","kid":"weak","alg":"EdDSA","use":"sig","x":"` +
				base64.RawURLEncoding.EncodeToString(x) + `"}]}`
			srv := newJWKSServer(t, serveString(200, doc))
			v, _ := newJWKSVerifier(t, issuerEnv, srv.URL)

			// The forged signature needs no key: R = encoding of the
			// identity, S = 0.
			sig := append(append([]byte{}, identity...), make([]byte, 32)...)
			accepted := 0
			for i := range 64 {
				claims := validClaims(issuerEnv.clock.Now())
				claims["sub"] = "u-admin"
				claims["roles"] = []string{"admin"}
				claims["jti"] = fmt.Sprintf("forged-%d", i)
				tok := jwt.NewWithClaims(jwt.SigningMethodEdDSA, claims)
				tok.Header["typ"] = "at+jwt"
				tok.Header["kid"] = "weak"
				signing, err := tok.SigningString()
				require.NoError(t, err)
				forged := signing + "." + base64.RawURLEncoding.EncodeToString(sig)
				if _, err := v.Verify(t.Context(), middleware.Credential{Kind: bearer.Kind, Token: forged}); err == nil {
					accepted++
				}
			}
			require.Zero(t, accepted, "tokens for u-admin signed without any private key were accepted")
		})
	}
}

// TestJWKSStopsTrustingAKeyWhosePrivatePartWasPublished: the verifier
// refuses a document that carries private material ("d"), and keeps the
// keys of the previous document, but never the very key whose private half
// the issuer has just published to everyone: anyone who reads the issuer's
// JWKS could sign tokens with it. Tokens verified with it before leave the
// cache too.
func TestJWKSStopsTrustingAKeyWhosePrivatePartWasPublished(t *testing.T) {
	issuerEnv, _ := asymmetricEnv(t)
	srv := newJWKSServer(t, issuerEnv.svc.JWKSHandler())
	v, h := newJWKSVerifier(t, issuerEnv, srv.URL, bearer.WithRefetchInterval(time.Second))
	earlier := issuerEnv.authenticate(t, "mary@example.com").AccessToken
	require.Equal(t, http.StatusOK, get(h, earlier).Code)
	require.Equal(t, http.StatusOK, get(h, earlier).Code, "cached")

	// The issuer's JWKS now leaks the private part of ed1.
	leaked := `{"keys":[{"kty":"OKP","crv":"Ed25519","kid":"ed1","alg":"EdDSA","use":"sig","x":"` +
		b64.EncodeToString(edPublic) + `","d":"` + b64.EncodeToString(edSeed) + `"}]}`
	srv.set(serveString(http.StatusOK, leaked))
	issuerEnv.clock.Advance(2 * time.Second)
	unknown := forge(t, jwt.SigningMethodEdDSA, edPrivate, map[string]any{"kid": "ed9"}, validClaims(issuerEnv.clock.Now()))
	_, err := v.Verify(t.Context(), middleware.Credential{Kind: bearer.Kind, Token: unknown})
	require.Error(t, err)
	require.EqualValues(t, 2, srv.fetches.Load(), "the leaking document was fetched")

	// Anybody reads d from the document and signs an admin token with it.
	claims := validClaims(issuerEnv.clock.Now())
	claims["sub"], claims["roles"], claims["jti"] = "u-admin", []string{"admin"}, "attacker"
	forged := forge(t, jwt.SigningMethodEdDSA, edPrivate, map[string]any{"kid": edKID}, claims)
	p, err := v.Verify(t.Context(), middleware.Credential{Kind: bearer.Kind, Token: forged})
	require.Error(t, err, "a token signed with the published private key was accepted for %q", p.Subject)
	require.NotEqual(t, http.StatusOK, get(h, earlier).Code, "a token verified with the leaked key, cached before the leak")
}
