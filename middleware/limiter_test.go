package middleware_test

import (
	"context"
	"fmt"
	"math"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/tidegate/tidegate/middleware"
)

func TestLimiterKeys(t *testing.T) {
	for _, tc := range []struct {
		account, addr            string // addr "" is the zero Addr
		wantAccount, wantAddress string
	}{
		{"mary", "192.0.2.1", "account:mary", "address:192.0.2.1"},
		{"  Mary@Example.COM\t", "192.0.2.1", "account:mary@example.com", "address:192.0.2.1"},
		{"MARY", "::ffff:192.0.2.1", "account:mary", "address:192.0.2.1"}, // IPv4-in-IPv6 unmapped
		{"mary", "2001:db8:1:2:3:4:5:6", "account:mary", "address:2001:db8:1:2::/64"},
		{"mary", "2001:db8:1:2::", "account:mary", "address:2001:db8:1:2::/64"},
		{"mary", "2001:db8:1:3::1", "account:mary", "address:2001:db8:1:3::/64"},
		{"mary", "fe80::1%eth0", "account:mary", "address:fe80::/64"}, // zone dropped
		{"mary", "::1", "account:mary", "address:::/64"},
		{"", "", "account:", "address:unknown"},
		// Names cannot reach the address namespace.
		{"address:192.0.2.1", "192.0.2.1", "account:address:192.0.2.1", "address:192.0.2.1"},
	} {
		t.Run(tc.account+"@"+tc.addr, func(t *testing.T) {
			var addr netip.Addr
			if tc.addr != "" {
				addr = netip.MustParseAddr(tc.addr)
			}
			gotAccount, gotAddress := middleware.LimiterKeys(tc.account, addr)
			assert.Equal(t, tc.wantAccount, gotAccount)
			assert.Equal(t, tc.wantAddress, gotAddress)
		})
	}
}

func TestLimiterPolicyWithDefaults(t *testing.T) {
	d := middleware.DefaultLimiterPolicy
	got, err := middleware.LimiterPolicy{}.WithDefaults()
	require.NoError(t, err)
	assert.Equal(t, d, got)
	assert.Equal(t, middleware.LimiterPolicy{AccountAttempts: 10, AddressAttempts: 100, Window: 15 * time.Minute}, d)

	got, err = middleware.LimiterPolicy{AccountAttempts: 3, Window: time.Second}.WithDefaults()
	require.NoError(t, err)
	assert.Equal(t, middleware.LimiterPolicy{AccountAttempts: 3, AddressAttempts: d.AddressAttempts, Window: time.Second}, got)

	got, err = middleware.LimiterPolicy{Window: middleware.MaxLimiterWindow}.WithDefaults()
	require.NoError(t, err)
	assert.Equal(t, middleware.MaxLimiterWindow, got.Window)

	// A window over a day would be a lock-out in all but name (issue 3:
	// none), and one near the largest Duration overflowed Retry-After.
	for _, bad := range []middleware.LimiterPolicy{
		{AccountAttempts: -1}, {AddressAttempts: -1}, {Window: -time.Second},
		{Window: middleware.MaxLimiterWindow + 1}, {Window: math.MaxInt64},
	} {
		_, err := bad.WithDefaults()
		require.Error(t, err, "%+v", bad)
		_, err = middleware.NewMemoryLimiter(bad)
		require.Error(t, err, "%+v", bad)
	}
}

func TestNewMemoryLimiterValidatesOptions(t *testing.T) {
	for name, opt := range map[string]middleware.StoreOption{
		"nil option":       nil,
		"nil clock":        middleware.WithStoreClock(nil),
		"zero max entries": middleware.WithStoreMaxEntries(0),
		"negative entries": middleware.WithStoreMaxEntries(-5),
	} {
		t.Run(name, func(t *testing.T) {
			l, err := middleware.NewMemoryLimiter(middleware.LimiterPolicy{}, opt)
			require.Error(t, err)
			assert.Nil(t, l)
		})
	}
}

func newTestLimiter(t *testing.T, p middleware.LimiterPolicy, opts ...middleware.StoreOption) (*middleware.MemoryLimiter, *contractClock) {
	t.Helper()
	clock := newContractClock()
	l, err := middleware.NewMemoryLimiter(p, append([]middleware.StoreOption{middleware.WithStoreClock(clock.Now)}, opts...)...)
	require.NoError(t, err)
	return l, clock
}

func attempt(t *testing.T, l middleware.LoginLimiter, account string, addr netip.Addr) time.Duration {
	t.Helper()
	wait, err := l.Attempt(context.Background(), account, addr)
	require.NoError(t, err)
	return wait
}

