package redisstore_test

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tidegate/tidegate/bearer"
	"github.com/tidegate/tidegate/internal/redistest"
	"github.com/tidegate/tidegate/internal/storetest"
	"github.com/tidegate/tidegate/middleware"
	"github.com/tidegate/tidegate/redisstore"
)

func newRefreshStore(t *testing.T, c redis.UniversalClient, opts ...redisstore.Option) *redisstore.RefreshStore {
	t.Helper()
	s, err := redisstore.NewRefreshStore(c, opts...)
	require.NoError(t, err)
	return s
}

func newRevocationList(t *testing.T, c redis.UniversalClient, opts ...redisstore.Option) *redisstore.RevocationList {
	t.Helper()
	l, err := redisstore.NewRevocationList(c, opts...)
	require.NoError(t, err)
	return l
}

// requirePTTL checks that key's TTL is want, give or take what a test
// takes to run (the fake clock does not move Redis's).
// clockSlack is how long redisstore's keys outlive their data, so that
// replicas whose clocks disagree by up to it lose nothing (redisstore's
// clockSlack).
const clockSlack = time.Minute

func requirePTTL(t *testing.T, c *redis.Client, key string, want time.Duration, msg string) {
	t.Helper()
	got, err := c.PTTL(ctx, key).Result()
	require.NoError(t, err)
	assert.InDelta(t, want.Seconds(), got.Seconds(), 5, "%s: TTL of %s", msg, key)
}

func TestNewStoresValidate(t *testing.T) {
	tg := redistest.Shared(t)
	cluster := redis.NewClusterClient(&redis.ClusterOptions{Addrs: []string{tg.Addr}})
	t.Cleanup(func() { _ = cluster.Close() })
	constructors := map[string]func(redis.UniversalClient, ...redisstore.Option) error{
		"NewRefreshStore": func(c redis.UniversalClient, o ...redisstore.Option) error {
			_, err := redisstore.NewRefreshStore(c, o...)
			return err
		},
		"NewRevocationList": func(c redis.UniversalClient, o ...redisstore.Option) error {
			_, err := redisstore.NewRevocationList(c, o...)
			return err
		},
		"NewAppRegistry": func(c redis.UniversalClient, o ...redisstore.Option) error {
			_, err := redisstore.NewAppRegistry(c, o...)
			return err
		},
	}
	cases := []struct {
		name   string
		client redis.UniversalClient
		opts   []redisstore.Option
		want   string
	}{
		{"nil client", nil, nil, "nil client"},
		{"cluster", cluster, nil, "not supported"},
		{"nil option", tg.Client, []redisstore.Option{nil}, "nil option"},
		{"empty prefix", tg.Client, []redisstore.Option{redisstore.WithPrefix("")}, "prefix"},
		{"nil clock", tg.Client, []redisstore.Option{redisstore.WithClock(nil)}, "clock"},
		{"misplaced option", tg.Client, []redisstore.Option{redisstore.WithChannel("x")}, "WithChannel does not apply"},
		{"short idle TTL", tg.Client, []redisstore.Option{redisstore.WithAppIdleTTL(time.Second)}, "idle TTL"},
		{"no apps", tg.Client, []redisstore.Option{redisstore.WithMaxApps(0)}, "max apps"},
	}
	for _, tc := range cases {
		for name, construct := range constructors {
			t.Run(tc.name+"/"+name, func(t *testing.T) {
				require.ErrorContains(t, construct(tc.client, tc.opts...), tc.want)
			})
		}
	}
	for _, name := range []string{"NewRefreshStore", "NewRevocationList"} {
		require.ErrorContains(t, constructors[name](tg.Client, redisstore.WithMaxApps(3)), "WithMaxApps does not apply to "+name)
	}
	require.NoError(t, constructors["NewAppRegistry"](tg.Client, redisstore.WithMaxApps(3), redisstore.WithAppIdleTTL(time.Hour)))
}

