package redisstore_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tidegate/tidegate/internal/redistest"
	"github.com/tidegate/tidegate/middleware"
	"github.com/tidegate/tidegate/redisstore"
)

// fakeCache records what a Broadcaster does to a local cache.
type fakeCache struct {
	mu       sync.Mutex
	subjects []string
	creds    []middleware.Credential
	caps     []time.Duration       // the cap in force after each change, 0 for none
	held     map[int]time.Duration // the caps held, by holder
	holders  int                   // the last holder's number
	purges   int
}

var _ redisstore.LocalCache = (*fakeCache)(nil)

func (f *fakeCache) Invalidate(c middleware.Credential) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.creds = append(f.creds, c)
}

func (f *fakeCache) InvalidateSubject(s string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.subjects = append(f.subjects, s)
}

// AddTTLCap holds d until its remove, as middleware.Cache does.
func (f *fakeCache) AddTTLCap(d time.Duration) (remove func()) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.held == nil {
		f.held = map[int]time.Duration{}
	}
	f.holders++
	holder := f.holders
	f.held[holder] = d
	f.caps = append(f.caps, f.cappedLocked())
	return func() {
		f.mu.Lock()
		defer f.mu.Unlock()
		delete(f.held, holder)
		f.caps = append(f.caps, f.cappedLocked())
	}
}

func (f *fakeCache) Purge() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.purges++
}

func (f *fakeCache) got(subject string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Contains(f.subjects, subject)
}

// capped returns the cap in force: the smallest held, 0 when none.
func (f *fakeCache) capped() time.Duration {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.cappedLocked()
}

func (f *fakeCache) cappedLocked() time.Duration {
	var limit time.Duration
	for _, d := range f.held {
		if limit == 0 || d < limit {
			limit = d
		}
	}
	return limit
}

func (f *fakeCache) purged() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.purges
}

func (f *fakeCache) credentials() []middleware.Credential {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.creds)
}

const (
	fallback = 1500 * time.Millisecond
	eventual = 5 * time.Second
	tick     = 5 * time.Millisecond
)

// replica is one Broadcaster with one registered fake cache.
type replica struct {
	b     *redisstore.Broadcaster
	cache *fakeCache
}

func newReplica(t *testing.T, client redis.UniversalClient, prefix string, opts ...redisstore.Option) replica {
	t.Helper()
	opts = append([]redisstore.Option{
		redisstore.WithPrefix(prefix),
		redisstore.WithFallbackTTL(fallback),
		redisstore.WithHealthInterval(100 * time.Millisecond),
		redisstore.WithReconnectBackoff(5*time.Millisecond, 50*time.Millisecond),
		redisstore.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))),
	}, opts...)
	b, err := redisstore.NewBroadcaster(client, opts...)
	require.NoError(t, err)
	t.Cleanup(func() { _ = b.Close() })
	r := replica{b: b, cache: &fakeCache{}}
	require.NoError(t, b.Register(r.cache))
	return r
}

func (r replica) requireSubscribed(t *testing.T) {
	t.Helper()
	require.Eventually(t, r.b.Subscribed, eventual, tick, "subscribed")
	assert.Zero(t, r.cache.capped(), "a subscribed replica's caches are uncapped")
}

func TestBroadcastReachesOtherReplicas(t *testing.T) {
	tg := redistest.Shared(t)
	a := newReplica(t, tg.Client, tg.Prefix)
	b := newReplica(t, redistest.NewClient(t, tg.Addr), tg.Prefix)
	a.requireSubscribed(t)
	b.requireSubscribed(t)

	subjects := []string{"alice", "a:b", "", "ünï\x00code", strings.Repeat("x", 10_000)}
	for _, s := range subjects {
		a.b.InvalidateSubject(s)
		assert.True(t, a.cache.got(s), "the local cache is invalidated at once")
	}
	for _, s := range subjects {
		require.Eventually(t, func() bool { return b.cache.got(s) }, eventual, tick, "replica B evicts %q", s[:min(len(s), 20)])
	}
}

