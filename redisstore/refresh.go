package redisstore

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/tidegate/tidegate/bearer"
	"github.com/tidegate/tidegate/internal/withheld"
	"github.com/tidegate/tidegate/middleware"
)

// RefreshStore is a bearer.RefreshStore in Redis, shared by every replica:
// refresh-token families with rotation and reuse detection (RFC 9700
// §4.14.2). Each method is one Lua script, so that of two replicas
// rotating the same token at the same moment exactly one succeeds. See the
// package documentation for the keys it writes.
type RefreshStore struct {
	withheld.Contents[RefreshStore] // prints as its name alone: no secret in a log

	client    redis.UniversalClient
	now       func() time.Time
	tokPrefix string // prefix + "refresh:token:"
	famPrefix string // prefix + "refresh:family:"
	subPrefix string // prefix + "refresh:subject:"
}

var _ bearer.RefreshStore = (*RefreshStore)(nil)

// built reports whether s was made by NewRefreshStore. The methods of a
// nil or zero store answer ErrInternal.
func (s *RefreshStore) built() bool { return s != nil && s.client != nil && s.now != nil }

// NewRefreshStore returns a refresh store on client. It accepts WithPrefix
// and WithClock (the clock of Create; a rotation is decided at its
// Rotation.Now). The client must be a single Redis: Redis Cluster is
// refused.
func NewRefreshStore(client redis.UniversalClient, opts ...Option) (*RefreshStore, error) {
	if err := checkClient(client); err != nil {
		return nil, err
	}
	cfg, err := newConfig("NewRefreshStore", storeOptions, opts)
	if err != nil {
		return nil, err
	}
	return &RefreshStore{
		client:    client,
		now:       cfg.now,
		tokPrefix: cfg.prefix + "refresh:token:",
		famPrefix: cfg.prefix + "refresh:family:",
		subPrefix: cfg.prefix + "refresh:subject:",
	}, nil
}

// Errors of Create and Rotate that are not the bearer sentinels: the
// caller's bug, or an astronomically unlikely collision of random tokens.
var (
	errDuplicateFamily = errors.New("redisstore: duplicate family id")
	errDuplicateToken  = errors.New("redisstore: duplicate refresh token")
	errBadFamily       = errors.New("redisstore: family needs an id, a subject and an ExpiresAt")
	errCorruptRefresh  = errors.New("redisstore: malformed refresh record")
)

// Create implements bearer.RefreshStore. A family whose first token has
// already expired is not stored.
func (s *RefreshStore) Create(ctx context.Context, f bearer.Family, first middleware.TokenDigest, firstExpiresAt time.Time) error {
	if !s.built() {
		return notBuilt("RefreshStore")
	}
	if f.ID == "" || f.Subject == "" || f.ExpiresAt.IsZero() {
		return errBadFamily
	}
	now := s.now()
	keys := []string{s.famPrefix + f.ID, s.tokPrefix + hexDigest(first), s.subPrefix + f.Subject}
	args := []any{
		f.ID, f.Subject, randomTag(), encodeTime(f.CreatedAt),
		encodeTime(f.ExpiresAt), f.ExpiresAt.Unix(), f.ExpiresAt.Nanosecond(),
		encodeTime(firstExpiresAt), firstExpiresAt.Unix(), firstExpiresAt.Nanosecond(),
		now.Unix(), now.Nanosecond(),
		now.Add(-indexSlack).UnixMilli(), s.famPrefix, clockSlack.Milliseconds(),
	}
	created, err := createFamilyScript.Run(ctx, s.client, keys, args...).Int()
	switch {
	case err != nil:
		return wrap("create family", err)
	case created == 0:
		return errDuplicateFamily
	case created < 0:
		return errDuplicateToken
	}
	return nil
}

// Results of rotateRefreshScript.
const (
	rotated       = 1
	rotateInvalid = 0
	rotateReused  = -1
	rotateTaken   = -2
)

