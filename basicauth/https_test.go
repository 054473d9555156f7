package basicauth_test

import (
	"bytes"
	"crypto/tls"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/tidegate/tidegate/basicauth"
	"github.com/tidegate/tidegate/middleware"
)

// serve runs one GET through h in process, from 192.0.2.1 (httptest's
// default peer), over TLS or not.
func serve(h http.Handler, auth string, overTLS bool, extra ...string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	if auth != "" {
		r.Header.Set("Authorization", auth)
	}
	for i := 0; i+1 < len(extra); i += 2 {
		r.Header.Add(extra[i], extra[i+1])
	}
	if overTLS {
		r.TLS = &tls.ConnectionState{}
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, r)
	return rec
}

func TestPlainHTTPRefused(t *testing.T) {
	f := newFixture(t, fixtureConfig{plain: true})
	session := "f" + strings.Repeat("A", 42)
	require.NoError(t, f.sessions.Create(t.Context(), middleware.DigestToken(session), middleware.Session{
		Subject: maryID, App: "a", ExpiresAt: f.clock.Now().Add(time.Hour),
	}))
	tests := []struct {
		name, method, path, auth, body string
	}{
		{"valid app and session", http.MethodGet, "/0.4/me", basic(appA + ":" + session), ""},
		{"valid backend and user", http.MethodGet, "/whoami", basic(backendA + ":" + maryID), ""},
		{"app only, sign-up", http.MethodPost, "/0.4/users", basic(appA + ":"), `{"user_name":"bob","email":"b@example.com","password":"pw"}`},
		{"app only, login", http.MethodPost, "/0.4/me/login", basic(appA + ":"), `{"user_name":"mary","password":"` + maryPassword + `"}`},
		{"logout", http.MethodDelete, "/0.4/me/logout", basic(appA + ":" + session), ""},
		{"unknown token", http.MethodGet, "/0.4/me", basic(strings.Repeat("1", 32) + ":x"), ""},
		{"malformed", http.MethodGet, "/0.4/me", "Basic !!!", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res := f.do(t, tc.method, tc.path, tc.auth, tc.body)
			requireError(t, res, http.StatusForbidden, bodyHTTPSRequired)
			assert.Empty(t, res.header.Get("Strict-Transport-Security"), "never HSTS over plain HTTP (RFC 6797 §7.2)")
		})
	}
	assert.Zero(t, f.registry.lookups.Load(), "no token sent over plain HTTP was looked up")
	_, err := f.accounts.FindByLogin(t.Context(), "bob")
	assert.ErrorIs(t, err, middleware.ErrAccountNotFound)
	// The session was not revoked by the refused logout.
	_, err = f.sessions.Lookup(t.Context(), middleware.DigestToken(session))
	assert.NoError(t, err)

	// Without credentials the answer is the usual 401 challenge.
	requireError(t, f.do(t, http.MethodGet, "/0.4/me", "", ""), http.StatusUnauthorized, bodyAppToken)
	// A malformed header of another scheme is not Basic: still 400.
	res := f.do(t, http.MethodGet, "/0.4/me", "Bearer a", "", "Authorization", "Bearer b")
	requireError(t, res, http.StatusBadRequest, bodyBadRequest)
	// Basic in any case counts as Basic.
	res = f.do(t, http.MethodGet, "/0.4/me", "bAsIc YTpi", "")
	requireError(t, res, http.StatusForbidden, bodyHTTPSRequired)
	// Beside another Authorization value it is issue 2's 400 (the header
	// twice with different values), as every scheme reading Authorization
	// answers: see TestDoubledAuthorizationUnderAnyDoesNotDependOnOrder.
	res = f.do(t, http.MethodGet, "/0.4/me", "Bearer a", "", "Authorization", "bAsIc YTpi")
	requireError(t, res, http.StatusBadRequest, bodyBadRequest)
	// Doubled Basic credentials are refused for plain HTTP first.
	res = f.do(t, http.MethodGet, "/0.4/me", basic(appA+":"+session), "", "Authorization", basic(appA+":"+session))
	requireError(t, res, http.StatusForbidden, bodyHTTPSRequired)
	assert.Zero(t, f.registry.lookups.Load())
}

