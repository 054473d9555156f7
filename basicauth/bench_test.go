package basicauth_test

import (
	"context"
	"crypto/tls"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tidegate/tidegate/basicauth"
	"github.com/tidegate/tidegate/internal/benchkit"
	"github.com/tidegate/tidegate/middleware"
)

// BenchmarkFloor is the cost every auth middleware pays: the ratios of the
// other benchmarks are against it, in the same run.
func BenchmarkFloor(b *testing.B) {
	benchkit.Run(b, benchkit.Floor(benchkit.OK), http.StatusOK, tlsRequest(""))
}

// tlsRequest is a GET as it reaches a handler over TLS.
func tlsRequest(auth string) *http.Request {
	var r *http.Request
	if auth == "" {
		r = benchkit.Request("/")
	} else {
		r = benchkit.Request("/", "Authorization", auth)
	}
	r.TLS = &tls.ConnectionState{}
	return r
}

// warm sends each request once, so that the benchmark sees cache hits.
func warm(b *testing.B, h http.Handler, want int, reqs []*http.Request) {
	for _, r := range reqs {
		w := benchkit.NewWriter()
		h.ServeHTTP(w, r)
		if w.Status != want {
			b.Fatalf("warm-up status %d, want %d", w.Status, want)
		}
	}
}

// BenchmarkCachedAppCredentials: app token + session token, verified
// before, through RequireUser (HTTPS check, HSTS, cache hit). Target: at
// most 1.25x BenchmarkFloor, with no allocation for decoding beyond the
// floor's. Today it makes four more than the floor: three for the
// Strict-Transport-Security header (the map slot, and the recorder's copy
// of a non-empty header), which every HTTPS response must carry, and one
// for decoding: middleware.NewBasicExtractor allocates the decoded string,
// which only the core can avoid (BenchmarkBareCoreBasic shows it alone).
func BenchmarkCachedAppCredentials(b *testing.B) {
	f := newFixture(b, fixtureConfig{realClock: true})
	token := middleware.NewToken()
	err := f.sessions.Create(b.Context(), middleware.DigestToken(token), middleware.Session{
		Subject: maryID, App: "a", Roles: []string{"user"}, ExpiresAt: time.Now().Add(time.Hour),
	})
	if err != nil {
		b.Fatal(err)
	}
	reqs := []*http.Request{tlsRequest(basic(appA + ":" + token))}
	h := f.svc.RequireUser()(benchkit.OK)
	warm(b, h, http.StatusOK, reqs)
	benchkit.Run(b, h, http.StatusOK, reqs...)
}

// BenchmarkCachedBackendCredentials: backend token + user id, verified
// before, through RequireUser.
func BenchmarkCachedBackendCredentials(b *testing.B) {
	f := newFixture(b, fixtureConfig{realClock: true})
	reqs := []*http.Request{tlsRequest(basic(backendA + ":" + maryID))}
	h := f.svc.RequireUser()(benchkit.OK)
	warm(b, h, http.StatusOK, reqs)
	benchkit.Run(b, h, http.StatusOK, reqs...)
}

// unknownTokens is how many distinct unknown app tokens each variant of
// BenchmarkUnknownAppToken cycles through: far more than the refusals a
// cache remembers (middleware.DefaultMaxRefusals slots), so that a token's
// remembered refusal has been overwritten long before it comes round again
// and every request is looked up in the registry.
const unknownTokens = 1 << 16

