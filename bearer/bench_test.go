package bearer_test

import (
	"net/http"
	"net/http/httptest"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/tidegate/tidegate/bearer"
	"github.com/tidegate/tidegate/internal/benchkit"
	"github.com/tidegate/tidegate/middleware"
)

// The benchmarks compare, in one run:
//
//   - BenchmarkFloor: the cost of any auth middleware (benchkit.Floor);
//   - BenchmarkCachedHS256: a request whose token was verified before
//     (target: at most 1.25 times the floor);
//   - BenchmarkParseWithClaimsHS256 / EdDSA: a bare golang-jwt
//     ParseWithClaims of the same token, as the bearer verifier makes it
//     minus tidegate: a jwt.Parser built once with the same options, the
//     same typed claims (bearer.Claims), a Keyfunc that returns the key; no
//     header rules, no revocation check, no HTTP around it;
//   - BenchmarkFirstSightHS256 / EdDSA: a request through
//     middleware.Require whose token the cache has never seen (target: at
//     most 1.2 times the bare parse plus the floor). Every iteration uses a
//     token of its own: b.N distinct tokens (jti and subject differ) are
//     minted before the timer starts and the cache is purged, so every
//     request is a real miss: full verification, revocation check, cache
//     insert;
//   - BenchmarkInvalidSignature: a request with a forged token never seen
//     before (target: no slower than a first sight), walked through as
//     first sight walks its pool: the cache remembers a refusal for a few
//     seconds, so replaying a few forged tokens timed that memory instead.
//
// Every request is served into a fresh httptest.ResponseRecorder, as
// benchkit.Run does for the floor, so that every figure pays the same
// recorder. Every request goes through the real middleware with the
// service's defaults, except the logger: slog.DiscardHandler, so that
// failure logs (Info) measure the decision and not the terminal.

func BenchmarkFloor(b *testing.B) {
	inPoolState()
	benchkit.Run(b, benchkit.Floor(benchkit.OK), http.StatusOK, benchkit.Request("/"))
}

// inPoolState mints both token pools, if they are not yet, and collects the
// garbage, so that the floor and the cached path run beside the heap that
// first sight and the bare parse run beside, whatever ran before. What a
// heap holds changes what the garbage collector costs every allocation: the
// floor, which ran first and so without the pools, measured about 30% more
// than it does beside them, while the cached path ran beside them already.
func inPoolState() {
	hsPool.all()
	edPool.all()
	runtime.GC()
}

// newBenchService returns a service on the real clock with HS256 signing
// and an Ed25519 verification key.
// poolSize is the number of distinct tokens first sight walks through. A
// lap ends before the cache (100,000 entries by default) is full, and the
// cache is purged between laps, so first sight is measured without
// eviction and with a live heap that does not grow with b.N.
const poolSize = 20_000

func newBenchService(b *testing.B) *bearer.Service {
	login, err := middleware.NewPasswordLogin(middleware.NewMemoryAccounts())
	if err != nil {
		b.Fatal(err)
	}
	svc, err := bearer.New(login, testKeySet(b), bearer.WithIssuer(issuer), bearer.WithAudience(audient), bearer.WithLogger(quiet))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = svc.Close() })
	return svc
}

// mintBench signs token number i the way Service does (the same header and
// claims type), for subject i%1000.
func mintBench(method jwt.SigningMethod, kid string, key any, i int) string {
	now := time.Now()
	c := bearer.Claims{
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer:    issuer,
			Subject:   "u-" + strconv.Itoa(i%1000),
			Audience:  jwt.ClaimStrings{audient},
			ExpiresAt: jwt.NewNumericDate(now.Add(8 * time.Hour)),
			IssuedAt:  jwt.NewNumericDate(now),
			ID:        "jti-" + strconv.Itoa(i),
		},
		LoginID: "sid-" + strconv.Itoa(i),
		Roles:   []string{"user"},
	}
	t := jwt.NewWithClaims(method, c)
	t.Header["typ"] = "at+jwt"
	t.Header["kid"] = kid
	s, err := t.SignedString(key)
	if err != nil {
		panic(err)
	}
	return s
}

func mintHS(i int) string { return mintBench(jwt.SigningMethodHS256, hsKID, testSecret, i) }
func mintEd(i int) string { return mintBench(jwt.SigningMethodEdDSA, edKID, edPrivate, i) }

// tokenPool holds "Bearer <token>" header values, minted on demand and
// kept across benchmark rounds.
type tokenPool struct {
	mint    func(int) string
	headers []string
}

func (p *tokenPool) atLeast(n int) []string {
	for i := len(p.headers); i < n; i++ {
		p.headers = append(p.headers, "Bearer "+p.mint(i))
	}
	return p.headers
}

