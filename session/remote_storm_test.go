package session_test

import (
	"net/http"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/tidegate/tidegate/middleware"
	"github.com/tidegate/tidegate/session"
)

// TestRemoteVerifierReloginStormIsBounded: an auth server that issues
// server tokens (200 on /serverlogin) but refuses each of them on lookup
// ("Session token required": replicas without a shared store, a store that
// loses writes) made every request log in twice, each login a 24 h server
// session on the auth server, and the login backoff never applied because
// each login "succeeded". A fresh token refused counts as a failed login.
func TestRemoteVerifierReloginStormIsBounded(t *testing.T) {
	var logins atomic.Int64
	srv, _ := fakeAuth(t, func(w http.ResponseWriter, r *http.Request) {
		logins.Add(1)
		goodLogin(w, r)
	}, status(http.StatusUnauthorized, `"Session token required"`))
	v, err := session.NewRemoteVerifier(srv.URL+"/auth", serverName, serverSecret, session.WithRemoteLogger(quiet))
	require.NoError(t, err)
	for range 20 {
		_, err := v.Verify(t.Context(), cred(middleware.NewToken()))
		require.ErrorIs(t, err, middleware.ErrUnavailable)
	}
	assert.LessOrEqual(t, logins.Load(), int64(3),
		"20 requests against an auth server that refuses every server token it issued")
}
