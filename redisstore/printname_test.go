package redisstore_test

import (
	"io"
	"log/slog"
	"testing"

	"github.com/stretchr/testify/require"
	"github.com/tidegate/tidegate/internal/redistest"
	"github.com/tidegate/tidegate/internal/withheld/withheldtest"
	"github.com/tidegate/tidegate/middleware"
	"github.com/tidegate/tidegate/redisstore"
)

// TestPrintsItsNameAlone: every Redis store, the limiter and the
// Broadcaster print and log as their type's name alone, as SECURITY.md
// says of every store.
func TestPrintsItsNameAlone(t *testing.T) {
	tg := redistest.Shared(t)
	prefix := redisstore.WithPrefix(tg.Prefix)
	must := func(v any, err error) any {
		t.Helper()
		require.NoError(t, err)
		return v
	}
	broadcaster, err := redisstore.NewBroadcaster(tg.Client, prefix,
		redisstore.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	require.NoError(t, err)
	t.Cleanup(func() { _ = broadcaster.Close() })
	for name, v := range map[string]any{
		"redisstore.SessionStore":   must(redisstore.NewSessionStore(tg.Client, prefix)),
		"redisstore.LoginLimiter":   must(redisstore.NewLoginLimiter(tg.Client, middleware.LimiterPolicy{}, prefix)),
		"redisstore.RefreshStore":   must(redisstore.NewRefreshStore(tg.Client, prefix)),
		"redisstore.RevocationList": must(redisstore.NewRevocationList(tg.Client, prefix)),
		"redisstore.AppRegistry":    must(redisstore.NewAppRegistry(tg.Client, prefix)),
		"redisstore.Broadcaster":    broadcaster,
	} {
		withheldtest.AssertPrintsNameAlone(t, name, v)
	}
}
