package redisstore

import (
	"context"
	"encoding/hex"
	"errors"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/tidegate/tidegate/internal/withheld"
	"github.com/tidegate/tidegate/middleware"
)

// clockSlack is how far the clocks of replicas may disagree without a
// replica losing what another wrote: a key's TTL is computed from the
// writer's clock, so a writer running ahead would otherwise make a key
// expire before its data does for the others. Session and revocation keys
// outlive their data by it; readers still judge the data by their own
// clock.
const clockSlack = time.Minute

// indexSlack is how long a dead member stays in a subject index: cleaning
// lags the clock so that clock skew between replicas never drops the
// entry of a live session (which RevokeSubject would then miss).
const indexSlack = clockSlack

// hmgetFields are the hash fields of a session, in the order Lookup reads
// them, boxed once: Lookup is the hot path of a cache miss.
var hmgetFields = []any{"sub", "act", "app", "roles", "iat", "exp", "abs", "prev"}

// expField and prevField are the indexes of "exp" and "prev" in
// hmgetFields.
const (
	expField  = 5
	prevField = 7
)

// SessionStore is a middleware.SessionStore in Redis, shared by every
// replica. See the package documentation for the keys it writes.
type SessionStore struct {
	withheld.Contents[SessionStore] // prints as its name alone: no secret in a log

	client    redis.UniversalClient
	now       func() time.Time
	keyPrefix string // prefix + "session:"
	idxPrefix string // prefix + "subject:"
}

var _ middleware.SessionStore = (*SessionStore)(nil)

// built reports whether s was made by NewSessionStore. The methods of a
// nil or zero store answer ErrInternal.
func (s *SessionStore) built() bool { return s != nil && s.client != nil && s.now != nil }

// NewSessionStore returns a store on client. It accepts WithPrefix and
// WithClock. The client must be a single Redis (*redis.Client or a
// Sentinel failover client): Redis Cluster is refused.
func NewSessionStore(client redis.UniversalClient, opts ...Option) (*SessionStore, error) {
	if err := checkClient(client); err != nil {
		return nil, err
	}
	cfg, err := newConfig("NewSessionStore", storeOptions, opts)
	if err != nil {
		return nil, err
	}
	return &SessionStore{
		client:    client,
		now:       cfg.now,
		keyPrefix: cfg.prefix + "session:",
		idxPrefix: cfg.prefix + "subject:",
	}, nil
}

// Create implements middleware.SessionStore. A session already expired is
// not stored (but still replaces what d held).
func (s *SessionStore) Create(ctx context.Context, d middleware.TokenDigest, sess middleware.Session) error {
	if !s.built() {
		return notBuilt("SessionStore")
	}
	hex := hexDigest(d)
	args := s.putArgs(hex, sess, s.now())
	keys := []string{s.keyPrefix + hex, s.idxPrefix + sess.Subject}
	return wrap("create", createScript.Run(ctx, s.client, keys, args...).Err())
}

// putArgs returns the arguments of the Lua put function for sess.
func (s *SessionStore) putArgs(hex string, sess middleware.Session, now time.Time) []any {
	return []any{
		hex,
		ttlMillis(sess.ExpiresAt.Sub(now)),
		ceilMillis(sess.ExpiresAt),
		now.Add(-indexSlack).UnixMilli(),
		s.idxPrefix,
		sess.Subject, string(sess.Actor), sess.App, encodeRoles(sess.Roles),
		encodeTime(sess.IssuedAt), encodeTime(sess.ExpiresAt), encodeTime(sess.AbsoluteExpiresAt),
		encodePredecessor(sess.Predecessor),
		clockSlack.Milliseconds(),
	}
}

// encodePredecessor returns the hex digest of a session's predecessor, or
// "" for none.
func encodePredecessor(d middleware.TokenDigest) string {
	if d == (middleware.TokenDigest{}) {
		return ""
	}
	return hexDigest(d)
}

// decodePredecessor reverses encodePredecessor.
func decodePredecessor(s string) (middleware.TokenDigest, bool) {
	if s == "" {
		return middleware.TokenDigest{}, true
	}
	return decodeDigest(s)
}

// Lookup implements middleware.SessionStore: one HMGET.
func (s *SessionStore) Lookup(ctx context.Context, d middleware.TokenDigest) (middleware.Session, error) {
	if !s.built() {
		return middleware.Session{}, notBuilt("SessionStore")
	}
	args := make([]any, 2, 2+len(hmgetFields))
	args[0], args[1] = "hmget", s.sessionKey(d)
	cmd := redis.NewSliceCmd(ctx, append(args, hmgetFields...)...)
	_ = s.client.Process(ctx, cmd)
	vals, err := cmd.Result()
	if err != nil {
		return middleware.Session{}, wrap("lookup", err)
	}
	sess, found, err := decodeSession(vals)
	if err != nil {
		return middleware.Session{}, err
	}
	// Redis expires keys by its own clock; the store's clock decides.
	if !found || !s.now().Before(sess.ExpiresAt) {
		return middleware.Session{}, middleware.ErrSessionNotFound
	}
	return sess, nil
}

