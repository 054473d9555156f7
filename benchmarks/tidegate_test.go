package benchmarks

import (
	"context"
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/tidegate/tidegate/basicauth"
	"github.com/tidegate/tidegate/bearer"
	"github.com/tidegate/tidegate/middleware"
	"github.com/tidegate/tidegate/session"
)

// The tidegate side: the three services wired as examples/server wires
// them (one MemoryAccounts and one PasswordLogin shared by every kind,
// in-memory stores, the real clock), plus an EdDSA bearer service. Password
// hashing is cheap (middleware.TestArgon2Params) because it only serves to
// mint credentials through the public login endpoints; no benchmarked path
// hashes a password. Logs go to slog.DiscardHandler, as the peers log
// nothing either.

const (
	// users is how many accounts exist, and how many distinct credentials
	// a cached benchmark sends round robin: a server has many users, and
	// their hits must not contend.
	users = 64
	// password is every benchmark user's password.
	password = "correct horse battery staple"
	// issuer and audience are the bearer tokens' iss and aud, checked by
	// tidegate and by every peer that can check them.
	issuer   = "https://auth.example.com/"
	audience = "https://api.example.com/"
)

var discard = slog.New(slog.DiscardHandler)

// world is the tidegate fixture, built once per process.
type world struct {
	accounts []middleware.Account
	sessions *session.Service
	hs       *bearer.Service // HS256 signing
	ed       *bearer.Service // EdDSA signing
	apps     *basicauth.Service
	app      basicauth.AppTokens
	hsSecret []byte // the HS256 secret, which the peers verify with too

	// Credentials, as header values, of the cached benchmarks: one per user.
	sessionTokens, hsTokens, edTokens, basicCreds []string
	// Pools of first-sight credentials, minted on demand.
	sessionPool, hsPool, edPool, basicPool *pool
	// Pools of invalid credentials, each seen once, made on demand: unknown
	// session tokens, forged HS256 and EdDSA tokens, unknown app tokens.
	badSessionPool, forgedHSPool, forgedEdPool, badAppPool *pool
}

var (
	worldOnce sync.Once
	theWorld  *world
	worldErr  error
)

// getWorld returns the shared fixture, or fails tb.
func getWorld(tb testing.TB) *world {
	tb.Helper()
	worldOnce.Do(func() { theWorld, worldErr = newWorld() })
	if worldErr != nil {
		tb.Fatal(worldErr)
	}
	return theWorld
}

func newWorld() (*world, error) {
	hasher, err := middleware.NewArgon2idHasher(middleware.TestArgon2Params)
	if err != nil {
		return nil, err
	}
	w := &world{hsSecret: make([]byte, 32), app: basicauth.NewAppTokens()}
	if _, err := rand.Read(w.hsSecret); err != nil {
		return nil, err
	}
	accounts := middleware.NewMemoryAccounts()
	for i := range users {
		hash, err := hasher.Hash(password)
		if err != nil {
			return nil, err
		}
		a := middleware.Account{
			UserID: fmt.Sprintf("u%08x", i), Username: fmt.Sprintf("user%d@example.com", i),
			Emails: []string{fmt.Sprintf("user%d@example.com", i)}, Roles: []string{"user"}, PasswordHash: hash,
		}
		if err := accounts.Create(context.Background(), a); err != nil {
			return nil, err
		}
		w.accounts = append(w.accounts, a)
	}
	login, err := middleware.NewPasswordLogin(accounts, middleware.WithHasher(hasher))
	if err != nil {
		return nil, err
	}
	if w.sessions, err = session.New(login, session.WithLogger(discard)); err != nil {
		return nil, err
	}
	if w.hs, err = newBearer(login, bearer.HS256, w.hsSecret); err != nil {
		return nil, err
	}
	if w.ed, err = newBearer(login, bearer.EdDSA, nil); err != nil {
		return nil, err
	}
	registry, err := basicauth.NewMemoryRegistry(basicauth.AppSpec{
		ID: "bench", Name: "bench", AppToken: w.app.AppToken, BackendToken: w.app.BackendToken,
	})
	if err != nil {
		return nil, err
	}
	if w.apps, err = basicauth.New(registry, accounts, login, basicauth.WithLogger(discard)); err != nil {
		return nil, err
	}
	w.sessionPool = &pool{mint: w.mintSession}
	w.hsPool = &pool{mint: func(i int) (string, error) { return w.mintBearer(w.hs, i) }}
	w.edPool = &pool{mint: func(i int) (string, error) { return w.mintBearer(w.ed, i) }}
	w.basicPool = &pool{mint: w.mintBasic}
	forge, err := newForger()
	if err != nil {
		return nil, err
	}
	w.badSessionPool = &pool{mint: func(int) (string, error) { return unknownSessions(1)[0], nil }}
	w.forgedHSPool = &pool{mint: func(i int) (string, error) { return forgedMint(forge, w.hs, w, i) }}
	w.forgedEdPool = &pool{mint: func(i int) (string, error) { return forgedMint(forge, w.ed, w, i) }}
	w.badAppPool = &pool{mint: func(int) (string, error) { return unknownApps(1)[0], nil }}
	// The cached benchmarks' credentials are each pool's first `users` values.
	for _, p := range []struct {
		pool *pool
		dst  *[]string
	}{{w.sessionPool, &w.sessionTokens}, {w.hsPool, &w.hsTokens}, {w.edPool, &w.edTokens}, {w.basicPool, &w.basicCreds}} {
		values, err := p.pool.grow(users)
		if err != nil {
			return nil, err
		}
		*p.dst = values[:users]
	}
	return w, nil
}

