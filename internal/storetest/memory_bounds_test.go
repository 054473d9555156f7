package storetest_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tidegate/tidegate/basicauth"
	"github.com/tidegate/tidegate/bearer"
	"github.com/tidegate/tidegate/internal/storetest"
	"github.com/tidegate/tidegate/middleware"
)

// The in-memory stores' bounds are theirs alone (a Redis store is bounded by
// its keys' TTLs instead), so they are tested here rather than in the suite.

var ctx = context.Background()

func TestMemoryRefreshStoreBound(t *testing.T) {
	c := storetest.NewClock(storetest.Start)
	s, err := bearer.NewMemoryRefreshStore(bearer.WithStoreClock(c.Now), bearer.WithStoreMaxEntries(3))
	require.NoError(t, err)
	fam := func(id string) bearer.Family {
		return bearer.Family{ID: id, Subject: "alice", CreatedAt: c.Now(), ExpiresAt: c.Now().Add(24 * time.Hour)}
	}
	d := func(name string) middleware.TokenDigest { return middleware.DigestToken(name) }
	require.NoError(t, s.Create(ctx, fam("a"), d("a0"), c.Now().Add(time.Minute)))
	require.NoError(t, s.Create(ctx, fam("b"), d("b0"), c.Now().Add(time.Hour)))
	rot := bearer.Rotation{Presented: d("b0"), Family: "b", Subject: "alice", Next: d("b1"), NextExpiresAt: c.Now().Add(time.Hour), Now: c.Now()}
	_, err = s.Rotate(ctx, rot)
	require.NoError(t, err)
	assert.Equal(t, 3, s.Len(), "used tokens count")

	require.ErrorIs(t, s.Create(ctx, fam("c"), d("c0"), c.Now().Add(time.Hour)), bearer.ErrRefreshStoreFull)
	rot = bearer.Rotation{Presented: d("b1"), Family: "b", Subject: "alice", Next: d("b2"), NextExpiresAt: c.Now().Add(time.Hour), Now: c.Now()}
	_, err = s.Rotate(ctx, rot)
	require.ErrorIs(t, err, bearer.ErrRefreshStoreFull, "a rotation needs room too")
	rot.Next = middleware.TokenDigest{}
	_, err = s.Rotate(ctx, rot)
	require.NoError(t, err, "a full store did not use the token up, and checks need no room")

	c.Advance(time.Minute) // a0 expires: its family has no token left
	require.NoError(t, s.Create(ctx, fam("c"), d("c0"), c.Now().Add(time.Hour)), "a sweep makes room")
	assert.Equal(t, 3, s.Len(), "a0 and its family are gone; b0 (used), b1 and c0 are kept")
}

func TestMemoryRevocationListBound(t *testing.T) {
	c := storetest.NewClock(storetest.Start)
	l, err := bearer.NewMemoryRevocationList(bearer.WithStoreClock(c.Now), bearer.WithStoreMaxEntries(3))
	require.NoError(t, err)
	require.NoError(t, l.RevokeToken(ctx, "t", c.Now().Add(time.Minute)))
	require.NoError(t, l.RevokeLogin(ctx, "l", c.Now().Add(time.Hour)))
	require.NoError(t, l.RevokeSubject(ctx, "s", c.Now(), c.Now().Add(time.Hour)))
	require.ErrorIs(t, l.RevokeToken(ctx, "t2", c.Now().Add(time.Hour)), bearer.ErrRevocationListFull)
	require.ErrorIs(t, l.RevokeLogin(ctx, "l2", c.Now().Add(time.Hour)), bearer.ErrRevocationListFull)
	require.ErrorIs(t, l.RevokeSubject(ctx, "s2", c.Now(), c.Now().Add(time.Hour)), bearer.ErrRevocationListFull)
	require.NoError(t, l.RevokeToken(ctx, "t", c.Now().Add(2*time.Minute)), "extending an entry needs no room")
	for _, ref := range []bearer.TokenRef{{ID: "t"}, {Login: "l"}, {Subject: "s"}} {
		revoked, err := l.Revoked(ctx, ref)
		require.NoError(t, err)
		assert.True(t, revoked, "a full list drops no live entry: %+v", ref)
	}
	c.Advance(2 * time.Minute) // t's until has passed
	require.NoError(t, l.RevokeToken(ctx, "t2", c.Now().Add(time.Hour)), "a sweep makes room")
	assert.Equal(t, 3, l.Len())
}

func TestMemoryRegistryBound(t *testing.T) {
	r, err := basicauth.NewMemoryRegistry()
	require.NoError(t, err)
	spec := func(i int) basicauth.AppSpec {
		return basicauth.AppSpec{ID: fmt.Sprint(i), AppToken: fmt.Sprintf("%032x", i), BackendToken: fmt.Sprintf("f%043x", i)}
	}
	for i := range basicauth.MaxMemoryApps {
		require.NoError(t, r.Register(ctx, spec(i)))
	}
	require.ErrorIs(t, r.Register(ctx, spec(basicauth.MaxMemoryApps)), basicauth.ErrRegistryFull)
	require.NoError(t, r.Revoke(ctx, "0"))
	require.NoError(t, r.Register(ctx, spec(basicauth.MaxMemoryApps)), "revoking makes room")
}
