package redistest_test

import (
	"context"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tidegate/tidegate/internal/redistest"
)

var ctx = context.Background()

func TestMain(m *testing.M) { os.Exit(redistest.Main(m)) }

func TestStartStopRestart(t *testing.T) {
	srv := redistest.Start(t)
	c := redistest.NewClient(t, srv.Addr())
	require.NoError(t, c.Set(ctx, "k", "v", 0).Err())
	require.True(t, srv.Running())

	srv.Stop()
	assert.False(t, srv.Running())
	require.Error(t, c.Ping(ctx).Err(), "a stopped server does not answer")
	srv.Stop() // stopping twice is fine

	addr := srv.Addr()
	srv.Restart()
	assert.Equal(t, addr, srv.Addr(), "the same port")
	require.NoError(t, c.Ping(ctx).Err())
	assert.Zero(t, c.Exists(ctx, "k").Val(), "without appendonly the data is gone")
}

func TestAppendOnlySurvivesRestart(t *testing.T) {
	srv := redistest.Start(t, redistest.WithAppendOnly())
	c := redistest.NewClient(t, srv.Addr())
	require.NoError(t, c.Set(ctx, "k", "v", 0).Err())
	srv.Restart()
	require.Equal(t, "v", c.Get(ctx, "k").Val())
	assert.Equal(t, "yes", c.ConfigGet(ctx, "appendonly").Val()["appendonly"])
}

func TestServersArePrivate(t *testing.T) {
	a, b := redistest.Start(t), redistest.Start(t)
	require.NotEqual(t, a.Addr(), b.Addr())
	ca, cb := redistest.NewClient(t, a.Addr()), redistest.NewClient(t, b.Addr())
	require.NoError(t, ca.Set(ctx, "k", "a", 0).Err())
	assert.Zero(t, cb.Exists(ctx, "k").Val())
	assert.Equal(t, "127.0.0.1", cb.ConfigGet(ctx, "bind").Val()["bind"])
	assert.Empty(t, cb.ConfigGet(ctx, "save").Val()["save"])
}

func TestFindServerHonoursEnv(t *testing.T) {
	t.Setenv(redistest.EnvServer, "/nonexistent/redis-server")
	_, err := redistest.FindServer()
	require.ErrorContains(t, err, "/nonexistent/redis-server")

	t.Setenv(redistest.EnvServer, "")
	path, err := redistest.FindServer()
	require.NoError(t, err, "redis-server must be installed to run these tests: ./scripts/test.sh installs it")
	t.Setenv(redistest.EnvServer, path)
	got, err := redistest.FindServer()
	require.NoError(t, err)
	assert.Equal(t, path, got)
}

func TestSharedPrefixIsUniqueAndCleaned(t *testing.T) {
	var prefixes []string
	var addr string
	for range 2 {
		t.Run("user", func(t *testing.T) {
			tg := redistest.Shared(t)
			addr = tg.Addr
			prefixes = append(prefixes, tg.Prefix)
			require.NoError(t, tg.Client.Set(ctx, tg.Prefix+"k", "v", 0).Err())
		})
	}
	require.Len(t, prefixes, 2)
	assert.NotEqual(t, prefixes[0], prefixes[1])
	for _, p := range prefixes {
		assert.True(t, strings.HasPrefix(p, "t:TestSharedPrefixIsUniqueAndCleaned_user"), p)
		assert.True(t, strings.HasSuffix(p, ":"), p)
	}
	assert.Equal(t, redistest.MainAddr(), addr, "Shared uses the server of Main")
	c := redistest.NewClient(t, addr)
	assert.Zero(t, c.Exists(ctx, prefixes[0]+"k", prefixes[1]+"k").Val(), "a test's keys are deleted when it ends")
}

func TestUniquePrefixSanitises(t *testing.T) {
	p := redistest.UniquePrefix("Test/with spaces*and[glob]?")
	assert.Regexp(t, `^t:Test_with_spaces_and_glob__:[0-9a-f]{12}:$`, p)
}
