package middleware_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/tidegate/tidegate/middleware"
)

type sessionFixture struct {
	store *middleware.MemorySessionStore
	clock *contractClock
}

func newSessionFixture(t *testing.T, opts ...middleware.StoreOption) *sessionFixture {
	t.Helper()
	clock := newContractClock()
	store, err := middleware.NewMemorySessionStore(append([]middleware.StoreOption{middleware.WithStoreClock(clock.Now)}, opts...)...)
	require.NoError(t, err)
	return &sessionFixture{store: store, clock: clock}
}

// session returns a user session of subject issued now and living for ttl.
func (f *sessionFixture) session(subject string, ttl time.Duration) middleware.Session {
	now := f.clock.Now()
	return middleware.Session{
		Subject: subject, Actor: middleware.ActorUser, App: "app1", Roles: []string{"user"},
		IssuedAt: now, ExpiresAt: now.Add(ttl), AbsoluteExpiresAt: now.Add(24 * time.Hour),
	}
}

func (f *sessionFixture) create(t *testing.T, subject string, ttl time.Duration) (middleware.TokenDigest, middleware.Session) {
	t.Helper()
	d := middleware.DigestToken(middleware.NewToken())
	s := f.session(subject, ttl)
	require.NoError(t, f.store.Create(context.Background(), d, s))
	return d, s
}

func (f *sessionFixture) live(d middleware.TokenDigest) bool {
	_, err := f.store.Lookup(context.Background(), d)
	return err == nil
}

func TestNewMemorySessionStoreValidates(t *testing.T) {
	for name, opt := range map[string]middleware.StoreOption{
		"nil option":   nil,
		"nil clock":    middleware.WithStoreClock(nil),
		"zero entries": middleware.WithStoreMaxEntries(0),
	} {
		t.Run(name, func(t *testing.T) {
			s, err := middleware.NewMemorySessionStore(opt)
			require.Error(t, err)
			assert.Nil(t, s)
		})
	}
}

func TestMemorySessionStoreCreateLookupExpiry(t *testing.T) {
	f := newSessionFixture(t)
	ctx := context.Background()
	d, want := f.create(t, "u1", time.Hour)

	got, err := f.store.Lookup(ctx, d)
	require.NoError(t, err)
	assert.Equal(t, want, got)

	_, err = f.store.Lookup(ctx, middleware.DigestToken("never issued"))
	require.ErrorIs(t, err, middleware.ErrSessionNotFound)

	f.clock.Advance(time.Hour - time.Nanosecond)
	assert.True(t, f.live(d), "live until ExpiresAt")
	f.clock.Advance(time.Nanosecond)
	_, err = f.store.Lookup(ctx, d)
	require.ErrorIs(t, err, middleware.ErrSessionNotFound, "expired at ExpiresAt")
	assert.Zero(t, f.store.Len(), "an expired session found by Lookup is dropped")

	t.Run("born expired", func(t *testing.T) {
		d := middleware.DigestToken("t")
		require.NoError(t, f.store.Create(ctx, d, f.session("u1", 0)))
		assert.False(t, f.live(d))
	})
}

func TestMemorySessionStoreReturnsCopies(t *testing.T) {
	f := newSessionFixture(t)
	ctx := context.Background()
	d := middleware.DigestToken("tok")
	in := f.session("u1", time.Hour)
	want := in
	want.Roles = []string{"user"}
	require.NoError(t, f.store.Create(ctx, d, in))
	in.Roles[0] = "admin" // the caller's slice is not kept

	got, err := f.store.Lookup(ctx, d)
	require.NoError(t, err)
	require.Equal(t, want, got)
	got.Roles[0] = "admin"
	got.Roles = append(got.Roles, "root")
	got.ExpiresAt = got.ExpiresAt.Add(time.Hour)

	again, err := f.store.Lookup(ctx, d)
	require.NoError(t, err)
	assert.Equal(t, want, again)
}

