package session_test

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tidegate/tidegate/middleware"
	"github.com/tidegate/tidegate/session"
)

// TestContainedPanicIsOneObservedEvent: a request whose
// endpoint panics (here the accounts store, on refresh) must still write
// exactly one event with an outcome ("error") and call
// the Observer exactly once, as every other endpoint answer does.
func TestContainedPanicIsOneObservedEvent(t *testing.T) {
	armed := &atomic.Bool{}
	accounts := panickyAccounts{Accounts: newAccounts(t), armed: armed}
	login, err := middleware.NewPasswordLogin(accounts, middleware.WithHasher(hasher(t)))
	require.NoError(t, err)
	events, observer := &eventRecorder{}, &outcomeRecorder{}
	svc, err := session.New(login, session.WithLogger(slog.New(events)),
		session.WithSchemeOptions(middleware.WithObserver(observer)))
	require.NoError(t, err)
	t.Cleanup(func() { _ = svc.Close() })
	h := svc.Handler()

	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptestRequest(http.MethodPost, "/login", "Authorization", basic("jo", joPassword)))
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	token := rec.Header().Get(session.HeaderToken)
	events.take()
	observer.take()

	armed.Store(true)
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, httptestRequest(http.MethodGet, "/login", session.HeaderToken, token))
	require.Equal(t, http.StatusInternalServerError, rec.Code)

	assert.Equal(t, []string{string(session.Kind) + "/" + string(middleware.OutcomeError) + "/panic"}, observer.take(),
		"the Observer hears of the contained panic once")
	var outcomes []string
	for _, e := range events.take() {
		if e["outcome"] != "" {
			outcomes = append(outcomes, e["outcome"])
		}
	}
	assert.Equal(t, []string{string(middleware.OutcomeError)}, outcomes, "one event with an outcome for the request")
}
