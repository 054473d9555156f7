package session_test

import (
	"context"
	"errors"
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

func TestSchemeRequire(t *testing.T) {
	f := newFixture(t)
	token := f.login(maryLogin, maryPassword)
	tests := []struct {
		name    string
		headers []string
		status  int
		body    string
	}{
		{"valid", []string{session.HeaderToken, token}, 200, ""},
		{"repeated identically", []string{session.HeaderToken, token, session.HeaderToken, token}, 200, ""},
		{"missing", nil, 401, `"Session token required"`},
		{"unknown", []string{session.HeaderToken, "dGhpcyB0b2tlbiB3YXMgbmV2ZXIgaXNzdWVkIGF0IGFsbA"}, 401, `"Session token required"`},
		{"token with one character changed", []string{session.HeaderToken, token[:42] + flip(token[42])}, 401, `"Session token required"`},
		{"token with a suffix", []string{session.HeaderToken, token + "A"}, 401, `"Session token required"`},
		{"empty", []string{session.HeaderToken, ""}, 400, `"Session token required"`},
		{"not a token68", []string{session.HeaderToken, "a b"}, 400, `"Session token required"`},
		{"doubled with different values", []string{session.HeaderToken, token, session.HeaderToken, token + "A"}, 400, `"Session token required"`},
		{"oversized", []string{session.HeaderToken, strings.Repeat("A", session.MaxTokenBytes+1)}, 400, `"Session token required"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec := f.do(http.MethodGet, "/whoami", tc.headers...)
			require.Equal(t, tc.status, rec.Code)
			if tc.status == http.StatusOK {
				assert.Equal(t, maryID, decode(t, rec)["subject"])
				return
			}
			assert.Equal(t, tc.body, rec.Body.String())
			assert.Equal(t, "no-store", rec.Header().Get("Cache-Control"))
			if tc.status == http.StatusUnauthorized {
				assert.Equal(t, `X-Tidepool-Session-Token realm="tidepool"`, rec.Header().Get("WWW-Authenticate"))
			} else {
				assert.Empty(t, rec.Header().Get("WWW-Authenticate"))
			}
		})
	}
}

func flip(c byte) string {
	if c == 'A' {
		return "B"
	}
	return "A"
}

func TestSchemePrincipal(t *testing.T) {
	f := newFixture(t)
	token := f.login("admin@example.com", "admin demo password")
	var got middleware.Principal
	h := middleware.Require(f.svc.Scheme())(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got, _ = middleware.FromRequest(r)
	}))
	recorder(h, httptestRequest(http.MethodGet, "/", session.HeaderToken, token))
	assert.Equal(t, middleware.Principal{
		Subject: adminID, Kind: session.Kind, Actor: middleware.ActorUser, Roles: []string{"user", "admin"},
		ExpiresAt: f.clock.Now().Add(session.DefaultTokenLifetime),
	}, got)
	assert.Equal(t, session.Kind, f.svc.Scheme().Kind())
}

func TestSchemeRoleGuard(t *testing.T) {
	f := newFixture(t)
	h := middleware.Require(f.svc.Scheme())(middleware.RequireRole("admin")(whoami))
	mary := recorder(h, httptestRequest(http.MethodGet, "/", session.HeaderToken, f.login(maryLogin, maryPassword)))
	require.Equal(t, http.StatusForbidden, mary.Code)
	assert.Equal(t, `"Forbidden"`, mary.Body.String())
	assert.Empty(t, mary.Header().Get("WWW-Authenticate"))
	admin := recorder(h, httptestRequest(http.MethodGet, "/", session.HeaderToken, f.login("admin@example.com", "admin demo password")))
	assert.Equal(t, http.StatusOK, admin.Code)
}

func TestSchemeOptional(t *testing.T) {
	f := newFixture(t)
	h := middleware.Optional(f.svc.Scheme())(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, ok := middleware.FromRequest(r)
		if !ok {
			_, _ = w.Write([]byte("anonymous"))
			return
		}
		_, _ = w.Write([]byte(p.Subject))
	}))
	assert.Equal(t, "anonymous", recorder(h, httptestRequest(http.MethodGet, "/")).Body.String())
	assert.Equal(t, maryID, recorder(h, httptestRequest(http.MethodGet, "/", session.HeaderToken, f.login(maryLogin, maryPassword))).Body.String())
	bad := recorder(h, httptestRequest(http.MethodGet, "/", session.HeaderToken, "dGhpcyB0b2tlbiB3YXMgbmV2ZXIgaXNzdWVkIGF0IGFsbA"))
	assert.Equal(t, http.StatusUnauthorized, bad.Code, "an invalid token is never downgraded to anonymous")
}

func TestSchemeAny(t *testing.T) {
	f := newFixture(t)
	ex, err := middleware.NewAuthorizationExtractor("bearer", "Bearer")
	require.NoError(t, err)
	bearer, err := middleware.NewScheme("bearer", ex, middleware.VerifierFunc(
		func(context.Context, middleware.Credential) (middleware.Principal, error) {
			return middleware.Principal{Subject: "jwt-user"}, nil
		}), middleware.Challenge{Scheme: "Bearer", Realm: "api", RFC6750: true})
	require.NoError(t, err)
	anyOf, err := middleware.Any(f.svc.Scheme(), bearer)
	require.NoError(t, err)
	h := anyOf(whoami)

	none := recorder(h, httptestRequest(http.MethodGet, "/"))
	require.Equal(t, http.StatusUnauthorized, none.Code)
	assert.Equal(t, []string{`X-Tidepool-Session-Token realm="tidepool"`, `Bearer realm="api"`}, none.Header().Values("WWW-Authenticate"))
	assert.Equal(t, `"Session token required"`, none.Body.String())

	token := f.login(maryLogin, maryPassword)
	ok := recorder(h, httptestRequest(http.MethodGet, "/", session.HeaderToken, token))
	require.Equal(t, http.StatusOK, ok.Code)
	assert.Equal(t, maryID, decode(t, ok)["subject"])

	both := recorder(h, httptestRequest(http.MethodGet, "/", session.HeaderToken, token, "Authorization", "Bearer abc"))
	assert.Equal(t, http.StatusBadRequest, both.Code, "two kinds at once are ambiguous")
}

// flakyStore is a session store that fails while down is set.
type flakyStore struct {
	middleware.SessionStore
	down    atomic.Bool
	lookups atomic.Int64
}

var errStoreDown = errors.New("connection refused by 10.0.0.7:6379, password hunter2")

func (s *flakyStore) Lookup(ctx context.Context, d middleware.TokenDigest) (middleware.Session, error) {
	s.lookups.Add(1)
	if s.down.Load() {
		return middleware.Session{}, errStoreDown
	}
	return s.SessionStore.Lookup(ctx, d)
}

func (s *flakyStore) Create(ctx context.Context, d middleware.TokenDigest, sess middleware.Session) error {
	if s.down.Load() {
		return errStoreDown
	}
	return s.SessionStore.Create(ctx, d, sess)
}

func (s *flakyStore) Revoke(ctx context.Context, d middleware.TokenDigest) error {
	if s.down.Load() {
		return errStoreDown
	}
	return s.SessionStore.Revoke(ctx, d)
}

func newFlakyFixture(t *testing.T, opts ...session.Option) (*fixture, *flakyStore) {
	clock := newFakeClock()
	mem, err := middleware.NewMemorySessionStore(middleware.WithStoreClock(clock.Now))
	require.NoError(t, err)
	store := &flakyStore{SessionStore: mem}
	f := newFixture(t, withClock(clock), withService(append([]session.Option{session.WithStore(store)}, opts...)...))
	return f, store
}

func TestStoreOutageIs503NeverAFailedLogin(t *testing.T) {
	f, store := newFlakyFixture(t)
	token := f.login(maryLogin, maryPassword)
	store.down.Store(true)

	for _, tc := range []struct {
		name    string
		method  string
		path    string
		headers []string
	}{
		{"middleware", http.MethodGet, "/whoami", []string{session.HeaderToken, token}},
		{"login", http.MethodPost, "/auth/login", []string{"Authorization", basic(maryLogin, maryPassword)}},
		{"refresh", http.MethodGet, "/auth/login", []string{session.HeaderToken, token}},
		{"logout", http.MethodPost, "/auth/logout", []string{session.HeaderToken, token}},
		{"serverlogin", http.MethodPost, "/auth/serverlogin", []string{session.HeaderServerName, serverName, session.HeaderServerSecret, serverSecret}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := f.do(tc.method, tc.path, tc.headers...)
			require.Equal(t, http.StatusServiceUnavailable, rec.Code)
			assert.Equal(t, `"Service unavailable"`, rec.Body.String())
			assert.Equal(t, "5", rec.Header().Get("Retry-After"))
			assert.Empty(t, rec.Header().Get("WWW-Authenticate"))
			assert.Empty(t, rec.Header().Get(session.HeaderToken))
			assert.NotContains(t, rec.Body.String(), "hunter2")
		})
	}
	store.down.Store(false)
	assert.Equal(t, http.StatusOK, f.whoamiStatus(token), "the outage was not cached, nor did logout happen")
}

func TestSchemeCachesVerifications(t *testing.T) {
	f, store := newFlakyFixture(t, session.WithCacheTTL(10*time.Second))
	token := f.login(maryLogin, maryPassword)
	for range 5 {
		require.Equal(t, http.StatusOK, f.whoamiStatus(token))
	}
	assert.Equal(t, int64(1), store.lookups.Load(), "one store lookup, then cache hits")
	f.clock.Advance(10 * time.Second)
	require.Equal(t, http.StatusOK, f.whoamiStatus(token))
	assert.Equal(t, int64(2), store.lookups.Load(), "the TTL expired")
}

func TestCacheNeverOutlivesTheToken(t *testing.T) {
	f, store := newFlakyFixture(t, session.WithCacheTTL(time.Hour), session.WithTokenLifetime(10*time.Minute))
	token := f.login(maryLogin, maryPassword)
	require.Equal(t, http.StatusOK, f.whoamiStatus(token))
	f.clock.Advance(10 * time.Minute)
	requireTokenRequired(t, f.do(http.MethodGet, "/whoami", session.HeaderToken, token))
	assert.Equal(t, int64(2), store.lookups.Load(), "the entry died with the token: the store was asked again")
}

func TestHeaderNamesAreCaseInsensitiveOnTheWire(t *testing.T) {
	f := newFixture(t)
	srv := httptest.NewServer(f.handler)
	defer srv.Close()
	send := func(method, path string, headers map[string]string) *http.Response {
		req, err := http.NewRequest(method, srv.URL+path, nil)
		require.NoError(t, err)
		for k, v := range headers {
			req.Header[k] = []string{v} // sent exactly as spelled
		}
		resp, err := srv.Client().Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		return resp
	}
	resp := send(http.MethodPost, "/auth/serverlogin", map[string]string{
		"x-tidepool-server-name": serverName, "X-TIDEPOOL-SERVER-SECRET": serverSecret})
	require.Equal(t, http.StatusOK, resp.StatusCode)
	server := resp.Header.Get("x-tidepool-session-token")
	user := f.login(maryLogin, maryPassword)
	for _, name := range []string{"x-tidepool-session-token", "X-Tidepool-Session-Token", "X-TIDEPOOL-SESSION-TOKEN"} {
		assert.Equal(t, http.StatusOK, send(http.MethodGet, "/whoami", map[string]string{name: user}).StatusCode, name)
		assert.Equal(t, http.StatusOK, send(http.MethodGet, "/auth/token/"+user, map[string]string{name: server}).StatusCode, name)
	}
	doubled := send(http.MethodGet, "/whoami", map[string]string{"x-tidepool-session-token": user, "X-TIDEPOOL-SESSION-TOKEN": server})
	assert.Equal(t, http.StatusBadRequest, doubled.StatusCode, "two spellings, two values")
}

func TestStoreVerifier(t *testing.T) {
	clock := newFakeClock()
	store, err := middleware.NewMemorySessionStore(middleware.WithStoreClock(clock.Now))
	require.NoError(t, err)
	token := middleware.NewToken()
	exp := clock.Now().Add(time.Minute)
	require.NoError(t, store.Create(t.Context(), middleware.DigestToken(token), middleware.Session{
		Subject: "u1", Actor: middleware.ActorServer, Roles: []string{"r"}, ExpiresAt: exp,
	}))
	// An app session (basicauth's, in a shared store) is never a session token.
	appToken := middleware.NewToken()
	require.NoError(t, store.Create(t.Context(), middleware.DigestToken(appToken), middleware.Session{
		Subject: "u1", App: "app", ExpiresAt: exp,
	}))
	v, err := session.NewStoreVerifier(store)
	require.NoError(t, err)

	p, err := v.Verify(t.Context(), middleware.Credential{Kind: session.Kind, Token: token})
	require.NoError(t, err)
	assert.Equal(t, middleware.Principal{Subject: "u1", Kind: session.Kind, Actor: middleware.ActorServer,
		Roles: []string{"r"}, ExpiresAt: exp}, p)

	for _, c := range []middleware.Credential{
		{Kind: "bearer", Token: token},
		{Kind: session.Kind, Token: token, Secret: "x"},
		{Kind: session.Kind, Token: ""},
		{Kind: session.Kind, Token: token + "x"},
		{Kind: session.Kind, Token: appToken},
	} {
		_, err := v.Verify(t.Context(), c)
		assert.ErrorIs(t, err, middleware.ErrInvalidCredential, c.String())
	}
	clock.Advance(time.Minute)
	_, err = v.Verify(t.Context(), middleware.Credential{Kind: session.Kind, Token: token})
	assert.ErrorIs(t, err, middleware.ErrInvalidCredential)

	_, err = session.NewStoreVerifier(nil)
	assert.Error(t, err)
}

func TestStoreVerifierReportsAnOutageAsUnavailable(t *testing.T) {
	mem, err := middleware.NewMemorySessionStore()
	require.NoError(t, err)
	store := &flakyStore{SessionStore: mem}
	store.down.Store(true)
	v, err := session.NewStoreVerifier(store)
	require.NoError(t, err)
	_, err = v.Verify(t.Context(), middleware.Credential{Kind: session.Kind, Token: "abc"})
	assert.ErrorIs(t, err, middleware.ErrUnavailable)
	assert.NotContains(t, err.Error(), "hunter2")
}

func TestNewSchemeAroundAnyVerifier(t *testing.T) {
	s, err := session.NewScheme(middleware.VerifierFunc(func(_ context.Context, c middleware.Credential) (middleware.Principal, error) {
		return middleware.Principal{}, middleware.Unavailable("down", nil)
	}), middleware.WithLogger(quiet))
	require.NoError(t, err)
	h := middleware.Require(s)(whoami)
	rec := recorder(h, httptestRequest(http.MethodGet, "/", session.HeaderToken, "abc"))
	require.Equal(t, http.StatusServiceUnavailable, rec.Code)
	assert.Equal(t, `"Service unavailable"`, rec.Body.String())
	assert.Equal(t, "5", rec.Header().Get("Retry-After"))

	_, err = session.NewScheme(nil)
	assert.Error(t, err)
}
