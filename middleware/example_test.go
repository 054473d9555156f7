package middleware_test

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"time"

	"github.com/tidegate/tidegate/middleware"
)

// exampleTokens is the backend of the examples: session token -> user.
var exampleTokens = map[string]middleware.Principal{
	"tok-mary": {Subject: "88144f5ea3", Roles: []string{"user"}, Scopes: []string{"records:read"}},
	"tok-root": {Subject: "1dd5a6e3b1", Roles: []string{"user", "admin"}, Scopes: []string{"records:read", "records:write"}},
}

// exampleVerifier looks tokens up in exampleTokens. It hands out a clone:
// a Verifier's principal is handed over to the cache (see Verifier), so it
// must not share its slices with the table.
var exampleVerifier = middleware.VerifierFunc(func(ctx context.Context, c middleware.Credential) (middleware.Principal, error) {
	p, ok := exampleTokens[c.Token]
	if !ok {
		return middleware.Principal{}, middleware.Invalid("unknown token")
	}
	return p.Clone(), nil
})

// bearerScheme builds a Bearer scheme over exampleVerifier.
func bearerScheme() *middleware.Scheme {
	ex, err := middleware.NewAuthorizationExtractor("bearer", "Bearer")
	if err != nil {
		panic(err)
	}
	s, err := middleware.NewScheme("bearer", ex, exampleVerifier,
		middleware.Challenge{Scheme: "Bearer", Realm: "records", RFC6750: true})
	if err != nil {
		panic(err)
	}
	return s
}

// whoami answers with the authenticated subject, or "anonymous".
var whoami = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	if p, ok := middleware.FromRequest(r); ok {
		fmt.Fprintf(w, "hello %s", p.Subject)
		return
	}
	fmt.Fprint(w, "hello anonymous")
})

