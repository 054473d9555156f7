package middleware

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"hash/maphash"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	gocache "github.com/patrickmn/go-cache"
	"github.com/tidegate/tidegate/internal/nilness"
	"github.com/tidegate/tidegate/internal/withheld"
)

// Cache defaults.
const (
	// DefaultMaxEntries bounds a Cache unless WithMaxEntries says otherwise.
	DefaultMaxEntries = 100_000
	// DefaultVerifyTimeout bounds each call to the wrapped Verifier.
	DefaultVerifyTimeout = 5 * time.Second
	// DefaultRefusalTTL is how long a Cache remembers that a credential was
	// refused, unless WithRefusals says otherwise.
	DefaultRefusalTTL = 5 * time.Second
	// DefaultMaxRefusals bounds the refusals a Cache remembers, apart from
	// its successes, unless WithRefusals says otherwise.
	DefaultMaxRefusals = 1024
	// MaxRefusalTTL is the longest WithRefusals accepts: a refusal is only
	// remembered briefly.
	MaxRefusalTTL = time.Minute
	// MaxRefusals is the most refusals WithRefusals lets a Cache remember.
	MaxRefusals = 1 << 24
	// maxShards is the most go-cache instances a Cache spreads its entries
	// over. Each shard keeps its share of the size bound, so that an insert
	// and its eviction touch one shard's state.
	maxShards = 256
	// minPerShard keeps small caches on few shards, so that their bound
	// stays close to the one asked for (each shard holds at least one).
	minPerShard = 8
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
//     the call runs on the first caller's goroutine;
//   - keys are unambiguous: the credential's parts are encoded injectively
//     and the kind is compared on every hit, so a hit can only ever return
//     the principal of the exact credential that was verified;
//   - Invalidate and InvalidateSubject take effect on the very next request,
//     including against a verification already in flight;
//   - only successes are cached. A refusal (the Verifier's
//     ErrInvalidCredential: a wrong, forged, expired or revoked
//     credential) is remembered briefly, in a small table of its own
//     (WithRefusals), so that a client repeating a bad credential costs one
//     verification per DefaultRefusalTTL instead of one per request, and no
//     flood of bad credentials can evict a good one or grow memory. A
//     refusal of a credential still cached (verified again under a TTL cap)
//     removes its entry. Backend errors, rate limits and panics are never
//     remembered;
//   - Close stops its background goroutine.
//
// Entries are spread over several go-cache shards, chosen by a seeded hash
// of the key. A hit takes no lock at all: it reads its shard's hit index, a
// lock-free mirror of the shard's go-cache (see hitIndex). A miss takes
// only its shard's lock, so misses of different keys rarely wait for each
// other. The Cache keeps
// each entry's deadline itself (go-cache entries never expire on their own),
// so a hit reads the clock once, and the janitor sweeps expired entries.
type Cache struct {
	withheld.Contents[Cache] // prints as its name alone: no secret in a log

	next       Verifier
	ttl        time.Duration
	cleanup    time.Duration
	timeout    time.Duration
	maxEntries int
	now        func() time.Time
	observer   Observer
	observed   bool // observer is not a NopObserver: skip the call on hits otherwise
	// customClock is set by WithClock; see Scheme.verify.
	customClock bool
	// ttlCap, in nanoseconds, shortens every entry's life while positive:
	// it is the smallest of the caps held (see AddTTLCap and CapTTL), kept
	// in one atomic so that a hit reads it without a lock.
	ttlCap atomic.Int64
	// capMu guards the caps held, and every store to ttlCap, which is
	// recomputed from them whenever one is added or removed.
	capMu   sync.Mutex
	caps    map[uint64]time.Duration // AddTTLCap's caps in force, by holder
	lastCap uint64                   // the number of AddTTLCap's last holder
	capSlot time.Duration            // CapTTL's own cap, 0 when none

	shards   []cacheShard // a power of two of them
	mask     uint32       // len(shards) - 1
	seed     maphash.Seed // of shard's hash
	perShard int

	// refusals remembers recent refusals (see refusal): a power of two of
	// slots, or nil when refusals are not remembered.
	refusals   []atomic.Pointer[refusal]
	refusalTTL time.Duration
	maxRefused int

	// generation counts the invalidations that may concern any
	// credential (InvalidateSubject, Purge). Each moves it on before it
	// takes any shard's lock; a verification begun under an older
	// generation stores nothing (see settle), as its answer may predate
	// the invalidation: whose subject a verification is for is unknown
	// until the Verifier answers. Invalidate, which knows its keys, voids
	// only their verifications instead (see forget), so that a logout does
	// not cost every other credential in flight its answer and its
	// singleflight.
	generation atomic.Uint64

	stop      chan struct{}
	done      chan struct{}
	closeOnce sync.Once
}

// cacheShard is one go-cache instance and what the Cache keeps beside it.
// Each shard has its own lock, so misses of different keys, which usually
// fall in different shards, neither wait for each other nor pass a lock's
// cache line between cores: one lock for the whole Cache made a miss on 2
// cores cost half as much again as a serial one.
type cacheShard struct {
	// mu guards the fields below and every change to the shard's contents:
	// each go-cache Set and Delete happens under it, with the same change
	// to the hit index. Misses, invalidations, Purge and the janitor take
	// it; a hit never does.
	mu    sync.Mutex
	items *gocache.Cache
	index *hitIndex     // what items holds, for lock-free hits
	ring  []*cacheEntry // entries in the order stored, at most perShard
	next  int           // the ring's oldest slot once it is full
	dead  int           // entries in the ring that left the cache
	// bySubject holds, per subject, the head of the list of the shard's
	// entries of that subject (linked through cacheEntry.prev and next),
	// for InvalidateSubject.
	bySubject map[string]*cacheEntry
	// flights are the verifications in progress of the shard's keys.
	flights map[flightKey]*flight
	_       [64]byte // keep shards' hot fields on separate cache lines
}

// minCompact is the fewest dead ring slots worth a compaction.
const minCompact = 8

// cacheEntry is immutable once stored, but for its links in the subject
// index: hits hand out &principal, and FromContext copies it before a
// handler can touch it.
type cacheEntry struct {
	principal Principal
	kind      Kind
	form      keyForm
	key       string
	hash      uint64      // of key: picks the shard and the index bucket
	shard     *cacheShard // key's, so that removing the entry hashes nothing
	// born is when the verification began, on the Cache's clock, and the
	// entry lives for life from then (see deadline). With the real clock a
	// hit computes time.Since(born), which reads only the monotonic clock:
	// half the cost of the time.Now that comparing with a deadline needs.
	born time.Time
	life time.Duration

	// prev and next link the shard's entries of one subject; indexed says
	// whether the entry is in that list, which is exactly while go-cache
	// holds it; inRing whether its shard's ring still has a slot for it.
	// Guarded by the shard's mu.
	prev, next *cacheEntry
	indexed    bool
	inRing     bool
	// hnext links the entries of one bucket of the shard's hit index. It is
	// written under the shard's mu and read without a lock by hits.
	hnext atomic.Pointer[cacheEntry]
}

// deadline is when e stops being served, on the Cache's clock.
func (e *cacheEntry) deadline() time.Time { return e.born.Add(e.life) }

// NewCache wraps next in a cache whose entries live at most ttl. ttl must be
// positive: go-cache would read zero as "never expires".
//
// next may verify other credentials through the cache it is wrapped in,
// but must not verify the credential it is verifying through it, directly
// or through another credential's verification: that call would wait on
// the verification that made it. When the call passes on the context next
// was given, and every verification on the way was started from within
// the one before, the cache sees the cycle and answers it at once with an
// ErrInternal error (500). A cycle it cannot see (a context not derived
// from next's, or two verifications led by different requests, each
// waiting for the other) ends at the verify timeout, with 503.
func NewCache(next Verifier, ttl time.Duration, opts ...CacheOption) (*Cache, error) {
	if nilness.Is(next) {
		return nil, errors.New("tidegate: cache needs a verifier")
	}
	if ttl <= 0 {
		return nil, errors.New("tidegate: cache TTL must be positive")
	}
	c := &Cache{
		next:       next,
		ttl:        ttl,
		cleanup:    defaultCleanup(ttl),
		timeout:    DefaultVerifyTimeout,
		maxEntries: DefaultMaxEntries,
		refusalTTL: DefaultRefusalTTL,
		maxRefused: DefaultMaxRefusals,
		now:        time.Now,
		observer:   NopObserver{},
		seed:       maphash.MakeSeed(),
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
	_, c.observed = c.observer.(NopObserver)
	c.observed = !c.observed
	n := 1
	for n < maxShards && n*2*minPerShard <= c.maxEntries {
		n *= 2
	}
	c.shards, c.mask = make([]cacheShard, n), uint32(n-1)
	perShard := c.maxEntries / n // rounded up without overflowing near MaxInt
	if c.maxEntries%n != 0 {
		perShard++
	}
	c.perShard = max(1, perShard)
	for i := range c.shards {
		// A negative cleanup interval starts no go-cache janitor: go-cache
		// can only stop its own through a finalizer, so the Cache runs one
		// janitor for all shards and stops it in Close. No eviction
		// callback either: every Set and Delete happens under the shard's
		// mu, which unlinks the entry from the subject index there and then.
		sh := &c.shards[i]
		sh.items = gocache.New(gocache.NoExpiration, -1)
		sh.index = newHitIndex(c.perShard)
		sh.bySubject = map[string]*cacheEntry{}
		sh.flights = map[flightKey]*flight{}
	}
	if c.refusalTTL > 0 {
		n := 1
		for n < c.maxRefused {
			n *= 2
		}
		c.refusals = make([]atomic.Pointer[refusal], n)
	}
	go c.janitor()
	return c, nil
}

// defaultCleanup is the janitor's interval unless WithCleanupInterval says
// otherwise: the TTL, between one second and one minute. Entries are judged
// on every hit, so the sweep only gives memory back; a TTL of a microsecond
// made a janitor that woke a million times a second.
func defaultCleanup(ttl time.Duration) time.Duration {
	return min(max(ttl, time.Second), time.Minute)
}

// built reports whether c was made by NewCache. The methods of a zero or
// nil Cache fail safe: Verify refuses with a 500, the others do nothing.
// A nil one is reached through the Cache and Close of a zero Service.
func (c *Cache) built() bool { return c != nil && c.shards != nil }

// Verify returns the cached principal of c, or asks the wrapped Verifier.
// The returned principal, or error, is the caller's own copy.
func (c *Cache) Verify(ctx context.Context, cred Credential) (Principal, error) {
	if !c.built() {
		return Principal{}, notBuilt("Cache")
	}
	p, e := c.verifyShared(ctx, cred, false)
	if e != nil {
		return Principal{}, e.shared() // every caller that joined the flight got the same one
	}
	return p.Clone(), nil
}

// verifyShared is Verify without the copies: the returned principal belongs
// to the cache, and the error to every request that joined the same
// verification; neither may be changed. (A Scheme changes neither: its
// renderer gets a copy of the error, see Scheme.respond.)
//
// missed says the caller has just looked cred up (Scheme's cache-first
// path) and found nothing: the lookup is not repeated. Should the entry
// appear meanwhile, the verification it costs is merely redundant.
func (c *Cache) verifyShared(ctx context.Context, cred Credential, missed bool) (*Principal, *Error) {
	key, form := cred.cacheKey()
	hash := c.hash(key)
	if !missed {
		if e, refused := c.hitHash(cred.Kind, form, key, hash); e != nil {
			return &e.principal, nil
		} else if refused != nil {
			return nil, refused
		}
	}
	if c.observed {
		c.observeCache(cred.Kind, false)
	}
	return c.miss(ctx, cred, form, key, hash)
}

// hit returns the live entry of (kind, form, key), or else the refusal the
// cache remembers for it, and observes the hit; or nil and nil, observing
// nothing: the caller then verifies the credential through verifyShared,
// which observes the miss. It serves Scheme's cache-first path (see
// Peeker). A success is looked for first, so that remembering refusals
// costs the hits nothing.
func (c *Cache) hit(kind Kind, form keyForm, key string) (*cacheEntry, *Error) {
	return c.hitHash(kind, form, key, c.hash(key))
}

// hitHash is hit for a key whose hash the caller has.
func (c *Cache) hitHash(kind Kind, form keyForm, key string, hash uint64) (*cacheEntry, *Error) {
	e := c.find(kind, form, key, hash)
	var refused *Error
	if e == nil && c.refusals != nil {
		refused = c.refused(kind, form, hash)
	}
	if (e != nil || refused != nil) && c.observed {
		c.observeCache(kind, true)
	}
	return e, refused
}

// observeCache tells the observer of a hit or a miss, containing its
// panic as Scheme.observe does; a Cache has no logger of its own, so the
// panic's type goes to slog's default logger.
func (c *Cache) observeCache(kind Kind, hit bool) {
	defer func() {
		if v := recover(); v != nil {
			slog.Default().Error("tidegate cache observer panicked",
				slog.String("kind", string(kind)), slog.String("panic_type", fmt.Sprintf("%T", v)))
		}
	}()
	c.observer.ObserveCache(kind, hit)
}

// lookup returns the live entry of (kind, form, key), or nil.
func (c *Cache) lookup(kind Kind, form keyForm, key string) *cacheEntry {
	return c.find(kind, form, key, c.hash(key))
}

// find is the hot path: no lock, no write, no allocation, and one clock
// read (of the monotonic clock only, unless WithClock replaced it).
func (c *Cache) find(kind Kind, form keyForm, key string, hash uint64) *cacheEntry {
	e := c.shardOf(hash).index.find(hash, key)
	if e == nil || e.kind != kind || e.form != form {
		return nil
	}
	var age time.Duration
	if c.customClock {
		now := c.now()
		if !now.Before(e.deadline()) {
			return nil
		}
		age = now.Sub(e.born)
	} else if age = time.Since(e.born); age >= e.life {
		return nil
	}
	if limit := c.ttlCap.Load(); limit > 0 && age >= time.Duration(limit) {
		return nil
	}
	return e
}

// shard picks the shard of a key by a seeded hash of the whole key. Keys
// come from any Verifier's credentials, whose random part may be anywhere
// (or nowhere: sequential API keys, a fixed suffix), and the size bound is
// kept per shard: hashing only part of the key crowded such keys into a
// few shards, which then held a fraction of the bound and were hit by
// every request. The seed is the Cache's own, so nobody outside can
// predict which keys share a shard.
func (c *Cache) shard(key string) *cacheShard { return c.shardOf(c.hash(key)) }

// hash is the seeded hash of a key: its low 32 bits pick the shard, its
// high ones the bucket of the shard's hit index. It is the hash Go's maps
// use for strings (maphash.Comparable), which on amd64 hashed a 300-byte
// JWT in 10 ns against maphash.String's 20 ns (go1.26).
func (c *Cache) hash(key string) uint64 { return maphash.Comparable(c.seed, key) }

// shardOf returns the shard of a key's hash.
func (c *Cache) shardOf(hash uint64) *cacheShard { return &c.shards[uint32(hash)&c.mask] }

// flightKey names one verification in flight. It holds the generation:
// after InvalidateSubject or Purge, new requests start a new verification
// instead of joining one that began before it. (Invalidate takes its
// key's flights out of the map instead: see forget.) A struct key costs no
// allocation.
type flightKey struct {
	kind       Kind
	form       keyForm
	generation uint64
	key        string
}

// flight is one verification in flight, shared by every request with the
// same credential. ctx is the Verifier's context. done is made by the first
// waiter (under the shard's mu), so a flight nobody waits for allocates no
// channel; entry and err are written before done is closed.
type flight struct {
	ctx   verifyContext
	done  chan struct{}
	entry *cacheEntry
	err   *Error
	// late says the Verifier answered after the verify timeout: the leader
	// then answers 503, as every waiter did at the deadline, though the
	// answer is still kept for the next request. Only the leader reads it.
	late bool
	// void says Invalidate took the flight out of its shard's flights: its
	// answer may predate the invalidation of its key, and settle keeps
	// nothing of it. Guarded by the shard's mu.
	void bool
}

// miss verifies cred once for all concurrent callers and caches a success
// (or remembers a refusal). hash is the hash of key.
//
// The first caller (the leader) runs the Verifier on its request's own
// goroutine, with a context that keeps its values but not its cancellation and that ends
// after the verify timeout: when the leader's request is cancelled the
// verification goes on for the others and for the cache. Later callers (the
// waiters) wait for it, for their own context, or for the verify timeout,
// whichever comes first. Running the leader inline rather than on a new
// goroutine, and arming the timeout's timer only when the Verifier asks for
// its context's Done channel (or a waiter waits), keeps a miss to about the
// cost of the Verifier and the insert: a goroutine and two timers per miss
// made it several times slower.
func (c *Cache) miss(ctx context.Context, cred Credential, form keyForm, key string, hash uint64) (*Principal, *Error) {
	sh := c.shardOf(hash)
	fk := flightKey{kind: cred.Kind, form: form, generation: c.generation.Load(), key: key}
	// One clock read serves the verify deadline and the entry's birth: its
	// life counts from when the verification began (fill judges the
	// principal's expiry when the Verifier answers). It is read before the
	// lock, so that no clock (WithClock's may be anyone's code) runs under
	// it; a waiter has no use for it.
	start := c.now()
	sh.mu.Lock()
	if f, ok := sh.flights[fk]; ok {
		if f.done == nil {
			f.done = make(chan struct{})
		}
		sh.mu.Unlock()
		return c.wait(ctx, f)
	}
	deadline := start.Add(c.timeout)
	if c.customClock {
		deadline = time.Now().Add(c.timeout) // the timeout runs on the real clock
	}
	f := &flight{}
	f.ctx.init(ctx, deadline) // before the waiters can see f
	sh.flights[fk] = f
	sh.mu.Unlock()

	c.lead(sh, f, fk, hash, cred, start)
	if f.late {
		return nil, Unavailable("timeout", context.DeadlineExceeded)
	}
	if f.err != nil {
		return nil, f.err
	}
	return &f.entry.principal, nil
}

// lead runs the verification of flight f, keeps its outcome and hands it
// to the waiters, even if something below panics (callVerifier recovers a
// Verifier's panic; this is for the cache's own code).
func (c *Cache) lead(sh *cacheShard, f *flight, fk flightKey, hash uint64, cred Credential, start time.Time) {
	landed := false
	defer func() {
		if !landed {
			f.entry, f.err = nil, Internal("verification aborted")
			c.land(sh, f, fk, hash, nil, start)
		}
	}()
	var refusal *Error
	f.entry, f.err, refusal, f.late = c.fill(&f.ctx, cred, fk, start)
	c.land(sh, f, fk, hash, refusal, start)
	landed = true
}

// land ends flight f: it keeps the outcome (see settle), wakes the
// waiters and releases the Verifier's context.
func (c *Cache) land(sh *cacheShard, f *flight, fk flightKey, hash uint64, refusal *Error, start time.Time) {
	if done := c.settle(sh, f, fk, hash, refusal, start); done != nil {
		close(done)
	}
	f.ctx.release()
}

// settle, under the shard's lock, takes flight f out of the shard (no
// waiter can join it afterwards) and keeps its outcome: the entry of a
// success, or the Verifier's refusal, which also removes the entry the
// credential may still hold (see dropDeniedLocked). Neither is kept when
// an invalidation that may concern it happened since the verification
// began: its answer may predate a revocation. Invalidate voids the flights
// of its keys under this same lock, and InvalidateSubject and Purge move
// the generation on before they take a shard's lock, so either the check
// here sees the invalidation, or it comes after this critical section and
// removes what was kept. It returns the channel to close for the waiters,
// if any waits.
func (c *Cache) settle(sh *cacheShard, f *flight, fk flightKey, hash uint64, refusal *Error, start time.Time) chan struct{} {
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if f.void {
		// Invalidate took it out of the flights already, and a newer
		// flight may hold fk now: delete nothing.
		return f.done
	}
	delete(sh.flights, fk)
	if refusal != nil && denies(refusal) {
		// Whatever the generation: an InvalidateSubject of anyone moves
		// it, and must not leave in place the stale success this refusal
		// contradicts. Dropping an entry is always safe; at worst it costs
		// a newer one a verification.
		dropDeniedLocked(sh, fk, hash)
	}
	if c.generation.Load() == fk.generation {
		switch {
		case f.entry != nil:
			c.storeLocked(sh, f.entry, hash)
		case refusal != nil:
			c.rememberLocked(fk, hash, refusal, start)
		}
	}
	return f.done
}

// denies reports whether the Verifier's error e says that the credential
// must not pass as it stands (invalid, even for a while, or forbidden),
// rather than that it could not decide (a backend error, a rate limit, a
// bug), which says nothing against an earlier success.
func denies(e *Error) bool { return e.Kind == ErrInvalidCredential || e.Kind == ErrForbidden }

// dropDeniedLocked removes the entry fk's key holds, if it is of fk's kind
// and form: the success of the credential the Verifier has just denied. A
// credential still cached is verified again when its entry is older than
// the TTL cap in force (see AddTTLCap; or when a Scheme's cache-first lookup missed it just
// before it was stored); kept, the old entry would be served again once
// the cap is lifted, until its full TTL, though the Verifier refused it. The
// key may hold another credential's entry (another kind, or a token "a:b"
// beside the parts ("a", "b")), which stays. Called under sh.mu.
func dropDeniedLocked(sh *cacheShard, fk flightKey, hash uint64) {
	if e := sh.index.find(hash, fk.key); e != nil && e.kind == fk.kind && e.form == fk.form {
		removeLocked(e)
	}
}

// wait waits for a flight another request leads. A request whose context
// descends from the flight's own (its Verifier calling back into the cache
// for the credential it verifies) would wait for itself until the verify
// timeout: it is refused at once, as the bug it is. The check reads ctx's
// values, which may be anyone's code, outside the shard's lock; it costs
// only the requests that join a flight.
func (c *Cache) wait(ctx context.Context, f *flight) (*Principal, *Error) {
	if f.ctx.encloses(ctx) {
		return nil, Internal("verifier re-entered the cache")
	}
	select {
	case <-f.done:
	case <-ctx.Done():
		return nil, Unavailable("canceled", ctx.Err())
	case <-f.ctx.Done():
		// The verify timeout passed, or the flight just ended (release
		// closes the context after done): prefer the outcome if there is one.
		select {
		case <-f.done:
		default:
			return nil, Unavailable("timeout", context.DeadlineExceeded)
		}
	}
	if f.err != nil {
		return nil, f.err
	}
	return &f.entry.principal, nil
}

// fill runs the wrapped Verifier (with ctx, whose deadline is the verify
// timeout) and makes the entry of a success; the caller stores it. start
// is when the verification began: the entry's lifetime counts from then,
// as a revocation during the call may predate the answer. The principal is
// judged when the answer arrives: one that expired while the Verifier ran
// is refused, as a Scheme without a cache refuses it. refusal is the
// Verifier's own error, for the caller to remember (an expiry judged here
// is not remembered). late reports an answer that arrived after ctx's
// deadline; it is kept all the same.
func (c *Cache) fill(ctx *verifyContext, cred Credential, fk flightKey, start time.Time) (entry *cacheEntry, e, refusal *Error, late bool) {
	p, e := callVerifier(ctx, c.next, cred)
	var end time.Time
	if c.customClock {
		end = c.now()
		late = !time.Now().Before(ctx.deadline) // the timeout runs on the real clock
	} else {
		// The monotonic clock alone: half the cost of a second time.Now.
		end = start.Add(time.Since(start))
		late = !end.Before(ctx.deadline)
	}
	if e != nil {
		return nil, e, e, late
	}
	if p.expired(end) {
		return nil, expiredPrincipal(&p), nil, late
	}
	deadline := start.Add(c.ttl)
	if !p.ExpiresAt.IsZero() && p.ExpiresAt.Before(deadline) {
		deadline = p.ExpiresAt
	}
	entry = &cacheEntry{principal: p, kind: cred.Kind, form: fk.form, key: fk.key, born: start, life: deadline.Sub(start)}
	return entry, nil, nil, late
}

// storeLocked inserts e, whose key hashes to hash, into its shard sh, whose
// lock the caller holds.
//
// The size bound is kept per shard by a ring of the entries last stored in
// it: when the ring is full, storing an entry evicts the one stored perShard
// inserts ago (first in, first out), unless that one is no longer what its
// key holds (it was invalidated, or replaced by a newer entry, which has a
// slot of its own). Every live entry is in its shard's ring, and the victim
// leaves in the insert's own critical section, so a shard never holds more
// than perShard entries. Remembering keys instead made a credential verified again
// after an invalidation or expiry lose its fresh entry when the slot of its
// old one came round. This replaced sweeping a full shard through
// go-cache's Items, which copies the whole shard on every sweep.
func (c *Cache) storeLocked(sh *cacheShard, e *cacheEntry, hash uint64) {
	e.hash = hash
	e.shard = sh
	// The key may still be held: by an entry of another kind (keys do not
	// hold the kind) or by an expired one not yet swept. Its entry must
	// leave bySubject, or it would stay there for good (a leak, and a later
	// InvalidateSubject of its subject deleted this new entry), and leave
	// the hit index, which must not hold a key twice. Every change to the
	// shard happens under its mu, so the index (read here without go-cache's
	// lock) holds what Set replaces.
	if old := sh.index.find(e.hash, e.key); old != nil {
		unindexLocked(old)
		sh.index.remove(old)
	}
	var victim *cacheEntry
	if len(sh.ring) < c.perShard {
		sh.ring = append(sh.ring, e)
	} else {
		victim, sh.ring[sh.next] = sh.ring[sh.next], e
		sh.next = (sh.next + 1) % len(sh.ring)
		victim.inRing = false
		if !victim.indexed {
			sh.dead--
		}
	}
	e.inRing = true
	// An entry is indexed exactly while go-cache holds it (every Set and
	// Delete happens under the shard's mu, with the index), so a victim that is not
	// indexed any more was invalidated or replaced, and its key may hold a
	// newer entry. The victim leaves before e arrives, so that the shard
	// never holds more than perShard entries, not even for a moment that a
	// concurrent Len could see.
	if victim != nil && victim.indexed {
		removeLocked(victim)
	}
	sh.items.Set(e.key, e, gocache.NoExpiration)
	sh.index.insert(e)
	head := sh.bySubject[e.principal.Subject]
	e.next, e.indexed = head, true
	if head != nil {
		head.prev = e
	}
	sh.bySubject[e.principal.Subject] = e
	if sh.dead >= minCompact && sh.dead > len(sh.ring)/2 {
		sh.compact(c.perShard)
	}
}

// removeLocked deletes e from its shard and the subject index. e must be
// indexed, that is what its key holds (see storeLocked): Delete removes
// whatever the key holds. Called under the shard's mu.
func removeLocked(e *cacheEntry) {
	unindexLocked(e)
	e.shard.items.Delete(e.key)
	e.shard.index.remove(e)
}

// compact drops the ring's dead slots, keeping the live entries oldest
// first. Dead slots would otherwise keep entries that left the cache (and
// their principals) in memory until the ring came round to them: with
// credentials verified again every TTL, memory grew towards the bound
// instead of staying at what is live. Compacting once more than half the
// ring is dead costs O(1) per removal, amortised. Called under sh.mu.
func (sh *cacheShard) compact(perShard int) {
	n, start := len(sh.ring), 0
	if n == perShard {
		start = sh.next // a full ring's oldest slot
	}
	kept := make([]*cacheEntry, 0, max(0, n-sh.dead))
	for i := range n {
		if e := sh.ring[(start+i)%n]; e.indexed {
			kept = append(kept, e)
		} else {
			e.inRing = false
		}
	}
	sh.ring, sh.next, sh.dead = kept, 0, 0
}

// retired records, under the shard's mu, that e left the cache: its ring
// slot is dead.
func retired(e *cacheEntry) {
	if e.inRing {
		e.shard.dead++
	}
}

// verifyContext is the context the wrapped Verifier runs with: the leader's
// values, none of its cancellation, and a deadline one verify timeout after
// the start. Its Done channel and timer are made on first use, so a
// Verifier that answers without looking at its context costs no timer.
type verifyContext struct {
	parent   context.Context // for Value only
	deadline time.Time

	mu    sync.Mutex
	done  chan struct{} // nil until asked for
	err   error
	timer *time.Timer
}

func (c *verifyContext) init(parent context.Context, deadline time.Time) {
	c.parent, c.deadline = parent, deadline
}

// Deadline returns the end of the verify timeout.
func (c *verifyContext) Deadline() (time.Time, bool) { return c.deadline, true }

// Done returns a channel closed at the deadline or when the verification ends.
func (c *verifyContext) Done() <-chan struct{} {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.done == nil {
		c.done = make(chan struct{})
		switch d := time.Until(c.deadline); {
		case c.err != nil:
			close(c.done)
		case d <= 0:
			c.err = context.DeadlineExceeded
			close(c.done)
		default:
			c.timer = time.AfterFunc(d, func() { c.end(context.DeadlineExceeded) })
		}
	}
	return c.done
}

// Err returns nil while the verification runs and its deadline is ahead.
func (c *verifyContext) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err == nil && !time.Now().Before(c.deadline) {
		c.endLocked(context.DeadlineExceeded)
	}
	return c.err
}

// verifyContextKey is the key for which a verifyContext's Value answers
// itself, so that a call into the cache from its Verifier can be told
// (see encloses).
type verifyContextKey struct{}

// Value returns the leader's request values, and c itself for
// verifyContextKey.
func (c *verifyContext) Value(key any) any {
	if key == (verifyContextKey{}) {
		return c
	}
	return c.parent.Value(key)
}

// encloses reports whether ctx is c or descends from it: whether the
// request asking runs within the Verifier call of c's flight, directly or
// within the verification of another credential that Verifier asked the
// cache for (each verifyContext's parent is the context of the request
// that led it, which may be another verifyContext).
func (c *verifyContext) encloses(ctx context.Context) bool {
	for v := verifyContextOf(ctx); v != nil; v = verifyContextOf(v.parent) {
		if v == c {
			return true
		}
	}
	return false
}

// verifyContextOf returns the innermost verifyContext ctx descends from, or nil.
func verifyContextOf(ctx context.Context) *verifyContext {
	v, _ := ctx.Value(verifyContextKey{}).(*verifyContext)
	return v
}

// release ends the context once the verification is over, as the cancel of
// context.WithTimeout would, and stops its timer.
func (c *verifyContext) release() { c.end(context.Canceled) }

func (c *verifyContext) end(err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.endLocked(err)
}

func (c *verifyContext) endLocked(err error) {
	if c.err != nil {
		return
	}
	c.err = err
	if c.done != nil {
		close(c.done)
	}
	if c.timer != nil {
		c.timer.Stop()
	}
}

// unindexLocked unlinks e from its subject's list, if it is still in it.
// Called under the shard's mu.
func unindexLocked(e *cacheEntry) {
	if !e.indexed {
		return
	}
	switch {
	case e.prev != nil:
		e.prev.next = e.next
	case e.next != nil:
		e.shard.bySubject[e.principal.Subject] = e.next
	default:
		delete(e.shard.bySubject, e.principal.Subject)
	}
	if e.next != nil {
		e.next.prev = e.prev
	}
	e.prev, e.next, e.indexed = nil, nil, false
	retired(e)
}

// Invalidate forgets cred: the very next request with it is verified again.
// Call it after revoking the credential in the backend. A verification of
// cred in flight is not joined by later requests and its answer is not
// kept; verifications of other credentials are left alone.
//
// A two-part credential may be cached under either form of key: its parts
// (when it was built by hand) or the Basic token68 it arrived as (when an
// extractor built it). Both are forgotten, whichever form cred has.
// (Deleting another entry that shares the key string, of another kind or
// another form (a token "a:b" beside the parts ("a", "b")), costs it one
// verification, nothing more.)
func (c *Cache) Invalidate(cred Credential) {
	if !c.built() {
		return // nothing is cached
	}
	key, form := cred.cacheKey()
	other := "" // the credential's key in the other form, if it has one
	switch {
	case form == basicKey && (cred.Token != "" || cred.Secret != ""):
		other, _ = Credential{Token: cred.Token, Secret: cred.Secret}.cacheKey()
	case form != basicKey && !strings.Contains(cred.Token, ":"):
		other = base64.StdEncoding.EncodeToString([]byte(cred.Token + ":" + cred.Secret))
	}
	c.forget(key)
	if other != "" {
		c.forget(other)
	}
}

// forget deletes whatever entry key holds and the refusal remembered for
// it, and voids the verifications of key in flight, under the lock of
// key's shard, where a verification of key settles: one that settled
// before is deleted here, one that settles after keeps nothing (see
// settle), and the next request starts a verification of its own.
// Verifications of other keys go on, and are kept.
func (c *Cache) forget(key string) {
	sh := c.shard(key)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if v, ok := sh.items.Get(key); ok {
		removeLocked(v.(*cacheEntry))
	}
	c.forgetRefusal(key)
	sh.voidFlightsLocked(key)
}

// voidFlightsLocked takes the flights of key out of the shard and marks
// them void, whatever their kind, form or generation, as forget deletes
// whatever entry the key holds. The shard's flights are those of its
// concurrent misses, few, so a scan costs less than an index kept up on
// every miss. Called under sh.mu.
func (sh *cacheShard) voidFlightsLocked(key string) {
	for fk, f := range sh.flights {
		if fk.key == key {
			delete(sh.flights, fk)
			f.void = true
		}
	}
}

// InvalidateSubject forgets every cached credential of the subject (after a
// logout everywhere, a password change, a disabled account).
func (c *Cache) InvalidateSubject(subject string) {
	if !c.built() {
		return // nothing is cached
	}
	c.generation.Add(1) // before any shard's lock: see settle
	for i := range c.shards {
		c.shards[i].forgetSubject(subject)
	}
}

// forgetSubject deletes the shard's entries of subject.
func (sh *cacheShard) forgetSubject(subject string) {
	sh.mu.Lock()
	defer sh.mu.Unlock()
	for e := sh.bySubject[subject]; e != nil; e = sh.bySubject[subject] {
		removeLocked(e)
	}
}

// AddTTLCap shortens the life of every entry, stored before or after the
// call, to at most d, until the returned remove is called. An entry older
// than the cap in force is a miss and is verified again; refused then, it
// leaves the cache. A replica caps its cache while it cannot hear other
// replicas' revocations (see redisstore.Broadcaster): a revocation it
// missed then keeps a credential alive for at most d.
//
// Each holder's cap stays until its own remove is called, whatever other
// holders (or CapTTL) do: the cap in force is the smallest held. This is
// what owners that may overlap need, such as two Broadcasters driving one
// cache, one of which may hear revocations again while the other still
// cannot. remove is idempotent. A d <= 0 adds nothing, and a zero or nil
// Cache holds no cap: both return a remove that does nothing.
func (c *Cache) AddTTLCap(d time.Duration) (remove func()) {
	if !c.built() || d <= 0 {
		return func() {}
	}
	c.capMu.Lock()
	defer c.capMu.Unlock()
	if c.caps == nil {
		c.caps = map[uint64]time.Duration{}
	}
	c.lastCap++
	holder := c.lastCap // never reused, so a second remove deletes nothing
	c.caps[holder] = d
	c.storeCapLocked()
	return func() {
		c.capMu.Lock()
		defer c.capMu.Unlock()
		delete(c.caps, holder)
		c.storeCapLocked()
	}
}

// CapTTL sets a cap of its own, as AddTTLCap does, until CapTTL(0) lifts
// it. It is a single slot shared by every caller of CapTTL: the last call
// wins. Owners that may overlap must use AddTTLCap instead, or one of them
// lifting its cap would lift the other's. Caps added by AddTTLCap stay in
// force whatever CapTTL does. Negative d is read as 0.
func (c *Cache) CapTTL(d time.Duration) {
	if !c.built() {
		return // nothing is cached
	}
	c.capMu.Lock()
	defer c.capMu.Unlock()
	c.capSlot = max(d, 0)
	c.storeCapLocked()
}

// storeCapLocked stores in ttlCap the smallest cap held, 0 when none, for
// the hits to read. Called under capMu, so that two changes cannot store
// their results in the wrong order.
func (c *Cache) storeCapLocked() {
	limit := c.capSlot
	for _, d := range c.caps {
		if limit == 0 || d < limit {
			limit = d
		}
	}
	c.ttlCap.Store(int64(limit))
}

// Purge forgets every entry, and every remembered refusal.
func (c *Cache) Purge() {
	if !c.built() {
		return // nothing is cached
	}
	// A verification begun before the Purge stores nothing: the generation
	// moves on before any shard's lock is taken (see settle). One that
	// settled in a shard before the Purge reached it is purged with it,
	// and the refusals are cleared once every shard has been, so a refusal
	// kept meanwhile is cleared too.
	c.generation.Add(1)
	for i := range c.shards {
		c.shards[i].purge()
	}
	for i := range c.refusals {
		c.refusals[i].Store(nil)
	}
}

// purge empties the shard.
//
// Every entry is in the ring. Each leaves the index as it leaves go-cache,
// so that "indexed exactly while go-cache holds it" stays true for the
// references still held elsewhere (a sweep's copy of the shard, taken
// before the Purge, must find them gone).
//
// The entries are deleted one by one rather than flushed, and the maps
// and ring cleared rather than replaced: Go maps keep their capacity, so
// the cache refills without growing every map again, which cost a first
// sight about 0.8 µs of rehashing while the maps regrew.
func (sh *cacheShard) purge() {
	sh.mu.Lock()
	defer sh.mu.Unlock()
	clear(sh.bySubject)
	for _, e := range sh.ring {
		if e.indexed {
			sh.items.Delete(e.key)
		}
		e.prev, e.next, e.indexed, e.inRing = nil, nil, false, false
	}
	sh.index.clear()
	clear(sh.ring) // the backing array would keep the entries alive
	sh.ring, sh.next, sh.dead = sh.ring[:0], 0, 0
}

// Len returns the number of entries held, expired ones not yet swept included.
func (c *Cache) Len() int {
	if !c.built() {
		return 0
	}
	n := 0
	for i := range c.shards {
		n += c.shards[i].items.ItemCount()
	}
	return n
}

// Close stops the cache's background goroutine. The cache still answers
// afterwards, without sweeping expired entries. Close is idempotent.
func (c *Cache) Close() error {
	if !c.built() {
		return nil // no goroutine was started
	}
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
			c.sweep()
		case <-c.stop:
			return
		}
	}
}

// sweep deletes the entries whose deadline has passed, a shard at a time.
func (c *Cache) sweep() {
	now := c.now()
	for i := range c.shards {
		sh := &c.shards[i]
		sh.removeExpired(sh.expired(now))
	}
}

// expired returns the entries of sh whose deadline is not after now. It
// reads a copy of the shard (go-cache's Items) outside sh.mu, so by the
// time the caller acts on them, any of them may have left the cache.
func (sh *cacheShard) expired(now time.Time) []*cacheEntry {
	var out []*cacheEntry
	for _, item := range sh.items.Items() {
		if e := item.Object.(*cacheEntry); !now.Before(e.deadline()) {
			out = append(out, e)
		}
	}
	return out
}

// removeExpired deletes those of the shard's entries that are still what
// their key holds: since expired copied them, one may have been
// invalidated, purged, evicted or replaced by a newer entry under the same
// key.
func (sh *cacheShard) removeExpired(entries []*cacheEntry) {
	if len(entries) == 0 {
		return
	}
	sh.mu.Lock()
	defer sh.mu.Unlock()
	for _, e := range entries {
		if cur, ok := sh.items.Get(e.key); ok && cur == e {
			removeLocked(e)
		}
	}
}
