package tidegatetest_test

import (
	"net/http"
	"net/http/httptest"
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

func TestBasicHeader(t *testing.T) {
	cases := []struct {
		user, password, want string
	}{
		{"Aladdin", "open sesame", "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ=="}, // RFC 7617 §2
		{"app", "", "Basic YXBwOg=="},
		{"test", "123£", "Basic dGVzdDoxMjPCow=="}, // RFC 7617 §2.1, UTF-8
	}
	for _, c := range cases {
		t.Run(c.user, func(t *testing.T) {
			got := tidegatetest.BasicHeader(c.user, c.password)
			assert.Equal(t, c.want, got)
			user, password, err := middleware.ParseBasic(http.Header{"Authorization": {got}}, 1024)
			require.NoError(t, err)
			assert.Equal(t, []string{c.user, c.password}, []string{user, password})
		})
	}
}

func TestBearerHeader(t *testing.T) {
	assert.Equal(t, "Bearer a.b.c", tidegatetest.BearerHeader("a.b.c"))
}

// TestMintedCredentialsAuthenticate mints a credential of every kind and
// sends each through middleware.Any over the three real schemes.
func TestMintedCredentialsAuthenticate(t *testing.T) {
	k := newKit(t)
	anyKind, err := middleware.Any(k.sessions.Scheme(), k.jwts.Scheme(), k.apps.Scheme())
	require.NoError(t, err)
	h := anyKind(whoami)
	soon := k.clock.Now().Add(time.Hour)

	sessionToken := tidegatetest.LoginSession(t, k.sessions, "mary@example.com", maryPassword)
	issuedSession := tidegatetest.IssueSession(t, k.sessions.Store(),
		middleware.Session{Subject: "u-ada", Roles: []string{"admin"}, ExpiresAt: soon})
	jwt := tidegatetest.LoginBearer(t, k.jwts, "ada", adaPassword)
	issuedJWT := tidegatetest.IssueBearer(t, k.jwts, middleware.Account{UserID: "u-svc", Roles: []string{"robot"}})
	appSession := tidegatetest.LoginBasic(t, k.apps, k.tokens.AppToken, "mary", maryPassword)
	issuedApp := tidegatetest.IssueSession(t, k.appStore,
		middleware.Session{Subject: "u-ada", App: demoApp, Roles: []string{"admin"}, ExpiresAt: soon})

	assert.NotEmpty(t, jwt.RefreshToken)
	assert.Equal(t, bearer.DefaultAccessTTL, jwt.ExpiresIn)

	cases := []struct {
		name   string
		https  bool
		header []string
		body   string
	}{
		{"LoginSession", false, []string{session.HeaderToken, sessionToken}, "u-mary session [user]"},
		{"IssueSession", false, []string{session.HeaderToken, issuedSession}, "u-ada session [admin]"},
		{"LoginBearer", false, []string{"Authorization", tidegatetest.BearerHeader(jwt.AccessToken)}, "u-ada bearer [user admin]"},
		{"IssueBearer", false, []string{"Authorization", tidegatetest.BearerHeader(issuedJWT)}, "u-svc bearer [robot]"},
		{"LoginBasic", true, []string{"Authorization", tidegatetest.BasicHeader(k.tokens.AppToken, appSession)}, "u-mary basic [user]"},
		{"IssueSession in an app", true, []string{"Authorization", tidegatetest.BasicHeader(k.tokens.AppToken, issuedApp)}, "u-ada basic [admin]"},
		{"backend token", true, []string{"Authorization", tidegatetest.BasicHeader(k.tokens.BackendToken, "u-mary")}, "u-mary basic [user]"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			target := "/whoami"
			if c.https {
				target = "https://api.example/whoami"
			}
			rec := get(h, target, c.header...)
			assert.Equal(t, http.StatusOK, rec.Code)
			assert.Equal(t, c.body, rec.Body.String())
		})
	}
}

