package redisstore

import (
	"context"
	"crypto/subtle"
	"errors"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/tidegate/tidegate/basicauth"
	"github.com/tidegate/tidegate/internal/withheld"
	"github.com/tidegate/tidegate/middleware"
)

// AppRegistry is a basicauth.AppRegistry in Redis, shared by every
// replica: a token rotated or an app revoked on one replica stops working
// on all of them at once (their verification caches aside: see
// basicauth.Service.RotateToken). Tokens are kept as digests only. Each
// write is one Lua script; Lookup is one script too, which renews the
// app's TTL when it is due.
//
// Every key has a TTL (WithAppIdleTTL, default a year): an app none of
// whose tokens is used for that long is forgotten. The registry holds at
// most WithMaxApps apps.
type AppRegistry struct {
	withheld.Contents[AppRegistry] // prints as its name alone: no secret in a log

	client    redis.UniversalClient
	now       func() time.Time
	idPrefix  string    // prefix + "appreg:id:"
	tokPrefix [2]string // prefix + "appreg:app:", prefix + "appreg:backend:"
	index     string    // prefix + "appreg:ids"
	idleTTL   time.Duration
	maxApps   int
}

var _ basicauth.AppRegistry = (*AppRegistry)(nil)

// built reports whether r was made by NewAppRegistry. The methods of a nil
// or zero registry answer ErrInternal.
func (r *AppRegistry) built() bool { return r != nil && r.client != nil && r.now != nil }

// NewAppRegistry returns an empty registry on client (apps already in
// Redis under the same prefix are kept). It accepts WithPrefix, WithClock,
// WithAppIdleTTL and WithMaxApps.
func NewAppRegistry(client redis.UniversalClient, opts ...Option) (*AppRegistry, error) {
	if err := checkClient(client); err != nil {
		return nil, err
	}
	cfg, err := newConfig("NewAppRegistry", registryOptions, opts)
	if err != nil {
		return nil, err
	}
	return &AppRegistry{
		client:    client,
		now:       cfg.now,
		idPrefix:  cfg.prefix + "appreg:id:",
		tokPrefix: [2]string{cfg.prefix + "appreg:app:", cfg.prefix + "appreg:backend:"},
		index:     cfg.prefix + "appreg:ids",
		idleTTL:   cfg.appIdleTTL,
		maxApps:   cfg.maxApps,
	}, nil
}

var errUnknownTokenType = errors.New("redisstore: unknown token type")

// slot returns the index of t in tokPrefix, or false for an unknown type.
func slot(t basicauth.TokenType) (int, bool) {
	switch t {
	case basicauth.AppToken:
		return 0, true
	case basicauth.BackendToken:
		return 1, true
	}
	return 0, false
}

// Register adds an app, as basicauth.MemoryRegistry.Register does: its
// app token must be basicauth.AppTokenLen lowercase hex characters, its
// backend token basicauth.BackendTokenLen, drawn independently; ID
// defaults to Name. Only the tokens' digests are stored. It returns
// basicauth.ErrAppExists when the id or a token is taken (by any replica:
// seeding the same apps from several replicas meets it, and may ignore
// it) and basicauth.ErrRegistryFull past WithMaxApps.
func (r *AppRegistry) Register(ctx context.Context, spec basicauth.AppSpec) error {
	if !r.built() {
		return notBuilt("AppRegistry")
	}
	if spec.ID == "" {
		spec.ID = spec.Name
	}
	if err := checkSpec(spec); err != nil {
		return err
	}
	app := hexDigest(middleware.DigestToken(spec.AppToken))
	backend := hexDigest(middleware.DigestToken(spec.BackendToken))
	now := r.now()
	keys := []string{
		r.idPrefix + spec.ID,
		r.tokPrefix[0] + app, r.tokPrefix[1] + backend,
		r.tokPrefix[1] + app, r.tokPrefix[0] + backend, // each digest in the other type's space too
		r.index,
	}
	args := []any{
		spec.ID, spec.Name, app, backend, ttlMillis(r.idleTTL),
		now.Add(r.idleTTL).UnixMilli(), now.Add(-indexSlack).UnixMilli(), r.maxApps,
	}
	res, err := registerAppScript.Run(ctx, r.client, keys, args...).Int()
	switch {
	case err != nil:
		return wrap("register app", err)
	case res == 0:
		return basicauth.ErrAppExists
	case res < 0:
		return basicauth.ErrRegistryFull
	}
	return nil
}

