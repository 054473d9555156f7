package session_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/tidegate/tidegate/middleware"
	"github.com/tidegate/tidegate/session"
)

// authServer runs a fixture's handler on a real listener and counts the
// requests each endpoint gets.
type authServer struct {
	*fixture
	srv       *httptest.Server
	logins    atomic.Int64
	lookups   atomic.Int64
	lastPaths sync.Map // raw request paths seen by /token
}

func newAuthServer(t *testing.T, opts ...fixtureOption) *authServer {
	a := &authServer{fixture: newFixture(t, opts...)}
	a.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.URL.Path == "/auth/serverlogin":
			a.logins.Add(1)
		case strings.HasPrefix(r.URL.Path, "/auth/token/"):
			a.lookups.Add(1)
			a.lastPaths.Store(r.URL.EscapedPath(), true)
		}
		a.handler.ServeHTTP(w, r)
	}))
	t.Cleanup(a.srv.Close)
	return a
}

func (a *authServer) remote(t *testing.T, opts ...session.RemoteOption) *session.RemoteVerifier {
	base := []session.RemoteOption{session.WithRemoteClock(a.clock.Now), session.WithRemoteLogger(quiet)}
	v, err := session.NewRemoteVerifier(a.srv.URL+"/auth", serverName, serverSecret, append(base, opts...)...)
	require.NoError(t, err)
	t.Cleanup(func() { _ = v.Close() })
	return v
}

func cred(token string) middleware.Credential {
	return middleware.Credential{Kind: session.Kind, Token: token}
}

func TestRemoteVerifier(t *testing.T) {
	a := newAuthServer(t)
	v := a.remote(t)
	user := a.login(maryLogin, maryPassword)

	p, err := v.Verify(t.Context(), cred(user))
	require.NoError(t, err)
	assert.Equal(t, middleware.Principal{Subject: maryID, Kind: session.Kind, Actor: middleware.ActorUser,
		ExpiresAt: a.clock.Now().Add(session.DefaultTokenLifetime)}, p)

	server := a.serverLogin(otherServer, otherSecret)
	p, err = v.Verify(t.Context(), cred(server))
	require.NoError(t, err)
	assert.Equal(t, middleware.ActorServer, p.Actor)
	assert.Equal(t, otherServer, p.Subject)

	_, err = v.Verify(t.Context(), cred("dGhpcyB0b2tlbiB3YXMgbmV2ZXIgaXNzdWVkIGF0IGFsbA"))
	assert.ErrorIs(t, err, middleware.ErrInvalidCredential)

	require.Equal(t, 200, a.do(http.MethodPost, "/auth/logout", session.HeaderToken, user).Code)
	_, err = v.Verify(t.Context(), cred(user))
	assert.ErrorIs(t, err, middleware.ErrInvalidCredential, "revoked")
	assert.Equal(t, int64(1), a.logins.Load(), "one server login for all of it")
}

func TestRemoteVerifierRefusesForeignTokensWithoutACall(t *testing.T) {
	a := newAuthServer(t)
	v := a.remote(t)
	for _, c := range []middleware.Credential{
		cred(".."), cred("."), cred("a/b"), cred("a.b"), cred("a+b="), cred("a%2Fb"), cred("a~b"), cred(""),
		cred(strings.Repeat("a", session.MaxTokenBytes+1)),
		{Kind: "bearer", Token: "abc"}, {Kind: session.Kind, Token: "abc", Secret: "x"},
	} {
		_, err := v.Verify(t.Context(), c)
		assert.ErrorIs(t, err, middleware.ErrInvalidCredential, c.Token)
	}
	assert.Zero(t, a.lookups.Load()+a.logins.Load())
}

func TestRemoteVerifierEscapesTheTokenInThePath(t *testing.T) {
	a := newAuthServer(t)
	v := a.remote(t)
	token := "-_" + strings.Repeat("A", 41)
	_, err := v.Verify(t.Context(), cred(token))
	require.ErrorIs(t, err, middleware.ErrInvalidCredential)
	_, seen := a.lastPaths.Load("/auth/token/" + token)
	assert.True(t, seen)
}

