package bearer_test

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
)

// TestJWKSKeyOpsWithoutVerifyIsNotUsed: RFC 7517 §4.3: key_ops names
// the operations a key is intended for, and use and key_ops, when both are
// present, MUST be consistent. A published key whose key_ops does not
// include "verify" (or contradicts "use":"sig") is not a verification key;
// decodeJWKS reads no key_ops and uses it anyway, although it skips a key
// whose "use" says the same thing.
func TestJWKSKeyOpsWithoutVerifyIsNotUsed(t *testing.T) {
	issuerEnv, _ := asymmetricEnv(t)
	tok := issuerEnv.authenticate(t, "mary@example.com").AccessToken
	x := b64.EncodeToString(edPublic)
	for name, member := range map[string]string{
		"key_ops encrypt":            `"key_ops":["encrypt"]`,
		"key_ops sign only":          `"key_ops":["sign"]`,
		"use sig, key_ops wrapKey":   `"use":"sig","key_ops":["wrapKey"]`,
		"use enc (control, skipped)": `"use":"enc"`,
	} {
		doc := `{"keys":[{"kty":"OKP","crv":"Ed25519","kid":"ed1","x":"` + x + `",` + member + `}]}`
		srv := newJWKSServer(t, serveString(200, doc))
		_, h := newJWKSVerifier(t, issuerEnv, srv.URL)
		assert.NotEqual(t, http.StatusOK, get(h, tok).Code, name)
	}
	// A key_ops that names verify is a verification key.
	doc := `{"keys":[{"kty":"OKP","crv":"Ed25519","kid":"ed1","x":"` + x + `","use":"sig","key_ops":["verify"]}]}`
	srv := newJWKSServer(t, serveString(200, doc))
	_, h := newJWKSVerifier(t, issuerEnv, srv.URL)
	assert.Equal(t, http.StatusOK, get(h, tok).Code, "key_ops verify")
}
