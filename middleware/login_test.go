package middleware_test

import (
	"context"
	"errors"
	"net/netip"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/tidegate/tidegate/middleware"
)

// contractClock is a fake clock for the in-memory stores.
type contractClock struct {
	mu  sync.Mutex
	now time.Time
}

func newContractClock() *contractClock {
	return &contractClock{now: time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)}
}

func (c *contractClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *contractClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// countingHasher counts Verify calls and remembers the hashes checked.
type countingHasher struct {
	middleware.PasswordHasher
	verifies atomic.Int64
	mu       sync.Mutex
	checked  []string
}

func (c *countingHasher) Verify(encoded, password string) (bool, error) {
	c.verifies.Add(1)
	c.mu.Lock()
	c.checked = append(c.checked, encoded)
	c.mu.Unlock()
	return c.PasswordHasher.Verify(encoded, password)
}

func (c *countingHasher) lastChecked() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.checked[len(c.checked)-1]
}

// loginFixture is a PasswordLogin over two accounts, mary (enabled) and
// dave (disabled), both with password "right password".
type loginFixture struct {
	login    *middleware.PasswordLogin
	accounts *middleware.MemoryAccounts
	hasher   *countingHasher
	clock    *contractClock
	maryHash string
}

const rightPassword = "right password"

var (
	clientA = netip.MustParseAddr("192.0.2.1")
	clientB = netip.MustParseAddr("198.51.100.7")
)

func newLoginFixture(t *testing.T, policy middleware.LimiterPolicy, opts ...middleware.LoginOption) *loginFixture {
	t.Helper()
	f := &loginFixture{hasher: &countingHasher{PasswordHasher: argonTestHasher(t)}, clock: newContractClock()}
	var err error
	f.maryHash, err = f.hasher.Hash(rightPassword)
	require.NoError(t, err)
	f.accounts = middleware.NewMemoryAccounts()
	ctx := context.Background()
	require.NoError(t, f.accounts.Create(ctx, middleware.Account{
		UserID: "u-mary", Username: "mary", Emails: []string{"mary@example.com"}, Roles: []string{"user"}, PasswordHash: f.maryHash,
	}))
	daveHash, err := f.hasher.Hash(rightPassword)
	require.NoError(t, err)
	require.NoError(t, f.accounts.Create(ctx, middleware.Account{
		UserID: "u-dave", Username: "dave", PasswordHash: daveHash, Disabled: true,
	}))
	lim, err := middleware.NewMemoryLimiter(policy, middleware.WithStoreClock(f.clock.Now))
	require.NoError(t, err)
	opts = append([]middleware.LoginOption{middleware.WithHasher(f.hasher), middleware.WithLimiter(lim)}, opts...)
	f.login, err = middleware.NewPasswordLogin(f.accounts, opts...)
	require.NoError(t, err)
	return f
}

// generous never throttles within a test.
var generous = middleware.LimiterPolicy{AccountAttempts: 1000, AddressAttempts: 1000, Window: time.Hour}

func TestPasswordLoginSuccess(t *testing.T) {
	f := newLoginFixture(t, generous)
	for _, login := range []string{"mary", "MARY", "Mary@Example.com", " mary "} {
		before := f.hasher.verifies.Load()
		a, err := f.login.Login(context.Background(), clientA, login, rightPassword)
		require.NoError(t, err, login)
		assert.Equal(t, "u-mary", a.UserID)
		assert.Equal(t, []string{"user"}, a.Roles)
		assert.Equal(t, int64(1), f.hasher.verifies.Load()-before)
	}
	assert.Same(t, f.accounts, f.login.Accounts())
}

