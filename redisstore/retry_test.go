package redisstore_test

import (
	"io"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tidegate/tidegate/basicauth"
	"github.com/tidegate/tidegate/bearer"
	"github.com/tidegate/tidegate/internal/redistest"
	"github.com/tidegate/tidegate/middleware"
	"github.com/tidegate/tidegate/redisstore"
)

// lateProxy forwards TCP connections to Redis. Once delayed, it holds the
// next answer from Redis back for that long: a Redis (or a network) that
// answers late, after it has run the command. go-redis then gives up on the
// answer after its ReadTimeout and sends the command again on another
// connection, so that Redis runs it twice.
type lateProxy struct {
	ln    net.Listener
	delay atomic.Int64 // nanoseconds; taken by the next answer
	wg    sync.WaitGroup
}

func newLateProxy(t *testing.T, target string) *lateProxy {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	p := &lateProxy{ln: ln}
	p.wg.Add(1)
	go p.accept(target)
	t.Cleanup(func() { _ = ln.Close(); p.wg.Wait() })
	return p
}

func (p *lateProxy) accept(target string) {
	defer p.wg.Done()
	for {
		client, err := p.ln.Accept()
		if err != nil {
			return
		}
		server, err := net.Dial("tcp", target)
		if err != nil {
			_ = client.Close()
			continue
		}
		p.wg.Add(2)
		go func() { defer p.wg.Done(); _, _ = io.Copy(server, client); _ = server.Close() }()
		go func() { defer p.wg.Done(); p.answer(client, server); _ = client.Close() }()
	}
}

