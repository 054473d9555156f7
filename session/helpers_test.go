package session_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/tidegate/tidegate/internal/seed"
	"github.com/tidegate/tidegate/middleware"
	"github.com/tidegate/tidegate/session"
)

// fakeClock is a clock tests move by hand.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{t: time.Date(2025, 3, 4, 5, 6, 7, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// The demo users and servers of the seed file, and one more user whose
// username differs from its emails.
var demo = seed.Demo()

const (
	maryID       = "88144f5ea3"
	maryLogin    = "mary@example.com"
	maryPassword = "correct horse battery staple"
	adminID      = "a1d2c3b4e5"
	joID         = "j0j0j0j0"
	joPassword   = "Jo's Pässword 1"
	serverName   = "uploader"
	serverSecret = "demo server secret for uploader"
	otherServer  = "exporter"
	otherSecret  = "another secret of sixteen bytes or more"
)

// recordingInvalidator records what it is told to invalidate.
type recordingInvalidator struct {
	mu       sync.Mutex
	creds    []string // fingerprints
	subjects []string
}

func (r *recordingInvalidator) Invalidate(c middleware.Credential) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.creds = append(r.creds, c.Fingerprint())
}

func (r *recordingInvalidator) InvalidateSubject(s string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.subjects = append(r.subjects, s)
}

func (r *recordingInvalidator) snapshot() (creds, subjects []string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.creds...), append([]string(nil), r.subjects...)
}

// fixture is a Service on a fake clock, mounted at /auth next to a /whoami
// route protected by the service's scheme.
type fixture struct {
	t        testing.TB
	clock    *fakeClock
	accounts *middleware.MemoryAccounts
	limiter  *middleware.MemoryLimiter
	svc      *session.Service
	inv      *recordingInvalidator
	handler  http.Handler
}

type fixtureOption func(*fixtureSettings)

type fixtureSettings struct {
	clock  *fakeClock
	policy middleware.LimiterPolicy
	opts   []session.Option
}

// withClock makes the fixture use clock (to share it with a store).
func withClock(c *fakeClock) fixtureOption {
	return func(s *fixtureSettings) { s.clock = c }
}

func withPolicy(p middleware.LimiterPolicy) fixtureOption {
	return func(s *fixtureSettings) { s.policy = p }
}

func withService(opts ...session.Option) fixtureOption {
	return func(s *fixtureSettings) { s.opts = append(s.opts, opts...) }
}

var (
	testHasherOnce sync.Once
	testHasher     *middleware.Argon2idHasher
)

// hasher returns the cheap argon2id hasher of the test suite.
func hasher(t testing.TB) *middleware.Argon2idHasher {
	testHasherOnce.Do(func() {
		h, err := middleware.NewArgon2idHasher(middleware.TestArgon2Params)
		if err != nil {
			panic(err)
		}
		testHasher = h
	})
	return testHasher
}

// newAccounts fills an account store with the demo users and jo.
func newAccounts(t testing.TB) *middleware.MemoryAccounts {
	accounts := middleware.NewMemoryAccounts()
	add := func(id, username, password string, emails, roles []string) {
		hash, err := hasher(t).Hash(password)
		require.NoError(t, err)
		require.NoError(t, accounts.Create(context.Background(), middleware.Account{
			UserID: id, Username: username, Emails: emails, Roles: roles, PasswordHash: hash,
		}))
	}
	for _, u := range demo.Users {
		add(u.UserID, u.Username, u.Password, u.Emails, u.Roles)
	}
	add(joID, "jo", joPassword, []string{"Jo@Example.org", "jo.work@example.com"}, nil)
	return accounts
}

