package middleware

import (
	"context"
	"errors"
	"hash/maphash"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	gocache "github.com/patrickmn/go-cache"
	"golang.org/x/sync/singleflight"
)

// Cache defaults.
const (
	// DefaultMaxEntries bounds a Cache unless WithMaxEntries says otherwise.
	DefaultMaxEntries = 100_000
	// DefaultVerifyTimeout bounds each call to the wrapped Verifier.
	DefaultVerifyTimeout = 5 * time.Second
	// cacheShards is the number of go-cache instances a Cache spreads its
	// entries over, so that no single lock is taken by every request.
	cacheShards = 32
)

// Cache is a Verifier that remembers successful verifications of the
// Verifier it wraps. It is built on github.com/patrickmn/go-cache and adds
// what go-cache lacks:
//
//   - an entry lives for min(TTL, the principal's ExpiresAt);
//   - the number of entries is bounded (WithMaxEntries);
//   - concurrent requests with the same uncached credential make one
//     Verifier call (singleflight), which is not cancelled when the first
//     caller goes away, and is bounded by WithVerifyTimeout (then 503);
//   - keys are unambiguous: the credential's parts are encoded injectively
//     and the kind is compared on every hit, so a hit can only ever return
//     the principal of the exact credential that was verified;
//   - Invalidate and InvalidateSubject take effect on the very next request,
//     including against a verification already in flight;
//   - only successes are cached: failures and backend errors are not;
//   - Close stops its background goroutine.
//
// Entries are spread over several go-cache shards, so a cache hit takes one
// shard's read lock and no lock shared by every request.
type Cache struct {
	next       Verifier
	ttl        time.Duration
	cleanup    time.Duration
	timeout    time.Duration
	maxEntries int
	now        func() time.Time
	observer   Observer

	seed     maphash.Seed
	shards   [cacheShards]cacheShard
	perShard int
	flights  singleflight.Group

	// mu guards generation changes against inserts, and bySubject. It is
	// taken on misses and invalidations only, never on a hit.
	mu         sync.Mutex
	generation atomic.Uint64
	bySubject  map[string]map[string]*cacheEntry

	stop      chan struct{}
	done      chan struct{}
	closeOnce sync.Once
}

type cacheShard struct {
	items *gocache.Cache
	_     [56]byte // keep shards on separate cache lines
}

// cacheEntry is immutable once stored: hits hand out &principal, and
// FromContext copies it before a handler can touch it.
type cacheEntry struct {
	principal Principal
	kind      Kind
	deadline  time.Time
}

// NewCache wraps next in a cache whose entries live at most ttl. ttl must be
// positive: go-cache would read zero as "never expires".
func NewCache(next Verifier, ttl time.Duration, opts ...CacheOption) (*Cache, error) {
	if next == nil {
		return nil, errors.New("tidegate: cache needs a verifier")
	}
	if ttl <= 0 {
		return nil, errors.New("tidegate: cache TTL must be positive")
	}
	c := &Cache{
		next:       next,
		ttl:        ttl,
		cleanup:    min(ttl, time.Minute),
		timeout:    DefaultVerifyTimeout,
		maxEntries: DefaultMaxEntries,
		now:        time.Now,
		observer:   NopObserver{},
		seed:       maphash.MakeSeed(),
		bySubject:  map[string]map[string]*cacheEntry{},
		stop:       make(chan struct{}),
		done:       make(chan struct{}),
	}
	for _, opt := range opts {
		if opt == nil {
			return nil, errors.New("tidegate: nil cache option")
		}
		if err := opt.applyCache(c); err != nil {
			return nil, err
		}
	}
	c.perShard = max(1, (c.maxEntries+cacheShards-1)/cacheShards)
	for i := range c.shards {
		// A negative cleanup interval starts no go-cache janitor: go-cache
		// can only stop its own through a finalizer, so the Cache runs one
		// janitor for all shards and stops it in Close.
		items := gocache.New(gocache.NoExpiration, -1)
		items.OnEvicted(c.unindex)
		c.shards[i].items = items
	}
	go c.janitor()
	return c, nil
}

// Verify returns the cached principal of c, or asks the wrapped Verifier.
// The returned principal is the caller's own copy.
func (c *Cache) Verify(ctx context.Context, cred Credential) (Principal, error) {
	p, e := c.verifyShared(ctx, cred)
	if e != nil {
		return Principal{}, e
	}
	return p.Clone(), nil
}

// verifyShared is Verify without the copy: the returned principal belongs to
// the cache and must not be changed.
func (c *Cache) verifyShared(ctx context.Context, cred Credential) (*Principal, *Error) {
	key := cred.cacheKey()
	if e := c.lookup(cred.Kind, key); e != nil {
		c.observer.ObserveCache(cred.Kind, true)
		return &e.principal, nil
	}
	c.observer.ObserveCache(cred.Kind, false)
	return c.miss(ctx, cred, key)
}

// lookup is the hot path: one shard read lock, no allocation.
func (c *Cache) lookup(kind Kind, key string) *cacheEntry {
	v, ok := c.shard(key).items.Get(key)
	if !ok {
		return nil
	}
	e := v.(*cacheEntry)
	if e.kind != kind || !c.now().Before(e.deadline) {
		return nil
	}
	return e
}

// shard picks a shard from the key's last 16 bytes: the random part of every
// token kind tidegate issues (the end of a session token, a JWT's signature,
// the session half of Basic credentials). Only verified credentials are ever
// stored, so a client choosing keys cannot crowd out other entries.
func (c *Cache) shard(key string) *cacheShard {
	tail := key[max(0, len(key)-16):]
	return &c.shards[maphash.String(c.seed, tail)%cacheShards]
}

