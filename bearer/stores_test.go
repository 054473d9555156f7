package bearer_test

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/tidegate/tidegate/bearer"
	"github.com/tidegate/tidegate/middleware"
)

func digest(s string) middleware.TokenDigest { return middleware.DigestToken(s) }

func newRefreshStore(t *testing.T, c *clock, opts ...bearer.StoreOption) *bearer.MemoryRefreshStore {
	s, err := bearer.NewMemoryRefreshStore(append([]bearer.StoreOption{bearer.WithStoreClock(c.Now)}, opts...)...)
	require.NoError(t, err)
	return s
}

// family creates family id for subject with first token "<id>-0".
func family(t *testing.T, s bearer.RefreshStore, c *clock, id, subject string) bearer.Family {
	f := bearer.Family{ID: id, Subject: subject, CreatedAt: c.Now(), ExpiresAt: c.Now().Add(30 * 24 * time.Hour)}
	require.NoError(t, s.Create(context.Background(), f, digest(id+"-0"), c.Now().Add(8*time.Hour)))
	return f
}

func rotation(c *clock, fam, subject, presented, next string) bearer.Rotation {
	r := bearer.Rotation{Presented: digest(presented), Family: fam, Subject: subject, Now: c.Now()}
	if next != "" {
		r.Next, r.NextExpiresAt = digest(next), c.Now().Add(8*time.Hour)
	}
	return r
}

func TestMemoryRefreshStoreRotation(t *testing.T) {
	ctx := context.Background()
	c := newClock()
	s := newRefreshStore(t, c)
	want := family(t, s, c, "f", "u")

	got, err := s.Rotate(ctx, rotation(c, "f", "u", "f-0", "f-1"))
	require.NoError(t, err)
	assert.Equal(t, want, got)
	_, err = s.Rotate(ctx, rotation(c, "f", "u", "f-1", "f-2"))
	require.NoError(t, err, "the new token works")

	_, err = s.Rotate(ctx, rotation(c, "f", "u", "f-0", "f-x"))
	assert.ErrorIs(t, err, bearer.ErrRefreshReused)
	_, err = s.Rotate(ctx, rotation(c, "f", "u", "f-2", "f-3"))
	assert.ErrorIs(t, err, bearer.ErrRefreshReused, "reuse revoked the whole family, and is reported again")
	assert.Equal(t, 3, s.Len(), "its tokens are held until they expire")
}

func TestMemoryRefreshStoreRefusals(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name  string
		setup func(c *clock)
		r     func(c *clock) bearer.Rotation
	}{
		{"unknown token", nil, func(c *clock) bearer.Rotation { return rotation(c, "f", "u", "nope", "n") }},
		{"other family", nil, func(c *clock) bearer.Rotation { return rotation(c, "g", "u", "f-0", "n") }},
		{"other subject", nil, func(c *clock) bearer.Rotation { return rotation(c, "f", "v", "f-0", "n") }},
		{"expired token", func(c *clock) { c.Advance(8 * time.Hour) }, func(c *clock) bearer.Rotation { return rotation(c, "f", "u", "f-0", "n") }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := newClock()
			s := newRefreshStore(t, c)
			family(t, s, c, "f", "u")
			if tc.setup != nil {
				tc.setup(c)
			}
			_, err := s.Rotate(ctx, tc.r(c))
			assert.ErrorIs(t, err, bearer.ErrRefreshInvalid)
		})
	}
	t.Run("a mismatch changes nothing", func(t *testing.T) {
		c := newClock()
		s := newRefreshStore(t, c)
		family(t, s, c, "f", "u")
		_, err := s.Rotate(ctx, rotation(c, "g", "u", "f-0", "n"))
		require.ErrorIs(t, err, bearer.ErrRefreshInvalid)
		_, err = s.Rotate(ctx, rotation(c, "f", "u", "f-0", "n"))
		assert.NoError(t, err)
	})
}

