package adversarial_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/tidegate/tidegate/basicauth"
	"github.com/tidegate/tidegate/bearer"
	"github.com/tidegate/tidegate/middleware"
	"github.com/tidegate/tidegate/session"
	"github.com/tidegate/tidegate/tidegatetest"
)

// checkEmpty asserts a response without a body: the logout answers.
func (s *server) checkEmpty(t testing.TB, got reply, status int) {
	t.Helper()
	assert.Equal(t, status, got.status)
	assert.Empty(t, got.body)
	assert.Equal(t, "no-store", got.header.Get("Cache-Control"))
	assert.Equal(t, hstsValue, got.header.Get("Strict-Transport-Security"))
}

// TestLogoutThenReuse: after a logout, the credential fails on the very
// next request, although a request just before it had put it in the
// verification cache; logging out again changes nothing.
func TestLogoutThenReuse(t *testing.T) {
	t.Parallel()
	s := newServer(t, setup{})

	t.Run("session token", func(t *testing.T) {
		token := s.sessionLogin(t, mary.Username, mary.Password)
		s.check(t, s.get(t, "/whoami", "X-Tidepool-Session-Token", token), wantMarySession)
		s.check(t, s.get(t, "/whoami", "X-Tidepool-Session-Token", token), wantMarySession) // a cache hit
		logout := req{method: http.MethodPost, path: "/auth/logout", header: h("X-Tidepool-Session-Token", token)}
		s.checkEmpty(t, s.send(t, logout), http.StatusOK)
		s.check(t, s.get(t, "/whoami", "X-Tidepool-Session-Token", token), wantSessionInvalid)
		s.check(t, s.get(t, "/auth/login", "X-Tidepool-Session-Token", token), wantSessionInvalid)
		s.checkEmpty(t, s.send(t, logout), http.StatusOK)
	})

	t.Run("bearer token", func(t *testing.T) {
		tk := s.bearerLogin(t, mary.Username, mary.Password)
		s.check(t, s.get(t, "/api/v1/ping", "Authorization", "Bearer "+tk.Access), wantPing)
		s.check(t, s.get(t, "/whoami", "Authorization", "Bearer "+tk.Access), wantMaryBearer)
		logout := req{method: http.MethodPost, path: "/api/v1/logout", header: h("Authorization", "Bearer "+tk.Access)}
		s.check(t, s.send(t, logout), want{status: 200, body: bodyBearerLoggedOut})
		s.check(t, s.get(t, "/api/v1/ping", "Authorization", "Bearer "+tk.Access), wantBearerInvalid)
		s.check(t, s.get(t, "/whoami", "Authorization", "Bearer "+tk.Access), wantBearerInvalid)
		s.check(t, s.bearerRefresh(t, tk.Access, tk.Refresh), wantBearerInvalid)
		s.check(t, s.send(t, logout), want{status: 200, body: bodyBearerLoggedOut})
	})

	t.Run("app session", func(t *testing.T) {
		cred := secret(basicAuth(demoApp.AppToken, s.appLogin(t, mary.Username, mary.Password)))
		s.check(t, s.get(t, "/whoami", "Authorization", cred), wantMaryBasic)
		s.check(t, s.get(t, "/0.4/me", "Authorization", cred),
			want{status: 200, body: `{"id":"` + mary.UserID + `","id_string":"` + mary.UserID + `","user_name":"mary@example.com","email":"mary@example.com"}` + "\n"})
		logout := req{method: http.MethodDelete, path: "/0.4/me/logout", header: h("Authorization", cred)}
		s.checkEmpty(t, s.send(t, logout), http.StatusNoContent)
		s.check(t, s.get(t, "/whoami", "Authorization", cred), wantBasicInvalid)
		s.check(t, s.get(t, "/0.4/me", "Authorization", cred), wantBasicInvalid)
		s.check(t, s.send(t, logout), wantBasicInvalid)
	})
}

// TestRefreshReuse: a refresh token works once (RFC 9700 §4.14.2). Its
// second use revokes the whole login: the tokens the first use bought and
// the access token that came with it, so that of a thief and the user,
// whoever refreshed first loses what they got.
func TestRefreshReuse(t *testing.T) {
	t.Parallel()
	s := newServer(t, setup{})
	first := s.bearerLogin(t, mary.Username, mary.Password)
	other := s.bearerLogin(t, mary.Username, mary.Password) // another login of hers

	r := s.bearerRefresh(t, first.Access, first.Refresh)
	require.Equal(t, http.StatusOK, r.status, r.body)
	var second tokens
	require.NoError(t, json.Unmarshal([]byte(r.body), &second))
	secret(second.Access)
	secret(second.Refresh)
	s.check(t, s.get(t, "/api/v1/ping", "Authorization", "Bearer "+second.Access), wantPing)

	s.check(t, s.bearerRefresh(t, first.Access, first.Refresh), wantBearerInvalid, "reuse")
	s.check(t, s.get(t, "/api/v1/ping", "Authorization", "Bearer "+second.Access), wantBearerInvalid, "bought by the first use")
	s.check(t, s.bearerRefresh(t, second.Access, second.Refresh), wantBearerInvalid, "its refresh token")
	s.check(t, s.get(t, "/api/v1/ping", "Authorization", "Bearer "+first.Access), wantBearerInvalid, "the original access token")
	s.check(t, s.get(t, "/api/v1/ping", "Authorization", "Bearer "+other.Access), wantPing, "her other login")
}

