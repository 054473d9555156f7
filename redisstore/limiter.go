package redisstore

import (
	"context"
	"net/netip"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/tidegate/tidegate/internal/withheld"
	"github.com/tidegate/tidegate/middleware"
)

// LoginLimiter is a middleware.LoginLimiter in Redis: every replica counts
// into the same windows, and no increment is lost (each Attempt is one
// script). Counters are keyed by the SHA-256 of the account name or
// address, and expire with their window.
type LoginLimiter struct {
	withheld.Contents[LoginLimiter] // prints as its name alone: no secret in a log

	client redis.UniversalClient
	policy middleware.LimiterPolicy
	now    func() time.Time
	prefix string
}

var _ middleware.AccountLimiter = (*LoginLimiter)(nil)

// built reports whether l was made by NewLoginLimiter. The methods of a
// nil or zero limiter answer ErrInternal, which refuses the login.
func (l *LoginLimiter) built() bool { return l != nil && l.client != nil && l.now != nil }

// NewLoginLimiter returns a limiter on client with policy (zero fields take
// middleware.DefaultLimiterPolicy's). It accepts WithPrefix and WithClock.
func NewLoginLimiter(client redis.UniversalClient, policy middleware.LimiterPolicy, opts ...Option) (*LoginLimiter, error) {
	if err := checkClient(client); err != nil {
		return nil, err
	}
	p, err := policy.WithDefaults()
	if err != nil {
		return nil, err
	}
	cfg, err := newConfig("NewLoginLimiter", storeOptions, opts)
	if err != nil {
		return nil, err
	}
	return &LoginLimiter{client: client, policy: p, now: cfg.now, prefix: cfg.prefix}, nil
}

// keys returns the address and account counter keys.
func (l *LoginLimiter) keys(account string, client netip.Addr) []string {
	accountKey, addressKey := middleware.LimiterKeys(account, client)
	return []string{counterKey(l.prefix, addressKey), counterKey(l.prefix, accountKey)}
}

// Attempt implements middleware.LoginLimiter.
func (l *LoginLimiter) Attempt(ctx context.Context, account string, client netip.Addr) (time.Duration, error) {
	if !l.built() {
		return 0, notBuilt("LoginLimiter")
	}
	return l.attempt(ctx, "attempt", l.keys(account, client))
}

// AttemptAccount implements middleware.AccountLimiter: the same script,
// counting the account key alone.
func (l *LoginLimiter) AttemptAccount(ctx context.Context, key string) (time.Duration, error) {
	if !l.built() {
		return 0, notBuilt("LoginLimiter")
	}
	return l.attempt(ctx, "attempt account", []string{counterKey(l.prefix, key)})
}

// attempt runs attemptScript on keys.
func (l *LoginLimiter) attempt(ctx context.Context, op string, keys []string) (time.Duration, error) {
	now := l.now()
	args := []any{
		now.Unix(), now.Nanosecond(),
		encodeTime(now.Add(l.policy.Window)), ttlMillis(l.policy.Window),
		l.policy.AddressAttempts, l.policy.AccountAttempts,
	}
	wait, err := attemptScript.Run(ctx, l.client, keys, args...).Int64()
	if err != nil {
		return 0, wrap(op, err)
	}
	return time.Duration(max(wait, 0)), nil
}

// SucceededAccount implements middleware.AccountLimiter.
func (l *LoginLimiter) SucceededAccount(ctx context.Context, key string) error {
	if !l.built() {
		return notBuilt("LoginLimiter")
	}
	return wrap("succeeded account", l.client.Del(ctx, counterKey(l.prefix, key)).Err())
}

// Succeeded implements middleware.LoginLimiter: it clears the account's
// count and forgives one attempt of the address, as
// middleware.MemoryLimiter does. The call carries a random tag, so that
// go-redis sending it again (a late answer) forgives no second attempt.
func (l *LoginLimiter) Succeeded(ctx context.Context, account string, client netip.Addr) error {
	if !l.built() {
		return notBuilt("LoginLimiter")
	}
	err := succeededScript.Run(ctx, l.client, l.keys(account, client), randomTag()).Err()
	return wrap("succeeded", err)
}
