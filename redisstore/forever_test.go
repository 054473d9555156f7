package redisstore_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tidegate/tidegate/bearer"
	"github.com/tidegate/tidegate/internal/redistest"
	"github.com/tidegate/tidegate/internal/storetest"
	"github.com/tidegate/tidegate/middleware"
	"github.com/tidegate/tidegate/redisstore"
)

// forever is an "until" a caller may pass for good: past the 292 years a
// time.Duration holds.
var forever = time.Date(9999, time.December, 31, 0, 0, 0, 0, time.UTC)

// TestRevocationsForEver: a revocation until the year 9999 is recorded, as
// bearer.MemoryRevocationList records it. until-now saturated, and adding
// the clock slack wrapped it to a negative TTL: nothing was stored, nil was
// returned, and the revoked token was accepted.
func TestRevocationsForEver(t *testing.T) {
	tg := redistest.Shared(t)
	l, err := redisstore.NewRevocationList(tg.Client, redisstore.WithPrefix(tg.Prefix))
	require.NoError(t, err)
	mem, err := bearer.NewMemoryRevocationList()
	require.NoError(t, err)
	now := time.Now()
	for name, list := range map[string]bearer.RevocationList{"memory": mem, "redis": l} {
		require.NoError(t, list.RevokeToken(ctx, "jti-1", forever), name)
		require.NoError(t, list.RevokeLogin(ctx, "sid-1", forever), name)
		require.NoError(t, list.RevokeSubject(ctx, "mallory", now, forever), name)
		for what, ref := range map[string]bearer.TokenRef{
			"token":   {ID: "jti-1"},
			"login":   {Login: "sid-1"},
			"subject": {Subject: "mallory", IssuedAt: now.Add(-time.Minute)},
		} {
			got, err := list.Revoked(ctx, ref)
			require.NoError(t, err)
			assert.True(t, got, "%s: %s revoked until the year 9999", name, what)
		}
	}
	ttl := tg.Client.PTTL(ctx, tg.Prefix+"revoked:token:jti-1").Val()
	assert.Greater(t, ttl, 99*365*24*time.Hour, "kept a century")
}

// TestSessionForEver: a session that ends in the year 9999 (a server
// token, say) is stored, as the in-memory store stores it. Its TTL
// overflowed, and Create reported success for a session it never stored.
func TestSessionForEver(t *testing.T) {
	tg := redistest.Shared(t)
	s, err := redisstore.NewSessionStore(tg.Client, redisstore.WithPrefix(tg.Prefix))
	require.NoError(t, err)
	mem, err := middleware.NewMemorySessionStore()
	require.NoError(t, err)
	sess := middleware.Session{Subject: "svc", Actor: middleware.ActorServer, IssuedAt: time.Now(), ExpiresAt: forever}
	d := middleware.DigestToken("server-token")
	for name, store := range map[string]middleware.SessionStore{"memory": mem, "redis": s} {
		require.NoError(t, store.Create(ctx, d, sess), name)
		got, err := store.Lookup(ctx, d)
		require.NoError(t, err, "%s: a session Create accepted is found", name)
		assert.True(t, got.ExpiresAt.Equal(forever), name)
	}
}

// TestRefreshedSessionsLeaveTheIndex: a session refreshed with a grace
// period leaves its subject's index one cleanup bound after its grace ends,
// as the package documentation says of every dead member. It kept its
// former score, so each refresh left a dead member for a whole token
// lifetime: a user refreshing in a loop grew the index without bound, and
// RevokeSubject walked every member.
func TestRefreshedSessionsLeaveTheIndex(t *testing.T) {
	tg := redistest.Shared(t)
	clock := storetest.NewClock(storetest.Start)
	s, err := redisstore.NewSessionStore(tg.Client, redisstore.WithPrefix(tg.Prefix), redisstore.WithClock(clock.Now))
	require.NoError(t, err)
	const lifetime, grace, refreshes = time.Hour, 30 * time.Second, 50
	sess := func() middleware.Session {
		now := clock.Now()
		return middleware.Session{Subject: "alice", Actor: middleware.ActorUser, IssuedAt: now, ExpiresAt: now.Add(lifetime)}
	}
	cur := middleware.DigestToken("tok-0")
	require.NoError(t, s.Create(ctx, cur, sess()))
	for i := 1; i <= refreshes; i++ {
		next := middleware.DigestToken(fmt.Sprint("tok-", i))
		require.NoError(t, s.Rotate(ctx, cur, clock.Now().Add(grace), next, sess()))
		cur = next
	}
	idx := tg.Prefix + "subject:alice"
	require.EqualValues(t, refreshes+1, tg.Client.ZCard(ctx, idx).Val(), "within the grace period every token is live")
	clock.Advance(grace + 2*time.Minute) // past the grace and the index's cleanup lag
	require.NoError(t, s.Create(ctx, middleware.DigestToken("another-login"), sess()))
	assert.EqualValues(t, 2, tg.Client.ZCard(ctx, idx).Val(),
		"the index holds the live sessions only: the last token and the other login")
}
