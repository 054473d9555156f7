package basicauth_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"strconv"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/tidegate/tidegate/basicauth"
	"github.com/tidegate/tidegate/middleware"
)

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

// TestEndpointEvents: a request the app or user middleware lets through
// has two events, the middleware's and the endpoint's, and each tells the
// Observer once. The endpoint's names the kind, the endpoint, one of
// middleware's outcomes and, on failure, the reason and status; it names
// the user when known. A refused login was logged without kind or outcome,
// and the refusals a handler wrote itself (a malformed body, a logout by a
// backend, /me of a disabled account, ...) and every success but a login
// were never logged nor observed.
func TestEndpointEvents(t *testing.T) {
	events, observer := &eventRecorder{}, &recordingObserver{}
	f := newFixture(t, fixtureConfig{opts: []basicauth.Option{basicauth.WithLogger(slog.New(events)),
		basicauth.WithSchemeOptions(middleware.WithObserver(observer))}})
	app := basic(appA + ":")
	mary := basic(appA + ":" + f.logIn(t, appA))
	disabled := basic(appA + ":" + f.logIn(t, appA))
	disableMary := func() {
		account, err := f.accounts.FindByID(t.Context(), maryID)
		require.NoError(t, err)
		account.Disabled = true
		require.NoError(t, f.accounts.Update(t.Context(), account))
	}
	login := `{"user_name":"mary","password":"` + maryPassword + `"}`

	for _, tc := range []struct {
		name, method, path, auth, body string
		extra                          []string
		before                         func()
		status                         int
		endpoint, outcome, reason      string
		subject                        string // "new" for the id of the user created
	}{
		{name: "sign-up", method: "POST", path: "/0.4/users", auth: app,
			body:   `{"user_name":"eve","email":"eve@example.com","password":"a long passphrase for eve"}`,
			status: http.StatusCreated, endpoint: "users", outcome: "authenticated", subject: "new"},
		{name: "sign-up, malformed", method: "POST", path: "/0.4/users", auth: app, body: `{"user_name":"x"}`,
			status: http.StatusBadRequest, endpoint: "users", outcome: "rejected", reason: "body"},
		{name: "sign-up, not JSON", method: "POST", path: "/0.4/users", auth: app, body: `{}`,
			extra:  []string{"Content-Type", "text/plain"},
			status: http.StatusUnsupportedMediaType, endpoint: "users", outcome: "rejected", reason: "not_json"},
		{name: "sign-up, name taken", method: "POST", path: "/0.4/users", auth: app,
			body:   `{"user_name":"mary","email":"other@example.com","password":"a long passphrase"}`,
			status: http.StatusConflict, endpoint: "users", outcome: "rejected", reason: "conflict"},
		{name: "login", method: "POST", path: "/0.4/me/login", auth: app, body: login,
			status: http.StatusCreated, endpoint: "login", outcome: "authenticated", subject: maryID},
		{name: "login, wrong password", method: "POST", path: "/0.4/me/login", auth: app,
			body:   `{"user_name":"mary","password":"wrong"}`,
			status: http.StatusUnauthorized, endpoint: "login", outcome: "rejected", reason: "login_failed"},
		{name: "login, malformed", method: "POST", path: "/0.4/me/login", auth: app, body: `{"user_name":"mary"}`,
			status: http.StatusBadRequest, endpoint: "login", outcome: "rejected", reason: "body"},
		{name: "login, not JSON", method: "POST", path: "/0.4/me/login", auth: app, body: login,
			extra:  []string{"Content-Type", "text/plain"},
			status: http.StatusUnsupportedMediaType, endpoint: "login", outcome: "rejected", reason: "not_json"},
		{name: "me", method: "GET", path: "/0.4/me", auth: mary,
			status: http.StatusOK, endpoint: "me", outcome: "authenticated", subject: maryID},
		{name: "logout by a backend", method: "DELETE", path: "/0.4/me/logout", auth: basic(backendA + ":" + maryID),
			status: http.StatusUnauthorized, endpoint: "logout", outcome: "rejected", reason: "session_required", subject: maryID},
		{name: "logout", method: "DELETE", path: "/0.4/me/logout", auth: mary,
			status: http.StatusNoContent, endpoint: "logout", outcome: "authenticated", subject: maryID},
		{name: "me, account disabled", method: "GET", path: "/0.4/me", auth: disabled, before: disableMary,
			status: http.StatusUnauthorized, endpoint: "me", outcome: "rejected", reason: "unknown_user", subject: maryID},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.before != nil {
				tc.before()
			}
			events.take()
			observer.take()
			res := f.do(t, tc.method, tc.path, tc.auth, tc.body, tc.extra...)
			require.Equal(t, tc.status, res.status, res.body)
			got := events.take()
			require.Len(t, got, 2, "the middleware's event and the endpoint's: %v", got)
			assert.Equal(t, "authenticated", got[0]["outcome"], "the middleware's")
			assert.Empty(t, got[0]["endpoint"], "the middleware's")

			want := map[string]string{"level": "DEBUG", "kind": "basic", "endpoint": tc.endpoint, "outcome": tc.outcome}
			if tc.reason != "" {
				want["level"], want["reason"], want["status"] = "INFO", tc.reason, strconv.Itoa(tc.status)
			}
			if want["subject"] = tc.subject; tc.subject == "new" {
				var created struct{ ID string }
				require.NoError(t, json.Unmarshal([]byte(res.body), &created))
				want["subject"] = created.ID
			}
			if tc.subject == "" {
				delete(want, "subject")
			}
			assert.Equal(t, want, got[1], "the endpoint's")
			auth, _ := observer.take()
			wantAuth := []string{"basic/authenticated/", "basic/" + tc.outcome + "/" + tc.reason}
			if tc.reason == "" && tc.endpoint != "login" {
				// A success that authenticated nobody the middleware had not
				// is logged but not observed: one authentication, counted once.
				wantAuth = wantAuth[:1]
			}
			assert.Equal(t, wantAuth, auth, "the middleware's outcome, then the endpoint's")
		})
	}
}

