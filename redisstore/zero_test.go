package redisstore_test

import (
	"net/netip"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tidegate/tidegate/basicauth"
	"github.com/tidegate/tidegate/bearer"
	"github.com/tidegate/tidegate/middleware"
	"github.com/tidegate/tidegate/redisstore"
)

// TestZeroValuesAnswerErrors: a store, limiter, registry or broadcaster
// its constructor did not make (a zero value, or nil) answers ErrInternal
// (a 500), or does nothing; none panics at request time (they used to, on
// the nil client or clock), and none reports a token valid or a login
// allowed.
func TestZeroValuesAnswerErrors(t *testing.T) {
	var d middleware.TokenDigest
	later := time.Now().Add(time.Hour)
	addr := netip.MustParseAddr("192.0.2.1")

	t.Run("SessionStore", func(t *testing.T) {
		var none *redisstore.SessionStore
		for _, s := range []*redisstore.SessionStore{{}, none} {
			require.NotPanics(t, func() {
				sess := middleware.Session{Subject: "u", ExpiresAt: later}
				require.ErrorIs(t, s.Create(ctx, d, sess), middleware.ErrInternal)
				_, err := s.Lookup(ctx, d)
				require.ErrorIs(t, err, middleware.ErrInternal)
				require.ErrorIs(t, s.Rotate(ctx, d, time.Now(), d, sess), middleware.ErrInternal)
				require.ErrorIs(t, s.Revoke(ctx, d), middleware.ErrInternal)
				require.ErrorIs(t, s.RevokeSubject(ctx, "u"), middleware.ErrInternal)
			})
		}
	})

	t.Run("RevocationList", func(t *testing.T) {
		var none *redisstore.RevocationList
		for _, l := range []*redisstore.RevocationList{{}, none} {
			require.NotPanics(t, func() {
				require.ErrorIs(t, l.RevokeToken(ctx, "jti", later), middleware.ErrInternal)
				require.ErrorIs(t, l.RevokeLogin(ctx, "sid", later), middleware.ErrInternal)
				require.ErrorIs(t, l.RevokeSubject(ctx, "u", time.Now(), later), middleware.ErrInternal)
				_, err := l.Revoked(ctx, bearer.TokenRef{ID: "jti"})
				require.ErrorIs(t, err, middleware.ErrInternal)
				_, err = l.Revoked(ctx, bearer.TokenRef{})
				require.ErrorIs(t, err, middleware.ErrInternal, "a list that records nothing must not report tokens valid")
			})
		}
	})

	t.Run("LoginLimiter", func(t *testing.T) {
		var none *redisstore.LoginLimiter
		for _, l := range []*redisstore.LoginLimiter{{}, none} {
			require.NotPanics(t, func() {
				_, err := l.Attempt(ctx, "mary", addr)
				require.ErrorIs(t, err, middleware.ErrInternal)
				_, err = l.AttemptAccount(ctx, "k")
				require.ErrorIs(t, err, middleware.ErrInternal)
				require.ErrorIs(t, l.SucceededAccount(ctx, "k"), middleware.ErrInternal)
				require.ErrorIs(t, l.Succeeded(ctx, "mary", addr), middleware.ErrInternal)
			})
		}
	})

	t.Run("RefreshStore", func(t *testing.T) {
		var none *redisstore.RefreshStore
		for _, s := range []*redisstore.RefreshStore{{}, none} {
			require.NotPanics(t, func() {
				f := bearer.Family{ID: "sid", Subject: "u", CreatedAt: time.Now(), ExpiresAt: later}
				require.ErrorIs(t, s.Create(ctx, f, d, later), middleware.ErrInternal)
				_, err := s.Rotate(ctx, bearer.Rotation{Family: "sid", Subject: "u"})
				require.ErrorIs(t, err, middleware.ErrInternal)
				require.ErrorIs(t, s.RevokeFamily(ctx, "sid"), middleware.ErrInternal)
				require.ErrorIs(t, s.RevokeSubject(ctx, "u"), middleware.ErrInternal)
			})
		}
	})

	t.Run("AppRegistry", func(t *testing.T) {
		var none *redisstore.AppRegistry
		for _, r := range []*redisstore.AppRegistry{{}, none} {
			require.NotPanics(t, func() {
				spec := basicauth.AppSpec{Name: "demo",
					AppToken:     "0123456789abcdef0123456789abcdef",
					BackendToken: "fedcba9876543210fedcba9876543210fedcba987654"}
				require.ErrorIs(t, r.Register(ctx, spec), middleware.ErrInternal)
				_, err := r.Lookup(ctx, basicauth.AppToken, d)
				require.ErrorIs(t, err, middleware.ErrInternal)
				require.ErrorIs(t, r.Rotate(ctx, "demo", basicauth.AppToken, d), middleware.ErrInternal)
				_, err = r.IDs(ctx)
				require.ErrorIs(t, err, middleware.ErrInternal)
				require.ErrorIs(t, r.Revoke(ctx, "demo"), middleware.ErrInternal)
			})
		}
	})

	t.Run("Broadcaster", func(t *testing.T) {
		var none *redisstore.Broadcaster
		for _, b := range []*redisstore.Broadcaster{{}, none} {
			require.NotPanics(t, func() {
				require.ErrorIs(t, b.Register(&fakeCache{}), middleware.ErrInternal)
				require.False(t, b.Subscribed())
				b.Invalidate(middleware.Credential{Kind: "session", Token: "tok"})
				b.InvalidateSubject("u")
				b.Purge()
				require.NoError(t, b.Close())
			})
		}
	})
}
