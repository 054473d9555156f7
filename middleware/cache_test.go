package middleware_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/tidegate/tidegate/middleware"
)

func bearerCred(token string) middleware.Credential {
	return middleware.Credential{Kind: kindBearer, Token: token}
}

// countingVerifier answers every credential with a principal derived from
// it (Subject is the quoted kind, token and secret, so no two credentials
// share one) and counts its calls per credential.
type countingVerifier struct {
	mu    sync.Mutex
	calls map[string]int
	total atomic.Int64
}

func subjectOf(c middleware.Credential) string {
	return strconv.Quote(string(c.Kind)) + "|" + strconv.Quote(c.Token) + "|" + strconv.Quote(c.Secret)
}

func (v *countingVerifier) Verify(_ context.Context, c middleware.Credential) (middleware.Principal, error) {
	v.total.Add(1)
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.calls == nil {
		v.calls = map[string]int{}
	}
	v.calls[subjectOf(c)]++
	return middleware.Principal{Subject: subjectOf(c)}, nil
}

func (v *countingVerifier) count(c middleware.Credential) int {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.calls[subjectOf(c)]
}

func TestNewCacheValidates(t *testing.T) {
	v := &testVerifier{}
	cases := []struct {
		name string
		v    middleware.Verifier
		ttl  time.Duration
		opts []middleware.CacheOption
	}{
		{"nil verifier", nil, time.Minute, nil},
		{"nil verifier pointer", (*testVerifier)(nil), time.Minute, nil},
		{"nil verifier func", middleware.VerifierFunc(nil), time.Minute, nil},
		// go-cache reads a zero TTL as "never expires".
		{"zero TTL", v, 0, nil},
		{"negative TTL", v, -time.Second, nil},
		// ... and a zero cleanup interval as "never sweep".
		{"zero cleanup interval", v, time.Minute, []middleware.CacheOption{middleware.WithCleanupInterval(0)}},
		{"negative cleanup interval", v, time.Minute, []middleware.CacheOption{middleware.WithCleanupInterval(-time.Second)}},
		{"zero max entries", v, time.Minute, []middleware.CacheOption{middleware.WithMaxEntries(0)}},
		{"negative max entries", v, time.Minute, []middleware.CacheOption{middleware.WithMaxEntries(-1)}},
		{"zero verify timeout", v, time.Minute, []middleware.CacheOption{middleware.WithVerifyTimeout(0)}},
		{"nil option", v, time.Minute, []middleware.CacheOption{nil}},
		{"nil clock", v, time.Minute, []middleware.CacheOption{middleware.WithClock(nil)}},
		{"nil observer", v, time.Minute, []middleware.CacheOption{middleware.WithObserver(nil)}},
		{"nil observer pointer", v, time.Minute, []middleware.CacheOption{middleware.WithObserver((*middleware.NopObserver)(nil))}},
	}
	before := runtime.NumGoroutine()
	for _, tc := range cases {
		c, err := middleware.NewCache(tc.v, tc.ttl, tc.opts...)
		require.Error(t, err, tc.name)
		require.Nil(t, c, tc.name)
	}
	// A refused configuration starts no goroutine.
	require.LessOrEqual(t, runtime.NumGoroutine(), before)
}

// TestCacheTTL: an entry lives min(TTL, the principal's ExpiresAt), on the
// injected clock.
func TestCacheTTL(t *testing.T) {
	cases := []struct {
		name      string
		ttl       time.Duration
		expiresAt time.Time
		lifetime  time.Duration // how long the entry answers
		expired   bool          // whether the credential itself is expired after it
	}{
		{"TTL only", time.Minute, time.Time{}, time.Minute, false},
		{"expiry before TTL", 10 * time.Minute, t0.Add(time.Minute), time.Minute, true},
		{"TTL before expiry", time.Minute, t0.Add(10 * time.Minute), time.Minute, false},
		{"expiry equal to TTL", time.Minute, t0.Add(time.Minute), time.Minute, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			clock := newFakeClock()
			var calls atomic.Int64
			v := middleware.VerifierFunc(func(context.Context, middleware.Credential) (middleware.Principal, error) {
				calls.Add(1)
				return middleware.Principal{Subject: "u1", ExpiresAt: tc.expiresAt}, nil
			})
			c := newTestCache(t, v, tc.ttl, middleware.WithClock(clock.Now))
			cred := bearerCred("tok")

			_, err := c.Verify(context.Background(), cred)
			require.NoError(t, err)
			clock.Advance(tc.lifetime - time.Nanosecond)
			_, err = c.Verify(context.Background(), cred)
			require.NoError(t, err)
			require.EqualValues(t, 1, calls.Load(), "a hit until the end of the lifetime")

			clock.Advance(time.Nanosecond)
			_, err = c.Verify(context.Background(), cred)
			require.EqualValues(t, 2, calls.Load(), "verified again at the end of the lifetime")
			if tc.expired {
				require.ErrorIs(t, err, middleware.ErrInvalidCredential)
			} else {
				require.NoError(t, err)
			}
		})
	}
}

// doneCounter is a request context that counts the calls to its Done
// method. A request waiting for a verification another request leads
// selects on its context's Done channel, so the count tells the test how
// many requests are parked on the flight, without sleeping.
type doneCounter struct {
	context.Context
	onDone func()
}

func (c doneCounter) Done() <-chan struct{} {
	c.onDone()
	return c.Context.Done()
}

// TestCacheSingleflight: 1,000 concurrent requests with one uncached
// credential make exactly one Verifier call. The verifier blocks until every
// other request is waiting on its flight.
func TestCacheSingleflight(t *testing.T) {
	const n = 1000
	var (
		calls   atomic.Int64
		waiting atomic.Int64
		release = make(chan struct{})
	)
	v := middleware.VerifierFunc(func(ctx context.Context, c middleware.Credential) (middleware.Principal, error) {
		calls.Add(1)
		<-release
		return middleware.Principal{Subject: subjGood, Roles: []string{"user"}}, nil
	})
	cache := newTestCache(t, v, time.Minute, middleware.WithVerifyTimeout(time.Minute))
	h := middleware.Require(newScheme(t, bearerSpec, cache))(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sub, _ := middleware.SubjectFromContext(r.Context())
		_, _ = w.Write([]byte(sub))
	}))
	ctx := doneCounter{Context: context.Background(), onDone: func() {
		// The leader runs the verifier; the n-1 others wait on it.
		if waiting.Add(1) == n-1 {
			close(release)
		}
	}}

	var wg sync.WaitGroup
	codes := make([]int, n)
	bodies := make([]string, n)
	for i := range n {
		wg.Go(func() {
			req := newRequest().WithContext(ctx)
			bearerSpec.set(req.Header, tokGood)
			rec := serve(h, req)
			codes[i], bodies[i] = rec.Code, rec.Body.String()
		})
	}
	wg.Wait()
	require.EqualValues(t, 1, calls.Load())
	for i := range n {
		require.Equal(t, http.StatusOK, codes[i])
		require.Equal(t, subjGood, bodies[i])
	}
}

// TestCacheFlightOutlivesLeader: the leader's request is cancelled while the
// verification runs; the verification is not cancelled, the waiting request
// gets the principal, and the result is cached.
func TestCacheFlightOutlivesLeader(t *testing.T) {
	var (
		calls      atomic.Int64
		started    = make(chan struct{})
		release    = make(chan struct{})
		verifyErrs = make(chan error, 1)
	)
	v := middleware.VerifierFunc(func(ctx context.Context, c middleware.Credential) (middleware.Principal, error) {
		calls.Add(1)
		close(started)
		<-release
		verifyErrs <- ctx.Err()
		return middleware.Principal{Subject: "u1"}, nil
	})
	cache := newTestCache(t, v, time.Minute, middleware.WithVerifyTimeout(time.Minute))
	cred := bearerCred("tok")

	leaderCtx, cancelLeader := context.WithCancel(context.Background())
	leaderDone := make(chan error, 1)
	go func() {
		_, err := cache.Verify(leaderCtx, cred)
		leaderDone <- err
	}()
	<-started

	joined := make(chan struct{})
	waiterCtx := doneCounter{Context: context.Background(), onDone: func() { close(joined) }}
	waiterDone := make(chan middleware.Principal, 1)
	go func() {
		p, err := cache.Verify(waiterCtx, cred)
		assert.NoError(t, err)
		waiterDone <- p
	}()
	<-joined

	// A second waiter gives up when its own request is cancelled...
	quitterCtx, cancelQuitter := context.WithCancel(context.Background())
	quitterJoined := make(chan struct{})
	quitter := doneCounter{Context: quitterCtx, onDone: func() { close(quitterJoined) }}
	quitterDone := make(chan error, 1)
	go func() {
		_, err := cache.Verify(quitter, cred)
		quitterDone <- err
	}()
	<-quitterJoined
	cancelQuitter()
	err := <-quitterDone
	require.ErrorIs(t, err, middleware.ErrUnavailable)
	require.ErrorIs(t, err, context.Canceled)

	// ... and the leader's cancellation does not reach the verification.
	cancelLeader()
	close(release)
	require.NoError(t, <-verifyErrs, "the verifier's context was not cancelled with the leader's request")
	require.Equal(t, "u1", (<-waiterDone).Subject)
	require.NoError(t, <-leaderDone)

	_, err = cache.Verify(context.Background(), cred)
	require.NoError(t, err)
	require.EqualValues(t, 1, calls.Load(), "the result was cached")
}

