package middleware

import "sync/atomic"

const (
	// minBuckets is the size of a new shard's hit index.
	minBuckets = 8
	// maxBuckets bounds a shard's hit index: past 4,096 entries a shard (a
	// cache bounded at more than a million entries) chains several entries
	// per bucket instead of growing further.
	maxBuckets = 1 << 12
)

// hitIndex is the read side of a shard: a chained hash table whose bucket
// heads and links are atomic pointers, so that a lookup takes no lock and
// writes nothing.
//
// go-cache's Get takes its shard's read lock, and taking a read lock writes
// the lock's cache line: two cores hitting the cache pass that line back and
// forth, and the hits did not scale at all (on 2 cores, 81 ns serially and
// 86 ns per hit in parallel, where this index measured 54 and 28). So the
// shard's go-cache holds the entries, and this index mirrors it for hits:
// every insert and removal happens under the shard's mu, with the same change to
// go-cache, so the index holds exactly what go-cache holds.
//
// A removed entry keeps its link: a lookup that stood on it when it was
// removed still walks the rest of its chain. A lookup that starts after the
// removal cannot reach it, which is what makes Invalidate take effect on the
// very next request.
//
// The table starts small and doubles as the shard fills, up to about one
// bucket per entry the shard may hold. Sizing it for the bound up front
// gave every default cache a megabyte of bucket pointers, which the garbage
// collector scanned on every cycle: a cache hit in a small program cost
// 40% more than before the index existed. While a table doubles, the
// entries are relinked into the new one; a lookup still walking the old
// one may then miss its entry (never find another's: keys are compared),
// which costs that request a verification, and nothing else.
type hitIndex struct {
	table atomic.Pointer[[]atomic.Pointer[cacheEntry]] // a power of two of buckets
	count int                                          // entries held; guarded by the shard's mu
	limit int                                          // the most buckets
}

// newHitIndex returns an index for a shard holding at most perShard entries.
func newHitIndex(perShard int) *hitIndex {
	limit := 1
	for limit < perShard && limit < maxBuckets {
		limit *= 2
	}
	x := &hitIndex{limit: limit}
	buckets := make([]atomic.Pointer[cacheEntry], min(minBuckets, limit))
	x.table.Store(&buckets)
	return x
}

// bucketOf returns the head of hash's chain in buckets. The shard was picked
// by the low 32 bits of hash; the bucket is picked by the high ones.
func bucketOf(buckets []atomic.Pointer[cacheEntry], hash uint64) *atomic.Pointer[cacheEntry] {
	return &buckets[(hash>>32)&uint64(len(buckets)-1)]
}

// find returns the entry of key, or nil. It takes no lock.
func (x *hitIndex) find(hash uint64, key string) *cacheEntry {
	for e := bucketOf(*x.table.Load(), hash).Load(); e != nil; e = e.hnext.Load() {
		if e.hash == hash && e.key == key {
			return e
		}
	}
	return nil
}

// insert adds e, whose key the index must not hold, doubling the table
// first when it holds as many entries as buckets. Called under the shard's mu.
func (x *hitIndex) insert(e *cacheEntry) {
	buckets := *x.table.Load()
	if x.count >= len(buckets) && len(buckets) < x.limit {
		buckets = x.grow(buckets)
	}
	head := bucketOf(buckets, e.hash)
	e.hnext.Store(head.Load())
	head.Store(e)
	x.count++
}

// grow relinks every entry into a table twice as large and publishes it.
// Each entry is pushed onto a chain of entries already moved, so a chain
// never loops, even as seen by a lookup walking the old table meanwhile.
// Called under the shard's mu.
func (x *hitIndex) grow(old []atomic.Pointer[cacheEntry]) []atomic.Pointer[cacheEntry] {
	buckets := make([]atomic.Pointer[cacheEntry], 2*len(old))
	for i := range old {
		for e := old[i].Load(); e != nil; {
			next := e.hnext.Load()
			head := bucketOf(buckets, e.hash)
			e.hnext.Store(head.Load())
			head.Store(e)
			e = next
		}
	}
	x.table.Store(&buckets)
	return buckets
}

// remove unlinks e, if the index holds it. Called under the shard's mu.
func (x *hitIndex) remove(e *cacheEntry) {
	link := bucketOf(*x.table.Load(), e.hash)
	for cur := link.Load(); cur != nil; cur = link.Load() {
		if cur == e {
			link.Store(e.hnext.Load())
			x.count--
			return
		}
		link = &cur.hnext
	}
}

// clear empties the index, keeping its size. Called under the shard's mu.
func (x *hitIndex) clear() {
	buckets := *x.table.Load()
	for i := range buckets {
		buckets[i].Store(nil)
	}
	x.count = 0
}