func TestInvalidateCredentialStaysLocal(t *testing.T) {
	tg := redistest.Shared(t)
	a := newReplica(t, tg.Client, tg.Prefix)
	b := newReplica(t, redistest.NewClient(t, tg.Addr), tg.Prefix)
	a.requireSubscribed(t)
	b.requireSubscribed(t)

	cred := middleware.Credential{Kind: "session", Token: "secret-token"}
	a.b.Invalidate(cred)
	assert.Equal(t, []middleware.Credential{cred}, a.cache.credentials())
	a.b.InvalidateSubject("marker") // pub/sub is ordered: anything sent before it arrives first
	require.Eventually(t, func() bool { return b.cache.got("marker") }, eventual, tick)
	assert.Empty(t, b.cache.credentials(), "credentials never travel")
}

func TestMessagesNameSubjectsOnly(t *testing.T) {
	tg := redistest.Shared(t)
	sub := tg.Client.Subscribe(ctx, tg.Prefix+"revocations")
	t.Cleanup(func() { _ = sub.Close() })
	_, err := sub.Receive(ctx) // the subscription's confirmation
	require.NoError(t, err)
	a := newReplica(t, tg.Client, tg.Prefix)
	a.b.Invalidate(middleware.Credential{Kind: "session", Token: "secret-token"})
	a.b.InvalidateSubject("alice")
	msg, err := sub.ReceiveMessage(ctx)
	require.NoError(t, err)
	assert.Equal(t, "sub:alice", msg.Payload, "the first message is the subject's: Invalidate published nothing")
}

func TestUnreadableMessagePurges(t *testing.T) {
	tg := redistest.Shared(t)
	b := newReplica(t, tg.Client, tg.Prefix)
	b.requireSubscribed(t)
	before := b.cache.purged()
	require.NoError(t, tg.Client.Publish(ctx, tg.Prefix+"revocations", "v2:something-new").Err())
	require.Eventually(t, func() bool { return b.cache.purged() > before }, eventual, tick)
}

func TestPurgeReachesOtherReplicas(t *testing.T) {
	tg := redistest.Shared(t)
	a := newReplica(t, tg.Client, tg.Prefix)
	b := newReplica(t, redistest.NewClient(t, tg.Addr), tg.Prefix)
	a.requireSubscribed(t)
	b.requireSubscribed(t)
	beforeA, beforeB := a.cache.purged(), b.cache.purged()
	a.b.Purge()
	assert.Greater(t, a.cache.purged(), beforeA, "the local caches are purged at once")
	require.Eventually(t, func() bool { return b.cache.purged() > beforeB }, eventual, tick, "replica B purges")
	assert.Zero(t, b.cache.capped(), "a purge is not a loss of the subscription")
}

// publishGate is a go-redis hook that, while shut, fails every PUBLISH
// with an error, as a Redis that takes no writes does (CLIENT PAUSE WRITE
// during a failover, a replica promoted late), while the subscriptions,
// whose PINGs are not writes, stay up.
type publishGate struct {
	shut   atomic.Bool
	failed atomic.Int32 // PUBLISHes refused so far
}

var errWritesPaused = errors.New("test: Redis takes no writes")

func gatedClient(t *testing.T, addr string) (*redis.Client, *publishGate) {
	t.Helper()
	client := redistest.NewClient(t, addr)
	gate := &publishGate{}
	client.AddHook(gate)
	return client, gate
}

func (g *publishGate) DialHook(next redis.DialHook) redis.DialHook { return next }

func (g *publishGate) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}

func (g *publishGate) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		if cmd.Name() == "publish" && g.shut.Load() {
			g.failed.Add(1)
			cmd.SetErr(errWritesPaused)
			return errWritesPaused
		}
		return next(ctx, cmd)
	}
}

// A revocation whose PUBLISH failed reaches the other replicas once Redis
// takes writes again, although their subscriptions never dropped (so they
// never capped their caches).
func TestFailedPublishReachesOtherReplicasLater(t *testing.T) {
	cases := map[string]struct {
		revoke  func(*redisstore.Broadcaster)
		reached func(*fakeCache, int) bool
	}{
		"InvalidateSubject": {
			revoke:  func(b *redisstore.Broadcaster) { b.InvalidateSubject("alice") },
			reached: func(c *fakeCache, _ int) bool { return c.got("alice") },
		},
		"Purge": {
			revoke:  func(b *redisstore.Broadcaster) { b.Purge() },
			reached: func(c *fakeCache, before int) bool { return c.purged() > before },
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			tg := redistest.Shared(t)
			client, gate := gatedClient(t, tg.Addr)
			a := newReplica(t, client, tg.Prefix)
			b := newReplica(t, redistest.NewClient(t, tg.Addr), tg.Prefix)
			a.requireSubscribed(t)
			b.requireSubscribed(t)
			before := b.cache.purged()

			gate.shut.Store(true)
			tc.revoke(a.b)
			require.Eventually(t, func() bool { return gate.failed.Load() >= 3 }, eventual, tick,
				"A publishes again while Redis refuses")
			assert.False(t, tc.reached(b.cache, before), "nothing was published")
			assert.True(t, b.b.Subscribed(), "B's subscription is up: B is not capped")

			gate.shut.Store(false)
			require.Eventually(t, func() bool { return tc.reached(b.cache, before) }, eventual, tick,
				"B hears the revocation once Redis takes writes again")
		})
	}
}

