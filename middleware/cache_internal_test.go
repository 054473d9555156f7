package middleware

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// BenchmarkCacheLookup measures the cache's hit path alone, without the
// HTTP harness: no allocation, so that serial and parallel figures compare
// the cache's locking and nothing else. Through ServeHTTP the harness's own
// allocations (a request copy, a recorder) keep the garbage collector busy
// enough that even the bare handler does not scale on 2 cores; here, a
// single lock taken by every hit would show as a parallel figure no better
// than the serial one.
func BenchmarkCacheLookup(b *testing.B) {
	v := VerifierFunc(func(context.Context, Credential) (Principal, error) {
		return Principal{Subject: "u"}, nil
	})
	c, err := NewCache(v, time.Hour)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = c.Close() })
	const users = 1024
	creds := make([]Credential, users)
	for i := range creds {
		creds[i] = Credential{Kind: "session", Token: fmt.Sprintf("st_%037d", i)}
		if _, e := c.verifyShared(context.Background(), creds[i], false); e != nil {
			b.Fatal(e)
		}
	}
	hit := func(i int) {
		key, form := creds[i%users].cacheKey()
		if c.lookup("session", form, key) == nil {
			b.Fatal("miss")
		}
	}
	b.Run("serial", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			hit(i)
		}
	})
	b.Run("parallel", func(b *testing.B) {
		b.ReportAllocs()
		var next atomic.Int64
		b.RunParallel(func(pb *testing.PB) {
			i := int(next.Add(1)) * 7919
			for pb.Next() {
				hit(i)
				i++
			}
		})
	})
}

// TestRingKeepsNoMoreThanTwiceTheLiveEntries: credentials verified again
// after every expiry leave a dead ring slot each time; the rings are
// compacted, so what they keep (entries and their principals) stays near
// what is live instead of growing to the bound. The soak test of the
// example server showed that growth (+50% RSS in 10 minutes) before.
func TestRingKeepsNoMoreThanTwiceTheLiveEntries(t *testing.T) {
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	v := VerifierFunc(func(_ context.Context, c Credential) (Principal, error) {
		return Principal{Subject: "u-" + c.Token}, nil
	})
	c, err := NewCache(v, time.Minute, WithClock(clock))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	const live = 3000
	for round := range 30 {
		for i := range live {
			if _, e := c.verifyShared(context.Background(), Credential{Kind: "session", Token: fmt.Sprintf("tok-%06d", i)}, false); e != nil {
				t.Fatal(e)
			}
		}
		now = now.Add(time.Minute) // every entry expires; the next round verifies again
		held, dead := 0, 0
		for i := range c.shards {
			sh := &c.shards[i]
			sh.mu.Lock()
			held += len(sh.ring)
			dead += sh.dead
			sh.mu.Unlock()
		}
		if limit := 2*live + len(c.shards)*minCompact; held > limit {
			t.Fatalf("round %d: rings hold %d entries (%d dead) for %d live, want at most %d", round, held, dead, live, limit)
		}
	}
}

// TestSweepAfterPurgeLeavesTheLiveEntriesAlone: the janitor copies a
// shard's expired entries outside its mu and deletes them under it. A Purge,
// and a fresh entry under the same subject, may come in between. Deleting
// the stale copies then removed the fresh subject list (so InvalidateSubject
// left the fresh entry cached), counted dead ring slots the new rings never
// had, and the next compaction panicked while holding the shard's mu.
func TestSweepAfterPurgeLeavesTheLiveEntriesAlone(t *testing.T) {
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	var calls atomic.Int64
	v := VerifierFunc(func(context.Context, Credential) (Principal, error) {
		calls.Add(1)
		return Principal{Subject: "alice"}, nil
	})
	c, err := NewCache(v, time.Minute, WithClock(clock), WithMaxEntries(16))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	verify := func(token string) {
		t.Helper()
		if _, e := c.verifyShared(context.Background(), Credential{Kind: "session", Token: token}, false); e != nil {
			t.Fatal(e)
		}
	}
	for i := range 8 {
		verify(fmt.Sprintf("old-%d", i))
	}
	now = now.Add(2 * time.Minute) // every old entry has expired
	stale := make([][]*cacheEntry, len(c.shards))
	for i := range c.shards {
		stale[i] = c.shards[i].expired(now)
	}
	c.Purge()
	verify("fresh")
	for i, entries := range stale {
		c.shards[i].removeExpired(entries) // the sweep resumes with its copies
	}

	before := calls.Load()
	verify("fresh")
	if calls.Load() != before {
		t.Fatal("the fresh entry was deleted by the sweep of entries purged before it")
	}
	for i := range c.shards {
		if sh := &c.shards[i]; sh.dead < 0 || sh.dead > len(sh.ring) {
			t.Fatalf("shard %d: %d dead slots in a ring of %d", i, sh.dead, len(sh.ring))
		}
	}
	for i := range 40 { // fills and compacts the rings
		verify(fmt.Sprintf("new-%d", i))
	}
	c.InvalidateSubject("alice")
	before = calls.Load()
	verify("fresh")
	if calls.Load() != before+1 {
		t.Fatal("InvalidateSubject left the fresh entry cached")
	}
}