// Rotate implements bearer.RefreshStore in one script. It decides at
// r.Now (the store's clock when r.Now is zero), and the key TTLs it sets
// are durations from that time.
func (s *RefreshStore) Rotate(ctx context.Context, r bearer.Rotation) (bearer.Family, error) {
	if !s.built() {
		return bearer.Family{}, notBuilt("RefreshStore")
	}
	now := r.Now
	if now.IsZero() {
		now = s.now()
	}
	presented := s.tokPrefix + hexDigest(r.Presented)
	keys := []string{presented, presented}
	args := []any{r.Family, r.Subject, now.Unix(), now.Nanosecond(), "", "", 0, 0, s.famPrefix, s.subPrefix, clockSlack.Milliseconds()}
	if r.Next != (middleware.TokenDigest{}) {
		keys[1] = s.tokPrefix + hexDigest(r.Next)
		args[4] = "1"
		args[5], args[6], args[7] = encodeTime(r.NextExpiresAt), r.NextExpiresAt.Unix(), r.NextExpiresAt.Nanosecond()
	}
	res, err := rotateRefreshScript.Run(ctx, s.client, keys, args...).Slice()
	if err != nil {
		return bearer.Family{}, wrap("rotate refresh token", err)
	}
	return decodeRotation(r, res)
}

// decodeRotation reads the answer of rotateRefreshScript: a code, then for
// a success the family's CreatedAt and ExpiresAt.
func decodeRotation(r bearer.Rotation, res []any) (bearer.Family, error) {
	if len(res) == 0 {
		return bearer.Family{}, errCorruptRefresh
	}
	code, ok := res[0].(int64)
	if !ok {
		return bearer.Family{}, errCorruptRefresh
	}
	switch code {
	case rotateInvalid:
		return bearer.Family{}, bearer.ErrRefreshInvalid
	case rotateReused:
		return bearer.Family{}, bearer.ErrRefreshReused
	case rotateTaken:
		return bearer.Family{}, errDuplicateToken
	}
	if code != rotated || len(res) != 3 {
		return bearer.Family{}, errCorruptRefresh
	}
	iat, _ := res[1].(string)
	exp, _ := res[2].(string)
	created, err1 := decodeTime(iat)
	expires, err2 := decodeTime(exp)
	if err1 != nil || err2 != nil {
		return bearer.Family{}, errCorruptRefresh
	}
	return bearer.Family{ID: r.Family, Subject: r.Subject, CreatedAt: created, ExpiresAt: expires}, nil
}

// RevokeFamily implements bearer.RefreshStore: it deletes the family's
// record, which kills every token of the family at once (a token is live
// only while the family it names exists, in the generation it was issued
// in); the tokens' own keys expire with their TTLs.
func (s *RefreshStore) RevokeFamily(ctx context.Context, id string) error {
	if !s.built() {
		return notBuilt("RefreshStore")
	}
	if id == "" {
		return nil
	}
	err := revokeFamilyScript.Run(ctx, s.client, []string{s.famPrefix + id}, id, s.subPrefix).Err()
	return wrap("revoke family", err)
}

// RevokeSubject implements bearer.RefreshStore: it deletes every family in
// the subject's index, and the index.
func (s *RefreshStore) RevokeSubject(ctx context.Context, subject string) error {
	if !s.built() {
		return notBuilt("RefreshStore")
	}
	err := revokeFamiliesScript.Run(ctx, s.client, []string{s.subPrefix + subject}, s.famPrefix, subject).Err()
	return wrap("revoke subject's families", err)
}

