package bearer

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/tidegate/tidegate/internal/sweep"
	"github.com/tidegate/tidegate/internal/withheld"
	"github.com/tidegate/tidegate/middleware"
)

// Errors of refresh stores.
var (
	// ErrRefreshInvalid: the refresh token is unknown, expired, revoked,
	// or belongs to another login or subject than the caller expects.
	ErrRefreshInvalid = errors.New("bearer: invalid refresh token")
	// ErrRefreshReused: the refresh token was already used. The store has
	// revoked the token's whole family before returning this (RFC 9700
	// §4.14.2), and returns it again for every later presentation of any
	// of the family's tokens, so that a caller who failed to revoke what
	// the family's tokens bought is told again.
	ErrRefreshReused = errors.New("bearer: refresh token reused")
	// ErrRefreshStoreFull: a bounded store has no room for another token.
	ErrRefreshStoreFull = errors.New("bearer: refresh store full")
)

// Family is one login: the refresh tokens that descend, by rotation, from
// the one issued at login.
type Family struct {
	// ID is the login id, the sid claim of the login's access tokens.
	ID string
	// Subject is the user the login belongs to.
	Subject string
	// CreatedAt is when the user logged in.
	CreatedAt time.Time
	// ExpiresAt is the absolute end of the login: no refresh token of the
	// family works from then on, however often it was rotated.
	ExpiresAt time.Time
}

// Rotation asks a RefreshStore to exchange a refresh token.
type Rotation struct {
	// Presented is the digest of the refresh token the client sent.
	Presented middleware.TokenDigest
	// Family and Subject are what the client's access token says: the
	// presented token must belong to this family, of this subject.
	Family  string
	Subject string
	// Next is the digest of the refresh token that replaces the presented
	// one. The zero digest asks for no rotation: the presented token is
	// only checked, and stays usable.
	Next middleware.TokenDigest
	// NextExpiresAt is when Next expires; the store caps it at the
	// family's ExpiresAt.
	NextExpiresAt time.Time
	// Now is the time of the request.
	Now time.Time
}

// RefreshStore keeps refresh-token families by token digest. Every method
// is atomic on its own, so that replicas sharing a store agree, and so that
// of two concurrent rotations of one token exactly one succeeds.
type RefreshStore interface {
	// Create stores a new family with its first refresh token, which
	// expires at firstExpiresAt (at the latest the family's ExpiresAt).
	// It may return ErrRefreshStoreFull.
	Create(ctx context.Context, f Family, first middleware.TokenDigest, firstExpiresAt time.Time) error
	// Rotate exchanges a refresh token, atomically:
	//   - unknown, expired, of an expired family, or of another family or
	//     subject than r names: ErrRefreshInvalid, nothing changes;
	//   - of a family revoked by a reuse: ErrRefreshReused, nothing changes;
	//   - already used: the whole family is revoked by the reuse (no token
	//     of it rotates any more; each is kept until it expires, so that
	//     presenting it is ErrRefreshReused again), ErrRefreshReused;
	//   - otherwise, with a non-zero r.Next, the presented token is marked
	//     used (kept until it expires, to detect its reuse) and r.Next is
	//     stored in the family; the family is returned.
	// The same r run again (same Next), after its answer was lost, answers
	// as its first run did rather than as a reuse: Service runs a rotation
	// again when the store's error may have come after the store did the
	// work (any error but ErrRefreshInvalid, ErrRefreshReused and
	// ErrRefreshStoreFull).
	Rotate(ctx context.Context, r Rotation) (Family, error)
	// RevokeFamily deletes a family and all its tokens, a family revoked by
	// a reuse included: its tokens are then ErrRefreshInvalid. An unknown
	// id is not an error.
	RevokeFamily(ctx context.Context, id string) error
	// RevokeSubject deletes every family of a subject.
	RevokeSubject(ctx context.Context, subject string) error
}

// DefaultRefreshEntries bounds a MemoryRefreshStore unless
// WithStoreMaxEntries says otherwise.
const DefaultRefreshEntries = 1_000_000