// TestCacheVerifyTimeout: a Verifier that honours its context ends at the
// verify timeout (503 for the request that led it); one that ignores it
// still cannot hold the requests waiting on it past the timeout.
func TestCacheVerifyTimeout(t *testing.T) {
	t.Run("verifier honours its context", func(t *testing.T) {
		var deadline, called time.Time
		v := middleware.VerifierFunc(func(ctx context.Context, c middleware.Credential) (middleware.Principal, error) {
			called = time.Now()
			deadline, _ = ctx.Deadline()
			<-ctx.Done()
			return middleware.Principal{}, ctx.Err()
		})
		cache := newTestCache(t, v, time.Minute, middleware.WithVerifyTimeout(verifyTimeout))
		start := time.Now()
		_, err := cache.Verify(context.Background(), bearerCred("tok"))
		require.ErrorIs(t, err, middleware.ErrUnavailable)
		require.Equal(t, "timeout", middleware.AsError(err).Reason)
		// The cache reads its clock between start and the call: bounded by
		// both, not by a tolerance a descheduled thread can exceed.
		require.False(t, deadline.Before(start.Add(verifyTimeout)), "the context carries the deadline")
		require.False(t, deadline.After(called.Add(verifyTimeout)), "the context carries the deadline")
		require.Zero(t, cache.Len())
	})
	t.Run("verifier ignores its context", func(t *testing.T) {
		var (
			started = make(chan struct{})
			release = make(chan struct{})
		)
		v := middleware.VerifierFunc(func(ctx context.Context, c middleware.Credential) (middleware.Principal, error) {
			close(started)
			<-release
			return middleware.Principal{Subject: "u1"}, nil
		})
		cache := newTestCache(t, v, time.Minute, middleware.WithVerifyTimeout(verifyTimeout))
		leaderDone := make(chan error, 1)
		go func() {
			_, err := cache.Verify(context.Background(), bearerCred("tok"))
			leaderDone <- err
		}()
		<-started
		_, err := cache.Verify(context.Background(), bearerCred("tok"))
		require.ErrorIs(t, err, middleware.ErrUnavailable)
		require.Equal(t, "timeout", middleware.AsError(err).Reason)
		close(release)
		require.ErrorIs(t, <-leaderDone, middleware.ErrUnavailable, "the leader answered after the timeout: 503 too")
		_, err = cache.Verify(context.Background(), bearerCred("tok"))
		require.NoError(t, err, "the late success is cached for the next request")
	})
}

// TestVerifierReenteringTheCache: a Verifier may verify other credentials
// through the Cache that wraps it, even one whose verification another
// request leads. One that verifies, directly or through another
// credential, the credential it is verifying would wait on its own
// verification until the verify timeout (then 503): that call is answered
// at once with a 500 instead. The verify timeout is long, so a call that
// waited would fail the test by its reason, not by a clock.
func TestVerifierReenteringTheCache(t *testing.T) {
	ctx := context.Background()
	reentered := func(t *testing.T, err error) {
		t.Helper()
		var e *middleware.Error
		require.ErrorAs(t, err, &e)
		require.ErrorIs(t, err, middleware.ErrInternal)
		require.Equal(t, http.StatusInternalServerError, e.Status)
		require.Equal(t, "verifier re-entered the cache", e.Reason)
	}

	t.Run("the same credential is refused at once", func(t *testing.T) {
		var cache *middleware.Cache
		inner := make(chan error, 1)
		v := middleware.VerifierFunc(func(ctx context.Context, c middleware.Credential) (middleware.Principal, error) {
			_, err := cache.Verify(ctx, c) // a delegating Verifier asking the cache first
			inner <- err
			return middleware.Principal{}, err
		})
		cache = newTestCache(t, v, time.Hour, middleware.WithVerifyTimeout(10*time.Second))
		_, err := cache.Verify(ctx, bearerCred("tok"))
		reentered(t, <-inner)
		require.ErrorIs(t, err, middleware.ErrInternal, "the Verifier passed the error on")
	})

	t.Run("a cycle through another credential is refused at once", func(t *testing.T) {
		var cache *middleware.Cache
		inner := make(chan error, 1)
		v := middleware.VerifierFunc(func(ctx context.Context, c middleware.Credential) (middleware.Principal, error) {
			next := map[string]string{"a": "b", "b": "a"}[c.Token]
			_, err := cache.Verify(ctx, bearerCred(next))
			if c.Token == "b" {
				inner <- err // b's Verifier asked for a, whose Verifier asked for b
			}
			return middleware.Principal{}, err
		})
		cache = newTestCache(t, v, time.Hour, middleware.WithVerifyTimeout(10*time.Second))
		_, err := cache.Verify(ctx, bearerCred("a"))
		reentered(t, <-inner)
		require.ErrorIs(t, err, middleware.ErrInternal)
	})

	t.Run("another credential is verified", func(t *testing.T) {
		var cache *middleware.Cache
		var calls atomic.Int64
		v := middleware.VerifierFunc(func(ctx context.Context, c middleware.Credential) (middleware.Principal, error) {
			calls.Add(1)
			if c.Token == "outer" {
				p, err := cache.Verify(ctx, bearerCred("inner"))
				if err != nil {
					return middleware.Principal{}, err
				}
				return middleware.Principal{Subject: "via-" + p.Subject}, nil
			}
			return middleware.Principal{Subject: c.Token}, nil
		})
		cache = newTestCache(t, v, time.Hour, middleware.WithVerifyTimeout(10*time.Second))
		for range 2 {
			p, err := cache.Verify(ctx, bearerCred("outer"))
			require.NoError(t, err)
			require.Equal(t, "via-inner", p.Subject)
		}
		_, err := cache.Verify(ctx, bearerCred("inner"))
		require.NoError(t, err)
		require.EqualValues(t, 2, calls.Load(), "both were verified once and cached")
	})

	t.Run("another request's verification is joined", func(t *testing.T) {
		var cache *middleware.Cache
		var innerCalls atomic.Int64
		innerStarted, release := make(chan struct{}), make(chan struct{})
		releaseOnce := sync.OnceFunc(func() { close(release) })
		t.Cleanup(releaseOnce)
		joined := make(chan struct{})
		var once sync.Once
		v := middleware.VerifierFunc(func(ctx context.Context, c middleware.Credential) (middleware.Principal, error) {
			if c.Token == "outer" {
				// The request that leads inner's verification is not this
				// one: wait for it like any other request.
				waiter := doneCounter{Context: ctx, onDone: func() { once.Do(func() { close(joined) }) }}
				p, err := cache.Verify(waiter, bearerCred("inner"))
				if err != nil {
					return middleware.Principal{}, err
				}
				return middleware.Principal{Subject: "via-" + p.Subject}, nil
			}
			innerCalls.Add(1)
			close(innerStarted)
			<-release
			return middleware.Principal{Subject: c.Token}, nil
		})
		cache = newTestCache(t, v, time.Hour, middleware.WithVerifyTimeout(time.Minute))
		innerDone := make(chan error, 1)
		go func() { _, err := cache.Verify(ctx, bearerCred("inner")); innerDone <- err }()
		<-innerStarted
		outerDone := make(chan error, 1)
		go func() { _, err := cache.Verify(ctx, bearerCred("outer")); outerDone <- err }()
		select {
		case <-joined:
		case err := <-outerDone:
			t.Fatalf("the Verifier did not wait for another request's verification: %v", err)
		}
		releaseOnce()
		require.NoError(t, <-innerDone)
		require.NoError(t, <-outerDone)
		require.EqualValues(t, 1, innerCalls.Load())
	})
}

