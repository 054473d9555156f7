package storetest

import (
	"fmt"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tidegate/tidegate/middleware"
)

// NewLoginLimiter builds an empty limiter with policy for one test, whose
// windows follow now. Limiters that share a backend must not see each
// other's counts (give each a key prefix of its own).
type NewLoginLimiter func(t *testing.T, policy middleware.LimiterPolicy, now func() time.Time) middleware.LoginLimiter

// testPolicy is small, so that limits are reached in a few calls.
var testPolicy = middleware.LimiterPolicy{AccountAttempts: 3, AddressAttempts: 5, Window: time.Minute}

type limiterCase struct {
	name   string
	policy middleware.LimiterPolicy
	run    func(t *testing.T, l middleware.LoginLimiter, c *Clock)
}

// LoginLimiter runs the conformance suite of middleware.LoginLimiter against
// the limiters newLimiter builds.
func LoginLimiter(t *testing.T, newLimiter NewLoginLimiter) {
	cases := []limiterCase{
		{"account_limit", testPolicy, testAccountLimit},
		{"account_folded", testPolicy, testAccountFolded},
		{"address_limit", testPolicy, testAddressLimit},
		{"address_ipv6_per_64", testPolicy, testAddressIPv6},
		{"address_unknown", testPolicy, testAddressUnknown},
		{"address_over_spares_account", testPolicy, testAddressOverSparesAccount},
		{"window_expiry", testPolicy, testWindowExpiry},
		{"succeeded_clears_account", testPolicy, testSucceededClearsAccount},
		{"succeeded_forgives_address_attempt", testPolicy, testSucceededForgivesAddress},
		{"succeeded_without_attempts", testPolicy, testSucceededWithoutAttempts},
		{"default_policy", middleware.LimiterPolicy{}, testDefaultPolicy},
		{"account_key_limit", testPolicy, testAccountKeyLimit},
		{"account_key_succeeded", testPolicy, testAccountKeySucceeded},
		{"concurrent_attempts", middleware.LimiterPolicy{AccountAttempts: workers * rounds, AddressAttempts: workers * rounds, Window: time.Minute}, testConcurrentAttempts},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := NewClock(Start)
			l := newLimiter(t, tc.policy, c.Now)
			require.NotNil(t, l)
			tc.run(t, l, c)
		})
	}
}

var (
	addrA = netip.MustParseAddr("192.0.2.1")
	addrB = netip.MustParseAddr("192.0.2.2")
)

// attempt counts one attempt and returns the wait.
func attempt(t *testing.T, l middleware.LoginLimiter, account string, client netip.Addr) time.Duration {
	t.Helper()
	wait, err := l.Attempt(ctx, account, client)
	require.NoError(t, err)
	require.GreaterOrEqual(t, wait, time.Duration(0))
	return wait
}

// allow requires n attempts that are not throttled.
func allow(t *testing.T, l middleware.LoginLimiter, n int, account string, client netip.Addr) {
	t.Helper()
	for i := range n {
		require.Zero(t, attempt(t, l, account, client), "attempt %d of %s from %v", i+1, account, client)
	}
}

func testAccountLimit(t *testing.T, l middleware.LoginLimiter, c *Clock) {
	allow(t, l, 3, "alice", addrA)
	assert.Equal(t, time.Minute, attempt(t, l, "alice", addrB), "over the account limit, from any address")
	c.Advance(20 * time.Second)
	assert.Equal(t, 40*time.Second, attempt(t, l, "alice", addrA), "the wait runs to the end of the window")
	allow(t, l, 3, "bob", addrB) // other accounts are not affected
}

func testAccountFolded(t *testing.T, l middleware.LoginLimiter, c *Clock) {
	allow(t, l, 1, "Alice", addrA)
	allow(t, l, 1, " ALICE ", addrB)
	allow(t, l, 1, "alice", addrA)
	assert.Positive(t, attempt(t, l, "aLiCe", addrB), "account names are counted case-folded and trimmed")
	allow(t, l, 1, "alice2", addrB)
}