// TestRefreshAcrossLogins: a refresh token presented with another login's
// access token, or with a forged copy of its own login's access token, is
// refused and is not burned: its owner still refreshes with it. An
// attacker holding one user's tokens, or a refresh token alone, cannot end
// another login.
func TestRefreshAcrossLogins(t *testing.T) {
	t.Parallel()
	s := newServer(t, setup{})
	m := s.bearerLogin(t, mary.Username, mary.Password)
	a := s.bearerLogin(t, admin.Username, admin.Password)
	s.check(t, s.bearerRefresh(t, m.Access, a.Refresh), wantBearerInvalid)
	parts := strings.Split(a.Access, ".")
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	require.NoError(t, err)
	forged := jws(headerJSON(), string(payload), hmacSigner([]byte("a different key of thirty-two bytes!")))
	s.check(t, s.bearerRefresh(t, forged, a.Refresh), wantBearerInvalid, "admin's claims, re-signed with another key")
	s.check(t, s.bearerRefresh(t, "a.b.c", a.Refresh), wantBearerInvalid, "no access token worth the name")
	m2 := s.bearerLogin(t, mary.Username, mary.Password)
	s.check(t, s.bearerRefresh(t, m2.Access, m.Refresh), wantBearerInvalid, "another login of the same user")
	r := s.bearerRefresh(t, a.Access, a.Refresh)
	assert.Equal(t, http.StatusOK, r.status, r.body)
	r = s.bearerRefresh(t, m.Access, m.Refresh)
	assert.Equal(t, http.StatusOK, r.status, r.body)
}

// TestConcurrentRefresh: the same refresh token sent by eight clients at
// once buys exactly one new pair; the other seven are reuse, which revokes
// the login, so in the end even the winner's new access token is refused.
// Session tokens differ by design: within the 30 s grace window every tab
// refreshing with the same token succeeds, each getting a distinct token.
func TestConcurrentRefresh(t *testing.T) {
	t.Parallel()
	s := newServer(t, setup{})
	const n = 8

	t.Run("bearer refresh token", func(t *testing.T) {
		tk := s.bearerLogin(t, mary.Username, mary.Password)
		replies := concurrently(t, n, func() (reply, error) {
			return s.trySend(req{method: http.MethodPost, path: "/api/v1/refresh", body: `{"refresh_token":"` + tk.Refresh + `"}`,
				header: h("Authorization", "Bearer "+tk.Access, "Content-Type", "application/json")})
		})
		var won []tokens
		for _, r := range replies {
			if r.status == http.StatusOK {
				var got tokens
				require.NoError(t, json.Unmarshal([]byte(r.body), &got))
				won = append(won, got)
				secret(got.Access)
				secret(got.Refresh)
				continue
			}
			s.check(t, r, wantBearerInvalid)
		}
		require.Len(t, won, 1, "exactly one refresh succeeds")
		s.check(t, s.get(t, "/api/v1/ping", "Authorization", "Bearer "+won[0].Access), wantBearerInvalid)
	})

	t.Run("session token", func(t *testing.T) {
		token := s.sessionLogin(t, mary.Username, mary.Password)
		replies := concurrently(t, n, func() (reply, error) {
			return s.trySend(req{path: "/auth/login", header: h("X-Tidepool-Session-Token", token)})
		})
		seen := map[string]bool{}
		for _, r := range replies {
			s.check(t, r, want{status: 200, body: `{"userid":"` + mary.UserID + `"}`})
			fresh := secret(r.header.Get("X-Tidepool-Session-Token"))
			seen[fresh] = true
			s.check(t, s.get(t, "/whoami", "X-Tidepool-Session-Token", fresh), wantMarySession)
		}
		assert.Len(t, seen, n, "every refresh issues its own token")
	})
}

// concurrently runs send n times at once and returns the replies.
func concurrently(t *testing.T, n int, send func() (reply, error)) []reply {
	t.Helper()
	replies := make([]reply, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range replies {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			replies[i], errs[i] = send()
		}()
	}
	close(start)
	wg.Wait()
	for _, err := range errs {
		require.NoError(t, err)
	}
	return replies
}

