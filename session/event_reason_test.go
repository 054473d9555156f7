package session_test

import (
	"log/slog"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tidegate/tidegate/middleware"
	"github.com/tidegate/tidegate/session"
)

// TestMissingTokenEventHasAReason: a refusal's endpoint event and
// Observer call carry the *middleware.Error's Reason, a short fixed
// string. A refresh (GET /login) or a token check (GET /token/{t}) without
// a session token was logged and observed with an empty reason, where the
// middleware and the bearer endpoints say "missing".
func TestMissingTokenEventHasAReason(t *testing.T) {
	events, observer := &eventRecorder{}, &outcomeRecorder{}
	f := newFixture(t, withService(session.WithLogger(slog.New(events)),
		session.WithSchemeOptions(middleware.WithObserver(observer))))
	live := f.login(maryLogin, maryPassword)

	for name, path := range map[string]string{"refresh": "/auth/login", "token": "/auth/token/" + live} {
		t.Run(name, func(t *testing.T) {
			events.take()
			observer.take()
			rec := f.do(http.MethodGet, path)
			require.Equal(t, http.StatusUnauthorized, rec.Code, rec.Body.String())
			got := events.take()
			require.Len(t, got, 1)
			assert.Equal(t, string(middleware.OutcomeRejected), got[0]["outcome"])
			assert.Equal(t, "missing", got[0]["reason"], "the event's reason")
			assert.Equal(t, []string{"session/rejected/missing"}, observer.take(), "the Observer's reason")
		})
	}
}
