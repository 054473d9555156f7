// Package sweep paces the sweeps of tidegate's bounded in-memory stores.
//
// A store deletes its expired entries by sweeping all of them. It sweeps
// after as many inserts as the last sweep left entries, so a sweep costs
// O(1) per insert on average, and when an insert finds it full. A full
// store of live entries frees nothing by sweeping, though: sweeping it on
// every insert it refused cost each refused request a walk of the whole
// store (12 ms at 200,000 sessions) under the lock its lookups need too, so
// a client able to keep it full stalled every other request. While full, a
// store therefore sweeps at most once per FullInterval and refuses inserts
// in between at once; an entry that expires meanwhile is reclaimed at the
// next sweep.
package sweep

import "time"

// FullInterval is how often a full store may sweep.
const FullInterval = time.Second

// Pacer decides when a store sweeps. Its zero value is ready; the store
// guards it with its own lock.
type Pacer struct {
	sinceSweep int       // inserts since the last sweep
	left       int       // entries the last sweep left
	fullSweep  time.Time // when a sweep last ran on a full store
}

// Due reports whether an insert into a store holding n entries, bounded at
// max, must sweep first, at now (on the store's clock). Call Swept after
// the sweep.
func (p *Pacer) Due(n, max int, now time.Time) bool {
	p.sinceSweep++
	if n < max {
		return p.sinceSweep > p.left
	}
	if !p.fullSweep.IsZero() && !now.Before(p.fullSweep) && now.Sub(p.fullSweep) < FullInterval {
		return false // swept while full a moment ago: nothing more can have expired
	}
	p.fullSweep = now
	return true
}

// Swept records that a sweep left n entries.
func (p *Pacer) Swept(n int) { p.sinceSweep, p.left = 0, n }
