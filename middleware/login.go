package middleware

import (
	"context"
	"errors"
	"net/netip"
	"runtime"
	"strings"

	"github.com/tidegate/tidegate/internal/nilness"
	"github.com/tidegate/tidegate/internal/withheld"
)

// MaxLoginBytes bounds a login name. Longer names are refused before any
// lookup.
const MaxLoginBytes = 512

// PasswordLogin checks a login name and password against Accounts, the way
// every login endpoint of every kind does:
//
//   - the attempt is counted by the LoginLimiter first; past the limit the
//     answer is 429 whether or not the account exists;
//   - a password over MaxPasswordBytes (or a login over MaxLoginBytes) is
//     refused before hashing;
//   - an unknown or disabled account costs the same work as a wrong
//     password: a dummy hash is verified, so timing does not tell them apart;
//   - every failure is the same ErrInvalidCredential error;
//   - password hashing runs under a concurrency limit, so a flood of logins
//     queues up instead of starving other requests of CPU and memory.
//
// It is safe for concurrent use.
type PasswordLogin struct {
	withheld.Contents[PasswordLogin] // prints as its name alone: no secret in a log

	accounts Accounts
	hasher   PasswordHasher
	limiter  LoginLimiter
	slots    chan struct{}
	dummy    string
}

// LoginOption configures NewPasswordLogin.
type LoginOption func(*PasswordLogin) error

// WithHasher sets the password hasher (default argon2id with
// DefaultArgon2Params). It must read the hashes stored in the accounts. A
// zero *Argon2idHasher (not made by NewArgon2idHasher) is refused.
func WithHasher(h PasswordHasher) LoginOption {
	return func(l *PasswordLogin) error {
		if nilness.Is(h) {
			return errors.New("tidegate: hasher must not be nil")
		}
		if a, ok := h.(*Argon2idHasher); ok && !a.built() {
			return errors.New("tidegate: hasher not built by NewArgon2idHasher")
		}
		l.hasher = h
		return nil
	}
}

// WithLimiter sets the login limiter (default a MemoryLimiter with
// DefaultLimiterPolicy). Share one limiter between every login endpoint.
func WithLimiter(lim LoginLimiter) LoginOption {
	return func(l *PasswordLogin) error {
		if nilness.Is(lim) {
			return errors.New("tidegate: limiter must not be nil")
		}
		if m, ok := lim.(*MemoryLimiter); ok && (m == nil || m.counts == nil) {
			return errors.New("tidegate: limiter not built by NewMemoryLimiter")
		}
		l.limiter = lim
		return nil
	}
}

// WithHashConcurrency sets how many password hashes may run at once
// (default: the number of CPUs).
func WithHashConcurrency(n int) LoginOption {
	return func(l *PasswordLogin) error {
		if n <= 0 {
			return errors.New("tidegate: hash concurrency must be positive")
		}
		l.slots = make(chan struct{}, n)
		return nil
	}
}

// NewPasswordLogin returns a PasswordLogin over accounts.
func NewPasswordLogin(accounts Accounts, opts ...LoginOption) (*PasswordLogin, error) {
	if nilness.Is(accounts) {
		return nil, errors.New("tidegate: password login needs accounts")
	}
	l := &PasswordLogin{accounts: accounts, slots: make(chan struct{}, runtime.NumCPU())}
	for _, opt := range opts {
		if opt == nil {
			return nil, errors.New("tidegate: nil login option")
		}
		if err := opt(l); err != nil {
			return nil, err
		}
	}
	if l.hasher == nil {
		h, err := NewArgon2idHasher(DefaultArgon2Params)
		if err != nil {
			return nil, err
		}
		l.hasher = h
	}
	if l.limiter == nil {
		lim, err := NewMemoryLimiter(LimiterPolicy{})
		if err != nil {
			return nil, err
		}
		l.limiter = lim
	}
	dummy, err := l.hasher.Hash("tidegate dummy password for unknown accounts")
	if err != nil {
		return nil, err
	}
	l.dummy = dummy
	return l, nil
}

// Accounts returns the account store logins are checked against.
func (l *PasswordLogin) Accounts() Accounts { return l.accounts }

// built reports whether l was made by NewPasswordLogin; the methods of a
// zero PasswordLogin answer a 500 instead of panicking. (The services'
// constructors refuse one: its Accounts is nil.)
func (l *PasswordLogin) built() bool { return l.accounts != nil && l.limiter != nil }