// TestLogoutOfAnotherSession: logging out ends that credential only. The
// other user's credentials of every kind, and the same user's other
// logins, keep working; a logout with a forged, unknown or other kind of
// token ends nothing.
func TestLogoutOfAnotherSession(t *testing.T) {
	t.Parallel()
	s := newServer(t, setup{})
	maryS1, maryS2 := s.sessionLogin(t, mary.Username, mary.Password), s.sessionLogin(t, mary.Username, mary.Password)
	adminS := s.sessionLogin(t, admin.Username, admin.Password)
	maryB1, maryB2 := s.bearerLogin(t, mary.Username, mary.Password), s.bearerLogin(t, mary.Username, mary.Password)
	adminB := s.bearerLogin(t, admin.Username, admin.Password)
	maryA1 := secret(basicAuth(demoApp.AppToken, s.appLogin(t, mary.Username, mary.Password)))
	maryA2 := secret(basicAuth(demoApp.AppToken, s.appLogin(t, mary.Username, mary.Password)))
	adminA := secret(basicAuth(demoApp.AppToken, s.appLogin(t, admin.Username, admin.Password)))
	wantAdminSession := want{status: 200, cacheable: true, body: whoamiBody(admin.UserID, "session", "user", "", "user", "admin")}
	wantAdminBasic := want{status: 200, cacheable: true, body: whoamiBody(admin.UserID, "basic", "user", "demo", "user", "admin")}
	stillWorking := func(t *testing.T) {
		t.Helper()
		s.check(t, s.get(t, "/whoami", "X-Tidepool-Session-Token", maryS2), wantMarySession)
		s.check(t, s.get(t, "/whoami", "X-Tidepool-Session-Token", adminS), wantAdminSession)
		s.check(t, s.get(t, "/whoami", "Authorization", "Bearer "+maryB2.Access), wantMaryBearer)
		s.check(t, s.get(t, "/whoami", "Authorization", "Bearer "+adminB.Access), wantAdminBearer)
		s.check(t, s.get(t, "/whoami", "Authorization", maryA2), wantMaryBasic)
		s.check(t, s.get(t, "/whoami", "Authorization", adminA), wantAdminBasic)
	}
	stillWorking(t) // and now cached

	// Logouts that must end nothing.
	forged := jws(headerJSON(), claimsAt(time.Now()), hmacSigner([]byte("a different key of thirty-two bytes!")))
	forgedAdmin := jws(headerJSON(), `{"iss":"tidegate","sub":"`+admin.UserID+`","aud":"tidegate","exp":4102444800,"iat":1,"jti":"x","sid":"y"}`,
		hmacSigner([]byte("a different key of thirty-two bytes!")))
	for _, r := range []req{
		{method: http.MethodPost, path: "/auth/logout", header: h("X-Tidepool-Session-Token", randomToken())},
		{method: http.MethodPost, path: "/auth/logout", header: h("X-Tidepool-Session-Token", maryB1.Access)},
		{method: http.MethodPost, path: "/auth/logout", header: h("Authorization", "Bearer "+adminB.Access)},
	} {
		s.checkEmpty(t, s.send(t, r), http.StatusOK)
	}
	for _, token := range []string{forged, forgedAdmin} {
		r := s.send(t, req{method: http.MethodPost, path: "/api/v1/logout", header: h("Authorization", "Bearer "+token)})
		s.check(t, r, want{status: 200, body: bodyBearerLoggedOut})
	}
	r := s.send(t, req{method: http.MethodDelete, path: "/0.4/me/logout", header: h("Authorization", basicAuth(demoApp.AppToken, randomToken()))})
	s.check(t, r, wantBasicInvalid)
	stillWorking(t)

	// Mary's first logins end; nothing else does.
	s.checkEmpty(t, s.send(t, req{method: http.MethodPost, path: "/auth/logout", header: h("X-Tidepool-Session-Token", maryS1)}), http.StatusOK)
	s.check(t, s.send(t, req{method: http.MethodPost, path: "/api/v1/logout", header: h("Authorization", "Bearer "+maryB1.Access)}),
		want{status: 200, body: bodyBearerLoggedOut})
	s.checkEmpty(t, s.send(t, req{method: http.MethodDelete, path: "/0.4/me/logout", header: h("Authorization", maryA1)}), http.StatusNoContent)
	s.check(t, s.get(t, "/whoami", "X-Tidepool-Session-Token", maryS1), wantSessionInvalid)
	s.check(t, s.get(t, "/whoami", "Authorization", "Bearer "+maryB1.Access), wantBearerInvalid)
	s.check(t, s.get(t, "/whoami", "Authorization", maryA1), wantBasicInvalid)
	stillWorking(t)
}

