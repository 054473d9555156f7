package main

import (
	"bytes"
	"context"
	"log/slog"
	"net"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tidegate/tidegate/internal/redistest"
	"github.com/tidegate/tidegate/redisstore"
)

// TestEvictingRedisIsRefusedAtStart: a Redis that may evict keys could
// drop a revocation and bring a revoked credential back, so the server
// refuses it at start, naming the flag and the setting to change.
func TestEvictingRedisIsRefusedAtStart(t *testing.T) {
	srv := redistest.Start(t)
	require.NoError(t, redistest.NewClient(t, srv.Addr()).ConfigSet(context.Background(), "maxmemory-policy", "allkeys-lru").Err())

	err := refusedAtStart(t, "-addr", "127.0.0.1:0", "-redis", srv.Addr())
	require.ErrorIs(t, err, redisstore.ErrEvictingPolicy)
	assert.ErrorContains(t, err, "-redis "+srv.Addr())
	assert.ErrorContains(t, err, "noeviction")
}

// TestUncheckableRedisIsWarnedAbout: a Redis whose policy cannot be read
// (here, not reachable yet) does not stop the server, which answers 503
// until Redis is back; the log says what to check.
func TestUncheckableRedisIsWarnedAbout(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	client := redis.NewClient(&redis.Options{Addr: addr, DialTimeout: time.Second, MaxRetries: -1})
	t.Cleanup(func() { _ = client.Close() })
	var logs bytes.Buffer

	require.NoError(t, checkRedis(client, slog.New(slog.NewTextHandler(&logs, nil))))
	assert.Contains(t, logs.String(), "level=WARN")
	assert.Contains(t, logs.String(), "maxmemory-policy")
}