// newBearer returns a bearer service signing with a new key of alg (the
// given secret for HS256).
func newBearer(login *middleware.PasswordLogin, alg string, secret []byte) (*bearer.Service, error) {
	var key *bearer.Key
	var err error
	if secret != nil {
		key, err = bearer.NewHMACKey("hs1", secret)
	} else {
		key, err = bearer.GenerateKey("", alg)
	}
	if err != nil {
		return nil, err
	}
	keys, err := bearer.NewKeySet(key)
	if err != nil {
		return nil, err
	}
	return bearer.New(login, keys, bearer.WithIssuer(issuer), bearer.WithAudience(audience), bearer.WithLogger(discard))
}

// mintSession logs user i%users in with POST /login (HTTP Basic) through
// the session handler, and returns the session token.
func (w *world) mintSession(i int) (string, error) {
	a := w.accounts[i%users]
	r := httptest.NewRequest(http.MethodPost, "/login", nil)
	r.SetBasicAuth(a.Username, password)
	rec := httptest.NewRecorder()
	w.sessions.Handler().ServeHTTP(rec, r)
	token := rec.Header().Get(session.HeaderToken)
	if rec.Code != http.StatusOK || token == "" {
		return "", fmt.Errorf("session login: status %d", rec.Code)
	}
	return token, nil
}

// mintBearer issues an access token for user i%users through svc.Issue and
// returns the Authorization value.
func (w *world) mintBearer(svc *bearer.Service, i int) (string, error) {
	t, err := svc.Issue(context.Background(), w.accounts[i%users])
	if err != nil {
		return "", err
	}
	return "Bearer " + t.AccessToken, nil
}

// mintBasic logs user i%users in with POST /me/login (the app token, over
// HTTPS) through the basicauth handler, and returns the Authorization value
// app_token:session_token.
func (w *world) mintBasic(i int) (string, error) {
	a := w.accounts[i%users]
	body, _ := json.Marshal(map[string]string{"email": a.Emails[0], "password": password})
	r := httptest.NewRequest(http.MethodPost, "/me/login", strings.NewReader(string(body)))
	r.TLS = &tls.ConnectionState{}
	r.Header.Set("Content-Type", "application/json")
	r.SetBasicAuth(w.app.AppToken, "")
	rec := httptest.NewRecorder()
	w.apps.Handler().ServeHTTP(rec, r)
	var out struct {
		SessionToken string `json:"session_token"`
	}
	if rec.Code != http.StatusCreated || json.Unmarshal(rec.Body.Bytes(), &out) != nil || out.SessionToken == "" {
		return "", fmt.Errorf("app login: status %d", rec.Code)
	}
	return basicValue(w.app.AppToken, out.SessionToken), nil
}

func basicValue(user, pass string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+pass))
}

// pool holds distinct credentials, minted in parallel on demand and kept
// for the life of the process.
type pool struct {
	mu     sync.Mutex
	mint   func(i int) (string, error)
	values []string
}