// ---------------------------------------------------------------------------
// Revoking a user: app.App exposes no account store and no service, so
// these tests assemble the same three services the example server does
// (one MemoryAccounts, one PasswordLogin, the same mux and HSTS wrapper)
// and drive the services' RevokeSubject, as an application's "change
// password" or "disable account" handler must. See SECURITY.md.

// miniApp is the example server's wiring with its parts in reach.
type miniApp struct {
	*server
	accounts *middleware.MemoryAccounts
	hasher   middleware.PasswordHasher
	sessions *session.Service
	jwts     *bearer.Service
	apps     *basicauth.Service
	refresh  *bearer.MemoryRefreshStore
}

func newMiniApp(t *testing.T) *miniApp { return newMiniAppStore(t, false) }

// newMiniAppStore is newMiniApp; with shared, Tidepool sessions and
// Tapglue app sessions live in one store, as basicauth.WithSessionStore's
// documentation allows.
func newMiniAppStore(t *testing.T, shared bool) *miniApp {
	return newMiniAppLogin(t, shared, testHasher())
}

// newMiniAppLogin is newMiniAppStore whose logins check passwords with
// loginHasher (the accounts' hashes are testHasher's).
func newMiniAppLogin(t *testing.T, shared bool, loginHasher middleware.PasswordHasher) *miniApp {
	t.Helper()
	clock := tidegatetest.NewClock(time.Time{})
	accounts := middleware.NewMemoryAccounts()
	ctx := context.Background()
	for _, u := range demo.Users {
		hash, err := testHasher().Hash(u.Password)
		require.NoError(t, err)
		require.NoError(t, accounts.Create(ctx, middleware.Account{UserID: u.UserID, Username: u.Username, Emails: u.Emails, Roles: u.Roles, PasswordHash: hash}))
	}
	limiter, err := middleware.NewMemoryLimiter(middleware.LimiterPolicy{}, middleware.WithStoreClock(clock.Now))
	require.NoError(t, err)
	login, err := middleware.NewPasswordLogin(accounts, middleware.WithHasher(loginHasher), middleware.WithLimiter(limiter))
	require.NoError(t, err)
	sessionOpts := []session.Option{session.WithLogger(suiteLogger), session.WithClock(clock.Now)}
	appOpts := []basicauth.Option{basicauth.WithLogger(suiteLogger), basicauth.WithClock(clock.Now)}
	if shared {
		store, err := middleware.NewMemorySessionStore(middleware.WithStoreClock(clock.Now))
		require.NoError(t, err)
		sessionOpts = append(sessionOpts, session.WithStore(store))
		appOpts = append(appOpts, basicauth.WithSessionStore(store))
	}
	sessions, err := session.New(login, sessionOpts...)
	require.NoError(t, err)
	t.Cleanup(func() { _ = sessions.Close() })
	key, err := bearer.ParseHMACKey("", []byte(testJWTKey))
	require.NoError(t, err)
	keys, err := bearer.NewKeySet(key)
	require.NoError(t, err)
	refresh, err := bearer.NewMemoryRefreshStore(bearer.WithStoreClock(clock.Now))
	require.NoError(t, err)
	jwts, err := bearer.New(login, keys, bearer.WithLogger(suiteLogger), bearer.WithClock(clock.Now), bearer.WithRefreshStore(refresh))
	require.NoError(t, err)
	t.Cleanup(func() { _ = jwts.Close() })
	registry, err := basicauth.NewMemoryRegistry(basicauth.AppSpec{ID: demoApp.Name, Name: demoApp.Name, AppToken: demoApp.AppToken, BackendToken: demoApp.BackendToken})
	require.NoError(t, err)
	apps, err := basicauth.New(registry, accounts, login, appOpts...)
	require.NoError(t, err)
	t.Cleanup(func() { _ = apps.Close() })
	anyKind, err := middleware.Any(sessions.Scheme(), jwts.Scheme(), apps.Scheme())
	require.NoError(t, err)
	mux := http.NewServeMux()
	mux.Handle("GET /whoami", anyKind(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, _ := middleware.FromRequest(r)
		middleware.WriteJSON(w, http.StatusOK, []byte(whoamiBody(p.Subject, string(p.Kind), string(p.ActingAs()), p.App, p.Roles...)))
	})))
	mux.Handle("/auth/", http.StripPrefix("/auth", sessions.Handler()))
	mux.Handle("/api/v1/", http.StripPrefix("/api/v1", jwts.Handler()))
	mux.Handle("/0.4/", http.StripPrefix("/0.4", apps.Handler()))
	srv := httptest.NewTLSServer(apps.HSTS(mux))
	t.Cleanup(srv.Close)
	return &miniApp{server: &server{Server: srv, tls: true, clock: clock}, accounts: accounts, hasher: testHasher(),
		sessions: sessions, jwts: jwts, apps: apps, refresh: refresh}
}