// all returns the whole pool, minting it on first use.
func (p *tokenPool) all() []string { return p.atLeast(poolSize) }

var (
	hsPool = &tokenPool{mint: mintHS}
	edPool = &tokenPool{mint: mintEd}
	// forgedPool holds HS256 tokens under the right kid, signed with the
	// wrong secret.
	forgedPool = &tokenPool{mint: func(i int) string { return mintBench(jwt.SigningMethodHS256, hsKID, otherSecret, i) }}
)

// BenchmarkParseWithClaimsHS256 is the bare golang-jwt parse that first
// sight is measured against: the same parser options, the same typed
// claims, and the same pool of distinct tokens as BenchmarkFirstSightHS256,
// each parsed once per round. Parsing one token over and over would keep it
// hot in the CPU caches and flatter the bare figure by about a microsecond
// against first sight, which by definition sees each token once.
func BenchmarkParseWithClaimsHS256(b *testing.B) { benchBareParse(b, hsPool, testSecret) }

// BenchmarkParseWithClaimsEdDSA is the EdDSA counterpart.
func BenchmarkParseWithClaimsEdDSA(b *testing.B) { benchBareParse(b, edPool, edPublic) }

func benchBareParse(b *testing.B, pool *tokenPool, key any) {
	keyFunc := func(*jwt.Token) (any, error) { return key, nil }
	parser := jwt.NewParser(
		jwt.WithValidMethods([]string{"EdDSA", "HS256"}), // the algorithms of testKeySet
		jwt.WithStrictDecoding(),
		jwt.WithIssuer(issuer),
		jwt.WithAudience(audient),
		jwt.WithIssuedAt(),
		jwt.WithLeeway(bearer.DefaultLeeway),
		jwt.WithExpirationRequired(),
	)
	parse := func(header string) error {
		var c bearer.Claims
		_, err := parser.ParseWithClaims(strings.TrimPrefix(header, "Bearer "), &c, keyFunc)
		return err
	}
	headers := pool.all()
	b.Run("serial", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			if err := parse(headers[i%len(headers)]); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("parallel", func(b *testing.B) {
		var next atomic.Int64
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if err := parse(headers[int(next.Add(1)-1)%len(headers)]); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
}

func BenchmarkFirstSightHS256(b *testing.B) { benchNeverSeen(b, hsPool, http.StatusOK) }

func BenchmarkFirstSightEdDSA(b *testing.B) { benchNeverSeen(b, edPool, http.StatusOK) }

// benchNeverSeen serves every token of pool once per lap, the cache
// (successes and remembered refusals alike) purged between laps, so that
// every request is verified; each must be answered want.
func benchNeverSeen(b *testing.B, pool *tokenPool, want int) {
	svc := newBenchService(b)
	h := middleware.Require(svc.Scheme())(benchkit.OK)
	cache := svc.Scheme().Verifier().(*middleware.Cache)
	headers := pool.all()
	serve := func(req *http.Request, header string) bool {
		req.Header["Authorization"][0] = header
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec.Code == want
	}
	b.Run("serial", func(b *testing.B) {
		req := benchkit.Request("/", "Authorization", "")
		cache.Purge()
		b.ReportAllocs()
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			if i > 0 && i%len(headers) == 0 { // a new lap: every token is new again
				b.StopTimer()
				cache.Purge()
				b.StartTimer()
			}
			if !serve(req, headers[i%len(headers)]) {
				b.Fatalf("status other than %d", want)
			}
		}
	})
	b.Run("parallel", func(b *testing.B) {
		cache.Purge()
		var next atomic.Int64
		b.ReportAllocs()
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			req := benchkit.Request("/", "Authorization", "")
			for pb.Next() {
				i := int(next.Add(1) - 1)
				if i > 0 && i%len(headers) == 0 {
					cache.Purge() // inline: once per lap of 20,000 requests
				}
				if !serve(req, headers[i%len(headers)]) {
					b.Errorf("status other than %d", want)
					return
				}
			}
		})
	})
}

func BenchmarkCachedHS256(b *testing.B) {
	inPoolState()
	svc := newBenchService(b)
	h := middleware.Require(svc.Scheme())(benchkit.OK)
	reqs := make([]*http.Request, 64)
	for i := range reqs {
		reqs[i] = benchkit.Request("/", "Authorization", "Bearer "+mintHS(1_000_000+i))
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, reqs[i]) // verify once: every timed request is a hit
		if rec.Code != http.StatusOK {
			b.Fatalf("status %d", rec.Code)
		}
	}
	benchkit.Run(b, h, http.StatusOK, reqs...)
}

func BenchmarkInvalidSignature(b *testing.B) {
	inPoolState()
	benchNeverSeen(b, forgedPool, http.StatusUnauthorized)
}