// TestPasswordLoginConfirm: after a login, Confirm says whether the
// account is still the one Login checked: found, enabled, with the same
// password hash; an accounts outage is a 503, never a 401 or a yes.
func TestPasswordLoginConfirm(t *testing.T) {
	ctx := context.Background()
	f := newLoginFixture(t, generous)
	mary, err := f.login.Login(ctx, clientA, "mary", rightPassword)
	require.NoError(t, err)
	require.NoError(t, f.login.Confirm(ctx, mary))

	for name, change := range map[string]func(*middleware.Account){
		"disabled":         func(a *middleware.Account) { a.Disabled = true },
		"password changed": func(a *middleware.Account) { a.PasswordHash = "$argon2id$another" },
	} {
		changed := mary
		change(&changed)
		require.NoError(t, f.accounts.Update(ctx, changed))
		assert.ErrorIs(t, f.login.Confirm(ctx, mary), middleware.ErrInvalidCredential, name)
		require.NoError(t, f.accounts.Update(ctx, mary))
	}
	assert.ErrorIs(t, f.login.Confirm(ctx, middleware.Account{UserID: "u-gone"}), middleware.ErrInvalidCredential, "deleted")

	down, err := middleware.NewPasswordLogin(brokenAccounts{err: errors.New("database down")}, middleware.WithHasher(f.hasher))
	require.NoError(t, err)
	err = down.Confirm(ctx, mary)
	assert.ErrorIs(t, err, middleware.ErrUnavailable)
	assert.NotErrorIs(t, err, middleware.ErrInvalidCredential)
	assert.Error(t, (&middleware.PasswordLogin{}).Confirm(ctx, mary), "a zero PasswordLogin refuses")
}

func TestPasswordLoginFailuresAreIndistinguishable(t *testing.T) {
	for _, tc := range []struct {
		name, login, password string
		verifies              int64 // hashes checked: the same for every account-dependent case
	}{
		{"wrong password", "mary", "wrong password", 1},
		{"password differs in case", "mary", "Right Password", 1},
		{"unknown account", "nobody", rightPassword, 1},
		{"unknown account, wrong password", "nobody", "wrong password", 1},
		{"disabled account, right password", "dave", rightPassword, 1},
		{"disabled account, wrong password", "dave", "wrong password", 1},
		{"blank login", "   ", rightPassword, 1},
		// Refused by length alone, before any lookup: lengths are no secret.
		{"empty login", "", rightPassword, 0},
		{"empty login and password", "", "", 0},
		{"oversized password", "mary", rightPassword + strings.Repeat("x", middleware.MaxPasswordBytes), 0},
		{"oversized login", strings.Repeat("m", middleware.MaxLoginBytes+1), rightPassword, 0},
		// No account has a NUL in its name: treated as an unknown one
		// (see TestPasswordLoginCountsANULNameApart).
		{"a NUL in the login", "ma\x00ry", rightPassword, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newLoginFixture(t, generous)
			a, err := f.login.Login(context.Background(), clientA, tc.login, tc.password)
			assert.Zero(t, a)
			requireLoginFailed(t, err)
			assert.Equal(t, tc.verifies, f.hasher.verifies.Load())
		})
	}
}

// requireLoginFailed checks err is exactly the one login failure every
// wrong input produces.
func requireLoginFailed(t *testing.T, err error) {
	t.Helper()
	require.ErrorIs(t, err, middleware.ErrInvalidCredential)
	want := middleware.Invalid("login failed")
	var e *middleware.Error
	require.ErrorAs(t, err, &e)
	assert.Equal(t, want.Error(), e.Error())
	assert.Equal(t, want.Reason, e.Reason)
	assert.Equal(t, want.Status, e.Status)
	assert.Equal(t, want.Code, e.Code)
	assert.Nil(t, e.Err, "no cause that could tell the cases apart")
}

func TestPasswordLoginUnknownAccountCostsTheSame(t *testing.T) {
	// An unknown account is checked against a dummy hash of the same
	// hasher and parameters as a real one: one Verify of equal cost.
	f := newLoginFixture(t, generous)
	_, err := f.login.Login(context.Background(), clientA, "mary", "wrong")
	requireLoginFailed(t, err)
	real := f.hasher.lastChecked()
	require.Equal(t, f.maryHash, real)

	_, err = f.login.Login(context.Background(), clientA, "ghost", "wrong")
	requireLoginFailed(t, err)
	dummy := f.hasher.lastChecked()
	assert.NotEqual(t, real, dummy)
	assert.Equal(t, int64(2), f.hasher.verifies.Load())
	// Same algorithm, version and cost parameters; only salt and key differ.
	assert.Equal(t, strings.Split(real, "$")[:4], strings.Split(dummy, "$")[:4])
	assert.Equal(t, len(real), len(dummy))
}

