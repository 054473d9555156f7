package redisstore_test

import (
	"context"
	"encoding/hex"
	"fmt"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tidegate/tidegate/basicauth"
	"github.com/tidegate/tidegate/bearer"
	"github.com/tidegate/tidegate/internal/redistest"
	"github.com/tidegate/tidegate/internal/storetest"
	"github.com/tidegate/tidegate/middleware"
	"github.com/tidegate/tidegate/redisstore"
)

var ctx = context.Background()

func newStore(t *testing.T, c redis.UniversalClient, opts ...redisstore.Option) *redisstore.SessionStore {
	t.Helper()
	s, err := redisstore.NewSessionStore(c, opts...)
	require.NoError(t, err)
	return s
}

func newLimiter(t *testing.T, c redis.UniversalClient, p middleware.LimiterPolicy, opts ...redisstore.Option) *redisstore.LoginLimiter {
	t.Helper()
	l, err := redisstore.NewLoginLimiter(c, p, opts...)
	require.NoError(t, err)
	return l
}

func session(subject string, now time.Time, ttl time.Duration) middleware.Session {
	return middleware.Session{Subject: subject, Actor: middleware.ActorUser, Roles: []string{"r"}, IssuedAt: now, ExpiresAt: now.Add(ttl)}
}

func TestConstructorsValidate(t *testing.T) {
	tg := redistest.Shared(t)
	cluster := redis.NewClusterClient(&redis.ClusterOptions{Addrs: []string{tg.Addr}})
	t.Cleanup(func() { _ = cluster.Close() })
	var nilClient *redis.Client
	cases := []struct {
		name   string
		client redis.UniversalClient
		opts   []redisstore.Option
		want   string
	}{
		{"nil client", nil, nil, "nil client"},
		{"typed nil client", nilClient, nil, "nil client"},
		{"cluster", cluster, nil, "not supported"},
		{"nil option", tg.Client, []redisstore.Option{nil}, "nil option"},
		{"empty prefix", tg.Client, []redisstore.Option{redisstore.WithPrefix("")}, "prefix"},
		{"long prefix", tg.Client, []redisstore.Option{redisstore.WithPrefix(strings.Repeat("p", 129))}, "prefix"},
		{"nil clock", tg.Client, []redisstore.Option{redisstore.WithClock(nil)}, "clock"},
		{"misplaced option", tg.Client, []redisstore.Option{redisstore.WithFallbackTTL(time.Second)}, "WithFallbackTTL does not apply"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := redisstore.NewSessionStore(tc.client, tc.opts...)
			require.ErrorContains(t, err, tc.want)
			_, err = redisstore.NewLoginLimiter(tc.client, middleware.LimiterPolicy{}, tc.opts...)
			require.Error(t, err)
		})
	}
	_, err := redisstore.NewLoginLimiter(tg.Client, middleware.LimiterPolicy{Window: -1})
	require.ErrorContains(t, err, "negative")
}

// workload exercises every write path of the stores.
func workload(t *testing.T, s *redisstore.SessionStore, l *redisstore.LoginLimiter, now time.Time, tokens []string) {
	t.Helper()
	for i, tok := range tokens {
		require.NoError(t, s.Create(ctx, middleware.DigestToken(tok), session(fmt.Sprint("user", i%3), now, time.Duration(i+1)*time.Minute)))
	}
	require.NoError(t, s.Rotate(ctx, middleware.DigestToken(tokens[0]), now.Add(time.Second), middleware.DigestToken("rotated-"+tokens[0]), session("user0", now, time.Hour)))
	require.NoError(t, s.Rotate(ctx, middleware.DigestToken(tokens[1]), now, middleware.DigestToken("rotated-"+tokens[1]), session("user1", now, time.Hour)))
	require.NoError(t, s.Revoke(ctx, middleware.DigestToken(tokens[2])))
	require.NoError(t, s.RevokeSubject(ctx, "user2"))
	for i := range 5 {
		_, err := l.Attempt(ctx, fmt.Sprint("alice@example.com", i%2), netip.MustParseAddr("198.51.100.7"))
		require.NoError(t, err)
	}
	require.NoError(t, l.Succeeded(ctx, "alice@example.com0", netip.MustParseAddr("198.51.100.7")))
}

