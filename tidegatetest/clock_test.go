package tidegatetest_test

import (
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/tidegate/tidegate/middleware"
	"github.com/tidegate/tidegate/session"
	"github.com/tidegate/tidegate/tidegatetest"
)

func TestClockStartsWhereTold(t *testing.T) {
	at := time.Date(2024, 2, 29, 12, 0, 0, 0, time.UTC)
	var zero tidegatetest.Clock
	cases := []struct {
		name  string
		clock *tidegatetest.Clock
		want  time.Time
	}{
		{"zero value", &zero, tidegatetest.ClockStart},
		{"zero start", tidegatetest.NewClock(time.Time{}), tidegatetest.ClockStart},
		{"given start", tidegatetest.NewClock(at), at},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			assert.True(t, c.want.Equal(c.clock.Now()))
			assert.True(t, c.clock.Now().Equal(c.clock.Now()), "a Clock stands still")
		})
	}
}

func TestClockSetAndAdvance(t *testing.T) {
	var c tidegatetest.Clock
	assert.Equal(t, tidegatetest.ClockStart.Add(time.Hour), c.Advance(time.Hour))
	assert.Equal(t, tidegatetest.ClockStart.Add(time.Hour), c.Now())
	assert.Equal(t, tidegatetest.ClockStart.Add(30*time.Minute), c.Advance(-30*time.Minute))

	at := time.Date(2001, 1, 1, 0, 0, 0, 0, time.UTC)
	c.Set(at)
	assert.Equal(t, at, c.Now())
	assert.Equal(t, at.Add(time.Second), c.Advance(time.Second))
}

func TestClockDropsTheMonotonicReading(t *testing.T) {
	c := tidegatetest.NewClock(time.Now()) // time.Now carries a monotonic reading
	now := c.Now()
	assert.Equal(t, now.Round(0), now, "a Clock's time must compare by wall time only")
	c.Set(time.Now())
	assert.Equal(t, c.Now().Round(0), c.Now())
}

// TestClockConcurrentUse runs under -race in the test suite: readers and
// writers at once, and no advance is lost.
func TestClockConcurrentUse(t *testing.T) {
	c := tidegatetest.NewClock(time.Time{})
	const workers, steps = 8, 500
	var wg sync.WaitGroup
	for range workers {
		wg.Add(2)
		go func() {
			defer wg.Done()
			for range steps {
				c.Advance(time.Second)
			}
		}()
		go func() {
			defer wg.Done()
			last := c.Now()
			for range steps {
				now := c.Now()
				if now.Before(last) {
					t.Errorf("clock went backwards: %v after %v", now, last)
					return
				}
				last = now
			}
		}()
	}
	wg.Wait()
	assert.Equal(t, tidegatetest.ClockStart.Add(workers*steps*time.Second), c.Now())
}

// TestClockDrivesExpiry passes clock.Now to a tidegate option: a principal
// expires when the clock says so, without sleeping.
func TestClockDrivesExpiry(t *testing.T) {
	clock := tidegatetest.NewClock(time.Time{})
	v, err := tidegatetest.NewStaticVerifier(tidegatetest.Token("", "tok",
		middleware.Principal{Subject: "u-mary", ExpiresAt: clock.Now().Add(time.Hour)}))
	require.NoError(t, err)
	scheme, err := session.NewScheme(v, middleware.WithClock(clock.Now), middleware.WithLogger(discard()))
	require.NoError(t, err)
	h := middleware.Require(scheme)(whoami)

	assert.Equal(t, 200, get(h, "/", session.HeaderToken, "tok").Code)
	clock.Advance(time.Hour - time.Nanosecond)
	assert.Equal(t, 200, get(h, "/", session.HeaderToken, "tok").Code)
	clock.Advance(time.Nanosecond)
	assert.Equal(t, 401, get(h, "/", session.HeaderToken, "tok").Code)
}