// TestCacheJudgesExpiryWhenTheVerifierAnswers: a principal that expires
// while the Verifier runs is refused, as a Scheme without a cache refuses
// it; it used to be judged as of when the verification began, and served.
// The Verifier here returns a principal expiring at the moment it answers,
// which is before the cache reads the clock again.
func TestCacheJudgesExpiryWhenTheVerifierAnswers(t *testing.T) {
	v := middleware.VerifierFunc(func(context.Context, middleware.Credential) (middleware.Principal, error) {
		return middleware.Principal{Subject: "u1", ExpiresAt: time.Now()}, nil
	})
	for name, verifier := range map[string]middleware.Verifier{"without a cache": v, "through a cache": newTestCache(t, v, time.Hour)} {
		h := middleware.Require(newScheme(t, sessionSpec, verifier))(principalHandler(&seen{}))
		req := newRequest()
		sessionSpec.set(req.Header, "tok")
		require.Equal(t, http.StatusUnauthorized, serve(h, req).Code, name)
	}
}

// liveHeap returns the bytes of live heap objects after a full collection.
func liveHeap() uint64 {
	runtime.GC()
	runtime.GC() // a second cycle frees what the first one's finalizers released
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// TestCacheSizeBound: a flood of distinct credentials keeps the cache, and
// the memory it holds, within its bound. The garbage flood sends 1,000,000
// distinct invalid credentials, none of which may leave anything behind. The
// valid flood inserts 1,000,000 credentials that verify; under the race
// detector (about ten times slower per insert) or with -short it inserts
// 100,000, which still fills and recycles every shard a hundred times over.
// Memory is measured as the live heap after a collection: unbounded, either
// flood would keep tens of megabytes (a cached principal costs hundreds of
// bytes); bounded, the cache holds at most maxEntries of them.
func TestCacheSizeBound(t *testing.T) {
	const (
		maxEntries = 1000
		heapBound  = 16 << 20
	)
	valid := 1_000_000
	if raceEnabled || testing.Short() {
		valid = 100_000
	}
	// The bound is kept per shard, 64 of them for this maxEntries (see
	// TestShardCount), so it is the configured count rounded up to a
	// multiple of 64. An insert evicts in its own critical section, so
	// concurrent inserters add nothing to it.
	const bound = (maxEntries + 63) / 64 * 64
	workers := runtime.GOMAXPROCS(0)

	cases := []struct {
		name  string
		total int
		// verify is the backend; it keeps nothing per credential, so the
		// heap measures the cache alone.
		verify middleware.VerifierFunc
		ok     bool
	}{
		{"valid credentials", valid, func(_ context.Context, c middleware.Credential) (middleware.Principal, error) {
			return middleware.Principal{Subject: "u-" + c.Token, Roles: []string{"user"}}, nil
		}, true},
		{"garbage credentials", 1_000_000, func(context.Context, middleware.Credential) (middleware.Principal, error) {
			return middleware.Principal{}, middleware.Invalid("unknown")
		}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var calls atomic.Int64
			v := middleware.VerifierFunc(func(ctx context.Context, c middleware.Credential) (middleware.Principal, error) {
				calls.Add(1)
				return tc.verify(ctx, c)
			})
			cache := newTestCache(t, v, time.Hour, middleware.WithMaxEntries(maxEntries))
			before := liveHeap()

			var (
				wg      sync.WaitGroup
				next    atomic.Int64
				maxSeen atomic.Int64
			)
			for range workers {
				wg.Go(func() {
					for {
						i := next.Add(1) - 1
						if i >= int64(tc.total) {
							return
						}
						_, err := cache.Verify(context.Background(), bearerCred("flood-"+strconv.FormatInt(i, 36)))
						if (err == nil) != tc.ok {
							t.Errorf("credential %d: %v", i, err)
							return
						}
						if i%10_000 == 0 {
							if n := int64(cache.Len()); n > maxSeen.Load() {
								maxSeen.Store(n)
							}
						}
					}
				})
			}
			wg.Wait()
			after := liveHeap()
			require.EqualValues(t, tc.total, calls.Load(), "every credential was new")
			require.LessOrEqual(t, cache.Len(), bound)
			require.LessOrEqual(t, int(maxSeen.Load()), bound)
			grown := int64(after) - int64(before)
			require.Less(t, grown, int64(heapBound), "live heap grew by %d bytes", grown)
			if !tc.ok {
				require.Zero(t, cache.Len(), "failures are never stored")
				return
			}
			require.Greater(t, cache.Len(), maxEntries/2, "the cache still holds recent entries")
			// The newest entry is still a hit.
			n := calls.Load()
			_, err := cache.Verify(context.Background(), bearerCred("flood-"+strconv.FormatInt(int64(tc.total-1), 36)))
			require.NoError(t, err)
			require.Equal(t, n, calls.Load(), "a hit")
		})
	}
}

// TestCacheKeysAreUnambiguous: credentials whose parts concatenate to the
// same string, or that differ only in kind, never share an entry.
func TestCacheKeysAreUnambiguous(t *testing.T) {
	creds := []middleware.Credential{
		{Kind: kindBasic, Token: "ab", Secret: "c"},
		{Kind: kindBasic, Token: "a", Secret: "bc"},
		{Kind: kindBasic, Token: "abc"},
		{Kind: kindBasic, Token: "a:b", Secret: ""},
		{Kind: kindBasic, Token: "a", Secret: "b"},
		{Kind: kindBasic, Token: "a:", Secret: "b"},
		{Kind: kindBasic, Token: "a", Secret: ":b"},
		{Kind: kindBasic, Token: "", Secret: "a:b"},
		{Kind: kindBasic, Token: ":", Secret: ""},
		{Kind: kindBasic, Token: "", Secret: ":"},
		{Kind: kindBasic, Token: "\x00", Secret: ""},
		{Kind: kindBasic, Token: "\x001:a", Secret: ""},
		{Kind: kindBasic, Token: "a", Secret: ""},
		{Kind: kindBasic},
		{Kind: kindSession, Token: "ab", Secret: "c"},
		{Kind: kindSession, Token: "abc"},
		{Kind: kindBearer, Token: "abc"},
	}
	v := &countingVerifier{}
	cache := newTestCache(t, v, time.Hour)
	for round := range 3 {
		for _, c := range creds {
			p, err := cache.Verify(context.Background(), c)
			require.NoError(t, err)
			require.Equal(t, subjectOf(c), p.Subject, "round %d: %q/%q/%q got another credential's principal", round, c.Kind, c.Token, c.Secret)
		}
	}
	// Credentials whose keys are the same string displace each other (one
	// entry per key string), so those are verified again: kinds sharing a
	// key, and a token "a:b" beside the parts ("a", "b"), whose keys are in
	// different forms. Every other credential was verified exactly once.
	for _, c := range creds[:14] {
		if c.Token == "abc" || (c.Token == "ab" && c.Secret == "c") ||
			(c.Token == "a:b" && c.Secret == "") || (c.Token == "a" && c.Secret == "b") {
			continue
		}
		require.Equal(t, 1, v.count(c), "%q/%q", c.Token, c.Secret)
	}

	// The same through extractors: Basic "a:b:c" splits at the first colon.
	ex := basicSpec.extractor(t)
	req := newRequest()
	req.Header.Set("Authorization", basicValue("a", "b:c"))
	c1, err := ex.Extract(req)
	require.NoError(t, err)
	require.Equal(t, middleware.Credential{Kind: kindBasic, Token: "a", Secret: "b:c"}.String(), c1.String())
	p, err := cache.Verify(context.Background(), c1)
	require.NoError(t, err)
	require.Equal(t, subjectOf(middleware.Credential{Kind: kindBasic, Token: "a", Secret: "b:c"}), p.Subject)
}

// TestCacheKindSeparation: one token presented as two kinds gets each
// kind's own principal, every time.
func TestCacheKindSeparation(t *testing.T) {
	v := middleware.VerifierFunc(func(_ context.Context, c middleware.Credential) (middleware.Principal, error) {
		return middleware.Principal{Subject: string(c.Kind) + "-user"}, nil
	})
	cache := newTestCache(t, v, time.Hour)
	for range 3 {
		for _, kind := range []middleware.Kind{kindSession, kindBearer} {
			p, err := cache.Verify(context.Background(), middleware.Credential{Kind: kind, Token: "shared"})
			require.NoError(t, err)
			require.Equal(t, string(kind)+"-user", p.Subject)
			require.Equal(t, kind, p.Kind)
		}
	}
}

