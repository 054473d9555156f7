// Package adversarial_test attacks the assembled example server
// (examples/server/app) the way a hostile client and a bad day in
// production would, in-process over httptest, and asserts the exact answer
// to every attack: status, the security-relevant headers and the body.
//
// The groups, one file each:
//
//	headers_test.go    credential headers: empty, doubled, oversized, control
//	                   characters, wire spellings of the name, two kinds at
//	                   once, tokens in the query string, unsupported schemes
//	basic_test.go      HTTP Basic decoding (RFC 7617) and the HTTPS policy
//	jwt_test.go        JWT forgery against /whoami and /api/v1/ping
//	time_test.go       expiry, leeway, nbf, iat, clock jumps, grace windows
//	lifecycle_test.go  logout, refresh reuse, concurrent refresh, revoking a user
//	cache_test.go      floods, slow, failing and panicking Verifiers
//	leakage_test.go    identical failure bodies; the whole suite's log
//	login_test.go      enumeration, timing, throttling, shared counters
//
// Every server of the suite logs at Debug into one buffer (suiteLog), and
// every secret the suite uses is registered with secret(). TestMain fails
// the run if any registered secret appears in the log, in any encoding the
// log could give it.
package adversarial_test

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/tidegate/tidegate/examples/server/app"
	"github.com/tidegate/tidegate/internal/seed"
	"github.com/tidegate/tidegate/middleware"
	"github.com/tidegate/tidegate/tidegatetest"
)

// ---------------------------------------------------------------------------
// The suite's log and its secrets.

// lockedBuffer is an io.Writer safe for the concurrent handlers of every
// server in the suite.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// suiteLog receives the log of every server, scheme and service of the
// suite, at Debug: successes, failures, panics, logins.
var (
	suiteLog    = &lockedBuffer{}
	suiteLogger = slog.New(slog.NewJSONHandler(suiteLog, &slog.HandlerOptions{Level: slog.LevelDebug}))
)

// secretSet holds every secret the suite sends or receives.
type secretSet struct {
	mu   sync.Mutex
	seen map[string]bool
}

var secrets = &secretSet{seen: map[string]bool{}}

// minSecretBytes keeps short strings, which could occur in a log line by
// chance (a user id, a status), out of the search.
const minSecretBytes = 8

// secret registers s as a secret that must never appear in the log, and
// returns it. Strings shorter than minSecretBytes are refused: the tests
// pass longer ones.
func secret(s string) string {
	if len(s) < minSecretBytes {
		panic(fmt.Sprintf("adversarial: secret of %d bytes is too short to search for", len(s)))
	}
	secrets.mu.Lock()
	defer secrets.mu.Unlock()
	secrets.seen[s] = true
	return s
}

// all returns the registered secrets, sorted.
func (s *secretSet) all() []string {
	out := s.snapshot()
	sort.Strings(out)
	return out
}

// snapshot returns the registered secrets in no particular order.
func (s *secretSet) snapshot() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]string, 0, len(s.seen))
	for k := range s.seen {
		out = append(out, k)
	}
	return out
}

// spellings returns the forms in which s could appear in a JSON log line:
// as is, JSON-escaped with and without HTML escaping, and base64 (an
// Authorization value logged whole would show a Basic password so).
func spellings(s string) []string {
	out := []string{s}
	quoted, _ := json.Marshal(s)
	out = append(out, string(quoted[1:len(quoted)-1]))
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s)
	out = append(out, strings.TrimSuffix(strings.TrimSpace(buf.String()), `"`)[1:])
	if len(s) >= 12 { // base64 of shorter strings is short enough to occur by chance
		out = append(out, base64.StdEncoding.EncodeToString([]byte(s)))
	}
	return out
}

// leaks returns, for each secret found in log, a description naming it by
// position and length only (never printing it).
func leaks(log string, all []string) []string {
	var found []string
	for i, s := range all {
		for _, form := range spellings(s) {
			if strings.Contains(log, form) {
				found = append(found, fmt.Sprintf("secret #%d (%d bytes, starts %q)", i, len(s), s[:4]))
				break
			}
		}
	}
	return found
}

// scanSink is a log sink for floods, whose log is too large to keep and
// search at the end of the suite: it searches every record for a fixed set
// of patterns as it is written, and keeps counts only. checkSuiteLog reads
// the leaks of every sink.
type scanSink struct {
	mu       sync.Mutex
	patterns []string
	records  int
	leaked   map[int]bool  // indexes into patterns
	copyTo   *lockedBuffer // records are copied here too when set
}