func TestRemoteVerifierLogsInOnceForConcurrentCalls(t *testing.T) {
	a := newAuthServer(t)
	v := a.remote(t)
	user := a.login(maryLogin, maryPassword)
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for range 16 {
		wg.Go(func() {
			_, err := v.Verify(context.Background(), cred(user))
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	assert.Equal(t, int64(1), a.logins.Load())
	assert.Equal(t, int64(16), a.lookups.Load())
}

func TestRemoteVerifierRenewsItsServerTokenBeforeExpiry(t *testing.T) {
	a := newAuthServer(t)
	v := a.remote(t, session.WithRefreshMargin(10*time.Minute))
	verify := func() {
		t.Helper()
		_, err := v.Verify(t.Context(), cred(a.login(maryLogin, maryPassword)))
		require.NoError(t, err)
	}
	verify()
	require.Equal(t, int64(1), a.logins.Load())
	a.clock.Advance(session.DefaultServerTokenLifetime - 10*time.Minute - time.Second)
	verify()
	require.Equal(t, int64(1), a.logins.Load(), "not yet within the margin")
	a.clock.Advance(time.Second)
	verify() // the current token still works: the renewal runs without this request
	require.Eventually(t, func() bool { return a.logins.Load() == 2 }, 5*time.Second, time.Millisecond,
		"renewed within the margin")
	a.clock.Advance(session.DefaultServerTokenLifetime - 10*time.Minute - time.Second)
	verify()
	require.Equal(t, int64(2), a.logins.Load(), "the new token counts from its own issue")
}

func TestRemoteVerifierMarginIsAtMostHalfTheServerTokenLife(t *testing.T) {
	a := newAuthServer(t, withService(session.WithServerTokenLifetime(4*time.Minute)))
	v := a.remote(t) // default margin 5 minutes, longer than the token's life
	verify := func() {
		t.Helper()
		_, err := v.Verify(t.Context(), cred(a.login(maryLogin, maryPassword)))
		require.NoError(t, err)
	}
	verify()
	verify()
	require.Equal(t, int64(1), a.logins.Load(), "no login storm")
	a.clock.Advance(2 * time.Minute)
	verify()
	require.Eventually(t, func() bool { return a.logins.Load() == 2 }, 5*time.Second, time.Millisecond)
}

func TestRemoteVerifierLogsInAgainWhenItsServerTokenIsRefused(t *testing.T) {
	a := newAuthServer(t)
	v := a.remote(t)
	user := a.login(maryLogin, maryPassword)
	_, err := v.Verify(t.Context(), cred(user))
	require.NoError(t, err)
	require.NoError(t, a.svc.RevokeSubject(t.Context(), serverName)) // the auth server forgot us

	p, err := v.Verify(t.Context(), cred(user))
	require.NoError(t, err)
	assert.Equal(t, maryID, p.Subject)
	assert.Equal(t, int64(2), a.logins.Load())
}

func TestRemoteVerifierWithWrongServerCredentialsIsUnavailable(t *testing.T) {
	a := newAuthServer(t)
	v, err := session.NewRemoteVerifier(a.srv.URL+"/auth", serverName, otherSecret, session.WithRemoteLogger(quiet))
	require.NoError(t, err)
	_, err = v.Verify(t.Context(), cred(a.login(maryLogin, maryPassword)))
	require.ErrorIs(t, err, middleware.ErrUnavailable, "a misconfigured service is not a bad user token")
	assert.NotErrorIs(t, err, middleware.ErrInvalidCredential)
}

// fakeAuth is an auth server whose answers a test scripts.
func fakeAuth(t *testing.T, login, token http.HandlerFunc) (*httptest.Server, *atomic.Int64) {
	var calls atomic.Int64
	mux := http.NewServeMux()
	mux.HandleFunc("POST /auth/serverlogin", func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		login(w, r)
	})
	mux.HandleFunc("GET /auth/token/{token}", func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		token(w, r)
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv, &calls
}

func goodLogin(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set(session.HeaderToken, middleware.NewToken())
	_, _ = fmt.Fprintf(w, `{"userid":"uploader","isserver":true,"expires_at":%q}`,
		time.Now().Add(time.Hour).UTC().Format(time.RFC3339))
}

func goodToken(w http.ResponseWriter, _ *http.Request) {
	_, _ = fmt.Fprintf(w, `{"userid":"u1","isserver":false,"expires_at":%q}`,
		time.Now().Add(time.Hour).UTC().Format(time.RFC3339))
}

func status(code int, body string) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(code)
		_, _ = w.Write([]byte(body))
	}
}

func TestRemoteVerifierAnswers(t *testing.T) {
	elsewhere := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t.Errorf("a redirect was followed with header %q", r.Header.Get(session.HeaderToken))
	}))
	defer elsewhere.Close()
	redirect := func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, elsewhere.URL+"/steal", http.StatusFound)
	}
	tests := []struct {
		name  string
		login http.HandlerFunc
		token http.HandlerFunc
		want  error
	}{
		{"ok", goodLogin, goodToken, nil},
		{"token invalid", goodLogin, status(401, `"Invalid session token"`), middleware.ErrInvalidCredential},
		{"token 500", goodLogin, status(500, "boom"), middleware.ErrUnavailable},
		{"token 502", goodLogin, status(502, ""), middleware.ErrUnavailable},
		{"token 429", goodLogin, status(429, ""), middleware.ErrUnavailable},
		{"token 404", goodLogin, status(404, ""), middleware.ErrUnavailable},
		{"token 403", goodLogin, status(403, ""), middleware.ErrUnavailable},
		{"token redirect", goodLogin, redirect, middleware.ErrUnavailable},
		{"token body not JSON", goodLogin, status(200, "<html>"), middleware.ErrUnavailable},
		{"token body without userid", goodLogin, status(200, `{"expires_at":"2030-01-01T00:00:00Z"}`), middleware.ErrUnavailable},
		{"token body without expiry", goodLogin, status(200, `{"userid":"u1"}`), middleware.ErrUnavailable},
		{"token body oversized", goodLogin, status(200, `{"userid":"`+strings.Repeat("u", 20<<10)+`"}`), middleware.ErrUnavailable},
		{"server token refused twice", goodLogin, status(401, `"Session token required"`), middleware.ErrUnavailable},
		{"login 401", status(401, `"login failed"`), goodToken, middleware.ErrUnavailable},
		{"login 400", status(400, `"Missing login information"`), goodToken, middleware.ErrUnavailable},
		{"login 500", status(500, ""), goodToken, middleware.ErrUnavailable},
		{"login redirect", redirect, goodToken, middleware.ErrUnavailable},
		{"login without token header", status(200, `{"userid":"uploader","isserver":true,"expires_at":"2099-01-01T00:00:00Z"}`), goodToken, middleware.ErrUnavailable},
		{"login already expired", func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set(session.HeaderToken, middleware.NewToken())
			_, _ = w.Write([]byte(`{"userid":"uploader","isserver":true,"expires_at":"2001-01-01T00:00:00Z"}`))
		}, goodToken, middleware.ErrUnavailable},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv, _ := fakeAuth(t, tc.login, tc.token)
			v, err := session.NewRemoteVerifier(srv.URL+"/auth", serverName, serverSecret, session.WithRemoteLogger(quiet))
			require.NoError(t, err)
			token := middleware.NewToken()
			p, err := v.Verify(t.Context(), cred(token))
			if tc.want == nil {
				require.NoError(t, err)
				assert.Equal(t, "u1", p.Subject)
				return
			}
			require.ErrorIs(t, err, tc.want)
			requireNoSecretIn(t, err, token, serverSecret)
		})
	}
}

