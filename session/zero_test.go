package session_test

import (
	"context"
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