func TestMemorySessionStoreRotate(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name      string
		oldTTL    time.Duration
		grace     time.Duration // oldUntil = now + grace
		wantOldTo time.Duration // how long old lives after the rotation
	}{
		{"grace window", time.Hour, 30 * time.Second, 30 * time.Second},
		{"grace beyond the old expiry keeps the old expiry", time.Minute, time.Hour, time.Minute - time.Second},
		{"grace zero ends the old token now", time.Hour, 0, 0},
		{"oldUntil in the past ends it now", time.Hour, -time.Minute, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newSessionFixture(t)
			old, _ := f.create(t, "u1", tc.oldTTL)
			f.clock.Advance(time.Second)
			next := middleware.DigestToken("next")
			s := f.session("u1", 2*time.Hour)
			require.NoError(t, f.store.Rotate(ctx, old, f.clock.Now().Add(tc.grace), next, s))

			got, err := f.store.Lookup(ctx, next)
			require.NoError(t, err)
			assert.Equal(t, s, got)
			if tc.wantOldTo == 0 {
				assert.False(t, f.live(old))
			} else {
				oldSession, err := f.store.Lookup(ctx, old)
				require.NoError(t, err)
				assert.Equal(t, f.clock.Now().Add(tc.wantOldTo), oldSession.ExpiresAt)
				f.clock.Advance(tc.wantOldTo - time.Nanosecond)
				assert.True(t, f.live(old))
				f.clock.Advance(time.Nanosecond)
				assert.False(t, f.live(old))
			}
			assert.True(t, f.live(next))
		})
	}

	for _, tc := range []struct {
		name  string
		setup func(t *testing.T, f *sessionFixture) middleware.TokenDigest // returns the old digest
	}{
		{"unknown", func(*testing.T, *sessionFixture) middleware.TokenDigest { return middleware.DigestToken("unknown") }},
		{"expired", func(t *testing.T, f *sessionFixture) middleware.TokenDigest {
			d, _ := f.create(t, "u1", time.Minute)
			f.clock.Advance(time.Minute)
			return d
		}},
		{"revoked", func(t *testing.T, f *sessionFixture) middleware.TokenDigest {
			d, _ := f.create(t, "u1", time.Minute)
			require.NoError(t, f.store.Revoke(ctx, d))
			return d
		}},
		{"already rotated without grace", func(t *testing.T, f *sessionFixture) middleware.TokenDigest {
			d, _ := f.create(t, "u1", time.Minute)
			require.NoError(t, f.store.Rotate(ctx, d, f.clock.Now(), middleware.DigestToken("first"), f.session("u1", time.Hour)))
			return d
		}},
	} {
		t.Run("old "+tc.name, func(t *testing.T) {
			f := newSessionFixture(t)
			old := tc.setup(t, f)
			before := f.store.Len()
			next := middleware.DigestToken("next")
			err := f.store.Rotate(ctx, old, f.clock.Now().Add(time.Minute), next, f.session("u1", time.Hour))
			require.ErrorIs(t, err, middleware.ErrSessionNotFound)
			assert.False(t, f.live(next), "nothing created")
			assert.LessOrEqual(t, f.store.Len(), before)
		})
	}

	t.Run("store full", func(t *testing.T) {
		f := newSessionFixture(t, middleware.WithStoreMaxEntries(1))
		old, _ := f.create(t, "u1", time.Hour)
		next := middleware.DigestToken("next")
		err := f.store.Rotate(ctx, old, f.clock.Now(), next, f.session("u1", time.Hour))
		require.ErrorIs(t, err, middleware.ErrStoreFull)
		assert.False(t, f.live(next))
		got, err := f.store.Lookup(ctx, old)
		require.NoError(t, err, "a failed rotation changes nothing")
		assert.Equal(t, f.clock.Now().Add(time.Hour), got.ExpiresAt)
	})
}

func TestMemorySessionStoreRevoke(t *testing.T) {
	f := newSessionFixture(t)
	ctx := context.Background()
	a, _ := f.create(t, "u1", time.Hour)
	b, _ := f.create(t, "u1", time.Hour)
	c, _ := f.create(t, "u2", time.Hour)

	require.NoError(t, f.store.Revoke(ctx, a))
	assert.False(t, f.live(a))
	assert.True(t, f.live(b))
	assert.True(t, f.live(c))
	require.NoError(t, f.store.Revoke(ctx, a), "revoking twice is fine")
	require.NoError(t, f.store.Revoke(ctx, middleware.DigestToken("unknown")))
	assert.Equal(t, 2, f.store.Len())
}