var (
	sinksMu sync.Mutex
	sinks   []*scanSink
)

// newScanSink returns a sink searching for the given patterns, each in
// every spelling of spellings.
func newScanSink(patterns ...string) *scanSink {
	s := &scanSink{leaked: map[int]bool{}}
	for _, p := range patterns {
		s.patterns = append(s.patterns, spellings(p)...)
	}
	sinksMu.Lock()
	sinks = append(sinks, s)
	sinksMu.Unlock()
	return s
}

// add searches for more patterns from now on.
func (s *scanSink) add(patterns ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, p := range patterns {
		s.patterns = append(s.patterns, spellings(p)...)
	}
}

// tee makes the sink copy every record to w (nil: to nothing) as well.
func (s *scanSink) tee(w *lockedBuffer) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.copyTo = w
}

// Write implements io.Writer; slog writes one record per call.
func (s *scanSink) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.copyTo != nil {
		_, _ = s.copyTo.Write(p)
	}
	s.records++
	for i, pat := range s.patterns {
		if bytes.Contains(p, []byte(pat)) {
			s.leaked[i] = true
		}
	}
	return len(p), nil
}

// counts returns the number of records written and of patterns found.
func (s *scanSink) counts() (records, leaked int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.records, len(s.leaked)
}

// TestMain runs the suite, then searches the whole suite's log for every
// secret used. A leak fails the run even though every test passed.
func TestMain(m *testing.M) {
	registerDemoSecrets()
	code := m.Run()
	// The leak check runs even when a test failed: a known failing case
	// must not hide a leak.
	if leak := checkSuiteLog(); code == 0 {
		code = leak
	}
	os.Exit(code)
}

// checkSuiteLog is the end-of-suite leak check.
func checkSuiteLog() int {
	log := suiteLog.String()
	all := secrets.all()
	// The check must have something to look at: the suite logs every
	// authentication, and the whole suite (no -run or -skip filter, and not
	// -list, which runs nothing) uses well over a hundred secrets.
	whole := true
	for _, name := range []string{"test.run", "test.skip", "test.list"} {
		if f := flag.Lookup(name); f != nil && f.Value.String() != "" {
			whole = false
		}
	}
	if whole && (!strings.Contains(log, `"msg":"tidegate auth"`) || len(all) < 100) {
		fmt.Fprintf(os.Stderr, "adversarial: the suite log (%d bytes) or the secret list (%d) is implausibly small\n", len(log), len(all))
		return 1
	}
	sinksMu.Lock()
	for i, sink := range sinks {
		if _, n := sink.counts(); n > 0 {
			fmt.Fprintf(os.Stderr, "adversarial: flood log sink #%d found %d secret patterns\n", i, n)
			sinksMu.Unlock()
			return 1
		}
	}
	sinksMu.Unlock()
	if found := leaks(log, all); len(found) > 0 {
		fmt.Fprintf(os.Stderr, "adversarial: %d secrets appear in the suite log:\n  %s\n", len(found), strings.Join(found, "\n  "))
		return 1
	}
	if testing.Verbose() {
		fmt.Printf("adversarial: %d log bytes searched for %d secrets: none found\n", len(log), len(all))
	}
	return 0
}

// TestLeakSearchFindsEveryEncoding checks the end-of-suite search itself:
// a secret logged raw, JSON-escaped or inside a base64 Authorization value
// is found, and a log without it is clean.
func TestLeakSearchFindsEveryEncoding(t *testing.T) {
	pw := "p\u00e4ss<w\"rd> & more"
	var buf bytes.Buffer
	logger := slog.New(slog.NewJSONHandler(&buf, nil))
	logger.Info("x", "v", pw)
	assert.Len(t, leaks(buf.String(), []string{pw}), 1, "JSON-escaped")
	buf.Reset()
	logger.Info("x", "authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(pw)))
	assert.Len(t, leaks(buf.String(), []string{pw}), 1, "base64")
	buf.Reset()
	logger.Info("x", "fp", "1234abcd")
	assert.Empty(t, leaks(buf.String(), []string{pw}))
}

// ---------------------------------------------------------------------------
// The demo seed and the suite's fixed secrets.

// testJWTKey is the HS256 key of every server: 32 random bytes in base64,
// as -jwt-key-file holds them.
const testJWTKey = "Qe301IVmUw4RhRCd8Kq/WKhZYsSdXr7Tv3H4n0AKfoE="

var (
	demo      = seed.Demo()
	mary      = demo.Users[0]
	admin     = demo.Users[1]
	demoApp   = demo.Apps[0]
	uploader  = demo.Servers[0]
	jwtSecret = mustDecode(testJWTKey)
)

func mustDecode(s string) []byte {
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		panic(err)
	}
	return b
}