func TestMemoryLimiterWindow(t *testing.T) {
	l, clock := newTestLimiter(t, middleware.LimiterPolicy{AccountAttempts: 3, AddressAttempts: 100, Window: time.Minute})
	for i := range 3 {
		assert.Zero(t, attempt(t, l, "mary", clientA), "attempt %d is within the limit", i+1)
		clock.Advance(10 * time.Second)
	}
	assert.Equal(t, 30*time.Second, attempt(t, l, "mary", clientA), "the window started with the first attempt")
	assert.Equal(t, 30*time.Second, attempt(t, l, "MARY", clientB))
	assert.Zero(t, attempt(t, l, "bob", clientA))

	clock.Advance(30 * time.Second)
	assert.Zero(t, attempt(t, l, "mary", clientA), "a new window")
	assert.Zero(t, attempt(t, l, "mary", clientA))
	assert.Zero(t, attempt(t, l, "mary", clientA))
	assert.Equal(t, time.Minute, attempt(t, l, "mary", clientA))
}

func TestMemoryLimiterSucceededCannotBankCredit(t *testing.T) {
	// Succeeded forgives one counted attempt: it cannot push the address
	// count below zero to buy extra attempts later.
	l, _ := newTestLimiter(t, middleware.LimiterPolicy{AccountAttempts: 100, AddressAttempts: 2, Window: time.Minute})
	ctx := context.Background()
	for range 5 {
		require.NoError(t, l.Succeeded(ctx, "nobody", clientA)) // no counter yet
	}
	assert.Zero(t, attempt(t, l, "a", clientA))
	for range 5 {
		require.NoError(t, l.Succeeded(ctx, "a", clientA))
	}
	assert.Zero(t, attempt(t, l, "b", clientA))
	assert.Zero(t, attempt(t, l, "c", clientA))
	assert.Positive(t, attempt(t, l, "d", clientA))
}

func TestMemoryLimiterBoundedUnderFlood(t *testing.T) {
	const maxEntries = 64
	l, clock := newTestLimiter(t, middleware.LimiterPolicy{}, middleware.WithStoreMaxEntries(maxEntries))
	for i := range 5000 {
		addr := netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)})
		attempt(t, l, fmt.Sprintf("user-%d", i), addr)
		require.LessOrEqual(t, l.Len(), maxEntries, "after attempt %d", i)
		if i%1000 == 999 {
			clock.Advance(time.Minute) // some windows expire on the way
		}
	}
	assert.Positive(t, l.Len())
}

func TestMemoryLimiterFloodCannotEvictAThrottle(t *testing.T) {
	// An attacker who has used up the attempts on a victim's account
	// floods the bounded table with distinct names from distinct
	// addresses to push the victim's counter out. The counters that are
	// throttling someone are evicted last.
	policy := middleware.LimiterPolicy{AccountAttempts: 3, AddressAttempts: 5, Window: time.Hour}
	l, _ := newTestLimiter(t, policy, middleware.WithStoreMaxEntries(32))
	for range 3 {
		require.Zero(t, attempt(t, l, "victim", clientA))
	}
	for i := range 4000 {
		addr := netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)})
		attempt(t, l, fmt.Sprintf("junk-%d", i), addr)
	}
	assert.LessOrEqual(t, l.Len(), 32)
	assert.Positive(t, attempt(t, l, "victim", clientB), "the victim's account is still throttled")
}

// TestMemoryLimiterFloodCannotResetACountBelowTheLimit: the flood that
// cannot evict a throttle could evict a counter one short of it (9 of 10
// attempts), which any counter not yet at its limit was as likely to lose
// as the flood's own counters of 1. Guessing 9 times, flooding, and guessing
// 9 times again went through without limit within one window.
func TestMemoryLimiterFloodCannotResetACountBelowTheLimit(t *testing.T) {
	policy := middleware.LimiterPolicy{AccountAttempts: 10, AddressAttempts: 100, Window: time.Hour}
	l, _ := newTestLimiter(t, policy, middleware.WithStoreMaxEntries(64))
	guesses := 0
	for round := range 3 {
		for range 9 {
			if attempt(t, l, "victim", clientA) > 0 {
				break
			}
			guesses++
		}
		for i := range 4000 { // a counter of 1 per address and per name
			addr := netip.AddrFrom4([4]byte{10, byte(round), byte(i >> 8), byte(i)})
			attempt(t, l, fmt.Sprintf("junk-%d-%d", round, i), addr)
		}
		assert.LessOrEqual(t, l.Len(), 64)
	}
	assert.Equal(t, 10, guesses, "the 11th guess within the window is throttled, floods or not")
	assert.Positive(t, attempt(t, l, "victim", clientB))
}