// TestCacheDisplacedEntryLeavesSubjectIndex: when an entry is replaced by
// one of another kind and subject under the same key, the old subject no
// longer owns the key. Before, InvalidateSubject of the old subject deleted
// the new subject's entry (and the index kept the old one forever).
func TestCacheDisplacedEntryLeavesSubjectIndex(t *testing.T) {
	v := &countingVerifier{}
	cache := newTestCache(t, v, time.Hour)
	session := middleware.Credential{Kind: kindSession, Token: "shared"}
	bearer := middleware.Credential{Kind: kindBearer, Token: "shared"}
	ctx := context.Background()

	_, err := cache.Verify(ctx, session)
	require.NoError(t, err)
	_, err = cache.Verify(ctx, bearer) // displaces the session entry
	require.NoError(t, err)
	require.Equal(t, 1, cache.Len())

	cache.InvalidateSubject(subjectOf(session))
	_, err = cache.Verify(ctx, bearer)
	require.NoError(t, err)
	require.Equal(t, 1, v.count(bearer), "the bearer entry survived the session subject's invalidation")

	cache.InvalidateSubject(subjectOf(bearer))
	_, err = cache.Verify(ctx, bearer)
	require.NoError(t, err)
	require.Equal(t, 2, v.count(bearer))
}

// TestCacheChangedCredentialIsNotAHit: Token and Secret are exported, so a
// wrapping extractor may change them after extraction. The cache must key
// the credential as it is verified, not as it was extracted: a changed
// Secret used to hit the entry of the original one.
func TestCacheChangedCredentialIsNotAHit(t *testing.T) {
	v := middleware.VerifierFunc(func(_ context.Context, c middleware.Credential) (middleware.Principal, error) {
		if c.Token == "alice" && c.Secret == "right" {
			return middleware.Principal{Subject: "alice"}, nil
		}
		return middleware.Principal{}, middleware.Invalid("wrong password")
	})
	cache := newTestCache(t, v, time.Hour)
	ex := basicSpec.extractor(t)
	extract := func(user, password string) middleware.Credential {
		req := newRequest()
		req.Header.Set("Authorization", basicValue(user, password))
		c, err := ex.Extract(req)
		require.NoError(t, err)
		return c
	}

	_, err := cache.Verify(context.Background(), extract("alice", "right"))
	require.NoError(t, err)

	for _, change := range []func(*middleware.Credential){
		func(c *middleware.Credential) { c.Secret = "wrong" },
		func(c *middleware.Credential) { c.Secret = "" },
		func(c *middleware.Credential) { c.Token = "alice:right" },
		func(c *middleware.Credential) { c.Token, c.Secret = "alice:righ", "t" },
	} {
		c := extract("alice", "right")
		change(&c)
		_, err = cache.Verify(context.Background(), c)
		require.ErrorIs(t, err, middleware.ErrInvalidCredential, "%q/%q", c.Token, c.Secret)
	}
	// Unchanged, it is still a hit.
	_, err = cache.Verify(context.Background(), extract("alice", "right"))
	require.NoError(t, err)
}

// revocableVerifier is a backend whose credentials can be revoked. The
// first call can be made to block until released.
type revocableVerifier struct {
	calls   atomic.Int64
	revoked sync.Map // token -> true
	// block, when set, makes the first call signal started and wait for release.
	block            bool
	started, release chan struct{}
}

func newRevocable(block bool) *revocableVerifier {
	return &revocableVerifier{block: block, started: make(chan struct{}), release: make(chan struct{})}
}

func (v *revocableVerifier) Verify(_ context.Context, c middleware.Credential) (middleware.Principal, error) {
	if v.calls.Add(1) == 1 && v.block {
		close(v.started)
		<-v.release
		return middleware.Principal{Subject: "u-" + c.Token[:1]}, nil
	}
	if _, ok := v.revoked.Load(c.Token); ok {
		return middleware.Principal{}, middleware.Invalid("revoked")
	}
	return middleware.Principal{Subject: "u-" + c.Token[:1]}, nil
}

func TestCacheInvalidation(t *testing.T) {
	ctx := context.Background()
	// Tokens a1 and a2 belong to subject u-a, b1 to u-b.
	a1, a2, b1 := bearerCred("a1"), bearerCred("a2"), bearerCred("b1")

	t.Run("Invalidate takes effect on the next request", func(t *testing.T) {
		v := newRevocable(false)
		cache := newTestCache(t, v, time.Hour)
		for range 2 {
			_, err := cache.Verify(ctx, a1)
			require.NoError(t, err)
		}
		require.EqualValues(t, 1, v.calls.Load())
		v.revoked.Store("a1", true)
		cache.Invalidate(a1)
		_, err := cache.Verify(ctx, a1)
		require.ErrorIs(t, err, middleware.ErrInvalidCredential)
		require.EqualValues(t, 2, v.calls.Load())
	})

	// A Basic credential can be cached under two keys: its parts (built by
	// hand) and the token68 it arrived as (built by the extractor).
	// Invalidate must forget both, whichever of the two it is given; given
	// the extracted one, it used to leave the parts' entry cached.
	t.Run("Invalidate forgets both keys of a Basic credential", func(t *testing.T) {
		req := newRequest()
		req.Header.Set("Authorization", basicValue("alice", "pw"))
		extracted, err := basicSpec.extractor(t).Extract(req)
		require.NoError(t, err)
		handBuilt := middleware.Credential{Kind: kindBasic, Token: "alice", Secret: "pw"}
		for name, given := range map[string]middleware.Credential{"extracted": extracted, "built by hand": handBuilt} {
			v := newRevocable(false)
			cache := newTestCache(t, v, time.Hour)
			for _, c := range []middleware.Credential{extracted, handBuilt} {
				_, err := cache.Verify(ctx, c)
				require.NoError(t, err)
			}
			require.EqualValues(t, 2, v.calls.Load(), "%s: one entry per key", name)
			v.revoked.Store("alice", true)
			cache.Invalidate(given)
			for _, c := range []middleware.Credential{extracted, handBuilt} {
				_, err := cache.Verify(ctx, c)
				require.ErrorIs(t, err, middleware.ErrInvalidCredential, "%s: Invalidate given the %s credential", c.String(), name)
			}
		}
	})

	t.Run("InvalidateSubject takes every credential of the subject", func(t *testing.T) {
		v := newRevocable(false)
		cache := newTestCache(t, v, time.Hour)
		for _, c := range []middleware.Credential{a1, a2, b1} {
			_, err := cache.Verify(ctx, c)
			require.NoError(t, err)
		}
		v.revoked.Store("a1", true)
		v.revoked.Store("a2", true)
		cache.InvalidateSubject("u-a")
		for _, c := range []middleware.Credential{a1, a2} {
			_, err := cache.Verify(ctx, c)
			require.ErrorIs(t, err, middleware.ErrInvalidCredential)
		}
		_, err := cache.Verify(ctx, b1)
		require.NoError(t, err)
		require.EqualValues(t, 5, v.calls.Load(), "b1 stayed cached")
	})

	t.Run("Purge forgets everything", func(t *testing.T) {
		v := newRevocable(false)
		cache := newTestCache(t, v, time.Hour)
		for _, c := range []middleware.Credential{a1, b1} {
			_, err := cache.Verify(ctx, c)
			require.NoError(t, err)
		}
		cache.Purge()
		require.Zero(t, cache.Len())
		for _, c := range []middleware.Credential{a1, b1} {
			_, err := cache.Verify(ctx, c)
			require.NoError(t, err)
		}
		require.EqualValues(t, 4, v.calls.Load())
	})

	// A verification that began before the revocation must not be stored,
	// and a request after the invalidation must not join it. Invalidate
	// voids the flights of both keys of a Basic credential, whichever of
	// the two it is given.
	req := newRequest()
	req.Header.Set("Authorization", basicValue("alice", "pw"))
	extracted, err := basicSpec.extractor(t).Extract(req)
	require.NoError(t, err)
	handBuilt := middleware.Credential{Kind: kindBasic, Token: "alice", Secret: "pw"}
	for _, tc := range []struct {
		name       string
		cred       middleware.Credential // verified, revoked, then verified again
		invalidate func(*middleware.Cache)
	}{
		{"Invalidate during a verification", a1, func(c *middleware.Cache) { c.Invalidate(a1) }},
		{"Invalidate of the parts during a verification of the token68", extracted, func(c *middleware.Cache) { c.Invalidate(handBuilt) }},
		{"Invalidate of the token68 during a verification of the parts", handBuilt, func(c *middleware.Cache) { c.Invalidate(extracted) }},
		{"InvalidateSubject during a verification", a1, func(c *middleware.Cache) { c.InvalidateSubject("u-a") }},
		{"Purge during a verification", a1, func(c *middleware.Cache) { c.Purge() }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := newRevocable(true)
			cache := newTestCache(t, v, time.Hour)
			staleDone := make(chan error, 1)
			go func() {
				_, err := cache.Verify(ctx, tc.cred)
				staleDone <- err
			}()
			<-v.started

			v.revoked.Store(tc.cred.Token, true)
			tc.invalidate(cache)

			// The stale verification is still running; a new request starts
			// its own and sees the revocation.
			_, err := cache.Verify(ctx, tc.cred)
			require.ErrorIs(t, err, middleware.ErrInvalidCredential)

			close(v.release)
			require.NoError(t, <-staleDone, "the request that began before the revocation gets its answer")

			_, err = cache.Verify(ctx, tc.cred)
			require.ErrorIs(t, err, middleware.ErrInvalidCredential, "the stale result was not stored")
			require.EqualValues(t, 2, v.calls.Load(), "the new request's refusal is remembered, not replaced")
			require.Zero(t, cache.Len())
		})
	}

	t.Run("through the middleware", func(t *testing.T) {
		v := newRevocable(false)
		cache := newTestCache(t, v, time.Hour)
		h := middleware.Require(newScheme(t, sessionSpec, cache))(principalHandler(&seen{}))
		send := func() int {
			req := newRequest()
			sessionSpec.set(req.Header, "a1")
			return serve(h, req).Code
		}
		require.Equal(t, http.StatusOK, send())
		require.Equal(t, http.StatusOK, send())
		v.revoked.Store("a1", true)
		cache.Invalidate(middleware.Credential{Kind: kindSession, Token: "a1"})
		require.Equal(t, http.StatusUnauthorized, send())
	})
}

