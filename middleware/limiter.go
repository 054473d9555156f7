package middleware

import (
	"context"
	"errors"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/tidegate/tidegate/internal/withheld"
)

// LoginLimiter throttles password logins. Every login endpoint of every kind
// shares one limiter, so the counts are the same whichever endpoint a
// client guesses through.
//
// Attempts are counted per account name (as typed, case-folded: an unknown
// name is counted exactly like an existing one, so throttling reveals
// nothing) and per client address; an AccountLimiter also counts them per
// account. A successful login forgives its attempt and clears the
// account's count. Counts live in fixed windows and expire: there is no
// permanent lock-out (OWASP ASVS 2.2.1).
type LoginLimiter interface {
	// Attempt counts one login attempt. It returns a positive retryAfter
	// when the account or the address has used up its attempts for the
	// current window; the caller then answers 429 without checking the
	// password.
	Attempt(ctx context.Context, account string, client netip.Addr) (retryAfter time.Duration, err error)
	// Succeeded forgives a successful attempt.
	Succeeded(ctx context.Context, account string, client netip.Addr) error
}

// AccountLimiter is a LoginLimiter that can also count attempts against an
// account itself, whichever of its login names (its username or one of its
// emails) they came through. Counting names alone let an account with N
// emails take (N+1) times AccountAttempts guesses per window.
//
// PasswordLogin uses it when its limiter has it (MemoryLimiter and
// redisstore's LoginLimiter do). An account over its limit is answered
// like a wrong password, 401 after the same hashing work, never 429: a 429
// on one name after guesses on another would tell that both name the same
// account. For the same reason a name that names no account is counted
// too, under a key of its own.
type AccountLimiter interface {
	LoginLimiter
	// AttemptAccount counts one attempt against the account key (see
	// AccountLimiterKey) and returns a positive retryAfter when it has
	// used up its AccountAttempts for the current window. The address is
	// not counted again.
	AttemptAccount(ctx context.Context, key string) (retryAfter time.Duration, err error)
	// SucceededAccount clears the account key's count.
	SucceededAccount(ctx context.Context, key string) error
}

// AccountLimiterKey returns the counter key of an account for
// AccountLimiter: its user id, or, for a login name that names no account,
// the case-folded name in a namespace of its own.
func AccountLimiterKey(userID, unknownLogin string) string {
	if userID != "" {
		return "user:" + userID
	}
	return "nouser:" + FoldLogin(unknownLogin)
}

// LimiterPolicy sets how many attempts are allowed per window.
type LimiterPolicy struct {
	// AccountAttempts per account name per window, and per account with
	// an AccountLimiter (default 10).
	AccountAttempts int
	// AddressAttempts per client address per window (default 100; IPv6
	// addresses count per /64, the block one client usually holds).
	AddressAttempts int
	// Window is the counting period (default 15 minutes).
	Window time.Duration
}

// MaxLimiterWindow is the longest Window a LimiterPolicy accepts: a longer
// one would be a lock-out in all but name, which issue 3 rules out (an
// attacker who knows a user's login name could keep them out for good).
const MaxLimiterWindow = 24 * time.Hour

// DefaultLimiterPolicy is the policy used for zero fields.
var DefaultLimiterPolicy = LimiterPolicy{AccountAttempts: 10, AddressAttempts: 100, Window: 15 * time.Minute}

// WithDefaults returns p with zero fields set from DefaultLimiterPolicy, or
// an error for negative fields or a Window over MaxLimiterWindow.
func (p LimiterPolicy) WithDefaults() (LimiterPolicy, error) {
	if p.AccountAttempts < 0 || p.AddressAttempts < 0 || p.Window < 0 {
		return p, errors.New("tidegate: limiter policy fields must not be negative")
	}
	if p.Window > MaxLimiterWindow {
		return p, errors.New("tidegate: limiter window must be at most 24h (MaxLimiterWindow)")
	}
	if p.AccountAttempts == 0 {
		p.AccountAttempts = DefaultLimiterPolicy.AccountAttempts
	}
	if p.AddressAttempts == 0 {
		p.AddressAttempts = DefaultLimiterPolicy.AddressAttempts
	}
	if p.Window == 0 {
		p.Window = DefaultLimiterPolicy.Window
	}
	return p, nil
}

// LimiterKeys returns the counter keys of an attempt, for LoginLimiter
// implementations: the case-folded account name and the client address
// (IPv6 reduced to its /64).
func LimiterKeys(account string, client netip.Addr) (accountKey, addressKey string) {
	accountKey = "account:" + FoldLogin(account)
	switch {
	case !client.IsValid():
		addressKey = "address:unknown"
	case client.Is4() || client.Is4In6():
		addressKey = "address:" + client.Unmap().String()
	default:
		prefix, _ := client.Prefix(64)
		addressKey = "address:" + prefix.String()
	}
	return accountKey, addressKey
}

// MemoryLimiter is an in-memory LoginLimiter for a single process. It is
// bounded: when full it drops its expired counters and, if that frees less
// than an eighth of the table, live ones up to an eighth, those that have
// used the smallest share of their limit first.
// Use a shared store (see the redisstore package) when several replicas
// must share counts.
type MemoryLimiter struct {
	withheld.Contents[MemoryLimiter] // prints as its name alone: no secret in a log

	policy LimiterPolicy
	cfg    storeConfig
	mu     sync.Mutex
	counts map[string]*window
}