// bearerWorkload exercises every write path of the refresh store and the
// revocation list, and returns the refresh tokens it used.
func bearerWorkload(t *testing.T, s *redisstore.RefreshStore, l *redisstore.RevocationList, now time.Time) []string {
	t.Helper()
	tokens := []string{middleware.NewToken(), middleware.NewToken(), middleware.NewToken(), middleware.NewToken()}
	family := func(id, subject string) bearer.Family {
		return bearer.Family{ID: id, Subject: subject, CreatedAt: now, ExpiresAt: now.Add(24 * time.Hour)}
	}
	rotate := func(f bearer.Family, presented, next string) error {
		r := bearer.Rotation{Presented: middleware.DigestToken(presented), Family: f.ID, Subject: f.Subject, Now: now}
		if next != "" {
			r.Next, r.NextExpiresAt = middleware.DigestToken(next), now.Add(time.Hour)
		}
		_, err := s.Rotate(ctx, r)
		return err
	}
	f1, f2, f3 := family("f1", "u-1001"), family("f2", "u-1001"), family("f3", "bob")
	require.NoError(t, s.Create(ctx, f1, middleware.DigestToken(tokens[0]), now.Add(time.Hour)))
	require.NoError(t, rotate(f1, tokens[0], tokens[1]))
	require.ErrorIs(t, rotate(f1, tokens[0], ""), bearer.ErrRefreshReused)
	require.NoError(t, s.Create(ctx, f2, middleware.DigestToken(tokens[2]), now.Add(time.Hour)))
	require.NoError(t, s.Create(ctx, f3, middleware.DigestToken(tokens[3]), now.Add(time.Hour)))
	require.NoError(t, s.RevokeFamily(ctx, "f3"))
	require.NoError(t, s.RevokeSubject(ctx, "nobody"))

	require.NoError(t, l.RevokeToken(ctx, "jti-1", now.Add(time.Hour)))
	require.NoError(t, l.RevokeToken(ctx, "jti-1", now.Add(2*time.Hour)))
	require.NoError(t, l.RevokeLogin(ctx, "sid-1", now.Add(time.Hour)))
	require.NoError(t, l.RevokeSubject(ctx, "u-1001", now, now.Add(time.Hour)))
	require.NoError(t, l.RevokeToken(ctx, "jti-past", now.Add(-time.Hour)))
	return tokens
}

// registryWorkload exercises every write path of the app registry, and
// returns the app tokens it used.
func registryWorkload(t *testing.T, r *redisstore.AppRegistry) []string {
	t.Helper()
	one, two := basicauth.NewAppTokens(), basicauth.NewAppTokens()
	require.NoError(t, r.Register(ctx, basicauth.AppSpec{ID: "one", AppToken: one.AppToken, BackendToken: one.BackendToken}))
	require.NoError(t, r.Register(ctx, basicauth.AppSpec{ID: "two", AppToken: two.AppToken, BackendToken: two.BackendToken}))
	rotated := basicauth.NewAppTokens().AppToken
	require.NoError(t, r.Rotate(ctx, "one", basicauth.AppToken, middleware.DigestToken(rotated)))
	_, err := r.Lookup(ctx, basicauth.BackendToken, middleware.DigestToken(one.BackendToken))
	require.NoError(t, err)
	require.NoError(t, r.Revoke(ctx, "two"))
	return []string{one.AppToken, one.BackendToken, two.AppToken, two.BackendToken, rotated}
}

