// Package storetest is the conformance suite of tidegate's store contracts:
// every implementation of middleware.SessionStore, middleware.LoginLimiter,
// bearer.RefreshStore, bearer.RevocationList and basicauth.AppRegistry (the
// in-memory ones in middleware, bearer and basicauth, the Redis ones in
// redisstore) runs the same tests, so that they behave alike. Each case
// follows the contract's doc comments, not one implementation's choices.
//
// Each test builds a fresh store with a fake clock of its own and moves that
// clock instead of sleeping. Stores must honour the clock they are given for
// every expiry decision.
package storetest

import (
	"sync"
	"time"
)

// Start is the time every fake clock of the suite starts at. It has a
// nanosecond part, so that a store that rounds times fails the suite.
var Start = time.Date(2031, time.May, 6, 7, 8, 9, 123456789, time.UTC)

// Clock is a fake clock, safe for concurrent use.
type Clock struct {
	mu  sync.Mutex
	now time.Time
}

// NewClock returns a clock showing start.
func NewClock(start time.Time) *Clock { return &Clock{now: start} }

// Now returns the clock's time. Pass c.Now as a store's clock.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Advance moves the clock forward by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}
