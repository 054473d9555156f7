package main

import (
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
)

// TestEveryMethodReachesTheMountedKinds: the kinds' handlers answer a
// method they do not serve themselves, 405 in JSON with an Allow listing
// what the resource serves (RFC 9110 §10.2.1, §15.5.6). gin's Any
// registers nine methods only, so for any other (WebDAV's PROPFIND, or any
// extension method) gin answered instead: text/plain, with an Allow listing
// every method Any registered, PUT, DELETE, PATCH, ..., each of which the
// same resource then refused with 405.
func TestEveryMethodReachesTheMountedKinds(t *testing.T) {
	h := newTestHandler(t)
	for _, target := range []string{"/auth/login", "/api/v1/ping", "/0.4/me", "/.well-known/jwks.json"} {
		rec := do(h, "PROPFIND", target, "")
		assert.Equal(t, http.StatusMethodNotAllowed, rec.Code)
		allow := rec.Header().Get("Allow")
		for _, m := range strings.Split(strings.ReplaceAll(allow, " ", ""), ",") {
			if m == "" {
				continue
			}
			if got := do(h, m, target, ""); got.Code == http.StatusMethodNotAllowed {
				t.Errorf("PROPFIND %s: Allow %q advertises %s, which %s answers 405 (Allow %q)",
					target, allow, m, target, got.Header().Get("Allow"))
			}
		}
		assert.Contains(t, rec.Header().Get("Content-Type"), "application/json",
			"PROPFIND %s is answered by gin (%q), not by the kind's handler", target, rec.Body.String())
	}
}
