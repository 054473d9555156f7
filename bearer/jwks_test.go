package bearer_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"math/big"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/tidegate/tidegate/bearer"
	"github.com/tidegate/tidegate/middleware"
)

// jwksServer serves a JWKS document that tests can change or break.
type jwksServer struct {
	*httptest.Server
	mu      sync.Mutex
	handler http.Handler
	fetches atomic.Int32
}

func newJWKSServer(t *testing.T, h http.Handler) *jwksServer {
	s := &jwksServer{handler: h}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.fetches.Add(1)
		s.mu.Lock()
		h := s.handler
		s.mu.Unlock()
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *jwksServer) set(h http.Handler) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.handler = h
}

func serveString(status int, body string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(status)
		_, _ = w.Write([]byte(body))
	})
}

// asymmetricEnv is an issuing service that signs with Ed25519 and also
// publishes a P-256 key; opts configure the service.
func asymmetricEnv(t *testing.T, opts ...bearer.ServiceOption) (*env, *ecdsa.PrivateKey) {
	ed, err := bearer.NewEd25519Key(edKID, edPrivate)
	require.NoError(t, err)
	ecPriv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	es, err := bearer.NewES256Key("es1", ecPriv)
	require.NoError(t, err)
	hs, err := bearer.NewHMACKey(hsKID, testSecret)
	require.NoError(t, err)
	set, err := bearer.NewKeySet(ed, es, hs)
	require.NoError(t, err)
	return newEnvWithKeys(t, set, opts...), ecPriv
}

func newJWKSVerifier(t *testing.T, e *env, url string, opts ...bearer.JWKSOption) (*bearer.JWKSVerifier, http.Handler) {
	base := []bearer.JWKSOption{bearer.WithIssuer(issuer), bearer.WithAudience(audient),
		bearer.WithClock(e.clock.Now), bearer.WithLogger(quiet)}
	v, err := bearer.NewJWKSVerifier(url, append(base, opts...)...)
	require.NoError(t, err)
	t.Cleanup(func() { _ = v.Close() })
	return v, middleware.Require(v.Scheme())(http.HandlerFunc(whoami))
}