// TestMemoryLimiterFullTableFreesAnEighthPerWalk: a full limiter walks its
// whole table, under the lock every login needs, to make room. The walk
// used to stop at the expired counters whenever it found any, so a client
// sending new names as fast as old counters expired (one attempt a step
// here; 55 a second at the defaults) made every attempt walk 100,000
// counters: 7 ms of lock each. Each walk must free an eighth of the table,
// so that walks come at most once per maxEntries/8 new counters.
func TestMemoryLimiterFullTableFreesAnEighthPerWalk(t *testing.T) {
	const maxEntries = 4096
	window := middleware.DefaultLimiterPolicy.Window
	step := 2 * window / maxEntries // two counters per attempt: the table fills in one window
	l, clock := newTestLimiter(t, middleware.LimiterPolicy{}, middleware.WithStoreMaxEntries(maxEntries))
	addr := func(i int) netip.Addr { // a /64 of its own per attempt
		return netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, byte(i >> 24), byte(i >> 16), byte(i >> 8), byte(i)})
	}
	i := 0
	for ; l.Len() < maxEntries; i++ {
		require.Zero(t, attempt(t, l, fmt.Sprintf("fill-%d", i), addr(i)))
		clock.Advance(step)
	}
	// Go on at the same pace: each attempt finds about one attempt's
	// counters expired.
	const attempts = 2000
	walks := 0
	for j := range attempts {
		full := l.Len() == maxEntries // this attempt's new counters make room first
		attempt(t, l, fmt.Sprintf("new-%d", j), addr(i+j))
		clock.Advance(step)
		if full {
			walks++
			require.LessOrEqual(t, l.Len(), maxEntries-maxEntries/8+2, "attempt %d: a walk freed less than an eighth", j)
		}
	}
	assert.LessOrEqual(t, walks, 2*attempts/(maxEntries/8)+1, "walks of the whole table for %d attempts", attempts)
}

func TestMemoryLimiterThrottledAddressCannotGrowTable(t *testing.T) {
	// One client address cannot hold more than AddressAttempts account
	// counters: once it is throttled, its attempts count nowhere else.
	l, _ := newTestLimiter(t, middleware.LimiterPolicy{AccountAttempts: 10, AddressAttempts: 4, Window: time.Hour})
	for i := range 500 {
		wait := attempt(t, l, fmt.Sprintf("name-%d", i), clientA)
		if i < 4 {
			require.Zero(t, wait)
		} else {
			require.Positive(t, wait)
		}
	}
	assert.Equal(t, 4+1, l.Len(), "four names and the address")
}

func TestMemoryLimiterConcurrentAttemptsAreExact(t *testing.T) {
	const goroutines, each = 8, 40
	const total = goroutines * each
	run := func(t *testing.T, l *middleware.MemoryLimiter, account func(g, i int) string, addr func(g, i int) netip.Addr) {
		var wg sync.WaitGroup
		for g := range goroutines {
			wg.Go(func() {
				for i := range each {
					if g == 0 && i == 0 {
						continue // one attempt fewer, made below
					}
					wait, err := l.Attempt(context.Background(), account(g, i), addr(g, i))
					assert.NoError(t, err)
					assert.Zero(t, wait)
				}
			})
		}
		wg.Wait()
	}
	t.Run("one account", func(t *testing.T) {
		l, _ := newTestLimiter(t, middleware.LimiterPolicy{AccountAttempts: total, AddressAttempts: total, Window: time.Hour})
		run(t, l,
			func(int, int) string { return "mary" },
			func(g, i int) netip.Addr { return netip.AddrFrom4([4]byte{10, 0, byte(g), byte(i)}) })
		// total-1 were counted: one more fits, the next does not. A lost
		// increment would let the second through; a doubled one would stop
		// the first.
		assert.Zero(t, attempt(t, l, "Mary", clientA))
		assert.Equal(t, time.Hour, attempt(t, l, "MARY", clientA))
	})
	t.Run("one address", func(t *testing.T) {
		l, _ := newTestLimiter(t, middleware.LimiterPolicy{AccountAttempts: total, AddressAttempts: total, Window: time.Hour})
		run(t, l,
			func(g, i int) string { return fmt.Sprintf("user-%d-%d", g, i) },
			func(int, int) netip.Addr { return clientA })
		assert.Zero(t, attempt(t, l, "last", clientA))
		assert.Equal(t, time.Hour, attempt(t, l, "one too many", clientA))
	})
	t.Run("with concurrent forgiveness", func(t *testing.T) {
		// Succeeded running alongside Attempt on the same keys keeps the
		// count consistent under -race.
		l, _ := newTestLimiter(t, middleware.LimiterPolicy{AccountAttempts: 1000, AddressAttempts: 1000, Window: time.Hour})
		var wg sync.WaitGroup
		for range goroutines {
			wg.Go(func() {
				for range each {
					_, err := l.Attempt(context.Background(), "mary", clientA)
					assert.NoError(t, err)
					assert.NoError(t, l.Succeeded(context.Background(), "mary", clientA))
				}
			})
		}
		wg.Wait()
		// Every attempt was forgiven: the address count is back to zero.
		for range 1000 {
			require.Zero(t, attempt(t, l, "other", clientA))
		}
		require.Positive(t, attempt(t, l, "other", clientA))
	})
}