type window struct {
	count   int
	resetAt time.Time
}

// NewMemoryLimiter returns a limiter with the given policy (zero fields take
// defaults) holding at most 100,000 counters unless WithStoreMaxEntries says
// otherwise.
func NewMemoryLimiter(policy LimiterPolicy, opts ...StoreOption) (*MemoryLimiter, error) {
	p, err := policy.WithDefaults()
	if err != nil {
		return nil, err
	}
	cfg, err := newStoreConfig(100_000, opts)
	if err != nil {
		return nil, err
	}
	return &MemoryLimiter{policy: p, cfg: cfg, counts: map[string]*window{}}, nil
}

// Attempt implements LoginLimiter.
func (l *MemoryLimiter) Attempt(_ context.Context, account string, client netip.Addr) (time.Duration, error) {
	if l.counts == nil {
		return 0, notBuilt("MemoryLimiter")
	}
	accountKey, addressKey := LimiterKeys(account, client)
	now := l.cfg.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	// The address is counted first, and an address over its limit does not
	// touch account counters: its attempts are refused without a password
	// check, so they need not count against the account, and one client
	// cannot fill the table with made-up names to push other counters out.
	wait := l.count(addressKey, l.policy.AddressAttempts, now)
	if wait > 0 {
		return wait, nil
	}
	return l.count(accountKey, l.policy.AccountAttempts, now), nil
}

// count adds one to key's window and returns how long to wait if that went
// over limit.
func (l *MemoryLimiter) count(key string, limit int, now time.Time) time.Duration {
	w := l.counts[key]
	if w == nil || !now.Before(w.resetAt) {
		if w == nil && len(l.counts) >= l.cfg.maxEntries {
			l.makeRoom(now)
		}
		w = &window{resetAt: now.Add(l.policy.Window)}
		l.counts[key] = w
	}
	w.count++
	if w.count > limit {
		return w.resetAt.Sub(now)
	}
	return 0
}

// makeRoom frees at least an eighth of the full table: the expired
// counters, then as many live ones as that leaves short. Stopping at the
// expired counters whenever there were any let a client that sends new
// names as fast as old counters expire (55 attempts a second at the
// defaults) make every attempt walk the whole table, 7 ms of the lock
// every login needs at 100,000 counters; freeing an eighth each time
// makes a walk come at most once per eighth of a table of new counters.
func (l *MemoryLimiter) makeRoom(now time.Time) {
	for k, w := range l.counts {
		if !now.Before(w.resetAt) {
			delete(l.counts, k)
		}
	}
	keep := l.cfg.maxEntries - max(1, l.cfg.maxEntries/8)
	if len(l.counts) <= keep {
		return
	}
	// The counters that have used the smallest share of their limit go
	// first. A flood of distinct names or addresses makes counters of 1; it
	// must not push out the counter of a real account that guessing has
	// taken close to its limit (evicting any counter not yet at the limit
	// reset such an account to zero, and unlimited guesses went through
	// flood after flood), let alone one that is throttling. To push out a
	// counter at 9 of 10 now takes a table full of counters at 90% of
	// their limit, each paid for by as many requests.
	//
	// Two passes under the lock, whatever the shares: one counts the
	// counters of each share; the other drops every counter below the share
	// at which an eighth of the table is reached, and as many at that share
	// as make up the eighth.
	drop := len(l.counts) - keep
	var perShare [limiterShares + 1]int
	for k, w := range l.counts {
		perShare[l.share(k, w)]++
	}
	cut, below := 0, 0
	for cut < limiterShares && below+perShare[cut] < drop {
		below += perShare[cut]
		cut++
	}
	atCut := drop - below
	for k, w := range l.counts {
		switch share := l.share(k, w); {
		case share < cut:
			delete(l.counts, k)
		case share == cut && atCut > 0:
			delete(l.counts, k)
			atCut--
		}
	}
}

// limiterShares is how finely makeRoom tells counters apart by the share of
// their limit they have used.
const limiterShares = 10

// share returns how much of its limit the counter w of key has used, in
// tenths (limiterShares), at most limiterShares.
func (l *MemoryLimiter) share(key string, w *window) int {
	limit := l.policy.AccountAttempts
	if strings.HasPrefix(key, "address:") {
		limit = l.policy.AddressAttempts
	}
	return min(limiterShares, w.count*limiterShares/max(1, limit))
}

// AttemptAccount implements AccountLimiter.
func (l *MemoryLimiter) AttemptAccount(_ context.Context, key string) (time.Duration, error) {
	if l.counts == nil {
		return 0, notBuilt("MemoryLimiter")
	}
	now := l.cfg.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.count(key, l.policy.AccountAttempts, now), nil
}

// SucceededAccount implements AccountLimiter.
func (l *MemoryLimiter) SucceededAccount(_ context.Context, key string) error {
	if l.counts == nil {
		return notBuilt("MemoryLimiter")
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.counts, key)
	return nil
}

// Succeeded implements LoginLimiter.
func (l *MemoryLimiter) Succeeded(_ context.Context, account string, client netip.Addr) error {
	if l.counts == nil {
		return notBuilt("MemoryLimiter")
	}
	accountKey, addressKey := LimiterKeys(account, client)
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.counts, accountKey)
	if w := l.counts[addressKey]; w != nil && w.count > 0 {
		w.count--
	}
	return nil
}

// Len returns the number of counters held.
func (l *MemoryLimiter) Len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.counts)
}