func TestMemoryRefreshStoreFamilyLifetime(t *testing.T) {
	ctx := context.Background()
	c := newClock()
	s := newRefreshStore(t, c)
	f := bearer.Family{ID: "f", Subject: "u", CreatedAt: c.Now(), ExpiresAt: c.Now().Add(10 * time.Hour)}
	require.NoError(t, s.Create(ctx, f, digest("t0"), c.Now().Add(8*time.Hour)))
	c.Advance(7 * time.Hour)
	_, err := s.Rotate(ctx, rotation(c, "f", "u", "t0", "t1")) // asks for 8 hours, gets 3
	require.NoError(t, err)
	c.Advance(3 * time.Hour)
	_, err = s.Rotate(ctx, rotation(c, "f", "u", "t1", "t2"))
	assert.ErrorIs(t, err, bearer.ErrRefreshInvalid)
}

func TestMemoryRefreshStoreWithoutRotation(t *testing.T) {
	ctx := context.Background()
	c := newClock()
	s := newRefreshStore(t, c)
	family(t, s, c, "f", "u")
	for range 3 {
		_, err := s.Rotate(ctx, rotation(c, "f", "u", "f-0", ""))
		require.NoError(t, err, "a check without rotation does not use the token")
	}
}

func TestMemoryRefreshStoreRevocation(t *testing.T) {
	ctx := context.Background()
	c := newClock()
	s := newRefreshStore(t, c)
	family(t, s, c, "a", "u")
	family(t, s, c, "b", "u")
	family(t, s, c, "c", "v")
	require.NoError(t, s.RevokeFamily(ctx, "a"))
	require.NoError(t, s.RevokeFamily(ctx, "unknown"))
	_, err := s.Rotate(ctx, rotation(c, "a", "u", "a-0", "n"))
	assert.ErrorIs(t, err, bearer.ErrRefreshInvalid)
	require.NoError(t, s.RevokeSubject(ctx, "u"))
	_, err = s.Rotate(ctx, rotation(c, "b", "u", "b-0", "n"))
	assert.ErrorIs(t, err, bearer.ErrRefreshInvalid)
	_, err = s.Rotate(ctx, rotation(c, "c", "v", "c-0", "n"))
	assert.NoError(t, err, "another subject is untouched")
}

func TestMemoryRefreshStoreIsBounded(t *testing.T) {
	ctx := context.Background()
	c := newClock()
	s := newRefreshStore(t, c, bearer.WithStoreMaxEntries(3))
	family(t, s, c, "a", "u")
	family(t, s, c, "b", "u")
	_, err := s.Rotate(ctx, rotation(c, "a", "u", "a-0", "a-1")) // a-0 is kept, used
	require.NoError(t, err)
	err = s.Create(ctx, bearer.Family{ID: "c", Subject: "u", ExpiresAt: c.Now().Add(time.Hour)}, digest("c-0"), c.Now().Add(time.Hour))
	assert.ErrorIs(t, err, bearer.ErrRefreshStoreFull)
	_, err = s.Rotate(ctx, rotation(c, "b", "u", "b-0", "b-1"))
	assert.ErrorIs(t, err, bearer.ErrRefreshStoreFull)
	_, err = s.Rotate(ctx, rotation(c, "b", "u", "b-0", "b-1"))
	assert.ErrorIs(t, err, bearer.ErrRefreshStoreFull, "a refused rotation did not use the token")

	c.Advance(8 * time.Hour) // every token expired: the sweep makes room
	err = s.Create(ctx, bearer.Family{ID: "c", Subject: "u", ExpiresAt: c.Now().Add(time.Hour)}, digest("c-0"), c.Now().Add(time.Hour))
	assert.NoError(t, err)
	assert.Equal(t, 1, s.Len())
}

