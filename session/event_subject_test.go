package session_test

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tidegate/tidegate/middleware"
	"github.com/tidegate/tidegate/session"
)

// failingRevoke is a session store whose Revoke fails (Redis down).
type failingRevoke struct{ middleware.SessionStore }

func (failingRevoke) Revoke(context.Context, middleware.TokenDigest) error {
	return errors.New("connection refused")
}

// TestLogoutEventNamesTheKnownSubject: POST /logout looked the session
// up, so its subject is known when revoking it then fails (503); the
// endpoint's event must name it, as the success's does.
func TestLogoutEventNamesTheKnownSubject(t *testing.T) {
	clock := newFakeClock()
	store, err := middleware.NewMemorySessionStore(middleware.WithStoreClock(clock.Now))
	require.NoError(t, err)
	events := &eventRecorder{}
	f := newFixture(t, withClock(clock),
		withService(session.WithLogger(slog.New(events)), session.WithStore(failingRevoke{store})))
	token := f.login(maryLogin, maryPassword)
	events.take()

	rec := f.do(http.MethodPost, "/auth/logout", session.HeaderToken, token)
	require.Equal(t, http.StatusServiceUnavailable, rec.Code, rec.Body.String())
	got := events.take()
	require.Len(t, got, 1)
	assert.Equal(t, string(middleware.OutcomeError), got[0]["outcome"])
	assert.Equal(t, maryID, got[0]["subject"], "the session's subject is known")
}