// show sends a GET with the given header pairs and prints what came back.
func show(h http.Handler, headerPairs ...string) {
	req := httptest.NewRequest(http.MethodGet, "/whoami", nil)
	for i := 0; i+1 < len(headerPairs); i += 2 {
		req.Header.Add(headerPairs[i], headerPairs[i+1])
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	fmt.Println(rec.Code)
	for _, ch := range rec.Header().Values("WWW-Authenticate") {
		fmt.Println("  WWW-Authenticate:", ch)
	}
	if rec.Code == http.StatusOK {
		fmt.Println(" ", rec.Body.String())
	}
}

// Require lets only authenticated requests through. A request without a
// credential is challenged; a wrong one is told invalid_token (RFC 6750).
func ExampleRequire() {
	h := middleware.Require(bearerScheme())(whoami)

	show(h)
	show(h, "Authorization", "Bearer tok-mary")
	show(h, "Authorization", "Bearer tok-forged")
	show(h, "Authorization", "Bearer\ttok-mary")
	// Output:
	// 401
	//   WWW-Authenticate: Bearer realm="records"
	// 200
	//   hello 88144f5ea3
	// 401
	//   WWW-Authenticate: Bearer realm="records", error="invalid_token"
	// 400
	//   WWW-Authenticate: Bearer realm="records", error="invalid_request"
}

// Optional lets anonymous requests through, but never downgrades a
// credential that is present and wrong to anonymous.
func ExampleOptional() {
	h := middleware.Optional(bearerScheme())(whoami)

	show(h)
	show(h, "Authorization", "Bearer tok-mary")
	show(h, "Authorization", "Bearer tok-forged")
	// Output:
	// 200
	//   hello anonymous
	// 200
	//   hello 88144f5ea3
	// 401
	//   WWW-Authenticate: Bearer realm="records", error="invalid_token"
}

// Any accepts one credential of any of several kinds: here a session token
// header or HTTP Basic. None gets one challenge per kind; two kinds at once
// are refused as ambiguous.
func ExampleAny() {
	session, err := middleware.NewHeaderExtractor("session", "x-tidepool-session-token")
	if err != nil {
		panic(err)
	}
	sessionScheme, err := middleware.NewScheme("session", session, exampleVerifier,
		middleware.Challenge{Scheme: "X-Tidepool-Session-Token", Realm: "tidepool", RFC6750: true})
	if err != nil {
		panic(err)
	}
	basic, err := middleware.NewBasicExtractor("basic")
	if err != nil {
		panic(err)
	}
	basicScheme, err := middleware.NewScheme("basic", basic, exampleVerifier,
		middleware.Challenge{Scheme: "Basic", Realm: "tapglue", Charset: true})
	if err != nil {
		panic(err)
	}
	anyKind, err := middleware.Any(sessionScheme, basicScheme)
	if err != nil {
		panic(err)
	}
	h := anyKind(whoami)
	basicAuth := "Basic " + base64.StdEncoding.EncodeToString([]byte("tok-root:"))

	show(h)
	show(h, "X-Tidepool-Session-Token", "tok-mary")
	show(h, "Authorization", basicAuth)
	show(h, "X-Tidepool-Session-Token", "tok-mary", "Authorization", basicAuth)
	// Output:
	// 401
	//   WWW-Authenticate: X-Tidepool-Session-Token realm="tidepool"
	//   WWW-Authenticate: Basic realm="tapglue", charset="UTF-8"
	// 200
	//   hello 88144f5ea3
	// 200
	//   hello 1dd5a6e3b1
	// 400
	//   WWW-Authenticate: X-Tidepool-Session-Token realm="tidepool", error="invalid_request"
}

// RequireRole and RequireScope sit behind the authentication middleware and
// answer 403 (insufficient_scope) to principals that lack what they guard.
func ExampleRequireRole() {
	auth := middleware.Require(bearerScheme())
	admin := auth(middleware.RequireRole("admin")(whoami))
	writer := auth(middleware.RequireScope("records:write")(whoami))

	show(admin, "Authorization", "Bearer tok-mary")
	show(admin, "Authorization", "Bearer tok-root")
	show(writer, "Authorization", "Bearer tok-mary")
	// Output:
	// 403
	//   WWW-Authenticate: Bearer realm="records", error="insufficient_scope"
	// 200
	//   hello 1dd5a6e3b1
	// 403
	//   WWW-Authenticate: Bearer realm="records", error="insufficient_scope", scope="records:write"
}

// NewCache puts a verification cache in front of a slow or remote
// Verifier: the second request with a token does not reach the backend,
// and Invalidate makes the next one check again.
func ExampleNewCache() {
	calls := 0
	backend := middleware.VerifierFunc(func(ctx context.Context, c middleware.Credential) (middleware.Principal, error) {
		calls++
		return exampleVerifier.Verify(ctx, c)
	})
	cache, err := middleware.NewCache(backend, 5*time.Minute, middleware.WithMaxEntries(10_000))
	if err != nil {
		panic(err)
	}
	defer cache.Close()

	s, err := middleware.NewScheme("bearer", mustBearerExtractor(), cache,
		middleware.Challenge{Scheme: "Bearer", Realm: "records", RFC6750: true})
	if err != nil {
		panic(err)
	}
	h := middleware.Require(s)(whoami)

	show(h, "Authorization", "Bearer tok-mary")
	show(h, "Authorization", "Bearer tok-mary")
	fmt.Println("backend calls:", calls)

	cache.Invalidate(middleware.Credential{Kind: "bearer", Token: "tok-mary"})
	show(h, "Authorization", "Bearer tok-mary")
	fmt.Println("backend calls:", calls)

	_, err = middleware.NewCache(backend, 0)
	fmt.Println(err)
	// Output:
	// 200
	//   hello 88144f5ea3
	// 200
	//   hello 88144f5ea3
	// backend calls: 1
	// 200
	//   hello 88144f5ea3
	// backend calls: 2
	// tidegate: cache TTL must be positive
}

func mustBearerExtractor() middleware.Extractor {
	ex, err := middleware.NewAuthorizationExtractor("bearer", "Bearer")
	if err != nil {
		panic(err)
	}
	return ex
}

// FromRequest hands a handler its own copy of the principal: changing it
// changes nothing for the next request.
func ExampleFromRequest() {
	h := middleware.Require(bearerScheme())(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, ok := middleware.FromRequest(r)
		fmt.Println(ok, p.Subject, p.Kind, p.Roles, p.HasScope("records:read"))
		p.Roles[0] = "admin" // only this copy changes
	}))
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	req.Header.Set("Authorization", "Bearer tok-mary")
	h.ServeHTTP(httptest.NewRecorder(), req)
	h.ServeHTTP(httptest.NewRecorder(), req)

	// Outside the middleware there is no principal.
	_, ok := middleware.FromRequest(req)
	fmt.Println(ok)
	// Output:
	// true 88144f5ea3 bearer [user] true
	// true 88144f5ea3 bearer [user] true
	// false
}

// ExampleNamesScheme tells a malformed header of one scheme from a header
// of another, by the rule the Authorization extractors read headers with.
func ExampleNamesScheme() {
	for _, v := range []string{"Basic YTpi", "basic\tYTpi", "Basicx YTpi", "Bearer abc"} {
		fmt.Printf("%q: %v\n", v, middleware.NamesScheme(v, "Basic"))
	}
	// Output:
	// "Basic YTpi": true
	// "basic\tYTpi": true
	// "Basicx YTpi": false
	// "Bearer abc": false
}

