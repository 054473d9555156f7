package bearer_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/tidegate/tidegate/bearer"
	"github.com/tidegate/tidegate/middleware"
)

// eventLog is a slog.Handler that keeps every event, its level, message
// and attributes as strings.
type eventLog struct {
	mu     sync.Mutex
	events []map[string]string
}

func (l *eventLog) Enabled(context.Context, slog.Level) bool { return true }
func (l *eventLog) WithAttrs([]slog.Attr) slog.Handler       { return l }
func (l *eventLog) WithGroup(string) slog.Handler            { return l }

func (l *eventLog) Handle(_ context.Context, r slog.Record) error {
	event := map[string]string{"level": r.Level.String(), "msg": r.Message}
	r.Attrs(func(a slog.Attr) bool {
		event[a.Key] = a.Value.String()
		return true
	})
	l.mu.Lock()
	defer l.mu.Unlock()
	l.events = append(l.events, event)
	return nil
}

// take returns the events kept so far and forgets them.
func (l *eventLog) take() []map[string]string {
	l.mu.Lock()
	defer l.mu.Unlock()
	events := l.events
	l.events = nil
	return events
}

// recordingObserver keeps every observation as "kind/outcome/reason" and
// every cache lookup as "kind/hit=bool".
type recordingObserver struct {
	mu      sync.Mutex
	auth    []string
	lookups []string
}

func (o *recordingObserver) ObserveAuth(k middleware.Kind, out middleware.Outcome, reason string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.auth = append(o.auth, fmt.Sprintf("%s/%s/%s", k, out, reason))
}

func (o *recordingObserver) ObserveCache(k middleware.Kind, hit bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.lookups = append(o.lookups, fmt.Sprintf("%s/hit=%v", k, hit))
}

// take returns the observations and cache lookups so far and forgets them.
func (o *recordingObserver) take() (auth, lookups []string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	auth, lookups = o.auth, o.lookups
	o.auth, o.lookups = nil, nil
	return auth, lookups
}

// observedEnv is a service whose logger and scheme Observer record.
func observedEnv(t *testing.T, opts ...bearer.ServiceOption) (*env, *eventLog, *recordingObserver) {
	t.Helper()
	logs, obs := &eventLog{}, &recordingObserver{}
	base := []bearer.ServiceOption{bearer.WithLogger(slog.New(logs)), bearer.WithSchemeOptions(middleware.WithObserver(obs))}
	return newEnv(t, append(base, opts...)...), logs, obs
}

// request is one request of a test: method, path, body and header pairs.
type request struct {
	method, path, body string
	headers            []string
}

func jsonRequest(path, body string, headers ...string) request {
	return request{method: "POST", path: path, body: body, headers: append([]string{"Content-Type", "application/json"}, headers...)}
}

func authenticateRequest(password string) request {
	return jsonRequest("/api/v1/authenticate", `{"username":"mary@example.com","password":"`+password+`"}`)
}

func refreshRequest(access, refresh string) request {
	return jsonRequest("/api/v1/refresh", `{"refresh_token":"`+refresh+`"}`, "Authorization", "Bearer "+access)
}

func logoutRequest(authorization string) request {
	r := request{method: "POST", path: "/api/v1/logout"}
	if authorization != "" {
		r.headers = []string{"Authorization", authorization}
	}
	return r
}

const maryPassword = "password of mary@example.com"

// newRevocationsDown returns a memory revocation list whose RevokeLogin
// fails once down is set.
func newRevocationsDown(t *testing.T) *revocationsDown {
	list, err := bearer.NewMemoryRevocationList()
	require.NoError(t, err)
	return &revocationsDown{RevocationList: list}
}