func TestEveryKeyHasTTLPrefixAndNoSecret(t *testing.T) {
	srv := redistest.Start(t) // a private server: every key on it is ours
	client := redistest.NewClient(t, srv.Addr())
	const prefix = "app1:"
	tokens := []string{middleware.NewToken(), middleware.NewToken(), middleware.NewToken(), middleware.NewToken(), middleware.NewToken(), middleware.NewToken()}
	s := newStore(t, client, redisstore.WithPrefix(prefix))
	l := newLimiter(t, client, middleware.LimiterPolicy{}, redisstore.WithPrefix(prefix))
	workload(t, s, l, time.Now(), tokens)
	refresh := newRefreshStore(t, client, redisstore.WithPrefix(prefix))
	revocations := newRevocationList(t, client, redisstore.WithPrefix(prefix))
	tokens = append(tokens, bearerWorkload(t, refresh, revocations, time.Now())...)
	tokens = append(tokens, registryWorkload(t, newRegistry(t, client, redisstore.WithPrefix(prefix)))...)

	keys, err := client.Keys(ctx, "*").Result()
	require.NoError(t, err)
	require.NotEmpty(t, keys)
	kinds := map[string]int{}
	for _, key := range keys {
		require.True(t, strings.HasPrefix(key, prefix), "key %q outside the prefix", key)
		ttl, err := client.PTTL(ctx, key).Result()
		require.NoError(t, err)
		assert.Positive(t, ttl, "key %q has no TTL", key)
		kinds[kindOf(strings.TrimPrefix(key, prefix))]++
		dump, err := client.Dump(ctx, key).Result()
		require.NoError(t, err)
		for _, secret := range append(tokens, "alice", "198.51.100") {
			assert.NotContains(t, key+dump, secret, "key %q holds a secret or a login name", key)
		}
	}
	// Sessions: 6 created, 2 rotated in, 1 rotated out at once, 1 revoked,
	// 1 more revoked with user2. Indexes: user0's and user1's. Counters: 1
	// address and 2 accounts, one of them cleared by Succeeded.
	// Refresh: 4 tokens (those of revoked families expire by their TTLs),
	// f2's family and f1's, marked reused, u-1001's index (bob's emptied
	// with f3). Revoked: a token,
	// a login, a subject; none for an until already past. Apps: one's
	// record and two tokens, and the index; two is revoked.
	assert.Equal(t, map[string]int{
		"session": 5, "subject": 2, "limit": 2,
		"refresh:token": 4, "refresh:family": 2, "refresh:subject": 1,
		"revoked:token": 1, "revoked:login": 1, "revoked:subject": 1,
		"appreg:id": 1, "appreg:app": 1, "appreg:backend": 1, "appreg:ids": 1,
	}, kinds, "%v", keys)
}

// kindOf names a key by its first segment, and its second for the stores
// whose first names only the store.
func kindOf(key string) string {
	parts := strings.SplitN(key, ":", 3)
	switch parts[0] {
	case "refresh", "revoked", "appreg":
		return parts[0] + ":" + parts[1]
	}
	return parts[0]
}

func TestPrefixesAreIsolated(t *testing.T) {
	tg := redistest.Shared(t)
	a := newStore(t, tg.Client, redisstore.WithPrefix(tg.Prefix+"a:"))
	b := newStore(t, tg.Client, redisstore.WithPrefix(tg.Prefix+"b:"))
	d := middleware.DigestToken("shared-token")
	require.NoError(t, a.Create(ctx, d, session("alice", time.Now(), time.Hour)))
	_, err := b.Lookup(ctx, d)
	require.ErrorIs(t, err, middleware.ErrSessionNotFound)
	require.NoError(t, b.RevokeSubject(ctx, "alice"))
	_, err = a.Lookup(ctx, d)
	require.NoError(t, err)

	p := middleware.LimiterPolicy{AccountAttempts: 1}
	la := newLimiter(t, tg.Client, p, redisstore.WithPrefix(tg.Prefix+"a:"))
	lb := newLimiter(t, tg.Client, p, redisstore.WithPrefix(tg.Prefix+"b:"))
	addr := netip.MustParseAddr("192.0.2.1")
	for _, l := range []*redisstore.LoginLimiter{la, lb} {
		wait, err := l.Attempt(ctx, "alice", addr)
		require.NoError(t, err)
		require.Zero(t, wait, "each prefix counts on its own")
	}
}

