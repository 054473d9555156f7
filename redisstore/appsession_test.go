package redisstore_test

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tidegate/tidegate/basicauth"
	"github.com/tidegate/tidegate/internal/redistest"
	"github.com/tidegate/tidegate/internal/storetest"
	"github.com/tidegate/tidegate/middleware"
	"github.com/tidegate/tidegate/redisstore"
)

// basicauth keeps its app sessions in a middleware.SessionStore: the
// SessionStore of this package serves them unchanged. This is the record
// basicauth writes at POST /me/login.
func TestAppSessionRoundTrip(t *testing.T) {
	tg := redistest.Shared(t)
	clock := storetest.NewClock(storetest.Start)
	s := newStore(t, tg.Client, redisstore.WithPrefix(tg.Prefix+"app:"), redisstore.WithClock(clock.Now))
	sess := middleware.Session{
		Subject: "88144f5ea3", Actor: middleware.ActorUser, App: "demo", Roles: []string{"member"},
		IssuedAt: clock.Now(), ExpiresAt: clock.Now().Add(basicauth.DefaultSessionTTL),
	}
	other := sess
	other.App = "other-app"
	d, d2 := middleware.DigestToken(middleware.NewToken()), middleware.DigestToken(middleware.NewToken())
	require.NoError(t, s.Create(ctx, d, sess))
	require.NoError(t, s.Create(ctx, d2, other))

	got, err := s.Lookup(ctx, d)
	require.NoError(t, err)
	assert.Equal(t, sess.App, got.App, "the app the session is scoped to")
	assert.Equal(t, sess.Subject, got.Subject)
	assert.Equal(t, sess.Actor, got.Actor)
	assert.Equal(t, sess.Roles, got.Roles)
	assert.True(t, sess.IssuedAt.Equal(got.IssuedAt))
	assert.True(t, sess.ExpiresAt.Equal(got.ExpiresAt))
	assert.True(t, got.AbsoluteExpiresAt.IsZero(), "app sessions set no absolute end")

	require.NoError(t, s.Revoke(ctx, d)) // DELETE /me/logout
	_, err = s.Lookup(ctx, d)
	require.ErrorIs(t, err, middleware.ErrSessionNotFound)
	got, err = s.Lookup(ctx, d2)
	require.NoError(t, err, "the user's session in another app is untouched")
	assert.Equal(t, "other-app", got.App)
	require.NoError(t, s.RevokeSubject(ctx, sess.Subject)) // basicauth.Service.RevokeSubject
	_, err = s.Lookup(ctx, d2)
	require.ErrorIs(t, err, middleware.ErrSessionNotFound)
}

// tapglue is one replica of a Tapglue-style server: basicauth on the
// shared Redis (apps, app sessions, and a Broadcaster that carries
// revocations to the other replicas' caches) and the shared accounts.
type tapglue struct {
	svc         *basicauth.Service
	srv         *httptest.Server
	broadcaster *redisstore.Broadcaster
}

func newTapglue(t *testing.T, tg *redistest.Target, accounts *middleware.MemoryAccounts, apps ...basicauth.AppSpec) *tapglue {
	t.Helper()
	client := redistest.NewClient(t, tg.Addr) // a replica has a client of its own
	registry := newRegistry(t, client, redisstore.WithPrefix(tg.Prefix))
	for _, app := range apps {
		if err := registry.Register(ctx, app); err != nil {
			require.ErrorIs(t, err, basicauth.ErrAppExists, "another replica seeded it")
		}
	}
	sessions := newStore(t, client, redisstore.WithPrefix(tg.Prefix+"app:"))
	discard := slog.New(slog.DiscardHandler)
	broadcaster, err := redisstore.NewBroadcaster(client, redisstore.WithPrefix(tg.Prefix), redisstore.WithLogger(discard))
	require.NoError(t, err)
	hasher, err := middleware.NewArgon2idHasher(middleware.TestArgon2Params)
	require.NoError(t, err)
	login, err := middleware.NewPasswordLogin(accounts, middleware.WithHasher(hasher))
	require.NoError(t, err)
	svc, err := basicauth.New(registry, accounts, login, basicauth.WithSessionStore(sessions),
		basicauth.WithInvalidator(broadcaster), basicauth.WithLogger(discard))
	require.NoError(t, err)
	for _, scheme := range []*middleware.Scheme{svc.Scheme(), svc.AppScheme()} {
		cache, ok := scheme.Verifier().(*middleware.Cache)
		require.True(t, ok, "basicauth caches its schemes")
		require.NoError(t, broadcaster.Register(cache))
	}
	require.Eventually(t, broadcaster.Subscribed, eventual, tick)
	mux := http.NewServeMux()
	mux.Handle("/0.4/", http.StripPrefix("/0.4", svc.Handler()))
	srv := httptest.NewTLSServer(mux)
	t.Cleanup(func() {
		srv.Close()
		_ = svc.Close()
		_ = broadcaster.Close()
	})
	return &tapglue{svc: svc, srv: srv, broadcaster: broadcaster}
}

