package middleware

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestHitIndexChains walks one bucket through inserts and removals at its
// head, middle and tail, with two keys of the same hash.
func TestHitIndexChains(t *testing.T) {
	x := newHitIndex(1)
	require.Len(t, *x.table.Load(), 1, "every entry shares the one bucket")
	a := &cacheEntry{key: "a", hash: 7}
	b := &cacheEntry{key: "b", hash: 7} // same hash as a: told apart by the key
	c := &cacheEntry{key: "c", hash: 9}
	for _, e := range []*cacheEntry{a, b, c} {
		x.insert(e)
	}
	assert.Same(t, a, x.find(7, "a"))
	assert.Same(t, b, x.find(7, "b"))
	assert.Same(t, c, x.find(9, "c"))
	assert.Nil(t, x.find(9, "a"), "the hash must match too")
	assert.Nil(t, x.find(7, "z"))

	x.remove(b) // the middle of c → b → a
	assert.Nil(t, x.find(7, "b"))
	assert.Same(t, a, x.find(7, "a"))
	assert.Same(t, c, x.find(9, "c"))
	assert.Same(t, a, b.hnext.Load(), "a lookup standing on a removed entry still reaches the rest of the chain")

	x.remove(b) // not held any more: nothing happens
	assert.Same(t, a, x.find(7, "a"))
	x.remove(c) // the head
	assert.Nil(t, x.find(9, "c"))
	assert.Same(t, a, x.find(7, "a"))
	x.remove(a) // the last one
	assert.Nil(t, x.find(7, "a"))
	assert.Nil(t, (*x.table.Load())[0].Load())
	assert.Zero(t, x.count)

	x.insert(a)
	x.clear()
	assert.Nil(t, x.find(7, "a"))
}

// TestHitIndexSize: an index starts small, doubles as it fills, up to one
// bucket per entry its shard may hold (at most maxBuckets), and keeps every
// entry findable through each doubling.
func TestHitIndexSize(t *testing.T) {
	for _, tc := range []struct{ perShard, start, limit int }{
		{1, 1, 1}, {2, 2, 2}, {3, 4, 4}, {391, minBuckets, 512}, {4096, minBuckets, maxBuckets}, {1 << 20, minBuckets, maxBuckets},
	} {
		x := newHitIndex(tc.perShard)
		assert.Len(t, *x.table.Load(), tc.start, "perShard %d", tc.perShard)
		assert.Equal(t, tc.limit, x.limit, "perShard %d", tc.perShard)
	}
	x := newHitIndex(391)
	var entries []*cacheEntry
	for i := range 1000 {
		e := &cacheEntry{key: fmt.Sprint(i), hash: uint64(i) * 0x9e3779b97f4a7c15}
		x.insert(e)
		entries = append(entries, e)
		if i < 512 {
			assert.GreaterOrEqual(t, len(*x.table.Load()), min(i+1, 512), "about one bucket per entry")
		}
	}
	assert.Len(t, *x.table.Load(), 512, "no bigger than the shard's bound asks")
	for _, e := range entries {
		require.Same(t, e, x.find(e.hash, e.key))
	}
	for _, e := range entries[:500] {
		x.remove(e)
	}
	assert.Equal(t, 500, x.count)
	for i, e := range entries {
		if got := x.find(e.hash, e.key); i < 500 {
			require.Nil(t, got)
		} else {
			require.Same(t, e, got)
		}
	}
}

// TestHitsWhileTheIndexGrows: lookups running while a shard's index
// doubles, again and again, never return another key's entry, and find
// every entry once the doubling is over.
func TestHitsWhileTheIndexGrows(t *testing.T) {
	for range 20 {
		var mu sync.Mutex // stands for the shard's mu
		x := newHitIndex(4096)
		entries := make([]*cacheEntry, 4096)
		for i := range entries {
			entries[i] = &cacheEntry{key: fmt.Sprint("k", i), hash: uint64(i+1) * 0x9e3779b97f4a7c15}
		}
		stop := make(chan struct{})
		var readers sync.WaitGroup
		for r := range 2 {
			readers.Go(func() {
				for i := r; ; i++ {
					select {
					case <-stop:
						return
					default:
					}
					e := entries[i%len(entries)]
					if got := x.find(e.hash, e.key); got != nil && got != e {
						t.Errorf("lookup of %s returned %s", e.key, got.key)
						return
					}
				}
			})
		}
		for _, e := range entries {
			mu.Lock()
			x.insert(e)
			mu.Unlock()
		}
		close(stop)
		readers.Wait()
		for _, e := range entries {
			require.Same(t, e, x.find(e.hash, e.key))
		}
	}
}