// demoSecrets are the secrets of the demo seed and the JWT key (as text,
// as raw bytes, and as a JWK "k" member would carry it).
func demoSecrets() []string {
	var out []string
	for _, u := range demo.Users {
		out = append(out, u.Password)
	}
	for _, s := range demo.Servers {
		out = append(out, s.Secret)
	}
	for _, a := range demo.Apps {
		out = append(out, a.AppToken, a.BackendToken)
	}
	return append(out, testJWTKey, string(jwtSecret), base64.RawURLEncoding.EncodeToString(jwtSecret))
}

// registerDemoSecrets registers demoSecrets.
func registerDemoSecrets() {
	for _, s := range demoSecrets() {
		secret(s)
	}
}

// ---------------------------------------------------------------------------
// Servers.

// setup says how to build an example server.
type setup struct {
	plain   bool // plain HTTP instead of TLS
	clock   *tidegatetest.Clock
	seed    *seed.File
	hasher  middleware.PasswordHasher
	proxies *middleware.TrustedProxies
	logger  *slog.Logger // default suiteLogger
}

// server is an example server under test.
type server struct {
	*httptest.Server
	handler http.Handler // the app's handler, for in-process floods
	tls     bool
	clock   *tidegatetest.Clock
}

var (
	cheapHasherOnce sync.Once
	cheapHasher     middleware.PasswordHasher
)

// testHasher is argon2id with middleware.TestArgon2Params.
func testHasher() middleware.PasswordHasher {
	cheapHasherOnce.Do(func() {
		h, err := middleware.NewArgon2idHasher(middleware.TestArgon2Params)
		if err != nil {
			panic(err)
		}
		cheapHasher = h
	})
	return cheapHasher
}

// newServer builds the example server with the suite's logger, JWT key and
// cheap hashing, over TLS unless s.plain.
func newServer(t testing.TB, s setup) *server {
	t.Helper()
	cfg := app.Config{
		Seed: s.seed, Logger: suiteLogger, Hasher: s.hasher, JWTKey: []byte(testJWTKey),
		TrustedProxies: s.proxies,
	}
	if cfg.Hasher == nil {
		cfg.Hasher = testHasher()
	}
	if s.logger != nil {
		cfg.Logger = s.logger
	}
	if s.clock != nil {
		cfg.Clock = s.clock.Now
	}
	a, err := app.New(cfg)
	require.NoError(t, err)
	t.Cleanup(func() { assert.NoError(t, a.Close()) })
	var srv *httptest.Server
	if s.plain {
		srv = httptest.NewServer(a.Handler())
	} else {
		srv = httptest.NewTLSServer(a.Handler())
	}
	t.Cleanup(srv.Close)
	return &server{Server: srv, handler: a.Handler(), tls: !s.plain, clock: s.clock}
}

// reply is a response, read whole.
type reply struct {
	status int
	header http.Header
	body   string
}

// req is a request to send through net/http's client. Headers are added in
// order (the same name twice sends two fields).
type req struct {
	method string // GET when empty
	path   string
	body   string
	header [][2]string
}

// h builds a header list: h("A", "1", "B", "2").
func h(kv ...string) [][2]string {
	out := make([][2]string, 0, len(kv)/2)
	for i := 0; i+1 < len(kv); i += 2 {
		out = append(out, [2]string{kv[i], kv[i+1]})
	}
	return out
}

// send sends r through the server's client and reads the whole response.
func (s *server) send(t testing.TB, r req) reply {
	t.Helper()
	got, err := s.trySend(r)
	require.NoError(t, err)
	return got
}

