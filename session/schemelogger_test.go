package session_test

import (
	"log/slog"
	"net/http"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
	"github.com/tidegate/tidegate/middleware"
	"github.com/tidegate/tidegate/session"
)

type loggerTestObserver struct {
	mu   sync.Mutex
	auth []string
}

func (o *loggerTestObserver) ObserveAuth(_ middleware.Kind, out middleware.Outcome, reason string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.auth = append(o.auth, string(out)+"/"+reason)
}
func (o *loggerTestObserver) ObserveCache(middleware.Kind, bool) {}

// TestSchemeOptionsLoggerGetsEndpointEvents: WithSchemeOptions' options
// "apply after the service's clock, logger and renderer, so they may
// replace them", and an Observer given there hears the endpoints. A logger
// given there got the middleware's events but none of the endpoints' (a
// failed login among them): the endpoints wrote to the service's logger.
// They write to the scheme's now.
func TestSchemeOptionsLoggerGetsEndpointEvents(t *testing.T) {
	rec := &eventRecorder{}
	obs := &loggerTestObserver{}
	f := newFixture(t, withService(session.WithSchemeOptions(
		middleware.WithLogger(slog.New(rec)), middleware.WithObserver(obs))))

	rr := f.do(http.MethodPost, "/auth/login", "Authorization", basic(maryLogin, "wrong password"))
	require.Equal(t, http.StatusUnauthorized, rr.Code)

	obs.mu.Lock()
	require.Len(t, obs.auth, 1, "the Observer given to WithSchemeOptions heard the failed login")
	obs.mu.Unlock()

	rec.mu.Lock()
	defer rec.mu.Unlock()
	require.Len(t, rec.events, 1, "the logger given to WithSchemeOptions should get the failed login's event too")
}
