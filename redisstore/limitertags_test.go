package redisstore_test

import (
	"crypto/sha256"
	"encoding/hex"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tidegate/tidegate/internal/redistest"
	"github.com/tidegate/tidegate/middleware"
	"github.com/tidegate/tidegate/redisstore"
)

// TestSucceededKeepsOneTag: Succeeded records its call's tag on the
// address counter, so that a go-redis retry forgives nothing more. A field
// per tag grew the hash without bound under steady successful logins from
// one address (a NAT), within a window and across windows (a new window
// kept the old fields). The counter holds one tag, whatever the logins.
func TestSucceededKeepsOneTag(t *testing.T) {
	tg := redistest.Shared(t)
	var mu sync.Mutex
	now := time.Now()
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	const window = 10 * time.Second
	l, err := redisstore.NewLoginLimiter(tg.Client, middleware.LimiterPolicy{Window: window},
		redisstore.WithPrefix(tg.Prefix), redisstore.WithClock(clock))
	require.NoError(t, err)
	addr := netip.MustParseAddr("198.51.100.7")
	_, addressKey := middleware.LimiterKeys("mary", addr)
	sum := sha256.Sum256([]byte(addressKey))
	key := tg.Prefix + "limit:" + hex.EncodeToString(sum[:])

	for range 5 { // windows
		for range 20 { // logins in one window
			wait, err := l.Attempt(ctx, "mary", addr)
			require.NoError(t, err)
			require.Zero(t, wait)
			require.NoError(t, l.Succeeded(ctx, "mary", addr))
		}
		fields, err := tg.Client.HKeys(ctx, key).Result()
		require.NoError(t, err)
		assert.ElementsMatch(t, []string{"n", "reset", "ok"}, fields, "the counter's fields")
		mu.Lock()
		now = now.Add(window + time.Millisecond) // the window is over for the limiter
		mu.Unlock()
	}
}
