package middleware_test

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tidegate/tidegate/middleware"
)

// TestWiringMistakesPanicAtWiringTime: a nil next handler (a nil
// http.HandlerFunc too, as the rest of tidegate refuses typed nils), or a
// guard that names no role or scope, is a wiring mistake. Each is refused when the
// middleware is applied, as http.Handle refuses a nil handler, never at
// the first authenticated request (which net/http would answer by
// dropping the connection) or by refusing everyone quietly.
func TestWiringMistakesPanicAtWiringTime(t *testing.T) {
	s := newScheme(t, sessionSpec, &testVerifier{})
	anyMW, err := middleware.Any(s)
	require.NoError(t, err)
	var nilFunc http.HandlerFunc
	for name, wire := range map[string]func(){
		"Require nil func":      func() { middleware.Require(s)(nilFunc) },
		"Optional nil func":     func() { middleware.Optional(s)(nilFunc) },
		"Any nil func":          func() { anyMW(nilFunc) },
		"RequireRole nil func":  func() { middleware.RequireRole("admin")(nilFunc) },
		"Require nil next":      func() { middleware.Require(s)(nil) },
		"Optional nil next":     func() { middleware.Optional(s)(nil) },
		"Any nil next":          func() { anyMW(nil) },
		"RequireRole nil next":  func() { middleware.RequireRole("admin")(nil) },
		"RequireScope nil next": func() { middleware.RequireScope("read")(nil) },
		"RequireRole empty":     func() { middleware.RequireRole("") },
		"RequireScope empty":    func() { middleware.RequireScope("") },
	} {
		t.Run(name, func(t *testing.T) { require.Panics(t, wire) })
	}
	var h http.Handler = http.NotFoundHandler()
	require.NotPanics(t, func() { middleware.Require(s)(middleware.RequireRole("admin")(h)) })
}
