package middleware

import (
	"context"
	"errors"
	"slices"
	"sync"
	"time"

	"github.com/tidegate/tidegate/internal/sweep"
	"github.com/tidegate/tidegate/internal/withheld"
)

// Errors of session stores.
var (
	// ErrSessionNotFound: no live session has that digest (it never
	// existed, expired, or was revoked).
	ErrSessionNotFound = errors.New("tidegate: session not found")
	// ErrStoreFull: a bounded store has no room for another session.
	ErrStoreFull = errors.New("tidegate: session store full")
)

// Session is what a store keeps for one opaque token, under the token's
// digest. Session tokens (Tidepool style) and app sessions (Tapglue style)
// share this record and the SessionStore contract.
type Session struct {
	// Subject is the user id (or the server name for server tokens).
	Subject string
	// Actor is ActorUser or ActorServer.
	Actor Actor
	// App scopes the session to one application ("" when unscoped).
	App string
	// Roles are copied into the principal.
	Roles []string
	// IssuedAt is when this token was issued.
	IssuedAt time.Time
	// ExpiresAt is when this token stops working.
	ExpiresAt time.Time
	// AbsoluteExpiresAt bounds the whole login: refreshing never issues a
	// token that outlives it. Zero means "same as ExpiresAt".
	AbsoluteExpiresAt time.Time
	// Predecessor is the digest of the token this one was refreshed from
	// (zero for a login's first token). That token may still be in its
	// grace window; logging out with this one revokes it too, so that it
	// cannot refresh the login back to life.
	Predecessor TokenDigest
}

// live reports whether s is usable at now.
func (s *Session) live(now time.Time) bool { return now.Before(s.ExpiresAt) }

// SessionStore keeps sessions by token digest. Every method is atomic on
// its own, so that several replicas sharing a store agree.
type SessionStore interface {
	// Create stores a new session. It may return ErrStoreFull.
	Create(ctx context.Context, d TokenDigest, s Session) error
	// Lookup returns the live session of d, or ErrSessionNotFound.
	Lookup(ctx context.Context, d TokenDigest) (Session, error)
	// Rotate atomically replaces old by next: old must be live (else
	// ErrSessionNotFound and nothing changes); its ExpiresAt becomes
	// min(its ExpiresAt, oldUntil), a grace window for requests in
	// flight; next is stored with s. A store whose calls may be sent twice
	// (redisstore, through go-redis's retries) may answer the same rotation
	// run again as a success once next exists as old's successor, whatever
	// old has become: next is fresh and random per call, so only the first
	// run can have made it.
	Rotate(ctx context.Context, old TokenDigest, oldUntil time.Time, next TokenDigest, s Session) error
	// Revoke deletes one session. Revoking an unknown digest is not an error.
	Revoke(ctx context.Context, d TokenDigest) error
	// RevokeSubject deletes every session of a subject.
	RevokeSubject(ctx context.Context, subject string) error
}

// MaxSessionsPerSubject bounds the live sessions of one subject in a
// MemorySessionStore. Storing one more ends that subject's session that
// expires first. A person's devices never come near it; without it, one
// user refreshing a token again and again, or logging in again and again,
// could fill the store for everyone (each refresh of a token in its grace
// window stores a new session, and each login one more).
const MaxSessionsPerSubject = 4_096

// MemorySessionStore is an in-memory SessionStore for a single process. It
// is bounded (default 1,000,000 sessions): expired sessions are swept when
// it fills up, and Create answers ErrStoreFull rather than evict a live
// session of another subject. One subject holds at most
// MaxSessionsPerSubject sessions.
type MemorySessionStore struct {
	withheld.Contents[MemorySessionStore] // prints as its name alone: no secret in a log

	cfg       storeConfig
	mu        sync.Mutex
	sessions  map[TokenDigest]*Session
	bySubject map[string]map[TokenDigest]struct{}
	sweeps    sweep.Pacer
}

// NewMemorySessionStore returns an empty store.
func NewMemorySessionStore(opts ...StoreOption) (*MemorySessionStore, error) {
	cfg, err := newStoreConfig(1_000_000, opts)
	if err != nil {
		return nil, err
	}
	return &MemorySessionStore{
		cfg:       cfg,
		sessions:  map[TokenDigest]*Session{},
		bySubject: map[string]map[TokenDigest]struct{}{},
	}, nil
}

