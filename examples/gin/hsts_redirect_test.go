package main

import (
	"crypto/tls"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/assert"
)

// TestHSTSOnEveryHTTPSResponse: every response to an HTTPS request carries
// Strict-Transport-Security, the redirects of gin (a trailing slash) and of
// the ServeMux in front of it (a path to clean, the /auth and /0.4 mount
// points) included, which they answer before any of their handlers runs:
// HSTS wraps them, not a gin handler.
func TestHSTSOnEveryHTTPSResponse(t *testing.T) {
	h := newTestHandler(t)
	for _, c := range []struct{ method, target string }{
		{http.MethodGet, "/whoami"},          // 401: has it
		{http.MethodGet, "/nope"},            // 404: has it
		{http.MethodPost, "/whoami"},         // 405: has it
		{http.MethodGet, "/whoami/"},         // 301 from gin
		{http.MethodGet, "/session/whoami/"}, // 301 from gin
		{http.MethodPost, "/0.4"},            // 307 from the ServeMux
		{http.MethodGet, "/auth"},            // 307 from the ServeMux
		{http.MethodGet, "//whoami"},         // 307 from the ServeMux
	} {
		req := httptest.NewRequest(c.method, "https://example.com"+c.target, nil)
		req.TLS = &tls.ConnectionState{}
		req.RemoteAddr = loopback
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		assert.NotEmpty(t, rec.Header().Get("Strict-Transport-Security"),
			"%s %s over HTTPS -> %d (Location %q) without HSTS", c.method, c.target, rec.Code, rec.Header().Get("Location"))
	}
}