func testAddressLimit(t *testing.T, l middleware.LoginLimiter, c *Clock) {
	for i := range 5 {
		allow(t, l, 1, fmt.Sprint("user", i), addrA)
	}
	assert.Equal(t, time.Minute, attempt(t, l, "someone-else", addrA), "over the address limit, for any account")
	mapped := netip.AddrFrom16(addrA.As16()) // ::ffff:192.0.2.1
	assert.Positive(t, attempt(t, l, "mapped", mapped), "an IPv4-mapped address is the IPv4 address")
	allow(t, l, 1, "user0", addrB) // user0 has used 1 of 3; addrB is fresh
}

func testAddressIPv6(t *testing.T, l middleware.LoginLimiter, c *Clock) {
	for i := range 5 {
		allow(t, l, 1, fmt.Sprint("user", i), netip.MustParseAddr(fmt.Sprintf("2001:db8::%x", i+1)))
	}
	assert.Positive(t, attempt(t, l, "other", netip.MustParseAddr("2001:db8::ffff:1")), "IPv6 addresses count per /64")
	allow(t, l, 1, "other2", netip.MustParseAddr("2001:db8:0:1::1"))
}

func testAddressUnknown(t *testing.T, l middleware.LoginLimiter, c *Clock) {
	for i := range 5 {
		allow(t, l, 1, fmt.Sprint("user", i), netip.Addr{})
	}
	assert.Positive(t, attempt(t, l, "other", netip.Addr{}), "unknown addresses share one counter")
	allow(t, l, 1, "other", addrA)
}

func testAddressOverSparesAccount(t *testing.T, l middleware.LoginLimiter, c *Clock) {
	for i := range 5 {
		allow(t, l, 1, fmt.Sprint("user", i), addrA)
	}
	c.Advance(30 * time.Second)
	for range 10 {
		// Refused without a password check: the address's wait, and the
		// account's count is not touched.
		assert.Equal(t, 30*time.Second, attempt(t, l, "alice", addrA))
	}
	allow(t, l, 3, "alice", addrB)
	assert.Equal(t, time.Minute, attempt(t, l, "alice", addrB))
}

func testWindowExpiry(t *testing.T, l middleware.LoginLimiter, c *Clock) {
	allow(t, l, 3, "alice", addrA)
	c.Advance(time.Minute - time.Nanosecond)
	assert.Equal(t, time.Nanosecond, attempt(t, l, "alice", addrA))
	c.Advance(time.Nanosecond)
	allow(t, l, 3, "alice", addrA) // a new window, counted from zero
	assert.Equal(t, time.Minute, attempt(t, l, "alice", addrA))
}

func testSucceededClearsAccount(t *testing.T, l middleware.LoginLimiter, c *Clock) {
	allow(t, l, 2, "alice", addrA)
	require.NoError(t, l.Succeeded(ctx, "alice", addrA))
	allow(t, l, 3, "alice", addrB)
	assert.Positive(t, attempt(t, l, "alice", addrB))
	require.NoError(t, l.Succeeded(ctx, "ALICE", addrB), "Succeeded folds the name too")
	allow(t, l, 1, "alice", addrB)
}

func testSucceededForgivesAddress(t *testing.T, l middleware.LoginLimiter, c *Clock) {
	for i := range 4 {
		allow(t, l, 1, fmt.Sprint("user", i), addrA)
	}
	require.NoError(t, l.Succeeded(ctx, "user0", addrA)) // addrA: 4 -> 3
	allow(t, l, 2, "new", addrA)
	assert.Positive(t, attempt(t, l, "new2", addrA), "one success forgives one attempt, not the address's count")
}