var errCorrupt = errors.New("redisstore: malformed session record")

// sessionKey returns the key of d's session, in one allocation.
func (s *SessionStore) sessionKey(d middleware.TokenDigest) string {
	var b strings.Builder
	b.Grow(len(s.keyPrefix) + 2*len(d))
	b.WriteString(s.keyPrefix)
	var h [2 * len(middleware.TokenDigest{})]byte
	hex.Encode(h[:], d[:])
	b.Write(h[:])
	return b.String()
}

// decodeSession reads the HMGET answer for hmgetFields. A key that is
// not there has no "exp".
func decodeSession(vals []any) (middleware.Session, bool, error) {
	var f [8]string
	if len(vals) != len(f) {
		return middleware.Session{}, false, errCorrupt
	}
	if vals[expField] == nil {
		return middleware.Session{}, false, nil // no such key
	}
	for i, v := range vals {
		switch v := v.(type) {
		case string:
			f[i] = v
		case nil:
			// Every field is written with the record, but "prev", which a
			// record written before it existed lacks (read as ""). A record
			// missing another is corrupt: a missing "app" read as "" made an
			// app's session pass for the service's own.
			if i != prevField {
				return middleware.Session{}, false, errCorrupt
			}
		default:
			return middleware.Session{}, false, errCorrupt
		}
	}
	sess := middleware.Session{Subject: f[0], Actor: middleware.Actor(f[1]), App: f[2]}
	roles, ok := decodeRoles(f[3])
	if !ok {
		return middleware.Session{}, false, errCorrupt
	}
	sess.Roles = roles
	var errs [3]error
	sess.IssuedAt, errs[0] = decodeTime(f[4])
	sess.ExpiresAt, errs[1] = decodeTime(f[5])
	sess.AbsoluteExpiresAt, errs[2] = decodeTime(f[6])
	if err := errors.Join(errs[:]...); err != nil {
		return middleware.Session{}, false, errCorrupt
	}
	if sess.Predecessor, ok = decodePredecessor(f[7]); !ok {
		return middleware.Session{}, false, errCorrupt
	}
	return sess, true, nil
}

// Rotate implements middleware.SessionStore in one script: old is checked,
// shortened to oldUntil (or deleted when that is not in the future), and
// next stored, or nothing changes.
func (s *SessionStore) Rotate(ctx context.Context, old middleware.TokenDigest, oldUntil time.Time, next middleware.TokenDigest, sess middleware.Session) error {
	if !s.built() {
		return notBuilt("SessionStore")
	}
	now := s.now()
	oldHex, nextHex := hexDigest(old), hexDigest(next)
	put := s.putArgs(nextHex, sess, now)
	args := append([]any{
		now.Unix(), now.Nanosecond(),
		encodeTime(oldUntil), oldUntil.Unix(), oldUntil.Nanosecond(),
		oldHex,
	}, put...)
	args = append(args, ceilMillis(oldUntil))
	keys := []string{s.keyPrefix + oldHex, s.keyPrefix + nextHex, s.idxPrefix + sess.Subject}
	rotated, err := rotateScript.Run(ctx, s.client, keys, args...).Int()
	if err != nil {
		return wrap("rotate", err)
	}
	if rotated == 0 {
		return middleware.ErrSessionNotFound
	}
	return nil
}

// Revoke implements middleware.SessionStore.
func (s *SessionStore) Revoke(ctx context.Context, d middleware.TokenDigest) error {
	if !s.built() {
		return notBuilt("SessionStore")
	}
	hex := hexDigest(d)
	err := revokeScript.Run(ctx, s.client, []string{s.keyPrefix + hex}, hex, s.idxPrefix).Err()
	return wrap("revoke", err)
}

// RevokeSubject implements middleware.SessionStore: it deletes every
// session in the subject's index, and the index.
func (s *SessionStore) RevokeSubject(ctx context.Context, subject string) error {
	if !s.built() {
		return notBuilt("SessionStore")
	}
	err := revokeSubjectScript.Run(ctx, s.client, []string{s.idxPrefix + subject}, s.keyPrefix, subject).Err()
	return wrap("revoke subject", err)
}