func TestMemoryRefreshStoreCreateValidates(t *testing.T) {
	ctx := context.Background()
	c := newClock()
	s := newRefreshStore(t, c)
	family(t, s, c, "f", "u")
	exp := c.Now().Add(time.Hour)
	assert.Error(t, s.Create(ctx, bearer.Family{ID: "f", Subject: "u", ExpiresAt: exp}, digest("x"), exp), "duplicate family")
	assert.Error(t, s.Create(ctx, bearer.Family{ID: "g", Subject: "u", ExpiresAt: exp}, digest("f-0"), exp), "duplicate token")
	assert.Error(t, s.Create(ctx, bearer.Family{Subject: "u", ExpiresAt: exp}, digest("y"), exp), "no id")
	assert.Error(t, s.Create(ctx, bearer.Family{ID: "h", ExpiresAt: exp}, digest("z"), exp), "no subject")
	_, err := bearer.NewMemoryRefreshStore(nil)
	assert.Error(t, err)
	_, err = bearer.NewMemoryRefreshStore(bearer.WithStoreMaxEntries(0))
	assert.Error(t, err)
	_, err = bearer.NewMemoryRefreshStore(bearer.WithStoreClock(nil))
	assert.Error(t, err)
}

func TestMemoryRefreshStoreConcurrentRotation(t *testing.T) {
	ctx := context.Background()
	c := newClock()
	s := newRefreshStore(t, c)
	family(t, s, c, "f", "u")
	const n = 32
	start := make(chan struct{})
	var (
		wg        sync.WaitGroup
		mu        sync.Mutex
		successes int
	)
	for i := range n {
		wg.Go(func() {
			<-start
			_, err := s.Rotate(ctx, rotation(c, "f", "u", "f-0", "next-"+string(rune('a'+i))))
			if err == nil {
				mu.Lock()
				successes++
				mu.Unlock()
			}
		})
	}
	close(start)
	wg.Wait()
	assert.Equal(t, 1, successes)
}

func newRevocationList(t *testing.T, c *clock, opts ...bearer.StoreOption) *bearer.MemoryRevocationList {
	l, err := bearer.NewMemoryRevocationList(append([]bearer.StoreOption{bearer.WithStoreClock(c.Now)}, opts...)...)
	require.NoError(t, err)
	return l
}

func TestMemoryRevocationList(t *testing.T) {
	ctx := context.Background()
	c := newClock()
	l := newRevocationList(t, c)
	tok := bearer.TokenRef{ID: "j1", Login: "s1", Subject: "u", IssuedAt: c.Now()}
	revoked := func(ref bearer.TokenRef) bool {
		r, err := l.Revoked(ctx, ref)
		require.NoError(t, err)
		return r
	}
	assert.False(t, revoked(tok))

	require.NoError(t, l.RevokeToken(ctx, "j1", c.Now().Add(time.Hour)))
	assert.True(t, revoked(tok))
	assert.False(t, revoked(bearer.TokenRef{ID: "j2", Login: "s1", Subject: "u", IssuedAt: c.Now()}))

	require.NoError(t, l.RevokeLogin(ctx, "s1", c.Now().Add(time.Hour)))
	assert.True(t, revoked(bearer.TokenRef{ID: "j3", Login: "s1", Subject: "u", IssuedAt: c.Now()}))
	assert.False(t, revoked(bearer.TokenRef{ID: "j3", Login: "s2", Subject: "u", IssuedAt: c.Now()}))
	assert.False(t, revoked(bearer.TokenRef{ID: "j3", Subject: "u", IssuedAt: c.Now()}), "a token without login")

	before := c.Now()
	require.NoError(t, l.RevokeSubject(ctx, "v", before, c.Now().Add(time.Hour)))
	assert.True(t, revoked(bearer.TokenRef{ID: "j4", Subject: "v", IssuedAt: before.Add(-time.Second)}))
	assert.False(t, revoked(bearer.TokenRef{ID: "j4", Subject: "v", IssuedAt: before}), "issued at before is not before it")
	require.NoError(t, l.RevokeSubject(ctx, "v", before.Add(-time.Hour), c.Now().Add(time.Minute)))
	assert.True(t, revoked(bearer.TokenRef{ID: "j4", Subject: "v", IssuedAt: before.Add(-time.Second)}), "an earlier revocation does not shorten it")

	assert.Error(t, l.RevokeToken(ctx, "", c.Now()))
	assert.Error(t, l.RevokeLogin(ctx, "", c.Now()))
	assert.Error(t, l.RevokeSubject(ctx, "", c.Now(), c.Now()))
}

