package benchmarks

import (
	"context"
	"net/http"
	"net/http/httptest"
	"runtime"
	"sync/atomic"
	"testing"
)

// The harness is the one of the core's internal/benchkit, copied because an
// internal package cannot be imported from another module: every iteration
// serves one pre-built request into a fresh httptest.NewRecorder, so the
// baseline, the floor, tidegate and every peer pay the same recorder.

// ok is the bare handler every benchmark ends in: 200, no body.
var ok = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusOK) })

type floorKey struct{}

// floorPrincipal is any constant value: the floor attaches it and nothing else.
var floorPrincipal = &struct{ Subject string }{Subject: "floor"}

// floor is the unavoidable cost of any auth middleware: it only attaches a
// constant principal to the request context and calls next.
func floor(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), floorKey{}, floorPrincipal)))
	})
}

// run benchmarks h serially and with b.RunParallel, as sub-benchmarks
// "serial" and "parallel". Each iteration serves one of requests (round
// robin; each goroutine starts at its own offset) into a fresh recorder,
// and every response must have status want.
func run(b *testing.B, h http.Handler, want int, requests ...*http.Request) {
	b.Helper()
	if len(requests) == 0 {
		b.Fatal("run needs at least one request")
	}
	inWorld(b)
	b.Run("serial", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, requests[i%len(requests)])
			if rec.Code != want {
				b.Fatalf("status %d, want %d", rec.Code, want)
			}
		}
	})
	b.Run("parallel", func(b *testing.B) {
		b.ReportAllocs()
		var goroutines atomic.Int64
		b.RunParallel(func(pb *testing.PB) {
			i := int(goroutines.Add(1)) * 7919 // spread goroutines over the requests
			for pb.Next() {
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, requests[i%len(requests)])
				if rec.Code != want {
					b.Errorf("status %d, want %d", rec.Code, want)
					return
				}
				i++
			}
		})
	})
}

// firstSight describes a benchmark whose every request carries a credential
// the middleware has never verified: a first sight (a cache miss, the full
// verification and the cache insert).
type firstSight struct {
	handler http.Handler
	want    int
	// request returns a request to fill; header is the name of the header
	// whose first value each iteration replaces.
	request func() *http.Request
	header  string
	// values returns at least n distinct header values (fewer when its pool
	// is capped), minting more as needed; they are kept across rounds.
	values func(b *testing.B, n int) []string
	// purge forgets every verified credential.
	purge func()
}

// maxPool caps how many distinct credentials a first-sight benchmark mints.
// A round longer than that goes through the pool in laps and forgets every
// cached credential between laps, so every request is still a first sight:
// serially with the timer stopped, in parallel inline (a go-cache flush
// every maxPool requests, amortised to nothing; a goroutine that lags behind
// a lap boundary may make one cache hit per lap).
const maxPool = 1 << 15

// runFirstSight benchmarks fs serially and in parallel.
func runFirstSight(b *testing.B, fs firstSight) {
	b.Helper()
	inWorld(b)
	prepare := func(b *testing.B) []string {
		values := fs.values(b, min(b.N, maxPool))
		if len(values) == 0 {
			b.Fatal("no credentials minted")
		}
		fs.purge()
		b.ReportAllocs()
		b.ResetTimer()
		return values
	}
	b.Run("serial", func(b *testing.B) {
		req := fs.request()
		slot := req.Header[fs.header]
		values := prepare(b)
		for i := 0; i < b.N; i++ {
			j := i % len(values)
			if j == 0 && i > 0 {
				b.StopTimer()
				fs.purge()
				b.StartTimer()
			}
			slot[0] = values[j]
			rec := httptest.NewRecorder()
			fs.handler.ServeHTTP(rec, req)
			if rec.Code != fs.want {
				b.Fatalf("status %d, want %d", rec.Code, fs.want)
			}
		}
	})
	b.Run("parallel", func(b *testing.B) {
		values := prepare(b)
		var next atomic.Int64
		b.RunParallel(func(pb *testing.PB) {
			req := fs.request()
			slot := req.Header[fs.header]
			for pb.Next() {
				i := int(next.Add(1) - 1)
				j := i % len(values)
				if j == 0 && i > 0 {
					fs.purge()
				}
				slot[0] = values[j]
				rec := httptest.NewRecorder()
				fs.handler.ServeHTTP(rec, req)
				if rec.Code != fs.want {
					b.Errorf("status %d, want %d", rec.Code, fs.want)
					return
				}
			}
		})
	})
}

// request returns a GET /whoami with the given header pairs.
func request(headerPairs ...string) *http.Request {
	r := httptest.NewRequest(http.MethodGet, "/whoami", nil)
	for i := 0; i+1 < len(headerPairs); i += 2 {
		r.Header.Add(headerPairs[i], headerPairs[i+1])
	}
	return r
}

// inWorld makes sure the world is built, and collects the garbage, before a
// benchmark starts: every benchmark, the baselines and the floor included,
// then runs beside the same heap. What a heap holds changes what the
// garbage collector costs every allocation, so a ratio means something only
// between benchmarks run beside the same one; the floor used to run before
// the world was built and measured about 25% less than it does beside it,
// where every path it is compared with runs.
func inWorld(b *testing.B) {
	getWorld(b)
	runtime.GC()
}

// BenchmarkBaseline is the bare handler: the harness's own cost.
func BenchmarkBaseline(b *testing.B) { run(b, ok, http.StatusOK, request()) }

// BenchmarkFloor is a middleware that only attaches a constant principal to
// the request context: the least any auth middleware can cost, and the
// yardstick of the cached-path targets.
func BenchmarkFloor(b *testing.B) { run(b, floor(ok), http.StatusOK, request()) }