// TestEndpointsRefuseOtherMethods: a method an endpoint does not serve is
// answered 405 with Allow and Tapglue's error shape, before any
// credential is checked, with one event (rejected, "method not allowed")
// that the Observer hears too. It was net/http's text/plain "Method Not
// Allowed", and logged nothing.
func TestEndpointsRefuseOtherMethods(t *testing.T) {
	events, observer := &eventRecorder{}, &recordingObserver{}
	f := newFixture(t, fixtureConfig{opts: []basicauth.Option{basicauth.WithLogger(slog.New(events)),
		basicauth.WithSchemeOptions(middleware.WithObserver(observer))}})
	for _, tc := range []struct{ method, path, allow, endpoint string }{
		{http.MethodGet, "/0.4/users", "POST", "users"},
		{http.MethodGet, "/0.4/me/login", "POST", "login"},
		{http.MethodGet, "/0.4/me/logout", "DELETE", "logout"},
		{http.MethodPost, "/0.4/me/logout", "DELETE", "logout"},
		{http.MethodPost, "/0.4/me", "GET, HEAD", "me"},
		{http.MethodDelete, "/0.4/me", "GET, HEAD", "me"},
	} {
		t.Run(tc.method+" "+tc.path, func(t *testing.T) {
			events.take()
			observer.take()
			res := f.do(t, tc.method, tc.path, basic(appA+":"), "")
			requireError(t, res, http.StatusMethodNotAllowed, errorBody(basicauth.CodeMethodNotAllowed, "method not allowed"))
			assert.Equal(t, tc.allow, res.header.Get("Allow"))
			assert.Equal(t, hstsValue, res.header.Get("Strict-Transport-Security"))
			assert.Equal(t, []map[string]string{{"level": "INFO", "kind": "basic", "endpoint": tc.endpoint,
				"outcome": "rejected", "reason": "method not allowed", "status": "405"}}, events.take())
			auth, _ := observer.take()
			assert.Equal(t, []string{"basic/rejected/method not allowed"}, auth)
		})
	}
}