// While Redis refuses writes, the pending messages are bounded: a purge
// stands for every message before it, and one message too many turns them
// all into a purge.
func TestPendingMessagesCoalesceIntoOnePurge(t *testing.T) {
	cases := map[string]func(*redisstore.Broadcaster){
		"a purge replaces them": func(b *redisstore.Broadcaster) {
			b.InvalidateSubject("alice")
			b.Purge()
		},
		"one too many": func(b *redisstore.Broadcaster) {
			for i := range redisstore.MaxPendingMessages + 1 {
				b.InvalidateSubject(fmt.Sprint("user-", i))
			}
		},
	}
	for name, revoke := range cases {
		t.Run(name, func(t *testing.T) {
			tg := redistest.Shared(t)
			sub := tg.Client.Subscribe(ctx, tg.Prefix+"revocations")
			t.Cleanup(func() { _ = sub.Close() })
			_, err := sub.Receive(ctx) // the subscription's confirmation
			require.NoError(t, err)
			client, gate := gatedClient(t, tg.Addr)
			a := newReplica(t, client, tg.Prefix)

			gate.shut.Store(true)
			revoke(a.b)
			gate.shut.Store(false)
			msg, err := sub.ReceiveMessage(ctx)
			require.NoError(t, err)
			assert.Equal(t, "purge", msg.Payload)
			a.b.InvalidateSubject("marker")
			msg, err = sub.ReceiveMessage(ctx)
			require.NoError(t, err)
			assert.Equal(t, "sub:marker", msg.Payload, "nothing but the purge was pending")
		})
	}
}

// Close tries once more to publish what is pending, and logs how many
// messages it dropped when that fails too.
func TestClosePublishesPendingMessagesOnce(t *testing.T) {
	for _, redisBack := range []bool{true, false} {
		t.Run(fmt.Sprint("Redis back: ", redisBack), func(t *testing.T) {
			tg := redistest.Shared(t)
			var logs bytes.Buffer
			var mu sync.Mutex
			logger := slog.New(slog.NewTextHandler(&lockedWriter{w: &logs, mu: &mu}, nil))
			client, gate := gatedClient(t, tg.Addr)
			// No retry before Close: the first would come an hour later
			// (the backoff and the fallback TTL both cap the wait).
			a := newReplica(t, client, tg.Prefix, redisstore.WithLogger(logger),
				redisstore.WithReconnectBackoff(time.Hour, time.Hour), redisstore.WithFallbackTTL(time.Hour))
			b := newReplica(t, redistest.NewClient(t, tg.Addr), tg.Prefix)
			b.requireSubscribed(t)

			gate.shut.Store(true)
			a.b.InvalidateSubject("leaving")
			gate.shut.Store(!redisBack)
			require.NoError(t, a.b.Close())
			mu.Lock()
			defer mu.Unlock()
			if redisBack {
				require.Eventually(t, func() bool { return b.cache.got("leaving") }, eventual, tick)
				assert.NotContains(t, logs.String(), "dropped")
				return
			}
			assert.EqualValues(t, 2, gate.failed.Load(), "one attempt, one last attempt")
			assert.Contains(t, logs.String(), "dropped=1")
			assert.NotContains(t, logs.String(), "leaving")
		})
	}
}

func TestChannelOption(t *testing.T) {
	tg := redistest.Shared(t)
	a := newReplica(t, tg.Client, tg.Prefix, redisstore.WithChannel(tg.Prefix+"custom"))
	b := newReplica(t, tg.Client, tg.Prefix, redisstore.WithChannel(tg.Prefix+"custom"))
	b.requireSubscribed(t)
	a.b.InvalidateSubject("alice")
	require.Eventually(t, func() bool { return b.cache.got("alice") }, eventual, tick)
}

