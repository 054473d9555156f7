package redisstore_test

import (
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tidegate/tidegate/basicauth"
	"github.com/tidegate/tidegate/bearer"
	"github.com/tidegate/tidegate/internal/benchkit"
	"github.com/tidegate/tidegate/internal/redistest"
	"github.com/tidegate/tidegate/middleware"
	"github.com/tidegate/tidegate/redisstore"
	tidepool "github.com/tidegate/tidegate/session"
	"github.com/tidegate/tidegate/tidegatetest"
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

// redisSessions returns a session store on the shared test Redis.
func redisSessions(b *testing.B) *redisstore.SessionStore {
	tg := redistest.Shared(b)
	s, err := redisstore.NewSessionStore(tg.Client, redisstore.WithPrefix(tg.Prefix))
	require.NoError(b, err)
	return s
}

// memorySessions returns an in-memory session store.
func memorySessions(b *testing.B) *middleware.MemorySessionStore {
	s, err := middleware.NewMemorySessionStore()
	require.NoError(b, err)
	return s
}

// BenchmarkRedisSessionLookup is an uncached session lookup over loopback:
// one HMGET and the decoding of the record.
func BenchmarkRedisSessionLookup(b *testing.B) {
	s := redisSessions(b)
	benchLookup(b, s)
}

// BenchmarkMemorySessionLookup is the same lookup in the in-memory store,
// for comparison.
func BenchmarkMemorySessionLookup(b *testing.B) {
	s := memorySessions(b)
	benchLookup(b, s)
}

// BenchmarkRedisSessionLookupHTTP is an uncached request whose credential
// is looked up in Redis (digest, HMGET, principal in the context): what a
// cache miss costs on top of the floor.
func BenchmarkRedisSessionLookupHTTP(b *testing.B) {
	s := redisSessions(b)
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

// rotator rotates the refresh tokens of one family, one after the other.
type rotator struct {
	s    bearer.RefreshStore
	now  func() time.Time
	ttl  time.Duration
	fam  bearer.Family
	cur  middleware.TokenDigest
	next uint64
}

func newRotator(b *testing.B, s bearer.RefreshStore, now func() time.Time, ttl time.Duration, id string) *rotator {
	start := now()
	r := &rotator{s: s, now: now, ttl: ttl, fam: bearer.Family{ID: id, Subject: "user-" + id, CreatedAt: start, ExpiresAt: start.Add(24 * time.Hour)}}
	r.cur = r.digest()
	require.NoError(b, s.Create(ctx, r.fam, r.cur, start.Add(ttl)))
	return r
}

// digest returns a fresh token digest (no crypto/rand in the loop).
func (r *rotator) digest() middleware.TokenDigest {
	r.next++
	var d middleware.TokenDigest
	copy(d[:], r.fam.ID)
	binary.BigEndian.PutUint64(d[24:], r.next)
	return d
}

func (r *rotator) rotate() error {
	now := r.now()
	next := r.digest()
	_, err := r.s.Rotate(ctx, bearer.Rotation{
		Presented: r.cur, Family: r.fam.ID, Subject: r.fam.Subject, Now: now,
		Next: next, NextExpiresAt: now.Add(r.ttl),
	})
	r.cur = next
	return err
}

// benchRotate measures one refresh-token rotation (check, mark used, store
// the next token), serially and in parallel (a family per goroutine).
// Every used token is kept until it expires, ttl after its rotation.
func benchRotate(b *testing.B, s bearer.RefreshStore, now func() time.Time, ttl time.Duration) {
	var ids atomic.Int64 // -count runs the sub-benchmarks again on the same store
	b.Run("serial", func(b *testing.B) {
		b.ReportAllocs()
		r := newRotator(b, s, now, ttl, fmt.Sprint("serial-", ids.Add(1)))
		for b.Loop() {
			if err := r.rotate(); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			r := newRotator(b, s, now, ttl, fmt.Sprint("parallel-", ids.Add(1)))
			for pb.Next() {
				if err := r.rotate(); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
}

// BenchmarkRedisRefreshRotate is an uncached refresh over loopback: one
// EVALSHA of the rotation script.
func BenchmarkRedisRefreshRotate(b *testing.B) {
	tg := redistest.Shared(b)
	s, err := redisstore.NewRefreshStore(tg.Client, redisstore.WithPrefix(tg.Prefix))
	require.NoError(b, err)
	benchRotate(b, s, time.Now, time.Hour)
}

// BenchmarkMemoryRefreshRotate is the same rotation in the in-memory store.
// Its clock moves a millisecond per call (of any goroutine) and tokens live
// a minute, so that some sixty thousand used tokens are kept and swept: at
// the speed of memory, an hour's worth of used tokens would fill the store.
func BenchmarkMemoryRefreshRotate(b *testing.B) {
	var ticks atomic.Int64
	start := time.Now()
	now := func() time.Time { return start.Add(time.Duration(ticks.Add(1)) * time.Millisecond) }
	s, err := bearer.NewMemoryRefreshStore(bearer.WithStoreClock(now))
	require.NoError(b, err)
	benchRotate(b, s, now, time.Minute)
}

// benchRevoked measures the revocation check of a token that is not
// revoked (the common case: none of its three entries exists), with a few
// revocations of other tokens in the list.
func benchRevoked(b *testing.B, l bearer.RevocationList) {
	now := time.Now()
	for i := range benchSessions {
		require.NoError(b, l.RevokeToken(ctx, fmt.Sprint("revoked-", i), now.Add(time.Hour)))
		require.NoError(b, l.RevokeSubject(ctx, fmt.Sprint("user", i), now.Add(-time.Hour), now.Add(time.Hour)))
	}
	refs := make([]bearer.TokenRef, benchSessions)
	for i := range refs {
		refs[i] = bearer.TokenRef{ID: fmt.Sprint("jti-", i), Login: fmt.Sprint("sid-", i), Subject: fmt.Sprint("user", i), IssuedAt: now}
	}
	check := func(i int) error {
		revoked, err := l.Revoked(ctx, refs[i%len(refs)])
		if err == nil && revoked {
			err = errors.New("revoked")
		}
		return err
	}
	b.Run("serial", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			if err := check(i); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for i := 0; pb.Next(); i++ {
				if err := check(i); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
}

// BenchmarkRedisRevoked is the revocation check of an uncached bearer
// token over loopback: one MGET.
func BenchmarkRedisRevoked(b *testing.B) {
	tg := redistest.Shared(b)
	l, err := redisstore.NewRevocationList(tg.Client, redisstore.WithPrefix(tg.Prefix))
	require.NoError(b, err)
	benchRevoked(b, l)
}

// BenchmarkMemoryRevoked is the same check in the in-memory list.
func BenchmarkMemoryRevoked(b *testing.B) {
	l, err := bearer.NewMemoryRevocationList()
	require.NoError(b, err)
	benchRevoked(b, l)
}

// BenchmarkRedisAppLookup is the app-token lookup of an uncached Basic
// credential over loopback: one EVALSHA of the lookup script.
func BenchmarkRedisAppLookup(b *testing.B) {
	tg := redistest.Shared(b)
	r, err := redisstore.NewAppRegistry(tg.Client, redisstore.WithPrefix(tg.Prefix))
	require.NoError(b, err)
	digests := make([]middleware.TokenDigest, 16)
	for i := range digests {
		tokens := basicauth.NewAppTokens()
		require.NoError(b, r.Register(ctx, basicauth.AppSpec{ID: fmt.Sprint("app", i), AppToken: tokens.AppToken, BackendToken: tokens.BackendToken}))
		digests[i] = middleware.DigestToken(tokens.AppToken)
	}
	b.Run("serial", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			if _, err := r.Lookup(ctx, basicauth.AppToken, digests[i%len(digests)]); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// benchSessionCached serves cached session tokens through a session.Service
// on store: Require, the cache-first lookup, the principal in the context.
// The store is asked only while the cache warms, so the figure must not
// depend on which store it is.
func benchSessionCached(b *testing.B, store middleware.SessionStore) {
	login, err := middleware.NewPasswordLogin(middleware.NewMemoryAccounts())
	require.NoError(b, err)
	svc, err := tidepool.New(login, tidepool.WithStore(store), tidepool.WithLogger(slog.New(slog.DiscardHandler)))
	require.NoError(b, err)
	b.Cleanup(func() { _ = svc.Close() })
	h := middleware.Require(svc.Scheme())(benchkit.OK)
	requests := make([]*http.Request, benchSessions)
	for i := range requests {
		token := tidegatetest.IssueSession(b, store, middleware.Session{
			Subject: fmt.Sprint("user", i), Actor: middleware.ActorUser, Roles: []string{"reader"},
			ExpiresAt: time.Now().Add(time.Hour), AbsoluteExpiresAt: time.Now().Add(24 * time.Hour),
		})
		requests[i] = benchkit.Request("/", tidepool.HeaderToken, token)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, requests[i]) // warm the cache
		require.Equal(b, http.StatusOK, rec.Code)
	}
	benchkit.Run(b, h, http.StatusOK, requests...)
}

// BenchmarkSessionCachedRedis: cached session tokens of a Redis store.
func BenchmarkSessionCachedRedis(b *testing.B) {
	s := redisSessions(b)
	benchSessionCached(b, s)
}

// BenchmarkSessionCachedMemory: the same with the in-memory store.
func BenchmarkSessionCachedMemory(b *testing.B) {
	s := memorySessions(b)
	benchSessionCached(b, s)
}
