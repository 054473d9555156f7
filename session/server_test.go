package session_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/tidegate/tidegate/middleware"
	"github.com/tidegate/tidegate/session"
)

func TestServerLogin(t *testing.T) {
	f := newFixture(t)
	rec := f.do(http.MethodPost, "/auth/serverlogin",
		session.HeaderServerName, serverName, session.HeaderServerSecret, serverSecret)
	require.Equal(t, http.StatusOK, rec.Code)
	assert.Equal(t, "no-store", rec.Header().Get("Cache-Control"))
	token := rec.Header().Get(session.HeaderToken)
	require.Len(t, token, 43)
	expires := f.clock.Now().Add(session.DefaultServerTokenLifetime).Format(time.RFC3339)
	assert.Equal(t, map[string]any{"userid": serverName, "isserver": true, "expires_at": expires}, decode(t, rec))

	who := f.do(http.MethodGet, "/whoami", session.HeaderToken, token)
	require.Equal(t, http.StatusOK, who.Code)
	assert.Equal(t, "server", decode(t, who)["actor"])

	f.clock.Advance(session.DefaultServerTokenLifetime - time.Second)
	require.Equal(t, http.StatusOK, f.whoamiStatus(token))
	f.clock.Advance(time.Second)
	requireTokenRequired(t, f.do(http.MethodGet, "/whoami", session.HeaderToken, token))
}

func TestServerLoginLifetimeOption(t *testing.T) {
	f := newFixture(t, withService(session.WithServerTokenLifetime(time.Hour)))
	token := f.serverLogin(serverName, serverSecret)
	f.clock.Advance(time.Hour)
	requireTokenRequired(t, f.do(http.MethodGet, "/whoami", session.HeaderToken, token))
}

func TestServerLoginFailures(t *testing.T) {
	const (
		name   = session.HeaderServerName
		secret = session.HeaderServerSecret
	)
	tests := []struct {
		name    string
		headers []string
		status  int
		body    string
	}{
		{"wrong secret", []string{name, serverName, secret, otherSecret}, 401, `"login failed"`},
		{"secret of another server", []string{name, otherServer, secret, serverSecret}, 401, `"login failed"`},
		{"secret prefix", []string{name, serverName, secret, serverSecret[:len(serverSecret)-1]}, 401, `"login failed"`},
		{"secret with suffix", []string{name, serverName, secret, serverSecret + "x"}, 401, `"login failed"`},
		{"secret in another case", []string{name, serverName, secret, strings.ToUpper(serverSecret)}, 401, `"login failed"`},
		{"unknown server", []string{name, "nobody", secret, serverSecret}, 401, `"login failed"`},
		{"name in another case", []string{name, strings.ToUpper(serverName), secret, serverSecret}, 401, `"login failed"`},
		{"no headers", nil, 400, `"Missing login information"`},
		{"no secret", []string{name, serverName}, 400, `"Missing login information"`},
		{"no name", []string{secret, serverSecret}, 400, `"Missing login information"`},
		{"empty secret", []string{name, serverName, secret, ""}, 400, `"Missing login information"`},
		{"name doubled", []string{name, serverName, name, otherServer, secret, serverSecret}, 400, `"Missing login information"`},
		{"secret doubled", []string{name, serverName, secret, serverSecret, secret, otherSecret}, 400, `"Missing login information"`},
		{"oversized secret", []string{name, serverName, secret, strings.Repeat("s", 2000)}, 400, `"Missing login information"`},
		{"basic auth instead", []string{"Authorization", basic(serverName, serverSecret)}, 400, `"Missing login information"`},
	}
	f := newFixture(t)
	var unauthorized http.Header
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec := f.do(http.MethodPost, "/auth/serverlogin", tc.headers...)
			require.Equal(t, tc.status, rec.Code)
			assert.Equal(t, tc.body, rec.Body.String())
			assert.Equal(t, "no-store", rec.Header().Get("Cache-Control"))
			assert.Empty(t, rec.Header().Get(session.HeaderToken))
			if tc.status != http.StatusUnauthorized {
				assert.Empty(t, rec.Header().Values("WWW-Authenticate"))
				return
			}
			assert.Equal(t, `X-Tidepool-Server-Secret realm="tidepool"`, rec.Header().Get("WWW-Authenticate"))
			if unauthorized == nil {
				unauthorized = rec.Header()
			}
			assert.Equal(t, unauthorized, rec.Header(), "unknown name and wrong secret look the same")
		})
	}
}

func TestServerLoginWithoutConfiguredServers(t *testing.T) {
	login, err := middleware.NewPasswordLogin(newAccounts(t), middleware.WithHasher(hasher(t)))
	require.NoError(t, err)
	svc, err := session.New(login, session.WithLogger(quiet))
	require.NoError(t, err)
	defer svc.Close()
	rec := httptestRequest(http.MethodPost, "/serverlogin",
		session.HeaderServerName, serverName, session.HeaderServerSecret, serverSecret)
	w := recorder(svc.Handler(), rec)
	assert.Equal(t, http.StatusUnauthorized, w.Code)
}

