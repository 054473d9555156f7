package storetest_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tidegate/tidegate/basicauth"
	"github.com/tidegate/tidegate/bearer"
	"github.com/tidegate/tidegate/internal/storetest"
	"github.com/tidegate/tidegate/middleware"
)

// The in-memory stores of middleware run the same suite as the Redis ones
// (see redisstore's tests).

func TestMemorySessionStore(t *testing.T) {
	storetest.SessionStore(t, func(t *testing.T, now func() time.Time) middleware.SessionStore {
		s, err := middleware.NewMemorySessionStore(middleware.WithStoreClock(now))
		require.NoError(t, err)
		return s
	})
}

func TestMemoryLimiter(t *testing.T) {
	storetest.LoginLimiter(t, func(t *testing.T, p middleware.LimiterPolicy, now func() time.Time) middleware.LoginLimiter {
		l, err := middleware.NewMemoryLimiter(p, middleware.WithStoreClock(now))
		require.NoError(t, err)
		return l
	})
}

func TestClock(t *testing.T) {
	c := storetest.NewClock(storetest.Start)
	require.Equal(t, storetest.Start, c.Now())
	c.Advance(time.Second)
	require.Equal(t, storetest.Start.Add(time.Second), c.Now())
}

func TestMemoryRefreshStore(t *testing.T) {
	storetest.RefreshStore(t, func(t *testing.T, now func() time.Time) bearer.RefreshStore {
		s, err := bearer.NewMemoryRefreshStore(bearer.WithStoreClock(now))
		require.NoError(t, err)
		return s
	})
}

func TestMemoryRevocationList(t *testing.T) {
	storetest.RevocationList(t, func(t *testing.T, now func() time.Time) bearer.RevocationList {
		l, err := bearer.NewMemoryRevocationList(bearer.WithStoreClock(now))
		require.NoError(t, err)
		return l
	})
}

func TestMemoryRegistry(t *testing.T) {
	storetest.AppRegistry(t, func(t *testing.T, apps ...basicauth.AppSpec) basicauth.AppRegistry {
		r, err := basicauth.NewMemoryRegistry(apps...)
		require.NoError(t, err)
		return r
	})
}
