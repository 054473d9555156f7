package bearer_test

import (
	"encoding/base64"
	"net/http"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/require"
	"github.com/tidegate/tidegate/bearer"
	"github.com/tidegate/tidegate/middleware"
)

// TestLeakedKeySpelledAnyWayIsDistrusted: each document below publishes
// ed1's Ed25519 seed in a spelling decodeJWKS refuses (repeated or
// differently cased members, a syntax error after the entry, a byte order
// mark, "keys" as an object, padded base64, a 64-byte d): whoever reads it
// can sign, so ed1 is no longer trusted, however the document is spelled.
func TestLeakedKeySpelledAnyWayIsDistrusted(t *testing.T) {
	x, d := b64.EncodeToString(edPublic), b64.EncodeToString(edSeed)
	entry := `{"kty":"OKP","crv":"Ed25519","kid":"ed1","alg":"EdDSA","use":"sig","x":"` + x + `","d":"` + d + `"}`
	padded := base64.URLEncoding.EncodeToString
	docs := map[string]string{
		"control: plain leak": `{"keys":[` + entry + `]}`,
		// decodeJWKS refuses the repeated name; encoding/json keeps the last.
		"keys repeated, last empty": `{"keys":[` + entry + `],"keys":[]}`,
		// decodeJWKS reads "keys" exactly (and refuses its d); encoding/json
		// folds "Keys" onto keys, the last one winning.
		"Keys after keys": `{"keys":[` + entry + `],"Keys":[]}`,
		// a hand-edited document: one stray comma hides every entry.
		"trailing comma":       `{"keys":[` + entry + `,]}`,
		"text after document":  `{"keys":[` + entry + `]}` + "\n}",
		"byte order mark":      "\ufeff" + `{"keys":[` + entry + `]}`,
		"keys is an object":    `{"keys":{"ed1":` + entry + `}}`,
		"padded d and x":       `{"keys":[{"kty":"OKP","crv":"Ed25519","kid":"ed1","x":"` + padded(edPublic) + `","d":"` + padded(edSeed) + `"}]}`,
		"repeated d and x":     `{"keys":[{"kty":"OKP","crv":"Ed25519","kid":"ed1","x":"` + x + `","d":"` + d + `","x":"","d":""}]}`,
		"d is seed||pub, no x": `{"keys":[{"kty":"OKP","crv":"Ed25519","kid":"ed1","d":"` + b64.EncodeToString(edPrivate) + `"}]}`,
	}
	for name, doc := range docs {
		t.Run(name, func(t *testing.T) {
			issuerEnv, _ := asymmetricEnv(t)
			srv := newJWKSServer(t, issuerEnv.svc.JWKSHandler())
			v, h := newJWKSVerifier(t, issuerEnv, srv.URL, bearer.WithRefetchInterval(time.Second))
			require.Equal(t, http.StatusOK, get(h, issuerEnv.authenticate(t, "mary@example.com").AccessToken).Code)

			srv.set(serveString(http.StatusOK, doc))
			issuerEnv.clock.Advance(2 * time.Second)
			unknown := forge(t, jwt.SigningMethodEdDSA, edPrivate, map[string]any{"kid": "ed9"}, validClaims(issuerEnv.clock.Now()))
			_, err := v.Verify(t.Context(), middleware.Credential{Kind: bearer.Kind, Token: unknown})
			require.Error(t, err)
			require.EqualValues(t, 2, srv.fetches.Load(), "the leaking document was fetched")

			claims := validClaims(issuerEnv.clock.Now())
			claims["sub"], claims["roles"], claims["jti"] = "u-admin", []string{"admin"}, "attacker"
			forged := forge(t, jwt.SigningMethodEdDSA, edPrivate, map[string]any{"kid": edKID}, claims)
			p, err := v.Verify(t.Context(), middleware.Credential{Kind: bearer.Kind, Token: forged})
			require.Error(t, err, "a token signed with the seed the document published was accepted for %q", p.Subject)
		})
	}
}
