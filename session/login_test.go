package session_test

import (
	"encoding/base64"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/tidegate/tidegate/middleware"
	"github.com/tidegate/tidegate/session"
)

func TestLoginSucceeds(t *testing.T) {
	tests := []struct {
		name     string
		login    string
		password string
		userID   string
		username string
		emails   []any
	}{
		{"username", maryLogin, maryPassword, maryID, maryLogin, []any{maryLogin}},
		{"username in another case", "MARY@Example.COM", maryPassword, maryID, maryLogin, []any{maryLogin}},
		{"plain username", "jo", joPassword, joID, "jo", []any{"Jo@Example.org", "jo.work@example.com"}},
		{"first email, case folded", "jo@example.org", joPassword, joID, "jo", []any{"Jo@Example.org", "jo.work@example.com"}},
		{"second email", "JO.WORK@EXAMPLE.COM", joPassword, joID, "jo", []any{"Jo@Example.org", "jo.work@example.com"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			rec := f.do(http.MethodPost, "/auth/login", "Authorization", basic(tc.login, tc.password))
			require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
			assert.Equal(t, "no-store", rec.Header().Get("Cache-Control"))
			assert.Equal(t, "application/json", rec.Header().Get("Content-Type"))
			assert.Empty(t, rec.Header().Get("WWW-Authenticate"))
			assert.Equal(t, map[string]any{"userid": tc.userID, "username": tc.username, "emails": tc.emails}, decode(t, rec))
			token := rec.Header().Get(session.HeaderToken)
			assert.Len(t, token, 43, "256 bits in base64url")
			assert.Equal(t, http.StatusOK, f.whoamiStatus(token))
		})
	}
}

func TestLoginTokensAreFreshAndStoredAsDigests(t *testing.T) {
	f := newFixture(t)
	store, ok := f.svc.Store().(*middleware.MemorySessionStore)
	require.True(t, ok, "the default store")
	a, b := f.login(maryLogin, maryPassword), f.login(maryLogin, maryPassword)
	require.NotEqual(t, a, b)
	require.Equal(t, 2, store.Len())
	s, err := store.Lookup(t.Context(), middleware.DigestToken(a))
	require.NoError(t, err)
	assert.Equal(t, maryID, s.Subject)
	assert.Equal(t, middleware.ActorUser, s.Actor)
	assert.Equal(t, []string{"user"}, s.Roles)
}