// TestShardsStayConsistentUnderConcurrentUse: verifications, invalidations
// of every kind, purges and the janitor's sweeps run at once from several
// goroutines, on a small cache whose entries expire and get evicted all the
// time. Afterwards every shard's structures agree: no flight is left, the
// bound holds, go-cache, the hit index, the ring and the subject index hold
// exactly the same entries, and the ring's dead count is right.
func TestShardsStayConsistentUnderConcurrentUse(t *testing.T) {
	for round := range 5 {
		v := VerifierFunc(func(_ context.Context, c Credential) (Principal, error) {
			if c.Token[len(c.Token)-1] == '7' {
				return Principal{}, Invalid("no")
			}
			return Principal{Subject: "user-" + c.Token[len(c.Token)-1:]}, nil
		})
		c, err := NewCache(v, 20*time.Millisecond, WithMaxEntries(64), WithCleanupInterval(time.Millisecond), WithRefusals(time.Second, 4))
		require.NoError(t, err)
		kinds := []Kind{"session", "bearer"}
		var wg sync.WaitGroup
		for g := range 4 {
			wg.Go(func() {
				rng := rand.New(rand.NewPCG(uint64(round), uint64(g)))
				cred := func() Credential {
					return Credential{Kind: kinds[rng.IntN(2)], Token: fmt.Sprintf("tok-%03d", rng.IntN(300))}
				}
				for range 20000 {
					switch op := rng.IntN(1000); {
					case op < 900:
						_, _ = c.verifyShared(context.Background(), cred(), false)
					case op < 960:
						c.Invalidate(cred())
					case op < 995:
						c.InvalidateSubject(fmt.Sprintf("user-%d", rng.IntN(10)))
					default:
						c.Purge()
					}
				}
			})
		}
		wg.Wait()
		c.Close()
		for i := range c.shards {
			sh := &c.shards[i]
			sh.mu.Lock()
			require.Empty(t, sh.flights)
			items := sh.items.Items()
			require.LessOrEqual(t, len(items), c.perShard)
			require.LessOrEqual(t, len(sh.ring), c.perShard)
			held := map[*cacheEntry]bool{}
			for key, item := range items {
				e := item.Object.(*cacheEntry)
				require.Equal(t, key, e.key)
				require.True(t, e.indexed, "held entry indexed")
				require.True(t, e.inRing, "held entry in ring")
				require.Same(t, sh, e.shard)
				held[e] = true
			}
			require.Equal(t, len(held), sh.index.count)
			listed := map[*cacheEntry]bool{}
			for subj, head := range sh.bySubject {
				require.Nil(t, head.prev)
				for e := head; e != nil; e = e.next {
					require.Equal(t, subj, e.principal.Subject)
					require.False(t, listed[e])
					listed[e] = true
					if e.next != nil {
						require.Same(t, e, e.next.prev)
					}
				}
			}
			require.Equal(t, held, listed, "shard %d: bySubject lists exactly what is held", i)
			dead := 0
			inRing := map[*cacheEntry]bool{}
			for _, e := range sh.ring {
				require.True(t, e.inRing)
				inRing[e] = true
				if !e.indexed {
					dead++
				}
			}
			require.Equal(t, dead, sh.dead, "shard %d: dead count", i)
			for e := range held {
				require.True(t, inRing[e])
			}
			sh.mu.Unlock()
		}
		requireIndexMirrorsShards(t, c, round)
	}
}

// TestSharedRefusalIsEachCallersOwn: every request that joined one
// verification gets its own copy of its refusal, as a remembered refusal
// is: a renderer may change the *Error it is given, and the others are
// logging and rendering theirs at the same time. They shared one.
func TestSharedRefusalIsEachCallersOwn(t *testing.T) {
	entered, release := make(chan struct{}), make(chan struct{})
	var calls atomic.Int64
	v := VerifierFunc(func(context.Context, Credential) (Principal, error) {
		if calls.Add(1) == 1 {
			close(entered)
			<-release
		}
		return Principal{}, Invalid("unknown")
	})
	c, err := NewCache(v, time.Hour, WithRefusals(0, 0))
	require.NoError(t, err)
	defer c.Close()
	cred := Credential{Kind: "session", Token: "bad-token"}
	errs := make(chan error, 2)
	verify := func() { _, err := c.Verify(context.Background(), cred); errs <- err }

	go verify() // the leader
	<-entered
	go verify() // a waiter
	sh := c.shard("bad-token")
	var flight *flight
	joined := func() bool {
		sh.mu.Lock()
		defer sh.mu.Unlock()
		for _, f := range sh.flights {
			flight = f
			return f.done != nil // made by the first waiter
		}
		return false
	}
	require.Eventually(t, joined, 10*time.Second, time.Millisecond, "the second request joins the flight")
	close(release)
	first, second := <-errs, <-errs
	require.EqualValues(t, 1, calls.Load(), "one verification for both")
	var e1, e2 *Error
	require.ErrorAs(t, first, &e1)
	require.ErrorAs(t, second, &e2)
	require.NotSame(t, e1, e2)
	require.NotSame(t, flight.err, e1, "the leader and the waiter each get a copy, not the flight's")
	require.NotSame(t, flight.err, e2, "the leader and the waiter each get a copy, not the flight's")
	e1.Reason = "changed by a renderer"
	require.Equal(t, "unknown", e2.Reason)
}

// TestDefaultCleanupInterval: the janitor sweeps every TTL, but never more
// often than once a second (a microsecond TTL woke it a million times a
// second) nor less often than once a minute.
func TestDefaultCleanupInterval(t *testing.T) {
	for ttl, want := range map[time.Duration]time.Duration{
		time.Microsecond: time.Second,
		time.Second:      time.Second,
		30 * time.Second: 30 * time.Second,
		time.Hour:        time.Minute,
	} {
		c, err := NewCache(VerifierFunc(func(context.Context, Credential) (Principal, error) {
			return Principal{Subject: "s"}, nil
		}), ttl)
		require.NoError(t, err)
		assert.Equal(t, want, c.cleanup, "TTL %v", ttl)
		require.NoError(t, c.Close())
	}
}
