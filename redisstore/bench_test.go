package redisstore_test

import (
	"fmt"
	"net/http"
	"net/netip"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tidegate/tidegate/internal/benchkit"
	"github.com/tidegate/tidegate/internal/redistest"
	"github.com/tidegate/tidegate/middleware"
	"github.com/tidegate/tidegate/redisstore"
)

// BenchmarkFloor is the cost every figure here compares with.
func BenchmarkFloor(b *testing.B) {
	benchkit.Run(b, benchkit.Floor(benchkit.OK), http.StatusOK, benchkit.Request("/"))
}

const benchSessions = 64

// seed stores benchSessions sessions and returns their digests.
func seed(b *testing.B, s middleware.SessionStore) []middleware.TokenDigest {
	b.Helper()
	digests := make([]middleware.TokenDigest, benchSessions)
	for i := range digests {
		digests[i] = middleware.DigestToken(middleware.NewToken())
		err := s.Create(ctx, digests[i], middleware.Session{
			Subject: fmt.Sprint("user", i), Actor: middleware.ActorUser, Roles: []string{"reader", "writer"},
			IssuedAt: time.Now(), ExpiresAt: time.Now().Add(time.Hour), AbsoluteExpiresAt: time.Now().Add(24 * time.Hour),
		})
		require.NoError(b, err)
	}
	return digests
}

// benchLookup measures store.Lookup alone, serially and in parallel.
func benchLookup(b *testing.B, s middleware.SessionStore) {
	digests := seed(b, s)
	b.Run("serial", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			if _, err := s.Lookup(ctx, digests[i%len(digests)]); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for i := 0; pb.Next(); i++ {
				if _, err := s.Lookup(ctx, digests[i%len(digests)]); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
}

// BenchmarkRedisSessionLookup is an uncached session lookup over loopback:
// one HMGET and the decoding of the record.
func BenchmarkRedisSessionLookup(b *testing.B) {
	tg := redistest.Shared(b)
	s, err := redisstore.NewSessionStore(tg.Client, redisstore.WithPrefix(tg.Prefix))
	require.NoError(b, err)
	benchLookup(b, s)
}

// BenchmarkMemorySessionLookup is the same lookup in the in-memory store,
// for comparison.
func BenchmarkMemorySessionLookup(b *testing.B) {
	s, err := middleware.NewMemorySessionStore()
	require.NoError(b, err)
	benchLookup(b, s)
}

// BenchmarkRedisSessionLookupHTTP is an uncached request whose credential
// is looked up in Redis (digest, HMGET, principal in the context): what a
// cache miss costs on top of the floor.
func BenchmarkRedisSessionLookupHTTP(b *testing.B) {
	tg := redistest.Shared(b)
	s, err := redisstore.NewSessionStore(tg.Client, redisstore.WithPrefix(tg.Prefix))
	require.NoError(b, err)
	requests := make([]*http.Request, benchSessions)
	for i := range requests {
		token := middleware.NewToken()
		require.NoError(b, s.Create(ctx, middleware.DigestToken(token), middleware.Session{
			Subject: fmt.Sprint("user", i), Roles: []string{"reader"}, ExpiresAt: time.Now().Add(time.Hour),
		}))
		requests[i] = benchkit.Request("/", "X-Tidepool-Session-Token", token)
	}
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sess, err := s.Lookup(r.Context(), middleware.DigestToken(r.Header.Get("X-Tidepool-Session-Token")))
		if err != nil {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		p := middleware.Principal{Subject: sess.Subject, Roles: sess.Roles, ExpiresAt: sess.ExpiresAt}
		benchkit.OK.ServeHTTP(w, r.WithContext(middleware.NewContext(r.Context(), p)))
	})
	benchkit.Run(b, h, http.StatusOK, requests...)
}

// BenchmarkRedisLimiterAttempt is one counted login attempt.
func BenchmarkRedisLimiterAttempt(b *testing.B) {
	tg := redistest.Shared(b)
	l, err := redisstore.NewLoginLimiter(tg.Client, middleware.LimiterPolicy{}, redisstore.WithPrefix(tg.Prefix))
	require.NoError(b, err)
	addr := netip.MustParseAddr("192.0.2.1")
	names := make([]string, 64)
	for i := range names {
		names[i] = fmt.Sprint("user", i)
	}
	b.Run("serial", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			if _, err := l.Attempt(ctx, names[i%len(names)], addr); err != nil {
				b.Fatal(err)
			}
		}
	})
}