// TestInvalidateLeavesOtherCredentialsInFlight: Invalidate of one
// credential (another user's logout or refresh) voids the verifications of
// that credential only. A verification of another credential in flight
// meanwhile is still joined by the requests that come after the
// Invalidate, so that they make no Verifier call of their own, and its
// answer is cached, whether the two keys share a shard or not.
func TestInvalidateLeavesOtherCredentialsInFlight(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts []middleware.CacheOption
	}{
		{"many shards", nil},
		{"one shard", []middleware.CacheOption{middleware.WithMaxEntries(8)}}, // too small for two
	} {
		t.Run(tc.name, func(t *testing.T) {
			entered, release := make(chan struct{}), make(chan struct{})
			releaseOnce := sync.OnceFunc(func() { close(release) })
			t.Cleanup(releaseOnce) // should the test fail before it releases the leader
			var calls atomic.Int64
			v := middleware.VerifierFunc(func(_ context.Context, c middleware.Credential) (middleware.Principal, error) {
				if calls.Add(1) == 1 {
					close(entered)
					<-release
				}
				return middleware.Principal{Subject: "user-" + c.Token}, nil
			})
			opts := append([]middleware.CacheOption{middleware.WithVerifyTimeout(time.Minute)}, tc.opts...)
			cache := newTestCache(t, v, time.Hour, opts...)
			hot := bearerCred("hot-token")

			leader := make(chan error, 1)
			go func() { _, err := cache.Verify(context.Background(), hot); leader <- err }()
			<-entered
			cache.Invalidate(bearerCred("someone-elses-token")) // another user logs out

			// A request that joins the flight waits on its context's Done
			// channel; one that does not makes its own Verifier call, which
			// answers at once, and returns without ever asking for it.
			joined := make(chan struct{})
			var once sync.Once
			waiterCtx := doneCounter{Context: context.Background(), onDone: func() { once.Do(func() { close(joined) }) }}
			second := make(chan error, 1)
			go func() { _, err := cache.Verify(waiterCtx, hot); second <- err }()
			select {
			case <-joined:
			case err := <-second:
				t.Fatalf("the request after an unrelated Invalidate made a Verifier call of its own (%d calls, err %v)", calls.Load(), err)
			}
			releaseOnce()
			require.NoError(t, <-leader)
			require.NoError(t, <-second)

			_, err := cache.Verify(context.Background(), hot)
			require.NoError(t, err)
			require.EqualValues(t, 1, calls.Load(), "one Verifier call, and its answer was cached")
		})
	}
}

// TestInvalidateKeepsTheAnswerOfAnotherCredential: a verification during
// which another credential is invalidated is cached: the next request with
// it is a hit. (InvalidateSubject and Purge still void every verification
// in flight: whose subject it is is unknown until the Verifier answers.)
func TestInvalidateKeepsTheAnswerOfAnotherCredential(t *testing.T) {
	v := newRevocable(true)
	cache := newTestCache(t, v, time.Hour, middleware.WithVerifyTimeout(time.Minute))
	a1 := bearerCred("a1")
	done := make(chan error, 1)
	go func() { _, err := cache.Verify(context.Background(), a1); done <- err }()
	<-v.started
	cache.Invalidate(bearerCred("b1"))
	close(v.release)
	require.NoError(t, <-done)
	_, err := cache.Verify(context.Background(), a1)
	require.NoError(t, err)
	require.EqualValues(t, 1, v.calls.Load(), "the answer was cached")
}

// TestInvalidationRacesVerificationsInEveryShard: each shard has a lock of
// its own, so an invalidation reaches the shards one after another while
// verifications settle in all of them. Whatever the interleaving, once
// InvalidateSubject (or Purge) returns, no success verified before the
// revocation is served: every later request is verified again and refused.
func TestInvalidationRacesVerificationsInEveryShard(t *testing.T) {
	for _, tc := range []struct {
		name       string
		invalidate func(c *middleware.Cache, subject string)
	}{
		{"InvalidateSubject", func(c *middleware.Cache, subject string) { c.InvalidateSubject(subject) }},
		{"Purge", func(c *middleware.Cache, _ string) { c.Purge() }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var revoked sync.Map // subject -> true
			v := middleware.VerifierFunc(func(_ context.Context, c middleware.Credential) (middleware.Principal, error) {
				subject, _, _ := strings.Cut(c.Token, "/")
				if _, ok := revoked.Load(subject); ok {
					return middleware.Principal{}, middleware.Invalid("revoked")
				}
				return middleware.Principal{Subject: subject}, nil
			})
			cache := newTestCache(t, v, time.Hour, middleware.WithRefusals(0, 0))
			const tokens = 256 // spread over every shard
			for round := range 20 {
				subject := fmt.Sprintf("u%d", round)
				token := func(i int) middleware.Credential { return bearerCred(fmt.Sprintf("%s/%d", subject, i)) }
				stop := verifyInBackground(t, cache, func(i int) middleware.Credential { return token(i % tokens) })
				for cache.Len() < tokens/2 {
					runtime.Gosched()
				}
				revoked.Store(subject, true)
				tc.invalidate(cache, subject)
				for i := range tokens {
					_, err := cache.Verify(context.Background(), token(i))
					require.ErrorIs(t, err, middleware.ErrInvalidCredential, "round %d: token %d served after the revocation", round, i)
				}
				stop()
			}
		})
	}
}

