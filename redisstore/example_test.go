package redisstore_test

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/tidegate/tidegate/bearer"
	"github.com/tidegate/tidegate/middleware"
	"github.com/tidegate/tidegate/redisstore"
)

func Example() {
	ctx := context.Background()
	// A replica's client: bound how long a request waits for Redis.
	client := redis.NewClient(&redis.Options{
		Addr:        cmp.Or(os.Getenv("TIDEGATE_REDIS_ADDR"), "localhost:6379"),
		DialTimeout: time.Second, ReadTimeout: time.Second, WriteTimeout: time.Second,
	})
	defer client.Close()
	prefix := redisstore.WithPrefix("example:" + middleware.NewToken()[:8] + ":")

	sessions, err := redisstore.NewSessionStore(client, prefix)
	if err != nil {
		panic(err)
	}
	token := middleware.NewToken()
	err = sessions.Create(ctx, middleware.DigestToken(token), middleware.Session{
		Subject: "alice", ExpiresAt: time.Now().Add(time.Hour),
	})
	fmt.Println("created:", err)
	s, err := sessions.Lookup(ctx, middleware.DigestToken(token))
	fmt.Println("looked up:", s.Subject, err)

	limiter, err := redisstore.NewLoginLimiter(client, middleware.LimiterPolicy{AccountAttempts: 1}, prefix)
	if err != nil {
		panic(err)
	}
	for range 2 {
		wait, err := limiter.Attempt(ctx, "alice", netip.MustParseAddr("192.0.2.1"))
		fmt.Println("throttled:", wait > 0, err)
	}

	// Logout everywhere: revoke in the store, then in every replica's cache.
	broadcaster, err := redisstore.NewBroadcaster(client, prefix)
	if err != nil {
		panic(err)
	}
	defer broadcaster.Close()
	fmt.Println("revoked:", sessions.RevokeSubject(ctx, "alice"))
	broadcaster.InvalidateSubject("alice")
	_, err = sessions.Lookup(ctx, middleware.DigestToken(token))
	fmt.Println("after logout:", err)
	// Output:
	// created: <nil>
	// looked up: alice <nil>
	// throttled: false <nil>
	// throttled: true <nil>
	// revoked: <nil>
	// after logout: tidegate: session not found
}

// ExampleRefreshStore rotates a refresh token on one replica and presents
// the used token again on another: the reuse is detected and the login's
// whole family revoked, everywhere.
func ExampleRefreshStore() {
	ctx := context.Background()
	replicaA := redis.NewClient(&redis.Options{Addr: cmp.Or(os.Getenv("TIDEGATE_REDIS_ADDR"), "localhost:6379")})
	defer replicaA.Close()
	replicaB := redis.NewClient(&redis.Options{Addr: cmp.Or(os.Getenv("TIDEGATE_REDIS_ADDR"), "localhost:6379")})
	defer replicaB.Close()
	prefix := redisstore.WithPrefix("example:" + middleware.NewToken()[:8] + ":")
	a, err := redisstore.NewRefreshStore(replicaA, prefix)
	if err != nil {
		panic(err)
	}
	b, err := redisstore.NewRefreshStore(replicaB, prefix)
	if err != nil {
		panic(err)
	}

	now := time.Now()
	login := bearer.Family{ID: "sid-1", Subject: "alice", CreatedAt: now, ExpiresAt: now.Add(30 * 24 * time.Hour)}
	first, second := middleware.NewToken(), middleware.NewToken()
	fmt.Println("login:", a.Create(ctx, login, middleware.DigestToken(first), now.Add(8*time.Hour)))

	refresh := func(s *redisstore.RefreshStore, presented, next string) error {
		r := bearer.Rotation{Presented: middleware.DigestToken(presented), Family: "sid-1", Subject: "alice", Now: time.Now()}
		if next != "" {
			r.Next, r.NextExpiresAt = middleware.DigestToken(next), time.Now().Add(8*time.Hour)
		}
		_, err := s.Rotate(ctx, r)
		return err
	}
	fmt.Println("refresh on A:", refresh(a, first, second))
	fmt.Println("replay on B:", refresh(b, first, middleware.NewToken()))
	fmt.Println("the new token on A:", refresh(a, second, ""))
	// Output:
	// login: <nil>
	// refresh on A: <nil>
	// replay on B: bearer: refresh token reused
	// the new token on A: bearer: refresh token reused
}

// At start, refuse a Redis that may evict the stores' keys.
func ExampleCheckEvictionPolicy() {
	client := redis.NewClient(&redis.Options{Addr: cmp.Or(os.Getenv("TIDEGATE_REDIS_ADDR"), "localhost:6379")})
	defer client.Close()
	err := redisstore.CheckEvictionPolicy(context.Background(), client)
	switch {
	case errors.Is(err, redisstore.ErrEvictingPolicy):
		fmt.Println("refusing to start:", err)
	case err != nil:
		fmt.Println("check maxmemory-policy by other means:", err)
	default:
		fmt.Println("maxmemory-policy is noeviction")
	}
	// Output: maxmemory-policy is noeviction
}