func testSucceededWithoutAttempts(t *testing.T, l middleware.LoginLimiter, c *Clock) {
	require.NoError(t, l.Succeeded(ctx, "alice", addrA))
	require.NoError(t, l.Succeeded(ctx, "alice", addrA))
	allow(t, l, 3, "alice", addrA)
	assert.Positive(t, attempt(t, l, "alice", addrA), "forgiving nothing must not leave credit")
	for i := range 2 {
		require.NoError(t, l.Succeeded(ctx, fmt.Sprint("user", i), addrB))
	}
	for i := range 5 {
		allow(t, l, 1, fmt.Sprint("user", i), addrB)
	}
	assert.Positive(t, attempt(t, l, "user9", addrB), "the address count does not go below zero")
}

func testDefaultPolicy(t *testing.T, l middleware.LoginLimiter, c *Clock) {
	p := middleware.DefaultLimiterPolicy
	allow(t, l, p.AccountAttempts, "alice", addrA)
	assert.Equal(t, p.Window, attempt(t, l, "alice", addrA))
}

const workers, rounds = 8, 25

func testConcurrentAttempts(t *testing.T, l middleware.LoginLimiter, c *Clock) {
	var wg sync.WaitGroup
	var throttled sync.Map
	start := make(chan struct{})
	for w := range workers {
		wg.Go(func() {
			<-start
			for r := range rounds {
				wait, err := l.Attempt(ctx, "alice", addrA)
				if err != nil || wait != 0 {
					throttled.Store(fmt.Sprint(w, "-", r), fmt.Sprint(wait, err))
				}
			}
		})
	}
	close(start)
	wg.Wait()
	throttled.Range(func(k, v any) bool {
		t.Errorf("attempt %v within the limit was throttled or failed: %v", k, v)
		return true
	})
	// Exactly the limit was used: one more is over, on both counters.
	assert.Equal(t, time.Minute, attempt(t, l, "alice", addrB), "no increment of the account was lost")
	assert.Equal(t, time.Minute, attempt(t, l, "bob", addrA), "no increment of the address was lost")
}

// accountLimiter returns l as an AccountLimiter, failing t if it is not
// one: both of tidegate's limiters are.
func accountLimiter(t *testing.T, l middleware.LoginLimiter) middleware.AccountLimiter {
	t.Helper()
	al, ok := l.(middleware.AccountLimiter)
	require.True(t, ok, "%T is not a middleware.AccountLimiter", l)
	return al
}

func attemptAccount(t *testing.T, l middleware.AccountLimiter, key string) time.Duration {
	t.Helper()
	wait, err := l.AttemptAccount(ctx, key)
	require.NoError(t, err)
	return wait
}

func testAccountKeyLimit(t *testing.T, l middleware.LoginLimiter, c *Clock) {
	al := accountLimiter(t, l)
	key := middleware.AccountLimiterKey("u-1", "")
	for range 3 {
		require.Zero(t, attemptAccount(t, al, key))
	}
	assert.Equal(t, time.Minute, attemptAccount(t, al, key), "over AccountAttempts")
	c.Advance(20 * time.Second)
	assert.Equal(t, 40*time.Second, attemptAccount(t, al, key), "the wait runs to the end of the window")
	assert.Zero(t, attemptAccount(t, al, middleware.AccountLimiterKey("u-2", "")), "other accounts are not affected")
	assert.Zero(t, attemptAccount(t, al, middleware.AccountLimiterKey("", "u-1")), "nor a login name that names no account")
	allow(t, l, 3, "u-1", addrA) // nor the counter of the typed name u-1
	c.Advance(40 * time.Second)
	assert.Zero(t, attemptAccount(t, al, key), "a new window")
}

func testAccountKeySucceeded(t *testing.T, l middleware.LoginLimiter, c *Clock) {
	al := accountLimiter(t, l)
	key := middleware.AccountLimiterKey("u-1", "")
	for range 4 {
		attemptAccount(t, al, key)
	}
	require.NoError(t, al.SucceededAccount(ctx, key))
	for range 3 {
		require.Zero(t, attemptAccount(t, al, key), "the count was cleared")
	}
	require.NoError(t, al.SucceededAccount(ctx, middleware.AccountLimiterKey("u-9", "")), "clearing an unknown key is no error")
}
