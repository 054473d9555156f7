package redistest

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// mainAddr is the server Main started for this test binary ("" if none).
var mainAddr string

// Main runs a test binary's tests with one Redis for all of them: the one
// named by TIDEGATE_REDIS_ADDR, else a private redis-server started here and
// stopped after the tests. Use it from TestMain:
//
//	func TestMain(m *testing.M) { os.Exit(redistest.Main(m)) }
//
// It also silences go-redis's own logger, whose dial failures would flood
// the output of the outage tests; set TIDEGATE_REDIS_VERBOSE=1 to keep it.
func Main(m *testing.M) int {
	if os.Getenv("TIDEGATE_REDIS_VERBOSE") == "" {
		redis.SetLogger(quiet{})
	}
	if os.Getenv(EnvAddr) != "" {
		return m.Run()
	}
	dir, err := os.MkdirTemp("", "tidegate-redis-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "redistest:", err)
		return 1
	}
	defer os.RemoveAll(dir)
	s, err := Launch(dir)
	if err != nil {
		fmt.Fprintln(os.Stderr, "redistest:", err)
		return 1
	}
	defer s.Stop()
	mainAddr = s.Addr()
	// Example functions, which users copy, cannot import this package:
	// they read the address from the environment, as a user's program would.
	if err := os.Setenv(EnvAddr, mainAddr); err != nil {
		fmt.Fprintln(os.Stderr, "redistest:", err)
		return 1
	}
	return m.Run()
}

// MainAddr returns the address of the Redis Main provides: the one named
// by TIDEGATE_REDIS_ADDR, else the one Main started, else "" (for code
// without a testing.TB, such as Example functions).
func MainAddr() string {
	if addr := os.Getenv(EnvAddr); addr != "" {
		return addr
	}
	return mainAddr
}

// SharedAddr returns the address of a Redis shared by many tests: the one
// named by TIDEGATE_REDIS_ADDR, else the one Main started, else a private
// server started for t. Tests sharing it must keep to their own prefix
// (see Shared) and must never stop it.
func SharedAddr(t testing.TB) string {
	t.Helper()
	if addr := os.Getenv(EnvAddr); addr != "" {
		return addr
	}
	if mainAddr != "" {
		return mainAddr
	}
	return Start(t).Addr()
}

// Target is a Redis a test may use: a client, and the prefix every key the
// test writes must start with.
type Target struct {
	// Addr is the server's host:port.
	Addr string
	// Client is a client of its own, closed when the test ends.
	Client *redis.Client
	// Prefix is unique to the test; its keys are deleted when the test ends.
	Prefix string
}

// Shared returns a Target on the shared Redis (see SharedAddr) with a key
// prefix unique to t.
func Shared(t testing.TB) *Target {
	t.Helper()
	addr := SharedAddr(t)
	tg := &Target{Addr: addr, Client: redis.NewClient(ClientOptions(addr)), Prefix: UniquePrefix(t.Name())}
	if err := tg.Client.Ping(context.Background()).Err(); err != nil {
		_ = tg.Client.Close()
		t.Fatalf("redistest: Redis at %s does not answer: %v (is %s right? ./scripts/test.sh starts one)", addr, err, EnvAddr)
	}
	t.Cleanup(func() {
		deletePrefix(tg.Client, tg.Prefix)
		_ = tg.Client.Close()
	})
	return tg
}

// NewClient returns a client of addr with ClientOptions, closed when t ends.
func NewClient(t testing.TB, addr string) *redis.Client {
	c := redis.NewClient(ClientOptions(addr))
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// ClientOptions returns client options for tests: short timeouts and few
// retries, so that an unreachable server is reported within about a second.
func ClientOptions(addr string) *redis.Options {
	return &redis.Options{
		Addr:            addr,
		DialTimeout:     300 * time.Millisecond,
		ReadTimeout:     time.Second,
		WriteTimeout:    time.Second,
		PoolTimeout:     time.Second,
		MaxRetries:      1,
		MinRetryBackoff: 5 * time.Millisecond,
		MaxRetryBackoff: 20 * time.Millisecond,
		DialerRetries:   1,
		DisableIdentity: true,
	}
}

// deletePrefix deletes every key starting with prefix, best effort.
func deletePrefix(c *redis.Client, prefix string) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	iter := c.Scan(ctx, 0, prefix+"*", 1000).Iterator()
	var keys []string
	for iter.Next(ctx) {
		keys = append(keys, iter.Val())
	}
	for len(keys) > 0 {
		n := min(len(keys), 500)
		_ = c.Unlink(ctx, keys[:n]...).Err()
		keys = keys[n:]
	}
}

// quiet is a go-redis logger that drops everything.
type quiet struct{}

func (quiet) Printf(context.Context, string, ...any) {}
