package redisstore_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tidegate/tidegate/internal/redistest"
	"github.com/tidegate/tidegate/internal/storetest"
	"github.com/tidegate/tidegate/middleware"
	"github.com/tidegate/tidegate/redisstore"
	sessionkind "github.com/tidegate/tidegate/session"
)

// heardCache forwards to a real cache and reports the subjects it heard.
type heardCache struct {
	*middleware.Cache
	mu    sync.Mutex
	heard map[string]chan struct{}
}

func (h *heardCache) InvalidateSubject(s string) {
	h.Cache.InvalidateSubject(s)
	h.mu.Lock()
	defer h.mu.Unlock()
	if ch, ok := h.heard[s]; ok {
		close(ch)
		delete(h.heard, s)
	}
}

func (h *heardCache) waitFor(s string) chan struct{} {
	h.mu.Lock()
	defer h.mu.Unlock()
	ch := make(chan struct{})
	h.heard[s] = ch
	return ch
}

// gatedVerifier looks the session up, then waits for the gate (once).
type gatedVerifier struct {
	next     middleware.Verifier
	once     sync.Once
	looked   chan struct{}
	released chan struct{}
}

func (g *gatedVerifier) Verify(ctx context.Context, c middleware.Credential) (middleware.Principal, error) {
	p, err := g.next.Verify(ctx, c)
	g.once.Do(func() {
		close(g.looked)
		<-g.released
	})
	return p, err
}

// A verification on replica B that read Redis before replica A revoked the
// session must not be cached once B heard the revocation.
func TestReplicaInFlightVerificationAfterNotice(t *testing.T) {
	tg := redistest.Shared(t)
	store, err := redisstore.NewSessionStore(tg.Client, redisstore.WithPrefix(tg.Prefix))
	require.NoError(t, err)
	token := middleware.NewToken()
	now := time.Now()
	require.NoError(t, store.Create(ctx, middleware.DigestToken(token), middleware.Session{
		Subject: "alice", IssuedAt: now, ExpiresAt: now.Add(time.Hour)}))

	sv, err := sessionkind.NewStoreVerifier(store)
	require.NoError(t, err)
	gv := &gatedVerifier{next: sv, looked: make(chan struct{}), released: make(chan struct{})}
	cacheB, err := middleware.NewCache(gv, time.Minute)
	require.NoError(t, err)
	t.Cleanup(func() { _ = cacheB.Close() })
	hb := &heardCache{Cache: cacheB, heard: map[string]chan struct{}{}}

	a := newReplica(t, tg.Client, tg.Prefix)
	bB, err := redisstore.NewBroadcaster(redistest.NewClient(t, tg.Addr), redisstore.WithPrefix(tg.Prefix))
	require.NoError(t, err)
	t.Cleanup(func() { _ = bB.Close() })
	require.NoError(t, bB.Register(hb))
	a.requireSubscribed(t)
	require.Eventually(t, bB.Subscribed, eventual, tick)

	cred := middleware.Credential{Kind: sessionkind.Kind, Token: token}
	first := make(chan error, 1)
	go func() { _, err := cacheB.Verify(ctx, cred); first <- err }()
	<-gv.looked // B read Redis: the session is live

	heard := hb.waitFor("alice")
	require.NoError(t, store.Revoke(ctx, middleware.DigestToken(token)))
	a.b.InvalidateSubject("alice")
	<-heard // B heard the revocation
	close(gv.released)
	require.NoError(t, <-first, "the request in flight before the notice may pass")

	_, err = cacheB.Verify(ctx, cred)
	require.True(t, errors.Is(err, middleware.ErrInvalidCredential), "revoked session accepted on B after the notice: %v", err)
}

// countingVerifier accepts every credential and counts the calls.
type countingVerifier struct {
	mu sync.Mutex
	n  int
}

func (v *countingVerifier) Verify(context.Context, middleware.Credential) (middleware.Principal, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.n++
	return middleware.Principal{Subject: "alice"}, nil
}

func (v *countingVerifier) calls() int {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.n
}

// A cache registered with two Broadcasters (two Redis servers, for example
// its own and an issuer's) must stay capped while either cannot hear
// revocations: the other one coming back up must not lift the cap. The
// cache runs on a fake clock, so the entry's age is set, not slept;
// Eventually only waits for the subscriptions' state.
func TestReplicaCapSurvivesOtherBroadcasterRecovering(t *testing.T) {
	opts := []redisstore.Option{
		redisstore.WithFallbackTTL(fallback),
		redisstore.WithHealthInterval(100 * time.Millisecond),
		redisstore.WithReconnectBackoff(5*time.Millisecond, 50*time.Millisecond),
		redisstore.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))),
	}
	s1, s2 := redistest.Start(t), redistest.Start(t)
	c2 := redistest.NewClient(t, s2.Addr())
	b1, err := redisstore.NewBroadcaster(redistest.NewClient(t, s1.Addr()), opts...)
	require.NoError(t, err)
	t.Cleanup(func() { _ = b1.Close() })
	b2, err := redisstore.NewBroadcaster(c2, opts...)
	require.NoError(t, err)
	t.Cleanup(func() { _ = b2.Close() })

	v := &countingVerifier{}
	clock := storetest.NewClock(storetest.Start)
	cache, err := middleware.NewCache(v, time.Minute, middleware.WithClock(clock.Now))
	require.NoError(t, err)
	t.Cleanup(func() { _ = cache.Close() })
	require.NoError(t, b1.Register(cache))
	require.NoError(t, b2.Register(cache))
	require.Eventually(t, func() bool { return b1.Subscribed() && b2.Subscribed() }, eventual, tick)

	s1.Stop() // b1 can no longer hear revocations
	require.Eventually(t, func() bool { return !b1.Subscribed() }, eventual, tick)

	// b2's subscription drops and comes back while b1 is still down.
	require.NoError(t, c2.ClientKillByFilter(ctx, "TYPE", "pubsub").Err())
	require.Eventually(t, func() bool { return !b2.Subscribed() }, eventual, tick)
	require.Eventually(t, b2.Subscribed, eventual, tick)
	require.False(t, b1.Subscribed())

	cred := middleware.Credential{Kind: "session", Token: "tok"}
	_, err = cache.Verify(ctx, cred)
	require.NoError(t, err)
	require.Equal(t, 1, v.calls())

	clock.Advance(fallback - time.Millisecond)
	_, err = cache.Verify(ctx, cred)
	require.NoError(t, err)
	require.Equal(t, 1, v.calls(), "an entry younger than the fallback cap is a hit")

	clock.Advance(time.Millisecond) // the entry is now as old as the fallback cap
	_, err = cache.Verify(ctx, cred)
	require.NoError(t, err)
	require.Equal(t, 2, v.calls(), "an entry older than b1's fallback cap was served from the cache while b1 cannot hear revocations")
}
