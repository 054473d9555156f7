package main

import (
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
)

// TestAllowListsHead: a 405 on a GET route lists HEAD too, which it serves
// (RFC 9110 §15.5.6: a 405 MUST list the supported methods). chi's GetHead
// middleware served HEAD but left it out of Allow. chi sends one Allow
// line per method, a list split over lines as RFC 9110 §5.3 allows.
func TestAllowListsHead(t *testing.T) {
	h := newTestHandler(t)
	for _, target := range []string{"/healthz", "/hello", "/whoami", "/session/whoami", "/admin/stats", "/.well-known/jwks.json"} {
		head := do(h, http.MethodHead, target, "")
		assert.NotEqual(t, http.StatusMethodNotAllowed, head.Code, "HEAD %s is served", target)
		rec := do(h, http.MethodPost, target, "")
		assert.Equal(t, http.StatusMethodNotAllowed, rec.Code, "POST %s", target)
		allow := strings.Split(strings.ReplaceAll(strings.Join(rec.Header().Values("Allow"), ","), " ", ""), ",")
		assert.Contains(t, allow, http.MethodHead, "POST %s: Allow %q", target, rec.Header().Values("Allow"))
	}
}
