package basicauth_test

import (
	"context"
	"crypto/tls"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/require"
	"github.com/tidegate/tidegate/basicauth"
	"github.com/tidegate/tidegate/middleware"
)

// TestZeroRegistryIsRefused: a registry its constructor did not make (a
// zero value) answers an error instead of panicking.
func TestZeroRegistryIsRefused(t *testing.T) {
	r := &basicauth.MemoryRegistry{}
	err := r.Register(context.Background(), basicauth.AppSpec{Name: "demo", AppToken: "0123456789abcdef0123456789abcdef"})
	require.ErrorIs(t, err, middleware.ErrInternal)
}

// TestZeroServiceAnswersErrors: a Service its constructor did not make (a
// zero value, or the nil a failed New returns before a deferred Close)
// answers ErrInternal, or does nothing; it used to panic. Its HSTS used to
// panic on every request: it now answers 500 and never calls next, since a
// zero Service knows neither the HSTS policy nor who may pass.
func TestZeroServiceAnswersErrors(t *testing.T) {
	ctx := context.Background()
	var none *basicauth.Service
	for name, s := range map[string]*basicauth.Service{"zero": {}, "nil": none} {
		t.Run(name, func(t *testing.T) {
			require.NotPanics(t, func() {
				require.ErrorIs(t, s.RevokeSubject(ctx, "u"), middleware.ErrInternal)
				_, err := s.RotateToken(ctx, "demo", basicauth.AppToken)
				require.ErrorIs(t, err, middleware.ErrInternal)
				require.ErrorIs(t, s.RevokeApp(ctx, "demo"), middleware.ErrInternal)
				require.NoError(t, s.Close())
			})
		})
	}

	for name, https := range map[string]bool{"HSTS over HTTPS": true, "HSTS over HTTP": false} {
		t.Run(name, func(t *testing.T) {
			var s basicauth.Service
			next := http.HandlerFunc(func(http.ResponseWriter, *http.Request) { t.Error("a zero Service let a request through") })
			req := httptest.NewRequest(http.MethodGet, "https://api.example/me", nil)
			if https {
				req.TLS = &tls.ConnectionState{}
			}
			rec := httptest.NewRecorder()
			require.NotPanics(t, func() { s.HSTS(next).ServeHTTP(rec, req) })
			require.Equal(t, http.StatusInternalServerError, rec.Code)
			require.JSONEq(t, `{"errors":[{"code":5000,"message":"internal error"}]}`, rec.Body.String())
		})
	}
}

// TestZeroServiceHandlerFailsSafe: HSTS documents that a zero Service
// "answers every request 500 and never calls next"; Handler, on the same
// zero Service (or a nil one, a failed New's), returned nil and the first
// request panicked.
func TestZeroServiceHandlerFailsSafe(t *testing.T) {
	var none *basicauth.Service
	for name, svc := range map[string]*basicauth.Service{"zero": {}, "nil": none} {
		t.Run(name, func(t *testing.T) {
			h := http.StripPrefix("/0.4", svc.Handler())
			rec := httptest.NewRecorder()
			func() {
				defer func() {
					if r := recover(); r != nil {
						t.Fatalf("a request to a zero Service's Handler panicked at request time: %v", r)
					}
				}()
				h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "https://api.example/0.4/me", nil))
			}()
			if rec.Code != http.StatusInternalServerError {
				t.Fatalf("status %d, want 500", rec.Code)
			}
			require.JSONEq(t, `{"errors":[{"code":5000,"message":"internal error"}]}`, rec.Body.String())
		})
	}
}

// TestNilServiceSchemesAnswerNil: Scheme and AppScheme of a nil *Service
// answer what a zero Service's do (nil), and RequireUser and RequireApp
// refuse it at wiring time as they refuse a zero one, with the core's
// message; they used to dereference the nil pointer.
func TestNilServiceSchemesAnswerNil(t *testing.T) {
	var none *basicauth.Service
	for name, s := range map[string]*basicauth.Service{"zero": {}, "nil": none} {
		t.Run(name, func(t *testing.T) {
			require.NotPanics(t, func() {
				require.Nil(t, s.Scheme())
				require.Nil(t, s.AppScheme())
			})
			const notBuilt = "tidegate: nil *middleware.Scheme"
			require.PanicsWithValue(t, notBuilt, func() { s.RequireUser() })
			require.PanicsWithValue(t, notBuilt, func() { s.RequireApp() })
		})
	}
}

// TestHSTSRefusesANilHandler: wrapping a nil handler is a wiring mistake,
// refused when it is made (as http.Handle refuses one), on a zero Service
// too, rather than a panic at the first request over HTTPS.
func TestHSTSRefusesANilHandler(t *testing.T) {
	var none *basicauth.Service
	require.Panics(t, func() { none.HSTS(nil) })
	require.Panics(t, func() { new(basicauth.Service).HSTS(nil) })
}

// TestHSTSRefusesATypedNilHandler: a nil http.HandlerFunc is refused as a
// nil handler is.
func TestHSTSRefusesATypedNilHandler(t *testing.T) {
	var nilFunc http.HandlerFunc
	require.Panics(t, func() { new(basicauth.Service).HSTS(nilFunc) })
}