func TestMemorySessionStoreRevokeSubject(t *testing.T) {
	f := newSessionFixture(t)
	ctx := context.Background()
	var mine []middleware.TokenDigest
	for range 3 {
		d, _ := f.create(t, "u1", time.Hour)
		mine = append(mine, d)
	}
	// A rotated-in session belongs to the subject too.
	rotated := middleware.DigestToken("rotated")
	require.NoError(t, f.store.Rotate(ctx, mine[0], f.clock.Now().Add(time.Minute), rotated, f.session("u1", time.Hour)))
	mine = append(mine, rotated)
	other, _ := f.create(t, "u2", time.Hour)
	prefix, _ := f.create(t, "u", time.Hour) // a prefix of u1 is another subject

	require.NoError(t, f.store.RevokeSubject(ctx, "u1"))
	for i, d := range mine {
		assert.False(t, f.live(d), "session %d of u1", i)
	}
	assert.True(t, f.live(other))
	assert.True(t, f.live(prefix))
	assert.Equal(t, 2, f.store.Len())
	require.NoError(t, f.store.RevokeSubject(ctx, "nobody"))

	// The subject can log in again, and be revoked again.
	again, _ := f.create(t, "u1", time.Hour)
	require.NoError(t, f.store.RevokeSubject(ctx, "u1"))
	assert.False(t, f.live(again))
	assert.True(t, f.live(other))
}

func TestMemorySessionStoreBound(t *testing.T) {
	ctx := context.Background()
	t.Run("full of live sessions refuses, evicts nothing", func(t *testing.T) {
		f := newSessionFixture(t, middleware.WithStoreMaxEntries(2))
		a, _ := f.create(t, "u1", time.Hour)
		b, _ := f.create(t, "u2", time.Hour)
		err := f.store.Create(ctx, middleware.DigestToken("third"), f.session("u3", time.Hour))
		require.ErrorIs(t, err, middleware.ErrStoreFull)
		assert.True(t, f.live(a))
		assert.True(t, f.live(b))
		assert.False(t, f.live(middleware.DigestToken("third")))
		assert.Equal(t, 2, f.store.Len())
	})
	t.Run("expired sessions are swept to make room", func(t *testing.T) {
		f := newSessionFixture(t, middleware.WithStoreMaxEntries(2))
		short, _ := f.create(t, "u1", time.Minute)
		long, _ := f.create(t, "u2", time.Hour)
		f.clock.Advance(time.Minute)
		third, _ := f.create(t, "u3", time.Hour)
		assert.True(t, f.live(long))
		assert.True(t, f.live(third))
		assert.False(t, f.live(short))
		assert.Equal(t, 2, f.store.Len())
		// Revoking makes room too.
		require.NoError(t, f.store.Revoke(ctx, long))
		f.create(t, "u4", time.Hour)
	})
	t.Run("expired sessions are swept before the store is full", func(t *testing.T) {
		// Sweeps are amortised over inserts; they must not wait until the
		// bound is reached, or a busy store would hold up to its bound in
		// dead sessions.
		f := newSessionFixture(t)
		for range 100 {
			f.create(t, "u1", time.Minute)
		}
		f.clock.Advance(time.Minute)
		for range 1000 {
			f.create(t, "u2", time.Hour)
		}
		assert.Equal(t, 1000, f.store.Len())
	})
}

func TestMemorySessionStoreDigestStoredAgain(t *testing.T) {
	// A digest created twice holds the second session, and the subject
	// index follows: the first subject's revocation must not delete the
	// second subject's session.
	f := newSessionFixture(t, middleware.WithStoreMaxEntries(1))
	ctx := context.Background()
	d := middleware.DigestToken("reused")
	require.NoError(t, f.store.Create(ctx, d, f.session("alice", time.Hour)))
	require.NoError(t, f.store.Create(ctx, d, f.session("bob", time.Hour)), "replacing does not need room")
	got, err := f.store.Lookup(ctx, d)
	require.NoError(t, err)
	assert.Equal(t, "bob", got.Subject)

	require.NoError(t, f.store.RevokeSubject(ctx, "alice"))
	assert.True(t, f.live(d))
	require.NoError(t, f.store.RevokeSubject(ctx, "bob"))
	assert.False(t, f.live(d))
	assert.Zero(t, f.store.Len())

	t.Run("rotate onto itself", func(t *testing.T) {
		require.NoError(t, f.store.Create(ctx, d, f.session("alice", time.Hour)))
		require.NoError(t, f.store.Rotate(ctx, d, f.clock.Now(), d, f.session("carol", 2*time.Hour)))
		got, err := f.store.Lookup(ctx, d)
		require.NoError(t, err)
		assert.Equal(t, "carol", got.Subject)
		require.NoError(t, f.store.RevokeSubject(ctx, "alice"))
		assert.True(t, f.live(d))
		require.NoError(t, f.store.RevokeSubject(ctx, "carol"))
		assert.Zero(t, f.store.Len())
	})
}

