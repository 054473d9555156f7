// Package redisstore keeps tidegate's shared state in Redis, so that
// several replicas of a server agree on sessions, login-throttle counts and
// revocations. It uses github.com/redis/go-redis/v9 and needs a single
// Redis server (standalone, or Sentinel failover); it is tested with Redis 7.0.
//
//   - SessionStore implements middleware.SessionStore (session tokens,
//     server tokens, app sessions).
//   - LoginLimiter implements middleware.LoginLimiter.
//   - RefreshStore implements bearer.RefreshStore (refresh-token families,
//     rotation with reuse detection).
//   - RevocationList implements bearer.RevocationList (revoked jti, sid
//     and subjects).
//   - AppRegistry implements basicauth.AppRegistry (app and backend
//     tokens). App sessions are a SessionStore of their own prefix.
//   - Broadcaster implements middleware.Invalidator across replicas: a
//     revocation on one replica evicts the subject from every replica's
//     local verification cache, over Redis Pub/Sub; a message Redis
//     refuses is published again until it takes it.
//
// They pass the same conformance suite as the in-memory stores of packages
// middleware, bearer and basicauth (internal/storetest).
//
// # Keys
//
// Every key starts with the prefix (WithPrefix, default "tidegate:") and
// has a TTL; nothing grows without bound.
//
//	<prefix>session:<hex SHA-256 of the token>   hash: sub act app roles iat exp abs prev
//	                                             TTL = ExpiresAt - now + 1 min
//	<prefix>subject:<subject>                    sorted set of the subject's session
//	                                             digests, scored by expiry (ms);
//	                                             TTL = its longest session's
//	<prefix>limit:<hex SHA-256 of counter name>  hash: n reset [ok]; TTL = the window
//	<prefix>refresh:token:<hex SHA-256>          hash: fam gen exp [used reuse]; TTL = its
//	                                             expiry (capped at the family's end) + 1 min
//	<prefix>refresh:family:<family id>           hash: sub gen iat exp [reused]; TTL =
//	                                             its longest-lived token's
//	<prefix>refresh:subject:<subject>            sorted set of family ids, scored by
//	                                             their longest token's expiry (ms);
//	                                             TTL = the latest of those
//	<prefix>revoked:token:<jti>                  "1"; TTL = until + 1 min (only ever lengthened)
//	<prefix>revoked:login:<sid>                  "1"; TTL = until + 1 min (only ever lengthened)
//	<prefix>revoked:subject:<subject>            the latest "before" time; TTL = the
//	                                             latest until + 1 min
//	<prefix>appreg:id:<app id>                   hash: name app backend (hex digests);
//	                                             TTL = the idle TTL (WithAppIdleTTL)
//	<prefix>appreg:app:<hex SHA-256>             the app id; TTL = the idle TTL
//	<prefix>appreg:backend:<hex SHA-256>         the app id; TTL = the idle TTL
//	<prefix>appreg:ids                           sorted set of app ids (WithMaxApps),
//	                                             scored by idle expiry (ms)
//	<prefix>revocations                          the Pub/Sub channel (WithChannel)
//
// Tokens are stored only as middleware.TokenDigest, so a copy of the
// database cannot be replayed. Limiter counters are named by the SHA-256 of
// the account name or client address, so no login name as typed (perhaps a
// password typed in the wrong field) is kept. Dead members of a subject
// index are dropped on every write to it, one minute after their expiry
// (so that clock skew between replicas never drops a live one).
//
// A refresh token is live only while the family it names exists with the
// generation (a random tag drawn at Create) the token carries: revoking a
// family deletes one key and so kills every token of the family at once,
// and a family created again under a revoked id never adopts the old
// tokens, whose keys expire by their TTLs. A used token keeps its key,
// marked used, until it expires, so that its reuse is detected (RFC 9700
// §4.14.2). Detecting a reuse marks the family reused instead of deleting
// it: none of its tokens rotates any more, and each is answered as a reuse
// again until it expires, so that a caller who failed to revoke the
// login's access tokens is told again. Revocation entries need no index: Revoked
// is one MGET of the token's, the login's and the subject's keys. An app's
// keys are renewed to the full idle TTL when one of its tokens is looked
// up with less than half of it left, so an app in use never expires.
//
// A session is a hash rather than a JSON string: the scripts read and
// change single fields (exp, sub) without decoding and re-encoding the
// record in Lua, a small hash is stored as compactly as the JSON would be
// (a listpack), and Lookup reads it with one HMGET. Times are
// "<unix seconds>.<nanoseconds>": exact, and comparable in Lua, whose
// numbers are doubles. Roles are "<length>:<role>" one after the other:
// exact for any string, and decoded without copying.
//
// # Atomicity
//
// Every write is one Lua script, which Redis runs without interleaving:
// two replicas rotating the same session token cannot both see it live
// once a rotation without grace has ended it, of two replicas rotating the
// same refresh token exactly one succeeds (the other finds it used, and
// the family is revoked), and no limiter increment is lost.
//
// Each script that issues or rotates a credential is idempotent: run again
// with the same arguments, it gives the answer of its first run. go-redis
// sends a command again when its answer is late (MaxRetries, 3 by default:
// after a ReadTimeout or a dropped connection), and Redis may have run it
// already. A rotation run twice must neither take its own successor for a
// reuse (which revokes the login), a taken token or a missing one, nor take
// a reuse it detected for an invalid token. So a used refresh token records
// its successor (a reused one the successor it was refused), a rotated
// session names its predecessor, a new family holds its generation, an
// app record the tag of its latest rotation and an address counter the tag
// of the last successful login that forgave one of its attempts, each
// random per call: the second run recognises its own work, and no other
// call can pass for it.
// Two exceptions err on the safe side: a retried Register reports
// basicauth.ErrAppExists though the app is registered, and a retried login
// attempt is counted twice.
//
// The scripts derive some keys from data (the sessions of a subject's
// index), which is why Redis Cluster is refused.
//
// # Time
//
// WithClock sets the clock of every expiry decision (a refresh-token
// rotation is decided at its bearer.Rotation.Now instead). Its time is sent with
// each call, and TTLs are set as durations from it (PEXPIRE), never as
// absolute times, so tests move a fake clock against a real server.
// Session and revocation keys outlive their data by a minute ("+ 1 min"
// above), so that a replica whose clock runs up to a minute ahead of
// another's never makes a key vanish while it still matters to the other
// (a revocation check reads no clock: its key's life is the revocation's);
// Lookup still checks expiry with the store's clock.
//
// # Failures
//
// A Redis error is returned wrapped (errors.Is still finds context errors
// and go-redis's), never as middleware.ErrSessionNotFound: the kinds answer
// 503, never 401, and never panic. go-redis reconnects by itself when
// Redis is back. Configure the client's timeouts (DialTimeout, ReadTimeout,
// WriteTimeout, MaxRetries) to bound how long a request waits for an
// unreachable Redis; its defaults allow several seconds.
//
// Redis persistence is the operator's choice, with one exception. With
// appendonly, everything survives a Redis restart. Without it, a restart
// forgets sessions, refresh tokens and apps' sessions, which logs every
// user out and fails safe, resets throttle counts, and forgets the apps an
// AppRegistry holds, whose tokens are then refused (401) until they are
// registered again; but it also forgets
// the RevocationList, which fails open: an access token revoked by logout,
// by refresh-token reuse or by RevokeSubject is accepted again until its
// own exp (the access TTL, 8 hours by default). Run the Redis that holds a
// RevocationList with appendonly (or snapshots at least as often as you
// can afford to lose revocations).
//
// Eviction is not a choice: run every Redis these stores use with
// maxmemory-policy noeviction (Redis's default), and check it at start with
// CheckEvictionPolicy. Where a restart loses everything together, an
// eviction drops one key and keeps the others, and that fails open: an
// evicted revocation lets a revoked access token in again, an evicted
// subject index makes RevokeSubject miss the sessions and refresh tokens
// it lists, an evicted used refresh token lets its reuse go undetected
// (RFC 9700 §4.14.2), and an evicted throttle count lets a password guesser
// go on. With noeviction, a full Redis refuses writes and the kinds answer
// 503.
package redisstore