// trySend is send for goroutines other than the test's.
func (s *server) trySend(r req) (reply, error) {
	method := r.method
	if method == "" {
		method = http.MethodGet
	}
	hr, err := http.NewRequest(method, s.URL+r.path, strings.NewReader(r.body))
	if err != nil {
		return reply{}, err
	}
	for _, kv := range r.header {
		hr.Header.Add(kv[0], kv[1])
	}
	client := *s.Client()
	client.Timeout = 20 * time.Second // nothing may hang
	resp, err := client.Do(hr)
	if err != nil {
		return reply{}, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return reply{}, err
	}
	return reply{status: resp.StatusCode, header: resp.Header, body: string(body)}, nil
}

// get is send for a GET with headers.
func (s *server) get(t testing.TB, path string, header ...string) reply {
	t.Helper()
	return s.send(t, req{path: path, header: h(header...)})
}

// raw writes request text (lines ending in CRLF, up to the blank line) on
// a connection of its own, exactly as given, and reads the response: for
// header spellings and bytes that net/http's client would not send.
func (s *server) raw(t testing.TB, request string) reply {
	t.Helper()
	var conn net.Conn
	var err error
	addr := s.Listener.Addr().String()
	if s.tls {
		pool := x509.NewCertPool()
		pool.AddCert(s.Certificate())
		conn, err = tls.Dial("tcp", addr, &tls.Config{RootCAs: pool, ServerName: "example.com"})
	} else {
		conn, err = net.Dial("tcp", addr)
	}
	require.NoError(t, err)
	defer conn.Close()
	require.NoError(t, conn.SetDeadline(time.Now().Add(20*time.Second)))
	_, err = io.WriteString(conn, request)
	require.NoError(t, err)
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return reply{status: resp.StatusCode, header: resp.Header, body: string(body)}
}

// rawGet is the text of a GET of path with the given header lines.
func rawGet(path string, lines ...string) string {
	var b strings.Builder
	b.WriteString("GET " + path + " HTTP/1.1\r\nHost: example.com\r\nConnection: close\r\n")
	for _, l := range lines {
		b.WriteString(l + "\r\n")
	}
	b.WriteString("\r\n")
	return b.String()
}

// ---------------------------------------------------------------------------
// Expected answers.

// The challenges, exactly as sent.
const (
	chSession             = `X-Tidepool-Session-Token realm="tidepool"`
	chBearer              = `Bearer realm="tidegate"`
	chBearerInvalidToken  = `Bearer realm="tidegate", error="invalid_token"`
	chBearerInvalidReq    = `Bearer realm="tidegate", error="invalid_request"`
	chBasic               = `Basic realm="tapglue", charset="UTF-8"`
	chSessionLogin        = `Basic realm="tidepool", charset="UTF-8"`
	hstsValue             = "max-age=31536000"
	bodySessionRequired   = `"Session token required"`
	bodyLoginFailed       = `"login failed"`
	bodyMissingLogin      = `"Missing login information"`
	bodySessionThrottled  = `"Too many requests"`
	bodySessionInternal   = `"Internal server error"`
	bodyBearerUnauth      = `{"error":"invalid_token","error_description":"a valid bearer token or valid credentials are required"}` + "\n"
	bodyBearerThrottled   = `{"error":"rate_limited","error_description":"too many attempts, retry later"}` + "\n"
	bodyBearerBadLogin    = `{"error":"invalid_request","error_description":"the body must be a JSON object with exactly the string members \"username\" and \"password\", at most 64 KiB"}` + "\n"
	bodyBearerBadRefresh  = `{"error":"invalid_request","error_description":"the body must be a JSON object with exactly the string member \"refresh_token\", at most 64 KiB"}` + "\n"
	bodyBearerPing        = `{"authenticated":true}` + "\n"
	bodyBearerLoggedOut   = `{"logged_out":true}` + "\n"
	bodyBasicBadRequest   = `{"errors":[{"code":4000,"message":"malformed request"}]}` + "\n"
	bodyBasicUnknownApp   = `{"errors":[{"code":1001,"message":"app token missing or invalid"}]}` + "\n"
	bodyBasicInvalid      = `{"errors":[{"code":4007,"message":"session token or user id invalid"}]}` + "\n"
	bodyBasicNeedsSession = `{"errors":[{"code":4013,"message":"session token required"}]}` + "\n"
	bodyBasicLoginFailed  = `{"errors":[{"code":4010,"message":"wrong user name, email or password"}]}` + "\n"
	bodyBasicHTTPS        = `{"errors":[{"code":4030,"message":"HTTPS is required for these credentials"}]}` + "\n"
	bodyBasicThrottled    = `{"errors":[{"code":4290,"message":"too many attempts, retry later"}]}` + "\n"
	bodyJSONUnauthorized  = `{"error":"unauthorized","message":"valid credentials are required"}` + "\n"
	bodyJSONUnavailable   = `{"error":"unavailable","message":"authentication is temporarily unavailable"}` + "\n"
	bodyJSONInternal      = `{"error":"internal_error","message":"internal error"}` + "\n"
	bodyNetHTTPBadRequest = "400 Bad Request"
)

