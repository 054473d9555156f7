package session_test

import (
	"context"
	"log/slog"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/tidegate/tidegate/middleware"
	"github.com/tidegate/tidegate/session"
)

// TestRefusalLogsTheStoredSubject: a stored session refused as a session
// token (an app's session, or a removed server's token) is logged with the
// subject its record names, on a protected route, on GET /login and on
// POST /logout: the record proves whose it is ("subject when known",
// issue 2).
func TestRefusalLogsTheStoredSubject(t *testing.T) {
	var logs lockedBuffer
	clock := newFakeClock()
	store, err := middleware.NewMemorySessionStore(middleware.WithStoreClock(clock.Now))
	require.NoError(t, err)
	f := newFixture(t, withClock(clock), withService(session.WithStore(store),
		session.WithLogger(slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})))))
	now := clock.Now()
	for token, s := range map[string]middleware.Session{
		"app-session-token-of-mary-0123456789": {Subject: maryID, Actor: middleware.ActorUser, App: "app-1"},
		"token-of-a-removed-server-0123456789": {Subject: "removed-server", Actor: middleware.ActorServer},
	} {
		s.IssuedAt, s.ExpiresAt, s.AbsoluteExpiresAt = now, now.Add(time.Hour), now.Add(time.Hour)
		require.NoError(t, store.Create(context.Background(), middleware.DigestToken(token), s))
		for _, req := range []struct {
			method, path string
			status       int
		}{
			{http.MethodGet, "/whoami", http.StatusUnauthorized},
			{http.MethodGet, "/auth/login", http.StatusUnauthorized},
			{http.MethodPost, "/auth/logout", http.StatusOK},
		} {
			before := len(logs.String())
			rec := f.do(req.method, req.path, session.HeaderToken, token)
			require.Equal(t, req.status, rec.Code, "%s %s", s.Subject, req.path)
			assert.Contains(t, logs.String()[before:], "subject="+s.Subject, "%s %s", s.Subject, req.path)
		}
	}
}