func TestMemorySessionStoreConcurrentRotateOfOneToken(t *testing.T) {
	// Many requests refresh the same token at once (a client retrying, or
	// an attacker replaying a stolen refresh). Within the grace window the
	// old token stays live, so every one of them succeeds and each gets
	// its own successor: the store does not single out one winner. With
	// no grace, exactly one succeeds. Either way the store stays
	// consistent: every successor is live and indexed under its subject.
	const racers = 16
	for _, tc := range []struct {
		name        string
		grace       time.Duration
		wantSuccess int
	}{
		{"with grace every rotation succeeds", 30 * time.Second, racers},
		{"without grace exactly one succeeds", 0, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newSessionFixture(t)
			ctx := context.Background()
			old, _ := f.create(t, "u1", time.Hour)
			oldUntil := f.clock.Now().Add(tc.grace)
			var (
				wg        sync.WaitGroup
				mu        sync.Mutex
				successes []middleware.TokenDigest
			)
			for i := range racers {
				wg.Go(func() {
					next := middleware.DigestToken(fmt.Sprintf("next-%d", i))
					err := f.store.Rotate(ctx, old, oldUntil, next, f.session("u1", time.Hour))
					if err == nil {
						mu.Lock()
						successes = append(successes, next)
						mu.Unlock()
						return
					}
					assert.ErrorIs(t, err, middleware.ErrSessionNotFound)
				})
			}
			wg.Wait()
			require.Len(t, successes, tc.wantSuccess)
			for _, d := range successes {
				assert.True(t, f.live(d))
			}
			if tc.grace > 0 {
				got, err := f.store.Lookup(ctx, old)
				require.NoError(t, err)
				assert.Equal(t, oldUntil, got.ExpiresAt)
			} else {
				assert.False(t, f.live(old))
			}
			require.NoError(t, f.store.RevokeSubject(ctx, "u1"))
			assert.Zero(t, f.store.Len(), "every successor was indexed under its subject")
		})
	}
}

func TestMemorySessionStoreConcurrentUse(t *testing.T) {
	f := newSessionFixture(t, middleware.WithStoreMaxEntries(500))
	ctx := context.Background()
	const workers, rounds = 8, 60
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			subject := fmt.Sprintf("u%d", w%3)
			for i := range rounds {
				d := middleware.DigestToken(fmt.Sprintf("w%d-%d", w, i))
				err := f.store.Create(ctx, d, f.session(subject, time.Duration(i%5)*time.Minute))
				if err != nil {
					assert.ErrorIs(t, err, middleware.ErrStoreFull)
					continue
				}
				_, err = f.store.Lookup(ctx, d)
				if err != nil {
					assert.ErrorIs(t, err, middleware.ErrSessionNotFound)
				}
				next := middleware.DigestToken(fmt.Sprintf("w%d-%d-next", w, i))
				err = f.store.Rotate(ctx, d, f.clock.Now().Add(time.Second), next, f.session(subject, time.Hour))
				if err != nil && !errors.Is(err, middleware.ErrSessionNotFound) {
					assert.ErrorIs(t, err, middleware.ErrStoreFull)
				}
				switch i % 10 {
				case 3:
					assert.NoError(t, f.store.Revoke(ctx, next))
				case 7:
					assert.NoError(t, f.store.RevokeSubject(ctx, subject))
				case 9:
					f.clock.Advance(time.Minute)
				}
				assert.LessOrEqual(t, f.store.Len(), 500)
			}
		})
	}
	wg.Wait()
	for _, s := range []string{"u0", "u1", "u2"} {
		require.NoError(t, f.store.RevokeSubject(ctx, s))
	}
	assert.Zero(t, f.store.Len(), "the subject index covers every stored session")
}