// want is an expected answer. Unless noted, every field is compared
// exactly, absence included.
type want struct {
	status     int
	challenges []string // WWW-Authenticate values in order; nil: none
	retryAfter string   // "": no Retry-After
	body       string
	// cacheable: the response may go without Cache-Control: no-store
	// (successes of /whoami and /healthz). Every failure must carry it.
	cacheable bool
	// netHTTP: the answer comes from net/http itself, before any handler:
	// text/plain, and none of tidegate's headers (HSTS included).
	netHTTP bool
}

// The failures of /whoami, by kind.
var (
	wantNoCredential       = want{status: 401, challenges: []string{chSession, chBearer, chBasic}, body: bodySessionRequired}
	wantSessionMalformed   = want{status: 400, body: bodySessionRequired}
	wantSessionInvalid     = want{status: 401, challenges: []string{chSession}, body: bodySessionRequired}
	wantBearerMalformed    = want{status: 400, challenges: []string{chBearerInvalidReq}, body: bodyBearerUnauth}
	wantBearerInvalid      = want{status: 401, challenges: []string{chBearerInvalidToken}, body: bodyBearerUnauth}
	wantBearerMissing      = want{status: 401, challenges: []string{chBearer}, body: bodyBearerUnauth}
	wantBasicMalformed     = want{status: 400, body: bodyBasicBadRequest}
	wantBasicUnknownApp    = want{status: 401, challenges: []string{chBasic}, body: bodyBasicUnknownApp}
	wantBasicInvalid       = want{status: 401, challenges: []string{chBasic}, body: bodyBasicInvalid}
	wantBasicNeedsSession  = want{status: 401, challenges: []string{chBasic}, body: bodyBasicNeedsSession}
	wantBasicHTTPSRequired = want{status: 403, body: bodyBasicHTTPS}
	wantNetHTTPBadRequest  = want{status: 400, body: bodyNetHTTPBadRequest, netHTTP: true}
)

// whoamiBody is the body of a successful /whoami.
func whoamiBody(subject, kind, actor, app string, roles ...string) string {
	if roles == nil {
		roles = []string{}
	}
	b, _ := json.Marshal(map[string]any{"subject": subject, "kind": kind, "actor": actor, "app": app, "roles": roles})
	// /whoami writes its fields in this order; json.Marshal sorts map keys.
	var m map[string]json.RawMessage
	_ = json.Unmarshal(b, &m)
	return fmt.Sprintf(`{"subject":%s,"kind":%s,"actor":%s,"app":%s,"roles":%s}`+"\n",
		m["subject"], m["kind"], m["actor"], m["app"], m["roles"])
}

// The successes of /whoami.
var (
	wantMarySession = want{status: 200, cacheable: true, body: whoamiBody(mary.UserID, "session", "user", "", "user")}
	wantMaryBearer  = want{status: 200, cacheable: true, body: whoamiBody(mary.UserID, "bearer", "user", "", "user")}
	wantMaryBasic   = want{status: 200, cacheable: true, body: whoamiBody(mary.UserID, "basic", "user", "demo", "user")}
	wantMaryBackend = want{status: 200, cacheable: true, body: whoamiBody(mary.UserID, "basic", "backend", "demo", "user")}
	wantAdminBearer = want{status: 200, cacheable: true, body: whoamiBody(admin.UserID, "bearer", "user", "", "user", "admin")}
	wantPing        = want{status: 200, body: bodyBearerPing}
)

// check asserts that got is exactly w, over a TLS server or not.
func (s *server) check(t testing.TB, got reply, w want, msgAndArgs ...any) {
	t.Helper()
	checkReply(t, got, w, s.tls, msgAndArgs...)
}