// TestMintedCredentialsFollowTheClock: an issued session ends at its
// ExpiresAt on the service's clock, and a bearer token after its TTL.
func TestMintedCredentialsFollowTheClock(t *testing.T) {
	k := newKit(t)
	sessionToken := tidegatetest.IssueSession(t, k.sessions.Store(),
		middleware.Session{Subject: "u-mary", ExpiresAt: k.clock.Now().Add(time.Minute)})
	jwt := tidegatetest.IssueBearer(t, k.jwts, middleware.Account{UserID: "u-mary"})
	sessions := middleware.Require(k.sessions.Scheme())(whoami)
	jwts := middleware.Require(k.jwts.Scheme())(whoami)

	assert.Equal(t, http.StatusOK, get(sessions, "/", session.HeaderToken, sessionToken).Code)
	assert.Equal(t, http.StatusOK, get(jwts, "/", "Authorization", tidegatetest.BearerHeader(jwt)).Code)
	k.clock.Advance(time.Minute)
	assert.Equal(t, http.StatusUnauthorized, get(sessions, "/", session.HeaderToken, sessionToken).Code)
	assert.Equal(t, http.StatusOK, get(jwts, "/", "Authorization", tidegatetest.BearerHeader(jwt)).Code)
	k.clock.Advance(bearer.DefaultAccessTTL + bearer.DefaultLeeway)
	assert.Equal(t, http.StatusUnauthorized, get(jwts, "/", "Authorization", tidegatetest.BearerHeader(jwt)).Code)
}

// TestIssueSessionDefaultsIssuedAt checks the record stored for the token.
func TestIssueSessionDefaultsIssuedAt(t *testing.T) {
	k := newKit(t)
	exp := k.clock.Now().Add(2 * time.Hour)
	token := tidegatetest.IssueSession(t, k.sessions.Store(), middleware.Session{Subject: "u-mary", ExpiresAt: exp})
	got, err := k.sessions.Store().Lookup(t.Context(), middleware.DigestToken(token))
	require.NoError(t, err)
	assert.Equal(t, exp.Add(-time.Hour), got.IssuedAt)
	assert.Equal(t, exp, got.ExpiresAt)
}

// TestMintingStopsTheTest checks every helper's refusal, and that no
// message quotes a password or a token.
func TestMintingStopsTheTest(t *testing.T) {
	k := newKit(t)
	forged := basicauth.NewAppTokens()
	cases := []struct {
		name string
		mint func(tb testing.TB)
		msg  string
	}{
		{"session: wrong password", func(tb testing.TB) { tidegatetest.LoginSession(tb, k.sessions, "mary", "wrong password") },
			`tidegatetest: session login as "mary": status 401, body "login failed"`},
		{"session: disabled", func(tb testing.TB) { tidegatetest.LoginSession(tb, k.sessions, "gone", "a disabled account") },
			`tidegatetest: session login as "gone": status 401, body "login failed"`},
		{"bearer: wrong password", func(tb testing.TB) { tidegatetest.LoginBearer(tb, k.jwts, "ada", "wrong password") },
			`tidegatetest: bearer login as "ada": status 401`},
		{"bearer: disabled account", func(tb testing.TB) {
			tidegatetest.IssueBearer(tb, k.jwts, middleware.Account{UserID: "u-gone", Disabled: true})
		}, `tidegatetest: issue a bearer token for "u-gone": tidegate: invalid credential: account`},
		{"bearer: no user id", func(tb testing.TB) { tidegatetest.IssueBearer(tb, k.jwts, middleware.Account{}) },
			`tidegatetest: issue a bearer token for "": tidegate: internal error: account without a user id`},
		{"basic: wrong password", func(tb testing.TB) {
			tidegatetest.LoginBasic(tb, k.apps, k.tokens.AppToken, "mary", "wrong password")
		}, `tidegatetest: basicauth login as "mary": status 401, body {"errors":[{"code":4010,"message":"wrong user name, email or password"}]}`},
		{"basic: unknown app", func(tb testing.TB) { tidegatetest.LoginBasic(tb, k.apps, forged.AppToken, "mary", maryPassword) },
			`tidegatetest: basicauth login as "mary": status 401, body {"errors":[{"code":1001,"message":"app token missing or invalid"}]}`},
		{"session record without expiry", func(tb testing.TB) {
			tidegatetest.IssueSession(tb, k.sessions.Store(), middleware.Session{Subject: "u-mary"})
		}, `tidegatetest: IssueSession needs a session with a Subject and an ExpiresAt`},
		{"session record without subject", func(tb testing.TB) {
			tidegatetest.IssueSession(tb, k.sessions.Store(), middleware.Session{ExpiresAt: k.clock.Now().Add(time.Hour)})
		}, `tidegatetest: IssueSession needs a session with a Subject and an ExpiresAt`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			msg := fatalOf(t, c.mint)
			assert.Equal(t, c.msg, msg)
			assert.NotContains(t, msg, maryPassword)
			assert.NotContains(t, msg, "wrong password")
			assert.NotContains(t, msg, k.tokens.AppToken)
		})
	}
}

