package main

import (
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
)

// TestEveryMethodReachesTheMountedKinds: the kinds' handlers answer a
// method they do not serve themselves, 405 in JSON with an Allow listing
// what the resource serves (RFC 9110 §10.2.1, §15.5.6). chi's Mount and
// Handle route only the methods chi knows, so for any other (WebDAV's
// PROPFIND, or any extension method) chi answered instead: 405 with an
// empty body and no Allow at all.
func TestEveryMethodReachesTheMountedKinds(t *testing.T) {
	h := newTestHandler(t)
	for _, target := range []string{"/auth/login", "/api/v1/ping", "/0.4/me", "/.well-known/jwks.json"} {
		for _, method := range []string{"PROPFIND", "BREW"} {
			rec := do(h, method, target, "")
			assert.Equal(t, http.StatusMethodNotAllowed, rec.Code, "%s %s", method, target)
			allow := rec.Header().Get("Allow")
			assert.NotEmpty(t, allow, "%s %s: 405 without Allow", method, target)
			for _, m := range strings.Split(strings.ReplaceAll(allow, " ", ""), ",") {
				if m == "" {
					continue
				}
				if got := do(h, m, target, ""); got.Code == http.StatusMethodNotAllowed {
					t.Errorf("%s %s: Allow %q advertises %s, which %s answers 405 (Allow %q)",
						method, target, allow, m, target, got.Header().Get("Allow"))
				}
			}
			assert.Contains(t, rec.Header().Get("Content-Type"), "application/json",
				"%s %s is answered by chi (%q), not by the kind's handler", method, target, rec.Body.String())
		}
	}
}
