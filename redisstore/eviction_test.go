package redisstore_test

import (
	"context"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tidegate/tidegate/internal/redistest"
	"github.com/tidegate/tidegate/redisstore"
)

// TestCheckEvictionPolicy: noeviction passes; every policy that may evict
// a key is ErrEvictingPolicy, naming the policy.
func TestCheckEvictionPolicy(t *testing.T) {
	client := redistest.NewClient(t, redistest.Start(t).Addr())
	for _, policy := range []string{"allkeys-lru", "volatile-lru", "allkeys-lfu", "volatile-ttl", "allkeys-random"} {
		t.Run(policy, func(t *testing.T) {
			require.NoError(t, client.ConfigSet(ctx, "maxmemory-policy", policy).Err())
			err := redisstore.CheckEvictionPolicy(ctx, client)
			require.ErrorIs(t, err, redisstore.ErrEvictingPolicy)
			assert.Contains(t, err.Error(), policy)
		})
	}
	require.NoError(t, client.ConfigSet(ctx, "maxmemory-policy", "noeviction").Err())
	assert.NoError(t, redisstore.CheckEvictionPolicy(ctx, client))
}

// TestCheckEvictionPolicyChecksEveryClusterMaster: a cluster client's check
// reads each master's policy, not one node's.
func TestCheckEvictionPolicyChecksEveryClusterMaster(t *testing.T) {
	node := redistest.NewClient(t, redistest.Start(t, redistest.WithCluster()).Addr())
	require.NoError(t, node.Do(ctx, "CLUSTER", "ADDSLOTSRANGE", 0, 16383).Err())
	require.Eventually(t, func() bool {
		info, err := node.ClusterInfo(ctx).Result()
		return err == nil && strings.Contains(info, "cluster_state:ok")
	}, 10*time.Second, 10*time.Millisecond, "the one-node cluster never came up")
	cluster := redis.NewClusterClient(&redis.ClusterOptions{Addrs: []string{node.Options().Addr}})
	t.Cleanup(func() { _ = cluster.Close() })

	assert.NoError(t, redisstore.CheckEvictionPolicy(ctx, cluster))
	require.NoError(t, node.ConfigSet(ctx, "maxmemory-policy", "volatile-lfu").Err())
	assert.ErrorIs(t, redisstore.CheckEvictionPolicy(ctx, cluster), redisstore.ErrEvictingPolicy)
}

// TestCheckEvictionPolicyUnreadable: a policy that cannot be read (CONFIG
// denied, as managed services do; Redis unreachable; no client) is an
// error of its own, never a pass and never ErrEvictingPolicy.
func TestCheckEvictionPolicyUnreadable(t *testing.T) {
	addr := redistest.Start(t).Addr()
	admin := redistest.NewClient(t, addr)
	require.NoError(t, admin.Do(ctx, "ACL", "SETUSER", "app", "on", ">secret-pw", "~*", "+@all", "-config").Err())
	denied := redis.NewClient(&redis.Options{Addr: addr, Username: "app", Password: "secret-pw"})
	t.Cleanup(func() { _ = denied.Close() })

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	closedAddr := ln.Addr().String()
	require.NoError(t, ln.Close())
	unreachable := redis.NewClient(&redis.Options{Addr: closedAddr, MaxRetries: -1, DialTimeout: time.Second})
	t.Cleanup(func() { _ = unreachable.Close() })

	for name, client := range map[string]redis.UniversalClient{"CONFIG denied": denied, "unreachable": unreachable, "nil client": nil} {
		t.Run(name, func(t *testing.T) {
			err := redisstore.CheckEvictionPolicy(ctx, client)
			require.Error(t, err)
			assert.NotErrorIs(t, err, redisstore.ErrEvictingPolicy)
			assert.NotContains(t, err.Error(), "secret-pw")
		})
	}
}