// TestEndpointEvents: every request to an endpoint writes exactly one log
// event, in the shape the middleware's events have (kind, endpoint, an
// outcome of middleware's vocabulary, and on failure the reason and the
// status answered; the subject when known, never the login name typed),
// and tells the scheme's Observer of its outcome exactly once.
func TestEndpointEvents(t *testing.T) {
	reuseRevocations, logoutRevocations := newRevocationsDown(t), newRevocationsDown(t)
	for _, tc := range []struct {
		name string
		// setup prepares the service and returns the request under test.
		setup      func(t *testing.T, e *env) request
		opts       []bearer.ServiceOption
		wantStatus int
		want       map[string]string // the event's attributes; absent ones must be absent
		wantSeen   string            // the one observation
	}{
		{
			name:       "authenticate",
			setup:      func(*testing.T, *env) request { return authenticateRequest(maryPassword) },
			wantStatus: http.StatusOK,
			want:       map[string]string{"level": "DEBUG", "endpoint": "authenticate", "outcome": "authenticated", "subject": "u-mary"},
			wantSeen:   "bearer/authenticated/",
		},
		{
			name:       "authenticate with a wrong password",
			setup:      func(*testing.T, *env) request { return authenticateRequest("wrong") },
			wantStatus: http.StatusUnauthorized,
			want:       map[string]string{"level": "INFO", "endpoint": "authenticate", "outcome": "rejected", "reason": "login failed", "status": "401"},
			wantSeen:   "bearer/rejected/login failed",
		},
		{
			name: "authenticate with a bad body",
			setup: func(*testing.T, *env) request {
				return jsonRequest("/api/v1/authenticate", `{"username":"mary@example.com"}`)
			},
			wantStatus: http.StatusBadRequest,
			want:       map[string]string{"level": "INFO", "endpoint": "authenticate", "outcome": "rejected", "reason": "bad body", "status": "400"},
			wantSeen:   "bearer/rejected/bad body",
		},
		{
			name: "authenticate without JSON",
			setup: func(*testing.T, *env) request {
				return request{method: "POST", path: "/api/v1/authenticate", body: "{}"}
			},
			wantStatus: http.StatusUnsupportedMediaType,
			want:       map[string]string{"level": "INFO", "endpoint": "authenticate", "outcome": "rejected", "reason": "not json", "status": "415"},
			wantSeen:   "bearer/rejected/not json",
		},
		{
			name: "refresh",
			setup: func(t *testing.T, e *env) request {
				tok := e.authenticate(t, "mary@example.com")
				return refreshRequest(tok.AccessToken, *tok.RefreshToken)
			},
			wantStatus: http.StatusOK,
			want:       map[string]string{"level": "DEBUG", "endpoint": "refresh", "outcome": "authenticated", "subject": "u-mary"},
			wantSeen:   "bearer/authenticated/",
		},
		{
			name: "refresh with another login's refresh token",
			setup: func(t *testing.T, e *env) request {
				tok, other := e.authenticate(t, "mary@example.com"), e.authenticate(t, "mary@example.com")
				return refreshRequest(tok.AccessToken, *other.RefreshToken)
			},
			wantStatus: http.StatusUnauthorized,
			want:       map[string]string{"level": "INFO", "endpoint": "refresh", "outcome": "rejected", "reason": "refresh token", "status": "401", "subject": "u-mary"},
			wantSeen:   "bearer/rejected/refresh token",
		},
		{
			// One event, at Warn (a sign of theft), with the subject.
			name: "refresh with a reused refresh token",
			setup: func(t *testing.T, e *env) request {
				tok := e.authenticate(t, "mary@example.com")
				require.Equal(t, http.StatusOK, e.refresh(tok.AccessToken, *tok.RefreshToken).Code)
				return refreshRequest(tok.AccessToken, *tok.RefreshToken)
			},
			wantStatus: http.StatusUnauthorized,
			want:       map[string]string{"level": "WARN", "endpoint": "refresh", "outcome": "rejected", "reason": "refresh token reused", "status": "401", "subject": "u-mary"},
			wantSeen:   "bearer/rejected/refresh token reused",
		},
		{
			// The first reuse revoked the login, so a replay is refused as
			// revoked before the refresh store is asked, at Info: a client
			// replaying a stolen refresh token cannot flood the log at Warn.
			name: "refresh with a reused refresh token, replayed after the login was revoked",
			setup: func(t *testing.T, e *env) request {
				tok := e.authenticate(t, "mary@example.com")
				require.Equal(t, http.StatusOK, e.refresh(tok.AccessToken, *tok.RefreshToken).Code)
				require.Equal(t, http.StatusUnauthorized, e.refresh(tok.AccessToken, *tok.RefreshToken).Code)
				return refreshRequest(tok.AccessToken, *tok.RefreshToken)
			},
			wantStatus: http.StatusUnauthorized,
			want:       map[string]string{"level": "INFO", "endpoint": "refresh", "outcome": "rejected", "reason": "revoked", "status": "401", "subject": "u-mary"},
			wantSeen:   "bearer/rejected/revoked",
		},
		{
			name: "refresh with a reused refresh token, the revocation failing",
			setup: func(t *testing.T, e *env) request {
				tok := e.authenticate(t, "mary@example.com")
				require.Equal(t, http.StatusOK, e.refresh(tok.AccessToken, *tok.RefreshToken).Code)
				reuseRevocations.down.Store(true)
				return refreshRequest(tok.AccessToken, *tok.RefreshToken)
			},
			opts:       []bearer.ServiceOption{bearer.WithRevocationList(reuseRevocations)},
			wantStatus: http.StatusServiceUnavailable,
			want:       map[string]string{"level": "WARN", "endpoint": "refresh", "outcome": "error", "reason": "refresh token reused", "status": "503", "subject": "u-mary", "cause": "*errors.errorString"},
			wantSeen:   "bearer/error/refresh token reused",
		},
		{
			name:       "refresh without a token",
			setup:      func(*testing.T, *env) request { return jsonRequest("/api/v1/refresh", `{"refresh_token":"x"}`) },
			wantStatus: http.StatusUnauthorized,
			want:       map[string]string{"level": "INFO", "endpoint": "refresh", "outcome": "rejected", "reason": "missing", "status": "401"},
			wantSeen:   "bearer/rejected/missing",
		},
		{
			name: "logout",
			setup: func(t *testing.T, e *env) request {
				return logoutRequest("Bearer " + e.authenticate(t, "mary@example.com").AccessToken)
			},
			wantStatus: http.StatusOK,
			want:       map[string]string{"level": "DEBUG", "endpoint": "logout", "outcome": "authenticated", "subject": "u-mary"},
			wantSeen:   "bearer/authenticated/",
		},
		{
			// Logging out answers 200 whatever the token: the event says
			// it was refused, with the status answered.
			name:       "logout without a token",
			setup:      func(*testing.T, *env) request { return logoutRequest("") },
			wantStatus: http.StatusOK,
			want:       map[string]string{"level": "INFO", "endpoint": "logout", "outcome": "rejected", "reason": "missing", "status": "200"},
			wantSeen:   "bearer/rejected/missing",
		},
		{
			name:       "logout with a token that is no JWS",
			setup:      func(*testing.T, *env) request { return logoutRequest("Bearer not-a-jwt") },
			wantStatus: http.StatusOK,
			want:       map[string]string{"level": "INFO", "endpoint": "logout", "outcome": "rejected", "reason": "malformed", "status": "200"},
			wantSeen:   "bearer/rejected/malformed",
		},
		{
			name: "logout with a forged token",
			setup: func(t *testing.T, e *env) request {
				return logoutRequest("Bearer " + forge(t, jwt.SigningMethodHS256, otherSecret, nil, validClaims(e.clock.Now())))
			},
			wantStatus: http.StatusOK,
			want:       map[string]string{"level": "INFO", "endpoint": "logout", "outcome": "rejected", "reason": "signature", "status": "200"},
			wantSeen:   "bearer/rejected/signature",
		},
		{
			name:       "logout with a malformed Authorization header",
			setup:      func(*testing.T, *env) request { return logoutRequest("Bearer a b") },
			wantStatus: http.StatusOK,
			want:       map[string]string{"level": "INFO", "endpoint": "logout", "outcome": "rejected", "reason": "syntax", "status": "200"},
			wantSeen:   "bearer/rejected/syntax",
		},
		{
			name: "logout with the revocation failing",
			setup: func(t *testing.T, e *env) request {
				tok := e.authenticate(t, "mary@example.com")
				logoutRevocations.down.Store(true)
				return logoutRequest("Bearer " + tok.AccessToken)
			},
			opts:       []bearer.ServiceOption{bearer.WithRevocationList(logoutRevocations)},
			wantStatus: http.StatusServiceUnavailable,
			want:       map[string]string{"level": "WARN", "endpoint": "logout", "outcome": "error", "reason": "revocation", "status": "503", "subject": "u-mary", "cause": "*errors.errorString"},
			wantSeen:   "bearer/error/revocation",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e, logs, obs := observedEnv(t, tc.opts...)
			req := tc.setup(t, e)
			logs.take()
			obs.take()

			rec := e.call(req.method, req.path, req.body, req.headers...)
			require.Equal(t, tc.wantStatus, rec.Code, rec.Body.String())

			events := logs.take()
			require.Len(t, events, 1, "one event per request: %v", events)
			want := map[string]string{"msg": "tidegate endpoint", "kind": "bearer"}
			for k, v := range tc.want {
				want[k] = v
			}
			assert.Equal(t, want, events[0])
			seen, _ := obs.take()
			assert.Equal(t, []string{tc.wantSeen}, seen, "one observation per request")
		})
	}
}

