package bearer_test

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
)

// TestContentEncodedBodiesAre415: a body declared Content-Encoding: gzip
// is not the JSON its bytes spell (RFC 9110 §8.4); a server that does not
// decode the coding answers 415 (RFC 9110 §15.5.16), with Accept-Encoding:
// identity to say what it reads (§12.5.3). authenticate read the raw bytes
// as JSON and issued tokens, while a proxy or WAF honouring the coding
// reads something else, or nothing.
func TestContentEncodedBodiesAre415(t *testing.T) {
	e := newEnv(t)
	rec := e.call("POST", "/api/v1/authenticate", maryLogin, "Content-Type", jsonCT, "Content-Encoding", "gzip")
	assert.Equal(t, http.StatusUnsupportedMediaType, rec.Code, rec.Body.String())
	assert.Equal(t, "identity", rec.Header().Get("Accept-Encoding"))
}
