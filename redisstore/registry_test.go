package redisstore_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tidegate/tidegate/basicauth"
	"github.com/tidegate/tidegate/internal/redistest"
	"github.com/tidegate/tidegate/internal/storetest"
	"github.com/tidegate/tidegate/middleware"
	"github.com/tidegate/tidegate/redisstore"
)

func newRegistry(t *testing.T, c redis.UniversalClient, opts ...redisstore.Option) *redisstore.AppRegistry {
	t.Helper()
	r, err := redisstore.NewAppRegistry(c, opts...)
	require.NoError(t, err)
	return r
}

// spec returns a well-formed app whose tokens are derived from i.
func spec(i int) basicauth.AppSpec {
	return basicauth.AppSpec{ID: fmt.Sprint("app-", i), Name: fmt.Sprint("App ", i), AppToken: fmt.Sprintf("%032x", i), BackendToken: fmt.Sprintf("b%043x", i)}
}

func TestAppRegistryRegisterValidates(t *testing.T) {
	tg := redistest.Shared(t)
	r := newRegistry(t, tg.Client, redisstore.WithPrefix(tg.Prefix))
	good := spec(1)
	for name, mutate := range map[string]func(*basicauth.AppSpec){
		"no id or name":           func(s *basicauth.AppSpec) { s.ID, s.Name = "", "" },
		"short app token":         func(s *basicauth.AppSpec) { s.AppToken = s.AppToken[1:] },
		"upper-case app token":    func(s *basicauth.AppSpec) { s.AppToken = strings.ToUpper("a" + s.AppToken[1:]) },
		"non-hex backend token":   func(s *basicauth.AppSpec) { s.BackendToken = "g" + s.BackendToken[1:] },
		"long backend token":      func(s *basicauth.AppSpec) { s.BackendToken += "0" },
		"dependent backend token": func(s *basicauth.AppSpec) { s.BackendToken = s.AppToken + s.BackendToken[32:] },
	} {
		bad := good
		mutate(&bad)
		require.Error(t, r.Register(ctx, bad), name)
	}
	keys, err := tg.Client.Keys(ctx, tg.Prefix+"*").Result()
	require.NoError(t, err)
	assert.Empty(t, keys, "nothing was stored")

	require.NoError(t, r.Register(ctx, good))
	for name, dup := range map[string]basicauth.AppSpec{
		"same id":            {ID: good.ID, AppToken: spec(2).AppToken, BackendToken: spec(2).BackendToken},
		"same app token":     {ID: "x", AppToken: good.AppToken, BackendToken: spec(2).BackendToken},
		"same backend token": {ID: "x", AppToken: spec(2).AppToken, BackendToken: good.BackendToken},
	} {
		require.ErrorIs(t, r.Register(ctx, dup), basicauth.ErrAppExists, name)
	}
	// A digest is taken whatever the type it is held as: app-1's backend
	// token becomes the digest of app-3's app token.
	require.NoError(t, r.Rotate(ctx, good.ID, basicauth.BackendToken, middleware.DigestToken(spec(3).AppToken)))
	require.ErrorIs(t, r.Register(ctx, spec(3)), basicauth.ErrAppExists, "a token in use as the other type")
	require.NoError(t, r.Rotate(ctx, good.ID, basicauth.BackendToken, middleware.DigestToken(good.BackendToken)))
	app, err := r.Lookup(ctx, basicauth.BackendToken, middleware.DigestToken(good.BackendToken))
	require.NoError(t, err)
	assert.Equal(t, basicauth.App{ID: good.ID, Name: good.Name}, app, "the duplicates changed nothing")
}

func TestAppRegistryBound(t *testing.T) {
	tg := redistest.Shared(t)
	clock := storetest.NewClock(storetest.Start)
	r := newRegistry(t, tg.Client, redisstore.WithPrefix(tg.Prefix), redisstore.WithClock(clock.Now),
		redisstore.WithMaxApps(2), redisstore.WithAppIdleTTL(time.Hour))
	require.NoError(t, r.Register(ctx, spec(1)))
	require.NoError(t, r.Register(ctx, spec(2)))
	require.ErrorIs(t, r.Register(ctx, spec(3)), basicauth.ErrRegistryFull)
	require.NoError(t, r.Revoke(ctx, "app-1"))
	require.NoError(t, r.Register(ctx, spec(3)), "revoking makes room")
	require.ErrorIs(t, r.Register(ctx, spec(4)), basicauth.ErrRegistryFull)

	// app-2 and app-3 go unused past their idle TTL (and the cleanup lag):
	// their keys have expired by then, and their places are free.
	clock.Advance(time.Hour + 2*time.Minute)
	require.NoError(t, r.Register(ctx, spec(4)), "idle apps leave the count")
	assert.EqualValues(t, 1, tg.Client.ZCard(ctx, tg.Prefix+"appreg:ids").Val())
}