func newFixture(t testing.TB, opts ...fixtureOption) *fixture {
	t.Helper()
	settings := fixtureSettings{clock: newFakeClock()}
	for _, o := range opts {
		o(&settings)
	}
	f := &fixture{t: t, clock: settings.clock, accounts: newAccounts(t), inv: &recordingInvalidator{}}
	limiter, err := middleware.NewMemoryLimiter(settings.policy, middleware.WithStoreClock(f.clock.Now))
	require.NoError(t, err)
	f.limiter = limiter
	login, err := middleware.NewPasswordLogin(f.accounts, middleware.WithHasher(hasher(t)), middleware.WithLimiter(limiter))
	require.NoError(t, err)
	base := []session.Option{
		session.WithClock(f.clock.Now),
		session.WithServers(map[string]string{serverName: serverSecret, otherServer: otherSecret}),
		session.WithInvalidator(f.inv),
		session.WithLogger(quiet),
	}
	f.svc, err = session.New(login, append(base, settings.opts...)...)
	require.NoError(t, err)
	t.Cleanup(func() { _ = f.svc.Close() })
	mux := http.NewServeMux()
	mux.Handle("/auth/", http.StripPrefix("/auth", f.svc.Handler()))
	mux.Handle("/whoami", middleware.Require(f.svc.Scheme())(whoami))
	f.handler = mux
	return f
}

// quiet discards the log events of the tests.
var quiet = slog.New(slog.DiscardHandler)

// whoami answers the authenticated principal.
var whoami = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	p, ok := middleware.FromRequest(r)
	if !ok {
		http.Error(w, "no principal", http.StatusInternalServerError)
		return
	}
	_ = json.NewEncoder(w).Encode(map[string]any{"subject": p.Subject, "actor": p.ActingAs(), "roles": p.Roles})
})

// do serves one request; headers are name, value pairs added in order.
func (f *fixture) do(method, path string, headers ...string) *httptest.ResponseRecorder {
	f.t.Helper()
	return serve(f, httptestRequest(method, path, headers...))
}

// httptestRequest builds a request with header pairs added in order.
func httptestRequest(method, path string, headers ...string) *http.Request {
	req := httptest.NewRequest(method, path, nil)
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Add(headers[i], headers[i+1])
	}
	return req
}

func serve(f *fixture, req *http.Request) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	f.handler.ServeHTTP(rec, req)
	return rec
}

func basic(user, password string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+password))
}

// login logs in and returns the token, failing the test otherwise.
func (f *fixture) login(user, password string) string {
	f.t.Helper()
	rec := f.do(http.MethodPost, "/auth/login", "Authorization", basic(user, password))
	require.Equal(f.t, http.StatusOK, rec.Code, rec.Body.String())
	token := rec.Header().Get(session.HeaderToken)
	require.NotEmpty(f.t, token)
	return token
}

// serverLogin gets a server token.
func (f *fixture) serverLogin(name, secret string) string {
	f.t.Helper()
	rec := f.do(http.MethodPost, "/auth/serverlogin", session.HeaderServerName, name, session.HeaderServerSecret, secret)
	require.Equal(f.t, http.StatusOK, rec.Code, rec.Body.String())
	return rec.Header().Get(session.HeaderToken)
}

// whoamiStatus returns the status of GET /whoami with token.
func (f *fixture) whoamiStatus(token string) int {
	f.t.Helper()
	return f.do(http.MethodGet, "/whoami", session.HeaderToken, token).Code
}

// requireTokenRequired checks the 401 every token failure gets.
func requireTokenRequired(t *testing.T, rec *httptest.ResponseRecorder) {
	t.Helper()
	require.Equal(t, http.StatusUnauthorized, rec.Code)
	require.Equal(t, `"Session token required"`, rec.Body.String())
	require.Equal(t, `X-Tidepool-Session-Token realm="tidepool"`, rec.Header().Get("WWW-Authenticate"))
	require.Equal(t, "no-store", rec.Header().Get("Cache-Control"))
	require.Equal(t, "application/json", rec.Header().Get("Content-Type"))
	require.Empty(t, rec.Header().Get(session.HeaderToken))
}

// decode decodes a JSON body into a map.
func decode(t *testing.T, rec *httptest.ResponseRecorder) map[string]any {
	t.Helper()
	var m map[string]any
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &m), rec.Body.String())
	return m
}

// recorder serves req with h.
func recorder(h http.Handler, req *http.Request) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}
