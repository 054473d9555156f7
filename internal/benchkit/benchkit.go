// Package benchkit is the one benchmark harness every tidegate package
// uses, so that each package's figures compare with the same floor in the
// same run.
package benchkit

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"github.com/tidegate/tidegate/middleware"
)

// Writer is a reusable ResponseWriter for benchmarks that drive their own
// loop. Prefer a fresh httptest.NewRecorder per iteration, as Run does, so
// that figures compare with Run's floor.
type Writer struct {
	header http.Header
	Status int
}

// NewWriter returns an empty Writer.
func NewWriter() *Writer { return &Writer{header: http.Header{}} }

// Header implements http.ResponseWriter.
func (w *Writer) Header() http.Header { return w.header }

// Write implements http.ResponseWriter.
func (w *Writer) Write(p []byte) (int, error) { return len(p), nil }

// WriteHeader implements http.ResponseWriter.
func (w *Writer) WriteHeader(status int) { w.Status = status }

// OK is the bare handler every benchmark ends in: it answers 200 with no body.
var OK = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusOK) })

type floorKey struct{}

var floorPrincipal = &middleware.Principal{Subject: "floor", Kind: "floor"}

// Floor is the unavoidable cost of any auth middleware: it only attaches a
// constant principal to the request context and calls next.
func Floor(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), floorKey{}, floorPrincipal)))
	})
}

// Run benchmarks h serially and with b.RunParallel, as sub-benchmarks
// "serial" and "parallel". Each iteration serves one of requests (round
// robin; each goroutine starts at its own offset) into a fresh
// httptest.ResponseRecorder, which is what the issues mean by "through
// ServeHTTP with httptest": the baseline, the floor and every path pay the
// same recorder, so ratios compare the middleware alone. Every response
// must have status want.
func Run(b *testing.B, h http.Handler, want int, requests ...*http.Request) {
	b.Helper()
	if len(requests) == 0 {
		b.Fatal("benchkit.Run needs at least one request")
	}
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

// Request returns a GET request for path with the given header pairs.
func Request(path string, headerPairs ...string) *http.Request {
	r := httptest.NewRequest(http.MethodGet, path, nil)
	for i := 0; i+1 < len(headerPairs); i += 2 {
		r.Header.Add(headerPairs[i], headerPairs[i+1])
	}
	return r
}
