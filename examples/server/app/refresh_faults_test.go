package app_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tidegate/tidegate/examples/server/app"
	"github.com/tidegate/tidegate/internal/redistest"
	"github.com/tidegate/tidegate/middleware"
)

// Refresh-token rotation while Redis misbehaves: each test stalls or pauses
// a Redis of its own (redistest.Start), so no other test waits on it. The
// hooks inject no error: every error the server gets is Redis's own.

// faultyReplica starts one example server on Redis at addr, its client
// (redistest.ClientOptions: 1 s ReadTimeout, one go-redis retry) carrying
// hook.
func faultyReplica(t *testing.T, addr string, hook redis.Hook) *replica {
	t.Helper()
	hasher, err := middleware.NewArgon2idHasher(middleware.TestArgon2Params)
	require.NoError(t, err)
	client := redis.NewClient(redistest.ClientOptions(addr))
	t.Cleanup(func() { _ = client.Close() })
	client.AddHook(hook)
	a, err := app.New(app.Config{Hasher: hasher, JWTKey: []byte(testJWTKey), InsecureBasic: true,
		Redis: client, RedisPrefix: "faults:"})
	require.NoError(t, err)
	t.Cleanup(func() { _ = a.Close() })
	srv := httptest.NewServer(a.Handler())
	t.Cleanup(srv.Close)
	return &replica{srv}
}

// commandHook calls before with each command the client sends (once per
// command: go-redis's own retries happen inside it) and after with its
// outcome.
type commandHook struct {
	before func(redis.Cmder)
	after  func(redis.Cmder, error)
}

func (h *commandHook) DialHook(next redis.DialHook) redis.DialHook { return next }

func (h *commandHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}

func (h *commandHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		if h.before != nil {
			h.before(cmd)
		}
		err := next(ctx, cmd)
		if h.after != nil {
			h.after(cmd, err)
		}
		return err
	}
}

// rotation reports whether cmd is a refresh-token script.
func rotation(cmd redis.Cmder) bool {
	for _, a := range cmd.Args() {
		if s, ok := a.(string); ok && strings.Contains(s, "refresh:token:") {
			return true
		}
	}
	return false
}

// answeredReuse reports whether cmd is a rotation Redis answered {-1}.
func answeredReuse(cmd redis.Cmder, err error) bool {
	c, ok := cmd.(*redis.Cmd)
	if err != nil || !ok || !rotation(cmd) {
		return false
	}
	res, _ := c.Val().([]any)
	return len(res) == 1 && res[0] == int64(-1)
}

// TestARefreshReuseWhoseLoginRevocationFailedIsRevokedOnRetry: a thief
// refreshes first; the victim's refresh with the same token is a reuse, and
// Redis pauses writes (a failover) just after detecting it, so the login
// revocation fails. The reuse is answered 503, and the victim's retry, once
// Redis takes writes again, is a reuse again and revokes the login: the
// access token the thief bought stops working (RFC 9700 §4.14.2).
func TestARefreshReuseWhoseLoginRevocationFailedIsRevokedOnRetry(t *testing.T) {
	server := redistest.Start(t)
	admin := redis.NewClient(redistest.ClientOptions(server.Addr()))
	t.Cleanup(func() { _ = admin.Close() })
	var armed atomic.Bool
	r := faultyReplica(t, server.Addr(), &commandHook{after: func(cmd redis.Cmder, err error) {
		if answeredReuse(cmd, err) && armed.CompareAndSwap(true, false) {
			// longer than the revocation's two attempts of 1 s
			assert.NoError(t, admin.Do(context.Background(), "client", "pause", 2500, "write").Err())
		}
	}})

	victim := r.bearerLogin(t)
	status, thief := r.refresh(t, victim) // with the stolen refresh token
	require.Equal(t, http.StatusOK, status)
	armed.Store(true)
	status, _ = r.refresh(t, victim)
	require.False(t, armed.Load(), "the reuse was detected")
	assert.Equal(t, http.StatusServiceUnavailable, status, "the login could not be revoked: retry later")

	require.Eventually(t, func() bool {
		return admin.Set(context.Background(), "faults:probe", "1", time.Minute).Err() == nil
	}, 5*time.Second, 50*time.Millisecond, "Redis takes writes again")
	status, _ = r.refresh(t, victim) // as the 503 invites
	assert.Equal(t, http.StatusUnauthorized, status, "the reuse, revoked this time")
	assert.Equal(t, http.StatusUnauthorized, r.ping(t, thief.Access),
		"the access token bought with the reused refresh token is revoked")
}

// TestARefreshWhoseAnswerRedisDelayedIsNotAReuse: Redis stalls (a slow
// script, a fork) past both of go-redis's attempts at a rotation, then runs
// them. The service asks once more, the same rotation, and gets the answer
// of the one that ran: the refresh succeeds and the login lives. Answered
// 503, the client's retry with its now used refresh token would have been a
// reuse, revoking the login. (A stall longer than that retry still ends so:
// see SECURITY.md.)
func TestARefreshWhoseAnswerRedisDelayedIsNotAReuse(t *testing.T) {
	server := redistest.Start(t)
	// Both connected before the fault, so that starting it costs no dial.
	busy := redis.NewClient(&redis.Options{Addr: server.Addr(), ReadTimeout: 5 * time.Second})
	t.Cleanup(func() { _ = busy.Close() })
	require.NoError(t, busy.Ping(context.Background()).Err())
	probe := redis.NewClient(&redis.Options{Addr: server.Addr(), MaxRetries: -1, ReadTimeout: 50 * time.Millisecond})
	t.Cleanup(func() { _ = probe.Close() })
	require.NoError(t, probe.Ping(context.Background()).Err())
	var armed atomic.Bool
	var rotations atomic.Int32
	r := faultyReplica(t, server.Addr(), &commandHook{before: func(cmd redis.Cmder) {
		if !rotation(cmd) {
			return
		}
		rotations.Add(1)
		if armed.CompareAndSwap(true, false) {
			go func() {
				// A 2.5 s busy script: Redis answers nothing meanwhile, then
				// runs what it was sent. The go-redis attempts time out at
				// 1 s and 2 s; the service's retry is answered.
				_ = busy.Eval(context.Background(), `local s = redis.call('TIME'); local e = s[1]*1000000 + s[2] + 2500000
					 while true do local n = redis.call('TIME'); if n[1]*1000000 + n[2] >= e then break end end
					 return 1`, nil).Err()
			}()
			waitBusy(t, probe)
		}
	}})
	warm := r.bearerLogin(t)
	status, _ := r.refresh(t, warm) // Redis learns the rotation script
	require.Equal(t, http.StatusOK, status)
	tok := r.bearerLogin(t)

	armed.Store(true)
	rotations.Store(0)
	status, next := r.refresh(t, tok)
	require.Equal(t, http.StatusOK, status, "the rotation Redis ran late is the answer")
	assert.Equal(t, int32(2), rotations.Load(), "the service asked twice")
	assert.Equal(t, http.StatusOK, r.ping(t, next.Access))
	status, _ = r.refresh(t, next)
	assert.Equal(t, http.StatusOK, status, "the login lives")
}

// waitBusy returns once Redis has stopped answering (the busy script runs):
// a PING that gets no answer within 50 ms. A fixed sleep here was too
// short on a loaded machine, and the rotation ran before the script.
func waitBusy(t *testing.T, probe *redis.Client) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Second)
	for time.Now().Before(deadline) {
		if probe.Ping(context.Background()).Err() != nil {
			return
		}
	}
	t.Error("Redis never got busy")
}