func TestSubscriptionLossCapsThenRecovers(t *testing.T) {
	srv := redistest.Start(t)
	a := newReplica(t, redistest.NewClient(t, srv.Addr()), "app:")
	b := newReplica(t, redistest.NewClient(t, srv.Addr()), "app:")
	late := &fakeCache{}
	a.requireSubscribed(t)
	b.requireSubscribed(t)
	purges := b.cache.purged()

	srv.Stop()
	require.Eventually(t, func() bool { return !b.b.Subscribed() }, eventual, tick)
	assert.Equal(t, fallback, b.cache.capped(), "caches are capped while unsubscribed")
	require.NoError(t, b.b.Register(late))
	assert.Equal(t, fallback, late.capped(), "a cache registered during the outage is capped at once")
	a.b.InvalidateSubject("during-outage") // applied locally, published nowhere
	assert.True(t, a.cache.got("during-outage"))

	srv.Restart()
	b.requireSubscribed(t)
	assert.Greater(t, b.cache.purged(), purges, "messages missed while down are unknown: the caches are purged")
	assert.Zero(t, late.capped())
	a.requireSubscribed(t)
	require.Eventually(t, func() bool {
		a.b.InvalidateSubject("after") // A's client reconnects too
		return b.cache.got("after")
	}, eventual, 50*time.Millisecond, "messages flow again")
}

func TestSubscriptionKilledReconnects(t *testing.T) {
	tg := redistest.Shared(t)
	b := newReplica(t, tg.Client, tg.Prefix)
	b.requireSubscribed(t)
	purges := b.cache.purged()
	require.NoError(t, tg.Client.ClientKillByFilter(ctx, "TYPE", "pubsub").Err())
	require.Eventually(t, func() bool { return b.cache.purged() > purges && b.b.Subscribed() }, eventual, tick)
	b.cache.mu.Lock()
	caps := slices.Clone(b.cache.caps)
	b.cache.mu.Unlock()
	assert.Contains(t, caps, fallback, "capped while resubscribing")
	assert.Zero(t, caps[len(caps)-1], "uncapped after")
}

// A server that stops answering without closing the connection is noticed
// by the health ping.
func TestSilentSubscriptionIsDown(t *testing.T) {
	srv := redistest.Start(t) // CLIENT PAUSE would stall other tests on a shared server
	client := redistest.NewClient(t, srv.Addr())
	b := newReplica(t, client, "app:")
	b.requireSubscribed(t)
	require.NoError(t, client.Do(ctx, "CLIENT", "PAUSE", 1500, "ALL").Err())
	require.Eventually(t, func() bool { return !b.b.Subscribed() }, time.Second, tick, "no pong within the health interval")
	assert.Equal(t, fallback, b.cache.capped())
	b.requireSubscribed(t) // the pause ends
}

// broadcasterGoroutines counts the Broadcasters' goroutines: two each.
func broadcasterGoroutines() int {
	buf := make([]byte, 1<<20)
	n := runtime.Stack(buf, true)
	return bytes.Count(buf[:n], []byte("redisstore.(*Broadcaster).run")) +
		bytes.Count(buf[:n], []byte("redisstore.(*Broadcaster).republish"))
}

func TestCloseStopsEverything(t *testing.T) {
	tg := redistest.Shared(t)
	before := broadcasterGoroutines()
	b := newReplica(t, tg.Client, tg.Prefix)
	b.requireSubscribed(t)
	assert.Equal(t, before+2, broadcasterGoroutines())
	channel := tg.Prefix + "revocations"
	require.EqualValues(t, 1, tg.Client.PubSubNumSub(ctx, channel).Val()[channel])

	require.NoError(t, b.b.Close())
	require.Eventually(t, func() bool { return broadcasterGoroutines() == before }, eventual, tick, "Close stops the goroutine")
	assert.False(t, b.b.Subscribed())
	assert.Equal(t, fallback, b.cache.capped(), "a closed broadcaster hears nothing: caches stay capped")
	require.Eventually(t, func() bool { return tg.Client.PubSubNumSub(ctx, channel).Val()[channel] == 0 }, eventual, tick)
	require.NoError(t, b.b.Close(), "Close is idempotent")
	require.Error(t, b.b.Register(&fakeCache{}))
}