// requireNoSecretIn checks that no text reachable from err quotes a secret.
func requireNoSecretIn(t *testing.T, err error, secrets ...string) {
	t.Helper()
	for e := err; e != nil; {
		for _, s := range secrets {
			require.NotContains(t, e.Error(), s)
			require.NotContains(t, fmt.Sprintf("%+v %#v", e, e), s)
		}
		u, ok := e.(interface{ Unwrap() error })
		if !ok {
			break
		}
		e = u.Unwrap()
	}
}

func TestRemoteVerifierTimeout(t *testing.T) {
	release := make(chan struct{})
	defer close(release)
	hang := func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-release:
		}
	}
	for _, tc := range []struct {
		name         string
		login, token http.HandlerFunc
	}{{"login hangs", hang, goodToken}, {"token hangs", goodLogin, hang}} {
		t.Run(tc.name, func(t *testing.T) {
			srv, _ := fakeAuth(t, tc.login, tc.token)
			v, err := session.NewRemoteVerifier(srv.URL+"/auth", serverName, serverSecret,
				session.WithRemoteTimeout(50*time.Millisecond), session.WithRemoteLogger(quiet))
			require.NoError(t, err)
			token := middleware.NewToken()
			_, err = v.Verify(t.Context(), cred(token))
			require.ErrorIs(t, err, middleware.ErrUnavailable)
			e, ok := err.(*middleware.Error)
			require.True(t, ok)
			assert.Equal(t, "timeout", e.Reason)
			requireNoSecretIn(t, err, token, serverSecret)
		})
	}
}