func TestTrustedProxy(t *testing.T) {
	loopback, err := middleware.NewTrustedProxies("127.0.0.1/32", "::1")
	require.NoError(t, err)
	elsewhere, err := middleware.NewTrustedProxies("10.0.0.0/8")
	require.NoError(t, err)
	auth := basic(backendA + ":" + maryID)
	tests := []struct {
		name    string
		proxies *middleware.TrustedProxies
		headers []string
		status  int
	}{
		{"trusted peer says https", loopback, []string{"X-Forwarded-Proto", "https"}, http.StatusOK},
		{"trusted peer says HTTPS", loopback, []string{"X-Forwarded-Proto", "HTTPS"}, http.StatusOK},
		{"trusted peer, every proxy says https", loopback, []string{"X-Forwarded-Proto", "https, https"}, http.StatusOK},
		{"trusted peer, the edge says http", loopback, []string{"X-Forwarded-Proto", "http, https"}, http.StatusForbidden},
		{"trusted peer says http", loopback, []string{"X-Forwarded-Proto", "http"}, http.StatusForbidden},
		{"trusted peer says nothing", loopback, nil, http.StatusForbidden},
		{"trusted peer, header doubled", loopback, []string{"X-Forwarded-Proto", "https", "X-Forwarded-Proto", "https"}, http.StatusForbidden},
		{"untrusted peer says https", elsewhere, []string{"X-Forwarded-Proto", "https"}, http.StatusForbidden},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, fixtureConfig{plain: true, opts: []basicauth.Option{basicauth.WithTrustedProxies(tc.proxies)}})
			res := f.do(t, http.MethodGet, "/whoami", auth, "", tc.headers...)
			require.Equal(t, tc.status, res.status, res.body)
			if tc.status == http.StatusOK {
				assert.Equal(t, hstsValue, res.header.Get("Strict-Transport-Security"))
				assert.EqualValues(t, 1, f.registry.lookups.Load())
				return
			}
			requireError(t, res, http.StatusForbidden, bodyHTTPSRequired)
			assert.Empty(t, res.header.Get("Strict-Transport-Security"))
			assert.Zero(t, f.registry.lookups.Load())
		})
	}
}

// TestCachedCredentialsOverPlainHTTP: credentials the cache holds from an
// HTTPS request are still refused when they arrive over plain HTTP: the
// cache-first path leaves plain HTTP to the extractor's 403.
func TestCachedCredentialsOverPlainHTTP(t *testing.T) {
	loopback, err := middleware.NewTrustedProxies("127.0.0.1/32", "::1")
	require.NoError(t, err)
	f := newFixture(t, fixtureConfig{plain: true, opts: []basicauth.Option{basicauth.WithTrustedProxies(loopback)}})
	auth := basic(backendA + ":" + maryID)
	for range 2 {
		res := f.do(t, http.MethodGet, "/whoami", auth, "", "X-Forwarded-Proto", "https")
		require.Equal(t, http.StatusOK, res.status, res.body)
	}
	require.EqualValues(t, 1, f.registry.lookups.Load(), "the second request was a cache hit")

	res := f.do(t, http.MethodGet, "/whoami", auth, "", "X-Forwarded-Proto", "http")
	requireError(t, res, http.StatusForbidden, bodyHTTPSRequired)
	res = f.do(t, http.MethodGet, "/whoami", auth, "")
	requireError(t, res, http.StatusForbidden, bodyHTTPSRequired)
}

