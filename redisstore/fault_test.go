package redisstore_test

import (
	"fmt"
	"net/netip"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tidegate/tidegate/bearer"
	"github.com/tidegate/tidegate/internal/redistest"
	"github.com/tidegate/tidegate/middleware"
	"github.com/tidegate/tidegate/redisstore"
)

// Every operation, for the outage tests.
func operations(s *redisstore.SessionStore, l *redisstore.LoginLimiter, d middleware.TokenDigest) map[string]func() error {
	now := time.Now()
	addr := netip.MustParseAddr("192.0.2.1")
	return map[string]func() error{
		"Create": func() error { return s.Create(ctx, middleware.DigestToken("new"), session("alice", now, time.Hour)) },
		"Lookup": func() error { _, err := s.Lookup(ctx, d); return err },
		"Rotate": func() error {
			return s.Rotate(ctx, d, now.Add(time.Minute), middleware.DigestToken("next"), session("alice", now, time.Hour))
		},
		"Revoke":        func() error { return s.Revoke(ctx, middleware.DigestToken("other")) },
		"RevokeSubject": func() error { return s.RevokeSubject(ctx, "bob") },
		"Attempt":       func() error { _, err := l.Attempt(ctx, "alice", addr); return err },
		"Succeeded":     func() error { return l.Succeeded(ctx, "alice", addr) },
	}
}

func TestRedisDownFailsClosedAndRecovers(t *testing.T) {
	srv := redistest.Start(t)
	client := redistest.NewClient(t, srv.Addr())
	s := newStore(t, client)
	l := newLimiter(t, client, middleware.LimiterPolicy{})
	d := middleware.DigestToken("alive")
	require.NoError(t, s.Create(ctx, d, session("alice", time.Now(), time.Hour)))

	srv.Stop()
	for name, op := range operations(s, l, d) {
		start := time.Now()
		err := op()
		require.Error(t, err, name)
		assert.NotErrorIs(t, err, middleware.ErrSessionNotFound, "%s: an outage is never a missing session (401)", name)
		assert.Equal(t, middleware.ErrUnavailable, middleware.AsError(err).Kind, "%s: an outage is 503", name)
		assert.Less(t, time.Since(start), 3*time.Second, "%s fails fast", name)
	}

	srv.Restart() // without persistence: the data is gone, the service is back
	require.Eventually(t, func() bool { return s.Create(ctx, d, session("alice", time.Now(), time.Hour)) == nil },
		5*time.Second, 10*time.Millisecond, "the store recovers by itself")
	for name, op := range operations(s, l, d) {
		require.NoError(t, op(), name)
	}
}

func TestSessionsSurviveRestartWithAppendOnly(t *testing.T) {
	srv := redistest.Start(t, redistest.WithAppendOnly())
	client := redistest.NewClient(t, srv.Addr())
	s := newStore(t, client)
	l := newLimiter(t, client, middleware.LimiterPolicy{AccountAttempts: 2})
	addr := netip.MustParseAddr("192.0.2.1")
	now := time.Now()
	var digests []middleware.TokenDigest
	for i := range 50 {
		d := middleware.DigestToken(middleware.NewToken())
		digests = append(digests, d)
		require.NoError(t, s.Create(ctx, d, session(fmt.Sprint("user", i%5), now, time.Hour)))
	}
	for range 3 {
		_, err := l.Attempt(ctx, "alice", addr)
		require.NoError(t, err)
	}

	srv.Restart()
	require.Eventually(t, func() bool { _, err := s.Lookup(ctx, digests[0]); return err == nil },
		5*time.Second, 10*time.Millisecond)
	for i, d := range digests {
		got, err := s.Lookup(ctx, d)
		require.NoError(t, err, "session %d created before the restart", i)
		assert.Equal(t, fmt.Sprint("user", i%5), got.Subject)
		assert.Positive(t, client.PTTL(ctx, "tidegate:session:"+d.String()).Val(), "its TTL survives too")
	}
	wait, err := l.Attempt(ctx, "alice", addr)
	require.NoError(t, err)
	assert.Positive(t, wait, "throttle counts survive the restart")
	require.NoError(t, s.RevokeSubject(ctx, "user0"), "the subject indexes survive the restart")
	_, err = s.Lookup(ctx, digests[0])
	require.ErrorIs(t, err, middleware.ErrSessionNotFound)
}

// TestRevocationsAndPersistence pins what doc.go and SECURITY.md say of a
// RevocationList across a Redis restart: with appendonly its entries
// survive; without persistence they are gone, and the revoked token is
// accepted again (which is why the documents ask for appendonly).
func TestRevocationsAndPersistence(t *testing.T) {
	for _, tc := range []struct {
		name    string
		opts    []redistest.Option
		revoked bool
	}{
		{"appendonly", []redistest.Option{redistest.WithAppendOnly()}, true},
		{"no persistence", nil, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := redistest.Start(t, tc.opts...)
			client := redistest.NewClient(t, srv.Addr())
			l, err := redisstore.NewRevocationList(client)
			require.NoError(t, err)
			now := time.Now()
			refs := []bearer.TokenRef{
				{ID: "jti-1", Subject: "alice", IssuedAt: now},
				{ID: "jti-2", Login: "sid-2", Subject: "bob", IssuedAt: now},
				{ID: "jti-3", Subject: "carol", IssuedAt: now.Add(-time.Minute)},
			}
			require.NoError(t, l.RevokeToken(ctx, "jti-1", now.Add(time.Hour)))
			require.NoError(t, l.RevokeLogin(ctx, "sid-2", now.Add(time.Hour)))
			require.NoError(t, l.RevokeSubject(ctx, "carol", now, now.Add(time.Hour)))

			srv.Restart()
			require.Eventually(t, func() bool { return client.Ping(ctx).Err() == nil }, 5*time.Second, 10*time.Millisecond)
			for _, ref := range refs {
				revoked, err := l.Revoked(ctx, ref)
				require.NoError(t, err)
				assert.Equal(t, tc.revoked, revoked, "%+v after the restart", ref)
			}
		})
	}
}
