package redisstore

import "github.com/redis/go-redis/v9"

// The Lua scripts that make each store operation atomic. Redis runs a
// script without interleaving any other command, so two replicas rotating
// one token, or counting one address, cannot interleave.
//
// Times arrive as (seconds, nanoseconds) pairs and are stored in the
// "<sec>.<9 digits>" form of encoding.go; both compare exactly in Lua.
// Key TTLs are durations (PEXPIRE) computed from the caller's clock, never
// absolute times, so a fake clock works against a real server.
//
// Some keys are derived inside the scripts (the subject index of a
// session's previous subject, the sessions of an index): this is fine on a
// single Redis, and why Redis Cluster is not supported.

// luaTime reads and compares times; it starts every script that does.
const luaTime = `
local function tm(s)
  if not s or s == '' then return nil end
  local dot = string.find(s, '.', 1, true)
  if not dot then return nil end
  return tonumber(string.sub(s, 1, dot - 1)), tonumber(string.sub(s, dot + 1))
end
local function before(as, an, bs, bn)
  return as < bs or (as == bs and an < bn)
end
-- millis returns b - a in milliseconds, rounded up; both terms are exact.
local function millis(as, an, bs, bn)
  return (bs - as) * 1000 + math.ceil((bn - an) / 1000000)
end
`

// luaLib is prepended to the session store's scripts.
const luaLib = luaTime + `
-- drop deletes a session and its entry in its subject's index.
local function drop(key, hex, idxPrefix)
  local sub = redis.call('HGET', key, 'sub')
  if sub then
    redis.call('DEL', key)
    redis.call('ZREM', idxPrefix .. sub, hex)
  end
end
-- put stores a session from ARGV[i..]: hex, ttl ms, index score, index
-- cleanup bound, index prefix, then the fields, then the clock slack ms. A
-- digest stored again replaces its session, and leaves its former
-- subject's index. The key outlives the session by the clock slack.
local function put(key, idx, a, i)
  local hex, ttl = a[i], tonumber(a[i + 1])
  drop(key, hex, a[i + 4])
  if ttl <= 0 then return end
  ttl = ttl + tonumber(a[i + 13])
  redis.call('HSET', key, 'sub', a[i + 5], 'act', a[i + 6], 'app', a[i + 7],
    'roles', a[i + 8], 'iat', a[i + 9], 'exp', a[i + 10], 'abs', a[i + 11],
    'prev', a[i + 12])
  redis.call('PEXPIRE', key, ttl)
  -- Forget members long dead, so the index does not grow with every
  -- login; the bound lags the clock so that clock skew between replicas
  -- never drops a live member.
  redis.call('ZREMRANGEBYSCORE', idx, '-inf', '(' .. a[i + 3])
  redis.call('ZADD', idx, a[i + 2], hex)
  if redis.call('PTTL', idx) < ttl then
    redis.call('PEXPIRE', idx, ttl)
  end
end
`

// createScript: KEYS session, index; ARGV the put arguments.
var createScript = redis.NewScript(luaLib + `
put(KEYS[1], KEYS[2], ARGV, 1)
return 1
`)

// rotateScript: KEYS old, next, next's index; ARGV now sec, now nsec,
// oldUntil encoded, oldUntil sec, oldUntil nsec, old hex, then the put
// arguments of next (ARGV[7] to ARGV[20]), then oldUntil in Unix ms rounded
// up. Returns 0 when old is not live, unless next, whose digest is new to
// every call, names old as its predecessor: then this is the same rotation
// run again after it dropped old (see idempotent in the package
// documentation).
//
// An old session kept for its grace period is scored by its new end in its
// subject's index, so that it leaves the index with it: scored by its
// former end, every refresh left a dead member for a whole token lifetime.
var rotateScript = redis.NewScript(luaLib + `
local es, en = tm(redis.call('HGET', KEYS[1], 'exp'))
local ns, nn = tonumber(ARGV[1]), tonumber(ARGV[2])
if not es or not before(ns, nn, es, en) then
  if redis.call('HGET', KEYS[2], 'prev') == ARGV[6] then return 1 end
  return 0
end
local us, un = tonumber(ARGV[4]), tonumber(ARGV[5])
if before(us, un, es, en) then
  if before(ns, nn, us, un) then
    redis.call('HSET', KEYS[1], 'exp', ARGV[3])
    redis.call('PEXPIRE', KEYS[1], millis(ns, nn, us, un) + tonumber(ARGV[20]))
    local sub = redis.call('HGET', KEYS[1], 'sub')
    if sub then
      redis.call('ZADD', ARGV[11] .. sub, 'XX', 'LT', ARGV[21], ARGV[6])
    end
  else
    drop(KEYS[1], ARGV[6], ARGV[11])
  end
end
put(KEYS[2], KEYS[3], ARGV, 7)
return 1
`)

// revokeScript: KEYS session; ARGV hex, index prefix.
var revokeScript = redis.NewScript(luaLib + `
drop(KEYS[1], ARGV[1], ARGV[2])
return 1
`)

// revokeSubjectScript: KEYS index; ARGV session key prefix, subject.
var revokeSubjectScript = redis.NewScript(`
local members = redis.call('ZRANGE', KEYS[1], 0, -1)
for _, hex in ipairs(members) do
  local key = ARGV[1] .. hex
  if redis.call('HGET', key, 'sub') == ARGV[2] then
    redis.call('DEL', key)
  end
end
redis.call('DEL', KEYS[1])
return #members
`)

// attemptScript: KEYS address counter, account counter (or the account
// counter alone); ARGV now sec, now nsec, reset of a new window encoded,
// window ms, address limit, account limit. Returns the wait in
// nanoseconds, 0 when allowed. The address is counted first; an address
// over its limit leaves the account untouched (as middleware.MemoryLimiter
// does).
var attemptScript = redis.NewScript(luaLib + `
local ns, nn = tonumber(ARGV[1]), tonumber(ARGV[2])
local function count(key, limit)
  local rs, rn = tm(redis.call('HGET', key, 'reset'))
  local n
  if not rs or not before(ns, nn, rs, rn) then
    redis.call('HSET', key, 'n', 1, 'reset', ARGV[3])
    redis.call('PEXPIRE', key, ARGV[4])
    rs, rn = tm(ARGV[3])
    n = 1
  else
    n = redis.call('HINCRBY', key, 'n', 1)
  end
  if n > limit then
    return (rs - ns) * 1000000000 + (rn - nn)
  end
  return 0
end
if #KEYS == 1 then return count(KEYS[1], tonumber(ARGV[6])) end
local wait = count(KEYS[1], tonumber(ARGV[5]))
if wait > 0 then return wait end
return count(KEYS[2], tonumber(ARGV[6]))
`)

// succeededScript: KEYS address counter, account counter; ARGV a random
// tag of the call. It forgives one attempt of the address and records the
// tag in the counter's one field "ok", so that the same call run again by a
// go-redis retry forgives nothing more. One field, not one per login: a
// field per tag grew without bound under steady logins from one address (a
// NAT), and a new window kept them all. A retry that comes after another
// login from the same address forgave again; it errs by one attempt at
// most, and only then.
var succeededScript = redis.NewScript(`
redis.call('DEL', KEYS[2])
local n = tonumber(redis.call('HGET', KEYS[1], 'n'))
if n and n > 0 and redis.call('HGET', KEYS[1], 'ok') ~= ARGV[1] then
  redis.call('HSET', KEYS[1], 'ok', ARGV[1])
  redis.call('HINCRBY', KEYS[1], 'n', -1)
end
return 1
`)