func TestInsecureLoopback(t *testing.T) {
	var logs bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelWarn}))
	f := newFixture(t, fixtureConfig{plain: true, opts: []basicauth.Option{
		basicauth.WithInsecureLoopback(), basicauth.WithLogger(logger),
	}})
	assert.Contains(t, logs.String(), "level=WARN")
	assert.Contains(t, logs.String(), "development only")

	// Over plain HTTP from loopback (the test server's client): accepted,
	// without HSTS.
	session := f.logIn(t, appA)
	res := f.do(t, http.MethodGet, "/0.4/me", basic(appA+":"+session), "")
	require.Equal(t, http.StatusOK, res.status, res.body)
	assert.Empty(t, res.header.Get("Strict-Transport-Security"))

	// From any other peer plain HTTP is still refused, before the lookup.
	before := f.registry.lookups.Load()
	rec := serve(f.svc.RequireUser()(http.HandlerFunc(echoPrincipal)), basic(appA+":"+session), false)
	assert.Equal(t, http.StatusForbidden, rec.Code)
	assert.Equal(t, bodyHTTPSRequired, rec.Body.String())
	assert.Equal(t, before, f.registry.lookups.Load())
}

// TestInsecureLoopbackJudgesTheClient: behind a trusted proxy on loopback,
// the client is the one the proxy names, not the proxy. A remote client's
// plain-HTTP credentials, forwarded by a local proxy, used to pass as
// loopback traffic.
func TestInsecureLoopbackJudgesTheClient(t *testing.T) {
	proxies, err := middleware.NewTrustedProxies("127.0.0.1/32")
	require.NoError(t, err)
	f := newFixture(t, fixtureConfig{opts: []basicauth.Option{
		basicauth.WithInsecureLoopback(), basicauth.WithTrustedProxies(proxies), basicauth.WithLogger(discard),
	}})
	h := f.svc.RequireUser()(http.HandlerFunc(echoPrincipal))
	from := func(client string) *httptest.ResponseRecorder {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.RemoteAddr = "127.0.0.1:40000" // the local proxy
		r.Header.Set("X-Forwarded-For", client)
		r.Header.Set("X-Forwarded-Proto", "http")
		r.Header.Set("Authorization", basic(backendA+":"+maryID))
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		return rec
	}
	rec := from("203.0.113.7")
	assert.Equal(t, http.StatusForbidden, rec.Code, "a remote client over plain HTTP")
	assert.Equal(t, bodyHTTPSRequired, rec.Body.String())
	assert.Equal(t, http.StatusOK, from("127.0.0.1").Code, "a loopback client through the local proxy")
	assert.Equal(t, http.StatusOK, from("::1").Code, "a loopback client through the local proxy")
}

// TestInsecureLoopbackNeedsALoopbackPeer: a trusted proxy on another host
// naming 127.0.0.1 names its own loopback; the credentials crossed the
// network in clear text all the same.
func TestInsecureLoopbackNeedsALoopbackPeer(t *testing.T) {
	proxies, err := middleware.NewTrustedProxies("10.0.0.0/8")
	require.NoError(t, err)
	f := newFixture(t, fixtureConfig{opts: []basicauth.Option{
		basicauth.WithInsecureLoopback(), basicauth.WithTrustedProxies(proxies), basicauth.WithLogger(discard),
	}})
	h := f.svc.RequireUser()(http.HandlerFunc(echoPrincipal))
	for _, client := range []string{"127.0.0.1", "::1", "::ffff:127.0.0.1"} {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.RemoteAddr = "10.0.0.5:40000" // the proxy, on another host
		r.Header.Set("X-Forwarded-For", client)
		r.Header.Set("X-Forwarded-Proto", "http")
		r.Header.Set("Authorization", basic(backendA+":"+maryID))
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		assert.Equal(t, http.StatusForbidden, rec.Code, "client %s named by a remote proxy", client)
	}
	assert.Zero(t, f.registry.lookups.Load(), "nothing sent in clear text is looked up")
}

func TestNoWarningWithoutInsecureLoopback(t *testing.T) {
	var logs bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelWarn}))
	newFixture(t, fixtureConfig{opts: []basicauth.Option{basicauth.WithLogger(logger)}})
	assert.Empty(t, logs.String())
}

