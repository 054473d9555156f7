package redisstore_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tidegate/tidegate/basicauth"
	"github.com/tidegate/tidegate/bearer"
	"github.com/tidegate/tidegate/internal/redistest"
	"github.com/tidegate/tidegate/internal/storetest"
	"github.com/tidegate/tidegate/middleware"
	"github.com/tidegate/tidegate/redisstore"
)

// The Redis stores run the same conformance suite as the in-memory ones
// (internal/storetest), each test on a key prefix of its own.

func TestSessionStoreConformance(t *testing.T) {
	storetest.SessionStore(t, func(t *testing.T, now func() time.Time) middleware.SessionStore {
		tg := redistest.Shared(t)
		s, err := redisstore.NewSessionStore(tg.Client, redisstore.WithPrefix(tg.Prefix), redisstore.WithClock(now))
		require.NoError(t, err)
		return s
	})
}

func TestLoginLimiterConformance(t *testing.T) {
	storetest.LoginLimiter(t, func(t *testing.T, p middleware.LimiterPolicy, now func() time.Time) middleware.LoginLimiter {
		tg := redistest.Shared(t)
		l, err := redisstore.NewLoginLimiter(tg.Client, p, redisstore.WithPrefix(tg.Prefix), redisstore.WithClock(now))
		require.NoError(t, err)
		return l
	})
}

func TestRefreshStoreConformance(t *testing.T) {
	storetest.RefreshStore(t, func(t *testing.T, now func() time.Time) bearer.RefreshStore {
		tg := redistest.Shared(t)
		s, err := redisstore.NewRefreshStore(tg.Client, redisstore.WithPrefix(tg.Prefix), redisstore.WithClock(now))
		require.NoError(t, err)
		return s
	})
}

func TestRevocationListConformance(t *testing.T) {
	storetest.RevocationList(t, func(t *testing.T, now func() time.Time) bearer.RevocationList {
		tg := redistest.Shared(t)
		l, err := redisstore.NewRevocationList(tg.Client, redisstore.WithPrefix(tg.Prefix), redisstore.WithClock(now))
		require.NoError(t, err)
		return l
	})
}

func TestAppRegistryConformance(t *testing.T) {
	storetest.AppRegistry(t, func(t *testing.T, apps ...basicauth.AppSpec) basicauth.AppRegistry {
		tg := redistest.Shared(t)
		r, err := redisstore.NewAppRegistry(tg.Client, redisstore.WithPrefix(tg.Prefix))
		require.NoError(t, err)
		for _, app := range apps {
			require.NoError(t, r.Register(ctx, app))
		}
		return r
	})
}