func TestCloseWhileRedisIsDown(t *testing.T) {
	srv := redistest.Start(t)
	before := broadcasterGoroutines()
	b := newReplica(t, redistest.NewClient(t, srv.Addr()), "app:", redisstore.WithReconnectBackoff(time.Second, time.Second))
	b.requireSubscribed(t)
	srv.Stop()
	require.Eventually(t, func() bool { return !b.b.Subscribed() }, eventual, tick)
	done := make(chan struct{})
	go func() {
		_ = b.b.Close()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(eventual):
		t.Fatal("Close hangs while Redis is down")
	}
	require.Eventually(t, func() bool { return broadcasterGoroutines() == before }, eventual, tick)
}

func TestBroadcasterValidates(t *testing.T) {
	tg := redistest.Shared(t)
	cases := map[string][]redisstore.Option{
		"WithClock does not apply":      {redisstore.WithClock(time.Now)},
		"fallback TTL must be positive": {redisstore.WithFallbackTTL(0)},
		"health interval":               {redisstore.WithHealthInterval(time.Millisecond)},
		"backoff":                       {redisstore.WithReconnectBackoff(time.Second, time.Millisecond)},
		"publish timeout":               {redisstore.WithPublishTimeout(0)},
		"logger":                        {redisstore.WithLogger(nil)},
		"channel":                       {redisstore.WithChannel("")},
	}
	for want, opts := range cases {
		_, err := redisstore.NewBroadcaster(tg.Client, opts...)
		require.ErrorContains(t, err, want)
	}
	_, err := redisstore.NewBroadcaster(nil)
	require.Error(t, err)
	b, err := redisstore.NewBroadcaster(tg.Client, redisstore.WithPrefix(tg.Prefix))
	require.NoError(t, err)
	t.Cleanup(func() { _ = b.Close() })
	require.Error(t, b.Register(nil))
	require.Error(t, b.Register((*middleware.Cache)(nil)), "a nil cache pointer")
}

func TestPublishFailureIsLoggedWithoutSubject(t *testing.T) {
	srv := redistest.Start(t)
	var logs bytes.Buffer
	var mu sync.Mutex
	logger := slog.New(slog.NewTextHandler(&lockedWriter{w: &logs, mu: &mu}, nil))
	a := newReplica(t, redistest.NewClient(t, srv.Addr()), "app:", redisstore.WithLogger(logger))
	srv.Stop()
	a.b.InvalidateSubject("alice-secret-subject")
	assert.True(t, a.cache.got("alice-secret-subject"), "the local eviction happens whatever Redis does")
	mu.Lock()
	defer mu.Unlock()
	assert.Contains(t, logs.String(), "revocation not published")
	assert.NotContains(t, logs.String(), "alice-secret-subject")
	assert.NotContains(t, logs.String(), "connection refused", "library error text is not logged")
}

type lockedWriter struct {
	w  io.Writer
	mu *sync.Mutex
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// TestRepublishWaitIsCappedByFallbackTTL: the wait between attempts to
// publish a message again is capped by the fallback TTL from the first
// attempt on, even with a minimum reconnect backoff above it.
func TestRepublishWaitIsCappedByFallbackTTL(t *testing.T) {
	tg := redistest.Shared(t)
	client, gate := gatedClient(t, tg.Addr)
	const fallback = 200 * time.Millisecond
	a := newReplica(t, client, tg.Prefix, redisstore.WithFallbackTTL(fallback),
		redisstore.WithReconnectBackoff(time.Minute, time.Minute))
	b := newReplica(t, redistest.NewClient(t, tg.Addr), tg.Prefix)
	a.requireSubscribed(t)
	b.requireSubscribed(t)

	gate.shut.Store(true)
	a.b.InvalidateSubject("alice")
	gate.shut.Store(false) // Redis takes writes again at once
	require.Eventually(t, func() bool { return b.cache.got("alice") }, 5*fallback, tick,
		"B hears the revocation within the fallback TTL of Redis taking writes again")
}

// TestRegisterPurgesWhatTheCacheHeldBefore: a cache that served requests
// before it was registered never heard the revocations published
// meanwhile, so Register purges it, also when the subscription is up (and
// no cap will make its old entries verify again).
func TestRegisterPurgesWhatTheCacheHeldBefore(t *testing.T) {
	tg := redistest.Shared(t)
	r := newReplica(t, tg.Client, tg.Prefix)
	r.requireSubscribed(t)
	late := &fakeCache{}
	require.NoError(t, r.b.Register(late))
	assert.Equal(t, 1, late.purged(), "registered while subscribed")
}