// TestCacheLookupsAreObserved: an Observer given to the cache with
// WithCacheOptions hears of its lookups, here a miss and then a hit; the
// same Observer given to the scheme hears of the authentications. Given
// to the scheme only, as before WithCacheOptions, the cache's lookups were
// never heard of.
func TestCacheLookupsAreObserved(t *testing.T) {
	e, _, obs := observedEnv(t)
	token := e.authenticate(t, "mary@example.com").AccessToken
	require.Equal(t, http.StatusOK, e.whoami(token).Code)
	_, lookups := obs.take()
	assert.Empty(t, lookups, "the scheme's Observer is the scheme's only")

	obs = &recordingObserver{}
	e = newEnv(t, bearer.WithSchemeOptions(middleware.WithObserver(obs)),
		bearer.WithCacheOptions(middleware.WithObserver(obs)))
	token = e.authenticate(t, "mary@example.com").AccessToken
	obs.take()
	for range 2 {
		require.Equal(t, http.StatusOK, e.whoami(token).Code)
	}
	seen, lookups := obs.take()
	assert.Equal(t, []string{"bearer/authenticated/", "bearer/authenticated/"}, seen)
	assert.Equal(t, []string{"bearer/hit=false", "bearer/hit=true"}, lookups, "a miss, then a hit")
}