func TestAppRegistryKeyTTLsAndRenewal(t *testing.T) {
	tg := redistest.Shared(t)
	r := newRegistry(t, tg.Client, redisstore.WithPrefix(tg.Prefix), redisstore.WithAppIdleTTL(time.Hour))
	s := spec(1)
	require.NoError(t, r.Register(ctx, s))
	keys := []string{
		tg.Prefix + "appreg:id:app-1",
		tg.Prefix + "appreg:app:" + middleware.DigestToken(s.AppToken).String(),
		tg.Prefix + "appreg:backend:" + middleware.DigestToken(s.BackendToken).String(),
	}
	for _, key := range append(keys, tg.Prefix+"appreg:ids") {
		requirePTTL(t, tg.Client, key, time.Hour, "registered")
	}
	// Time passes (shown by shortening the keys' TTLs, as Redis's clock
	// cannot be moved): a lookup with more than half the TTL left renews
	// nothing, one with less renews every key of the app.
	setTTL := func(d time.Duration) {
		for _, key := range keys {
			require.NoError(t, tg.Client.PExpire(ctx, key, d).Err())
		}
	}
	setTTL(40 * time.Minute)
	_, err := r.Lookup(ctx, basicauth.AppToken, middleware.DigestToken(s.AppToken))
	require.NoError(t, err)
	for _, key := range keys {
		requirePTTL(t, tg.Client, key, 40*time.Minute, "not yet due")
	}
	setTTL(20 * time.Minute)
	_, err = r.Lookup(ctx, basicauth.BackendToken, middleware.DigestToken(s.BackendToken))
	require.NoError(t, err)
	for _, key := range keys {
		requirePTTL(t, tg.Client, key, time.Hour, "a used app is kept")
	}
	setTTL(20 * time.Minute)
	require.NoError(t, r.Rotate(ctx, "app-1", basicauth.AppToken, middleware.DigestToken("new")))
	keys[1] = tg.Prefix + "appreg:app:" + middleware.DigestToken("new").String()
	for _, key := range keys {
		requirePTTL(t, tg.Client, key, time.Hour, "a rotation renews the app")
	}
}

func TestAppRegistryTamperedRecordIsNoMatch(t *testing.T) {
	tg := redistest.Shared(t)
	r := newRegistry(t, tg.Client, redisstore.WithPrefix(tg.Prefix))
	s := spec(1)
	require.NoError(t, r.Register(ctx, s))
	// A token key that names the app, without being the token the app's
	// record holds: the record's digest is compared, and it differs.
	forged := middleware.DigestToken("forged")
	require.NoError(t, tg.Client.Set(ctx, tg.Prefix+"appreg:app:"+forged.String(), "app-1", time.Hour).Err())
	_, err := r.Lookup(ctx, basicauth.AppToken, forged)
	require.ErrorIs(t, err, basicauth.ErrAppNotFound)

	require.NoError(t, tg.Client.HSet(ctx, tg.Prefix+"appreg:id:app-1", "app", "not hex").Err())
	_, err = r.Lookup(ctx, basicauth.AppToken, middleware.DigestToken(s.AppToken))
	require.Error(t, err, "a damaged record is an error")
	assert.NotErrorIs(t, err, basicauth.ErrAppNotFound)
}

// A rotation or revocation through one replica takes effect on the other
// at once.
func TestReplicasShareApps(t *testing.T) {
	tg := redistest.Shared(t)
	a := newRegistry(t, tg.Client, redisstore.WithPrefix(tg.Prefix))
	b := newRegistry(t, redistest.NewClient(t, tg.Addr), redisstore.WithPrefix(tg.Prefix))
	s := spec(1)
	require.NoError(t, a.Register(ctx, s))
	require.ErrorIs(t, b.Register(ctx, s), basicauth.ErrAppExists, "seeding the same app from another replica")
	_, err := b.Lookup(ctx, basicauth.AppToken, middleware.DigestToken(s.AppToken))
	require.NoError(t, err)
	require.NoError(t, a.Rotate(ctx, "app-1", basicauth.AppToken, middleware.DigestToken("rotated")))
	_, err = b.Lookup(ctx, basicauth.AppToken, middleware.DigestToken(s.AppToken))
	require.ErrorIs(t, err, basicauth.ErrAppNotFound)
	_, err = b.Lookup(ctx, basicauth.AppToken, middleware.DigestToken("rotated"))
	require.NoError(t, err)
	require.NoError(t, b.Revoke(ctx, "app-1"))
	_, err = a.Lookup(ctx, basicauth.BackendToken, middleware.DigestToken(s.BackendToken))
	require.ErrorIs(t, err, basicauth.ErrAppNotFound)
}

func TestAppRegistryIDs(t *testing.T) {
	tg := redistest.Shared(t)
	r := newRegistry(t, tg.Client, redisstore.WithPrefix(tg.Prefix))
	ids, err := r.IDs(ctx)
	require.NoError(t, err)
	assert.Empty(t, ids)
	for i := range 3 {
		require.NoError(t, r.Register(ctx, spec(i)))
	}
	require.NoError(t, r.Revoke(ctx, "app-1"))
	ids, err = r.IDs(ctx)
	require.NoError(t, err)
	assert.ElementsMatch(t, []string{"app-0", "app-2"}, ids)
}