// Two clients on one server are two replicas: of all the rotations of one
// refresh token, across both, exactly one wins, the first loser revokes
// the family, and both replicas then agree it is gone.
func TestReplicasRotateRefreshTokensAtomically(t *testing.T) {
	tg := redistest.Shared(t)
	clock := storetest.NewClock(storetest.Start)
	opts := []redisstore.Option{redisstore.WithPrefix(tg.Prefix), redisstore.WithClock(clock.Now)}
	replicas := []*redisstore.RefreshStore{
		newRefreshStore(t, tg.Client, opts...),
		newRefreshStore(t, redistest.NewClient(t, tg.Addr), opts...),
	}
	const racers = 8
	for round := range 20 {
		f := bearer.Family{ID: fmt.Sprint("fam-", round), Subject: "alice", CreatedAt: clock.Now(), ExpiresAt: clock.Now().Add(24 * time.Hour)}
		first := middleware.DigestToken(fmt.Sprint("first-", round))
		require.NoError(t, replicas[round%2].Create(ctx, f, first, clock.Now().Add(time.Hour)))
		errs := make([]error, racers)
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := range racers {
			wg.Go(func() {
				<-start
				_, errs[i] = replicas[i%2].Rotate(ctx, bearer.Rotation{
					Presented: first, Family: f.ID, Subject: f.Subject, Now: clock.Now(),
					Next: middleware.DigestToken(fmt.Sprint("next-", round, "-", i)), NextExpiresAt: clock.Now().Add(time.Hour),
				})
			})
		}
		close(start)
		wg.Wait()
		won, reused := -1, 0
		for i, err := range errs {
			switch {
			case err == nil:
				require.Equal(t, -1, won, "round %d: two rotations of one token succeeded", round)
				won = i
			case errors.Is(err, bearer.ErrRefreshReused):
				reused++
			default:
				require.ErrorIs(t, err, bearer.ErrRefreshInvalid)
			}
		}
		require.NotEqual(t, -1, won, "round %d: one rotation wins", round)
		require.Equal(t, racers-1, reused, "round %d: every loser is a reuse", round)
		for _, r := range replicas {
			_, err := r.Rotate(ctx, bearer.Rotation{
				Presented: middleware.DigestToken(fmt.Sprint("next-", round, "-", won)), Family: f.ID, Subject: f.Subject, Now: clock.Now(),
			})
			require.ErrorIs(t, err, bearer.ErrRefreshReused, "round %d: the family is revoked on every replica", round)
		}
	}
}

func TestRefreshKeyTTLs(t *testing.T) {
	tg := redistest.Shared(t)
	clock := storetest.NewClock(storetest.Start)
	s := newRefreshStore(t, tg.Client, redisstore.WithPrefix(tg.Prefix), redisstore.WithClock(clock.Now))
	tokKey := func(name string) string { return tg.Prefix + "refresh:token:" + middleware.DigestToken(name).String() }
	famKey, idxKey := tg.Prefix+"refresh:family:fam-1", tg.Prefix+"refresh:subject:alice"
	f := bearer.Family{ID: "fam-1", Subject: "alice", CreatedAt: clock.Now(), ExpiresAt: clock.Now().Add(24 * time.Hour)}
	require.NoError(t, s.Create(ctx, f, middleware.DigestToken("t0"), clock.Now().Add(time.Hour)))
	// Every key outlives what it holds by the clock slack: a replica whose
	// clock runs behind this one's must still find a used token, or its
	// reuse in the token's last seconds would go undetected.
	requirePTTL(t, tg.Client, tokKey("t0"), time.Hour+clockSlack, "a token lives until it expires, and the clock slack")
	requirePTTL(t, tg.Client, famKey, time.Hour+clockSlack, "a family lives as long as its longest token")
	requirePTTL(t, tg.Client, idxKey, time.Hour+clockSlack, "the index as long as its longest-lived family key")

	rotate := func(presented, next string, ttl time.Duration) {
		t.Helper()
		_, err := s.Rotate(ctx, bearer.Rotation{
			Presented: middleware.DigestToken(presented), Family: f.ID, Subject: f.Subject, Now: clock.Now(),
			Next: middleware.DigestToken(next), NextExpiresAt: clock.Now().Add(ttl),
		})
		require.NoError(t, err)
	}
	rotate("t0", "t1", 2*time.Hour)
	requirePTTL(t, tg.Client, tokKey("t0"), time.Hour+clockSlack, "a used token is kept until it expires and the slack, no longer")
	requirePTTL(t, tg.Client, tokKey("t1"), 2*time.Hour+clockSlack, "the next token")
	requirePTTL(t, tg.Client, famKey, 2*time.Hour+clockSlack, "a rotation extends the family to its longest token")
	requirePTTL(t, tg.Client, idxKey, 2*time.Hour+clockSlack, "and the index with it")
	rotate("t1", "t2", time.Minute)
	requirePTTL(t, tg.Client, famKey, 2*time.Hour+clockSlack, "a shorter token does not shorten the family")
	clock.Advance(time.Minute / 2)
	rotate("t2", "t3", 48*time.Hour)
	requirePTTL(t, tg.Client, tokKey("t3"), 24*time.Hour-time.Minute/2+clockSlack, "a token never outlives its family's ExpiresAt (and the slack)")
	requirePTTL(t, tg.Client, famKey, 24*time.Hour-time.Minute/2+clockSlack, "nor does the family")
	score := tg.Client.ZScore(ctx, idxKey, "fam-1").Val()
	assert.InDelta(t, float64(f.ExpiresAt.UnixMilli()), score, 1, "the index scores a family by its longest token")

	_, err := s.Rotate(ctx, bearer.Rotation{Presented: middleware.DigestToken("t0"), Family: f.ID, Subject: f.Subject, Now: clock.Now()})
	require.ErrorIs(t, err, bearer.ErrRefreshReused)
	assert.Equal(t, "1", tg.Client.HGet(ctx, famKey, "reused").Val(), "reuse marks the family")
	requirePTTL(t, tg.Client, famKey, 24*time.Hour-time.Minute/2+clockSlack, "which lives as long as its tokens, no longer")
	assert.NotZero(t, tg.Client.ZScore(ctx, idxKey, "fam-1").Val(), "and stays in the index, for RevokeSubject")
}

