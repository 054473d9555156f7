package app_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/tidegate/tidegate/examples/server/app"
	"github.com/tidegate/tidegate/internal/redistest"
	"github.com/tidegate/tidegate/internal/seed"
	"github.com/tidegate/tidegate/middleware"
)

// lostReplyAfterRotate makes the registry's Rotate script (the only
// EVAL/EVALSHA with 4 keys) run on Redis and then report an error, as a
// reply lost or timed out after Redis ran the write does.
type lostReplyAfterRotate struct{ fired atomic.Bool }

func (h *lostReplyAfterRotate) DialHook(next redis.DialHook) redis.DialHook { return next }
func (h *lostReplyAfterRotate) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}
func (h *lostReplyAfterRotate) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		err := next(ctx, cmd)
		args := cmd.Args()
		if err == nil && (cmd.Name() == "evalsha" || cmd.Name() == "eval") && len(args) > 2 && fmt.Sprint(args[2]) == "4" &&
			h.fired.CompareAndSwap(false, true) {
			err = &net.OpError{Op: "read", Net: "tcp", Err: errors.New("i/o timeout (injected after the write ran)")}
			cmd.SetErr(err)
		}
		return err
	}
}

// TestASeedRotationWhoseReplyIsLostStillPurges: basicauth.Service purges
// "even on an error, which may come after the work was done"; the example
// server's seed rotation only purges when registerApps saw the rotation
// succeed, so a Rotate that ran on Redis but whose reply was lost leaves the
// running replicas accepting the replaced token from their caches.
func TestASeedRotationWhoseReplyIsLostStillPurges(t *testing.T) {
	target := redistest.Shared(t)
	hasher, err := middleware.NewArgon2idHasher(middleware.TestArgon2Params)
	require.NoError(t, err)
	cfg := func(data *seed.File, c *redis.Client, logger *slog.Logger) app.Config {
		return app.Config{Seed: data, Hasher: hasher, JWTKey: []byte(testJWTKey),
			Redis: c, RedisPrefix: target.Prefix, FallbackTTL: time.Minute, Logger: logger}
	}
	demo := seed.Demo()
	old := demo.Apps[0].BackendToken
	subscribed := &subscriptionSignal{up: make(chan struct{})}
	running, err := app.New(cfg(demo, redistest.NewClient(t, target.Addr), slog.New(subscribed)))
	require.NoError(t, err)
	t.Cleanup(func() { _ = running.Close() })
	select {
	case <-subscribed.up:
	case <-time.After(5 * time.Second):
		t.Fatal("subscription never came up")
	}
	require.Equal(t, http.StatusOK, meAsBackend(running, old), "cached on the running replica")

	rotated := *demo
	rotated.Apps = []seed.App{demo.Apps[0]}
	rotated.Apps[0].BackendToken = strings.Repeat("3c", 22)
	require.NoError(t, rotated.Validate())
	c := redistest.NewClient(t, target.Addr)
	hook := &lostReplyAfterRotate{}
	c.AddHook(hook)
	_, err = app.New(cfg(&rotated, c, slog.New(slog.DiscardHandler)))
	require.Error(t, err, "the new replica saw the rotation fail")
	require.True(t, hook.fired.Load())

	// Redis did rotate: the old token is no longer the app's.
	fresh, err := app.New(cfg(&rotated, redistest.NewClient(t, target.Addr), slog.New(slog.DiscardHandler)))
	require.NoError(t, err)
	t.Cleanup(func() { _ = fresh.Close() })
	// (fresh found nothing to change, so it did not purge either.)
	require.Equal(t, http.StatusUnauthorized, meAsBackend(fresh, old), "the registry holds the rotated token")

	assert.Eventually(t, func() bool { return meAsBackend(running, old) == http.StatusUnauthorized },
		3*time.Second, 10*time.Millisecond, "the replaced token still works on the running replica")
}