// throttledServerLogin returns a fixture whose server logins are limited to
// 2 failures a minute, its clock, and a function trying one with the given
// secret, answering its status.
func throttledServerLogin(t *testing.T) (*fixture, *fakeClock, func(secret string) int) {
	clock := newFakeClock()
	limiter, err := middleware.NewMemoryLimiter(middleware.LimiterPolicy{AccountAttempts: 2, Window: time.Minute},
		middleware.WithStoreClock(clock.Now))
	require.NoError(t, err)
	f := newFixture(t, withService(session.WithServerLoginLimiter(limiter)))
	return f, clock, func(secret string) int {
		return f.do(http.MethodPost, "/auth/serverlogin",
			session.HeaderServerName, serverName, session.HeaderServerSecret, secret).Code
	}
}

func TestServerLoginThrottling(t *testing.T) {
	f, clock, attempt := throttledServerLogin(t)
	require.Equal(t, 401, attempt(otherSecret))
	require.Equal(t, 401, attempt(otherSecret))
	rec := f.do(http.MethodPost, "/auth/serverlogin",
		session.HeaderServerName, serverName, session.HeaderServerSecret, serverSecret)
	require.Equal(t, http.StatusTooManyRequests, rec.Code, "even the right secret waits")
	assert.Equal(t, "60", rec.Header().Get("Retry-After"))
	assert.Equal(t, `"Too many requests"`, rec.Body.String())
	clock.Advance(time.Minute)
	require.Equal(t, 200, attempt(serverSecret))
	require.Equal(t, 401, attempt(otherSecret), "success cleared the count")
}

// TestServerLoginCannotBeLockedOutFromElsewhere: wrong secrets count
// against the address they come from, so a stranger cannot keep a server
// from logging in from its own address; they still throttle that stranger.
func TestServerLoginCannotBeLockedOutFromElsewhere(t *testing.T) {
	limiter, err := middleware.NewMemoryLimiter(middleware.LimiterPolicy{AccountAttempts: 2, Window: time.Minute})
	require.NoError(t, err)
	f := newFixture(t, withService(session.WithServerLoginLimiter(limiter)))
	attempt := func(secret, from string) int {
		req := httptestRequest(http.MethodPost, "/auth/serverlogin",
			session.HeaderServerName, serverName, session.HeaderServerSecret, secret)
		req.RemoteAddr = from
		return serve(f, req).Code
	}
	const stranger, server = "203.0.113.66:4242", "198.51.100.7:5555"
	for range 3 {
		attempt(otherSecret, stranger)
	}
	assert.Equal(t, http.StatusTooManyRequests, attempt(serverSecret, stranger), "the stranger is throttled")
	assert.Equal(t, http.StatusOK, attempt(serverSecret, server), "the server, from its own address")
}

func TestTokenEndpoint(t *testing.T) {
	f := newFixture(t)
	server := f.serverLogin(serverName, serverSecret)
	user := f.login(maryLogin, maryPassword)
	expires := f.clock.Now().Add(session.DefaultTokenLifetime).Format(time.RFC3339)

	rec := f.do(http.MethodGet, "/auth/token/"+user, session.HeaderToken, server)
	require.Equal(t, http.StatusOK, rec.Code)
	assert.Equal(t, "no-store", rec.Header().Get("Cache-Control"))
	assert.Equal(t, map[string]any{"userid": maryID, "isserver": false, "expires_at": expires}, decode(t, rec))

	rec = f.do(http.MethodGet, "/auth/token/"+server, session.HeaderToken, server)
	require.Equal(t, http.StatusOK, rec.Code)
	assert.Equal(t, true, decode(t, rec)["isserver"])
	assert.Equal(t, serverName, decode(t, rec)["userid"])
}