// grow returns at least n values.
func (p *pool) grow(n int) ([]string, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	have := len(p.values)
	if have >= n {
		return p.values, nil
	}
	p.values = append(p.values, make([]string, n-have)...)
	workers := runtime.GOMAXPROCS(0)
	errs := make([]error, workers)
	var wg sync.WaitGroup
	for wk := range workers {
		wg.Go(func() {
			for i := have + wk; i < n; i += workers {
				v, err := p.mint(i)
				if err != nil {
					errs[wk] = err
					return
				}
				p.values[i] = v
			}
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		p.values = p.values[:have]
		return nil, err
	}
	return p.values, nil
}

// valuesFor adapts grow to firstSight.values: the first n values.
func (p *pool) valuesFor(b *testing.B, n int) []string {
	v, err := p.grow(n)
	if err != nil {
		b.Fatal(err)
	}
	return v[:n]
}

// cacheOf returns the verification cache behind a tidegate scheme.
func cacheOf(tb testing.TB, s *middleware.Scheme) *middleware.Cache {
	c, ok := s.Verifier().(*middleware.Cache)
	if !ok {
		tb.Fatalf("scheme %s: verifier is a %T, not a *middleware.Cache", s.Kind(), s.Verifier())
	}
	return c
}

// requests returns one request per header value.
func requests(header string, values []string, tlsOn bool) []*http.Request {
	reqs := make([]*http.Request, len(values))
	for i, v := range values {
		reqs[i] = request(header, v)
		if tlsOn {
			reqs[i].TLS = &tls.ConnectionState{}
		}
	}
	return reqs
}

// warmed purges c, then serves every request once through h (each must
// answer want), so that the benchmark that follows sees only cache hits.
func warmed(tb testing.TB, c *middleware.Cache, h http.Handler, want int, reqs []*http.Request) []*http.Request {
	tb.Helper()
	c.Purge()
	for _, r := range reqs {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		if rec.Code != want {
			tb.Fatalf("warm-up: status %d, want %d", rec.Code, want)
		}
	}
	return reqs
}

// forger re-signs bearer values with keys no service knows.
type forger struct {
	secret []byte
	ed     ed25519.PrivateKey
}

func newForger() (*forger, error) {
	f := &forger{secret: make([]byte, 32)}
	if _, err := rand.Read(f.secret); err != nil {
		return nil, err
	}
	_, ed, err := ed25519.GenerateKey(rand.Reader)
	f.ed = ed
	return f, err
}

// forge returns a bearer value with its signature replaced by one made with
// another key of the same algorithm: the right kid, header and claims, a
// signature that does not verify.
func (f *forger) forge(value string) (string, error) {
	tok := strings.TrimPrefix(value, "Bearer ")
	dot := strings.LastIndexByte(tok, '.')
	signed := tok[:dot]
	header, err := base64.RawURLEncoding.DecodeString(tok[:strings.IndexByte(tok, '.')])
	if err != nil {
		return "", err
	}
	var sig []byte
	if strings.Contains(string(header), `"EdDSA"`) {
		sig = ed25519.Sign(f.ed, []byte(signed))
	} else {
		m := hmac.New(sha256.New, f.secret)
		m.Write([]byte(signed))
		sig = m.Sum(nil)
	}
	return "Bearer " + signed + "." + base64.RawURLEncoding.EncodeToString(sig), nil
}

// forged returns each bearer value forged (see forger.forge).
func forged(tb testing.TB, values []string) []string {
	tb.Helper()
	f, err := newForger()
	if err != nil {
		tb.Fatal(err)
	}
	out := make([]string, len(values))
	for i, v := range values {
		if out[i], err = f.forge(v); err != nil {
			tb.Fatal(err)
		}
	}
	return out
}

// forgedMint mints a token of svc for a user, as the first-sight pools do,
// and forges its signature: every forged token is a distinct one.
func forgedMint(f *forger, svc *bearer.Service, w *world, i int) (string, error) {
	v, err := w.mintBearer(svc, i)
	if err != nil {
		return "", err
	}
	return f.forge(v)
}

// unknownApps returns n Basic values with random, well-formed app tokens
// that no app has, each with a fresh session token.
func unknownApps(n int) []string {
	out := make([]string, n)
	for i := range out {
		var b [basicauth.AppTokenLen / 2]byte
		_, _ = rand.Read(b[:])
		out[i] = basicValue(hex.EncodeToString(b[:]), middleware.NewToken())
	}
	return out
}

// unknownSessions returns n well-formed session tokens no store holds.
func unknownSessions(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = middleware.NewToken()
	}
	return out
}

// invalidCount is how many invalid credentials the peers' invalid-credential
// benchmarks (and BenchmarkBearerHS256InvalidRepeated) cycle through.
const invalidCount = 16

// --- session: X-Tidepool-Session-Token -------------------------------------

func (w *world) sessionHandler() http.Handler { return middleware.Require(w.sessions.Scheme())(ok) }

// BenchmarkSessionCached: a session token the service's cache holds,
// through middleware.Require(svc.Scheme()).
func BenchmarkSessionCached(b *testing.B) {
	w := getWorld(b)
	h := w.sessionHandler()
	run(b, h, http.StatusOK, warmed(b, w.sessions.Cache(), h, http.StatusOK, requests(session.HeaderToken, w.sessionTokens, false))...)
}

// BenchmarkSessionUncached: a valid session token the cache has never seen:
// the miss, the store lookup and the cache insert.
func BenchmarkSessionUncached(b *testing.B) {
	w := getWorld(b)
	runFirstSight(b, firstSight{
		handler: w.sessionHandler(), want: http.StatusOK,
		request: func() *http.Request { return request(session.HeaderToken, "x") }, header: session.HeaderToken,
		values: w.sessionPool.valuesFor, purge: w.sessions.Cache().Purge,
	})
}

// BenchmarkSessionInvalid: a well-formed session token no store holds,
// never seen before (the cache remembers refusals: a repeated one is a
// cache hit, see BenchmarkBearerHS256InvalidRepeated).
func BenchmarkSessionInvalid(b *testing.B) {
	w := getWorld(b)
	runFirstSight(b, firstSight{
		handler: w.sessionHandler(), want: http.StatusUnauthorized,
		request: func() *http.Request { return request(session.HeaderToken, "x") }, header: session.HeaderToken,
		values: w.badSessionPool.valuesFor, purge: w.sessions.Cache().Purge,
	})
}

// --- bearer: Authorization: Bearer <JWT> -----------------------------------

func benchBearerCached(b *testing.B, svc *bearer.Service, values []string) {
	h := middleware.Require(svc.Scheme())(ok)
	run(b, h, http.StatusOK, warmed(b, cacheOf(b, svc.Scheme()), h, http.StatusOK, requests("Authorization", values, false))...)
}

func benchBearerFirstSight(b *testing.B, svc *bearer.Service, p *pool) {
	runFirstSight(b, firstSight{
		handler: middleware.Require(svc.Scheme())(ok), want: http.StatusOK,
		request: func() *http.Request { return request("Authorization", "x") }, header: "Authorization",
		values: p.valuesFor, purge: cacheOf(b, svc.Scheme()).Purge,
	})
}

// benchBearerInvalid: a forged token never seen before, every request.
func benchBearerInvalid(b *testing.B, svc *bearer.Service, p *pool) {
	runFirstSight(b, firstSight{
		handler: middleware.Require(svc.Scheme())(ok), want: http.StatusUnauthorized,
		request: func() *http.Request { return request("Authorization", "x") }, header: "Authorization",
		values: p.valuesFor, purge: cacheOf(b, svc.Scheme()).Purge,
	})
}

// BenchmarkBearerHS256Cached: an HS256 access token verified before.
func BenchmarkBearerHS256Cached(b *testing.B) {
	w := getWorld(b)
	benchBearerCached(b, w.hs, w.hsTokens)
}

// BenchmarkBearerHS256FirstSight: an HS256 access token never seen before:
// signature, claims, revocation check, cache insert.
func BenchmarkBearerHS256FirstSight(b *testing.B) {
	w := getWorld(b)
	benchBearerFirstSight(b, w.hs, w.hsPool)
}

// BenchmarkBearerHS256InvalidSignature: a forged HS256 token (right kid,
// wrong secret) never seen before: the full verification, every request.
func BenchmarkBearerHS256InvalidSignature(b *testing.B) {
	w := getWorld(b)
	benchBearerInvalid(b, w.hs, w.forgedHSPool)
}

// BenchmarkBearerHS256InvalidRepeated: the same 16 forged HS256 tokens over
// and over, as a client replaying them would send: after the first of each,
// the cache's remembered refusal answers (middleware.WithRefusals).
func BenchmarkBearerHS256InvalidRepeated(b *testing.B) {
	w := getWorld(b)
	h := middleware.Require(w.hs.Scheme())(ok)
	reqs := requests("Authorization", forged(b, w.hsTokens[:invalidCount]), false)
	run(b, h, http.StatusUnauthorized, warmed(b, cacheOf(b, w.hs.Scheme()), h, http.StatusUnauthorized, reqs)...)
}

// BenchmarkBearerEdDSACached: an EdDSA access token verified before.
func BenchmarkBearerEdDSACached(b *testing.B) {
	w := getWorld(b)
	benchBearerCached(b, w.ed, w.edTokens)
}

// BenchmarkBearerEdDSAFirstSight: an EdDSA access token never seen before.
func BenchmarkBearerEdDSAFirstSight(b *testing.B) {
	w := getWorld(b)
	benchBearerFirstSight(b, w.ed, w.edPool)
}

// BenchmarkBearerEdDSAInvalidSignature: an EdDSA token signed by another
// key, never seen before.
func BenchmarkBearerEdDSAInvalidSignature(b *testing.B) {
	w := getWorld(b)
	benchBearerInvalid(b, w.ed, w.forgedEdPool)
}

// --- basicauth: Authorization: Basic app_token:session_token ---------------

// BenchmarkBasicCached: app credentials verified before, through
// RequireUser (HTTPS check, HSTS, cache hit) on a TLS request.
func BenchmarkBasicCached(b *testing.B) {
	w := getWorld(b)
	h := w.apps.RequireUser()(ok)
	run(b, h, http.StatusOK, warmed(b, cacheOf(b, w.apps.Scheme()), h, http.StatusOK, requests("Authorization", w.basicCreds, true))...)
}

// BenchmarkBasicCachedSchemeOnly is BenchmarkBasicCached without
// RequireUser's Strict-Transport-Security header: middleware.Require over
// svc.Scheme(), for information (it separates the cost of the header, which
// every HTTPS response of RequireUser carries, from the authentication).
func BenchmarkBasicCachedSchemeOnly(b *testing.B) {
	w := getWorld(b)
	h := middleware.Require(w.apps.Scheme())(ok)
	run(b, h, http.StatusOK, warmed(b, cacheOf(b, w.apps.Scheme()), h, http.StatusOK, requests("Authorization", w.basicCreds, true))...)
}

// BenchmarkBasicFirstSight: app credentials with a session the cache has
// never seen: registry and session store lookups, cache insert.
func BenchmarkBasicFirstSight(b *testing.B) {
	w := getWorld(b)
	runFirstSight(b, firstSight{
		handler: w.apps.RequireUser()(ok), want: http.StatusOK,
		request: func() *http.Request { r := request("Authorization", "x"); r.TLS = &tls.ConnectionState{}; return r },
		header:  "Authorization",
		values:  w.basicPool.valuesFor, purge: cacheOf(b, w.apps.Scheme()).Purge,
	})
}

// BenchmarkBasicUnknownApp: well-formed Basic credentials whose app token
// no app has, never seen before.
func BenchmarkBasicUnknownApp(b *testing.B) {
	w := getWorld(b)
	runFirstSight(b, firstSight{
		handler: w.apps.RequireUser()(ok), want: http.StatusUnauthorized,
		request: func() *http.Request { r := request("Authorization", "x"); r.TLS = &tls.ConnectionState{}; return r },
		header:  "Authorization",
		values:  w.badAppPool.valuesFor, purge: cacheOf(b, w.apps.Scheme()).Purge,
	})
}

// --- middleware.Any over the three kinds -----------------------------------

// anyHandler is /whoami as examples/server builds it: Any over session,
// bearer (HS256) and app credentials, wrapped in basicauth's HSTS.
func (w *world) anyHandler(tb testing.TB) http.Handler {
	anyKind, err := middleware.Any(w.sessions.Scheme(), w.hs.Scheme(), w.apps.Scheme())
	if err != nil {
		tb.Fatal(err)
	}
	return w.apps.HSTS(anyKind(ok))
}

// BenchmarkAnySession: Any resolving to a cached session token (compare
// with BenchmarkSessionCached).
func BenchmarkAnySession(b *testing.B) {
	w := getWorld(b)
	h := w.anyHandler(b)
	run(b, h, http.StatusOK, warmed(b, w.sessions.Cache(), h, http.StatusOK, requests(session.HeaderToken, w.sessionTokens, false))...)
}

// BenchmarkAnyBearer: Any resolving to a cached HS256 token (compare with
// BenchmarkBearerHS256Cached).
func BenchmarkAnyBearer(b *testing.B) {
	w := getWorld(b)
	h := w.anyHandler(b)
	run(b, h, http.StatusOK, warmed(b, cacheOf(b, w.hs.Scheme()), h, http.StatusOK, requests("Authorization", w.hsTokens, false))...)
}

// BenchmarkAnyBasic: Any resolving to cached app credentials (compare with
// BenchmarkBasicCached).
func BenchmarkAnyBasic(b *testing.B) {
	w := getWorld(b)
	h := w.anyHandler(b)
	run(b, h, http.StatusOK, warmed(b, cacheOf(b, w.apps.Scheme()), h, http.StatusOK, requests("Authorization", w.basicCreds, true))...)
}
