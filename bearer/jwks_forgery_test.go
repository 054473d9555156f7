package bearer_test

import (
	"encoding/base64"
	"fmt"
	"testing"

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