func TestRemoteVerifierUnreachable(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close()
	v, err := session.NewRemoteVerifier(url+"/auth", serverName, serverSecret, session.WithRemoteLogger(quiet))
	require.NoError(t, err)
	token := middleware.NewToken()
	_, err = v.Verify(t.Context(), cred(token))
	require.ErrorIs(t, err, middleware.ErrUnavailable)
	assert.Equal(t, "unreachable", err.(*middleware.Error).Reason)
	requireNoSecretIn(t, err, token, serverSecret)
}

func TestRemoteVerifierHonoursCancellation(t *testing.T) {
	release := make(chan struct{})
	defer close(release)
	srv, _ := fakeAuth(t, func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-release:
		}
	}, goodToken)
	v, err := session.NewRemoteVerifier(srv.URL+"/auth", serverName, serverSecret, session.WithRemoteLogger(quiet))
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, err = v.Verify(ctx, cred(middleware.NewToken()))
	require.ErrorIs(t, err, middleware.ErrUnavailable)
}

func TestRemoteVerifierKeepsAWorkingServerTokenWhenRenewalFails(t *testing.T) {
	var failLogin atomic.Bool
	srv, _ := fakeAuth(t, switchedLogin(&failLogin, nil), goodToken)
	clock := &fakeClock{t: time.Now()}
	v, err := session.NewRemoteVerifier(srv.URL+"/auth", serverName, serverSecret,
		session.WithRemoteClock(clock.Now), session.WithRemoteLogger(quiet))
	require.NoError(t, err)
	_, err = v.Verify(t.Context(), cred(middleware.NewToken()))
	require.NoError(t, err)
	failLogin.Store(true)
	clock.Advance(time.Hour - time.Minute) // within the margin, not expired
	_, err = v.Verify(t.Context(), cred(middleware.NewToken()))
	require.NoError(t, err, "the old server token still works")
	clock.Advance(time.Minute)
	_, err = v.Verify(t.Context(), cred(middleware.NewToken()))
	require.ErrorIs(t, err, middleware.ErrUnavailable, "expired and not renewed")
}