func get(h http.Handler, token string) *httptest.ResponseRecorder {
	req := httptest.NewRequest("GET", "/", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

func TestJWKSVerifier(t *testing.T) {
	issuerEnv, ecPriv := asymmetricEnv(t)
	srv := newJWKSServer(t, issuerEnv.svc.JWKSHandler())
	_, h := newJWKSVerifier(t, issuerEnv, srv.URL)

	tok := issuerEnv.authenticate(t, "mary@example.com").AccessToken
	rec := get(h, tok)
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	assert.Equal(t, "u-mary user", rec.Body.String())
	assert.EqualValues(t, 1, srv.fetches.Load())

	es := forge(t, jwt.SigningMethodES256, ecPriv, map[string]any{"kid": "es1"}, validClaims(issuerEnv.clock.Now()))
	assert.Equal(t, http.StatusOK, get(h, es).Code, "ES256")

	for name, bad := range map[string]string{
		"HS256 (secrets are never published)": forgeHS(t, validClaims(issuerEnv.clock.Now()), nil),
		"HS256 over the Ed25519 public key":   forge(t, jwt.SigningMethodHS256, []byte(edPublic), map[string]any{"kid": edKID}, validClaims(issuerEnv.clock.Now())),
		"ES256 naming the Ed25519 kid":        forge(t, jwt.SigningMethodES256, ecPriv, map[string]any{"kid": edKID}, validClaims(issuerEnv.clock.Now())),
		"wrong audience":                      forge(t, jwt.SigningMethodEdDSA, edPrivate, map[string]any{"kid": edKID}, with(validClaims(issuerEnv.clock.Now()), "aud", "other")),
	} {
		rec := get(h, bad)
		assert.Equal(t, http.StatusUnauthorized, rec.Code, name)
		assert.Equal(t, challengeInvalid, rec.Header().Get("WWW-Authenticate"), name)
	}
}

func TestJWKSVerifierRefetchesOnUnknownKidAtMostOncePerInterval(t *testing.T) {
	issuerEnv, _ := asymmetricEnv(t)
	srv := newJWKSServer(t, issuerEnv.svc.JWKSHandler())
	_, h := newJWKSVerifier(t, issuerEnv, srv.URL, bearer.WithRefetchInterval(time.Minute))
	require.Equal(t, http.StatusOK, get(h, issuerEnv.authenticate(t, "mary@example.com").AccessToken).Code)
	require.EqualValues(t, 1, srv.fetches.Load())

	// The issuer rotates to a new Ed25519 key the verifier has not seen.
	newKey, err := bearer.GenerateKey("ed2", bearer.EdDSA)
	require.NoError(t, err)
	oldKey, err := bearer.NewEd25519Key(edKID, edPrivate)
	require.NoError(t, err)
	set, err := bearer.NewKeySet(newKey, oldKey)
	require.NoError(t, err)
	rotated := newEnvWithKeys(t, set)
	rotated.clock.t = issuerEnv.clock.Now()
	tok := rotated.authenticate(t, "mary@example.com").AccessToken

	made := forge(t, jwt.SigningMethodEdDSA, edPrivate, map[string]any{"kid": "made-up"}, validClaims(issuerEnv.clock.Now()))
	assert.Equal(t, http.StatusUnauthorized, get(h, made).Code)
	assert.EqualValues(t, 1, srv.fetches.Load(), "no refetch within the interval of the first fetch")
	issuerEnv.clock.Advance(time.Minute)
	assert.Equal(t, http.StatusUnauthorized, get(h, made).Code)
	assert.EqualValues(t, 2, srv.fetches.Load(), "an unknown kid refetches")
	assert.Equal(t, http.StatusUnauthorized, get(h, made).Code)
	assert.EqualValues(t, 2, srv.fetches.Load(), "but not again within the interval")

	srv.set(rotated.svc.JWKSHandler())
	assert.Equal(t, http.StatusUnauthorized, get(h, tok).Code, "the new key is not fetched yet")
	assert.EqualValues(t, 2, srv.fetches.Load())
	issuerEnv.clock.Advance(time.Minute)
	assert.Equal(t, http.StatusOK, get(h, tok).Code)
	assert.EqualValues(t, 3, srv.fetches.Load())
}

func TestJWKSVerifierFetchFailureIs503(t *testing.T) {
	issuerEnv, _ := asymmetricEnv(t)
	tok := issuerEnv.authenticate(t, "mary@example.com").AccessToken
	for name, h := range map[string]http.Handler{
		"server error":        serveString(500, "oops"),
		"not JSON":            serveString(200, "<html>"),
		"no keys member":      serveString(200, `{}`),
		"oversized":           serveString(200, `{"keys":[]`+strings.Repeat(" ", bearer.MaxJWKSBytes)+`}`),
		"private key inside":  serveString(200, `{"keys":[{"kty":"OKP","crv":"Ed25519","kid":"ed1","x":"`+b64.EncodeToString(edPublic)+`","d":"`+b64.EncodeToString(edSeed)+`"}]}`),
		"secret key inside":   serveString(200, `{"keys":[{"kty":"oct","kid":"hs1","k":"`+b64.EncodeToString(testSecret)+`"}]}`),
		"duplicate kid":       serveString(200, `{"keys":[{"kty":"OKP","crv":"Ed25519","kid":"ed1","x":"`+b64.EncodeToString(edPublic)+`"},{"kty":"OKP","crv":"Ed25519","kid":"ed1","x":"`+b64.EncodeToString(edPublic)+`"}]}`),
		"short x":             serveString(200, `{"keys":[{"kty":"OKP","crv":"Ed25519","kid":"ed1","x":"AAAA"}]}`),
		"point off the curve": serveString(200, `{"keys":[{"kty":"EC","crv":"P-256","kid":"es1","x":"`+b64.EncodeToString(make([]byte, 32))+`","y":"`+b64.EncodeToString(append(make([]byte, 31), 1))+`"}]}`),

		// Repeated member names (RFC 7517 §4, §5): see TestDecodeJWKSRefusesARepeatedName.
		"keys twice":           serveString(200, `{"keys":[{"kty":"OKP","crv":"Ed25519","kid":"ed1","x":"`+b64.EncodeToString(edPublic)+`","use":"enc"}],"keys":[{"kid":"ed1"}]}`),
		"a key's member twice": serveString(200, `{"keys":[{"kty":"OKP","crv":"Ed25519","kid":"ed1","x":"`+b64.EncodeToString(edPublic)+`","use":"sig","use":"sig"}]}`),
	} {
		t.Run(name, func(t *testing.T) {
			srv := newJWKSServer(t, h)
			_, v := newJWKSVerifier(t, issuerEnv, srv.URL)
			rec := get(v, tok)
			assert.Equal(t, http.StatusServiceUnavailable, rec.Code)
			assert.Equal(t, "5", rec.Header().Get("Retry-After"))
			assert.Equal(t, unavailableBody, rec.Body.String())
		})
	}
}

func TestJWKSVerifierSkipsKeysItDoesNotUse(t *testing.T) {
	issuerEnv, _ := asymmetricEnv(t)
	tok := issuerEnv.authenticate(t, "mary@example.com").AccessToken
	doc := `{"keys":[
		{"kty":"RSA","kid":"rsa","n":"AQAB","e":"AQAB"},
		{"kty":"EC","crv":"P-384","kid":"p384","x":"AA","y":"AA"},
		{"kty":"OKP","crv":"Ed25519","kid":"enc","use":"enc","x":"` + b64.EncodeToString(edPublic) + `"},
		{"kty":"OKP","crv":"Ed25519","kid":"ed1","x":"` + b64.EncodeToString(edPublic) + `"}]}`
	srv := newJWKSServer(t, serveString(200, doc))
	_, v := newJWKSVerifier(t, issuerEnv, srv.URL)
	assert.Equal(t, http.StatusOK, get(v, tok).Code)
}

func TestJWKSVerifierRecoversAndServesStaleKeys(t *testing.T) {
	issuerEnv, _ := asymmetricEnv(t)
	tok := issuerEnv.authenticate(t, "mary@example.com").AccessToken
	srv := newJWKSServer(t, serveString(503, ""))
	v, h := newJWKSVerifier(t, issuerEnv, srv.URL, bearer.WithRefetchInterval(10*time.Second), bearer.WithJWKSMaxAge(time.Hour))

	assert.Equal(t, http.StatusServiceUnavailable, get(h, tok).Code)
	assert.Equal(t, http.StatusServiceUnavailable, get(h, tok).Code)
	assert.EqualValues(t, 1, srv.fetches.Load(), "a failing issuer is not hammered")

	srv.set(issuerEnv.svc.JWKSHandler())
	issuerEnv.clock.Advance(10 * time.Second)
	assert.Equal(t, http.StatusOK, get(h, tok).Code)

	// The document is stale and the issuer is down again: known keys keep
	// working (checked with the uncached Verify).
	srv.set(serveString(500, ""))
	issuerEnv.clock.Advance(time.Hour)
	other := issuerEnv.authenticate(t, "admin@example.com").AccessToken
	p, err := v.Verify(t.Context(), middleware.Credential{Kind: bearer.Kind, Token: other})
	require.NoError(t, err)
	assert.Equal(t, "u-admin", p.Subject)
	assert.Eventually(t, func() bool { return srv.fetches.Load() == 3 }, 5*time.Second, time.Millisecond,
		"the stale document is fetched again, on a goroutine of its own")
}

// TestJWKSVerifierServesKnownKeysWhileTheIssuerHangs: with the document
// past its max age and an issuer that never answers, a token of a key the
// verifier holds is verified at once. The refresh used to run on the
// request, for the whole fetch timeout, which equals the cache's verify
// timeout: such tokens got 503 once per refetch interval.
func TestJWKSVerifierServesKnownKeysWhileTheIssuerHangs(t *testing.T) {
	issuerEnv, _ := asymmetricEnv(t)
	srv := newJWKSServer(t, issuerEnv.svc.JWKSHandler())
	_, h := newJWKSVerifier(t, issuerEnv, srv.URL)
	require.Equal(t, http.StatusOK, get(h, issuerEnv.authenticate(t, "mary@example.com").AccessToken).Code)

	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	srv.set(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	issuerEnv.clock.Advance(bearer.DefaultJWKSMaxAge + time.Second)
	token := issuerEnv.authenticate(t, "admin@example.com").AccessToken // same key, a new token
	start := time.Now()
	rec := get(h, token)
	assert.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	assert.Less(t, time.Since(start), time.Second, "without waiting for the issuer (whose answer never comes)")
}

// TestJWKSVerifierIsNotPoisonedByACallerThatLeft: a caller whose context
// is done gets its own 503 and records nothing; it used to take the fetch
// slot, fail the fetch with its own context, and make every caller get 503
// for the whole refetch interval without the issuer being asked.
func TestJWKSVerifierIsNotPoisonedByACallerThatLeft(t *testing.T) {
	issuerEnv, _ := asymmetricEnv(t)
	srv := newJWKSServer(t, issuerEnv.svc.JWKSHandler())
	v, _ := newJWKSVerifier(t, issuerEnv, srv.URL)
	cred := middleware.Credential{Kind: bearer.Kind, Token: issuerEnv.authenticate(t, "mary@example.com").AccessToken}
	gone, cancel := context.WithCancel(t.Context())
	cancel()
	for range 50 { // refresh's select used to pick the free slot half the time
		_, err := v.Verify(gone, cred)
		require.ErrorIs(t, err, middleware.ErrUnavailable)
	}
	_, err := v.Verify(t.Context(), cred)
	require.NoError(t, err)
	assert.EqualValues(t, 1, srv.fetches.Load())
}

// redirectingTransport answers the JWKS URL with a redirect to target, and
// target with doc; it records every URL it is asked for.
type redirectingTransport struct {
	from, target, doc string
	mu                sync.Mutex
	asked             []string
}

func (rt *redirectingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	rt.mu.Lock()
	rt.asked = append(rt.asked, r.URL.String())
	rt.mu.Unlock()
	rec := httptest.NewRecorder()
	if r.URL.String() == rt.from {
		http.Redirect(rec, r, rt.target, http.StatusFound)
	} else {
		_, _ = rec.WriteString(rt.doc)
	}
	return rec.Result(), nil
}

// TestJWKSVerifierFollowsRedirectsOnlyWhereItWouldFetch: the JWKS URL must
// be https (or http on loopback), and so must every URL a redirect leads
// to: the document is the trust anchor of every token. The client used to
// follow a redirect to plain HTTP anywhere and trust the keys found there.
func TestJWKSVerifierFollowsRedirectsOnlyWhereItWouldFetch(t *testing.T) {
	issuerEnv, _ := asymmetricEnv(t)
	published := httptest.NewRecorder()
	issuerEnv.svc.JWKSHandler().ServeHTTP(published, httptest.NewRequest(http.MethodGet, "/.well-known/jwks.json", nil))
	doc := published.Body.String()
	tok := issuerEnv.authenticate(t, "mary@example.com").AccessToken
	for target, want := range map[string]int{
		"http://203.0.113.9/jwks.json":       http.StatusServiceUnavailable,
		"https://keys.example.com/jwks.json": http.StatusOK,
		"http://127.0.0.1:9/jwks.json":       http.StatusOK,
		"ftp://keys.example.com/jwks.json":   http.StatusServiceUnavailable,
		"https://u:pw@keys.example.com/jwks": http.StatusServiceUnavailable,
	} {
		rt := &redirectingTransport{from: "https://issuer.example.com/jwks.json", target: target, doc: doc}
		_, h := newJWKSVerifier(t, issuerEnv, rt.from, bearer.WithHTTPClient(&http.Client{Transport: rt}))
		assert.Equal(t, want, get(h, tok).Code, target)
		rt.mu.Lock()
		followed := slices.Contains(rt.asked, target)
		rt.mu.Unlock()
		assert.Equal(t, want == http.StatusOK, followed, "%s: followed only when allowed", target)
	}
}

func TestJWKSVerifierWithSharedRevocationList(t *testing.T) {
	var issuerEnv *env
	list, err := bearer.NewMemoryRevocationList(bearer.WithStoreClock(func() time.Time { return issuerEnv.clock.Now() }))
	require.NoError(t, err)
	ed, err := bearer.NewEd25519Key(edKID, edPrivate)
	require.NoError(t, err)
	set, err := bearer.NewKeySet(ed)
	require.NoError(t, err)
	issuerEnv = newEnvWithKeys(t, set, bearer.WithRevocationList(list))
	srv := newJWKSServer(t, issuerEnv.svc.JWKSHandler())
	v, h := newJWKSVerifier(t, issuerEnv, srv.URL, bearer.WithRevocationList(list))
	loggedOut := issuerEnv.authenticate(t, "mary@example.com").AccessToken
	revoked := issuerEnv.authenticate(t, "admin@example.com").AccessToken
	told := issuerEnv.authenticate(t, "mary@example.com").AccessToken
	for _, tok := range []string{loggedOut, revoked, told} {
		require.Equal(t, http.StatusOK, get(h, tok).Code)
	}
	require.Equal(t, http.StatusOK, issuerEnv.call("POST", "/api/v1/logout", "", "Authorization", "Bearer "+loggedOut).Code)
	require.NoError(t, issuerEnv.svc.RevokeSubject(t.Context(), "u-admin"))
	require.Equal(t, http.StatusOK, issuerEnv.call("POST", "/api/v1/logout", "", "Authorization", "Bearer "+told).Code)

	// A fresh verifier sees the revocations at once.
	_, fresh := newJWKSVerifier(t, issuerEnv, srv.URL, bearer.WithRevocationList(list))
	for _, tok := range []string{loggedOut, revoked, told} {
		assert.Equal(t, http.StatusUnauthorized, get(fresh, tok).Code)
	}
	// The verifier's cache hears of a revocation from an Invalidator (a
	// redisstore.Broadcaster), or trusts a verification for at most
	// DefaultCacheTTL: it used to trust one until the token's exp, hours
	// after a logout.
	v.Cache().Invalidate(middleware.Credential{Kind: bearer.Kind, Token: told})
	assert.Equal(t, http.StatusUnauthorized, get(h, told).Code, "told at once")
	issuerEnv.clock.Advance(bearer.DefaultCacheTTL)
	assert.Equal(t, http.StatusUnauthorized, get(h, loggedOut).Code, "logged out a cache TTL ago")
	assert.Equal(t, http.StatusUnauthorized, get(h, revoked).Code, "revoked a cache TTL ago")
}

// TestCacheTTL: a revocation the cache is not told of (written into the
// shared list by someone else) takes effect once the cache TTL has passed.
func TestCacheTTL(t *testing.T) {
	list, err := bearer.NewMemoryRevocationList()
	require.NoError(t, err)
	e := newEnv(t, bearer.WithRevocationList(list), bearer.WithCacheTTL(10*time.Second))
	tok := e.authenticate(t, "mary@example.com").AccessToken
	require.Equal(t, http.StatusOK, e.whoami(tok).Code)
	now := e.clock.Now()
	require.NoError(t, list.RevokeSubject(t.Context(), "u-mary", now.Add(time.Second), now.Add(time.Hour)))
	e.clock.Advance(10 * time.Second)
	assert.Equal(t, http.StatusUnauthorized, e.whoami(tok).Code, "verified again after the cache TTL")
	for _, d := range []time.Duration{0, -time.Second, 25 * time.Hour} {
		_, err := bearer.New(e.login, testKeySet(t), bearer.WithCacheTTL(d))
		assert.Error(t, err, d)
	}
}

// TestNewJWKSVerifierRefusesCredentialsInItsURL: a JWKS URL with userinfo
// was accepted, while session.NewRemoteVerifier refuses credentials in its
// URL: a URL ends up in logs and error messages, and the password with it.
// The error says why without repeating the URL.
func TestNewJWKSVerifierRefusesCredentialsInItsURL(t *testing.T) {
	for _, url := range []string{
		"https://user:s3cret@issuer.example/.well-known/jwks.json",
		"https://user@issuer.example/jwks",
		"https://:s3cret@issuer.example/jwks",
		"http://user:s3cret@127.0.0.1:8080/jwks",
	} {
		v, err := bearer.NewJWKSVerifier(url)
		if !assert.Error(t, err, url) {
			require.NoError(t, v.Close())
			continue
		}
		assert.Contains(t, err.Error(), "credentials", url)
		assert.NotContains(t, err.Error(), "s3cret", url)
	}
}

func TestNewJWKSVerifierValidates(t *testing.T) {
	for _, url := range []string{"", "ftp://x", "http://example.com/jwks", "https://", "::"} {
		_, err := bearer.NewJWKSVerifier(url)
		assert.Error(t, err, url)
	}
	for _, url := range []string{"https://issuer.example/.well-known/jwks.json", "http://127.0.0.1:8080/jwks", "http://localhost/jwks", "http://[::1]/jwks"} {
		v, err := bearer.NewJWKSVerifier(url)
		require.NoError(t, err, url)
		require.NoError(t, v.Close())
	}
	for name, opt := range map[string]bearer.JWKSOption{
		"nil client":      bearer.WithHTTPClient(nil),
		"zero interval":   bearer.WithRefetchInterval(0),
		"zero max age":    bearer.WithJWKSMaxAge(0),
		"leeway":          bearer.WithLeeway(time.Hour),
		"nil option":      nil,
		"nil revocations": bearer.WithRevocationList(nil),
		"empty realm":     bearer.WithRealm(""),
		"zero cache":      bearer.WithCacheMaxEntries(0),
		"zero cache TTL":  bearer.WithCacheTTL(0),
	} {
		_, err := bearer.NewJWKSVerifier("https://issuer.example/jwks", opt)
		assert.Error(t, err, name)
	}
}

// countingTransport answers the JWKS document and counts the requests; a
// panicking one panics after the first, as a buggy RoundTripper of the
// application would.
type countingTransport struct {
	doc    string
	panics bool
	calls  atomic.Int32
}

func (c *countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if c.calls.Add(1) > 1 && c.panics {
		panic("transport bug")
	}
	rec := httptest.NewRecorder()
	_, _ = rec.WriteString(c.doc)
	return rec.Result(), nil
}

func publishedJWKS(e *env) string {
	rec := httptest.NewRecorder()
	e.svc.JWKSHandler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/.well-known/jwks.json", nil))
	return rec.Body.String()
}

// TestJWKSVerifierStartsNoRefreshOnceClosed: requests still arriving while
// the application shuts down start no background refresh once Close has
// begun, and none runs after it returned (a refresh started then raced
// with Close's wait, and fetched after it).
func TestJWKSVerifierStartsNoRefreshOnceClosed(t *testing.T) {
	issuerEnv, _ := asymmetricEnv(t)
	rt := &countingTransport{doc: publishedJWKS(issuerEnv)}
	v, _ := newJWKSVerifier(t, issuerEnv, "https://issuer.example.com/jwks.json",
		bearer.WithHTTPClient(&http.Client{Transport: rt}), bearer.WithRefetchInterval(time.Second))
	cred := middleware.Credential{Kind: bearer.Kind, Token: issuerEnv.authenticate(t, "mary@example.com").AccessToken}
	_, err := v.Verify(t.Context(), cred)
	require.NoError(t, err)

	stop := make(chan struct{})
	var requests sync.WaitGroup
	requests.Add(1)
	go func() { // requests in flight, each finding the document stale
		defer requests.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			issuerEnv.clock.Advance(bearer.DefaultJWKSMaxAge)
			_, _ = v.Verify(context.Background(), cred)
		}
	}()
	require.Eventually(t, func() bool { return rt.calls.Load() >= 3 }, 5*time.Second, time.Millisecond)
	require.NoError(t, v.Close())
	afterClose := rt.calls.Load()
	for range 100 {
		_, _ = v.Verify(context.Background(), cred)
	}
	close(stop)
	requests.Wait()
	assert.Equal(t, afterClose, rt.calls.Load(), "no fetch after Close returned")
}

// TestJWKSVerifierRecoversAPanicInABackgroundRefresh: a panic in a fetch
// used to happen on the request path, where it is recovered like any
// Verifier's (500). A stale document's refresh runs on a goroutine of its
// own, where the same panic would end the process: it is recovered there
// too, and the known keys keep working.
func TestJWKSVerifierRecoversAPanicInABackgroundRefresh(t *testing.T) {
	issuerEnv, _ := asymmetricEnv(t)
	rt := &countingTransport{doc: publishedJWKS(issuerEnv), panics: true}
	v, h := newJWKSVerifier(t, issuerEnv, "https://issuer.example.com/jwks.json",
		bearer.WithHTTPClient(&http.Client{Transport: rt}))
	require.Equal(t, http.StatusOK, get(h, issuerEnv.authenticate(t, "mary@example.com").AccessToken).Code)
	issuerEnv.clock.Advance(bearer.DefaultJWKSMaxAge + time.Second)
	assert.Equal(t, http.StatusOK, get(h, issuerEnv.authenticate(t, "admin@example.com").AccessToken).Code)
	require.NoError(t, v.Close()) // waits for the background refresh, which panicked
	assert.EqualValues(t, 2, rt.calls.Load(), "the background refresh ran")
}

// TestJWKSVerifierBoundsEveryFetch: fetches run with the verifier's own
// context, not the caller's, and each is bounded all the same: with a
// client that has no timeout of its own and an issuer that never answers,
// a request for a key gets its 503 instead of waiting for ever.
func TestJWKSVerifierBoundsEveryFetch(t *testing.T) {
	issuerEnv, _ := asymmetricEnv(t)
	release := make(chan struct{})
	srv := newJWKSServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select { // the issuer hangs
		case <-release:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(func() { close(release) })
	_, h := newJWKSVerifier(t, issuerEnv, srv.URL, bearer.WithHTTPClient(&http.Client{}))
	done := make(chan int, 1)
	go func() { done <- get(h, issuerEnv.authenticate(t, "mary@example.com").AccessToken).Code }()
	select {
	case code := <-done:
		assert.Equal(t, http.StatusServiceUnavailable, code)
	case <-time.After(middleware.DefaultVerifyTimeout + 5*time.Second):
		t.Fatal("the request is still waiting for the issuer, past the verify timeout")
	}
}

// TestES256SignatureTwin pins what SECURITY.md says of ECDSA signatures: an
// ES256 signature (r, s) has a twin (r, n-s) over the same claims, which
// verifies too (RFC 7518 does not ask for low S, and refusing the twin
// would refuse half the tokens of other ES256 issuers). Both spellings
// carry the same jti and login, so a logout with either ends both.
func TestES256SignatureTwin(t *testing.T) {
	ecPriv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	es, err := bearer.NewES256Key("es1", ecPriv)
	require.NoError(t, err)
	keys, err := bearer.NewKeySet(es)
	require.NoError(t, err)
	e := newEnvWithKeys(t, keys)
	token := e.authenticate(t, "mary@example.com").AccessToken

	dot := strings.LastIndexByte(token, '.')
	sig, err := base64.RawURLEncoding.DecodeString(token[dot+1:])
	require.NoError(t, err)
	require.Len(t, sig, 64)
	n := elliptic.P256().Params().N
	s := new(big.Int).SetBytes(sig[32:])
	twinSig := append(append([]byte{}, sig[:32]...), new(big.Int).Sub(n, s).FillBytes(make([]byte, 32))...)
	twin := token[:dot+1] + base64.RawURLEncoding.EncodeToString(twinSig)
	require.NotEqual(t, token, twin)

	assert.Equal(t, http.StatusOK, e.whoami(token).Code)
	assert.Equal(t, http.StatusOK, e.whoami(twin).Code, "the twin verifies")
	require.Equal(t, http.StatusOK, e.call("POST", "/api/v1/logout", "", "Authorization", "Bearer "+twin).Code)
	assert.Equal(t, http.StatusUnauthorized, e.whoami(token).Code, "a logout with the twin ends the token")
	assert.Equal(t, http.StatusUnauthorized, e.whoami(twin).Code)
}