// answer copies Redis's answers to the client, holding back the first one
// after delay was set.
func (p *lateProxy) answer(client, server net.Conn) {
	buf := make([]byte, 64<<10)
	for {
		n, err := server.Read(buf)
		if n > 0 {
			if d := p.delay.Swap(0); d > 0 {
				time.Sleep(time.Duration(d))
			}
			if _, err := client.Write(buf[:n]); err != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// delayNextAnswer makes the next answer arrive after the client's
// ReadTimeout, so that go-redis sends that command again. Redis runs a
// script twice only if it knows it: go-redis sends EVALSHA first, which
// fails with NOSCRIPT, runs nothing and is answered EVAL. So each test does
// what it tests once before, on other keys.
func (p *lateProxy) delayNextAnswer() { p.delay.Store(int64(400 * time.Millisecond)) }

// retryingClient returns a client that reaches Redis through a lateProxy,
// with a ReadTimeout of 100 ms and go-redis's retries (one, as in
// redistest.ClientOptions; go-redis's default is three).
func retryingClient(t *testing.T) (*redis.Client, *lateProxy, string) {
	tg := redistest.Shared(t)
	proxy := newLateProxy(t, tg.Addr)
	opts := redistest.ClientOptions(proxy.ln.Addr().String())
	opts.ReadTimeout = 100 * time.Millisecond
	require.Positive(t, opts.MaxRetries, "the test needs go-redis to retry")
	client := redis.NewClient(opts)
	t.Cleanup(func() { _ = client.Close() })
	require.NoError(t, client.Ping(ctx).Err())
	return client, proxy, tg.Prefix
}

// retryingRefresh is a RefreshStore behind a lateProxy, with one family
// (login-1 of alice) whose tokens rotate(presented, next) rotates, and
// create creates with a first token.
type retryingRefresh struct {
	store *redisstore.RefreshStore
	proxy *lateProxy
	now   time.Time
	fam   bearer.Family
}

func newRetryingRefresh(t *testing.T) *retryingRefresh {
	client, proxy, prefix := retryingClient(t)
	s, err := redisstore.NewRefreshStore(client, redisstore.WithPrefix(prefix))
	require.NoError(t, err)
	now := time.Now()
	return &retryingRefresh{store: s, proxy: proxy, now: now,
		fam: bearer.Family{ID: "login-1", Subject: "alice", CreatedAt: now, ExpiresAt: now.Add(24 * time.Hour)}}
}

func (r *retryingRefresh) create(first string) error {
	return r.store.Create(ctx, r.fam, middleware.DigestToken(first), r.now.Add(time.Hour))
}

func (r *retryingRefresh) rotate(presented, next string) error {
	_, err := r.store.Rotate(ctx, bearer.Rotation{Presented: middleware.DigestToken(presented), Family: r.fam.ID,
		Subject: r.fam.Subject, Next: middleware.DigestToken(next), NextExpiresAt: r.now.Add(time.Hour), Now: r.now})
	return err
}

func TestRefreshRotationRunTwiceIsOneRotation(t *testing.T) {
	r := newRetryingRefresh(t)
	warm := bearer.Family{ID: "login-0", Subject: "bob", CreatedAt: r.now, ExpiresAt: r.now.Add(time.Hour)}
	require.NoError(t, r.store.Create(ctx, warm, middleware.DigestToken("warm"), r.now.Add(time.Hour)))
	_, err := r.store.Rotate(ctx, bearer.Rotation{Presented: middleware.DigestToken("warm"), Family: warm.ID,
		Subject: warm.Subject, Next: middleware.DigestToken("warm-2"), NextExpiresAt: r.now.Add(time.Hour), Now: r.now})
	require.NoError(t, err)

	r.proxy.delayNextAnswer()
	require.NoError(t, r.create("first"), "creating a family, run twice")
	r.proxy.delayNextAnswer()
	require.NoError(t, r.rotate("first", "next"), "one rotation whose answer came late, run twice")

	require.NoError(t, r.rotate("next", "third"), "the successor works: the login lives")
	assert.ErrorIs(t, r.rotate("first", "other"), bearer.ErrRefreshReused,
		"the used token presented by anyone else is still a reuse")
}

func TestSessionRotationRunTwiceIsOneRotation(t *testing.T) {
	client, proxy, prefix := retryingClient(t)
	s := newStore(t, client, redisstore.WithPrefix(prefix))
	now := time.Now()
	old, next := middleware.DigestToken("old"), middleware.DigestToken("next")
	require.NoError(t, s.Create(ctx, old, session("alice", now, time.Hour)))
	successor := session("alice", now, time.Hour)
	successor.Predecessor = old
	warm := middleware.DigestToken("warm")
	require.NoError(t, s.Create(ctx, warm, session("bob", now, time.Hour)))
	require.NoError(t, s.Rotate(ctx, warm, now, middleware.DigestToken("warm-2"), session("bob", now, time.Hour)))

	proxy.delayNextAnswer()
	require.NoError(t, s.Rotate(ctx, old, now, next, successor),
		"a rotation without grace whose answer came late, run twice")
	got, err := s.Lookup(ctx, next)
	require.NoError(t, err)
	assert.Equal(t, "alice", got.Subject)
	_, err = s.Lookup(ctx, old)
	assert.ErrorIs(t, err, middleware.ErrSessionNotFound, "old ended with the rotation")
	assert.ErrorIs(t, s.Rotate(ctx, old, now, middleware.DigestToken("other"), successor),
		middleware.ErrSessionNotFound, "old cannot be rotated again into another token")
}

func TestAppRotationRunTwiceIsOneRotation(t *testing.T) {
	client, proxy, prefix := retryingClient(t)
	r, err := redisstore.NewAppRegistry(client, redisstore.WithPrefix(prefix))
	require.NoError(t, err)
	spec := basicauth.AppSpec{ID: "app", Name: "App", AppToken: "0123456789abcdef0123456789abcdef",
		BackendToken: "fedcba9876543210fedcba9876543210fedcba987654"}
	require.NoError(t, r.Register(ctx, spec))
	warm := basicauth.AppSpec{ID: "warm", Name: "Warm", AppToken: "1123456789abcdef0123456789abcdef",
		BackendToken: "1edcba9876543210fedcba9876543210fedcba987654"}
	require.NoError(t, r.Register(ctx, warm))
	require.NoError(t, r.Rotate(ctx, warm.ID, basicauth.AppToken, middleware.DigestToken("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa")))
	const fresh = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"

	proxy.delayNextAnswer()
	require.NoError(t, r.Rotate(ctx, spec.ID, basicauth.AppToken, middleware.DigestToken(fresh)),
		"a rotation whose answer came late, run twice")
	app, err := r.Lookup(ctx, basicauth.AppToken, middleware.DigestToken(fresh))
	require.NoError(t, err, "the new token works")
	assert.Equal(t, spec.ID, app.ID)
	_, err = r.Lookup(ctx, basicauth.AppToken, middleware.DigestToken(spec.AppToken))
	assert.ErrorIs(t, err, basicauth.ErrAppNotFound, "the old one does not")
	assert.ErrorIs(t, r.Rotate(ctx, spec.ID, basicauth.AppToken, middleware.DigestToken(spec.BackendToken)),
		basicauth.ErrAppExists, "a digest in use as the other type is still refused")
}

// TestRefreshReuseRunTwiceIsStillAReuse: the reuse detection used to
// delete the family, so its second run found no family and answered
// "invalid", and bearer then did not revoke the login's access tokens (RFC
// 9700 §4.14.2).
func TestRefreshReuseRunTwiceIsStillAReuse(t *testing.T) {
	r := newRetryingRefresh(t)
	require.NoError(t, r.create("t0"))
	require.NoError(t, r.rotate("t0", "t1"), "the thief refreshes first (and Redis learns the script)")

	r.proxy.delayNextAnswer()
	require.ErrorIs(t, r.rotate("t0", "t2"), bearer.ErrRefreshReused, "the victim's refresh, answered late, run twice")
	require.ErrorIs(t, r.rotate("t1", "t3"), bearer.ErrRefreshReused, "the login is revoked")
}

// TestRetriedSucceededForgivesOneAttemptOnly: a successful login forgives
// its own attempt, the address count going down by one. Run twice (its
// answer late, go-redis sending the script again), it must still go down
// by one only: else the address gets one more guess than its limit for
// every such success.
func TestRetriedSucceededForgivesOneAttemptOnly(t *testing.T) {
	client, proxy, prefix := retryingClient(t)
	const limit = 4
	l, err := redisstore.NewLoginLimiter(client, middleware.LimiterPolicy{AccountAttempts: 100, AddressAttempts: limit},
		redisstore.WithPrefix(prefix))
	require.NoError(t, err)
	addr := netip.MustParseAddr("198.51.100.9")
	other := netip.MustParseAddr("198.51.100.10")
	// Redis learns both scripts on other keys first (see delayNextAnswer).
	_, err = l.Attempt(ctx, "warm", other)
	require.NoError(t, err)
	require.NoError(t, l.Succeeded(ctx, "warm", other))

	// Two wrong guesses, then a login that succeeds: 3 attempts, 1 forgiven.
	for range 2 {
		wait, err := l.Attempt(ctx, "victim", addr)
		require.NoError(t, err)
		require.Zero(t, wait)
	}
	wait, err := l.Attempt(ctx, "owner", addr)
	require.NoError(t, err)
	require.Zero(t, wait)
	proxy.delayNextAnswer()
	require.NoError(t, l.Succeeded(ctx, "owner", addr), "answered late, sent again")

	// The address has used 2 of its 4: two more attempts, then 429.
	allowed := 0
	for range 5 {
		wait, err := l.Attempt(ctx, "victim", addr)
		require.NoError(t, err)
		if wait == 0 {
			allowed++
		}
	}
	assert.Equal(t, limit-2, allowed, "attempts the address still had")
}