func TestPasswordLoginThrottlesPerAccount(t *testing.T) {
	policy := middleware.LimiterPolicy{AccountAttempts: 3, AddressAttempts: 1000, Window: 15 * time.Minute}
	for _, tc := range []struct {
		name     string
		attempts []string // login names of the failed attempts, then of the throttled one
	}{
		{"existing account", []string{"mary", "mary", "mary", "mary"}},
		{"unknown account", []string{"ghost", "ghost", "ghost", "ghost"}},
		{"case and space folded", []string{"Mary", "MARY", " mary", "mary"}},
		{"oversized names share their bounded key", []string{
			strings.Repeat("g", middleware.MaxLoginBytes+1), strings.Repeat("g", middleware.MaxLoginBytes+2),
			strings.Repeat("g", middleware.MaxLoginBytes+3), strings.Repeat("g", middleware.MaxLoginBytes),
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newLoginFixture(t, policy)
			ctx := context.Background()
			last := len(tc.attempts) - 1
			for _, name := range tc.attempts[:last] {
				_, err := f.login.Login(ctx, clientA, name, "wrong")
				requireLoginFailed(t, err)
			}
			verifies := f.hasher.verifies.Load()
			// Even the right password, from another address, is not checked now.
			_, err := f.login.Login(ctx, clientB, tc.attempts[last], rightPassword)
			require.ErrorIs(t, err, middleware.ErrRateLimited)
			assert.NotErrorIs(t, err, middleware.ErrInvalidCredential)
			e := middleware.AsError(err)
			assert.Equal(t, 429, e.Status)
			assert.Equal(t, 15*time.Minute, e.RetryAfter)
			assert.Equal(t, verifies, f.hasher.verifies.Load(), "a throttled attempt checks no password")

			// Other names from the same address are not affected.
			_, err = f.login.Login(ctx, clientA, "zed", "wrong")
			requireLoginFailed(t, err)
		})
	}
}

// TestPasswordLoginCountsEveryNameOfAnAccountTogether: guesses through an
// account's username and its emails count against one AccountAttempts
// (they used to count per name, so an account with N emails took N+1
// times the guesses). Past it, even the right password is answered like a
// wrong one, after the same hashing work: a 429 on one name after guesses
// on another would tell that both name the same account.
func TestPasswordLoginCountsEveryNameOfAnAccountTogether(t *testing.T) {
	policy := middleware.LimiterPolicy{AccountAttempts: 3, AddressAttempts: 1000, Window: 15 * time.Minute}
	f := newLoginFixture(t, policy)
	ctx := context.Background()
	for _, name := range []string{"mary", "mary@example.com", "MARY"} { // no name reaches 3
		_, err := f.login.Login(ctx, clientA, name, "wrong")
		requireLoginFailed(t, err)
	}
	verifies := f.hasher.verifies.Load()
	_, err := f.login.Login(ctx, clientB, "Mary@Example.com", rightPassword)
	requireLoginFailed(t, err)
	assert.Equal(t, verifies+1, f.hasher.verifies.Load(), "the same hashing work as any attempt")
	assert.NotEqual(t, f.maryHash, f.hasher.lastChecked(), "but not against the account's hash")

	_, err = f.login.Login(ctx, clientA, "ghost", "wrong")
	requireLoginFailed(t, err)
	f.clock.Advance(15 * time.Minute)
	a, err := f.login.Login(ctx, clientA, "mary@example.com", rightPassword)
	require.NoError(t, err, "a new window")
	assert.Equal(t, "u-mary", a.UserID)
}