// TestLoginBasicIsHTTPS: basicauth refuses its credentials over plain HTTP,
// yet LoginBasic works on a service without WithInsecureLoopback.
func TestLoginBasicIsHTTPS(t *testing.T) {
	k := newKit(t)
	token := tidegatetest.LoginBasic(t, k.apps, k.tokens.AppToken, "ada", adaPassword)
	req := httptest.NewRequest(http.MethodGet, "http://api.example/me", nil)
	req.Header.Set("Authorization", tidegatetest.BasicHeader(k.tokens.AppToken, token))
	rec := httptest.NewRecorder()
	k.apps.Handler().ServeHTTP(rec, req)
	assert.Equal(t, http.StatusForbidden, rec.Code, "plain HTTP stays refused")
	req.URL.Scheme = "https"
	req.TLS = httptest.NewRequest(http.MethodGet, "https://api.example/me", nil).TLS
	rec = httptest.NewRecorder()
	k.apps.Handler().ServeHTTP(rec, req)
	assert.Equal(t, http.StatusOK, rec.Code)
}

// TestLoginBasicBehindATrustedProxy: a Service that trusts a proxy at
// httptest's client address judges HTTPS by X-Forwarded-Proto, not by the
// connection; LoginBasic logs in there too.
func TestLoginBasicBehindATrustedProxy(t *testing.T) {
	k := newKit(t)
	proxies, err := middleware.NewTrustedProxies("192.0.2.0/24") // httptest.NewRequest's RemoteAddr
	require.NoError(t, err)
	registry, err := basicauth.NewMemoryRegistry(basicauth.AppSpec{
		ID: demoApp, Name: "Demo", AppToken: k.tokens.AppToken, BackendToken: k.tokens.BackendToken,
	})
	require.NoError(t, err)
	behindProxy, err := basicauth.New(registry, k.accounts.Store, k.accounts.Login,
		basicauth.WithTrustedProxies(proxies), basicauth.WithLogger(discard()))
	require.NoError(t, err)
	t.Cleanup(func() { _ = behindProxy.Close() })
	require.NotEmpty(t, tidegatetest.LoginBasic(t, behindProxy, k.tokens.AppToken, "ada", adaPassword))
}

func TestIssueSessionStopsOnAStoreError(t *testing.T) {
	store, err := middleware.NewMemorySessionStore(middleware.WithStoreMaxEntries(1)) // on the real clock
	require.NoError(t, err)
	live := time.Now().Add(time.Hour)
	tidegatetest.IssueSession(t, store, middleware.Session{Subject: "u-mary", ExpiresAt: live})
	msg := fatalOf(t, func(tb testing.TB) {
		tidegatetest.IssueSession(tb, store, middleware.Session{Subject: "u-ada", ExpiresAt: live})
	})
	assert.Equal(t, `tidegatetest: store a session of "u-ada": tidegate: session store full`, msg)
}