// checkSpec applies basicauth's rules for an app's tokens.
func checkSpec(spec basicauth.AppSpec) error {
	switch {
	case spec.ID == "":
		return errors.New("redisstore: app needs an id or a name")
	case !isLowerHex(spec.AppToken, basicauth.AppTokenLen):
		return errors.New("redisstore: app token must be 32 lowercase hex characters")
	case !isLowerHex(spec.BackendToken, basicauth.BackendTokenLen):
		return errors.New("redisstore: backend token must be 44 lowercase hex characters")
	case spec.BackendToken[:basicauth.AppTokenLen] == spec.AppToken:
		return errors.New("redisstore: backend token must be drawn independently of the app token")
	}
	return nil
}

// isLowerHex reports whether s is exactly n lowercase hex characters.
func isLowerHex(s string, n int) bool {
	if len(s) != n {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// Lookup implements basicauth.AppRegistry: the token's key is found by
// its digest (an exact key lookup), and the digest the app's record holds
// is compared with d in constant time.
func (r *AppRegistry) Lookup(ctx context.Context, t basicauth.TokenType, d middleware.TokenDigest) (basicauth.App, error) {
	if !r.built() {
		return basicauth.App{}, notBuilt("AppRegistry")
	}
	i, ok := slot(t)
	if !ok {
		return basicauth.App{}, basicauth.ErrAppNotFound
	}
	now := r.now()
	keys := []string{r.tokPrefix[i] + hexDigest(d), r.index}
	args := []any{t.String(), r.idPrefix, r.tokPrefix[0], r.tokPrefix[1], ttlMillis(r.idleTTL), now.Add(r.idleTTL).UnixMilli()}
	res, err := lookupAppScript.Run(ctx, r.client, keys, args...).StringSlice()
	switch {
	case errors.Is(err, redis.Nil):
		return basicauth.App{}, basicauth.ErrAppNotFound
	case err != nil:
		return basicauth.App{}, wrap("lookup app", err)
	case len(res) != 3:
		return basicauth.App{}, errors.New("redisstore: malformed app record")
	}
	stored, ok := decodeDigest(res[2])
	if !ok {
		return basicauth.App{}, errors.New("redisstore: malformed app record")
	}
	if subtle.ConstantTimeCompare(stored[:], d[:]) != 1 {
		return basicauth.App{}, basicauth.ErrAppNotFound
	}
	return basicauth.App{ID: res[0], Name: res[1]}, nil
}

// Rotate implements basicauth.AppRegistry in one script: the old token's
// key is deleted and the new one written together, so that no replica
// ever sees both or neither. It renews the app's TTL.
func (r *AppRegistry) Rotate(ctx context.Context, appID string, t basicauth.TokenType, d middleware.TokenDigest) error {
	if !r.built() {
		return notBuilt("AppRegistry")
	}
	i, ok := slot(t)
	if !ok {
		return errUnknownTokenType
	}
	if appID == "" {
		return basicauth.ErrAppNotFound
	}
	next := hexDigest(d)
	now := r.now()
	keys := []string{r.idPrefix + appID, r.tokPrefix[i] + next, r.tokPrefix[1-i] + next, r.index}
	args := []any{
		basicauth.TokenType(i + 1).String(), basicauth.TokenType(2 - i).String(), next, appID,
		r.tokPrefix[i], r.tokPrefix[1-i], ttlMillis(r.idleTTL), now.Add(r.idleTTL).UnixMilli(), randomTag(),
	}
	res, err := rotateAppScript.Run(ctx, r.client, keys, args...).Int()
	switch {
	case err != nil:
		return wrap("rotate app token", err)
	case res == 0:
		return basicauth.ErrAppNotFound
	case res < 0:
		return basicauth.ErrAppExists
	}
	return nil
}

// IDs returns the ids of the registered apps, in no particular order (an
// app whose keys expired may still be listed until the next registration
// prunes the index). It serves a deployment whose apps come from a file:
// revoking the apps the file no longer lists.
func (r *AppRegistry) IDs(ctx context.Context) ([]string, error) {
	if !r.built() {
		return nil, notBuilt("AppRegistry")
	}
	ids, err := r.client.ZRange(ctx, r.index, 0, -1).Result()
	return ids, wrap("list apps", err)
}

// Revoke implements basicauth.AppRegistry: the app's record and both its
// token keys go in one script.
func (r *AppRegistry) Revoke(ctx context.Context, appID string) error {
	if !r.built() {
		return notBuilt("AppRegistry")
	}
	if appID == "" {
		return nil
	}
	keys := []string{r.idPrefix + appID, r.index}
	err := revokeAppScript.Run(ctx, r.client, keys, appID, r.tokPrefix[0], r.tokPrefix[1]).Err()
	return wrap("revoke app", err)
}

// registerAppScript: KEYS app record, app token, backend token, the app
// token's digest as a backend token, the backend token's digest as an app
// token, index; ARGV id, name, app hex, backend hex, ttl ms, index score,
// index cleanup bound, max apps. Returns 1, 0 when taken, -1 when full.
var registerAppScript = redis.NewScript(`
for i = 1, 5 do
  if redis.call('EXISTS', KEYS[i]) == 1 then return 0 end
end
redis.call('ZREMRANGEBYSCORE', KEYS[6], '-inf', '(' .. ARGV[7])
if redis.call('ZCARD', KEYS[6]) >= tonumber(ARGV[8]) then return -1 end
local ttl = tonumber(ARGV[5])
redis.call('HSET', KEYS[1], 'name', ARGV[2], 'app', ARGV[3], 'backend', ARGV[4])
redis.call('PEXPIRE', KEYS[1], ttl)
redis.call('SET', KEYS[2], ARGV[1], 'PX', ttl)
redis.call('SET', KEYS[3], ARGV[1], 'PX', ttl)
redis.call('ZADD', KEYS[6], ARGV[6], ARGV[1])
if redis.call('PTTL', KEYS[6]) < ttl then
  redis.call('PEXPIRE', KEYS[6], ttl)
end
return 1
`)

// lookupAppScript: KEYS token, index; ARGV token type ("app" or
// "backend"), record prefix, app token prefix, backend token prefix, ttl
// ms, index score. Returns {id, name, stored hex} or nil. Once less than
// half the TTL is left, the app's keys get the whole TTL again.
var lookupAppScript = redis.NewScript(`
local id = redis.call('GET', KEYS[1])
if not id then return false end
local rec = ARGV[2] .. id
local r = redis.call('HMGET', rec, 'name', 'app', 'backend')
if not r[2] or not r[3] then return false end
local mine = r[2]
if ARGV[1] == 'backend' then mine = r[3] end
local ttl = tonumber(ARGV[5])
if redis.call('PTTL', rec) < ttl / 2 then
  redis.call('PEXPIRE', rec, ttl)
  redis.call('PEXPIRE', ARGV[3] .. r[2], ttl)
  redis.call('PEXPIRE', ARGV[4] .. r[3], ttl)
  redis.call('ZADD', KEYS[2], ARGV[6], id)
  if redis.call('PTTL', KEYS[2]) < ttl then
    redis.call('PEXPIRE', KEYS[2], ttl)
  end
end
return {id, r[1] or '', mine}
`)

// rotateAppScript: KEYS app record, new token in its type's space, new
// token in the other type's space, index; ARGV field, other field, new
// hex, id, token prefix, other token prefix, ttl ms, index score, a tag
// unique to the call. Returns 1, 0 for an unknown app, -1 when the digest
// is in use. The record keeps the tag of its latest rotation: finding its
// own tag there, the script is this very call run again (see idempotent in
// the package documentation), and succeeds again.
var rotateAppScript = redis.NewScript(`
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
if redis.call('HGET', KEYS[1], 'rot') == ARGV[9] then return 1 end
if redis.call('EXISTS', KEYS[2]) == 1 or redis.call('EXISTS', KEYS[3]) == 1 then return -1 end
local ttl = tonumber(ARGV[7])
local old = redis.call('HGET', KEYS[1], ARGV[1])
if old then redis.call('DEL', ARGV[5] .. old) end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[3], 'rot', ARGV[9])
redis.call('PEXPIRE', KEYS[1], ttl)
redis.call('SET', KEYS[2], ARGV[4], 'PX', ttl)
local other = redis.call('HGET', KEYS[1], ARGV[2])
if other then redis.call('PEXPIRE', ARGV[6] .. other, ttl) end
redis.call('ZADD', KEYS[4], ARGV[8], ARGV[4])
if redis.call('PTTL', KEYS[4]) < ttl then
  redis.call('PEXPIRE', KEYS[4], ttl)
end
return 1
`)

// revokeAppScript: KEYS app record, index; ARGV id, app token prefix,
// backend token prefix.
var revokeAppScript = redis.NewScript(`
local r = redis.call('HMGET', KEYS[1], 'app', 'backend')
if r[1] then redis.call('DEL', ARGV[2] .. r[1]) end
if r[2] then redis.call('DEL', ARGV[3] .. r[2]) end
redis.call('DEL', KEYS[1])
redis.call('ZREM', KEYS[2], ARGV[1])
return 1
`)
