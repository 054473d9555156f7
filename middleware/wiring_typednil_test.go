package middleware_test

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tidegate/tidegate/middleware"
)

// TestReviewTypedNilNextPanicsAtWiringTime: mustNext compares next with
// nil, so a nil http.HandlerFunc (or a nil *T handler) in the interface
// passes wiring and panics at the first request let through, the failure
// mode 19c1d10 set out to remove. The rest of tidegate refuses such
// values with nilness.Is (NewCache, NewScheme, Register...).
func TestReviewTypedNilNextPanicsAtWiringTime(t *testing.T) {
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
