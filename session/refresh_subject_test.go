package session_test

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tidegate/tidegate/middleware"
	"github.com/tidegate/tidegate/session"
)

// failingRotate is a session store whose Rotate fails (Redis down).
type failingRotate struct{ middleware.SessionStore }

func (failingRotate) Rotate(context.Context, middleware.TokenDigest, time.Time, middleware.TokenDigest, middleware.Session) error {
	return errors.New("connection refused")
}

// TestRefreshFailureEventNamesTheKnownSubject: a refresh whose session was
// found and whose store then fails to rotate it (503) names the session's
// subject in its event; refresh returned "" with every error.
func TestRefreshFailureEventNamesTheKnownSubject(t *testing.T) {
	clock := newFakeClock()
	store, err := middleware.NewMemorySessionStore(middleware.WithStoreClock(clock.Now))
	require.NoError(t, err)
	events := &eventRecorder{}
	f := newFixture(t, withClock(clock),
		withService(session.WithLogger(slog.New(events)), session.WithStore(failingRotate{store})))
	token := f.login(maryLogin, maryPassword)
	events.take()

	rec := f.do(http.MethodGet, "/auth/login", session.HeaderToken, token)
	require.Equal(t, http.StatusServiceUnavailable, rec.Code, rec.Body.String())
	got := events.take()
	t.Logf("events: %v", got)
	require.Len(t, got, 1)
	assert.Equal(t, string(middleware.OutcomeError), got[0]["outcome"])
	assert.Equal(t, maryID, got[0]["subject"], "the session's subject is known")
}