// call sends Basic user:password and returns the status and JSON body.
func (r *tapglue) call(t *testing.T, method, path, user, password, body string) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(method, r.srv.URL+path, strings.NewReader(body))
	require.NoError(t, err)
	req.SetBasicAuth(user, password)
	if method == http.MethodPost {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := r.srv.Client().Do(req)
	require.NoError(t, err)
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	var out map[string]any
	if len(raw) > 0 {
		require.NoError(t, json.Unmarshal(raw, &out), "%s", raw)
	}
	return res.StatusCode, out
}

// status sends a GET /me and returns the status.
func (r *tapglue) status(t *testing.T, user, password string) int {
	t.Helper()
	status, _ := r.call(t, "GET", "/0.4/me", user, password, "")
	return status
}

// Replicas sharing Redis share apps and app sessions: a login on one works
// on another; an app token rotated on one stops working on the others,
// even where it was cached; a logout on one is final on the others.
func TestBasicauthReplicasShareAppsAndSessions(t *testing.T) {
	tg := redistest.Shared(t)
	accounts := middleware.NewMemoryAccounts() // the user database replicas share
	tokens := basicauth.NewAppTokens()
	app := basicauth.AppSpec{ID: "demo", Name: "Demo", AppToken: tokens.AppToken, BackendToken: tokens.BackendToken}
	a := newTapglue(t, tg, accounts, app)
	b := newTapglue(t, tg, accounts, app)

	status, _ := a.call(t, "POST", "/0.4/users", tokens.AppToken, "",
		`{"user_name":"zoe","email":"zoe@example.com","password":"a long passphrase"}`)
	require.Equal(t, http.StatusCreated, status)
	status, me := a.call(t, "POST", "/0.4/me/login", tokens.AppToken, "", `{"email":"zoe@example.com","password":"a long passphrase"}`)
	require.Equal(t, http.StatusCreated, status)
	session, _ := me["session_token"].(string)
	require.NotEmpty(t, session)

	status, me = b.call(t, "GET", "/0.4/me", tokens.AppToken, session, "")
	require.Equal(t, http.StatusOK, status, "a session made on A works on B")
	assert.Equal(t, "zoe", me["user_name"])
	require.Equal(t, http.StatusOK, a.status(t, tokens.AppToken, session)) // both have it cached now

	rotated, err := a.svc.RotateToken(ctx, "demo", basicauth.AppToken)
	require.NoError(t, err)
	assert.Equal(t, http.StatusUnauthorized, a.status(t, tokens.AppToken, session), "the old app token is dead on A at once")
	require.Eventually(t, func() bool { return b.status(t, tokens.AppToken, session) == http.StatusUnauthorized },
		eventual, tick, "and on B, which had it cached, as soon as the purge arrives")
	require.Equal(t, http.StatusOK, b.status(t, rotated, session), "the session lives on with the new app token")
	require.Equal(t, http.StatusOK, a.status(t, rotated, session))

	status, _ = b.call(t, "DELETE", "/0.4/me/logout", rotated, session, "")
	require.Equal(t, http.StatusNoContent, status)
	assert.Equal(t, http.StatusUnauthorized, b.status(t, rotated, session), "logged out on B at once")
	require.Eventually(t, func() bool { return a.status(t, rotated, session) == http.StatusUnauthorized },
		eventual, tick, "and on A, which had it cached, as soon as the subject's eviction arrives")
}