// revokeUser is what an application must do after a password change or
// when disabling an account: revoke in every kind's service.
func (m *miniApp) revokeUser(t *testing.T, userID string) {
	t.Helper()
	ctx := context.Background()
	require.NoError(t, m.sessions.RevokeSubject(ctx, userID))
	require.NoError(t, m.jwts.RevokeSubject(ctx, userID))
	require.NoError(t, m.apps.RevokeSubject(ctx, userID))
}

// credentials are one user's credentials of every kind.
type credentials struct {
	session, bearer, app, backend string
}

func (m *miniApp) loginAll(t *testing.T, login, password, userID string) credentials {
	t.Helper()
	return credentials{
		session: m.sessionLogin(t, login, password),
		bearer:  "Bearer " + m.bearerLogin(t, login, password).Access,
		app:     secret(basicAuth(demoApp.AppToken, m.appLogin(t, login, password))),
		backend: secret(basicAuth(demoApp.BackendToken, userID)),
	}
}

// whoamiAll asserts /whoami with each credential.
func (m *miniApp) whoamiAll(t *testing.T, c credentials, session, bearerWant, app, backend want) {
	t.Helper()
	m.check(t, m.get(t, "/whoami", "X-Tidepool-Session-Token", c.session), session, "session")
	m.check(t, m.get(t, "/whoami", "Authorization", c.bearer), bearerWant, "bearer")
	m.check(t, m.get(t, "/whoami", "Authorization", c.app), app, "app session")
	m.check(t, m.get(t, "/whoami", "Authorization", c.backend), backend, "backend")
}

// TestRevokeUser: after a password change or when an account is disabled,
// revoking the user in every service ends every credential of that user at
// once (cached ones included) and of no one else; the old password no
// longer logs in, the new one does.
func TestRevokeUser(t *testing.T) {
	t.Parallel()
	wantAdminSession := want{status: 200, cacheable: true, body: whoamiBody(admin.UserID, "session", "user", "", "user", "admin")}
	wantAdminBasic := want{status: 200, cacheable: true, body: whoamiBody(admin.UserID, "basic", "user", "demo", "user", "admin")}
	wantAdminBackend := want{status: 200, cacheable: true, body: whoamiBody(admin.UserID, "basic", "backend", "demo", "user", "admin")}

	t.Run("password change", func(t *testing.T) {
		m := newMiniApp(t)
		c := m.loginAll(t, mary.Username, mary.Password, mary.UserID)
		a := m.loginAll(t, admin.Username, admin.Password, admin.UserID)
		m.whoamiAll(t, c, wantMarySession, wantMaryBearer, wantMaryBasic, wantMaryBackend) // cached now
		account, err := m.accounts.FindByID(context.Background(), mary.UserID)
		require.NoError(t, err)
		newPassword := secret("mary's brand new passphrase")
		account.PasswordHash, err = m.hasher.Hash(newPassword)
		require.NoError(t, err)
		require.NoError(t, m.accounts.Update(context.Background(), account))
		m.revokeUser(t, mary.UserID)
		// Backend credentials name the user, not a login: they stay valid
		// for a user whose account is.
		m.whoamiAll(t, c, wantSessionInvalid, wantBearerInvalid, wantBasicInvalid, wantMaryBackend)
		m.whoamiAll(t, a, wantAdminSession, wantAdminBearer, wantAdminBasic, wantAdminBackend)
		r := m.send(t, req{method: http.MethodPost, path: "/auth/login", header: h("Authorization", secret(basicAuth(mary.Username, mary.Password)))})
		m.check(t, r, want{status: 401, challenges: []string{chSessionLogin}, body: bodyLoginFailed})
		m.clock.Advance(time.Second) // bearer revokes tokens issued before the next whole second
		fresh := m.loginAll(t, mary.Username, newPassword, mary.UserID)
		m.whoamiAll(t, fresh, wantMarySession, wantMaryBearer, wantMaryBasic, wantMaryBackend)
	})

	t.Run("account disabled", func(t *testing.T) {
		m := newMiniApp(t)
		c := m.loginAll(t, mary.Username, mary.Password, mary.UserID)
		a := m.loginAll(t, admin.Username, admin.Password, admin.UserID)
		m.whoamiAll(t, c, wantMarySession, wantMaryBearer, wantMaryBasic, wantMaryBackend)
		account, err := m.accounts.FindByID(context.Background(), mary.UserID)
		require.NoError(t, err)
		account.Disabled = true
		require.NoError(t, m.accounts.Update(context.Background(), account))
		m.revokeUser(t, mary.UserID)
		m.whoamiAll(t, c, wantSessionInvalid, wantBearerInvalid, wantBasicInvalid, wantBasicInvalid)
		m.whoamiAll(t, a, wantAdminSession, wantAdminBearer, wantAdminBasic, wantAdminBackend)
		m.clock.Advance(time.Second)
		r := m.send(t, req{method: http.MethodPost, path: "/auth/login", header: h("Authorization", secret(basicAuth(mary.Username, mary.Password)))})
		m.check(t, r, want{status: 401, challenges: []string{chSessionLogin}, body: bodyLoginFailed})
	})

	// Disabling the account without revoking: what is checked against the
	// account store stops (refresh, new logins, backend credentials once
	// their cache entry expires); what is not keeps working until it
	// expires. This is why the application must call RevokeSubject.
	t.Run("account disabled without revoking", func(t *testing.T) {
		m := newMiniApp(t)
		tk := m.bearerLogin(t, mary.Username, mary.Password)
		c := m.loginAll(t, mary.Username, mary.Password, mary.UserID)
		m.whoamiAll(t, c, wantMarySession, wantMaryBearer, wantMaryBasic, wantMaryBackend)
		account, err := m.accounts.FindByID(context.Background(), mary.UserID)
		require.NoError(t, err)
		account.Disabled = true
		require.NoError(t, m.accounts.Update(context.Background(), account))
		m.whoamiAll(t, c, wantMarySession, wantMaryBearer, wantMaryBasic, wantMaryBackend)
		m.clock.Advance(time.Minute) // past the backend credential's cache entry
		m.whoamiAll(t, c, wantMarySession, wantMaryBearer, wantMaryBasic, wantBasicInvalid)
		m.check(t, m.get(t, "/auth/login", "X-Tidepool-Session-Token", c.session), wantSessionInvalid, "session refresh")
		m.check(t, m.bearerRefresh(t, tk.Access, tk.Refresh), wantBearerInvalid, "bearer refresh")
		// The refused session refresh revoked every session of the user.
		m.check(t, m.get(t, "/whoami", "X-Tidepool-Session-Token", c.session), wantSessionInvalid)
	})
}