func TestLoginFailures(t *testing.T) {
	long := strings.Repeat("p", middleware.MaxPasswordBytes+1)
	tests := []struct {
		name    string
		headers []string
		status  int
		body    string
	}{
		{"wrong password", []string{"Authorization", basic(maryLogin, "wrong")}, 401, `"login failed"`},
		{"password in another case", []string{"Authorization", basic(maryLogin, strings.ToUpper(maryPassword))}, 401, `"login failed"`},
		{"password truncated", []string{"Authorization", basic(maryLogin, maryPassword[:len(maryPassword)-1])}, 401, `"login failed"`},
		{"password with suffix", []string{"Authorization", basic(maryLogin, maryPassword+"x")}, 401, `"login failed"`},
		{"empty password", []string{"Authorization", basic(maryLogin, "")}, 401, `"login failed"`},
		{"unknown user", []string{"Authorization", basic("nobody@example.com", maryPassword)}, 401, `"login failed"`},
		{"password over 1 KiB", []string{"Authorization", basic(maryLogin, long)}, 401, `"login failed"`},
		{"no authorization", nil, 400, `"Missing login information"`},
		{"bearer instead of basic", []string{"Authorization", "Bearer abc"}, 400, `"Missing login information"`},
		{"basic without credentials", []string{"Authorization", "Basic"}, 400, `"Missing login information"`},
		{"not base64", []string{"Authorization", "Basic !!!!"}, 400, `"Missing login information"`},
		{"no colon", []string{"Authorization", "Basic " + base64.StdEncoding.EncodeToString([]byte("marypassword"))}, 400, `"Missing login information"`},
		{"empty user", []string{"Authorization", basic("", maryPassword)}, 400, `"Missing login information"`},
		{"two spaces", []string{"Authorization", "Basic  " + base64.StdEncoding.EncodeToString([]byte("a:b"))}, 400, `"Missing login information"`},
		{"doubled with different values", []string{"Authorization", basic(maryLogin, maryPassword), "Authorization", basic(maryLogin, "x")}, 400, `"Missing login information"`},
		{"oversized header", []string{"Authorization", basic(maryLogin, strings.Repeat("p", 8<<10))}, 400, `"Missing login information"`},
		{"session token instead of basic", []string{session.HeaderToken, "abc"}, 400, `"Missing login information"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			rec := f.do(http.MethodPost, "/auth/login", tc.headers...)
			require.Equal(t, tc.status, rec.Code)
			assert.Equal(t, tc.body, rec.Body.String())
			assert.Equal(t, "no-store", rec.Header().Get("Cache-Control"))
			assert.Equal(t, "application/json", rec.Header().Get("Content-Type"))
			assert.Empty(t, rec.Header().Get(session.HeaderToken))
			if tc.status == http.StatusUnauthorized {
				assert.Equal(t, []string{`Basic realm="tidepool", charset="UTF-8"`}, rec.Header().Values("WWW-Authenticate"))
			} else {
				assert.Empty(t, rec.Header().Values("WWW-Authenticate"))
			}
		})
	}
}

func TestLoginRepeatedIdenticalAuthorizationCountsAsOne(t *testing.T) {
	f := newFixture(t)
	h := basic(maryLogin, maryPassword)
	rec := f.do(http.MethodPost, "/auth/login", "Authorization", h, "Authorization", h)
	require.Equal(t, http.StatusOK, rec.Code)
}

func TestLoginUnknownUserLooksLikeWrongPassword(t *testing.T) {
	f := newFixture(t)
	wrong := f.do(http.MethodPost, "/auth/login", "Authorization", basic(maryLogin, "wrong"))
	unknown := f.do(http.MethodPost, "/auth/login", "Authorization", basic("nobody@example.com", "wrong"))
	assert.Equal(t, wrong.Code, unknown.Code)
	assert.Equal(t, wrong.Header(), unknown.Header())
	assert.Equal(t, wrong.Body.String(), unknown.Body.String())
}

func TestLoginDisabledAccount(t *testing.T) {
	f := newFixture(t)
	a, err := f.accounts.FindByID(t.Context(), maryID)
	require.NoError(t, err)
	a.Disabled = true
	require.NoError(t, f.accounts.Update(t.Context(), a))
	rec := f.do(http.MethodPost, "/auth/login", "Authorization", basic(maryLogin, maryPassword))
	require.Equal(t, http.StatusUnauthorized, rec.Code)
	assert.Equal(t, `"login failed"`, rec.Body.String())
}

func TestLoginMethods(t *testing.T) {
	f := newFixture(t)
	for _, method := range []string{http.MethodPut, http.MethodDelete, http.MethodPatch, http.MethodOptions} {
		rec := f.do(method, "/auth/login", "Authorization", basic(maryLogin, maryPassword))
		assert.Equal(t, http.StatusMethodNotAllowed, rec.Code, method)
		assert.Equal(t, "GET, POST", rec.Header().Get("Allow"), method)
		assert.Empty(t, rec.Header().Get(session.HeaderToken))
	}
	rec := f.do(http.MethodHead, "/auth/login", session.HeaderToken, f.login(maryLogin, maryPassword))
	assert.Equal(t, http.StatusMethodNotAllowed, rec.Code, "HEAD must not rotate a token")
	assert.Equal(t, "GET, POST", rec.Header().Get("Allow"), "Allow never lists HEAD, which is refused (RFC 9110 §10.2.1)")
	assert.Empty(t, rec.Header().Get(session.HeaderToken))
}

// TestEndpointsRefuseOtherMethods: every endpoint answers a method it
// does not serve as /login does, with 405, Allow and a Tidepool JSON string
// body, and one event (rejected, "method not allowed") that the Observer
// hears too. /logout, /serverlogin and /token/{token} answered net/http's
// text/plain "Method Not Allowed", and logged nothing.
func TestEndpointsRefuseOtherMethods(t *testing.T) {
	events, observer := &eventRecorder{}, &outcomeRecorder{}
	f := newFixture(t, withService(session.WithLogger(slog.New(events)),
		session.WithSchemeOptions(middleware.WithObserver(observer))))
	for _, tc := range []struct{ method, path, allow, endpoint string }{
		{http.MethodPut, "/auth/login", "GET, POST", "login"},
		{http.MethodGet, "/auth/logout", "POST", "logout"},
		{http.MethodHead, "/auth/logout", "POST", "logout"},
		{http.MethodGet, "/auth/serverlogin", "POST", "serverlogin"},
		{http.MethodPost, "/auth/token/abc", "GET, HEAD", "token"},
		{http.MethodDelete, "/auth/token/abc", "GET, HEAD", "token"},
	} {
		t.Run(tc.method+" "+tc.path, func(t *testing.T) {
			events.take()
			observer.take()
			rec := f.do(tc.method, tc.path)
			require.Equal(t, http.StatusMethodNotAllowed, rec.Code)
			assert.Equal(t, tc.allow, rec.Header().Get("Allow"))
			assert.Equal(t, "application/json", rec.Header().Get("Content-Type"))
			if tc.method != http.MethodHead {
				assert.Equal(t, `"Method not allowed"`, rec.Body.String())
			}
			got := events.take()
			require.Len(t, got, 1, "one event per request")
			assert.Equal(t, map[string]string{"level": "INFO", "kind": "session", "endpoint": tc.endpoint,
				"outcome": "rejected", "reason": "method not allowed", "status": "405"}, got[0])
			assert.Equal(t, []string{"session/rejected/method not allowed"}, observer.take())
		})
	}
}

func TestLoginThrottling(t *testing.T) {
	policy := middleware.LimiterPolicy{AccountAttempts: 3, AddressAttempts: 1000, Window: time.Minute}
	for _, account := range []string{maryLogin, "nobody@example.com"} {
		t.Run(account, func(t *testing.T) {
			f := newFixture(t, withPolicy(policy))
			for range 3 {
				rec := f.do(http.MethodPost, "/auth/login", "Authorization", basic(account, "wrong"))
				require.Equal(t, http.StatusUnauthorized, rec.Code)
			}
			for _, password := range []string{"wrong", maryPassword} {
				rec := f.do(http.MethodPost, "/auth/login", "Authorization", basic(account, password))
				require.Equal(t, http.StatusTooManyRequests, rec.Code, "even the right password waits")
				assert.Equal(t, `"Too many requests"`, rec.Body.String())
				assert.Equal(t, "60", rec.Header().Get("Retry-After"))
				assert.Equal(t, "no-store", rec.Header().Get("Cache-Control"))
				assert.Empty(t, rec.Header().Get("WWW-Authenticate"))
				assert.Empty(t, rec.Header().Get(session.HeaderToken))
			}
			// The name is throttled in any spelling.
			rec := f.do(http.MethodPost, "/auth/login", "Authorization", basic(strings.ToUpper(account), "wrong"))
			require.Equal(t, http.StatusTooManyRequests, rec.Code)

			f.clock.Advance(time.Minute) // no permanent lock-out
			rec = f.do(http.MethodPost, "/auth/login", "Authorization", basic(account, "wrong"))
			require.Equal(t, http.StatusUnauthorized, rec.Code)
		})
	}
}

func TestLoginThrottlingLooksTheSameForUnknownAccounts(t *testing.T) {
	policy := middleware.LimiterPolicy{AccountAttempts: 2, Window: time.Minute}
	f := newFixture(t, withPolicy(policy))
	var last [2]*http.Response
	for i, account := range []string{maryLogin, "nobody@example.com"} {
		for range 3 {
			last[i] = f.do(http.MethodPost, "/auth/login", "Authorization", basic(account, "wrong")).Result()
		}
	}
	require.Equal(t, http.StatusTooManyRequests, last[0].StatusCode)
	assert.Equal(t, last[0].StatusCode, last[1].StatusCode)
	assert.Equal(t, last[0].Header, last[1].Header)
}

func TestLoginThrottlesByClientAddress(t *testing.T) {
	policy := middleware.LimiterPolicy{AccountAttempts: 1000, AddressAttempts: 2, Window: time.Minute}
	proxies, err := middleware.NewTrustedProxies("192.0.2.0/24")
	require.NoError(t, err)
	attempt := func(f *fixture, forwardedFor, login string) int {
		req := httptestRequest(http.MethodPost, "/auth/login", "Authorization", basic(login, "wrong"),
			"X-Forwarded-For", forwardedFor)
		req.RemoteAddr = "192.0.2.1:1234" // httptest's default peer, a trusted proxy here
		return serve(f, req).Code
	}
	t.Run("trusted proxy: the forwarded client is counted", func(t *testing.T) {
		f := newFixture(t, withPolicy(policy), withService(session.WithTrustedProxies(proxies)))
		require.Equal(t, 401, attempt(f, "203.0.113.7", "a"))
		require.Equal(t, 401, attempt(f, "203.0.113.7", "b"))
		require.Equal(t, 429, attempt(f, "203.0.113.7", "c"))
		require.Equal(t, 401, attempt(f, "203.0.113.8", "d"), "another client is not throttled")
	})
	t.Run("no trusted proxy: X-Forwarded-For is ignored", func(t *testing.T) {
		f := newFixture(t, withPolicy(policy))
		require.Equal(t, 401, attempt(f, "203.0.113.7", "a"))
		require.Equal(t, 401, attempt(f, "203.0.113.8", "b"))
		require.Equal(t, 429, attempt(f, "203.0.113.9", "c"), "all three came from the same peer")
	})
}

// countingHasher counts the password checks a login costs.
type countingHasher struct {
	middleware.PasswordHasher
	verifies atomic.Int64
}

func (c *countingHasher) Verify(encoded, password string) (bool, error) {
	c.verifies.Add(1)
	return c.PasswordHasher.Verify(encoded, password)
}

// TestLoginWork checks, through POST /login, what each attempt costs in
// password checks: an unknown user costs the same one check (of a dummy
// hash) as a wrong password, and a password over 1 KiB none at all. It also
// checks that passwords are compared exactly: not trimmed, not cut at a
// colon, and accepted up to exactly 1 KiB.
func TestLoginWork(t *testing.T) {
	counting := &countingHasher{PasswordHasher: hasher(t)}
	accounts := middleware.NewMemoryAccounts()
	const spaced = " pa:ss word "
	longest := strings.Repeat("p", middleware.MaxPasswordBytes)
	for _, a := range []struct{ id, name, password string }{{"u-spaced", "spaced", spaced}, {"u-long", "long", longest}} {
		hash, err := counting.Hash(a.password)
		require.NoError(t, err)
		require.NoError(t, accounts.Create(t.Context(), middleware.Account{UserID: a.id, Username: a.name, PasswordHash: hash}))
	}
	limiter, err := middleware.NewMemoryLimiter(middleware.LimiterPolicy{AccountAttempts: 1000, AddressAttempts: 1000})
	require.NoError(t, err)
	login, err := middleware.NewPasswordLogin(accounts, middleware.WithHasher(counting), middleware.WithLimiter(limiter))
	require.NoError(t, err)
	svc, err := session.New(login, session.WithLogger(quiet))
	require.NoError(t, err)
	t.Cleanup(func() { _ = svc.Close() })

	tests := []struct {
		name, login, password string
		status                int
		checks                int64
	}{
		{"exact password with spaces and a colon", "spaced", spaced, 200, 1},
		{"trimmed", "spaced", strings.TrimSpace(spaced), 401, 1},
		{"the part before the colon", "spaced", " pa", 401, 1},
		{"wrong password", "spaced", "wrong", 401, 1},
		{"unknown user: one dummy check", "nobody", "wrong", 401, 1},
		{"password of exactly 1 KiB", "long", longest, 200, 1},
		{"password over 1 KiB: refused before hashing", "long", longest + "p", 401, 0},
		{"unknown user, password over 1 KiB", "nobody", longest + "p", 401, 0},
	}
	var failed *httptest.ResponseRecorder
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := counting.verifies.Load()
			rec := recorder(svc.Handler(), httptestRequest(http.MethodPost, "/login", "Authorization", basic(tc.login, tc.password)))
			require.Equal(t, tc.status, rec.Code, rec.Body.String())
			assert.Equal(t, tc.checks, counting.verifies.Load()-before, "password checks")
			if tc.status != http.StatusUnauthorized {
				return
			}
			if failed == nil {
				failed = rec
			}
			assert.Equal(t, failed.Header(), rec.Header(), "every failure looks the same")
			assert.Equal(t, failed.Body.String(), rec.Body.String())
		})
	}
}