// TestCachedPrincipalIsolation: whatever a handler does to the principal it
// read, or the verifier to the data it returned, the next request sees the
// principal as it was verified.
func TestCachedPrincipalIsolation(t *testing.T) {
	// The Verifier hands its principal over (see the Verifier contract): a
	// fresh one per call, as stores and token parsers build them.
	v := middleware.VerifierFunc(func(context.Context, middleware.Credential) (middleware.Principal, error) {
		roles := []string{"user", "viewer"}
		return middleware.Principal{Subject: "u1", Roles: roles, Scopes: roles[:1], Attributes: map[string]string{"sid": "s1"}}, nil
	})
	cache := newTestCache(t, v, time.Hour)
	want := middleware.Principal{Subject: "u1", Kind: kindSession, Roles: []string{"user", "viewer"},
		Scopes: []string{"user"}, Attributes: map[string]string{"sid": "s1"}}

	var got []middleware.Principal
	h := middleware.Require(newScheme(t, sessionSpec, cache))(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, ok := middleware.FromRequest(r)
		require.True(t, ok)
		got = append(got, p.Clone())
		p.Roles[0] = "admin"
		p.Roles = append(p.Roles[:1], "root")
		p.Scopes[0] = "write"
		p.Attributes["sid"] = "hijacked"
		p.Attributes["admin"] = "true"
		p.Subject = "someone-else"
		q, _ := middleware.FromContext(r.Context())
		q.Roles[1] = "root"
	}))
	for range 3 {
		req := newRequest()
		sessionSpec.set(req.Header, "tok")
		serve(h, req)
	}
	req := newRequest()
	sessionSpec.set(req.Header, "tok")
	serve(h, req)
	require.Len(t, got, 4)
	for _, p := range got {
		require.Equal(t, want, p)
	}

	// Cache.Verify hands out copies too.
	p, err := cache.Verify(context.Background(), middleware.Credential{Kind: kindSession, Token: "tok"})
	require.NoError(t, err)
	p.Roles[0] = "admin"
	p2, err := cache.Verify(context.Background(), middleware.Credential{Kind: kindSession, Token: "tok"})
	require.NoError(t, err)
	require.Equal(t, "user", p2.Roles[0])
}

// TestCacheStoresOnlySuccesses: backend errors, rate limits, refusals of
// another kind than ErrInvalidCredential, panics and expired principals
// reach the verifier every time and leave no entry.
func TestCacheStoresOnlySuccesses(t *testing.T) {
	for _, tok := range []string{tokDown, tokLimited, tokForbidden, tokPanic, tokExpired, tokTypedNil} {
		t.Run(tok, func(t *testing.T) {
			v := &testVerifier{}
			clock := newFakeClock()
			cache := newTestCache(t, v, time.Hour, middleware.WithClock(clock.Now))
			for i := range 3 {
				_, err := cache.Verify(context.Background(), bearerCred(tok))
				require.Error(t, err)
				require.EqualValues(t, i+1, v.calls.Load())
			}
			require.Zero(t, cache.Len())
		})
	}
}

// TestCacheRemembersRefusals: a credential the verifier refused as invalid
// (unknown, revoked, forged) is refused from memory for the refusal TTL,
// with the same error, and verified again after it; it is never counted
// as a success, and WithRefusals(0, 0) turns the memory off.
func TestCacheRemembersRefusals(t *testing.T) {
	for _, tok := range []string{tokUnknown, tokRevoked, tokForged} {
		t.Run(tok, func(t *testing.T) {
			v := &testVerifier{}
			clock := newFakeClock()
			cache := newTestCache(t, v, time.Hour, middleware.WithClock(clock.Now), middleware.WithRefusals(10*time.Second, 8))
			_, first := cache.Verify(context.Background(), bearerCred(tok))
			require.ErrorIs(t, first, middleware.ErrInvalidCredential)
			for range 3 {
				_, again := cache.Verify(context.Background(), bearerCred(tok))
				require.ErrorIs(t, again, middleware.ErrInvalidCredential)
				assert.Equal(t, middleware.AsError(first).Reason, middleware.AsError(again).Reason, "the same refusal")
				assert.NotSame(t, middleware.AsError(first), middleware.AsError(again), "each caller gets its own copy")
			}
			require.EqualValues(t, 1, v.calls.Load(), "refused from memory")
			require.Zero(t, cache.Len(), "a refusal is not a success")

			clock.Advance(10 * time.Second)
			_, err := cache.Verify(context.Background(), bearerCred(tok))
			require.ErrorIs(t, err, middleware.ErrInvalidCredential)
			require.EqualValues(t, 2, v.calls.Load(), "verified again once the refusal TTL passed")
		})
	}
	t.Run("off", func(t *testing.T) {
		v := &testVerifier{}
		cache := newTestCache(t, v, time.Hour, middleware.WithRefusals(0, 0))
		for i := range 3 {
			_, err := cache.Verify(context.Background(), bearerCred(tokUnknown))
			require.ErrorIs(t, err, middleware.ErrInvalidCredential)
			require.EqualValues(t, i+1, v.calls.Load())
		}
	})
	t.Run("a transient refusal is not remembered", func(t *testing.T) {
		var calls atomic.Int64
		v := middleware.VerifierFunc(func(context.Context, middleware.Credential) (middleware.Principal, error) {
			calls.Add(1)
			e := middleware.Invalid("not yet valid")
			e.Transient = true
			return middleware.Principal{}, e
		})
		cache := newTestCache(t, v, time.Hour)
		for i := range 3 {
			_, err := cache.Verify(context.Background(), bearerCred("soon"))
			require.ErrorIs(t, err, middleware.ErrInvalidCredential)
			require.EqualValues(t, i+1, calls.Load())
		}
	})
	t.Run("a hand-built transient refusal stays transient", func(t *testing.T) {
		var calls atomic.Int64
		v := middleware.VerifierFunc(func(context.Context, middleware.Credential) (middleware.Principal, error) {
			calls.Add(1)
			return middleware.Principal{}, &middleware.Error{Kind: middleware.ErrInvalidCredential, Reason: "soon", Transient: true}
		})
		cache := newTestCache(t, v, time.Hour)
		for i := range 2 {
			_, err := cache.Verify(context.Background(), bearerCred("soon"))
			require.ErrorIs(t, err, middleware.ErrInvalidCredential)
			require.EqualValues(t, i+1, calls.Load())
		}
	})
	t.Run("a refusal heard after an invalidation is not remembered", func(t *testing.T) {
		for _, invalidate := range []func(*middleware.Cache){
			func(c *middleware.Cache) { c.Invalidate(bearerCred("pending")) },
			func(c *middleware.Cache) { c.Purge() },
		} {
			started, release := make(chan struct{}), make(chan struct{})
			var calls atomic.Int64
			v := middleware.VerifierFunc(func(context.Context, middleware.Credential) (middleware.Principal, error) {
				if calls.Add(1) == 1 {
					close(started)
					<-release // the account is created meanwhile
				}
				return middleware.Principal{}, middleware.Invalid("unknown")
			})
			cache := newTestCache(t, v, time.Hour)
			done := make(chan error, 1)
			go func() {
				_, err := cache.Verify(context.Background(), bearerCred("pending"))
				done <- err
			}()
			<-started
			invalidate(cache)
			close(release)
			require.ErrorIs(t, <-done, middleware.ErrInvalidCredential)
			_, err := cache.Verify(context.Background(), bearerCred("pending"))
			require.Error(t, err)
			require.EqualValues(t, 2, calls.Load(), "the stale refusal was not stored")
		}
	})
	t.Run("Invalidate forgets a refusal", func(t *testing.T) {
		v := &testVerifier{}
		cache := newTestCache(t, v, time.Hour)
		_, err := cache.Verify(context.Background(), bearerCred(tokUnknown))
		require.Error(t, err)
		cache.Invalidate(bearerCred(tokUnknown))
		_, err = cache.Verify(context.Background(), bearerCred(tokUnknown))
		require.Error(t, err)
		require.EqualValues(t, 2, v.calls.Load())
	})
	t.Run("a flood of refusals never evicts a success", func(t *testing.T) {
		v := &testVerifier{}
		cache := newTestCache(t, v, time.Hour, middleware.WithMaxEntries(16), middleware.WithRefusals(time.Minute, 16))
		_, err := cache.Verify(context.Background(), bearerCred(tokGood))
		require.NoError(t, err)
		for i := range 1000 {
			_, err := cache.Verify(context.Background(), bearerCred(fmt.Sprintf("garbage-%d", i)))
			require.Error(t, err)
		}
		calls := v.calls.Load()
		_, err = cache.Verify(context.Background(), bearerCred(tokGood))
		require.NoError(t, err)
		require.Equal(t, calls, v.calls.Load(), "the success is still cached")
		_, err = cache.Verify(context.Background(), bearerCred("garbage-0"))
		require.Error(t, err)
		require.Equal(t, calls+1, v.calls.Load(), "newer refusals took its slot")
	})
}

// TestRememberedRefusalAnswersAlike: through Require, for every kind, a
// credential refused a moment ago is answered exactly as the first time
// (status, WWW-Authenticate, body), from the cache-first path, without
// calling the Verifier again.
func TestRememberedRefusalAnswersAlike(t *testing.T) {
	for _, spec := range allSpecs {
		t.Run(string(spec.kind), func(t *testing.T) {
			v := &testVerifier{}
			cache := newTestCache(t, v, time.Hour)
			h := middleware.Require(newScheme(t, spec, cache))(principalHandler(&seen{}))
			for range 3 {
				req := newRequest()
				spec.set(req.Header, tokRevoked)
				assertResponse(t, wantInvalid(spec), serve(h, req))
			}
			require.EqualValues(t, 1, v.calls.Load())
		})
	}
}