func TestHSTS(t *testing.T) {
	tests := []struct {
		name string
		opts []basicauth.Option
		want string
	}{
		{"default", nil, "max-age=31536000"},
		{"with subdomains", []basicauth.Option{basicauth.WithHSTS(48*time.Hour, true)}, "max-age=172800; includeSubDomains"},
		{"forget", []basicauth.Option{basicauth.WithHSTS(0, false)}, "max-age=0"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, fixtureConfig{opts: tc.opts})
			h := f.svc.RequireUser()(http.HandlerFunc(echoPrincipal))
			for _, auth := range []string{basic(backendA + ":" + maryID), basic(appA + ":"), "", "Basic !"} {
				rec := serve(h, auth, true)
				assert.Equal(t, []string{tc.want}, rec.Header().Values("Strict-Transport-Security"), "%q: %d", auth, rec.Code)
			}
			// A handler adding to the header must not change what the next
			// response gets.
			add := f.svc.RequireUser()(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Add("Strict-Transport-Security", "extra")
			}))
			rec := serve(add, basic(backendA+":"+maryID), true)
			assert.Equal(t, []string{tc.want, "extra"}, rec.Header().Values("Strict-Transport-Security"))
			rec = serve(h, basic(backendA+":"+maryID), true)
			assert.Equal(t, []string{tc.want}, rec.Header().Values("Strict-Transport-Security"))
		})
	}
}

// TestWhitespaceAroundTheHeaderOverHTTP2: Go's HTTP/1.1 server strips the
// whitespace around a field value, its HTTP/2 server does not. Read as a
// value, " Basic x" named no scheme, and Optional let such a request through
// as anonymous over HTTP/2. It is malformed there (RFC 9113 §8.2.1): 400,
// never anonymous.
func TestWhitespaceAroundTheHeaderOverHTTP2(t *testing.T) {
	f := newFixture(t, fixtureConfig{})
	h := middleware.Optional(f.svc.Scheme())(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s, ok := middleware.SubjectFromContext(r.Context()); ok {
			_, _ = io.WriteString(w, "user "+s)
			return
		}
		_, _ = io.WriteString(w, "anonymous")
	}))
	start := func(h2 bool) *httptest.Server {
		srv := httptest.NewUnstartedServer(h)
		srv.EnableHTTP2 = h2
		srv.StartTLS()
		t.Cleanup(srv.Close)
		return srv
	}
	get := func(srv *httptest.Server, auth string) (proto string, status int, body string) {
		req, err := http.NewRequest(http.MethodGet, srv.URL, nil)
		require.NoError(t, err)
		req.Header["Authorization"] = []string{auth}
		res, err := srv.Client().Do(req)
		require.NoError(t, err)
		defer res.Body.Close()
		b, err := io.ReadAll(res.Body)
		require.NoError(t, err)
		return res.Proto, res.StatusCode, string(b)
	}
	h1, h2 := start(false), start(true)
	good := basic(backendA + ":" + maryID)
	for auth, overHTTP1 := range map[string]string{
		" Basic !!!!": bodyBadRequest, // malformed once stripped
		" " + good:    "user " + maryID,
		good + " ":    "user " + maryID,
		"\t" + good:   "user " + maryID,
	} {
		proto, status, body := get(h1, auth)
		require.Equal(t, "HTTP/1.1", proto)
		assert.Equal(t, overHTTP1, body, "HTTP/1.1 strips the whitespace and reads %q", auth)
		if overHTTP1 == bodyBadRequest {
			assert.Equal(t, http.StatusBadRequest, status, "HTTP/1.1, %q", auth)
		} else {
			assert.Equal(t, http.StatusOK, status, "HTTP/1.1, %q", auth)
		}
		proto, status, body = get(h2, auth)
		require.Equal(t, "HTTP/2.0", proto)
		assert.Equal(t, http.StatusBadRequest, status, "HTTP/2, %q", auth)
		assert.Equal(t, bodyBadRequest, body, "HTTP/2, %q", auth)
	}
	_, status, body := get(h2, good)
	assert.Equal(t, http.StatusOK, status)
	assert.Equal(t, "user "+maryID, body)
}