func TestMemoryRevocationListIsBounded(t *testing.T) {
	ctx := context.Background()
	c := newClock()
	l := newRevocationList(t, c, bearer.WithStoreMaxEntries(2))
	require.NoError(t, l.RevokeToken(ctx, "a", c.Now().Add(time.Hour)))
	require.NoError(t, l.RevokeLogin(ctx, "b", c.Now().Add(2*time.Hour)))
	assert.ErrorIs(t, l.RevokeSubject(ctx, "c", c.Now(), c.Now().Add(time.Hour)), bearer.ErrRevocationListFull)
	assert.ErrorIs(t, l.RevokeToken(ctx, "d", c.Now().Add(time.Hour)), bearer.ErrRevocationListFull)
	require.NoError(t, l.RevokeToken(ctx, "a", c.Now().Add(3*time.Hour)), "extending an entry needs no room")

	r, err := l.Revoked(ctx, bearer.TokenRef{ID: "a"})
	require.NoError(t, err)
	assert.True(t, r, "a live entry is never dropped")

	c.Advance(2 * time.Hour) // "b" expired
	require.NoError(t, l.RevokeToken(ctx, "d", c.Now().Add(time.Hour)))
	assert.Equal(t, 2, l.Len())
}

// TestMemoryRefreshStoreRotationRacingItsSweep: Rotate judges the presented
// token as of the request's clock (r.Now), but the sweep that made room for
// the next token read the store's clock, a little later. When the presented
// token expired in between, the sweep deleted it and its family, and the
// rotation still stored the next token, in a family nobody could revoke
// any more: logout and a password change left it rotating. The sweep now
// judges as of r.Now too, so the rotation, decided then, stores an
// ordinary member of the family (as storetest's "decided at rotation now"
// requires of every store).
func TestMemoryRefreshStoreRotationRacingItsSweep(t *testing.T) {
	ctx := context.Background()
	storeNow := t0
	// A store of two tokens, full once it holds "a" and another login's
	// "z", which expires first: the rotation's insert sweeps, and finds
	// room.
	s, err := bearer.NewMemoryRefreshStore(bearer.WithStoreClock(func() time.Time { return storeNow }), bearer.WithStoreMaxEntries(2))
	require.NoError(t, err)
	expiry := t0.Add(8 * time.Hour)
	fam := bearer.Family{ID: "f", Subject: "u", CreatedAt: t0, ExpiresAt: t0.Add(30 * 24 * time.Hour)}
	require.NoError(t, s.Create(ctx, fam, digest("a"), expiry))
	other := bearer.Family{ID: "g", Subject: "v", CreatedAt: t0, ExpiresAt: fam.ExpiresAt}
	require.NoError(t, s.Create(ctx, other, digest("z"), t0.Add(time.Hour)))

	requestNow := expiry.Add(-time.Millisecond) // when the request read the clock
	storeNow = expiry.Add(time.Millisecond)     // when the sweep reads it
	_, err = s.Rotate(ctx, bearer.Rotation{Presented: digest("a"), Family: "f", Subject: "u",
		Next: digest("b"), NextExpiresAt: requestNow.Add(8 * time.Hour), Now: requestNow})
	require.NoError(t, err, "the presented token is live at r.Now")

	require.NoError(t, s.RevokeFamily(ctx, "f"))
	later := storeNow.Add(time.Minute)
	_, err = s.Rotate(ctx, bearer.Rotation{Presented: digest("b"), Family: "f", Subject: "u",
		Next: digest("c"), NextExpiresAt: later.Add(8 * time.Hour), Now: later})
	require.ErrorIs(t, err, bearer.ErrRefreshInvalid, "no token of a revoked login rotates")
}

