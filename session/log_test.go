package session_test

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/tidegate/tidegate/middleware"
	"github.com/tidegate/tidegate/session"
)

// lockedBuffer is a bytes.Buffer safe for the handler's concurrent writes.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func TestLogsNeverContainSecrets(t *testing.T) {
	var out lockedBuffer
	logger := slog.New(slog.NewJSONHandler(&out, &slog.HandlerOptions{Level: slog.LevelDebug}))
	f := newFixture(t, withService(session.WithLogger(logger)))

	token := f.login(maryLogin, maryPassword)
	next := f.refresh(token)
	server := f.serverLogin(serverName, serverSecret)
	f.do(http.MethodGet, "/auth/token/"+next, session.HeaderToken, server)
	f.do(http.MethodGet, "/whoami", session.HeaderToken, next)
	f.do(http.MethodPost, "/auth/login", "Authorization", basic(maryLogin, "my typo'd passw0rd"))
	f.do(http.MethodPost, "/auth/login", "Authorization", basic("correct horse battery staple", "oops"))
	f.do(http.MethodPost, "/auth/serverlogin", session.HeaderServerName, serverName, session.HeaderServerSecret, otherSecret)
	f.do(http.MethodPost, "/auth/logout", session.HeaderToken, next)

	logs := out.String()
	require.NotEmpty(t, logs)
	assert.Equal(t, 9, strings.Count(logs, "\n"), "one event per request, the middleware's included")
	for _, secret := range []string{maryPassword, "my typo'd passw0rd", serverSecret, otherSecret, token, next, server} {
		assert.NotContains(t, logs, secret)
	}
	assert.Contains(t, logs, maryID, "successes name the subject")
}

func TestServiceAccessors(t *testing.T) {
	f := newFixture(t)
	assert.Same(t, f.svc.Cache(), f.svc.Scheme().Verifier())
	assert.NotNil(t, f.svc.Store())
}

// eventRecorder keeps the attributes of every log event, as strings.
type eventRecorder struct {
	mu     sync.Mutex
	events []map[string]string
}

func (h *eventRecorder) Enabled(context.Context, slog.Level) bool { return true }
func (h *eventRecorder) Handle(_ context.Context, r slog.Record) error {
	event := map[string]string{"level": r.Level.String()}
	r.Attrs(func(a slog.Attr) bool { event[a.Key] = a.Value.String(); return true })
	h.mu.Lock()
	defer h.mu.Unlock()
	h.events = append(h.events, event)
	return nil
}
func (h *eventRecorder) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *eventRecorder) WithGroup(string) slog.Handler      { return h }

// take returns the events recorded since the last call.
func (h *eventRecorder) take() []map[string]string {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := h.events
	h.events = nil
	return out
}

// outcomeRecorder is an Observer keeping its ObserveAuth calls as
// "kind/outcome/reason".
type outcomeRecorder struct {
	mu    sync.Mutex
	calls []string
}

func (o *outcomeRecorder) ObserveAuth(k middleware.Kind, out middleware.Outcome, reason string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.calls = append(o.calls, string(k)+"/"+string(out)+"/"+reason)
}

func (o *outcomeRecorder) ObserveCache(middleware.Kind, bool) {}

// take returns the calls recorded since the last call.
func (o *outcomeRecorder) take() []string {
	o.mu.Lock()
	defer o.mu.Unlock()
	out := o.calls
	o.calls = nil
	return out
}

// TestEndpointEventsAreObserved: every request to an endpoint writes one
// event whose outcome is one of middleware's Outcomes, and tells the
// scheme's Observer of it once. A refused or throttled password login is
// the outcome an operator most wants to count; the Observer heard of no
// endpoint's, and successes were logged as "ok".
func TestEndpointEventsAreObserved(t *testing.T) {
	events, observer := &eventRecorder{}, &outcomeRecorder{}
	f := newFixture(t, withService(session.WithLogger(slog.New(events)),
		session.WithSchemeOptions(middleware.WithObserver(observer))))
	token, server := f.login(maryLogin, maryPassword), f.serverLogin(serverName, serverSecret)
	live := f.login(maryLogin, maryPassword)

	for _, tc := range []struct {
		name, method, path string
		headers            []string
		status             int
		outcome            middleware.Outcome
		subject            string
	}{
		{"login", http.MethodPost, "/auth/login", []string{"Authorization", basic(maryLogin, maryPassword)},
			http.StatusOK, middleware.OutcomeAuthenticated, maryID},
		{"login, wrong password", http.MethodPost, "/auth/login", []string{"Authorization", basic(maryLogin, "wrong")},
			http.StatusUnauthorized, middleware.OutcomeRejected, ""},
		{"login, no header", http.MethodPost, "/auth/login", nil,
			http.StatusBadRequest, middleware.OutcomeRejected, ""},
		{"refresh", http.MethodGet, "/auth/login", []string{session.HeaderToken, token},
			http.StatusOK, middleware.OutcomeAuthenticated, maryID},
		{"refresh, bad token", http.MethodGet, "/auth/login", []string{session.HeaderToken, "nope"},
			http.StatusUnauthorized, middleware.OutcomeRejected, ""},
		{"server login", http.MethodPost, "/auth/serverlogin",
			[]string{session.HeaderServerName, serverName, session.HeaderServerSecret, serverSecret},
			http.StatusOK, middleware.OutcomeAuthenticated, serverName},
		{"server login, wrong secret", http.MethodPost, "/auth/serverlogin",
			[]string{session.HeaderServerName, serverName, session.HeaderServerSecret, otherSecret},
			http.StatusUnauthorized, middleware.OutcomeRejected, ""},
		{"token", http.MethodGet, "/auth/token/" + live, []string{session.HeaderToken, server},
			http.StatusOK, middleware.OutcomeAuthenticated, serverName},
		{"token, not a server", http.MethodGet, "/auth/token/" + server, []string{session.HeaderToken, live},
			http.StatusUnauthorized, middleware.OutcomeRejected, ""},
		{"logout", http.MethodPost, "/auth/logout", []string{session.HeaderToken, live},
			http.StatusOK, middleware.OutcomeAuthenticated, maryID},
	} {
		t.Run(tc.name, func(t *testing.T) {
			events.take()
			observer.take()
			rec := f.do(tc.method, tc.path, tc.headers...)
			require.Equal(t, tc.status, rec.Code, rec.Body.String())
			got := events.take()
			require.Len(t, got, 1, "one event per request")
			event := got[0]
			assert.Equal(t, string(session.Kind), event["kind"])
			assert.Equal(t, string(tc.outcome), event["outcome"])
			assert.Equal(t, tc.subject, event["subject"])
			assert.Equal(t, []string{string(session.Kind) + "/" + event["outcome"] + "/" + event["reason"]},
				observer.take(), "one observation, the event's outcome and reason")
		})
	}
}