func TestTokenEndpointFailures(t *testing.T) {
	f := newFixture(t)
	server := f.serverLogin(serverName, serverSecret)
	user := f.login(maryLogin, maryPassword)
	expiredServer := f.serverLogin(otherServer, otherSecret)
	revoked := f.login(maryLogin, maryPassword)
	require.Equal(t, 200, f.do(http.MethodPost, "/auth/logout", session.HeaderToken, revoked).Code)

	tests := []struct {
		name   string
		target string
		caller []string
		status int
		body   string
	}{
		{"caller is a user", user, []string{session.HeaderToken, user}, 401, `"Session token required"`},
		{"no caller token", user, nil, 401, `"Session token required"`},
		{"unknown caller", user, []string{session.HeaderToken, "dGhpcyB0b2tlbiB3YXMgbmV2ZXIgaXNzdWVkIGF0IGFsbA"}, 401, `"Session token required"`},
		{"caller doubled", user, []string{session.HeaderToken, server, session.HeaderToken, user}, 400, `"Session token required"`},
		{"unknown target", "dGhpcyB0b2tlbiB3YXMgbmV2ZXIgaXNzdWVkIGF0IGFsbA", []string{session.HeaderToken, server}, 401, `"Invalid session token"`},
		{"revoked target", revoked, []string{session.HeaderToken, server}, 401, `"Invalid session token"`},
		{"target not a token68", "a%20b", []string{session.HeaderToken, server}, 401, `"Invalid session token"`},
		{"oversized target", strings.Repeat("a", session.MaxTokenBytes+1), []string{session.HeaderToken, server}, 401, `"Invalid session token"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec := f.do(http.MethodGet, "/auth/token/"+tc.target, tc.caller...)
			require.Equal(t, tc.status, rec.Code)
			assert.Equal(t, tc.body, rec.Body.String())
			assert.Equal(t, "no-store", rec.Header().Get("Cache-Control"))
			if tc.status == http.StatusUnauthorized {
				assert.Equal(t, `X-Tidepool-Session-Token realm="tidepool"`, rec.Header().Get("WWW-Authenticate"))
			}
		})
	}

	t.Run("expired target and expired caller", func(t *testing.T) {
		f.clock.Advance(session.DefaultTokenLifetime)
		rec := f.do(http.MethodGet, "/auth/token/"+user, session.HeaderToken, server)
		require.Equal(t, http.StatusUnauthorized, rec.Code)
		assert.Equal(t, `"Invalid session token"`, rec.Body.String())
		f.clock.Advance(session.DefaultServerTokenLifetime)
		rec = f.do(http.MethodGet, "/auth/token/"+expiredServer, session.HeaderToken, expiredServer)
		requireTokenRequired(t, rec)
	})
}

// TestTokenEndpointAnswersDotSegmentsLikeAnyInvalidToken: the Service's
// handler, mounted under /auth, answers the targets "." and ".." (and an
// empty one) 401 like any invalid token, after checking the caller. Its
// ServeMux used to clean such paths first and answer 307, to a Location
// outside the mount point, checking nothing.
func TestTokenEndpointAnswersDotSegmentsLikeAnyInvalidToken(t *testing.T) {
	f := newFixture(t)
	server := f.serverLogin(serverName, serverSecret)
	h := http.StripPrefix("/auth", f.svc.Handler())
	for _, target := range []string{".", "..", "", "%2E", "%2E%2E", "a%2Fb"} {
		rec := recorder(h, httptestRequest(http.MethodGet, "/auth/token/"+target, session.HeaderToken, server))
		assert.Equal(t, http.StatusUnauthorized, rec.Code, "target %q: Location %q", target, rec.Header().Get("Location"))
		assert.Equal(t, `"Invalid session token"`, rec.Body.String(), "target %q", target)
		assert.Equal(t, "no-store", rec.Header().Get("Cache-Control"), "target %q", target)
		rec = recorder(h, httptestRequest(http.MethodGet, "/auth/token/"+target))
		requireTokenRequired(t, rec) // the caller is checked first
	}
	rec := recorder(h, httptestRequest(http.MethodGet, "/auth/token/a/b", session.HeaderToken, server))
	assert.Equal(t, http.StatusNotFound, rec.Code, "two segments are no token path")
	rec = recorder(h, httptestRequest(http.MethodPost, "/auth/token/abc", session.HeaderToken, server))
	assert.Equal(t, http.StatusMethodNotAllowed, rec.Code)
}

// TestARemovedServersTokenIsRefused: a server is removed from WithServers
// when its secret leaks; the token it minted with that secret, in a store
// that outlives the process, was accepted for the rest of its 24 hours.
func TestARemovedServersTokenIsRefused(t *testing.T) {
	clock := newFakeClock()
	store, err := middleware.NewMemorySessionStore(middleware.WithStoreClock(clock.Now))
	require.NoError(t, err)
	before := newFixture(t, withClock(clock), withService(session.WithStore(store)))
	removed, kept := before.serverLogin(otherServer, otherSecret), before.serverLogin(serverName, serverSecret)
	require.Equal(t, http.StatusOK, before.whoamiStatus(removed))

	login, err := middleware.NewPasswordLogin(newAccounts(t), middleware.WithHasher(hasher(t)))
	require.NoError(t, err)
	after, err := session.New(login, session.WithClock(clock.Now), session.WithStore(store), session.WithLogger(quiet),
		session.WithServers(map[string]string{serverName: serverSecret}))
	require.NoError(t, err)
	t.Cleanup(func() { _ = after.Close() })
	status := func(token string) int {
		rec := httptest.NewRecorder()
		middleware.Require(after.Scheme())(whoami).ServeHTTP(rec, httptestRequest(http.MethodGet, "/", session.HeaderToken, token))
		return rec.Code
	}
	assert.Equal(t, http.StatusUnauthorized, status(removed), "a server no longer listed")
	assert.Equal(t, http.StatusOK, status(kept), "a server still listed")
}