func TestRemoteVerifierHTTPClientOption(t *testing.T) {
	var used atomic.Bool
	srv, _ := fakeAuth(t, goodLogin, goodToken)
	client := &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
		used.Store(true)
		return http.DefaultTransport.RoundTrip(r)
	})}
	v, err := session.NewRemoteVerifier(srv.URL+"/auth/", serverName, serverSecret, session.WithHTTPClient(client))
	require.NoError(t, err)
	_, err = v.Verify(t.Context(), cred(middleware.NewToken()))
	require.NoError(t, err, "a trailing slash on the base URL is fine")
	assert.True(t, used.Load())
	assert.Nil(t, client.CheckRedirect, "the caller's client is not modified")
	assert.Zero(t, client.Timeout)
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func TestNewRemoteVerifierValidates(t *testing.T) {
	tests := []struct {
		name, url, server, secret string
		opts                      []session.RemoteOption
	}{
		{"empty URL", "", serverName, serverSecret, nil},
		{"relative URL", "/auth", serverName, serverSecret, nil},
		{"ftp URL", "ftp://auth/auth", serverName, serverSecret, nil},
		{"no host", "http:///auth", serverName, serverSecret, nil},
		{"credentials in URL", "https://u:p@auth/auth", serverName, serverSecret, nil},
		{"query", "https://auth/auth?x=1", serverName, serverSecret, nil},
		{"empty query", "https://auth/auth?", serverName, serverSecret, nil},
		{"fragment", "https://auth/auth#x", serverName, serverSecret, nil},
		{"unparsable", "https://a b/", serverName, serverSecret, nil},
		{"empty name", "https://auth/auth", "", serverSecret, nil},
		{"short secret", "https://auth/auth", serverName, "short", nil},
		{"nil option", "https://auth/auth", serverName, serverSecret, []session.RemoteOption{nil}},
		{"nil client", "https://auth/auth", serverName, serverSecret, []session.RemoteOption{session.WithHTTPClient(nil)}},
		{"zero timeout", "https://auth/auth", serverName, serverSecret, []session.RemoteOption{session.WithRemoteTimeout(0)}},
		{"nil clock", "https://auth/auth", serverName, serverSecret, []session.RemoteOption{session.WithRemoteClock(nil)}},
		{"zero margin", "https://auth/auth", serverName, serverSecret, []session.RemoteOption{session.WithRefreshMargin(0)}},
		{"nil logger", "https://auth/auth", serverName, serverSecret, []session.RemoteOption{session.WithRemoteLogger(nil)}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v, err := session.NewRemoteVerifier(tc.url, tc.server, tc.secret, tc.opts...)
			require.Error(t, err)
			assert.Nil(t, v)
			assert.NotContains(t, err.Error(), tc.secret)
		})
	}
}

// TestTwoServices runs an auth server and a resource server in one process.
// The resource server accepts session tokens through the remote verifier
// behind a cache. When the auth server stops, tokens it has cached keep
// working until their TTL, and every other token gets 503, never 401.
func TestTwoServices(t *testing.T) {
	const ttl = 30 * time.Second
	auth := newAuthServer(t)
	clock := auth.clock

	remote := auth.remote(t)
	cache, err := middleware.NewCache(remote, ttl, middleware.WithClock(clock.Now))
	require.NoError(t, err)
	defer cache.Close()
	scheme, err := session.NewScheme(cache, middleware.WithClock(clock.Now), middleware.WithLogger(quiet))
	require.NoError(t, err)
	resource := httptest.NewServer(middleware.Require(scheme)(whoami))
	defer resource.Close()

	get := func(token string) (int, string, http.Header) {
		t.Helper()
		req, err := http.NewRequest(http.MethodGet, resource.URL+"/records", nil)
		require.NoError(t, err)
		req.Header.Set(session.HeaderToken, token)
		resp, err := resource.Client().Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		return resp.StatusCode, string(body), resp.Header
	}

	cached := auth.login(maryLogin, maryPassword)
	uncached := auth.login("admin@example.com", "admin demo password")
	unknown := middleware.NewToken()
	code, _, _ := get(cached)
	require.Equal(t, http.StatusOK, code)
	code, _, _ = get(unknown)
	require.Equal(t, http.StatusUnauthorized, code, "while the auth server is up, an unknown token is invalid")

	auth.srv.Close() // the auth server goes away mid-test

	code, _, _ = get(cached)
	assert.Equal(t, http.StatusOK, code, "cached: still served")
	code, _, _ = get(unknown)
	assert.Equal(t, http.StatusUnauthorized, code, "refused a moment ago: the refusal is remembered (middleware.WithRefusals)")
	for _, token := range []string{uncached, middleware.NewToken()} {
		code, body, h := get(token)
		assert.Equal(t, http.StatusServiceUnavailable, code, "uncached: 503, not 401")
		assert.Equal(t, `"Service unavailable"`, body)
		assert.Equal(t, "5", h.Get("Retry-After"))
		assert.Empty(t, h.Get("WWW-Authenticate"))
	}

	clock.Advance(ttl - time.Second)
	code, _, _ = get(cached)
	assert.Equal(t, http.StatusOK, code, "still within the cache TTL")
	clock.Advance(time.Second)
	code, _, _ = get(cached)
	assert.Equal(t, http.StatusServiceUnavailable, code, "TTL over: the auth server is needed again")
}

