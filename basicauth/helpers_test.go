package basicauth_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/tidegate/tidegate/basicauth"
	"github.com/tidegate/tidegate/middleware"
)

// Two apps with independent tokens, and a user of the accounts.
const (
	appA     = "0123456789abcdef0123456789abcdef"
	backendA = "fedcba9876543210fedcba9876543210fedcba987654"
	appB     = "00112233445566778899aabbccddeeff"
	backendB = "ffeeddccbbaa99887766554433221100ffeeddccbbaa"

	maryID       = "88144f5ea3"
	maryName     = "mary"
	maryEmail    = "mary@example.com"
	maryPassword = "correct horse battery staple"

	challenge = `Basic realm="tapglue", charset="UTF-8"`
	hstsValue = "max-age=31536000"
)

// fakeClock is a clock tests move by hand.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func newClock() *fakeClock { return &fakeClock{now: time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// countingRegistry counts lookups, and can be told to fail, or to fail
// after it has written (a timeout after the store did the work).
type countingRegistry struct {
	basicauth.AppRegistry
	lookups   atomic.Int64
	fail      atomic.Bool
	lateWrite atomic.Bool
}

func (c *countingRegistry) Rotate(ctx context.Context, id string, t basicauth.TokenType, d middleware.TokenDigest) error {
	if err := c.AppRegistry.Rotate(ctx, id, t, d); err != nil || !c.lateWrite.Load() {
		return err
	}
	return context.DeadlineExceeded
}

func (c *countingRegistry) Revoke(ctx context.Context, id string) error {
	if err := c.AppRegistry.Revoke(ctx, id); err != nil || !c.lateWrite.Load() {
		return err
	}
	return context.DeadlineExceeded
}

func (c *countingRegistry) Lookup(ctx context.Context, t basicauth.TokenType, d middleware.TokenDigest) (basicauth.App, error) {
	c.lookups.Add(1)
	if c.fail.Load() {
		return basicauth.App{}, io.ErrUnexpectedEOF
	}
	return c.AppRegistry.Lookup(ctx, t, d)
}

// recordingInvalidator records what it was told.
type recordingInvalidator struct {
	mu       sync.Mutex
	creds    []middleware.Credential
	subjects []string
	purges   int
}

func (r *recordingInvalidator) Invalidate(c middleware.Credential) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.creds = append(r.creds, c)
}

func (r *recordingInvalidator) InvalidateSubject(s string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.subjects = append(r.subjects, s)
}

func (r *recordingInvalidator) Purge() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.purges++
}

type fixture struct {
	svc      *basicauth.Service
	registry *countingRegistry
	accounts *middleware.MemoryAccounts
	sessions *middleware.MemorySessionStore
	login    *middleware.PasswordLogin
	clock    *fakeClock
	srv      *httptest.Server
}

type fixtureConfig struct {
	plain     bool // serve over plain HTTP
	realClock bool // time.Now instead of the fake clock (benchmarks)
	limiter   middleware.LimiterPolicy
	opts      []basicauth.Option
}

var discard = slog.New(slog.DiscardHandler)

// newFixture builds a Service over in-memory stores with apps A and B and
// the user mary, and serves it under /0.4, plus /whoami (RequireUser) and
// /app/whoami (RequireApp), which echo the principal.
func newFixture(t testing.TB, fc fixtureConfig) *fixture {
	t.Helper()
	f := &fixture{clock: newClock(), accounts: middleware.NewMemoryAccounts()}
	now := f.clock.Now
	if fc.realClock {
		now = time.Now
	}
	hasher, err := middleware.NewArgon2idHasher(middleware.TestArgon2Params)
	require.NoError(t, err)
	hash, err := hasher.Hash(maryPassword)
	require.NoError(t, err)
	require.NoError(t, f.accounts.Create(context.Background(), middleware.Account{
		UserID: maryID, Username: maryName, Emails: []string{maryEmail}, Roles: []string{"user"}, PasswordHash: hash,
	}))
	limiter, err := middleware.NewMemoryLimiter(fc.limiter, middleware.WithStoreClock(now))
	require.NoError(t, err)
	f.login, err = middleware.NewPasswordLogin(f.accounts, middleware.WithHasher(hasher), middleware.WithLimiter(limiter))
	require.NoError(t, err)
	reg, err := basicauth.NewMemoryRegistry(
		basicauth.AppSpec{ID: "a", Name: "App A", AppToken: appA, BackendToken: backendA},
		basicauth.AppSpec{ID: "b", Name: "App B", AppToken: appB, BackendToken: backendB},
	)
	require.NoError(t, err)
	f.registry = &countingRegistry{AppRegistry: reg}
	f.sessions, err = middleware.NewMemorySessionStore(middleware.WithStoreClock(now))
	require.NoError(t, err)
	opts := []basicauth.Option{basicauth.WithSessionStore(f.sessions), basicauth.WithLogger(discard)}
	if !fc.realClock {
		opts = append(opts, basicauth.WithClock(now))
	}
	opts = append(opts, fc.opts...)
	f.svc, err = basicauth.New(f.registry, f.accounts, f.login, opts...)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, f.svc.Close()) })

	mux := http.NewServeMux()
	mux.Handle("/0.4/", http.StripPrefix("/0.4", f.svc.Handler()))
	mux.Handle("/whoami", f.svc.RequireUser()(http.HandlerFunc(echoPrincipal)))
	mux.Handle("/app/whoami", f.svc.RequireApp()(http.HandlerFunc(echoPrincipal)))
	if fc.plain {
		f.srv = httptest.NewServer(mux)
	} else {
		f.srv = httptest.NewTLSServer(mux)
	}
	t.Cleanup(f.srv.Close)
	return f
}