// TestPasswordLoginCountsANULNameApart: a login name holding a NUL is
// counted like any other, so that a throttled client gets its 429 and a
// limiter outage its 503 whatever it types, but never under a key starting
// with NUL, which other users of a shared limiter keep for themselves (the
// session kind's server logins: "\x00server:" + name).
func TestPasswordLoginCountsANULNameApart(t *testing.T) {
	policy := middleware.LimiterPolicy{AccountAttempts: 1000, AddressAttempts: 3, Window: 15 * time.Minute}
	f := newLoginFixture(t, policy)
	ctx := context.Background()
	for range 3 {
		_, err := f.login.Login(ctx, clientA, "\x00server:uploader", "wrong")
		requireLoginFailed(t, err)
	}
	_, err := f.login.Login(ctx, clientA, "gh\x00ost", "wrong")
	require.ErrorIs(t, err, middleware.ErrRateLimited, "the address is throttled, whatever the name")
	assert.Positive(t, middleware.AsError(err).RetryAfter)
	// That the NUL-prefixed counter is never reached:
	// TestNULNameDoesNotReachTheNULPrefixedCounter, whose account limit is
	// low enough to see it. (This test's, 1,000, never could.)
}

// accountFailingLimiter counts names and addresses, but fails to count
// accounts, as a Redis going away between two calls would.
type accountFailingLimiter struct{}

func (accountFailingLimiter) Attempt(context.Context, string, netip.Addr) (time.Duration, error) {
	return 0, nil
}
func (accountFailingLimiter) Succeeded(context.Context, string, netip.Addr) error { return nil }
func (accountFailingLimiter) AttemptAccount(context.Context, string) (time.Duration, error) {
	return 0, errors.New("redis: connection refused")
}
func (accountFailingLimiter) SucceededAccount(context.Context, string) error { return nil }

// TestPasswordLoginAnswersANULNameLikeAnUnknownOne: in every state, here a
// limiter that fails half-way, a name holding a NUL gets what an unknown
// name gets; it was refused early with 401 where others got 503.
func TestPasswordLoginAnswersANULNameLikeAnUnknownOne(t *testing.T) {
	f := newLoginFixture(t, generous, middleware.WithLimiter(accountFailingLimiter{}))
	for _, name := range []string{"mary", "ghost", "gh\x00ost"} {
		_, err := f.login.Login(context.Background(), clientA, name, "wrong")
		assert.ErrorIs(t, err, middleware.ErrUnavailable, "name %q", name)
	}
}

func TestPasswordLoginThrottlesPerAddress(t *testing.T) {
	policy := middleware.LimiterPolicy{AccountAttempts: 1000, AddressAttempts: 3, Window: time.Minute}
	ctx := context.Background()
	for _, tc := range []struct {
		name           string
		first, limited netip.Addr
		other          netip.Addr
	}{
		{"IPv4", clientA, clientA, clientB},
		{"IPv4-mapped is the same client", clientA, netip.MustParseAddr("::ffff:192.0.2.1"), clientB},
		{"IPv6 same /64", netip.MustParseAddr("2001:db8:1:2::1"), netip.MustParseAddr("2001:db8:1:2:ffff::9"), netip.MustParseAddr("2001:db8:1:3::1")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newLoginFixture(t, policy)
			for _, name := range []string{"alice", "bob", "carol"} {
				_, err := f.login.Login(ctx, tc.first, name, "wrong")
				requireLoginFailed(t, err)
			}
			_, err := f.login.Login(ctx, tc.limited, "mary", rightPassword)
			require.ErrorIs(t, err, middleware.ErrRateLimited)
			assert.Equal(t, time.Minute, middleware.AsError(err).RetryAfter)

			a, err := f.login.Login(ctx, tc.other, "mary", rightPassword)
			require.NoError(t, err, "another address is not throttled")
			assert.Equal(t, "u-mary", a.UserID)
		})
	}
}