// Create implements SessionStore.
func (m *MemorySessionStore) Create(_ context.Context, d TokenDigest, s Session) error {
	if m.sessions == nil {
		return notBuilt("MemorySessionStore")
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.insert(d, s, m.cfg.now(), TokenDigest{})
}

// insert stores s under d. keep, when not zero, is a session the insert
// must not end to make room (Rotate's old session, which keeps a grace
// window).
func (m *MemorySessionStore) insert(d TokenDigest, s Session, now time.Time, keep TokenDigest) error {
	// A digest stored again (a caller reusing a token, or Rotate with
	// next == old) replaces its session: drop the old record first, so the
	// subject index never keeps it under its former subject (where
	// RevokeSubject would delete the new session) and a full store can
	// still replace it.
	if prev, ok := m.sessions[d]; ok {
		m.remove(d, prev)
	}
	if subj := m.bySubject[s.Subject]; len(subj) >= MaxSessionsPerSubject {
		m.shed(subj, now, keep)
	}
	// Sweep after as many inserts as the last sweep left sessions, and
	// when full, at most once a second (see sweep.Pacer).
	if m.sweeps.Due(len(m.sessions), m.cfg.maxEntries, now) {
		m.sweep(now)
	}
	if len(m.sessions) >= m.cfg.maxEntries {
		return ErrStoreFull
	}
	s.Roles = slices.Clone(s.Roles)
	m.sessions[d] = &s
	subj := m.bySubject[s.Subject]
	if subj == nil {
		subj = map[TokenDigest]struct{}{}
		m.bySubject[s.Subject] = subj
	}
	subj[d] = struct{}{}
	return nil
}

func (m *MemorySessionStore) sweep(now time.Time) {
	for d, s := range m.sessions {
		if !s.live(now) {
			m.remove(d, s)
		}
	}
	m.sweeps.Swept(len(m.sessions))
}

// shed makes room for one more session of a subject whose sessions are
// subj: it drops those that have expired, and if none has, the one that
// expires first, other than keep. It walks the subject's sessions only,
// and only when the subject has MaxSessionsPerSubject of them.
func (m *MemorySessionStore) shed(subj map[TokenDigest]struct{}, now time.Time, keep TokenDigest) {
	var first TokenDigest
	var firstAt time.Time
	freed := false
	for d := range subj {
		s := m.sessions[d]
		switch {
		case !s.live(now):
			m.remove(d, s)
			freed = true
		case d == keep:
		case firstAt.IsZero() || s.ExpiresAt.Before(firstAt):
			first, firstAt = d, s.ExpiresAt
		}
	}
	if !freed && !firstAt.IsZero() {
		m.remove(first, m.sessions[first])
	}
}

func (m *MemorySessionStore) remove(d TokenDigest, s *Session) {
	delete(m.sessions, d)
	if subj := m.bySubject[s.Subject]; subj != nil {
		delete(subj, d)
		if len(subj) == 0 {
			delete(m.bySubject, s.Subject)
		}
	}
}

// Lookup implements SessionStore.
func (m *MemorySessionStore) Lookup(_ context.Context, d TokenDigest) (Session, error) {
	if m.sessions == nil {
		return Session{}, notBuilt("MemorySessionStore")
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	s, ok := m.sessions[d]
	if !ok {
		return Session{}, ErrSessionNotFound
	}
	if !s.live(m.cfg.now()) {
		m.remove(d, s)
		return Session{}, ErrSessionNotFound
	}
	out := *s
	out.Roles = slices.Clone(s.Roles)
	return out, nil
}

// Rotate implements SessionStore.
func (m *MemorySessionStore) Rotate(_ context.Context, old TokenDigest, oldUntil time.Time, next TokenDigest, s Session) error {
	if m.sessions == nil {
		return notBuilt("MemorySessionStore")
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.cfg.now()
	prev, ok := m.sessions[old]
	if !ok || !prev.live(now) {
		return ErrSessionNotFound
	}
	if err := m.insert(next, s, now, old); err != nil {
		return err
	}
	if oldUntil.Before(prev.ExpiresAt) {
		prev.ExpiresAt = oldUntil
	}
	return nil
}

// Revoke implements SessionStore.
func (m *MemorySessionStore) Revoke(_ context.Context, d TokenDigest) error {
	if m.sessions == nil {
		return notBuilt("MemorySessionStore")
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if s, ok := m.sessions[d]; ok {
		m.remove(d, s)
	}
	return nil
}

// RevokeSubject implements SessionStore.
func (m *MemorySessionStore) RevokeSubject(_ context.Context, subject string) error {
	if m.sessions == nil {
		return notBuilt("MemorySessionStore")
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	for d := range m.bySubject[subject] {
		delete(m.sessions, d)
	}
	delete(m.bySubject, subject)
	return nil
}

// Len returns the number of sessions held, expired ones not yet swept included.
func (m *MemorySessionStore) Len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.sessions)
}