// TestRemoteProtocolIgnoresACustomRenderer: GET /token/{token} is a
// protocol between services, so its bodies are this package's whatever
// renderer the auth server's scheme was given. The remote verifier tells
// "my server token was refused" (log in again) from "the user's token is
// invalid" by them; with a renderer's bodies it took a forgotten server
// token for an invalid user token and refused every user until renewal.
func TestRemoteProtocolIgnoresACustomRenderer(t *testing.T) {
	custom := func(w http.ResponseWriter, _ *http.Request, e *middleware.Error) {
		middleware.WriteJSON(w, e.Status, []byte(`{"error":"custom"}`))
	}
	a := newAuthServer(t, withService(session.WithSchemeOptions(middleware.WithRenderer(custom))))
	user := a.login(maryLogin, maryPassword)
	requireBody := func(rec *httptest.ResponseRecorder, status int, body string) {
		t.Helper()
		require.Equal(t, status, rec.Code)
		assert.Equal(t, body, rec.Body.String())
		assert.Equal(t, "no-store", rec.Header().Get("Cache-Control"))
	}
	t.Run("the endpoint's own bodies", func(t *testing.T) {
		server := a.serverLogin(serverName, serverSecret)
		requireBody(a.do(http.MethodGet, "/auth/token/"+user, session.HeaderToken, user), 401, `"Session token required"`)
		requireBody(a.do(http.MethodGet, "/auth/token/"+user), 401, `"Session token required"`)
		requireBody(a.do(http.MethodGet, "/auth/token/"+user, session.HeaderToken, server, session.HeaderToken, user),
			400, `"Session token required"`)
		requireBody(a.do(http.MethodGet, "/auth/token/"+middleware.NewToken(), session.HeaderToken, server),
			401, `"Invalid session token"`)
		assert.Equal(t, `{"error":"custom"}`, a.do(http.MethodGet, "/whoami").Body.String(),
			"the middleware still uses the custom renderer")
	})
	t.Run("the remote verifier logs in again", func(t *testing.T) {
		v := a.remote(t)
		_, err := v.Verify(t.Context(), cred(user))
		require.NoError(t, err)
		logins := a.logins.Load()
		require.NoError(t, a.svc.RevokeSubject(t.Context(), serverName)) // the auth server forgot us
		p, err := v.Verify(t.Context(), cred(user))
		require.NoError(t, err, "a refused server token is not an invalid user token")
		assert.Equal(t, maryID, p.Subject)
		assert.Equal(t, logins+1, a.logins.Load())
	})
}

// TestRemoteVerifierReadsOnlyTheAuthServersOwn401AsABadToken: a 401 whose
// body is not the auth server's "Invalid session token" (a gateway in front
// of it answering for itself) says nothing of the user's token. It was read
// as a bad token, and refused (and remembered) as such, logging users out.
func TestRemoteVerifierReadsOnlyTheAuthServersOwn401AsABadToken(t *testing.T) {
	for name, body := range map[string]string{
		"empty":        "",
		"gateway html": "<html><body>401 Authorization Required</body></html>",
		"gateway json": `{"message":"Unauthorized"}`,
	} {
		t.Run(name, func(t *testing.T) {
			srv, _ := fakeAuth(t, goodLogin, status(http.StatusUnauthorized, body))
			v, err := session.NewRemoteVerifier(srv.URL+"/auth", serverName, serverSecret, session.WithRemoteLogger(quiet))
			require.NoError(t, err)
			_, err = v.Verify(t.Context(), cred(middleware.NewToken()))
			require.ErrorIs(t, err, middleware.ErrUnavailable)
		})
	}
	srv, _ := fakeAuth(t, goodLogin, status(http.StatusUnauthorized, `"Invalid session token"`+"\n"))
	v, err := session.NewRemoteVerifier(srv.URL+"/auth", serverName, serverSecret, session.WithRemoteLogger(quiet))
	require.NoError(t, err)
	_, err = v.Verify(t.Context(), cred(middleware.NewToken()))
	require.ErrorIs(t, err, middleware.ErrInvalidCredential, "the auth server's own answer")
}