func TestPasswordLoginSuccessForgives(t *testing.T) {
	ctx := context.Background()
	t.Run("account counter resets", func(t *testing.T) {
		f := newLoginFixture(t, middleware.LimiterPolicy{AccountAttempts: 3, AddressAttempts: 1000, Window: time.Hour})
		steps := []string{"wrong", "wrong", rightPassword, "wrong", "wrong", "wrong"}
		for i, pw := range steps {
			_, err := f.login.Login(ctx, clientA, "mary", pw)
			assert.NotErrorIs(t, err, middleware.ErrRateLimited, "step %d", i)
		}
		_, err := f.login.Login(ctx, clientA, "mary", rightPassword)
		require.ErrorIs(t, err, middleware.ErrRateLimited, "three failures since the success")
	})
	t.Run("address counter gives back the successful attempt", func(t *testing.T) {
		f := newLoginFixture(t, middleware.LimiterPolicy{AccountAttempts: 1000, AddressAttempts: 3, Window: time.Hour})
		steps := []struct{ login, password string }{
			{"a", "wrong"}, {"mary", rightPassword}, {"mary", rightPassword}, {"b", "wrong"}, {"c", "wrong"},
		}
		for i, s := range steps {
			_, err := f.login.Login(ctx, clientA, s.login, s.password)
			assert.NotErrorIs(t, err, middleware.ErrRateLimited, "step %d", i)
		}
		_, err := f.login.Login(ctx, clientA, "d", "wrong")
		require.ErrorIs(t, err, middleware.ErrRateLimited)
	})
	t.Run("a disabled account's right password forgives nothing", func(t *testing.T) {
		f := newLoginFixture(t, middleware.LimiterPolicy{AccountAttempts: 2, AddressAttempts: 1000, Window: time.Hour})
		for range 2 {
			_, err := f.login.Login(ctx, clientA, "dave", rightPassword)
			requireLoginFailed(t, err)
		}
		_, err := f.login.Login(ctx, clientA, "dave", rightPassword)
		require.ErrorIs(t, err, middleware.ErrRateLimited)
	})
}

func TestPasswordLoginThrottleExpires(t *testing.T) {
	ctx := context.Background()
	f := newLoginFixture(t, middleware.LimiterPolicy{AccountAttempts: 2, AddressAttempts: 3, Window: 10 * time.Minute})
	for range 2 {
		_, err := f.login.Login(ctx, clientA, "mary", "wrong")
		requireLoginFailed(t, err)
	}
	_, err := f.login.Login(ctx, clientA, "mary", rightPassword)
	require.ErrorIs(t, err, middleware.ErrRateLimited)
	assert.Equal(t, 10*time.Minute, middleware.AsError(err).RetryAfter)

	f.clock.Advance(4 * time.Minute)
	_, err = f.login.Login(ctx, clientA, "mary", rightPassword)
	require.ErrorIs(t, err, middleware.ErrRateLimited, "address and account both still throttled")
	assert.Equal(t, 6*time.Minute, middleware.AsError(err).RetryAfter, "retry when the window ends")

	f.clock.Advance(6*time.Minute - time.Nanosecond)
	_, err = f.login.Login(ctx, clientA, "mary", rightPassword)
	require.ErrorIs(t, err, middleware.ErrRateLimited)
	assert.Equal(t, time.Nanosecond, middleware.AsError(err).RetryAfter)

	f.clock.Advance(time.Nanosecond)
	a, err := f.login.Login(ctx, clientA, "mary", rightPassword)
	require.NoError(t, err, "no permanent lock-out")
	assert.Equal(t, "u-mary", a.UserID)
}

// brokenAccounts fails every lookup like a database that is down.
type brokenAccounts struct{ err error }

func (b brokenAccounts) FindByLogin(context.Context, string) (middleware.Account, error) {
	return middleware.Account{}, b.err
}

func (b brokenAccounts) FindByID(context.Context, string) (middleware.Account, error) {
	return middleware.Account{}, b.err
}

// stubLimiter returns fixed answers.
type stubLimiter struct {
	wait                  time.Duration
	attemptErr, succeeded error
}

func (s stubLimiter) Attempt(context.Context, string, netip.Addr) (time.Duration, error) {
	return s.wait, s.attemptErr
}