// miss verifies cred once for all concurrent callers and caches a success.
func (c *Cache) miss(ctx context.Context, cred Credential, key string) (*Principal, *Error) {
	generation := c.generation.Load()
	// The flight key holds the generation: after an invalidation, new
	// requests start a new verification instead of joining one that began
	// before it.
	flight := string(cred.Kind) + "\x00" + strconv.FormatUint(generation, 10) + "\x00" + key
	results := c.flights.DoChan(flight, func() (any, error) {
		return c.fill(ctx, cred, key, generation)
	})
	timer := time.NewTimer(c.timeout)
	defer timer.Stop()
	select {
	case res := <-results:
		if res.Err != nil {
			return nil, AsError(res.Err)
		}
		return &res.Val.(*cacheEntry).principal, nil
	case <-ctx.Done():
		return nil, Unavailable("canceled", ctx.Err())
	case <-timer.C:
		return nil, Unavailable("timeout", context.DeadlineExceeded)
	}
}

// fill runs the wrapped Verifier, detached from the first caller's
// cancellation but bounded by the verify timeout, and stores a success.
func (c *Cache) fill(ctx context.Context, cred Credential, key string, generation uint64) (any, error) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), c.timeout)
	defer cancel()
	p, e := callVerifier(ctx, c.next, cred)
	if e != nil {
		return nil, e
	}
	now := c.now()
	if p.expired(now) {
		return nil, Invalid("expired")
	}
	entry := &cacheEntry{principal: p.Clone(), kind: cred.Kind, deadline: now.Add(c.ttl)}
	if !p.ExpiresAt.IsZero() && p.ExpiresAt.Before(entry.deadline) {
		entry.deadline = p.ExpiresAt
	}
	c.store(key, entry, entry.deadline.Sub(now), generation)
	return entry, nil
}

// store inserts an entry unless an invalidation happened since the
// verification began (its result may predate a revocation).
func (c *Cache) store(key string, e *cacheEntry, ttl time.Duration, generation uint64) {
	sh := c.shard(key)
	if sh.items.ItemCount() >= c.perShard {
		c.makeRoom(sh)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.generation.Load() != generation {
		return
	}
	sh.items.Set(key, e, ttl)
	keys := c.bySubject[e.principal.Subject]
	if keys == nil {
		keys = map[string]*cacheEntry{}
		c.bySubject[e.principal.Subject] = keys
	}
	keys[key] = e
}

// makeRoom frees a full shard: expired entries first, then an arbitrary
// eighth of the rest (Go's map order is random), so that inserting stays
// cheap on average however hard the cache is flooded.
func (c *Cache) makeRoom(sh *cacheShard) {
	sh.items.DeleteExpired()
	if sh.items.ItemCount() < c.perShard {
		return
	}
	drop := max(1, c.perShard/8)
	for k := range sh.items.Items() {
		if drop == 0 {
			break
		}
		sh.items.Delete(k)
		drop--
	}
}

// unindex is go-cache's eviction callback: it forgets an evicted entry in
// the subject index, unless the key was stored again since.
func (c *Cache) unindex(key string, v any) {
	e := v.(*cacheEntry)
	c.mu.Lock()
	defer c.mu.Unlock()
	keys := c.bySubject[e.principal.Subject]
	if keys[key] != e {
		return
	}
	delete(keys, key)
	if len(keys) == 0 {
		delete(c.bySubject, e.principal.Subject)
	}
}

// Invalidate forgets cred: the very next request with it is verified again.
// Call it after revoking the credential in the backend.
func (c *Cache) Invalidate(cred Credential) {
	c.bumpGeneration()
	key := cred.cacheKey()
	c.shard(key).items.Delete(key)
}

// InvalidateSubject forgets every cached credential of the subject (after a
// logout everywhere, a password change, a disabled account).
func (c *Cache) InvalidateSubject(subject string) {
	c.mu.Lock()
	c.generation.Add(1)
	keys := c.bySubject[subject]
	delete(c.bySubject, subject)
	c.mu.Unlock()
	for key := range keys {
		c.shard(key).items.Delete(key)
	}
}

// Purge forgets every entry.
func (c *Cache) Purge() {
	c.mu.Lock()
	c.generation.Add(1)
	c.bySubject = map[string]map[string]*cacheEntry{}
	c.mu.Unlock()
	for i := range c.shards {
		c.shards[i].items.Flush()
	}
}

// Len returns the number of entries held, expired ones not yet swept included.
func (c *Cache) Len() int {
	n := 0
	for i := range c.shards {
		n += c.shards[i].items.ItemCount()
	}
	return n
}

func (c *Cache) bumpGeneration() {
	c.mu.Lock()
	c.generation.Add(1)
	c.mu.Unlock()
}

// Close stops the cache's background goroutine. The cache still answers
// afterwards, without sweeping expired entries. Close is idempotent.
func (c *Cache) Close() error {
	c.closeOnce.Do(func() {
		close(c.stop)
		<-c.done
	})
	return nil
}

func (c *Cache) janitor() {
	defer close(c.done)
	ticker := time.NewTicker(c.cleanup)
	defer ticker.Stop()
	for {
		select {
		case <-ticker.C:
			for i := range c.shards {
				c.shards[i].items.DeleteExpired()
			}
		case <-c.stop:
			return
		}
	}
}