// Login checks login and password for a client at the given address. It
// returns the account, or an *Error: ErrInvalidCredential for any wrong
// input (the same for an unknown account, a wrong password, a disabled
// account or an oversized field), ErrRateLimited with RetryAfter, or
// ErrUnavailable when the accounts or the limiter failed.
func (l *PasswordLogin) Login(ctx context.Context, client netip.Addr, login, password string) (_ Account, err error) {
	defer containPanic("password login", &err)
	if !l.built() {
		return Account{}, notBuilt("PasswordLogin")
	}
	tooLong := len(login) > MaxLoginBytes || len(password) > MaxPasswordBytes
	if len(login) > MaxLoginBytes {
		login = login[:MaxLoginBytes] // still counted, under a bounded key
	}
	// No account has a NUL in its name. Such a name is treated like an
	// unknown one in every step (so that it gets the answers they get, a
	// throttled client its 429, an outage its 503), but with its NULs
	// replaced, so that no login reaches the counters the limiter keeps for
	// others under names starting with one, such as the session kind's
	// server logins ("\x00server:" + name).
	counted, hasNUL := login, strings.IndexByte(login, 0) >= 0
	if hasNUL {
		counted = strings.ReplaceAll(login, "\x00", "\uFFFD")
	}
	wait, err := l.limiter.Attempt(ctx, counted, client)
	if err != nil {
		return Account{}, Unavailable("limiter", err)
	}
	if wait > 0 {
		return Account{}, RateLimited("login throttled", wait)
	}
	if tooLong || login == "" {
		return Account{}, Invalid("login failed")
	}
	// A NUL-bearing name then goes the way of an unknown one, every step
	// and its failures included, looked up and counted as counted.
	account, err := l.accounts.FindByLogin(ctx, counted)
	if err != nil && !errors.Is(err, ErrAccountNotFound) {
		return Account{}, Unavailable("accounts", err)
	}
	found := err == nil && !hasNUL
	if !found {
		account = Account{}
	}
	accountKey := AccountLimiterKey(account.UserID, counted)
	throttled, err := l.attemptAccount(ctx, accountKey)
	if err != nil {
		return Account{}, err
	}
	// An account with no password hash is checked against the dummy, as an
	// unknown one is: its empty hash cannot be read, and answering that
	// (503, at once) would tell that the account exists.
	checked := found && !throttled && account.PasswordHash != ""
	hash := l.dummy
	if checked {
		hash = account.PasswordHash
	}
	ok, err := l.verify(ctx, hash, password)
	if err != nil {
		return Account{}, err
	}
	if !checked || !ok || account.Disabled {
		return Account{}, Invalid("login failed")
	}
	if err := l.succeeded(ctx, login, client, accountKey); err != nil {
		return Account{}, err
	}
	return account, nil
}

// Confirm reports, after a login's credential was issued, whether the
// account is still what Login checked: found, not disabled, with the same
// password hash. It returns nil, ErrInvalidCredential (the login's generic
// 401), or ErrUnavailable when the accounts cannot answer.
//
// A login reads the account before its password check, which takes tens
// of milliseconds or waits for a hash slot: an operator who disables the
// account or changes its password, then revokes the subject, meanwhile
// saw the login issue a credential after the revocation, which lived on.
// Each kind therefore issues, then confirms, and revokes what it issued
// when the account changed. In that order nothing is missed: a change the
// confirmation does not see came after the credential existed, so the
// revocation that follows it ends the credential.
func (l *PasswordLogin) Confirm(ctx context.Context, account Account) (err error) {
	defer containPanic("password login", &err)
	if !l.built() {
		return notBuilt("PasswordLogin")
	}
	now, err := l.accounts.FindByID(ctx, account.UserID)
	switch {
	case errors.Is(err, ErrAccountNotFound):
		return Invalid("login failed")
	case err != nil:
		return Unavailable("accounts", err)
	case now.Disabled || now.PasswordHash != account.PasswordHash:
		return Invalid("login failed")
	}
	return nil
}

// containPanic, deferred, turns a panic of the application's code that a
// login calls (its accounts, limiter or hasher) into the generic 500, as a
// Verifier's is: left to net/http, the connection was dropped without an
// answer and the panic's value, which may quote the login or the password,
// was logged in the server's ErrorLog.
func containPanic(what string, err *error) {
	if v := recover(); v != nil {
		*err = Panicked(what, v)
	}
}

// attemptAccount counts the attempt against the account itself when the
// limiter is an AccountLimiter, and reports whether the account has used up
// its attempts: the caller then checks the password against the dummy hash
// and answers as for a wrong one (see AccountLimiter).
func (l *PasswordLogin) attemptAccount(ctx context.Context, key string) (bool, error) {
	al, ok := l.limiter.(AccountLimiter)
	if !ok {
		return false, nil
	}
	wait, err := al.AttemptAccount(ctx, key)
	if err != nil {
		return false, Unavailable("limiter", err)
	}
	return wait > 0, nil
}

// succeeded forgives a successful login's attempts.
func (l *PasswordLogin) succeeded(ctx context.Context, login string, client netip.Addr, accountKey string) error {
	if err := l.limiter.Succeeded(ctx, login, client); err != nil {
		return Unavailable("limiter", err)
	}
	if al, ok := l.limiter.(AccountLimiter); ok {
		if err := al.SucceededAccount(ctx, accountKey); err != nil {
			return Unavailable("limiter", err)
		}
	}
	return nil
}

// verify checks a password under the hashing concurrency limit.
func (l *PasswordLogin) verify(ctx context.Context, hash, password string) (bool, error) {
	select {
	case l.slots <- struct{}{}:
	case <-ctx.Done():
		return false, Unavailable("hash queue", ctx.Err())
	}
	defer func() { <-l.slots }()
	ok, err := l.hasher.Verify(hash, password)
	if err != nil {
		// An unreadable stored hash is a broken account record, not a
		// wrong password; it must not lock the user out silently either.
		return false, Unavailable("password hash", err)
	}
	return ok, nil
}

// HashPassword hashes a new password under the same concurrency limit as
// logins, refusing one over MaxPasswordBytes or empty.
func (l *PasswordLogin) HashPassword(ctx context.Context, password string) (_ string, err error) {
	defer containPanic("password hasher", &err)
	if !l.built() {
		return "", notBuilt("PasswordLogin")
	}
	if password == "" || len(password) > MaxPasswordBytes {
		return "", Malformed("password length")
	}
	select {
	case l.slots <- struct{}{}:
	case <-ctx.Done():
		return "", Unavailable("hash queue", ctx.Err())
	}
	defer func() { <-l.slots }()
	return l.hasher.Hash(password)
}