func (s stubLimiter) Succeeded(context.Context, string, netip.Addr) error { return s.succeeded }

func TestPasswordLoginBackendFailuresAreUnavailable(t *testing.T) {
	ctx := context.Background()
	cause := errors.New("dial tcp 10.0.0.5:5432: connection refused (password=hunter2)")
	hasher := argonTestHasher(t)
	good := func(t *testing.T, opts ...middleware.LoginOption) *middleware.PasswordLogin {
		f := newLoginFixture(t, generous, opts...)
		return f.login
	}
	for _, tc := range []struct {
		name  string
		login func(t *testing.T) *middleware.PasswordLogin
	}{
		{"accounts down", func(t *testing.T) *middleware.PasswordLogin {
			l, err := middleware.NewPasswordLogin(brokenAccounts{cause}, middleware.WithHasher(hasher))
			require.NoError(t, err)
			return l
		}},
		{"accounts timed out", func(t *testing.T) *middleware.PasswordLogin {
			l, err := middleware.NewPasswordLogin(brokenAccounts{context.DeadlineExceeded}, middleware.WithHasher(hasher))
			require.NoError(t, err)
			return l
		}},
		{"limiter attempt fails", func(t *testing.T) *middleware.PasswordLogin {
			return good(t, middleware.WithLimiter(stubLimiter{attemptErr: cause}))
		}},
		{"limiter succeeded fails", func(t *testing.T) *middleware.PasswordLogin {
			return good(t, middleware.WithLimiter(stubLimiter{succeeded: cause}))
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := tc.login(t).Login(ctx, clientA, "mary", rightPassword)
			require.ErrorIs(t, err, middleware.ErrUnavailable)
			assert.NotErrorIs(t, err, middleware.ErrInvalidCredential, "an outage is never a bad password")
			e := middleware.AsError(err)
			assert.Equal(t, 503, e.Status)
			assert.Positive(t, e.RetryAfter)
			assert.NotContains(t, err.Error(), "hunter2")
			assert.NotContains(t, err.Error(), "10.0.0.5")
		})
	}
	t.Run("limiter says wait", func(t *testing.T) {
		_, err := good(t, middleware.WithLimiter(stubLimiter{wait: 7 * time.Second})).Login(ctx, clientA, "mary", rightPassword)
		require.ErrorIs(t, err, middleware.ErrRateLimited)
		assert.Equal(t, 7*time.Second, middleware.AsError(err).RetryAfter)
	})
	t.Run("unreadable stored hash", func(t *testing.T) {
		// A broken record is a server fault, not a wrong password.
		f := newLoginFixture(t, generous)
		require.NoError(t, f.accounts.Create(ctx, middleware.Account{UserID: "u-x", Username: "x", PasswordHash: "$2a$10$bcrypt"}))
		_, err := f.login.Login(ctx, clientA, "x", rightPassword)
		require.ErrorIs(t, err, middleware.ErrUnavailable)
	})
}

// gateHasher blocks every Verify until released, and records how many run
// at once.
type gateHasher struct {
	middleware.PasswordHasher
	entered      chan struct{}
	release      chan struct{}
	inside, most atomic.Int64
}

func newGateHasher(t *testing.T) *gateHasher {
	return &gateHasher{PasswordHasher: argonTestHasher(t), entered: make(chan struct{}, 100), release: make(chan struct{})}
}

func (g *gateHasher) Verify(encoded, password string) (bool, error) {
	n := g.inside.Add(1)
	for {
		m := g.most.Load()
		if n <= m || g.most.CompareAndSwap(m, n) {
			break
		}
	}
	g.entered <- struct{}{}
	<-g.release
	g.inside.Add(-1)
	return g.PasswordHasher.Verify(encoded, password)
}

