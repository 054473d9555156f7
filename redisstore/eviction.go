package redisstore

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/redis/go-redis/v9"

	"github.com/tidegate/tidegate/internal/nilness"
)

// ErrEvictingPolicy reports a Redis whose maxmemory-policy lets it evict
// keys that tidegate's stores hold (see CheckEvictionPolicy).
var ErrEvictingPolicy = errors.New("redisstore: Redis may evict tidegate's keys: set maxmemory-policy noeviction")

// CheckEvictionPolicy asks Redis for its maxmemory-policy and returns an
// error wrapping ErrEvictingPolicy, naming the policy, unless it is
// noeviction, Redis's default. Call it at start, once the client can reach
// Redis.
//
// It asks every server the client knows: every node of a cluster that
// CLUSTER SLOTS lists, replicas included, and every shard a ring was built
// with (a shard the ring has marked down is an error: its policy went
// unread); the one server of any other client. With several nodes, every
// node's error is returned, joined, so an evicting node is reported
// whatever the others answer. A Sentinel (failover) client talks to the
// current master only, so set the same policy on every replica Sentinel
// may promote, and check them yourself.
//
// The stores rely on noeviction: Redis evicting a key when it runs out of
// memory fails open where a restart fails safe, because it drops one key
// and keeps the others. An evicted revocation lets a revoked access token
// in again; an evicted subject index makes RevokeSubject (a password
// change, a disabled account) miss the sessions and refresh tokens it
// lists; an evicted used refresh token lets its reuse go undetected, so a
// thief who refreshed first keeps the login (RFC 9700 §4.14.2); an evicted
// throttle count lets a password guesser go on. With noeviction, Redis
// refuses writes when full, and the stores answer 503.
//
// Any other error (no client, the CONFIG command refused, as on some
// managed Redis services, or Redis unreachable) is returned as it is: the
// policy could not be read, so check it by other means.
func CheckEvictionPolicy(ctx context.Context, client redis.UniversalClient) error {
	if nilness.Is(client) {
		return errors.New("redisstore: CheckEvictionPolicy needs a client")
	}
	switch c := client.(type) {
	case *redis.ClusterClient:
		return checkEachNode(ctx, c.ForEachShard, -1)
	case *redis.Ring:
		// Len counts live shards only: the shards the ring was built with.
		return checkEachNode(ctx, c.ForEachShard, len(c.Options().Addrs))
	}
	return checkNode(ctx, client)
}

// checkEachNode runs checkNode on every node forEach visits and joins all
// their errors, so that an evicting node is reported whatever the others
// answer (forEach keeps only the first error to arrive: a node refusing
// CONFIG hid an evicting one half the time). want, unless negative, is how
// many nodes there are: a Ring's forEach skips the shards it has marked
// down, whose policy then goes unread.
func checkEachNode(ctx context.Context, forEach func(context.Context, func(context.Context, *redis.Client) error) error, want int) error {
	var (
		mu    sync.Mutex
		errs  []error
		asked int
	)
	err := forEach(ctx, func(ctx context.Context, node *redis.Client) error {
		err := checkNode(ctx, node)
		mu.Lock()
		defer mu.Unlock()
		asked++
		if err != nil {
			errs = append(errs, err)
		}
		return nil
	})
	if err != nil {
		errs = append(errs, err)
	}
	if want >= 0 && asked < want {
		errs = append(errs, fmt.Errorf("redisstore: %d of %d ring shards are down: their maxmemory-policy was not read", want-asked, want))
	}
	return errors.Join(errs...)
}

// checkNode checks the maxmemory-policy of the server client talks to.
func checkNode(ctx context.Context, client redis.Cmdable) error {
	config, err := client.ConfigGet(ctx, "maxmemory-policy").Result()
	if err != nil {
		return fmt.Errorf("redisstore: reading Redis's maxmemory-policy: %w", err)
	}
	policy, ok := config["maxmemory-policy"]
	if !ok {
		return errors.New("redisstore: Redis did not report its maxmemory-policy")
	}
	if !strings.EqualFold(policy, "noeviction") {
		return fmt.Errorf("%w (it is %q)", ErrEvictingPolicy, policy)
	}
	return nil
}
