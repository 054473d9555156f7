package bearer

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/tidegate/tidegate/internal/sweep"
	"github.com/tidegate/tidegate/internal/withheld"
)

// ErrRevocationListFull is returned by a bounded revocation list that has no
// room left. It never makes room by forgetting a live revocation: that
// would bring a revoked token back.
var ErrRevocationListFull = errors.New("bearer: revocation list full")

// TokenRef is what a revocation list is asked about an access token.
type TokenRef struct {
	// ID is the token's jti.
	ID string
	// Login is the token's sid ("" when it has none).
	Login string
	// Subject is the token's sub.
	Subject string
	// IssuedAt is the token's iat.
	IssuedAt time.Time
}

// RevocationList records revoked access tokens. A JWT cannot be recalled,
// so until it expires a revocation is checked on every first sight of a
// token (verified tokens are then cached, and revoking evicts them).
//
// Every method is atomic on its own, so that replicas sharing a list agree.
// Entries are needed until the given time only: callers pass a time by
// which every token an entry matches has expired, so an implementation may
// drop an entry then (a Redis key's TTL) or keep it longer. Implementations
// must never drop a live entry to make room (return ErrRevocationListFull
// instead).
type RevocationList interface {
	// RevokeToken revokes the token with jti id until until.
	RevokeToken(ctx context.Context, id string, until time.Time) error
	// RevokeLogin revokes every token of the login (sid) until until.
	RevokeLogin(ctx context.Context, login string, until time.Time) error
	// RevokeSubject revokes every token of subject issued before before
	// (password change, disabled account); the entry is kept until until.
	// A later call with an earlier before does not shorten the revocation.
	RevokeSubject(ctx context.Context, subject string, before, until time.Time) error
	// Revoked reports whether t is revoked by any of the above.
	Revoked(ctx context.Context, t TokenRef) (bool, error)
}

// DefaultRevocationEntries bounds a MemoryRevocationList unless
// WithStoreMaxEntries says otherwise.
const DefaultRevocationEntries = 1_000_000

// MemoryRevocationList is a RevocationList for a single process. It is
// bounded: when full it sweeps expired entries, and if that is not enough
// refuses new ones with ErrRevocationListFull.
type MemoryRevocationList struct {
	withheld.Contents[MemoryRevocationList] // prints as its name alone: no secret in a log

	cfg      storeConfig
	mu       sync.RWMutex
	tokens   map[string]time.Time
	logins   map[string]time.Time
	subjects map[string]subjectRevocation
	sweeps   sweep.Pacer
}

type subjectRevocation struct {
	before, until time.Time
}

// NewMemoryRevocationList returns an empty list.
func NewMemoryRevocationList(opts ...StoreOption) (*MemoryRevocationList, error) {
	cfg, err := newStoreConfig(DefaultRevocationEntries, opts)
	if err != nil {
		return nil, err
	}
	return &MemoryRevocationList{
		cfg:      cfg,
		tokens:   map[string]time.Time{},
		logins:   map[string]time.Time{},
		subjects: map[string]subjectRevocation{},
	}, nil
}

var errEmptyID = errors.New("bearer: revocation of an empty id")

// RevokeToken implements RevocationList.
func (m *MemoryRevocationList) RevokeToken(_ context.Context, id string, until time.Time) error {
	if m.tokens == nil {
		return notBuilt("MemoryRevocationList")
	}
	return m.revokeUntil(m.tokens, id, until)
}

// RevokeLogin implements RevocationList.
func (m *MemoryRevocationList) RevokeLogin(_ context.Context, login string, until time.Time) error {
	if m.tokens == nil {
		return notBuilt("MemoryRevocationList")
	}
	return m.revokeUntil(m.logins, login, until)
}

func (m *MemoryRevocationList) revokeUntil(entries map[string]time.Time, id string, until time.Time) error {
	if id == "" {
		return errEmptyID
	}
	until = wallClock(until)
	m.mu.Lock()
	defer m.mu.Unlock()
	old, exists := entries[id]
	if !exists {
		if err := m.makeRoom(); err != nil {
			return err
		}
	}
	if !exists || until.After(old) {
		entries[id] = until
	}
	return nil
}

// RevokeSubject implements RevocationList.
func (m *MemoryRevocationList) RevokeSubject(_ context.Context, subject string, before, until time.Time) error {
	if m.tokens == nil {
		return notBuilt("MemoryRevocationList")
	}
	if subject == "" {
		return errEmptyID
	}
	before, until = wallClock(before), wallClock(until)
	m.mu.Lock()
	defer m.mu.Unlock()
	old, exists := m.subjects[subject]
	if !exists {
		if err := m.makeRoom(); err != nil {
			return err
		}
	}
	if before.After(old.before) {
		old.before = before
	}
	if until.After(old.until) {
		old.until = until
	}
	m.subjects[subject] = old
	return nil
}

// wallClock strips t's monotonic clock reading. A revocation covers tokens
// whose exp is a wall clock time, so it must end by the wall clock too.
// Two times from time.Now compare by their monotonic readings, so with until
// left as it came, a sweep after the system clock is set back would drop
// the entry of a logout or of RevokeSubject while the tokens it covers are
// still inside their lifetime, making them valid again.
func wallClock(t time.Time) time.Time { return t.Round(0) }

// Revoked implements RevocationList. It reads no clock: an entry past its
// until, not yet swept, can only match tokens that have expired anyway
// (until is at least the expiry of every token an entry matches), so
// reporting them revoked changes nothing and saves a clock read on every
// first sight of a token.
func (m *MemoryRevocationList) Revoked(_ context.Context, t TokenRef) (bool, error) {
	if m.tokens == nil {
		return false, notBuilt("MemoryRevocationList")
	}
	m.mu.RLock()
	defer m.mu.RUnlock()
	if _, ok := m.tokens[t.ID]; ok {
		return true, nil
	}
	if _, ok := m.logins[t.Login]; ok {
		return true, nil
	}
	if s, ok := m.subjects[t.Subject]; ok && t.IssuedAt.Before(s.before) {
		return true, nil
	}
	return false, nil
}

// Len returns the number of entries held, expired ones not yet swept included.
func (m *MemoryRevocationList) Len() int {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return len(m.tokens) + len(m.logins) + len(m.subjects)
}

// makeRoom sweeps expired entries after as many inserts as the last sweep
// left entries, so sweeping costs O(1) per insert on average, and when the
// list is full, at most once a second (see sweep.Pacer). The caller holds
// m.mu.
func (m *MemoryRevocationList) makeRoom() error {
	size := len(m.tokens) + len(m.logins) + len(m.subjects)
	if now := m.cfg.now(); m.sweeps.Due(size, m.cfg.maxEntries, now) {
		m.sweep(now)
		size = len(m.tokens) + len(m.logins) + len(m.subjects)
		m.sweeps.Swept(size)
	}
	if size >= m.cfg.maxEntries {
		return ErrRevocationListFull
	}
	return nil
}

func (m *MemoryRevocationList) sweep(now time.Time) {
	for id, until := range m.tokens {
		if !now.Before(until) {
			delete(m.tokens, id)
		}
	}
	for id, until := range m.logins {
		if !now.Before(until) {
			delete(m.logins, id)
		}
	}
	for id, s := range m.subjects {
		if !now.Before(s.until) {
			delete(m.subjects, id)
		}
	}
}