// TestServerTokens: a service logs in with its name and secret for a
// server token, and only a server token may ask about a user's token. A
// wrong secret and an unknown name are answered alike; a user's token, a
// missing or a doubled header never gets an answer about another token.
func TestServerTokens(t *testing.T) {
	t.Parallel()
	s := newServer(t, setup{})
	serverLogin := func(name, secretValue string) reply {
		return s.send(t, req{method: http.MethodPost, path: "/auth/serverlogin",
			header: h("X-Tidepool-Server-Name", name, "X-Tidepool-Server-Secret", secretValue)})
	}
	failed := want{status: 401, challenges: []string{`X-Tidepool-Server-Secret realm="tidepool"`}, body: bodyLoginFailed}
	wrongSecret := serverLogin(uploader.Name, secret("not the uploader's secret"))
	unknownName := serverLogin("downloader", uploader.Secret)
	s.check(t, wrongSecret, failed, "wrong secret")
	s.check(t, unknownName, failed, "unknown server")
	assertIndistinguishable(t, []failure{{name: "wrong secret", got: wrongSecret, noCredential: true}, {name: "unknown server", got: unknownName, noCredential: true}}, bodyLoginFailed)
	s.check(t, s.send(t, req{method: http.MethodPost, path: "/auth/serverlogin", header: h("X-Tidepool-Server-Name", uploader.Name)}),
		want{status: 400, body: bodyMissingLogin}, "no secret")
	s.check(t, s.send(t, req{method: http.MethodPost, path: "/auth/serverlogin", header: h("X-Tidepool-Server-Name", uploader.Name,
		"X-Tidepool-Server-Secret", uploader.Secret, "X-Tidepool-Server-Secret", "another secret value")}),
		want{status: 400, body: bodyMissingLogin}, "doubled secret")

	ok := serverLogin(uploader.Name, uploader.Secret)
	require.Equal(t, http.StatusOK, ok.status)
	server := secret(ok.header.Get("X-Tidepool-Session-Token"))
	user := s.sessionLogin(t, mary.Username, mary.Password)
	ask := func(caller, token string) reply {
		return s.get(t, "/auth/token/"+token, "X-Tidepool-Session-Token", caller)
	}
	got := ask(server, user)
	assert.Equal(t, http.StatusOK, got.status)
	assert.True(t, strings.HasPrefix(got.body, `{"userid":"`+mary.UserID+`","isserver":false,"expires_at":"`), got.body)
	invalidToken := want{status: 401, challenges: []string{chSession}, body: `"Invalid session token"`}
	s.check(t, ask(server, randomToken()), invalidToken, "unknown token")
	s.check(t, ask(server, "a.b%20c"), invalidToken, "not a token68")
	s.check(t, ask(server, strings.Repeat("a", 1025)), invalidToken, "oversized")
	s.check(t, ask(user, user), wantSessionInvalid, "a user asking")
	s.check(t, s.get(t, "/auth/token/"+user), wantSessionInvalid, "nobody asking")
	s.check(t, ask(randomToken(), user), wantSessionInvalid, "an unknown caller")
	s.checkEmpty(t, s.send(t, req{method: http.MethodPost, path: "/auth/logout", header: h("X-Tidepool-Session-Token", user)}), http.StatusOK)
	s.check(t, ask(server, user), invalidToken, "a revoked token")

	t.Run("backend credentials cannot log out", func(t *testing.T) {
		got := s.send(t, req{method: http.MethodDelete, path: "/0.4/me/logout", header: h("Authorization", secret(basicAuth(demoApp.BackendToken, mary.UserID)))})
		s.check(t, got, wantBasicNeedsSession)
	})
}

