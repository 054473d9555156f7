package middleware

import (
	"sync/atomic"
	"time"
)

// refusal is a refusal the Cache remembers: the Verifier answered
// ErrInvalidCredential for the credential whose key hashes to hash.
//
// Refusals live in a table of their own, a fixed array of slots picked by
// the hash, one refusal per slot: remembering one replaces whatever its slot
// held. So refusals take a fixed amount of memory, need no lock, no sweep
// and no eviction, and cannot push a success out of the cache. A flood of
// distinct bad credentials only replaces refusals by other refusals; a
// client repeating one bad credential finds it in its slot.
//
// A refusal is known by the seeded 64-bit hash of its key, not by the key,
// which it does not keep: an 8 KiB garbage credential costs the same small
// record as any other. Two credentials of the same kind whose keys share a
// hash share a slot and a refusal, which can only ever refuse, never
// accept: with the seed the Cache's own, the odds that a given good
// credential meets a remembered refusal are one in 2^64 per slot.
type refusal struct {
	hash uint64
	kind Kind
	form keyForm
	born time.Time // when the verification began, on the Cache's clock
	err  Error     // without its cause (Err), which may quote a library
}

// rememberLocked stores e as the refusal of fk's credential, whose key
// hashes to hash, if refusals are remembered and e is one to remember:
// ErrInvalidCredential, not Transient. The caller holds the lock of the
// key's shard and has checked that no invalidation happened since the
// verification began (see Cache.settle): Invalidate forgets a refusal
// under the same lock, and Purge clears them all after it has taken and
// released every shard's lock in turn, so a refusal kept before Purge
// reached its shard is cleared too.
func (c *Cache) rememberLocked(fk flightKey, hash uint64, e *Error, start time.Time) {
	if c.refusals == nil || e.Kind != ErrInvalidCredential || e.Transient {
		return
	}
	r := &refusal{hash: hash, kind: fk.kind, form: fk.form, born: start, err: *e}
	r.err.Err = nil
	c.refusalSlot(hash).Store(r)
}

// shared returns the caller's own copy of e, an error other requests may
// hold too (the refusal of a verification every request with the same
// credential shares, a Verifier's package-level value): a renderer may
// change what it is given while the others log and render theirs.
func (e *Error) shared() *Error {
	c := *e
	return &c
}

// refused returns the caller's own copy of the refusal remembered for
// (kind, form, hash), or nil. It takes no lock.
func (c *Cache) refused(kind Kind, form keyForm, hash uint64) *Error {
	r := c.refusalSlot(hash).Load()
	if r == nil || r.hash != hash || r.kind != kind || r.form != form || !c.recent(r.born) {
		return nil
	}
	e := r.err // a renderer may change what it is given
	e.remembered = true
	return &e
}

// recent reports whether a refusal verified at born is still remembered. On
// an injected clock set back to before born it is not: the refusal may be
// an expiry the verifier would not see now. (The real clock is read as a
// monotonic one, which never goes back.)
func (c *Cache) recent(born time.Time) bool {
	if c.customClock {
		now := c.now()
		return !now.Before(born) && now.Before(born.Add(c.refusalTTL))
	}
	return time.Since(born) < c.refusalTTL
}

// forgetRefusal forgets the refusal of key, if one is remembered.
func (c *Cache) forgetRefusal(key string) {
	if c.refusals == nil {
		return
	}
	hash := c.hash(key)
	slot := c.refusalSlot(hash)
	if r := slot.Load(); r != nil && r.hash == hash {
		slot.CompareAndSwap(r, nil)
	}
}

func (c *Cache) refusalSlot(hash uint64) *atomic.Pointer[refusal] {
	return &c.refusals[hash&uint64(len(c.refusals)-1)]
}