func echoPrincipal(w http.ResponseWriter, r *http.Request) {
	p, _ := middleware.FromRequest(r)
	_ = json.NewEncoder(w).Encode(p)
}

// basic returns the Authorization value for user:password.
func basic(userPass string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(userPass))
}

// response is what a test looks at.
type response struct {
	status int
	header http.Header
	body   string
}

// do sends a request; auth is the whole Authorization value ("" for none).
func (f *fixture) do(t testing.TB, method, path, auth, body string, extra ...string) response {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, f.srv.URL+path, rd)
	require.NoError(t, err)
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	if method == http.MethodPost {
		req.Header.Set("Content-Type", "application/json") // unless extra says otherwise
	}
	for i := 0; i+1 < len(extra); i += 2 {
		if http.CanonicalHeaderKey(extra[i]) == "Content-Type" {
			req.Header.Del("Content-Type")
		}
	}
	for i := 0; i+1 < len(extra); i += 2 {
		req.Header.Add(extra[i], extra[i+1])
	}
	res, err := f.srv.Client().Do(req)
	require.NoError(t, err)
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	return response{status: res.StatusCode, header: res.Header, body: string(b)}
}

// logIn logs mary in with app token app and returns the session token.
func (f *fixture) logIn(t testing.TB, app string) string {
	t.Helper()
	res := f.do(t, http.MethodPost, "/0.4/me/login", basic(app+":"), `{"user_name":"mary","password":"`+maryPassword+`"}`)
	require.Equal(t, http.StatusCreated, res.status, res.body)
	var out struct {
		SessionToken string `json:"session_token"`
	}
	require.NoError(t, json.Unmarshal([]byte(res.body), &out))
	require.NotEmpty(t, out.SessionToken)
	return out.SessionToken
}

// errorBody is the exact body of an error response with code.
func errorBody(code int, message string) string {
	b, _ := json.Marshal(map[string]any{"errors": []map[string]any{{"code": code, "message": message}}})
	return string(b) + "\n"
}

// Messages of the error codes, as the API documents them.
var (
	bodyAppToken        = errorBody(basicauth.CodeAppToken, "app token missing or invalid")
	bodyInvalidSession  = errorBody(basicauth.CodeInvalidSession, "session token or user id invalid")
	bodySessionRequired = errorBody(basicauth.CodeSessionRequired, "session token required")
	bodyBadRequest      = errorBody(basicauth.CodeBadRequest, "malformed request")
	bodyLoginFailed     = errorBody(basicauth.CodeLoginFailed, "wrong user name, email or password")
	bodyHTTPSRequired   = errorBody(basicauth.CodeHTTPSRequired, "HTTPS is required for these credentials")
	bodyConflict        = errorBody(basicauth.CodeConflict, "user name or email already taken")
	bodyForbidden       = errorBody(basicauth.CodeForbidden, "not allowed")
	bodyRateLimited     = errorBody(basicauth.CodeRateLimited, "too many attempts, retry later")
	bodyUnavailable     = errorBody(basicauth.CodeUnavailable, "temporarily unavailable, retry later")
)

// requireError checks a failure's status, body, content type and challenge.
func requireError(t testing.TB, res response, status int, body string) {
	t.Helper()
	require.Equal(t, status, res.status, res.body)
	require.Equal(t, body, res.body)
	require.Equal(t, "application/json", res.header.Get("Content-Type"))
	require.Equal(t, "no-store", res.header.Get("Cache-Control"))
	if status == http.StatusUnauthorized {
		require.Equal(t, []string{challenge}, res.header.Values("WWW-Authenticate"))
	} else {
		require.Empty(t, res.header.Values("WWW-Authenticate"))
	}
}