// TestSharedSessionStore: with one store holding both kinds of session
// (basicauth.WithSessionStore allows sharing), each kind accepts only its
// own: an app session, scoped to its app and living 30 days, is not a
// Tidepool session token (neither for requests, nor for a refresh into
// one, nor for a logout, which used to end it in the store while
// basicauth's cache kept serving it), and a Tidepool token is not an app
// session.
func TestSharedSessionStore(t *testing.T) {
	t.Parallel()
	m := newMiniAppStore(t, true)
	appSession := m.appLogin(t, mary.Username, mary.Password)
	token := m.sessionLogin(t, mary.Username, mary.Password)
	m.check(t, m.get(t, "/whoami", "Authorization", basicAuth(demoApp.AppToken, appSession)), wantMaryBasic)
	m.check(t, m.get(t, "/whoami", "X-Tidepool-Session-Token", token), wantMarySession)

	m.check(t, m.get(t, "/whoami", "X-Tidepool-Session-Token", appSession), wantSessionInvalid, "an app session as a session token")
	m.check(t, m.get(t, "/auth/login", "X-Tidepool-Session-Token", appSession), wantSessionInvalid, "refreshing an app session")
	logout := m.send(t, req{method: http.MethodPost, path: "/auth/logout", header: h("X-Tidepool-Session-Token", appSession)})
	m.checkEmpty(t, logout, http.StatusOK) // as for any token, but it ends no app session
	m.check(t, m.get(t, "/whoami", "Authorization", secret(basicAuth(demoApp.AppToken, token))), wantBasicInvalid, "a session token as an app session")
	m.check(t, m.get(t, "/whoami", "Authorization", basicAuth(demoApp.AppToken, appSession)), wantMaryBasic, "the app session still works")
	m.clock.Advance(basicauth.DefaultCacheTTL) // past basicauth's cache: the store decides
	m.check(t, m.get(t, "/whoami", "Authorization", basicAuth(demoApp.AppToken, appSession)), wantMaryBasic, "the app session is still in the store")
}

// TestSessionLogoutEndsOnlyThatToken: a session token's logout ends that
// token, not the chain of refreshes it belongs to (Tidepool tokens carry no
// login id): the token it replaced keeps its grace window, and a token
// refreshed from that one inside the window lives on. Ending every token of
// a user takes session.Service.RevokeSubject (TestRevokeUser). This is a
// known limitation, listed in SECURITY.md.
func TestSessionLogoutEndsOnlyThatToken(t *testing.T) {
	t.Parallel()
	s, clock := clocked(t)
	start := clock.Now()
	a := s.sessionLogin(t, mary.Username, mary.Password)
	clock.Set(start.Add(time.Minute))
	r := s.get(t, "/auth/login", "X-Tidepool-Session-Token", a)
	require.Equal(t, http.StatusOK, r.status)
	b := secret(r.header.Get("X-Tidepool-Session-Token"))
	r = s.get(t, "/auth/login", "X-Tidepool-Session-Token", a) // a second tab, inside the grace
	require.Equal(t, http.StatusOK, r.status)
	c := secret(r.header.Get("X-Tidepool-Session-Token"))

	s.checkEmpty(t, s.send(t, req{method: http.MethodPost, path: "/auth/logout", header: h("X-Tidepool-Session-Token", b)}), http.StatusOK)
	s.check(t, s.get(t, "/whoami", "X-Tidepool-Session-Token", b), wantSessionInvalid, "the token logged out")
	s.check(t, s.get(t, "/whoami", "X-Tidepool-Session-Token", a), wantSessionInvalid, "the replaced token, inside its grace")
	r = s.get(t, "/auth/login", "X-Tidepool-Session-Token", a)
	require.Equal(t, http.StatusUnauthorized, r.status, "the replaced token cannot refresh the login back to life")
	s.check(t, s.get(t, "/whoami", "X-Tidepool-Session-Token", c), wantMarySession, "its sibling")
	clock.Set(start.Add(time.Minute + 30*time.Second))
	s.check(t, s.get(t, "/whoami", "X-Tidepool-Session-Token", c), wantMarySession, "its sibling, still")
}