// TestFullStoreSweepsAtMostOnceASecond: a full store of live sessions frees
// nothing by sweeping, and sweeping it on every refused insert made each
// refused login walk the whole store under the lock every lookup needs. A
// full store now sweeps at most once a second (sweep.FullInterval) and
// refuses in between at once; what expired meanwhile is reclaimed at the
// next sweep.
func TestFullStoreSweepsAtMostOnceASecond(t *testing.T) {
	ctx := context.Background()
	f := newSessionFixture(t, middleware.WithStoreMaxEntries(4))
	f.create(t, "short", 500*time.Millisecond)
	for range 3 {
		f.create(t, "long", time.Hour)
	}
	insert := func() error {
		return f.store.Create(ctx, middleware.DigestToken(middleware.NewToken()), f.session("new", time.Hour))
	}
	require.ErrorIs(t, insert(), middleware.ErrStoreFull, "full of live sessions: swept, nothing freed")
	f.clock.Advance(600 * time.Millisecond)
	require.ErrorIs(t, insert(), middleware.ErrStoreFull, "swept 600 ms ago: refused without another sweep")
	require.Equal(t, 4, f.store.Len(), "the expired session is still held")
	f.clock.Advance(400 * time.Millisecond)
	require.NoError(t, insert(), "a second after the last sweep: swept again, the expired session reclaimed")
}

// TestOneSubjectHoldsAtMostMaxSessionsPerSubject: a review filled a store
// by refreshing one token again and again (each refresh in the grace window
// stores a new session) until every other user's login failed. One
// subject's sessions are now bounded: one more ends the subject's session
// that expires first, and no other subject's.
func TestOneSubjectHoldsAtMostMaxSessionsPerSubject(t *testing.T) {
	f := newSessionFixture(t, middleware.WithStoreMaxEntries(middleware.MaxSessionsPerSubject+10))
	other, _ := f.create(t, "ann", time.Hour)
	first, _ := f.create(t, "mary", 30*time.Second) // expires first
	for range middleware.MaxSessionsPerSubject - 1 {
		f.create(t, "mary", time.Hour)
	}
	require.Equal(t, middleware.MaxSessionsPerSubject+1, f.store.Len())
	for range 20 {
		f.create(t, "mary", time.Hour)
	}
	require.Equal(t, middleware.MaxSessionsPerSubject+1, f.store.Len(), "mary's sessions stay at the bound")
	require.False(t, f.live(first), "the session that expired first made room")
	require.True(t, f.live(other), "another subject's session is untouched")
	for range 9 {
		f.create(t, "ann", time.Hour)
	}
	require.Equal(t, middleware.MaxSessionsPerSubject+10, f.store.Len(), "the store's own bound still counts every subject")
}

// TestRotateAtTheSubjectCapKeepsTheOldSessionInGrace: when the session
// being rotated is the one of its subject that expires first, and the
// subject is at MaxSessionsPerSubject, making room for the new session
// must not end it: it keeps its grace window for requests in flight.
func TestRotateAtTheSubjectCapKeepsTheOldSessionInGrace(t *testing.T) {
	ctx := context.Background()
	f := newSessionFixture(t, middleware.WithStoreMaxEntries(2*middleware.MaxSessionsPerSubject))
	old, _ := f.create(t, "mary", 10*time.Minute) // expires first
	second, _ := f.create(t, "mary", 20*time.Minute)
	for range middleware.MaxSessionsPerSubject - 2 {
		f.create(t, "mary", time.Hour)
	}
	next := middleware.DigestToken(middleware.NewToken())
	s := f.session("mary", time.Hour)
	s.Predecessor = old
	require.NoError(t, f.store.Rotate(ctx, old, f.clock.Now().Add(30*time.Second), next, s))
	require.True(t, f.live(next))
	require.True(t, f.live(old), "the rotated session keeps its grace window")
	require.False(t, f.live(second), "the next to expire made room instead")
}