func TestPasswordLoginHashConcurrency(t *testing.T) {
	gate := newGateHasher(t)
	hash, err := gate.Hash(rightPassword)
	require.NoError(t, err)
	accounts := middleware.NewMemoryAccounts()
	require.NoError(t, accounts.Create(context.Background(), middleware.Account{UserID: "u1", Username: "mary", PasswordHash: hash}))
	lim, err := middleware.NewMemoryLimiter(generous)
	require.NoError(t, err)
	login, err := middleware.NewPasswordLogin(accounts, middleware.WithHasher(gate), middleware.WithLimiter(lim), middleware.WithHashConcurrency(2))
	require.NoError(t, err)

	const logins = 8
	var done sync.WaitGroup
	results := make(chan error, logins)
	for i := range logins {
		done.Go(func() {
			name := "mary"
			if i%2 == 1 {
				name = "unknown" // the dummy hash takes a slot too
			}
			_, err := login.Login(context.Background(), clientA, name, rightPassword)
			results <- err
		})
	}
	// Two enter; the rest queue.
	<-gate.entered
	<-gate.entered

	t.Run("a cancelled request leaves the queue", func(t *testing.T) {
		for _, ctx := range cancelledContexts() {
			_, err := login.Login(ctx, clientA, "mary", rightPassword)
			require.ErrorIs(t, err, middleware.ErrUnavailable)
			assert.NotErrorIs(t, err, middleware.ErrInvalidCredential)
			_, err = login.HashPassword(ctx, "new password")
			require.ErrorIs(t, err, middleware.ErrUnavailable)
		}
	})

	// Let them through one at a time: each release admits one more.
	for range logins {
		gate.release <- struct{}{}
	}
	done.Wait()
	close(results)
	ok, failed := 0, 0
	for err := range results {
		if err == nil {
			ok++
		} else {
			requireLoginFailed(t, err)
			failed++
		}
	}
	assert.Equal(t, logins/2, ok)
	assert.Equal(t, logins/2, failed)
	assert.Equal(t, int64(2), gate.most.Load(), "never more than two hashes at once")
	assert.Len(t, gate.entered, logins-2)
}

// cancelledContexts returns a context cancelled before use and one whose
// deadline has passed.
func cancelledContexts() []context.Context {
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	expired, cancel2 := context.WithDeadline(context.Background(), time.Unix(0, 0))
	cancel2()
	return []context.Context{cancelled, expired}
}

func TestPasswordLoginQueuedRequestCancelledWhileWaiting(t *testing.T) {
	gate := newGateHasher(t)
	accounts := middleware.NewMemoryAccounts()
	login, err := middleware.NewPasswordLogin(accounts, middleware.WithHasher(gate), middleware.WithHashConcurrency(1))
	require.NoError(t, err)

	holder := make(chan error, 1)
	go func() {
		_, err := login.Login(context.Background(), clientA, "someone", "pw")
		holder <- err
	}()
	<-gate.entered // the only slot is taken

	ctx, cancel := context.WithCancel(context.Background())
	waiter := make(chan error, 1)
	go func() {
		_, err := login.Login(ctx, clientB, "someone else", "pw")
		waiter <- err
	}()
	cancel()
	err = <-waiter
	require.ErrorIs(t, err, middleware.ErrUnavailable)
	require.ErrorIs(t, err, context.Canceled)

	gate.release <- struct{}{}
	requireLoginFailed(t, <-holder)
	assert.Equal(t, int64(1), gate.most.Load())
	assert.Empty(t, gate.entered, "the cancelled login never hashed")
}

func TestPasswordLoginHashPassword(t *testing.T) {
	f := newLoginFixture(t, generous, middleware.WithHashConcurrency(1))
	ctx := context.Background()
	for _, bad := range []string{"", strings.Repeat("p", middleware.MaxPasswordBytes+1)} {
		_, err := f.login.HashPassword(ctx, bad)
		require.ErrorIs(t, err, middleware.ErrMalformed, "len %d", len(bad))
	}
	hash, err := f.login.HashPassword(ctx, strings.Repeat("p", middleware.MaxPasswordBytes))
	require.NoError(t, err)
	ok, err := f.hasher.Verify(hash, strings.Repeat("p", middleware.MaxPasswordBytes))
	require.NoError(t, err)
	assert.True(t, ok)
}