// TestRemoteVerifierBacksOffAfterAFailedServerLogin: a failed server login
// was tried again by every request that needed a server token: an auth
// server that throttled it (429, Retry-After: 60) got twenty logins for
// twenty requests.
func TestRemoteVerifierBacksOffAfterAFailedServerLogin(t *testing.T) {
	var logins atomic.Int64
	srv, _ := fakeAuth(t, func(w http.ResponseWriter, _ *http.Request) {
		logins.Add(1)
		w.Header().Set("Retry-After", "60")
		w.WriteHeader(http.StatusTooManyRequests)
		_, _ = w.Write([]byte(`"too many requests"`))
	}, goodToken)
	clock := &fakeClock{t: time.Now()}
	v, err := session.NewRemoteVerifier(srv.URL+"/auth", serverName, serverSecret,
		session.WithRemoteLogger(quiet), session.WithRemoteClock(clock.Now))
	require.NoError(t, err)
	for range 20 {
		_, err := v.Verify(t.Context(), cred(middleware.NewToken()))
		require.ErrorIs(t, err, middleware.ErrUnavailable)
	}
	assert.Equal(t, int64(1), logins.Load(), "one login, then the auth server's Retry-After")
	_, err = v.Verify(t.Context(), cred(middleware.NewToken()))
	e, ok := errors.AsType[*middleware.Error](err)
	require.True(t, ok)
	assert.Equal(t, 60*time.Second, e.RetryAfter, "the wait is passed on")
	clock.Advance(time.Minute)
	_, _ = v.Verify(t.Context(), cred(middleware.NewToken()))
	assert.Equal(t, int64(2), logins.Load(), "tried again after the wait")
}

// TestRemoteVerifierRenewsWithoutHoldingRequests: within the renewal margin,
// while the current server token still works, a hanging /serverlogin held
// every request for the whole remote timeout, once per request.
func TestRemoteVerifierRenewsWithoutHoldingRequests(t *testing.T) {
	var hang atomic.Bool
	var logins atomic.Int64
	release := make(chan struct{})
	srv, _ := fakeAuth(t, func(w http.ResponseWriter, r *http.Request) {
		logins.Add(1)
		if hang.Load() {
			select {
			case <-r.Context().Done():
			case <-release:
			}
			return
		}
		goodLogin(w, r)
	}, goodToken)
	t.Cleanup(func() { close(release) }) // before the server's Close, which waits for its handlers
	clock := &fakeClock{t: time.Now()}
	v, err := session.NewRemoteVerifier(srv.URL+"/auth", serverName, serverSecret,
		session.WithRemoteClock(clock.Now), session.WithRemoteLogger(quiet), session.WithRemoteTimeout(time.Minute))
	require.NoError(t, err)
	_, err = v.Verify(t.Context(), cred(middleware.NewToken()))
	require.NoError(t, err)

	hang.Store(true)
	clock.Advance(time.Hour - 2*time.Minute) // within the margin; the token works for 2 more minutes
	done := make(chan error, 5)
	for range 5 {
		go func() { _, err := v.Verify(t.Context(), cred(middleware.NewToken())); done <- err }()
	}
	for range 5 {
		select {
		case err := <-done:
			require.NoError(t, err, "the current server token still works")
		case <-time.After(30 * time.Second): // far below the minute the hanging login may take
			t.Fatal("a request waited for the renewal")
		}
	}
	require.Eventually(t, func() bool { return logins.Load() == 2 }, 5*time.Second, time.Millisecond,
		"the renewal reaches the auth server")
	assert.Equal(t, int64(2), logins.Load(), "one renewal for all of them")
}