// TestBearerLogoutOfATokenNotYetValidHere: POST /api/v1/logout revokes a
// genuine access token whatever its time claims say on this replica's
// clock. A replica running 31 s behind the one that minted the token (more
// than the leeway) saw its iat in the future, answered 200 and revoked
// nothing: the cached token and its refresh token went on working.
func TestBearerLogoutOfATokenNotYetValidHere(t *testing.T) {
	s, clock := clocked(t)
	start := clock.Now()
	tk := s.bearerLogin(t, mary.Username, mary.Password)
	s.check(t, s.get(t, "/api/v1/ping", "Authorization", "Bearer "+tk.Access), wantPing) // cached

	clock.Set(start.Add(-31 * time.Second))
	logout := req{method: http.MethodPost, path: "/api/v1/logout", header: h("Authorization", "Bearer "+tk.Access)}
	s.check(t, s.send(t, logout), want{status: 200, body: bodyBearerLoggedOut})

	s.check(t, s.get(t, "/api/v1/ping", "Authorization", "Bearer "+tk.Access), wantBearerInvalid, "right after logout")
	clock.Set(start.Add(time.Minute))
	s.check(t, s.get(t, "/api/v1/ping", "Authorization", "Bearer "+tk.Access), wantBearerInvalid, "a minute later")
	s.check(t, s.bearerRefresh(t, tk.Access, tk.Refresh), wantBearerInvalid, "refresh after logout")
}

// gateHasher is testHasher whose Verify, once armed, says it has started
// and waits to be let go: a login whose password check (tens of
// milliseconds of argon2id, or a wait for a hash slot) is under way.
type gateHasher struct {
	middleware.PasswordHasher
	armed            atomic.Bool
	entered, release chan struct{}
}

func (h *gateHasher) Verify(encoded, password string) (bool, error) {
	ok, err := h.PasswordHasher.Verify(encoded, password)
	if h.armed.CompareAndSwap(true, false) {
		h.entered <- struct{}{}
		<-h.release
	}
	return ok, err
}

// TestDisabledDuringLogin: the account is disabled (or its password
// changed) and revoked, as SECURITY.md asks, while a login of every kind
// is checking the password. The login then hands out no credential: it
// used to issue one after the revocation, which lived on.
func TestDisabledDuringLogin(t *testing.T) {
	for name, change := range map[string]func(*middleware.Account){
		"disabled": func(a *middleware.Account) { a.Disabled = true },
		"password changed": func(a *middleware.Account) {
			a.PasswordHash = "$argon2id$v=19$m=64,t=1,p=1$c2FsdHNhbHRzYWx0c2FsdA$a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2U"
		},
	} {
		t.Run(name, func(t *testing.T) {
			gate := &gateHasher{PasswordHasher: testHasher(), entered: make(chan struct{}), release: make(chan struct{})}
			m := newMiniAppLogin(t, true, gate) // session and app sessions in one store
			sessions := m.sessions.Store().(*middleware.MemorySessionStore)
			account, err := m.accounts.FindByID(context.Background(), mary.UserID)
			require.NoError(t, err)
			logins := map[string]req{
				"session": {method: http.MethodPost, path: "/auth/login", header: h("Authorization", basicAuth(mary.Username, mary.Password))},
				"bearer": {method: http.MethodPost, path: "/api/v1/authenticate", header: h("Content-Type", "application/json"),
					body: `{"username":"` + mary.Username + `","password":"` + mary.Password + `"}`},
				"tapglue": {method: http.MethodPost, path: "/0.4/me/login", header: h("Authorization", basicAuth(demoApp.AppToken, ""), "Content-Type", "application/json"),
					body: `{"user_name":"` + mary.Username + `","password":"` + mary.Password + `"}`},
			}
			for kind, login := range logins {
				heldSessions, heldRefresh := sessions.Len(), m.refresh.Len()
				gate.armed.Store(true)
				done := make(chan reply, 1)
				go func() { done <- m.send(t, login) }()
				<-gate.entered // the password is being checked

				changed := account
				change(&changed)
				require.NoError(t, m.accounts.Update(context.Background(), changed))
				m.revokeUser(t, mary.UserID)
				gate.release <- struct{}{}

				got := <-done
				assert.Equal(t, http.StatusUnauthorized, got.status, "%s: %s", kind, got.body)
				for _, leaked := range []string{"session_token", "access_token", "refresh_token"} {
					assert.NotContains(t, got.body, leaked, kind)
				}
				assert.Empty(t, got.header.Get("X-Tidepool-Session-Token"), kind)
				assert.Equal(t, heldSessions, sessions.Len(), "%s: what the login issued was revoked", kind)
				assert.Equal(t, heldRefresh, m.refresh.Len(), "%s: what the login issued was revoked", kind)
				require.NoError(t, m.accounts.Update(context.Background(), account)) // for the next kind
			}
		})
	}
}