func checkReply(t testing.TB, got reply, w want, overTLS bool, msgAndArgs ...any) {
	t.Helper()
	assert.Equal(t, w.status, got.status, msgAndArgs...)
	assert.Equal(t, w.body, got.body, msgAndArgs...)
	assert.Equal(t, w.challenges, got.header.Values("WWW-Authenticate"), msgAndArgs...)
	assert.Equal(t, w.retryAfter, got.header.Get("Retry-After"), msgAndArgs...)
	if w.netHTTP {
		assert.Equal(t, "text/plain; charset=utf-8", got.header.Get("Content-Type"), msgAndArgs...)
		assert.Empty(t, got.header.Get("Strict-Transport-Security"), msgAndArgs...)
		return
	}
	assert.Equal(t, "application/json", got.header.Get("Content-Type"), msgAndArgs...)
	assert.Equal(t, "nosniff", got.header.Get("X-Content-Type-Options"), msgAndArgs...)
	if !w.cacheable {
		assert.Equal(t, "no-store", got.header.Get("Cache-Control"), msgAndArgs...)
	}
	hsts := ""
	if overTLS {
		hsts = hstsValue
	}
	assert.Equal(t, hsts, got.header.Get("Strict-Transport-Security"), msgAndArgs...)
	if got.status >= 400 {
		assertNoSecret(t, got, msgAndArgs...)
	}
}

// assertNoSecret asserts that no secret registered so far appears in the
// body or any header value of a failure.
func assertNoSecret(t testing.TB, got reply, msgAndArgs ...any) {
	t.Helper()
	var text strings.Builder
	text.WriteString(got.body)
	for _, values := range got.header {
		for _, v := range values {
			text.WriteString("\n" + v)
		}
	}
	all := text.String()
	for _, sec := range secrets.snapshot() {
		if strings.Contains(all, sec) {
			assert.Fail(t, fmt.Sprintf("a secret of %d bytes appears in a failure response", len(sec)), msgAndArgs...)
		}
	}
}

// ---------------------------------------------------------------------------
// Credentials.

// basicAuth is the Authorization value of HTTP Basic user:password.
func basicAuth(user, password string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+password))
}

// sessionLogin logs in on POST /auth/login and returns the session token,
// registered as a secret.
func (s *server) sessionLogin(t testing.TB, login, password string) string {
	t.Helper()
	r := s.send(t, req{method: http.MethodPost, path: "/auth/login", header: h("Authorization", basicAuth(login, password))})
	require.Equal(t, http.StatusOK, r.status, r.body)
	token := r.header.Get("X-Tidepool-Session-Token")
	require.NotEmpty(t, token)
	return secret(token)
}

// tokens is a bearer login's answer.
type tokens struct {
	Access  string `json:"access_token"`
	Refresh string `json:"refresh_token"`
}

// bearerLogin logs in on POST /api/v1/authenticate; both tokens are
// registered as secrets.
func (s *server) bearerLogin(t testing.TB, login, password string) tokens {
	t.Helper()
	body, _ := json.Marshal(map[string]string{"username": login, "password": password})
	r := s.send(t, req{method: http.MethodPost, path: "/api/v1/authenticate", body: string(body), header: h("Content-Type", "application/json")})
	require.Equal(t, http.StatusOK, r.status, r.body)
	var tk tokens
	require.NoError(t, json.Unmarshal([]byte(r.body), &tk))
	secret(tk.Access)
	secret(tk.Refresh)
	return tk
}

// bearerRefresh is POST /api/v1/refresh.
func (s *server) bearerRefresh(t testing.TB, access, refresh string) reply {
	t.Helper()
	return s.send(t, req{method: http.MethodPost, path: "/api/v1/refresh", body: `{"refresh_token":"` + refresh + `"}`,
		header: h("Authorization", "Bearer "+access, "Content-Type", "application/json")})
}

// appLogin logs in on POST /0.4/me/login in the demo app and returns the
// app session token, registered as a secret.
func (s *server) appLogin(t testing.TB, login, password string) string {
	t.Helper()
	body, _ := json.Marshal(map[string]string{"user_name": login, "password": password})
	r := s.send(t, req{method: http.MethodPost, path: "/0.4/me/login", body: string(body),
		header: h("Authorization", basicAuth(demoApp.AppToken, ""), "Content-Type", "application/json")})
	require.Equal(t, http.StatusCreated, r.status, r.body)
	var out struct {
		SessionToken string `json:"session_token"`
	}
	require.NoError(t, json.Unmarshal([]byte(r.body), &out))
	return secret(out.SessionToken)
}

// randomToken is a fresh NewToken, registered as a secret.
func randomToken() string { return secret(middleware.NewToken()) }
