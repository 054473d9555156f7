package main

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
)

// TestHeadIsServedLikeGet: every GET route answers HEAD as GET does,
// without the body, as net/http's ServeMux (and so examples/server) does
// (RFC 9110 §9.1). It was 405, with an Allow header that did not even list
// HEAD.
func TestHeadIsServedLikeGet(t *testing.T) {
	h := newTestHandler(t)
	for target, want := range map[string]int{
		"/healthz": http.StatusOK, "/hello": http.StatusOK, "/.well-known/jwks.json": http.StatusOK,
		"/whoami": http.StatusUnauthorized, "/session/whoami": http.StatusUnauthorized, "/admin/stats": http.StatusUnauthorized,
	} {
		rec := do(h, http.MethodHead, target, "")
		assert.Equal(t, want, rec.Code, "HEAD %s (Allow: %q)", target, rec.Header().Get("Allow"))
	}
}
