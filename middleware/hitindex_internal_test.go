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
	require.Len(t, x.buckets, 1, "every entry shares the one bucket")
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
	assert.Nil(t, x.buckets[0].Load())

	x.insert(a)
	x.clear()
	assert.Nil(t, x.find(7, "a"))
}

func TestHitIndexSize(t *testing.T) {
	for _, tc := range []struct{ perShard, buckets int }{
		{1, 1}, {2, 2}, {3, 4}, {391, 512}, {4096, maxBuckets}, {1 << 20, maxBuckets},
	} {
		assert.Len(t, newHitIndex(tc.perShard).buckets, tc.buckets, "perShard %d", tc.perShard)
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
	c.mu.Lock()
	defer c.mu.Unlock()
	for i := range c.shards {
		sh := &c.shards[i]
		held := map[*cacheEntry]bool{}
		for key, item := range sh.items.Items() {
			e := item.Object.(*cacheEntry)
			require.Equal(t, key, e.key)
			held[e] = true
		}
		indexed := map[*cacheEntry]bool{}
		for b := range sh.index.buckets {
			for e := sh.index.buckets[b].Load(); e != nil; e = e.hnext.Load() {
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