// TestMemoryStoresSweepAsTheyGo: expired entries leave the in-memory stores
// within about as many inserts as were live at the last sweep, not only
// when a store is full. The sweep used to wait for more inserts than the
// current count, which grows with every insert too: after the first insert
// it never ran again until the store held its million entries.
func TestMemoryStoresSweepAsTheyGo(t *testing.T) {
	ctx := context.Background()
	t.Run("revocation list", func(t *testing.T) {
		c := newClock()
		l, err := bearer.NewMemoryRevocationList(bearer.WithStoreClock(c.Now))
		require.NoError(t, err)
		for i := range 100 {
			require.NoError(t, l.RevokeToken(ctx, fmt.Sprint("old-", i), c.Now().Add(time.Minute)))
		}
		c.Advance(time.Hour) // every entry above has expired
		for i := range 300 {
			require.NoError(t, l.RevokeToken(ctx, fmt.Sprint("new-", i), c.Now().Add(time.Minute)))
		}
		assert.Equal(t, 300, l.Len(), "the expired revocations were swept")
	})
	t.Run("refresh store", func(t *testing.T) {
		c := newClock()
		s, err := bearer.NewMemoryRefreshStore(bearer.WithStoreClock(c.Now))
		require.NoError(t, err)
		create := func(id string) {
			f := bearer.Family{ID: id, Subject: "u", CreatedAt: c.Now(), ExpiresAt: c.Now().Add(time.Hour)}
			require.NoError(t, s.Create(ctx, f, digest(id), c.Now().Add(time.Minute)))
		}
		for i := range 100 {
			create(fmt.Sprint("old-", i))
		}
		c.Advance(2 * time.Hour) // every login above has ended
		for i := range 300 {
			create(fmt.Sprint("new-", i))
		}
		assert.Equal(t, 300, s.Len(), "the ended logins were swept")
	})
}

// TestMemoryRefreshStoreKeepsABoundedNumberOfUsedTokensPerLogin: a review
// filled the store from one login by rotating its refresh token again and
// again (every used token is kept until it expires, to detect its reuse),
// and every other user's login then got 503. A login keeps its last
// MaxUsedRefreshTokens used tokens: reusing one of those still ends the
// login, an older one is merely unknown.
func TestMemoryRefreshStoreKeepsABoundedNumberOfUsedTokensPerLogin(t *testing.T) {
	ctx := context.Background()
	c := newClock()
	s := newRefreshStore(t, c)
	family(t, s, c, "f", "u")
	const rotations = bearer.MaxUsedRefreshTokens + 10
	for i := range rotations {
		_, err := s.Rotate(ctx, rotation(c, "f", "u", "f-"+strconv.Itoa(i), "f-"+strconv.Itoa(i+1)))
		require.NoError(t, err)
	}
	require.Equal(t, bearer.MaxUsedRefreshTokens+1, s.Len(), "the used tokens kept, and the live one")

	_, err := s.Rotate(ctx, rotation(c, "f", "u", "f-0", "x"))
	require.ErrorIs(t, err, bearer.ErrRefreshInvalid, "a token used too long ago is unknown")
	next := "f-" + strconv.Itoa(rotations+1)
	_, err = s.Rotate(ctx, rotation(c, "f", "u", "f-"+strconv.Itoa(rotations), next))
	require.NoError(t, err, "the login lives on")

	_, err = s.Rotate(ctx, rotation(c, "f", "u", "f-"+strconv.Itoa(rotations-5), "y"))
	require.ErrorIs(t, err, bearer.ErrRefreshReused, "a recently used token is still caught")
	_, err = s.Rotate(ctx, rotation(c, "f", "u", next, "z"))
	require.ErrorIs(t, err, bearer.ErrRefreshReused, "and its reuse ended the login")
}