// MaxUsedRefreshTokens bounds the used refresh tokens a MemoryRefreshStore
// keeps per login to detect their reuse. A used token is kept until it
// expires (8 hours by default), so without a bound one client rotating
// again and again could fill the store for every user; past it, the
// oldest used token of the login is forgotten, and presenting it is then
// refused as unknown (401) instead of ending the login as a reuse. An
// attacker holding a token that old gains nothing by it either way; only
// the alarm is lost.
const MaxUsedRefreshTokens = 1_024

// MemoryRefreshStore is a RefreshStore for a single process. It is bounded
// by a number of tokens, used ones included (a family lives only as long as
// one of its tokens): when full it sweeps expired tokens and families, and
// if that is not enough refuses new tokens with ErrRefreshStoreFull rather
// than drop a live login.
type MemoryRefreshStore struct {
	withheld.Contents[MemoryRefreshStore] // prints as its name alone: no secret in a log

	cfg       storeConfig
	mu        sync.Mutex
	tokens    map[middleware.TokenDigest]*memToken
	families  map[string]*memFamily
	bySubject map[string]map[string]struct{}
	sweeps    sweep.Pacer
}

type memFamily struct {
	Family
	tokens map[middleware.TokenDigest]struct{}
	used   []middleware.TokenDigest // in the order they were used
	reused bool                     // revoked by a reuse
}

type memToken struct {
	family    *memFamily
	expiresAt time.Time
	used      bool
	next      middleware.TokenDigest // of a used token: its successor
}

// NewMemoryRefreshStore returns an empty store.
func NewMemoryRefreshStore(opts ...StoreOption) (*MemoryRefreshStore, error) {
	cfg, err := newStoreConfig(DefaultRefreshEntries, opts)
	if err != nil {
		return nil, err
	}
	return &MemoryRefreshStore{
		cfg:       cfg,
		tokens:    map[middleware.TokenDigest]*memToken{},
		families:  map[string]*memFamily{},
		bySubject: map[string]map[string]struct{}{},
	}, nil
}

// Create implements RefreshStore.
func (m *MemoryRefreshStore) Create(_ context.Context, f Family, first middleware.TokenDigest, firstExpiresAt time.Time) error {
	if m.tokens == nil {
		return notBuilt("MemoryRefreshStore")
	}
	if f.ID == "" || f.Subject == "" {
		return errors.New("bearer: family needs an id and a subject")
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, taken := m.families[f.ID]; taken {
		return errors.New("bearer: duplicate family id")
	}
	if _, taken := m.tokens[first]; taken {
		return errors.New("bearer: duplicate refresh token")
	}
	if err := m.makeRoom(m.cfg.now()); err != nil {
		return err
	}
	fam := &memFamily{Family: f, tokens: map[middleware.TokenDigest]struct{}{}}
	m.families[f.ID] = fam
	ids := m.bySubject[f.Subject]
	if ids == nil {
		ids = map[string]struct{}{}
		m.bySubject[f.Subject] = ids
	}
	ids[f.ID] = struct{}{}
	m.add(fam, first, firstExpiresAt)
	return nil
}

// Rotate implements RefreshStore.
func (m *MemoryRefreshStore) Rotate(_ context.Context, r Rotation) (Family, error) {
	if m.tokens == nil {
		return Family{}, notBuilt("MemoryRefreshStore")
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	tok := m.tokens[r.Presented]
	if tok == nil || tok.family.ID != r.Family || tok.family.Subject != r.Subject {
		return Family{}, ErrRefreshInvalid
	}
	fam := tok.family
	switch {
	case !r.Now.Before(fam.ExpiresAt):
		m.deleteFamily(fam)
		return Family{}, ErrRefreshInvalid
	case !r.Now.Before(tok.expiresAt):
		m.deleteToken(r.Presented, tok)
		return Family{}, ErrRefreshInvalid
	case fam.reused:
		return Family{}, ErrRefreshReused
	case tok.used && r.Next != (middleware.TokenDigest{}) && r.Next == tok.next:
		return fam.Family, nil // this very rotation, run again
	case tok.used:
		// The family stays, refusing every token as a reuse, so that the
		// caller is told again if it failed to revoke the login.
		fam.reused = true
		return Family{}, ErrRefreshReused
	}
	if r.Next == (middleware.TokenDigest{}) {
		return fam.Family, nil
	}
	if _, taken := m.tokens[r.Next]; taken {
		return Family{}, errors.New("bearer: duplicate refresh token")
	}
	// The rotation is decided at r.Now, so the sweep that makes room for
	// its token must not judge by a later clock: the store's own may have
	// passed the presented token's expiry since the request read r.Now, and
	// a sweep at that time deleted the token and its family while the next
	// token was still stored, in a family RevokeFamily and RevokeSubject
	// could no longer find.
	if err := m.makeRoom(earliest(m.cfg.now(), r.Now)); err != nil {
		return Family{}, err
	}
	tok.used, tok.next = true, r.Next
	m.add(fam, r.Next, r.NextExpiresAt)
	m.keepUsed(fam, r.Presented)
	return fam.Family, nil
}

// RevokeFamily implements RefreshStore.
func (m *MemoryRefreshStore) RevokeFamily(_ context.Context, id string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if fam := m.families[id]; fam != nil {
		m.deleteFamily(fam)
	}
	return nil
}

// RevokeSubject implements RefreshStore.
func (m *MemoryRefreshStore) RevokeSubject(_ context.Context, subject string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for id := range m.bySubject[subject] {
		m.deleteFamily(m.families[id])
	}
	return nil
}

// Len returns the number of tokens held, used and expired ones included.
func (m *MemoryRefreshStore) Len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.tokens)
}

