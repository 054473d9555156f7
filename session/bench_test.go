package session_test

import (
	"context"
	"log/slog"
	"net/http"
	"runtime"
	"testing"
	"time"

	"github.com/tidegate/tidegate/internal/benchkit"
	"github.com/tidegate/tidegate/middleware"
	"github.com/tidegate/tidegate/session"
)

// Targets, as ratios of ns/op against BenchmarkFloor in the same run:
//
//	BenchmarkCachedSession        <= 1.25x
//	BenchmarkUncachedStoreLookup  <= 3x

// BenchmarkFloor is the cost every auth middleware pays: attaching a
// principal to the request context.
//
// The floor runs beside a store of the same size as the other benchmarks'
// (see benchSessions): what a heap holds changes what the garbage collector
// costs every allocation, and without the store the floor measured about a
// quarter less than beside it, where every path it is compared with runs.
func BenchmarkFloor(b *testing.B) {
	store, _ := benchSessions(b)
	benchkit.Run(b, benchkit.Floor(benchkit.OK), http.StatusOK, benchkit.Request("/"))
	runtime.KeepAlive(store)
}

// benchSessions returns a memory store holding 10,000 live sessions on the
// real clock, and requests carrying 64 of their tokens.
func benchSessions(b *testing.B) (*middleware.MemorySessionStore, []*http.Request) {
	b.Helper()
	store, err := middleware.NewMemorySessionStore()
	if err != nil {
		b.Fatal(err)
	}
	var reqs []*http.Request
	now := time.Now()
	for i := range 10_000 {
		token := middleware.NewToken()
		err := store.Create(context.Background(), middleware.DigestToken(token), middleware.Session{
			Subject: "user" + string(rune('a'+i%26)), Actor: middleware.ActorUser, Roles: []string{"user"},
			IssuedAt: now, ExpiresAt: now.Add(time.Hour), AbsoluteExpiresAt: now.Add(time.Hour),
		})
		if err != nil {
			b.Fatal(err)
		}
		if i < 64 {
			reqs = append(reqs, benchkit.Request("/records", session.HeaderToken, token))
		}
	}
	runtime.GC()
	return store, reqs
}

// BenchmarkCachedSession is the hot path: a request whose token the
// service's cache already holds, through middleware.Require(svc.Scheme()).
func BenchmarkCachedSession(b *testing.B) {
	store, reqs := benchSessions(b)
	login, err := middleware.NewPasswordLogin(middleware.NewMemoryAccounts(), middleware.WithHasher(hasher(b)))
	if err != nil {
		b.Fatal(err)
	}
	svc, err := session.New(login, session.WithStore(store), session.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		b.Fatal(err)
	}
	defer svc.Close()
	h := middleware.Require(svc.Scheme())(benchkit.OK)
	for _, r := range reqs { // warm the cache
		w := benchkit.NewWriter()
		h.ServeHTTP(w, r)
		if w.Status != http.StatusOK {
			b.Fatalf("warm-up status %d", w.Status)
		}
	}
	benchkit.Run(b, h, http.StatusOK, reqs...)
}

// BenchmarkUncachedStoreLookup is every request verified against the
// in-memory store, with no cache at all: the scheme wraps NewStoreVerifier
// directly. Each request pays the extractor, a SHA-256 of the token, the
// store's lock and map lookup, and the principal's copy. It measures the
// in-memory store, not a network store (Redis adds a round trip).
func BenchmarkUncachedStoreLookup(b *testing.B) {
	store, reqs := benchSessions(b)
	v, err := session.NewStoreVerifier(store)
	if err != nil {
		b.Fatal(err)
	}
	scheme, err := session.NewScheme(v, middleware.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		b.Fatal(err)
	}
	benchkit.Run(b, middleware.Require(scheme)(benchkit.OK), http.StatusOK, reqs...)
}