// Two clients on one server are two replicas.
func TestReplicasRotateAtomically(t *testing.T) {
	tg := redistest.Shared(t)
	clock := storetest.NewClock(storetest.Start)
	opts := []redisstore.Option{redisstore.WithPrefix(tg.Prefix), redisstore.WithClock(clock.Now)}
	replicas := []*redisstore.SessionStore{
		newStore(t, tg.Client, opts...),
		newStore(t, redistest.NewClient(t, tg.Addr), opts...),
	}
	for round := range 20 {
		old := middleware.DigestToken(fmt.Sprint("old", round))
		require.NoError(t, replicas[round%2].Create(ctx, old, session("alice", clock.Now(), time.Hour)))
		var wins sync.Map
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := range 8 {
			wg.Go(func() {
				<-start
				next := middleware.DigestToken(fmt.Sprint("next", round, "-", i))
				err := replicas[i%2].Rotate(ctx, old, clock.Now(), next, session("alice", clock.Now(), time.Hour))
				if err == nil {
					wins.Store(i, next)
				} else if !assert.ErrorIs(t, err, middleware.ErrSessionNotFound) {
					return
				}
			})
		}
		close(start)
		wg.Wait()
		n := 0
		wins.Range(func(_, next any) bool {
			n++
			for _, r := range replicas {
				_, err := r.Lookup(ctx, next.(middleware.TokenDigest))
				assert.NoError(t, err, "the winner's token works on both replicas")
			}
			return true
		})
		require.Equal(t, 1, n, "round %d: exactly one rotation of the same token wins across replicas", round)
	}
}

func TestReplicasNeverLoseAnIncrement(t *testing.T) {
	tg := redistest.Shared(t)
	const workers, each = 8, 25
	p := middleware.LimiterPolicy{AccountAttempts: workers * each, AddressAttempts: 1 << 20, Window: time.Hour}
	replicas := []*redisstore.LoginLimiter{
		newLimiter(t, tg.Client, p, redisstore.WithPrefix(tg.Prefix)),
		newLimiter(t, redistest.NewClient(t, tg.Addr), p, redisstore.WithPrefix(tg.Prefix)),
	}
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := range each {
				addr := netip.AddrFrom4([4]byte{10, 0, byte(w), byte(i)})
				wait, err := replicas[(w+i)%2].Attempt(ctx, "alice", addr)
				assert.NoError(t, err)
				assert.Zero(t, wait)
			}
		})
	}
	wg.Wait()
	for _, r := range replicas {
		wait, err := r.Attempt(ctx, "alice", netip.MustParseAddr("10.9.9.9"))
		require.NoError(t, err)
		assert.Positive(t, wait, "every one of the %d attempts was counted", workers*each)
	}
}

func TestSubjectIndexStaysBounded(t *testing.T) {
	tg := redistest.Shared(t)
	clock := storetest.NewClock(storetest.Start)
	s := newStore(t, tg.Client, redisstore.WithPrefix(tg.Prefix), redisstore.WithClock(clock.Now))
	index := tg.Prefix + "subject:alice"
	for i := range 50 {
		require.NoError(t, s.Create(ctx, middleware.DigestToken(fmt.Sprint("short", i)), session("alice", clock.Now(), time.Minute)))
	}
	require.EqualValues(t, 50, tg.Client.ZCard(ctx, index).Val())
	long := middleware.DigestToken("long")
	require.NoError(t, s.Create(ctx, long, session("alice", clock.Now(), 2*time.Hour)))
	ttl := tg.Client.PTTL(ctx, index).Val()
	assert.InDelta(t, (2*time.Hour + clockSlack).Seconds(), ttl.Seconds(), 5, "the index lives as long as its longest session's key")

	clock.Advance(2*time.Minute + time.Second) // past expiry and the cleanup lag
	require.NoError(t, s.Create(ctx, middleware.DigestToken("new"), session("alice", clock.Now(), time.Minute)))
	assert.EqualValues(t, 2, tg.Client.ZCard(ctx, index).Val(), "dead members are dropped on write")
	assert.InDelta(t, (2*time.Hour + clockSlack).Seconds(), tg.Client.PTTL(ctx, index).Val().Seconds(), 5, "a shorter session does not shorten the index")

	require.NoError(t, s.Revoke(ctx, long))
	assert.EqualValues(t, 1, tg.Client.ZCard(ctx, index).Val(), "Revoke leaves the index")
	require.NoError(t, s.RevokeSubject(ctx, "alice"))
	assert.Zero(t, tg.Client.Exists(ctx, index).Val(), "RevokeSubject deletes the index")
}

