package middleware_test

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tidegate/tidegate/middleware"
)

// TestTypedNilNextPanicsAtWiringTime: a nil handler of a concrete type in
// the http.Handler (a nil http.HandlerFunc) is refused at wiring time too,
// as the rest of tidegate refuses typed nils (nilness.Is).
func TestTypedNilNextPanicsAtWiringTime(t *testing.T) {
	s := newScheme(t, sessionSpec, &testVerifier{})
	anyMW, err := middleware.Any(s)
	require.NoError(t, err)
	var nilFunc http.HandlerFunc
	for name, wire := range map[string]func(){
		"Require":     func() { middleware.Require(s)(nilFunc) },
		"Optional":    func() { middleware.Optional(s)(nilFunc) },
		"Any":         func() { anyMW(nilFunc) },
		"RequireRole": func() { middleware.RequireRole("admin")(nilFunc) },
	} {
		t.Run(name, func(t *testing.T) { require.Panics(t, wire) })
	}
}