// TestHitIndexMirrorsGoCache runs random stores, invalidations, purges,
// evictions and sweeps, and checks after each that every shard's hit index
// holds exactly the entries its go-cache holds: hits read only the index,
// so an entry left in it would outlive its invalidation, and one missing
// from it would be verified again for nothing.
func TestHitIndexMirrorsGoCache(t *testing.T) {
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	v := VerifierFunc(func(_ context.Context, c Credential) (Principal, error) {
		return Principal{Subject: "user-" + c.Token[len(c.Token)-1:]}, nil
	})
	c, err := NewCache(v, time.Minute, WithMaxEntries(64), WithClock(clock))
	require.NoError(t, err)
	defer c.Close()
	require.Greater(t, len(c.shards), 1)
	rng := rand.New(rand.NewPCG(1, 2))
	kinds := []Kind{"session", "bearer"}
	cred := func() Credential {
		return Credential{Kind: kinds[rng.IntN(2)], Token: fmt.Sprintf("tok-%03d", rng.IntN(200))}
	}
	for step := range 5000 {
		switch op := rng.IntN(100); {
		case op < 70:
			_, e := c.verifyShared(context.Background(), cred(), false)
			require.Nil(t, e)
		case op < 85:
			c.Invalidate(cred())
		case op < 92:
			c.InvalidateSubject(fmt.Sprintf("user-%d", rng.IntN(10)))
		case op < 99:
			now = now.Add(time.Duration(rng.IntN(30)) * time.Second)
			c.sweep()
		default:
			c.Purge()
		}
		requireIndexMirrorsShards(t, c, step)
	}
}

func requireIndexMirrorsShards(t *testing.T, c *Cache, step int) {
	t.Helper()
	for i := range c.shards {
		sh := &c.shards[i]
		sh.mu.Lock()
		defer sh.mu.Unlock()
		held := map[*cacheEntry]bool{}
		for key, item := range sh.items.Items() {
			e := item.Object.(*cacheEntry)
			require.Equal(t, key, e.key)
			held[e] = true
		}
		indexed := map[*cacheEntry]bool{}
		buckets := *sh.index.table.Load()
		require.Equal(t, len(held), sh.index.count, "step %d: the index counts what it holds", step)
		for b := range buckets {
			for e := buckets[b].Load(); e != nil; e = e.hnext.Load() {
				require.False(t, indexed[e], "step %d: an entry is linked twice", step)
				indexed[e] = true
				require.Same(t, sh, e.shard)
				require.Equal(t, c.hash(e.key), e.hash)
			}
		}
		require.Equal(t, held, indexed, "step %d, shard %d: the index mirrors go-cache", step, i)
	}
}

// TestHitsDuringWrites: lock-free hits run while another goroutine stores,
// evicts and invalidates (the race detector checks the index's atomics).
// A hit only ever returns the entry of the key it looked up, and an
// invalidation is seen by the very next lookup.
func TestHitsDuringWrites(t *testing.T) {
	v := VerifierFunc(func(_ context.Context, c Credential) (Principal, error) {
		return Principal{Subject: "u-" + c.Token}, nil
	})
	c, err := NewCache(v, time.Hour, WithMaxEntries(32))
	require.NoError(t, err)
	defer c.Close()
	creds := make([]Credential, 100)
	for i := range creds {
		creds[i] = Credential{Kind: "session", Token: fmt.Sprintf("st-%03d", i)}
	}
	stop := make(chan struct{})
	var readers sync.WaitGroup
	for r := range 4 {
		readers.Go(func() {
			for i := r; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				cred := creds[i%len(creds)]
				key, form := cred.cacheKey()
				if e := c.lookup(cred.Kind, form, key); e != nil && e.principal.Subject != "u-"+cred.Token {
					t.Errorf("lookup of %s returned %s's entry", cred.Token, e.principal.Subject)
					return
				}
			}
		})
	}
	for i := range 20000 {
		cred := creds[i*7%len(creds)]
		_, e := c.verifyShared(context.Background(), cred, false)
		require.Nil(t, e)
		if i%5 == 0 {
			c.Invalidate(cred)
			key, form := cred.cacheKey()
			require.Nil(t, c.lookup(cred.Kind, form, key), "an invalidation is seen by the next lookup")
		}
	}
	close(stop)
	readers.Wait()
}