// TestBadlySpacedBasicOverPlainHTTP: Basic credentials over plain HTTP are
// 403, well-formed or not, however the scheme word is followed (the core
// reads "Basic" and anything but a token character as Basic badly spaced).
func TestBadlySpacedBasicOverPlainHTTP(t *testing.T) {
	f := newFixture(t, fixtureConfig{plain: true})
	token68 := basic(appA + ":x")[len("Basic "):]
	for _, auth := range []string{"Basic  " + token68, "Basic\t" + token68, "Basic," + token68, "basic;" + token68} {
		res := f.do(t, http.MethodGet, "/whoami", auth, "")
		assert.Equal(t, http.StatusForbidden, res.status, "%q: %s", auth, res.body)
		assert.Equal(t, bodyHTTPSRequired, res.body, "%q", auth)
	}
	res := f.do(t, http.MethodGet, "/whoami", "Basicx "+token68, "")
	assert.NotEqual(t, http.StatusForbidden, res.status, "a longer scheme word is not Basic")
	assert.Zero(t, f.registry.lookups.Load())
}

// TestInsecureLoopbackNeedsLoopbackAllTheWay: through a trusted local
// proxy, every hop it names must be loopback and readable. A proxy on
// another host further back naming 127.0.0.1 (its own loopback), a client
// written with a port or as "unknown", or no X-Forwarded-For at all used to
// pass as local, and the credentials, sent in clear text, were looked up.
func TestInsecureLoopbackNeedsLoopbackAllTheWay(t *testing.T) {
	proxies, err := middleware.NewTrustedProxies("127.0.0.0/8", "::1/128", "10.0.0.0/8")
	require.NoError(t, err)
	f := newFixture(t, fixtureConfig{opts: []basicauth.Option{
		basicauth.WithInsecureLoopback(), basicauth.WithTrustedProxies(proxies), basicauth.WithLogger(discard),
	}})
	h := f.svc.RequireUser()(http.HandlerFunc(echoPrincipal))
	send := func(peer string, xff ...string) int {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.RemoteAddr = peer
		for _, v := range xff {
			r.Header.Add("X-Forwarded-For", v)
		}
		r.Header.Set("X-Forwarded-Proto", "http")
		r.Header.Set("Authorization", basic(backendA+":"+maryID))
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		return rec.Code
	}
	for _, xff := range [][]string{
		{"127.0.0.1, 10.0.0.5"}, {"127.0.0.1", "10.0.0.5"}, // a hop through another host
		{"203.0.113.7:51234"}, {"[2001:db8::7]:51234"}, {"unknown"}, {"127.0.0.1, "}, // unreadable
		nil, // no client named
	} {
		for _, peer := range []string{"127.0.0.1:40000", "[::1]:40000"} {
			assert.Equal(t, http.StatusForbidden, send(peer, xff...), "peer %s, X-Forwarded-For %q", peer, xff)
		}
	}
	assert.Zero(t, f.registry.lookups.Load(), "nothing sent in clear text is looked up")
	for _, xff := range [][]string{{"127.0.0.1"}, {"::1, 127.0.0.2"}, {"::ffff:127.0.0.1"}} {
		assert.Equal(t, http.StatusOK, send("127.0.0.1:40000", xff...), "X-Forwarded-For %q: local all the way", xff)
	}
}

// TestTLSHopBehindAProxyThatSaysHTTP: a trusted proxy that reaches us over
// TLS but says the client came in over plain HTTP (X-Forwarded-Proto: http)
// tells us the credentials crossed the network in clear text: 403 before
// any lookup, and no HSTS towards a client on plain HTTP (RFC 6797 §7.2).
// The TLS of the last hop used to decide alone.
func TestTLSHopBehindAProxyThatSaysHTTP(t *testing.T) {
	loopback, err := middleware.NewTrustedProxies("127.0.0.1/32", "::1")
	require.NoError(t, err)
	f := newFixture(t, fixtureConfig{opts: []basicauth.Option{basicauth.WithTrustedProxies(loopback)}})
	for _, proto := range []string{"http", "http, https"} {
		res := f.do(t, http.MethodGet, "/whoami", basic(backendA+":"+maryID), "", "X-Forwarded-Proto", proto)
		requireError(t, res, http.StatusForbidden, bodyHTTPSRequired)
		assert.Empty(t, res.header.Get("Strict-Transport-Security"))
	}
	assert.Zero(t, f.registry.lookups.Load(), "credentials a trusted proxy says came in clear text are not looked up")
}