// randomTag returns a random 128-bit tag, unique to one call: the
// generation of a new family (its tokens carry it, so that a family created
// again under a revoked family's id never adopts the revoked family's
// tokens, whose keys outlive it), or the mark an app rotation leaves.
func randomTag() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// luaRefresh is prepended to the refresh store's scripts.
const luaRefresh = luaTime + `
-- score is an index score: a time in Unix milliseconds, rounded up.
local function score(s, n)
  return string.format('%d', s * 1000 + math.ceil(n / 1000000))
end
-- liveToken reports whether the token at key belongs to a family that
-- exists, in the generation the token was issued in.
local function liveToken(key, famPrefix)
  local t = redis.call('HMGET', key, 'fam', 'gen')
  if not t[1] then return false end
  return redis.call('HGET', famPrefix .. t[1], 'gen') == t[2]
end
`

// createFamilyScript: KEYS family, first token, subject index; ARGV id,
// subject, generation, CreatedAt encoded, ExpiresAt encoded, sec, nsec,
// firstExpiresAt encoded, sec, nsec, now sec, nsec, index cleanup bound,
// family key prefix, clock slack ms. Returns 1, or 0 for a duplicate
// family, -1 for a duplicate token.
//
// A token's key outlives its expiry by the clock slack, as every key of
// the package does (see the package documentation): a replica whose clock
// runs behind the writer's must still find a used token, or a reuse in the
// token's last seconds would be answered "invalid" and go undetected. The
// expiry itself is judged from the record's exp, never from the key's
// existence.
//
// The family key lives as long as its longest-lived token (rotations
// extend it). The index scores each family by that same time and lives as
// long as its longest-lived family key: a family whose tokens have all
// expired leaves the index on the next write to it. A family of the same
// generation, which is random per call, is this very call run again
// (see idempotent in the package documentation).
var createFamilyScript = redis.NewScript(luaRefresh + `
if redis.call('EXISTS', KEYS[1]) == 1 then
  if redis.call('HGET', KEYS[1], 'gen') == ARGV[3] then return 1 end
  return 0
end
if liveToken(KEYS[2], ARGV[14]) then return -1 end
local es, en = tonumber(ARGV[6]), tonumber(ARGV[7])
local fe, fs, fn = ARGV[8], tonumber(ARGV[9]), tonumber(ARGV[10])
if before(es, en, fs, fn) then fe, fs, fn = ARGV[5], es, en end
local ns, nn = tonumber(ARGV[11]), tonumber(ARGV[12])
local ttl = millis(ns, nn, fs, fn)
if ttl <= 0 then return 1 end
ttl = ttl + tonumber(ARGV[15])
redis.call('HSET', KEYS[1], 'sub', ARGV[2], 'gen', ARGV[3], 'iat', ARGV[4], 'exp', ARGV[5])
redis.call('PEXPIRE', KEYS[1], ttl)
redis.call('DEL', KEYS[2])
redis.call('HSET', KEYS[2], 'fam', ARGV[1], 'gen', ARGV[3], 'exp', fe)
redis.call('PEXPIRE', KEYS[2], ttl)
redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', '(' .. ARGV[13])
redis.call('ZADD', KEYS[3], score(fs, fn), ARGV[1])
if redis.call('PTTL', KEYS[3]) < ttl then
  redis.call('PEXPIRE', KEYS[3], ttl)
end
return 1
`)

