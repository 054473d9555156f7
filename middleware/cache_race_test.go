package middleware_test

import (
	"context"
	"fmt"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tidegate/tidegate/middleware"
)

// credentialState is what the verifier of TestInvalidationIsNeverUndone
// answers for one credential: its version, and whether it is valid.
type credentialState struct {
	version int
	valid   bool
}

// TestInvalidationIsNeverUndone races every kind of invalidation with
// verifications of the same credentials, refusals remembered, flipping
// each credential between valid and refused in both directions: the
// request right after each invalidation sees the credential's new state,
// never an answer verified before it.
func TestInvalidationIsNeverUndone(t *testing.T) {
	for _, mode := range []string{"Invalidate", "InvalidateSubject", "Purge"} {
		t.Run(mode, func(t *testing.T) {
			const tokens = 64
			var states [tokens]atomic.Pointer[credentialState]
			for i := range states {
				states[i].Store(&credentialState{version: 0, valid: true})
			}
			v := middleware.VerifierFunc(func(_ context.Context, c middleware.Credential) (middleware.Principal, error) {
				i, _ := strconv.Atoi(c.Token)
				s := states[i].Load()
				for range 3 {
					runtime.Gosched() // widen the window between reading the state and answering
				}
				if !s.valid {
					return middleware.Principal{}, middleware.Invalid("revoked")
				}
				return middleware.Principal{Subject: "s" + c.Token, Attributes: map[string]string{"v": strconv.Itoa(s.version)}}, nil
			})
			cache := newTestCache(t, v, 30*time.Millisecond, middleware.WithRefusals(30*time.Millisecond, 2))
			stop := verifyInBackground(t, cache, func(i int) middleware.Credential { return bearerCred(strconv.Itoa(i % tokens)) })
			rounds := 4000
			if mode == "Purge" {
				rounds = 1000 // each walks every shard
			}
			for round := range rounds {
				i := round % tokens
				old := states[i].Load()
				ns := &credentialState{version: old.version + 1, valid: !old.valid}
				states[i].Store(ns)
				tok := strconv.Itoa(i)
				switch mode {
				case "Invalidate":
					cache.Invalidate(bearerCred(tok))
				case "InvalidateSubject":
					if old.valid {
						cache.InvalidateSubject("s" + tok)
					} else {
						// a refusal has no subject; only Invalidate forgets it
						cache.Invalidate(bearerCred(tok))
					}
				case "Purge":
					cache.Purge()
				}
				p, err := cache.Verify(context.Background(), bearerCred(tok))
				cur := states[i].Load()
				if cur.valid {
					if err != nil {
						t.Fatalf("round %d token %d: valid v%d refused after invalidation: %v", round, i, cur.version, err)
					}
					if p.Attributes["v"] != strconv.Itoa(cur.version) {
						t.Fatalf("round %d token %d: served v%s after invalidation, want v%d", round, i, p.Attributes["v"], cur.version)
					}
				} else if err == nil {
					t.Fatalf("round %d token %d: revoked v%d served %s after invalidation", round, i, cur.version, fmt.Sprint(p.Attributes))
				}
			}
			stop()
		})
	}
}

// verifyInBackground starts four goroutines verifying token(0), token(1),
// ... (each from its own start) until stop is called or the test ends;
// stop waits for them.
func verifyInBackground(t *testing.T, cache *middleware.Cache, token func(i int) middleware.Credential) (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := g; ; i++ {
				select {
				case <-done:
					return
				default:
					_, _ = cache.Verify(context.Background(), token(i))
				}
			}
		})
	}
	stop = sync.OnceFunc(func() { close(done); wg.Wait() })
	t.Cleanup(stop)
	return stop
}

// TestPanicInCacheCodeReleasesWaitersAndLocks: the injected clock panics
// when the Verifier answers, inside the cache's own code. The request
// waiting on that verification wakes with an error, and the shard stays
// usable: no lock is left held, no flight left behind.
func TestPanicInCacheCodeReleasesWaitersAndLocks(t *testing.T) {
	var panicNow, first atomic.Bool
	clock := func() time.Time {
		if panicNow.Load() {
			panic("clock bug")
		}
		return time.Now()
	}
	started := make(chan struct{}, 1)
	release := make(chan struct{})
	v := middleware.VerifierFunc(func(_ context.Context, c middleware.Credential) (middleware.Principal, error) {
		if c.Token == "slow" && first.CompareAndSwap(false, true) {
			started <- struct{}{}
			<-release
			panicNow.Store(true)
		}
		return middleware.Principal{Subject: "u"}, nil
	})
	cache := newTestCache(t, v, time.Minute, middleware.WithClock(clock), middleware.WithVerifyTimeout(time.Minute))
	leaderPanicked := make(chan any, 1)
	go func() {
		defer func() { leaderPanicked <- recover() }()
		_, _ = cache.Verify(context.Background(), bearerCred("slow"))
	}()
	<-started
	joined := make(chan struct{})
	var once sync.Once
	waiterCtx := doneCounter{Context: context.Background(), onDone: func() { once.Do(func() { close(joined) }) }}
	waiterErr := make(chan error, 1)
	go func() {
		_, err := cache.Verify(waiterCtx, bearerCred("slow"))
		waiterErr <- err
	}()
	<-joined
	close(release)
	if r := <-leaderPanicked; r == nil {
		t.Fatal("leader did not panic")
	}
	select {
	case err := <-waiterErr:
		if err == nil {
			t.Fatal("waiter got a principal")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("waiter hangs")
	}
	panicNow.Store(false)
	done := make(chan struct{})
	go func() {
		for i := range 2048 {
			_, _ = cache.Verify(context.Background(), bearerCred(strconv.Itoa(i)))
		}
		cache.Purge()
		cache.InvalidateSubject("u")
		_, _ = cache.Verify(context.Background(), bearerCred("slow"))
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("a shard lock is held")
	}
}