// TestRemoteVerifierBackoffSurvivesAClockSteppingBack: the wait after a
// failed server login is measured from the failure; a clock without a
// monotonic reading (WithRemoteClock) stepped back an hour kept logins back,
// and requests at 503, for that hour.
func TestRemoteVerifierBackoffSurvivesAClockSteppingBack(t *testing.T) {
	var fail atomic.Bool
	fail.Store(true)
	var logins atomic.Int64
	srv, _ := fakeAuth(t, switchedLogin(&fail, &logins), goodToken)
	clock := &fakeClock{t: time.Now()}
	v, err := session.NewRemoteVerifier(srv.URL+"/auth", serverName, serverSecret,
		session.WithRemoteLogger(quiet), session.WithRemoteClock(clock.Now))
	require.NoError(t, err)
	_, err = v.Verify(t.Context(), cred(middleware.NewToken()))
	require.ErrorIs(t, err, middleware.ErrUnavailable)
	fail.Store(false) // the auth server is back

	clock.Advance(-time.Hour) // the clock is corrected backwards
	_, err = v.Verify(t.Context(), cred(middleware.NewToken()))
	require.NoError(t, err, "the wait does not grow with the step")
	assert.Equal(t, int64(2), logins.Load())
}

// switchedLogin is a /serverlogin that answers 503 while fail is set and
// logs in otherwise, counting its calls in logins (when not nil).
func switchedLogin(fail *atomic.Bool, logins *atomic.Int64) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if logins != nil {
			logins.Add(1)
		}
		if fail.Load() {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		goodLogin(w, r)
	}
}

// TestRemoteVerifierCloseLeavesOthersConnections: a RemoteVerifier built
// without WithHTTPClient has a transport of its own, so its Close does not
// close the idle connections of every other user of http.DefaultTransport
// in the process, as it did.
func TestRemoteVerifierCloseLeavesOthersConnections(t *testing.T) {
	var conns atomic.Int64
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {}))
	srv.Config.ConnState = func(_ net.Conn, state http.ConnState) {
		if state == http.StateNew {
			conns.Add(1)
		}
	}
	srv.Start()
	defer srv.Close()
	get := func() {
		t.Helper()
		res, err := http.Get(srv.URL) // http.DefaultClient, on http.DefaultTransport
		require.NoError(t, err)
		_, _ = io.Copy(io.Discard, res.Body)
		require.NoError(t, res.Body.Close())
	}
	get() // leaves an idle keep-alive connection in the default transport

	v, err := session.NewRemoteVerifier(srv.URL+"/auth", "uploader", "a server secret for the test")
	require.NoError(t, err)
	require.NoError(t, v.Close())

	get()
	assert.EqualValues(t, 1, conns.Load(), "the idle connection was reused, not closed by the verifier")
}

type roundTripperFunc func(*http.Request) (*http.Response, error)

func (f roundTripperFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// TestRemoteVerifierOnAWrappedDefaultTransport: a program that wrapped
// http.DefaultTransport (tracing, a proxy) can still build a RemoteVerifier
// without WithHTTPClient, and its requests go through the wrapper. Cloning
// the default transport panicked on anything but an *http.Transport.
func TestRemoteVerifierOnAWrappedDefaultTransport(t *testing.T) {
	a := newAuthServer(t)
	orig := http.DefaultTransport
	t.Cleanup(func() { http.DefaultTransport = orig })
	var wrapped atomic.Int64
	http.DefaultTransport = roundTripperFunc(func(r *http.Request) (*http.Response, error) {
		wrapped.Add(1)
		return orig.RoundTrip(r)
	})

	v := a.remote(t)
	p, err := v.Verify(t.Context(), cred(a.login(maryLogin, maryPassword)))
	require.NoError(t, err)
	assert.Equal(t, maryID, p.Subject)
	assert.Positive(t, wrapped.Load(), "through the program's transport")
}
