package redisstore

import (
	"context"
	"errors"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/tidegate/tidegate/bearer"
	"github.com/tidegate/tidegate/internal/withheld"
)

// RevocationList is a bearer.RevocationList in Redis, shared by every
// replica. An entry is a key whose TTL runs to the until it was given
// (never shortened by a later call); Revoked is one MGET, with no script
// and no clock read. See the package documentation for the keys.
type RevocationList struct {
	withheld.Contents[RevocationList] // prints as its name alone: no secret in a log

	client    redis.UniversalClient
	now       func() time.Time
	jtiPrefix string // prefix + "revoked:token:"
	sidPrefix string // prefix + "revoked:login:"
	subPrefix string // prefix + "revoked:subject:"
}

var _ bearer.RevocationList = (*RevocationList)(nil)

// built reports whether l was made by NewRevocationList. The methods of a
// nil or zero list answer ErrInternal: one that records nothing must not
// report tokens valid either.
func (l *RevocationList) built() bool { return l != nil && l.client != nil && l.now != nil }

// NewRevocationList returns a revocation list on client. It accepts
// WithPrefix and WithClock (from which the entries' TTLs are computed).
func NewRevocationList(client redis.UniversalClient, opts ...Option) (*RevocationList, error) {
	if err := checkClient(client); err != nil {
		return nil, err
	}
	cfg, err := newConfig("NewRevocationList", storeOptions, opts)
	if err != nil {
		return nil, err
	}
	return &RevocationList{
		client:    client,
		now:       cfg.now,
		jtiPrefix: cfg.prefix + "revoked:token:",
		sidPrefix: cfg.prefix + "revoked:login:",
		subPrefix: cfg.prefix + "revoked:subject:",
	}, nil
}

var (
	errEmptyRevocation = errors.New("redisstore: revocation of an empty id")
	errCorruptRevoked  = errors.New("redisstore: malformed revocation record")
)

// RevokeToken implements bearer.RevocationList. An until already past
// stores nothing: every token the entry could match has expired.
func (l *RevocationList) RevokeToken(ctx context.Context, id string, until time.Time) error {
	if !l.built() {
		return notBuilt("RevocationList")
	}
	return l.revokeUntil(ctx, "revoke token", l.jtiPrefix, id, until)
}

// RevokeLogin implements bearer.RevocationList, as RevokeToken does.
func (l *RevocationList) RevokeLogin(ctx context.Context, login string, until time.Time) error {
	if !l.built() {
		return notBuilt("RevocationList")
	}
	return l.revokeUntil(ctx, "revoke login", l.sidPrefix, login, until)
}

func (l *RevocationList) revokeUntil(ctx context.Context, op, prefix, id string, until time.Time) error {
	if id == "" {
		return errEmptyRevocation
	}
	ttl := l.ttl(until)
	if ttl == 0 {
		return nil
	}
	return wrap(op, revokeUntilScript.Run(ctx, l.client, []string{prefix + id}, ttl).Err())
}

// RevokeSubject implements bearer.RevocationList. The entry keeps the
// latest before and the latest until it was ever given. A zero before
// revokes nothing and stores nothing.
func (l *RevocationList) RevokeSubject(ctx context.Context, subject string, before, until time.Time) error {
	if !l.built() {
		return notBuilt("RevocationList")
	}
	if subject == "" {
		return errEmptyRevocation
	}
	ttl := l.ttl(until)
	if ttl == 0 || before.IsZero() {
		return nil
	}
	args := []any{encodeTime(before), before.Unix(), before.Nanosecond(), ttl}
	err := revokeSubjectBeforeScript.Run(ctx, l.client, []string{l.subPrefix + subject}, args...).Err()
	return wrap("revoke subject", err)
}

// ttl returns the TTL of an entry needed until until: Revoked reads no
// clock, so the key itself must last that long for every replica, however
// far ahead of theirs (up to clockSlack) the writer's clock runs. An entry
// past its until by this clock is still written while within the slack.
func (l *RevocationList) ttl(until time.Time) int64 {
	d := until.Sub(l.now())
	if d <= -clockSlack {
		return 0
	}
	return ttlMillis(min(d, maxKeyTTL) + clockSlack)
}

// Revoked implements bearer.RevocationList with one MGET of the token's,
// the login's and the subject's entries (those of empty ids are never
// written, so they are not asked for). Like bearer.MemoryRevocationList it
// reads no clock: an entry lives until its until, after which it can only
// match expired tokens.
func (l *RevocationList) Revoked(ctx context.Context, t bearer.TokenRef) (bool, error) {
	if !l.built() {
		return false, notBuilt("RevocationList")
	}
	var buf [4]any
	args := append(buf[:0], "mget")
	if t.ID != "" {
		args = append(args, l.jtiPrefix+t.ID)
	}
	if t.Login != "" {
		args = append(args, l.sidPrefix+t.Login)
	}
	if t.Subject != "" {
		args = append(args, l.subPrefix+t.Subject)
	}
	if len(args) == 1 {
		return false, nil
	}
	cmd := redis.NewSliceCmd(ctx, args...)
	_ = l.client.Process(ctx, cmd)
	vals, err := cmd.Result()
	if err != nil {
		return false, wrap("revoked", err)
	}
	if len(vals) != len(args)-1 {
		return false, errCorruptRevoked
	}
	last := len(vals)
	if t.Subject != "" {
		last--
		if before, ok := vals[last].(string); ok {
			b, err := decodeTime(before)
			if err != nil || b.IsZero() {
				return false, errCorruptRevoked
			}
			if t.IssuedAt.Before(b) {
				return true, nil
			}
		}
	}
	for _, v := range vals[:last] {
		if v != nil {
			return true, nil
		}
	}
	return false, nil
}

// revokeUntilScript: KEYS entry; ARGV ttl ms. The entry's TTL only grows.
// The entry is written whatever the key held: a key of another type
// (foreign or damaged data) that outlived the TTL was left as it was, and
// Revoked's MGET reads such a key as no entry, so the revocation reported
// success and revoked nothing.
var revokeUntilScript = redis.NewScript(`
local ttl = math.max(tonumber(ARGV[1]), redis.call('PTTL', KEYS[1]))
redis.call('SET', KEYS[1], '1', 'PX', ttl)
return 1
`)

// revokeSubjectBeforeScript: KEYS entry; ARGV before encoded, sec, nsec,
// ttl ms. The entry keeps the later before and the longer TTL.
var revokeSubjectBeforeScript = redis.NewScript(luaTime + `
local val, ttl = ARGV[1], tonumber(ARGV[4])
local cur = redis.call('GET', KEYS[1])
if cur then
  local cs, cn = tm(cur)
  if cs and cn and before(tonumber(ARGV[2]), tonumber(ARGV[3]), cs, cn) then
    val = cur
  end
end
local pttl = redis.call('PTTL', KEYS[1])
if pttl > ttl then ttl = pttl end
redis.call('SET', KEYS[1], val, 'PX', ttl)
return 1
`)