func TestMalformedRecordFailsClosed(t *testing.T) {
	tg := redistest.Shared(t)
	s := newStore(t, tg.Client, redisstore.WithPrefix(tg.Prefix))
	d := middleware.DigestToken("tampered")
	for _, exp := range []string{"soon", "1.5", "x.000000000", "1.00000000000"} {
		require.NoError(t, tg.Client.HSet(ctx, tg.Prefix+"session:"+d.String(), "sub", "alice", "exp", exp).Err())
		_, err := s.Lookup(ctx, d)
		require.Error(t, err, exp)
		assert.NotErrorIs(t, err, middleware.ErrSessionNotFound, "a damaged record is an error, never an answer")
	}
	require.NoError(t, tg.Client.HSet(ctx, tg.Prefix+"session:"+d.String(), "exp", "99999999999.000000000", "roles", "[not json").Err())
	_, err := s.Lookup(ctx, d)
	require.Error(t, err)
	assert.NotErrorIs(t, err, middleware.ErrSessionNotFound)
}

func TestCanceledContext(t *testing.T) {
	tg := redistest.Shared(t)
	s := newStore(t, tg.Client, redisstore.WithPrefix(tg.Prefix))
	canceled, cancel := context.WithCancel(ctx)
	cancel()
	_, err := s.Lookup(canceled, middleware.DigestToken("x"))
	require.ErrorIs(t, err, context.Canceled)
	require.Equal(t, middleware.ErrUnavailable, middleware.AsError(err).Kind)
}

// TestKeysOutliveTheirDataOnAReplicaWhoseClockRunsBehind: a key's TTL is
// computed from the writer's clock. With the writer two seconds ahead, a
// revocation needed until three seconds from now by another replica's
// clock used to expire after one: that replica, whose revocation check
// reads no clock, then accepted the revoked token again. A session likewise
// vanished while still live by the reader's clock. Keys now outlive their
// data by a clock slack of a minute.
func TestKeysOutliveTheirDataOnAReplicaWhoseClockRunsBehind(t *testing.T) {
	tg := redistest.Shared(t)
	behind := storetest.NewClock(storetest.Start)
	ahead := storetest.NewClock(storetest.Start.Add(2 * time.Second))
	until := behind.Now().Add(3 * time.Second) // e.g. a token's exp + leeway, by the reader's clock

	l := newRevocationList(t, tg.Client, redisstore.WithPrefix(tg.Prefix), redisstore.WithClock(ahead.Now))
	require.NoError(t, l.RevokeToken(ctx, "jti-1", until))
	assert.GreaterOrEqual(t, tg.Client.PTTL(ctx, tg.Prefix+"revoked:token:jti-1").Val(), until.Sub(behind.Now()),
		"the revocation lasts until its until by the reader's clock")

	s := newStore(t, tg.Client, redisstore.WithPrefix(tg.Prefix), redisstore.WithClock(ahead.Now))
	d := middleware.DigestToken("tok")
	require.NoError(t, s.Create(ctx, d, session("alice", behind.Now(), 3*time.Second)))
	assert.GreaterOrEqual(t, tg.Client.PTTL(ctx, tg.Prefix+"session:"+hex.EncodeToString(d[:])).Val(), 3*time.Second,
		"the session's key lasts while the session is live by the reader's clock")
}

// TestAppLookupRefusesACorruptDigest: a stored digest of the wrong length
// is a malformed record (503), not a panic: hex.Decode writes past a
// destination too short for its input.
func TestAppLookupRefusesACorruptDigest(t *testing.T) {
	tg := redistest.Shared(t)
	r, err := redisstore.NewAppRegistry(tg.Client, redisstore.WithPrefix(tg.Prefix))
	require.NoError(t, err)
	spec := basicauth.AppSpec{ID: "a", Name: "A", AppToken: strings.Repeat("1", 32), BackendToken: strings.Repeat("2", 44)}
	require.NoError(t, r.Register(ctx, spec))
	record := tg.Prefix + "appreg:id:a"
	stored, err := tg.Client.HGet(ctx, record, "app").Result()
	require.NoError(t, err)
	for _, corrupt := range []string{stored + "00", stored[:62], "zz" + stored[2:]} {
		require.NoError(t, tg.Client.HSet(ctx, record, "app", corrupt).Err())
		require.NotPanics(t, func() {
			_, err = r.Lookup(ctx, basicauth.AppToken, middleware.DigestToken(spec.AppToken))
		})
		require.Error(t, err, corrupt)
		assert.NotErrorIs(t, err, basicauth.ErrAppNotFound, "a broken record is no unknown app")
	}
}