func TestRefreshSubjectIndexStaysBounded(t *testing.T) {
	tg := redistest.Shared(t)
	clock := storetest.NewClock(storetest.Start)
	s := newRefreshStore(t, tg.Client, redisstore.WithPrefix(tg.Prefix), redisstore.WithClock(clock.Now))
	idxKey := tg.Prefix + "refresh:subject:alice"
	// Logins that are never refreshed: long families, short tokens.
	for i := range 30 {
		f := bearer.Family{ID: fmt.Sprint("short-", i), Subject: "alice", ExpiresAt: clock.Now().Add(30 * 24 * time.Hour)}
		require.NoError(t, s.Create(ctx, f, middleware.DigestToken(f.ID), clock.Now().Add(time.Hour)))
	}
	long := bearer.Family{ID: "long", Subject: "alice", ExpiresAt: clock.Now().Add(30 * 24 * time.Hour)}
	require.NoError(t, s.Create(ctx, long, middleware.DigestToken("long-0"), clock.Now().Add(time.Hour)))
	require.EqualValues(t, 31, tg.Client.ZCard(ctx, idxKey).Val())
	clock.Advance(50 * time.Minute)
	_, err := s.Rotate(ctx, bearer.Rotation{Presented: middleware.DigestToken("long-0"), Family: "long", Subject: "alice",
		Now: clock.Now(), Next: middleware.DigestToken("long-1"), NextExpiresAt: clock.Now().Add(time.Hour)})
	require.NoError(t, err)
	clock.Advance(10*time.Minute + 2*time.Minute) // past the short tokens' expiry and the cleanup lag
	f := bearer.Family{ID: "new", Subject: "alice", ExpiresAt: clock.Now().Add(time.Hour)}
	require.NoError(t, s.Create(ctx, f, middleware.DigestToken("new"), clock.Now().Add(time.Hour)))
	members, err := tg.Client.ZRange(ctx, idxKey, 0, -1).Result()
	require.NoError(t, err)
	assert.ElementsMatch(t, []string{"long", "new"}, members,
		"families none of whose tokens is live leave the index on the next write; a rotated one stays")
	require.NoError(t, s.RevokeFamily(ctx, "new"))
	require.NoError(t, s.RevokeFamily(ctx, "long"))
	assert.Zero(t, tg.Client.Exists(ctx, idxKey).Val(), "RevokeFamily leaves the index")
}

func TestRefreshMalformedRecordFailsClosed(t *testing.T) {
	tg := redistest.Shared(t)
	s := newRefreshStore(t, tg.Client, redisstore.WithPrefix(tg.Prefix))
	now := time.Now()
	f := bearer.Family{ID: "fam-1", Subject: "alice", ExpiresAt: now.Add(time.Hour)}
	require.NoError(t, s.Create(ctx, f, middleware.DigestToken("t0"), now.Add(time.Hour)))
	require.NoError(t, tg.Client.HSet(ctx, tg.Prefix+"refresh:family:fam-1", "exp", "soon").Err())
	_, err := s.Rotate(ctx, bearer.Rotation{Presented: middleware.DigestToken("t0"), Family: f.ID, Subject: f.Subject, Now: now})
	require.Error(t, err)
	assert.NotErrorIs(t, err, bearer.ErrRefreshInvalid, "a damaged record is an error (503), never an answer")
	assert.False(t, strings.Contains(err.Error(), "t0"))
}