// add stores a token in fam, expiring at the earlier of expiresAt and the
// family's end. The caller holds m.mu.
func (m *MemoryRefreshStore) add(fam *memFamily, d middleware.TokenDigest, expiresAt time.Time) {
	if fam.ExpiresAt.Before(expiresAt) {
		expiresAt = fam.ExpiresAt
	}
	m.tokens[d] = &memToken{family: fam, expiresAt: expiresAt}
	fam.tokens[d] = struct{}{}
}

// keepUsed records that d, a token of fam, was used, and forgets the
// family's oldest used token past MaxUsedRefreshTokens. The caller holds
// m.mu, and fam holds a live token besides.
func (m *MemoryRefreshStore) keepUsed(fam *memFamily, d middleware.TokenDigest) {
	fam.used = append(fam.used, d)
	for len(fam.used) > MaxUsedRefreshTokens {
		oldest := fam.used[0]
		fam.used = fam.used[1:]
		if tok := m.tokens[oldest]; tok != nil && tok.family == fam {
			m.deleteToken(oldest, tok)
		}
	}
}

// deleteToken forgets one token, and its family once it has no token left:
// such a family can never be used again.
func (m *MemoryRefreshStore) deleteToken(d middleware.TokenDigest, tok *memToken) {
	delete(m.tokens, d)
	delete(tok.family.tokens, d)
	if len(tok.family.tokens) == 0 {
		m.deleteFamily(tok.family)
	}
}

func (m *MemoryRefreshStore) deleteFamily(fam *memFamily) {
	for d := range fam.tokens {
		delete(m.tokens, d)
	}
	delete(m.families, fam.ID)
	if ids := m.bySubject[fam.Subject]; ids != nil {
		delete(ids, fam.ID)
		if len(ids) == 0 {
			delete(m.bySubject, fam.Subject)
		}
	}
}

// makeRoom sweeps what has expired at now after as many inserts as the
// last sweep left tokens, so sweeping costs O(1) per insert on average, and
// when the store is full, at most once a second (see sweep.Pacer). The
// caller holds m.mu.
func (m *MemoryRefreshStore) makeRoom(now time.Time) error {
	if m.sweeps.Due(len(m.tokens), m.cfg.maxEntries, now) {
		m.sweep(now)
	}
	if len(m.tokens) >= m.cfg.maxEntries {
		return ErrRefreshStoreFull
	}
	return nil
}

func (m *MemoryRefreshStore) sweep(now time.Time) {
	for _, fam := range m.families {
		if !now.Before(fam.ExpiresAt) {
			m.deleteFamily(fam)
		}
	}
	for d, tok := range m.tokens {
		if !now.Before(tok.expiresAt) {
			m.deleteToken(d, tok)
		}
	}
	m.sweeps.Swept(len(m.tokens))
}

// earliest returns the earlier of a and b.
func earliest(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

// notBuilt is the error of a method called on a value its constructor did
// not make (a zero value of typ): a 500, never a panic at request time.
func notBuilt(typ string) error {
	return middleware.Internal(typ + " not built by its constructor")
}