// BenchmarkUnknownAppToken rejects app tokens that share 0, 16 or 31
// leading characters with a real one. The three must take the same time
// within noise: the registry is keyed by SHA-256 digest. Replaying a few
// tokens timed the cache's remembered refusals instead of the registry.
func BenchmarkUnknownAppToken(b *testing.B) {
	f := newFixture(b, fixtureConfig{realClock: true})
	h := f.svc.RequireUser()(benchkit.OK)
	rng := rand.New(rand.NewPCG(1, 2))
	for _, shared := range []int{0, 16, 31} {
		// A session token of its own per header: with 31 characters shared
		// there are only 15 app tokens, and the credential must still be
		// one the cache has not just refused.
		headers := make([]string, unknownTokens)
		for i := range headers {
			headers[i] = basic(sharingPrefix(rng, appA, shared) + ":" + middleware.NewToken())
		}
		b.Run("shared="+strconv.Itoa(shared), func(b *testing.B) {
			req := tlsRequest("x")
			slot := req.Header["Authorization"]
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				slot[0] = headers[i%len(headers)]
				w := benchkit.NewWriter()
				h.ServeHTTP(w, req)
				if w.Status != http.StatusUnauthorized {
					b.Fatalf("status %d, want 401", w.Status)
				}
			}
		})
	}
}

// sharingPrefix returns a random lowercase hex token of len(token) that
// shares exactly its first n characters with token.
func sharingPrefix(rng *rand.Rand, token string, n int) string {
	const digits = "0123456789abcdef"
	out := []byte(token)
	for i := n; i < len(out); i++ {
		out[i] = digits[rng.IntN(16)]
	}
	if n < len(out) && out[n] == token[n] {
		out[n] = digits[(strings.IndexByte(digits, out[n])+1+rng.IntN(15))%16]
	}
	return string(out)
}

func TestSharingPrefix(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for range 200 {
		for _, n := range []int{0, 16, 31} {
			got := sharingPrefix(rng, appA, n)
			if len(got) != len(appA) || got[:n] != appA[:n] || got[n] == appA[n] {
				t.Fatalf("sharingPrefix(%d) = %q", n, got)
			}
		}
	}
}

// BenchmarkBareCoreBasic is the core alone: middleware.NewBasicExtractor and
// a cache hit through middleware.Require, without this package's HTTPS
// check, HSTS or renderer. Comparing it with BenchmarkCachedAppCredentials
// separates this package's overhead from the core's.
func BenchmarkBareCoreBasic(b *testing.B) {
	ex, err := middleware.NewBasicExtractor(basicauth.Kind)
	if err != nil {
		b.Fatal(err)
	}
	cache, err := middleware.NewCache(middleware.VerifierFunc(
		func(context.Context, middleware.Credential) (middleware.Principal, error) {
			return middleware.Principal{Subject: "u", Roles: []string{"user"}}, nil
		}), time.Minute)
	if err != nil {
		b.Fatal(err)
	}
	defer cache.Close()
	scheme, err := middleware.NewScheme(basicauth.Kind, ex, cache, middleware.Challenge{Scheme: "Basic", Realm: "x"},
		middleware.WithLogger(discard))
	if err != nil {
		b.Fatal(err)
	}
	h := middleware.Require(scheme)(benchkit.OK)
	reqs := []*http.Request{tlsRequest(basic(appA + ":" + middleware.NewToken()))}
	warm(b, h, http.StatusOK, reqs)
	benchkit.Run(b, h, http.StatusOK, reqs...)
}

// BenchmarkRegistryLookupUnknown is the registry part of
// BenchmarkUnknownAppToken alone (digest and map lookup, no scheduler
// work): the same tokens, the same expectation of equal times.
func BenchmarkRegistryLookupUnknown(b *testing.B) {
	reg, err := basicauth.NewMemoryRegistry(basicauth.AppSpec{Name: "a", AppToken: appA, BackendToken: backendA})
	if err != nil {
		b.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for _, shared := range []int{0, 16, 31} {
		tokens := make([]string, 16)
		for i := range tokens {
			tokens[i] = sharingPrefix(rng, appA, shared)
		}
		b.Run("shared="+strconv.Itoa(shared), func(b *testing.B) {
			b.ReportAllocs()
			ctx := b.Context()
			for i := 0; b.Loop(); i++ {
				if _, err := reg.Lookup(ctx, basicauth.AppToken, middleware.DigestToken(tokens[i%len(tokens)])); err == nil {
					b.Fatal("found an unknown token")
				}
			}
		})
	}
}