// TestRefusalsAreKeptApart: a remembered refusal is served only for its own
// kind, and Purge forgets it.
func TestRefusalsAreKeptApart(t *testing.T) {
	v := &testVerifier{}
	cache := newTestCache(t, v, time.Hour)
	ctx := context.Background()
	_, err := cache.Verify(ctx, bearerCred(tokUnknown))
	require.Error(t, err)
	_, err = cache.Verify(ctx, middleware.Credential{Kind: kindSession, Token: tokUnknown})
	require.Error(t, err)
	require.EqualValues(t, 2, v.calls.Load(), "another kind with the same token is verified")
	cache.Purge()
	_, err = cache.Verify(ctx, bearerCred(tokUnknown))
	require.Error(t, err)
	require.EqualValues(t, 3, v.calls.Load(), "Purge forgot the refusal")
}

func TestWithRefusalsValidation(t *testing.T) {
	v := &testVerifier{}
	for _, tc := range []struct {
		ttl time.Duration
		max int
	}{{-time.Second, 10}, {middleware.MaxRefusalTTL + 1, 10}, {time.Second, 0}, {time.Second, -1},
		{time.Second, middleware.MaxRefusals + 1}, {time.Second, math.MaxInt}} {
		_, err := middleware.NewCache(v, time.Hour, middleware.WithRefusals(tc.ttl, tc.max))
		assert.Error(t, err, "ttl %v, max %d", tc.ttl, tc.max)
	}
	c, err := middleware.NewCache(v, time.Hour, middleware.WithRefusals(0, 0))
	require.NoError(t, err, "0 turns refusals off")
	require.NoError(t, c.Close())
}

// TestCacheSweepsExpiredEntries: the janitor removes expired entries from
// memory (not just from view). The sweep runs on its own goroutine, hence
// Eventually.
func TestCacheSweepsExpiredEntries(t *testing.T) {
	clock := newFakeClock()
	v := &countingVerifier{}
	cache := newTestCache(t, v, time.Minute, middleware.WithClock(clock.Now), middleware.WithCleanupInterval(time.Millisecond))
	for i := range 10 {
		_, err := cache.Verify(context.Background(), bearerCred(fmt.Sprint("t", i)))
		require.NoError(t, err)
	}
	require.Equal(t, 10, cache.Len())
	clock.Advance(time.Minute)
	require.Eventually(t, func() bool { return cache.Len() == 0 }, 5*time.Second, time.Millisecond)
}

// TestCacheCloseStopsGoroutines: 100 caches start goroutines; Close stops
// every one of them, and Close is idempotent.
func TestCacheCloseStopsGoroutines(t *testing.T) {
	before := runtime.NumGoroutine()
	caches := make([]*middleware.Cache, 100)
	for i := range caches {
		c, err := middleware.NewCache(&countingVerifier{}, time.Minute)
		require.NoError(t, err)
		_, err = c.Verify(context.Background(), bearerCred("tok"))
		require.NoError(t, err)
		caches[i] = c
	}
	// Counted by the cache each janitor serves, so that the goroutines of
	// caches other tests closed, still exiting, do not count. A goroutine
	// not yet scheduled may not show its function, hence Eventually.
	require.Eventually(t, func() bool { return janitorsOf(caches) == len(caches) }, 5*time.Second, time.Millisecond,
		"each cache runs a goroutine")
	for _, c := range caches {
		require.NoError(t, c.Close())
	}
	for _, c := range caches {
		require.NoError(t, c.Close(), "Close is idempotent")
	}
	// Goroutines exit asynchronously, hence Eventually; it runs the
	// condition on a goroutine of its own, hence before+1.
	require.Eventually(t, func() bool { return janitorsOf(caches) == 0 && runtime.NumGoroutine() <= before+1 }, 5*time.Second, time.Millisecond,
		"goroutines before: %d", before)

	// A closed cache still answers.
	p, err := caches[0].Verify(context.Background(), bearerCred("tok"))
	require.NoError(t, err)
	require.Equal(t, subjectOf(bearerCred("tok")), p.Subject)
}

// janitorsOf counts the caches whose janitor goroutine is alive: the
// goroutine dump names each janitor's *Cache as its argument.
func janitorsOf(caches []*middleware.Cache) int {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			buf = buf[:n]
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	dump, alive := string(buf), 0
	for _, c := range caches {
		if strings.Contains(dump, fmt.Sprintf("middleware.(*Cache).janitor(%p", c)) {
			alive++
		}
	}
	return alive
}

func TestCapTTLShortensEveryEntryUntilLifted(t *testing.T) {
	clock := newFakeClock()
	calls := 0
	v := middleware.VerifierFunc(func(context.Context, middleware.Credential) (middleware.Principal, error) {
		calls++
		return middleware.Principal{Subject: "u1"}, nil
	})
	cache, err := middleware.NewCache(v, time.Hour, middleware.WithClock(clock.Now))
	require.NoError(t, err)
	defer cache.Close()
	cred := middleware.Credential{Kind: "session", Token: "tok"}
	verify := func() {
		_, err := cache.Verify(context.Background(), cred)
		require.NoError(t, err)
	}

	verify() // stored before the cap
	clock.Advance(3 * time.Second)
	verify()
	require.Equal(t, 1, calls, "uncapped: a hit")

	cache.CapTTL(2 * time.Second)
	verify()
	require.Equal(t, 2, calls, "capped: an entry older than the cap is verified again")
	clock.Advance(time.Second)
	verify()
	require.Equal(t, 2, calls, "the fresh entry is younger than the cap")
	clock.Advance(time.Second)
	verify()
	require.Equal(t, 3, calls, "and expires at the cap")

	cache.CapTTL(0)
	clock.Advance(30 * time.Minute)
	verify()
	require.Equal(t, 3, calls, "lifted: entries live their full TTL again")
}

// TestTTLCapsHeldByIndependentOwners: each AddTTLCap holder's cap stays
// until its own remove, whatever the others (and CapTTL) do, and the cap in
// force is the smallest held. Two Broadcasters driving one cache rely on it.
func TestTTLCapsHeldByIndependentOwners(t *testing.T) {
	clock := newFakeClock()
	var calls atomic.Int32
	v := middleware.VerifierFunc(func(context.Context, middleware.Credential) (middleware.Principal, error) {
		calls.Add(1)
		return middleware.Principal{Subject: "u1"}, nil
	})
	cache, err := middleware.NewCache(v, time.Hour, middleware.WithClock(clock.Now))
	require.NoError(t, err)
	defer cache.Close()
	cred := middleware.Credential{Kind: "session", Token: "tok"}
	verify := func() {
		t.Helper()
		_, err := cache.Verify(context.Background(), cred)
		require.NoError(t, err)
	}
	// servedAt reports whether an entry aged age is served from the cache.
	servedAt := func(age time.Duration) bool {
		t.Helper()
		cache.Purge()
		verify()
		clock.Advance(age)
		before := calls.Load()
		verify()
		return calls.Load() == before
	}
	// capIs checks the life an entry has: served just younger than d, not at d.
	capIs := func(d time.Duration, msg string) {
		t.Helper()
		assert.True(t, servedAt(d-time.Second), "%s: younger than %v", msg, d)
		assert.False(t, servedAt(d), "%s: as old as %v", msg, d)
	}

	capIs(time.Hour, "no cap: entries live their TTL")

	remove5 := cache.AddTTLCap(5 * time.Second)
	remove2 := cache.AddTTLCap(2 * time.Second)
	capIs(2*time.Second, "two holders: the smaller cap is in force")
	remove2()
	capIs(5*time.Second, "one holder removed: the other's cap stays")
	remove2()
	capIs(5*time.Second, "a second remove is harmless")

	cache.CapTTL(3 * time.Second)
	capIs(3*time.Second, "CapTTL's cap is one more held")
	cache.CapTTL(10 * time.Second)
	capIs(5*time.Second, "CapTTL cannot lift an AddTTLCap cap")
	cache.CapTTL(0)
	capIs(5*time.Second, "CapTTL(0) lifts CapTTL's cap only")

	remove5()
	capIs(time.Hour, "every holder removed: lifted")

	cache.CapTTL(3 * time.Second)
	cache.AddTTLCap(time.Second)()
	capIs(3*time.Second, "an AddTTLCap remove leaves CapTTL's cap")
	cache.CapTTL(0)

	noop := cache.AddTTLCap(0)
	cache.AddTTLCap(-time.Second)()
	capIs(time.Hour, "d <= 0 adds no cap")
	noop()
}