// rotateRefreshScript: KEYS presented token, next token (the presented one
// again when there is none); ARGV family id, subject, now sec, nsec, "1"
// to rotate ("" to check only), NextExpiresAt encoded, sec, nsec, family
// key prefix, subject index prefix, clock slack ms (see
// createFamilyScript). Returns {1, CreatedAt, ExpiresAt},
// {0} invalid, {-1} reused (the family is marked reused), {-2} next is
// taken.
//
// The checks run in the order of the bearer.RefreshStore contract: a
// token of another family or subject, or of a revoked family, is invalid
// and changes nothing; then expiry (of the family, then of the token);
// only then does a token of a family marked reused, or a used token, count
// as reused.
//
// A reuse marks the family rather than deleting it: its tokens no longer
// rotate, and each of them, presented until it expires, is a reuse again.
// The caller revokes the login's access tokens on a reuse; if that fails,
// the next presentation must tell it again, not answer invalid. The family
// stays in its subject's index, so that RevokeSubject deletes it as it
// deletes the others, and RevokeFamily deletes it too (both revoke the
// login's access tokens themselves).
//
// A used token records the key of its successor, and a reused one the key
// of the successor the reuse was refused, so that the script run again
// with the same arguments answers as it did the first time (see the package
// documentation): go-redis sends a command again when its answer comes
// late, and without the marks a second run found its own rotation's token
// used, and revoked the login. The reuse mark is read only after the
// family, subject and expiry checks, as the contract orders them: a token
// of a family revoked since, or expired, is invalid however often its
// reuse is repeated.
var rotateRefreshScript = redis.NewScript(luaRefresh + `
local t = redis.call('HMGET', KEYS[1], 'fam', 'gen', 'exp', 'used', 'reuse')
if t[1] ~= ARGV[1] then return {0} end
local fkey = ARGV[9] .. ARGV[1]
local f = redis.call('HMGET', fkey, 'sub', 'gen', 'iat', 'exp', 'reused')
if f[2] ~= t[2] or f[1] ~= ARGV[2] then return {0} end
local ns, nn = tonumber(ARGV[3]), tonumber(ARGV[4])
local es, en = tm(f[4])
local ts, tn = tm(t[3])
if not es or not en or not ts or not tn then
  return redis.error_reply('malformed refresh record')
end
if not before(ns, nn, es, en) or not before(ns, nn, ts, tn) then return {0} end
if f[5] or (ARGV[5] ~= '' and t[5] == KEYS[2]) then return {-1} end
if t[4] then
  if ARGV[5] ~= '' and t[4] == KEYS[2] and liveToken(KEYS[2], ARGV[9]) then
    return {1, f[3], f[4]}
  end
  redis.call('HSET', KEYS[1], 'reuse', KEYS[2])
  redis.call('HSET', fkey, 'reused', '1')
  return {-1}
end
if ARGV[5] ~= '' then
  if liveToken(KEYS[2], ARGV[9]) then return {-2} end
  local xe, xs, xn = ARGV[6], tonumber(ARGV[7]), tonumber(ARGV[8])
  if before(es, en, xs, xn) then xe, xs, xn = f[4], es, en end
  redis.call('HSET', KEYS[1], 'used', KEYS[2])
  redis.call('DEL', KEYS[2])
  local ttl = millis(ns, nn, xs, xn)
  if ttl > 0 then
    ttl = ttl + tonumber(ARGV[11])
    redis.call('HSET', KEYS[2], 'fam', ARGV[1], 'gen', t[2], 'exp', xe)
    redis.call('PEXPIRE', KEYS[2], ttl)
    if redis.call('PTTL', fkey) < ttl then
      redis.call('PEXPIRE', fkey, ttl)
    end
    local idx = ARGV[10] .. ARGV[2]
    redis.call('ZADD', idx, 'GT', score(xs, xn), ARGV[1])
    if redis.call('PTTL', idx) < ttl then
      redis.call('PEXPIRE', idx, ttl)
    end
  end
end
return {1, f[3], f[4]}
`)

// revokeFamilyScript: KEYS family; ARGV id, subject index prefix.
var revokeFamilyScript = redis.NewScript(`
local sub = redis.call('HGET', KEYS[1], 'sub')
if sub then
  redis.call('DEL', KEYS[1])
  redis.call('ZREM', ARGV[2] .. sub, ARGV[1])
end
return 1
`)

// revokeFamiliesScript: KEYS subject index; ARGV family key prefix,
// subject.
var revokeFamiliesScript = redis.NewScript(`
for _, id in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
  local key = ARGV[1] .. id
  if redis.call('HGET', key, 'sub') == ARGV[2] then
    redis.call('DEL', key)
  end
end
redis.call('DEL', KEYS[1])
return 1
`)