// TestWrongMethod: a method an endpoint does not serve is answered 405
// with Allow and a JSON body in the bearer error style (RFC 9110
// §15.5.6), not net/http's text/plain, and is the endpoint's one event,
// observed once.
func TestWrongMethod(t *testing.T) {
	for _, tc := range []struct {
		method, path, endpoint, allow string
	}{
		{"GET", "/api/v1/authenticate", "authenticate", "POST"},
		{"PUT", "/api/v1/authenticate", "authenticate", "POST"},
		{"GET", "/api/v1/refresh", "refresh", "POST"},
		{"POST", "/api/v1/ping", "ping", "GET, HEAD"},
		{"GET", "/api/v1/logout", "logout", "POST"},
		{"DELETE", "/api/v1/logout", "logout", "POST"},
	} {
		t.Run(tc.method+" "+tc.path, func(t *testing.T) {
			e, logs, obs := observedEnv(t)
			rec := e.call(tc.method, tc.path, "")
			assert.Equal(t, http.StatusMethodNotAllowed, rec.Code)
			assert.Equal(t, tc.allow, rec.Header().Get("Allow"))
			assertMethodNotAllowedBody(t, rec)

			events := logs.take()
			require.Len(t, events, 1, "one event per request: %v", events)
			assert.Equal(t, map[string]string{"level": "INFO", "msg": "tidegate endpoint", "kind": "bearer", "endpoint": tc.endpoint,
				"outcome": "rejected", "reason": "method not allowed", "status": "405"}, events[0])
			seen, _ := obs.take()
			assert.Equal(t, []string{"bearer/rejected/method not allowed"}, seen)
		})
	}
	t.Run("JWKS", func(t *testing.T) {
		e := newEnv(t)
		rec := e.call("POST", "/.well-known/jwks.json", "")
		assert.Equal(t, http.StatusMethodNotAllowed, rec.Code)
		assert.Equal(t, "GET, HEAD", rec.Header().Get("Allow"))
		assertMethodNotAllowedBody(t, rec)
	})
}

// assertMethodNotAllowedBody checks the JSON body of a 405.
func assertMethodNotAllowedBody(t *testing.T, rec *httptest.ResponseRecorder) {
	t.Helper()
	assert.Equal(t, "application/json", rec.Header().Get("Content-Type"))
	var body map[string]string
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &body), rec.Body.String())
	assert.Equal(t, "invalid_request", body["error"])
	assert.NotEmpty(t, body["error_description"])
}