// TestCheckEvictionPolicyChecksEveryRingShard: CONFIG GET has no key, so a
// ring sent it to one shard at random and passed half the time with one
// evicting shard.
func TestCheckEvictionPolicyChecksEveryRingShard(t *testing.T) {
	good, bad := redistest.Start(t), redistest.Start(t)
	require.NoError(t, redistest.NewClient(t, bad.Addr()).ConfigSet(ctx, "maxmemory-policy", "allkeys-lru").Err())
	ring := redis.NewRing(&redis.RingOptions{Addrs: map[string]string{"good": good.Addr(), "bad": bad.Addr()}})
	t.Cleanup(func() { _ = ring.Close() })
	for range 10 {
		require.ErrorIs(t, redisstore.CheckEvictionPolicy(ctx, ring), redisstore.ErrEvictingPolicy)
	}
}

// TestCheckEvictionPolicyTypedNilClient: a nil *redis.Client in the
// interface (a constructor's error ignored) is an error, not a panic.
func TestCheckEvictionPolicyTypedNilClient(t *testing.T) {
	for name, client := range map[string]redis.UniversalClient{
		"nil *redis.Client":        (*redis.Client)(nil),
		"nil *redis.ClusterClient": (*redis.ClusterClient)(nil),
		"nil *redis.Ring":          (*redis.Ring)(nil),
	} {
		t.Run(name, func(t *testing.T) {
			var err error
			require.NotPanics(t, func() { err = redisstore.CheckEvictionPolicy(ctx, client) })
			assert.Error(t, err)
			assert.NotErrorIs(t, err, redisstore.ErrEvictingPolicy)
		})
	}
}

// TestCheckEvictionPolicyReportsAnEvictingNodeWhateverTheOthersAnswer: of
// several nodes' errors, go-redis keeps the first to arrive; a node that
// refuses CONFIG hid an evicting one about half the time, and the example
// server, which only warns when the policy cannot be read, started.
func TestCheckEvictionPolicyReportsAnEvictingNodeWhateverTheOthersAnswer(t *testing.T) {
	evicting, denied := redistest.Start(t), redistest.Start(t)
	require.NoError(t, redistest.NewClient(t, evicting.Addr()).ConfigSet(ctx, "maxmemory-policy", "allkeys-lru").Err())
	require.NoError(t, redistest.NewClient(t, denied.Addr()).Do(ctx, "ACL", "SETUSER", "default", "-config").Err())
	ring := redis.NewRing(&redis.RingOptions{Addrs: map[string]string{"evicting": evicting.Addr(), "denied": denied.Addr()}})
	t.Cleanup(func() { _ = ring.Close() })
	for range 50 {
		require.ErrorIs(t, redisstore.CheckEvictionPolicy(ctx, ring), redisstore.ErrEvictingPolicy)
	}
}

// TestCheckEvictionPolicyCountsRingShardsThatAreDown: a Ring skips the
// shards its heartbeat marked down, so their policy was never read and the
// check passed, even with every shard down.
func TestCheckEvictionPolicyCountsRingShardsThatAreDown(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	down := ln.Addr().String()
	require.NoError(t, ln.Close())
	ring := redis.NewRing(&redis.RingOptions{
		Addrs:              map[string]string{"good": redistest.Start(t).Addr(), "down": down},
		HeartbeatFrequency: 10 * time.Millisecond, MaxRetries: -1, DialTimeout: 100 * time.Millisecond,
	})
	t.Cleanup(func() { _ = ring.Close() })
	liveShards := func() int32 {
		var n atomic.Int32 // ForEachShard calls on a goroutine per shard
		_ = ring.ForEachShard(ctx, func(context.Context, *redis.Client) error { n.Add(1); return nil })
		return n.Load()
	}
	require.Eventually(t, func() bool { return liveShards() == 1 }, 10*time.Second, 10*time.Millisecond,
		"the heartbeat marks the unreachable shard down")

	err = redisstore.CheckEvictionPolicy(ctx, ring)
	require.Error(t, err)
	assert.ErrorContains(t, err, "1 of 2 ring shards are down")
	assert.NotErrorIs(t, err, redisstore.ErrEvictingPolicy)
}
