package redisstore_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/tidegate/tidegate/internal/redistest"
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
	for want, v := range map[string]any{
		"redisstore.SessionStore":   must(redisstore.NewSessionStore(tg.Client, prefix)),
		"redisstore.LoginLimiter":   must(redisstore.NewLoginLimiter(tg.Client, middleware.LimiterPolicy{}, prefix)),
		"redisstore.RefreshStore":   must(redisstore.NewRefreshStore(tg.Client, prefix)),
		"redisstore.RevocationList": must(redisstore.NewRevocationList(tg.Client, prefix)),
		"redisstore.AppRegistry":    must(redisstore.NewAppRegistry(tg.Client, prefix)),
		"redisstore.Broadcaster":    broadcaster,
	} {
		want += "{…}"
		assert.Equal(t, want, fmt.Sprintf("%+v", v))
		var text bytes.Buffer
		slog.New(slog.NewTextHandler(&text, nil)).Info("state", "v", v)
		assert.Contains(t, text.String(), "v="+want+"\n")
		b, err := json.Marshal(v)
		require.NoError(t, err)
		assert.JSONEq(t, fmt.Sprintf("%q", want), string(b))
	}
}