func TestRevocationKeyTTLs(t *testing.T) {
	tg := redistest.Shared(t)
	clock := storetest.NewClock(storetest.Start)
	l := newRevocationList(t, tg.Client, redisstore.WithPrefix(tg.Prefix), redisstore.WithClock(clock.Now))
	now := clock.Now()
	for name, revoke := range map[string]func(until time.Time) error{
		"token:jti-1": func(until time.Time) error { return l.RevokeToken(ctx, "jti-1", until) },
		"login:sid-1": func(until time.Time) error { return l.RevokeLogin(ctx, "sid-1", until) },
		"subject:alice": func(until time.Time) error {
			return l.RevokeSubject(ctx, "alice", now, until)
		},
	} {
		key := tg.Prefix + "revoked:" + name
		require.NoError(t, revoke(now.Add(time.Hour)))
		requirePTTL(t, tg.Client, key, time.Hour+clockSlack, "an entry lives until its until, and the clock slack")
		require.NoError(t, revoke(now.Add(time.Minute)))
		requirePTTL(t, tg.Client, key, time.Hour+clockSlack, "an earlier until does not shorten it")
		require.NoError(t, revoke(now.Add(2*time.Hour)))
		requirePTTL(t, tg.Client, key, 2*time.Hour+clockSlack, "a later until lengthens it")
	}
	// Within the slack an entry past its until on this clock is still
	// stored: another replica's clock may be behind this one.
	require.NoError(t, l.RevokeToken(ctx, "recent", now.Add(-time.Second)))
	requirePTTL(t, tg.Client, tg.Prefix+"revoked:token:recent", clockSlack-time.Second, "within the slack")
	require.NoError(t, l.RevokeToken(ctx, "past", now.Add(-clockSlack)))
	require.NoError(t, l.RevokeSubject(ctx, "bob", now, now.Add(-clockSlack-time.Second)))
	require.NoError(t, l.RevokeSubject(ctx, "carol", time.Time{}, now.Add(time.Hour)))
	assert.Zero(t, tg.Client.Exists(ctx, tg.Prefix+"revoked:token:past", tg.Prefix+"revoked:subject:bob", tg.Prefix+"revoked:subject:carol").Val(),
		"an entry that matches nothing live on any clock within the slack is not stored")

	require.Error(t, l.RevokeToken(ctx, "", now.Add(time.Hour)), "empty id")
	require.Error(t, l.RevokeLogin(ctx, "", now.Add(time.Hour)), "empty login")
	require.Error(t, l.RevokeSubject(ctx, "", now, now.Add(time.Hour)), "empty subject")
}

func TestRevocationMalformedEntryFailsClosed(t *testing.T) {
	tg := redistest.Shared(t)
	l := newRevocationList(t, tg.Client, redisstore.WithPrefix(tg.Prefix))
	require.NoError(t, tg.Client.Set(ctx, tg.Prefix+"revoked:subject:alice", "garbage", time.Hour).Err())
	_, err := l.Revoked(ctx, bearer.TokenRef{ID: "jti", Subject: "alice", IssuedAt: time.Now()})
	require.Error(t, err, "a damaged entry is an error (503), never a 'not revoked'")
}

// TestRevokingOverAWrongTypeKeyRevokes: a revocation written over a key of
// another type (foreign or damaged data) that outlives it replaces the key.
// It was left as it was: RevokeToken reported success, and Revoked, whose
// MGET reads a key of another type as no entry, answered "not revoked".
func TestRevokingOverAWrongTypeKeyRevokes(t *testing.T) {
	tg := redistest.Shared(t)
	l := newRevocationList(t, tg.Client, redisstore.WithPrefix(tg.Prefix))
	ref := bearer.TokenRef{ID: "jti-1", Subject: "alice", IssuedAt: time.Now().Add(-time.Minute)}
	key := tg.Prefix + "revoked:token:jti-1"
	require.NoError(t, tg.Client.HSet(ctx, key, "x", "1").Err())
	require.NoError(t, tg.Client.Expire(ctx, key, 24*time.Hour).Err())
	require.NoError(t, l.RevokeToken(ctx, "jti-1", time.Now().Add(time.Hour)))
	revoked, err := l.Revoked(ctx, ref)
	require.NoError(t, err)
	assert.True(t, revoked)
	ttl, err := tg.Client.PTTL(ctx, key).Result()
	require.NoError(t, err)
	assert.Greater(t, ttl, 23*time.Hour, "the longer TTL is kept")
}

// A revocation recorded through one replica is seen by the other at once.
func TestReplicasShareRevocations(t *testing.T) {
	tg := redistest.Shared(t)
	a := newRevocationList(t, tg.Client, redisstore.WithPrefix(tg.Prefix))
	b := newRevocationList(t, redistest.NewClient(t, tg.Addr), redisstore.WithPrefix(tg.Prefix))
	ref := bearer.TokenRef{ID: "jti-1", Login: "sid-1", Subject: "alice", IssuedAt: time.Now().Add(-time.Minute)}
	revoked, err := b.Revoked(ctx, ref)
	require.NoError(t, err)
	require.False(t, revoked)
	require.NoError(t, a.RevokeLogin(ctx, "sid-1", time.Now().Add(time.Hour)))
	revoked, err = b.Revoked(ctx, ref)
	require.NoError(t, err)
	require.True(t, revoked)
}
