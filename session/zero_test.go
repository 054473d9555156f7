package session_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/require"
	"github.com/tidegate/tidegate/middleware"
	"github.com/tidegate/tidegate/session"
)

// TestNewRefusesAZeroPasswordLogin: a PasswordLogin that
// middleware.NewPasswordLogin did not make is refused at construction; it
// used to be accepted, and every login then panicked.
func TestNewRefusesAZeroPasswordLogin(t *testing.T) {
	_, err := session.New(&middleware.PasswordLogin{})
	require.Error(t, err)
}

// TestZeroServiceAnswersErrors: a Service or RemoteVerifier its constructor
// did not make (a zero value, or the nil a failed New returns before a
// deferred Close) answers ErrInternal, or does nothing; it used to panic.
func TestZeroServiceAnswersErrors(t *testing.T) {
	ctx := context.Background()
	var none *session.Service
	for name, s := range map[string]*session.Service{"zero": {}, "nil": none} {
		t.Run(name, func(t *testing.T) {
			require.NotPanics(t, func() {
				require.NoError(t, s.Close())
				require.ErrorIs(t, s.RevokeSubject(ctx, "u"), middleware.ErrInternal)
			})
		})
	}

	var noVerifier *session.RemoteVerifier
	for name, v := range map[string]*session.RemoteVerifier{"zero RemoteVerifier": {}, "nil RemoteVerifier": noVerifier} {
		t.Run(name, func(t *testing.T) {
			require.NotPanics(t, func() {
				_, err := v.Verify(ctx, middleware.Credential{Kind: session.Kind, Token: middleware.NewToken()})
				require.ErrorIs(t, err, middleware.ErrInternal)
				require.NoError(t, v.Close())
			})
		})
	}
}

// TestZeroServiceHandlerFailsSafe: a zero Service's Handler fails safe as
// its other methods do (notBuilt: "a 500, never a panic at request time"):
// it answers every request 500 rather than returning a nil http.Handler,
// which the wiring would accept and the first request panic on. A nil
// *Service (a failed New's) is wired the same way.
func TestZeroServiceHandlerFailsSafe(t *testing.T) {
	var none *session.Service
	for name, svc := range map[string]*session.Service{"zero": {}, "nil": none} {
		t.Run(name, func(t *testing.T) {
			h := http.StripPrefix("/auth", svc.Handler()) // wiring: no panic, no error
			rec := httptest.NewRecorder()
			func() {
				defer func() {
					if r := recover(); r != nil {
						t.Fatalf("a request to a zero Service's Handler panicked at request time: %v", r)
					}
				}()
				h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/auth/login", nil))
			}()
			if rec.Code != http.StatusInternalServerError {
				t.Fatalf("status %d, want 500", rec.Code)
			}
			require.JSONEq(t, `"Internal server error"`, rec.Body.String(), "the scheme's 500 body")
		})
	}
}

// TestNilServiceGettersAnswerNil: Scheme, Cache and Store of a nil
// *Service answer what a zero Service's do (nil, which middleware.Require
// refuses at wiring time); they used to dereference the nil pointer.
func TestNilServiceGettersAnswerNil(t *testing.T) {
	var none *session.Service
	for name, s := range map[string]*session.Service{"zero": {}, "nil": none} {
		t.Run(name, func(t *testing.T) {
			require.NotPanics(t, func() {
				require.Nil(t, s.Scheme())
				require.Nil(t, s.Cache())
				require.Nil(t, s.Store())
			})
		})
	}
}
