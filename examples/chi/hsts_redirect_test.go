package main

import (
	"crypto/tls"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/assert"
)

// TestHSTSOnEveryHTTPSResponse: every response to an HTTPS request carries
// Strict-Transport-Security, the redirects of the ServeMux in front of chi
// (a path to clean, the /auth and /0.4 mount points) and chi's own 404 and
// 405 included: HSTS wraps the mux, not a chi middleware, since the mux
// answers its redirects before chi runs.
func TestHSTSOnEveryHTTPSResponse(t *testing.T) {
	h := newTestHandler(t)
	for _, c := range []struct{ method, target string }{
		{http.MethodGet, "/whoami"},       // 401
		{http.MethodGet, "/nope"},         // 404 from chi
		{http.MethodPost, "/whoami"},      // 405 from chi
		{"PROPFIND", "/whoami"},           // 405 from chi, a method it does not know
		{"PROPFIND", "/0.4/me"},           // 405 from basicauth
		{http.MethodPost, "/0.4"},         // 307 from the ServeMux
		{http.MethodGet, "/auth"},         // 307 from the ServeMux
		{http.MethodGet, "//whoami"},      // 307 from the ServeMux
		{http.MethodGet, "/api/v1/../me"}, // 307 from the ServeMux
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