// TestRefusalEvictsTheEntryItReverified: under CapTTL an entry older than
// the cap is verified again. When the Verifier now refuses (the credential
// was revoked on another replica while this one could not hear it), the
// old success leaves the cache: once the refusal is forgotten and the cap
// lifted, the credential is verified again and refused, not served from
// its old entry until that entry's full TTL. So with a refusal not
// remembered (not valid yet) and with a credential now forbidden.
func TestRefusalEvictsTheEntryItReverified(t *testing.T) {
	notYet := middleware.Invalid("not yet valid")
	notYet.Transient = true
	for _, tc := range []struct {
		name   string
		answer *middleware.Error
	}{
		{"revoked", middleware.Invalid("revoked")},
		{"not valid for a while", notYet},
		{"forbidden", middleware.Forbidden("app disabled", "")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clock := newFakeClock()
			var refuse atomic.Bool
			var calls atomic.Int64
			v := middleware.VerifierFunc(func(context.Context, middleware.Credential) (middleware.Principal, error) {
				calls.Add(1)
				if refuse.Load() {
					return middleware.Principal{}, tc.answer
				}
				return middleware.Principal{Subject: "u1"}, nil
			})
			cache := newTestCache(t, v, time.Hour, middleware.WithClock(clock.Now))
			cred := middleware.Credential{Kind: kindSession, Token: "tok"}
			_, err := cache.Verify(context.Background(), cred)
			require.NoError(t, err)

			cache.CapTTL(2 * time.Second) // deaf to revocations
			clock.Advance(3 * time.Second)
			refuse.Store(true) // revoked on another replica; the message is missed
			_, err = cache.Verify(context.Background(), cred)
			require.ErrorIs(t, err, tc.answer.Kind, "verified again: refused")
			require.EqualValues(t, 2, calls.Load())
			require.Zero(t, cache.Len(), "the refused credential's old entry left the cache")

			clock.Advance(middleware.DefaultRefusalTTL) // a remembered refusal is gone
			cache.CapTTL(0)
			_, err = cache.Verify(context.Background(), cred)
			require.ErrorIs(t, err, tc.answer.Kind,
				"a credential the Verifier refused is not served from its old entry once the cap is lifted")
			require.EqualValues(t, 3, calls.Load())
		})
	}
}

// TestRefusalEvictsTheEntryDespiteAnUnrelatedInvalidateSubject: an entry
// older than CapTTL's cap is verified again, and refused then, it leaves
// the cache, even when an InvalidateSubject of someone else (a logout
// everywhere, a password change) moves the generation meanwhile. Kept
// under the generation check, the stale success stayed, and once the cap
// was lifted the revoked credential was served from it until its full TTL.
func TestRefusalEvictsTheEntryDespiteAnUnrelatedInvalidateSubject(t *testing.T) {
	clock := newFakeClock()
	var refuse atomic.Bool
	var calls atomic.Int64
	started, release := make(chan struct{}), make(chan struct{})
	var startOnce sync.Once
	v := middleware.VerifierFunc(func(context.Context, middleware.Credential) (middleware.Principal, error) {
		calls.Add(1)
		if refuse.Load() {
			startOnce.Do(func() { close(started) })
			<-release
			return middleware.Principal{}, middleware.Invalid("revoked")
		}
		return middleware.Principal{Subject: "u1"}, nil
	})
	cache := newTestCache(t, v, time.Hour, middleware.WithClock(clock.Now), middleware.WithVerifyTimeout(time.Minute))
	cred := middleware.Credential{Kind: kindSession, Token: "tok"}
	_, err := cache.Verify(context.Background(), cred)
	require.NoError(t, err)

	cache.CapTTL(2 * time.Second) // deaf to revocations
	clock.Advance(3 * time.Second)
	refuse.Store(true) // revoked on another replica; the message is missed
	done := make(chan error, 1)
	go func() { _, err := cache.Verify(context.Background(), cred); done <- err }()
	<-started
	cache.InvalidateSubject("someone-else") // an unrelated user logs out everywhere
	close(release)
	require.ErrorIs(t, <-done, middleware.ErrInvalidCredential, "verified again: refused")

	clock.Advance(middleware.DefaultRefusalTTL)
	cache.CapTTL(0)
	p, err := cache.Verify(context.Background(), cred)
	require.ErrorIs(t, err, middleware.ErrInvalidCredential,
		"the refused credential was served from its stale entry (subject %q) once the cap was lifted; Verifier calls: %d",
		p.Subject, calls.Load())
}

// TestRefusalKeepsTheEntryOfAnotherCredentialUnderItsKey: an entry and a
// refusal of different credentials may share a key text (keys do not hold
// the kind, and a token "a:b" is spelt as the parts ("a", "b")): the
// refusal of the one leaves the other's entry where it is.
func TestRefusalKeepsTheEntryOfAnotherCredentialUnderItsKey(t *testing.T) {
	for _, tc := range []struct {
		name            string
		cached, refused middleware.Credential
	}{
		{"another kind", middleware.Credential{Kind: kindSession, Token: "tok"}, bearerCred("tok")},
		{"another form", middleware.Credential{Kind: kindBasic, Token: "a", Secret: "b"}, middleware.Credential{Kind: kindBasic, Token: "a:b"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var calls atomic.Int64
			v := middleware.VerifierFunc(func(_ context.Context, c middleware.Credential) (middleware.Principal, error) {
				calls.Add(1)
				if c == tc.refused {
					return middleware.Principal{}, middleware.Invalid("unknown")
				}
				return middleware.Principal{Subject: "u1"}, nil
			})
			cache := newTestCache(t, v, time.Hour)
			_, err := cache.Verify(context.Background(), tc.cached)
			require.NoError(t, err)
			_, err = cache.Verify(context.Background(), tc.refused)
			require.ErrorIs(t, err, middleware.ErrInvalidCredential)
			_, err = cache.Verify(context.Background(), tc.cached)
			require.NoError(t, err)
			require.EqualValues(t, 2, calls.Load(), "the entry is still a hit")
		})
	}
}

func TestCredentialJSONNeverCarriesSecrets(t *testing.T) {
	cred := middleware.Credential{Kind: "basic", Token: "app-token-secret", Secret: "session-secret"}
	out, err := json.Marshal(struct{ C middleware.Credential }{cred})
	require.NoError(t, err)
	require.NotContains(t, string(out), "secret")
	require.Contains(t, string(out), cred.Fingerprint())
}

// TestCacheHoldsItsBoundWhateverTheKeysLookLike: the size bound is kept per
// shard, so keys that crowd into a few shards would leave most of the bound
// unused, and would keep their few shards' entries forever. Credentials
// from a user's own Verifier may share a long suffix or differ only in a
// counter; after a flood of them the cache must hold close to its bound,
// and the oldest entries must be gone.
func TestCacheHoldsItsBoundWhateverTheKeysLookLike(t *testing.T) {
	const maxEntries = 4096
	shapes := map[string]func(i int) string{
		"fixed suffix":    func(i int) string { return fmt.Sprintf("key_%08d_production", i) },
		"fixed prefix":    func(i int) string { return fmt.Sprintf("st_%037d", i) },
		"decimal counter": strconv.Itoa,
	}
	for name, token := range shapes {
		t.Run(name, func(t *testing.T) {
			v := &countingVerifier{}
			c, err := middleware.NewCache(v, time.Hour, middleware.WithMaxEntries(maxEntries))
			require.NoError(t, err)
			defer c.Close()
			total := 16 * maxEntries
			if raceEnabled {
				total = 8 * maxEntries
			}
			for i := range total {
				_, err := c.Verify(context.Background(), bearerCred(token(i)))
				require.NoError(t, err)
			}
			assert.GreaterOrEqual(t, c.Len(), maxEntries*9/10, "most of the bound is in use")
			assert.LessOrEqual(t, c.Len(), maxEntries, "the bound holds")

			before := v.total.Load()
			for i := range maxEntries {
				_, err := c.Verify(context.Background(), bearerCred(token(i)))
				require.NoError(t, err)
			}
			assert.Equal(t, int64(maxEntries), v.total.Load()-before, "the oldest credentials were evicted, every one")
		})
	}
}