// failingHashHasher cannot hash.
type failingHashHasher struct{ middleware.PasswordHasher }

func (failingHashHasher) Hash(string) (string, error) { return "", errors.New("no entropy") }

func TestNewPasswordLoginValidates(t *testing.T) {
	accounts := middleware.NewMemoryAccounts()
	hasher := argonTestHasher(t)
	for _, tc := range []struct {
		name     string
		accounts middleware.Accounts
		opts     []middleware.LoginOption
	}{
		{"nil accounts", nil, []middleware.LoginOption{middleware.WithHasher(hasher)}},
		{"nil option", accounts, []middleware.LoginOption{middleware.WithHasher(hasher), nil}},
		{"nil hasher", accounts, []middleware.LoginOption{middleware.WithHasher(nil)}},
		{"nil limiter", accounts, []middleware.LoginOption{middleware.WithHasher(hasher), middleware.WithLimiter(nil)}},
		{"zero concurrency", accounts, []middleware.LoginOption{middleware.WithHasher(hasher), middleware.WithHashConcurrency(0)}},
		{"negative concurrency", accounts, []middleware.LoginOption{middleware.WithHasher(hasher), middleware.WithHashConcurrency(-1)}},
		{"hasher cannot hash", accounts, []middleware.LoginOption{middleware.WithHasher(failingHashHasher{hasher})}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l, err := middleware.NewPasswordLogin(tc.accounts, tc.opts...)
			require.Error(t, err)
			assert.Nil(t, l)
		})
	}
}

// panickyHasher is a PasswordHasher with a bug that quotes the password.
type panickyHasher struct{ middleware.PasswordHasher }

func (panickyHasher) Verify(_, password string) (bool, error) {
	panic("hasher bug with " + password)
}

// Hash panics on the test's secret only: NewPasswordLogin hashes its dummy
// password with it.
func (h panickyHasher) Hash(password string) (string, error) {
	if password == secret {
		panic("hasher bug with " + password)
	}
	return h.PasswordHasher.Hash(password)
}

// panickyAccounts is an accounts store with a bug: every lookup panics.
type panickyAccounts struct{ middleware.Accounts }

func (panickyAccounts) FindByLogin(_ context.Context, login string) (middleware.Account, error) {
	panic("accounts bug with " + login)
}

func (panickyAccounts) FindByID(_ context.Context, id string) (middleware.Account, error) {
	panic("accounts bug with " + id)
}

// TestPasswordLoginContainsPanics: a login calls the application's code
// (its accounts, limiter and hasher), which is contained like a Verifier:
// the generic 500 (ErrInternal), never a panic that net/http would log,
// password and all. The hashing slot a panicking hasher held is given back.
func TestPasswordLoginContainsPanics(t *testing.T) {
	ctx := context.Background()
	hashing, err := middleware.NewPasswordLogin(middleware.NewMemoryAccounts(),
		middleware.WithHasher(panickyHasher{argonTestHasher(t)}))
	require.NoError(t, err)
	for range runtime.NumCPU() + 1 { // more than the hashing slots
		var err error
		require.NotPanics(t, func() { _, err = hashing.Login(ctx, clientA, "mary", secret) })
		require.ErrorIs(t, err, middleware.ErrInternal)
		assert.NotContains(t, err.Error(), secret)
	}
	require.NotPanics(t, func() { _, err = hashing.HashPassword(ctx, secret) })
	require.ErrorIs(t, err, middleware.ErrInternal)

	lookups, err := middleware.NewPasswordLogin(panickyAccounts{middleware.NewMemoryAccounts()},
		middleware.WithHasher(argonTestHasher(t)))
	require.NoError(t, err)
	require.NotPanics(t, func() { _, err = lookups.Login(ctx, clientA, "mary", secret) })
	require.ErrorIs(t, err, middleware.ErrInternal)
	require.NotPanics(t, func() { err = lookups.Confirm(ctx, middleware.Account{UserID: "u-mary"}) })
	require.ErrorIs(t, err, middleware.ErrInternal)
}