// NewTrustedProxies names the load balancers in front of the server. Only
// a request whose peer is one of them has its X-Forwarded-For and
// X-Forwarded-Proto believed; a client sending them itself is ignored.
func ExampleNewTrustedProxies() {
	proxies, err := middleware.NewTrustedProxies("10.0.0.0/8", "192.0.2.10")
	if err != nil {
		panic(err)
	}
	for _, c := range []struct{ peer, forwardedFor, proto string }{
		{"10.1.2.3:41000", "198.51.100.7", "https"},               // through the load balancer
		{"10.1.2.3:41000", "203.0.113.66, 198.51.100.7", "https"}, // the client added a forged entry
		{"198.51.100.7:52000", "203.0.113.66", "https"},           // straight to the server
	} {
		req := httptest.NewRequest(http.MethodPost, "/auth/login", nil)
		req.RemoteAddr = c.peer
		req.Header.Set("X-Forwarded-For", c.forwardedFor)
		req.Header.Set("X-Forwarded-Proto", c.proto)
		fmt.Println(proxies.ClientAddr(req), proxies.IsHTTPS(req))
	}

	_, err = middleware.NewTrustedProxies("10.0.0.0/33")
	fmt.Println(err)
	// Output:
	// 198.51.100.7 true
	// 198.51.100.7 true
	// 198.51.100.7 false
	// tidegate: invalid trusted proxy range "10.0.0.0/33"
}

// ParseBasic reads HTTP Basic credentials strictly, for a login endpoint
// of your own: no header is ErrNoCredential, a broken one ErrMalformed.
func ExampleParseBasic() {
	for _, header := range []string{
		"Basic " + base64.StdEncoding.EncodeToString([]byte("mary@example.com:correct horse")),
		"",
		"Basic bWFyeUBleGFtcGxlLmNvbQ", // unpadded base64
		"Basic " + base64.StdEncoding.EncodeToString([]byte("no colon")),
	} {
		h := http.Header{}
		if header != "" {
			h.Set("Authorization", header)
		}
		user, password, err := middleware.ParseBasic(h, 4096)
		switch {
		case errors.Is(err, middleware.ErrNoCredential):
			fmt.Println("no credentials: 401 with a challenge")
		case errors.Is(err, middleware.ErrMalformed):
			fmt.Println("malformed: 400")
		default:
			fmt.Printf("user %q, password given: %v\n", user, password != "")
		}
	}
	// Output:
	// user "mary@example.com", password given: true
	// no credentials: 401 with a challenge
	// malformed: 400
	// malformed: 400
}

// NewMemoryLimiter throttles password logins in one process: here three
// attempts per login name per 15 minutes. The fourth wrong guess is refused
// without checking the password, until the window ends.
func ExampleNewMemoryLimiter() {
	now := time.Date(2030, time.January, 1, 9, 0, 0, 0, time.UTC)
	limiter, err := middleware.NewMemoryLimiter(
		middleware.LimiterPolicy{AccountAttempts: 3, Window: 15 * time.Minute},
		middleware.WithStoreClock(func() time.Time { return now }))
	if err != nil {
		panic(err)
	}
	hasher, _ := middleware.NewArgon2idHasher(middleware.TestArgon2Params) // production: DefaultArgon2Params
	login, _ := middleware.NewPasswordLogin(middleware.NewMemoryAccounts(),
		middleware.WithHasher(hasher), middleware.WithLimiter(limiter))

	client := netip.MustParseAddr("203.0.113.7")
	for attempt := 1; attempt <= 5; attempt++ {
		if attempt == 5 {
			now = now.Add(15 * time.Minute) // the window is over
		}
		_, err := login.Login(context.Background(), client, "mary@example.com", "guess")
		e := middleware.AsError(err)
		fmt.Println(attempt, e.Status, e.RetryAfter)
	}
	// Output:
	// 1 401 0s
	// 2 401 0s
	// 3 401 0s
	// 4 429 15m0s
	// 5 401 0s
}

// NewMemorySessionStore keeps session tokens of one process by their
// digest only: a copy of the store holds no usable token.
func ExampleNewMemorySessionStore() {
	ctx := context.Background()
	now := time.Date(2030, time.January, 1, 9, 0, 0, 0, time.UTC)
	store, err := middleware.NewMemorySessionStore(middleware.WithStoreMaxEntries(100_000),
		middleware.WithStoreClock(func() time.Time { return now }))
	if err != nil {
		panic(err)
	}

	token := middleware.NewToken() // handed to the client, never stored
	err = store.Create(ctx, middleware.DigestToken(token), middleware.Session{
		Subject: "88144f5ea3", Actor: middleware.ActorUser, IssuedAt: now, ExpiresAt: now.Add(time.Hour),
	})
	if err != nil {
		panic(err) // the store is full, or a Redis store is down: no session
	}
	s, err := store.Lookup(ctx, middleware.DigestToken(token))
	fmt.Println(s.Subject, err, store.Len())

	now = now.Add(2 * time.Hour)
	_, err = store.Lookup(ctx, middleware.DigestToken(token))
	fmt.Println(errors.Is(err, middleware.ErrSessionNotFound))
	// Output:
	// 88144f5ea3 <nil> 1
	// true
}

// ExampleRetryAfterSeconds renders delays as Retry-After values: whole
// seconds, rounded up, at least one.
func ExampleRetryAfterSeconds() {
	fmt.Println(middleware.RetryAfterSeconds(1500 * time.Millisecond))
	fmt.Println(middleware.RetryAfterSeconds(15 * time.Minute))
	fmt.Println(middleware.RetryAfterSeconds(0))
	// Output:
	// 2
	// 900
	// 1
}
