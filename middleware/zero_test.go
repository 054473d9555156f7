package middleware_test

import (
	"context"
	"math"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/tidegate/tidegate/middleware"
)

// TestZeroValuesFailAtSetupOrSafely: a value its constructor did not make
// (a zero Scheme, Cache, PasswordLogin, limiter or store) is refused when
// the middleware is wired, or its methods answer an error. None of them
// panics at request time, and none authenticates anything.
func TestZeroValuesFailAtSetupOrSafely(t *testing.T) {
	ctx := context.Background()

	t.Run("Scheme", func(t *testing.T) {
		assert.PanicsWithValue(t, "tidegate: *middleware.Scheme not built by NewScheme", func() { middleware.Require(&middleware.Scheme{}) })
		assert.Panics(t, func() { middleware.Optional(&middleware.Scheme{}) })
		_, err := middleware.Any(&middleware.Scheme{})
		require.Error(t, err)
	})

	t.Run("Scheme's request-time methods", func(t *testing.T) {
		s := &middleware.Scheme{}
		req := newRequest()
		req.Header.Set("Authorization", "Bearer tok")
		_, err := s.Authenticate(req)
		require.ErrorIs(t, err, middleware.ErrInternal)
		_, err = s.Extract(req)
		require.ErrorIs(t, err, middleware.ErrInternal)
		rec := httptest.NewRecorder()
		s.Reject(rec, req, middleware.Missing())
		require.Equal(t, http.StatusUnauthorized, rec.Code)
	})

	t.Run("Cache", func(t *testing.T) {
		c := &middleware.Cache{}
		ex, err := middleware.NewHeaderExtractor(kindSession, "X-Token")
		require.NoError(t, err)
		_, err = middleware.NewScheme(kindSession, ex, c, middleware.Challenge{Scheme: "Token"})
		require.Error(t, err, "a scheme over a zero cache")
		_, err = c.Verify(ctx, bearerCred("tok"))
		require.ErrorIs(t, err, middleware.ErrInternal)
		c.Invalidate(bearerCred("tok"))
		c.InvalidateSubject("u")
		c.CapTTL(time.Second)
		remove := c.AddTTLCap(time.Second)
		require.NotNil(t, remove)
		remove()
		c.Purge()
		require.Zero(t, c.Len())
		require.NoError(t, c.Close())
		require.NoError(t, c.Close())
	})

	t.Run("nil Cache", func(t *testing.T) {
		// A Service's Close reaches its cache, nil in a zero Service.
		var c *middleware.Cache
		require.NotPanics(t, func() {
			_, err := c.Verify(ctx, bearerCred("tok"))
			require.ErrorIs(t, err, middleware.ErrInternal)
			c.Invalidate(bearerCred("tok"))
			c.InvalidateSubject("u")
			c.CapTTL(time.Second)
			c.AddTTLCap(time.Second)()
			c.Purge()
			require.Zero(t, c.Len())
			require.NoError(t, c.Close())
		})
	})

	t.Run("Argon2idHasher", func(t *testing.T) {
		var h middleware.Argon2idHasher
		require.NotPanics(t, func() {
			_, err := h.Hash("a password")
			require.ErrorIs(t, err, middleware.ErrInternal)
		})
		require.NotPanics(t, func() {
			_, err := middleware.NewPasswordLogin(middleware.NewMemoryAccounts(), middleware.WithHasher(&h))
			require.Error(t, err, "a zero hasher")
		})
	})

	t.Run("PasswordLogin", func(t *testing.T) {
		l := &middleware.PasswordLogin{}
		_, err := l.Login(ctx, netip.MustParseAddr("192.0.2.1"), "mary", "pw")
		require.ErrorIs(t, err, middleware.ErrInternal)
		_, err = l.HashPassword(ctx, "a password")
		require.ErrorIs(t, err, middleware.ErrInternal)
		_, err = middleware.NewPasswordLogin(middleware.NewMemoryAccounts(), middleware.WithLimiter(&middleware.MemoryLimiter{}))
		require.Error(t, err, "a zero limiter")
		var none *middleware.MemoryLimiter
		_, err = middleware.NewPasswordLogin(middleware.NewMemoryAccounts(), middleware.WithLimiter(none))
		require.Error(t, err, "a nil *MemoryLimiter")
	})

	t.Run("MemoryLimiter", func(t *testing.T) {
		l := &middleware.MemoryLimiter{}
		_, err := l.Attempt(ctx, "mary", netip.MustParseAddr("192.0.2.1"))
		require.ErrorIs(t, err, middleware.ErrInternal)
		_, err = l.AttemptAccount(ctx, "k")
		require.ErrorIs(t, err, middleware.ErrInternal)
		require.ErrorIs(t, l.SucceededAccount(ctx, "k"), middleware.ErrInternal)
		require.ErrorIs(t, l.Succeeded(ctx, "mary", netip.MustParseAddr("192.0.2.1")), middleware.ErrInternal)
	})

	t.Run("MemorySessionStore", func(t *testing.T) {
		m := &middleware.MemorySessionStore{}
		var d middleware.TokenDigest
		s := middleware.Session{Subject: "u", ExpiresAt: time.Now().Add(time.Hour)}
		require.ErrorIs(t, m.Create(ctx, d, s), middleware.ErrInternal)
		_, err := m.Lookup(ctx, d)
		require.ErrorIs(t, err, middleware.ErrInternal)
		require.ErrorIs(t, m.Rotate(ctx, d, time.Now(), d, s), middleware.ErrInternal)
		require.ErrorIs(t, m.Revoke(ctx, d), middleware.ErrInternal)
		require.ErrorIs(t, m.RevokeSubject(ctx, "u"), middleware.ErrInternal)
	})

	t.Run("MemoryAccounts", func(t *testing.T) {
		m := &middleware.MemoryAccounts{}
		a := middleware.Account{UserID: "u1", Username: "mary", PasswordHash: "x"}
		require.ErrorIs(t, m.Create(ctx, a), middleware.ErrInternal)
		require.ErrorIs(t, m.Update(ctx, a), middleware.ErrInternal)
	})

	t.Run("answers 500", func(t *testing.T) {
		_, err := (&middleware.PasswordLogin{}).Login(ctx, netip.MustParseAddr("192.0.2.1"), "mary", "pw")
		require.Equal(t, http.StatusInternalServerError, middleware.AsError(err).Status)
	})
}

// TestWithMaxEntriesNearMaxInt: a bound so large it means "no practical
// bound" is kept as such. Rounding it up to a multiple of the shard count
// used to overflow, and the cache then held one entry per shard.
func TestWithMaxEntriesNearMaxInt(t *testing.T) {
	c := newTestCache(t, &countingVerifier{}, time.Hour, middleware.WithMaxEntries(math.MaxInt))
	for i := range 5000 {
		_, err := c.Verify(context.Background(), bearerCred("tok-"+strconv.Itoa(i)))
		require.NoError(t, err)
	}
	require.Equal(t, 5000, c.Len())
}
