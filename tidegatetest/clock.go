package tidegatetest

import (
	"sync"
	"time"
)

// ClockStart is where a Clock starts when NewClock is given the zero time,
// and where the zero Clock stands until it is set or advanced.
var ClockStart = time.Date(2030, time.January, 1, 0, 0, 0, 0, time.UTC)

// Clock is a fixed clock that moves only when told to: pass clock.Now to
// any WithClock option of tidegate (session.WithClock, bearer.WithClock,
// basicauth.WithClock, middleware.WithClock, middleware.WithStoreClock) and
// test expiry without sleeping. It is safe for concurrent use; the zero
// Clock stands at ClockStart.
type Clock struct {
	mu      sync.Mutex
	now     time.Time
	started bool
}

// NewClock returns a clock standing at start (ClockStart when start is the
// zero time).
func NewClock(start time.Time) *Clock {
	c := &Clock{}
	if !start.IsZero() {
		c.Set(start)
	}
	return c
}

// Now returns the clock's time. Times from a Clock carry no monotonic
// reading, so they compare by wall time only.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.current()
}

// current returns the time; c.mu is held.
func (c *Clock) current() time.Time {
	if !c.started {
		return ClockStart
	}
	return c.now
}

// Set moves the clock to t, forwards or backwards.
func (c *Clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now, c.started = t.Round(0), true
}

// Advance moves the clock by d (backwards when d is negative) and returns
// the new time. Concurrent calls add up: no advance is lost.
func (c *Clock) Advance(d time.Duration) time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now, c.started = c.current().Add(d), true
	return c.now
}
