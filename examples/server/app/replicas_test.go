package app_test

import (
	"context"
	"crypto/tls"
	"encoding/base64"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/tidegate/tidegate/examples/server/app"
	"github.com/tidegate/tidegate/internal/redistest"
	"github.com/tidegate/tidegate/internal/seed"
	"github.com/tidegate/tidegate/middleware"
)

// TestMain gives the replica tests a real redis-server: the one named by
// TIDEGATE_REDIS_ADDR (./scripts/test.sh starts it), else one started here.
func TestMain(m *testing.M) { os.Exit(redistest.Main(m)) }

// replica is one example server on the shared Redis, with a Redis client of
// its own, as a separate process would have.
type replica struct {
	*httptest.Server
}

// newReplicas starts n example servers sharing Redis at addr under prefix
// and one JWT key: what n processes started with -redis ADDR and the same
// -jwt-key-file would be.
func newReplicas(t *testing.T, n int, addr, prefix string) []*replica {
	t.Helper()
	hasher, err := middleware.NewArgon2idHasher(middleware.TestArgon2Params)
	require.NoError(t, err)
	out := make([]*replica, n)
	for i := range out {
		a, err := app.New(app.Config{
			Hasher: hasher, JWTKey: []byte(testJWTKey), InsecureBasic: true,
			Redis: redistest.NewClient(t, addr), RedisPrefix: prefix,
		})
		require.NoError(t, err)
		t.Cleanup(func() { _ = a.Close() })
		srv := httptest.NewServer(a.Handler())
		t.Cleanup(srv.Close)
		out[i] = &replica{srv}
	}
	return out
}

func (r *replica) send(t *testing.T, method, path, body string, header ...string) *http.Response {
	t.Helper()
	req, err := http.NewRequest(method, r.URL+path, stringsReader(body))
	require.NoError(t, err)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := r.Client().Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	return resp
}

func (r *replica) sessionLogin(t *testing.T) string {
	t.Helper()
	basic := "Basic " + base64.StdEncoding.EncodeToString([]byte(maryLogin+":"+maryPassword))
	resp := r.send(t, http.MethodPost, "/auth/login", "", "Authorization", basic)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	return resp.Header.Get("X-Tidepool-Session-Token")
}

func (r *replica) whoamiStatus(t *testing.T, token string) int {
	t.Helper()
	return r.send(t, http.MethodGet, "/whoami", "", "X-Tidepool-Session-Token", token).StatusCode
}

func TestALoginOnOneReplicaWorksOnTheOther(t *testing.T) {
	target := redistest.Shared(t)
	rs := newReplicas(t, 2, target.Addr, target.Prefix)
	token := rs[0].sessionLogin(t)
	assert.Equal(t, http.StatusOK, rs[1].whoamiStatus(t, token))
}

// TestALogoutOnOneReplicaIsRejectedOnTheOther measures, 100 times, how long
// after a logout on replica A the same token is refused by replica B, which
// had it cached: the revocation reaches B's cache through the Redis channel.
// The issue asks for that within 100 ms; the test asserts the p99 and logs it.
func TestALogoutOnOneReplicaIsRejectedOnTheOther(t *testing.T) {
	target := redistest.Shared(t)
	rs := newReplicas(t, 2, target.Addr, target.Prefix)
	a, b := rs[0], rs[1]
	const tries = 100
	delays := make([]time.Duration, 0, tries)
	for range tries {
		token := a.sessionLogin(t)
		require.Equal(t, http.StatusOK, b.whoamiStatus(t, token), "B caches the token")
		require.Equal(t, http.StatusOK, a.send(t, http.MethodPost, "/auth/logout", "", "X-Tidepool-Session-Token", token).StatusCode)
		loggedOut := time.Now()
		for b.whoamiStatus(t, token) != http.StatusUnauthorized {
			require.Less(t, time.Since(loggedOut), 5*time.Second, "B never refused the token")
		}
		delays = append(delays, time.Since(loggedOut))
	}
	slices.Sort(delays)
	p50, p99 := delays[tries/2], delays[tries*99/100-1]
	t.Logf("logout on A refused on B: p50 %v, p99 %v, max %v over %d tries", p50, p99, delays[tries-1], tries)
	assert.Less(t, p99, 100*time.Millisecond)
}

// TestRedisOutageAnswers503AndLosesNothing stops redis-server in the middle
// of a run: requests that need it answer 503 (never 401), and after a
// restart everything works again, including sessions created before it
// (the test's Redis persists with appendonly, as a production one would).
func TestRedisOutageAnswers503AndLosesNothing(t *testing.T) {
	server := redistest.Start(t, redistest.WithAppendOnly())
	rs := newReplicas(t, 1, server.Addr(), "tidegate:")
	r := rs[0]
	before := r.sessionLogin(t)
	require.Equal(t, http.StatusOK, r.whoamiStatus(t, before))

	server.Stop()
	basic := "Basic " + base64.StdEncoding.EncodeToString([]byte(maryLogin+":"+maryPassword))
	assert.Equal(t, http.StatusServiceUnavailable,
		r.send(t, http.MethodPost, "/auth/login", "", "Authorization", basic).StatusCode, "login needs the throttle and the store")
	assert.Equal(t, http.StatusServiceUnavailable, r.whoamiStatus(t, "an-uncached-token-"+before[:20]),
		"an uncached token cannot be checked: 503, not 401")
	// A cached token is served from the cache only until the broadcaster's
	// fallback cap (2 s by default) ends it: then it needs Redis too.
	require.Eventually(t, func() bool { return r.whoamiStatus(t, before) == http.StatusServiceUnavailable },
		10*time.Second, 50*time.Millisecond, "cached credentials are capped while revocations cannot be heard")

	server.Restart()
	require.Eventually(t, func() bool { return r.whoamiStatus(t, before) == http.StatusOK },
		10*time.Second, 50*time.Millisecond, "the session created before the outage survives it")
	after := r.sessionLogin(t)
	assert.Equal(t, http.StatusOK, r.whoamiStatus(t, after))
}

// TestAFailedNewLeavesNothingRunning: New that fails half-way closes what
// it started. When the session service refused its configuration, the
// Redis broadcaster started before it stayed subscribed, with its goroutine.
func TestAFailedNewLeavesNothingRunning(t *testing.T) {
	target := redistest.Shared(t)
	hasher, err := middleware.NewArgon2idHasher(middleware.TestArgon2Params)
	require.NoError(t, err)
	data := seed.Demo()
	data.Servers = []seed.Server{{Name: "a name with spaces", Secret: "a secret of sixteen bytes or more"}}
	client := redistest.NewClient(t, target.Addr)
	_, err = app.New(app.Config{Seed: data, Hasher: hasher, JWTKey: []byte(testJWTKey),
		Redis: client, RedisPrefix: target.Prefix})
	require.Error(t, err, "session.New refuses the server name")

	channel := target.Prefix + "revocations"
	// The conditions run on goroutines of their own, which may outlive the
	// test by a tick: no t.Context, no require in them. -1: unknown.
	subscribers := func() int64 {
		n, err := target.Client.PubSubNumSub(context.Background(), channel).Result()
		if err != nil {
			return -1
		}
		return n[channel]
	}
	// A closed subscription leaves the server's count a moment later, and a
	// leaked broadcaster subscribes a moment later: wait for the one, then
	// watch for the other.
	require.Eventually(t, func() bool { return subscribers() == 0 }, 2*time.Second, 10*time.Millisecond)
	assert.Never(t, func() bool { return subscribers() > 0 }, 500*time.Millisecond, 10*time.Millisecond,
		"a failed New left its broadcaster subscribed (and its goroutine running)")
}

// TestAppsTheSeedFileDropsAreRevoked: on Redis, the seed file is the list of
// apps. A server tried once with the demo set, then started with the
// operator's own file, used to keep the demo app, whose backend token is
// public, working on every replica.
func TestAppsTheSeedFileDropsAreRevoked(t *testing.T) {
	target := redistest.Shared(t)
	hasher, err := middleware.NewArgon2idHasher(middleware.TestArgon2Params)
	require.NoError(t, err)
	start := func(data *seed.File) *app.App {
		a, err := app.New(app.Config{Seed: data, Hasher: hasher, JWTKey: []byte(testJWTKey),
			Redis: redistest.NewClient(t, target.Addr), RedisPrefix: target.Prefix})
		require.NoError(t, err)
		t.Cleanup(func() { _ = a.Close() })
		return a
	}
	demo := seed.Demo()
	whoami := func(a *app.App) int { return meAsBackend(a, demo.Apps[0].BackendToken) }
	require.Equal(t, http.StatusOK, whoami(start(demo)), "the demo set's app")

	own := &seed.File{Users: demo.Users} // the operator's own file: no demo app
	require.NoError(t, own.Validate())
	assert.Equal(t, http.StatusUnauthorized, whoami(start(own)), "the demo app is not in this server's file")
}

// TestADemoReplicaLeavesOtherReplicasAlone: the example server gives the
// demo set Redis keys of their own (main's redisPrefix). A demo replica on
// the Redis of replicas started with a seed file used to revoke their apps
// (not in its list) and put the demo app, whose tokens are public, in
// theirs.
func TestADemoReplicaLeavesOtherReplicasAlone(t *testing.T) {
	target := redistest.Shared(t)
	hasher, err := middleware.NewArgon2idHasher(middleware.TestArgon2Params)
	require.NoError(t, err)
	start := func(data *seed.File, prefix string) *app.App {
		a, err := app.New(app.Config{Seed: data, Hasher: hasher, JWTKey: []byte(testJWTKey),
			Redis: redistest.NewClient(t, target.Addr), RedisPrefix: prefix})
		require.NoError(t, err)
		t.Cleanup(func() { _ = a.Close() })
		return a
	}
	demo := seed.Demo()
	prodApp := seed.App{Name: "prod", AppToken: strings.Repeat("1a", 16), BackendToken: strings.Repeat("2b", 22)}
	own := &seed.File{Users: demo.Users, Apps: []seed.App{prodApp}}
	require.NoError(t, own.Validate())
	prod := start(own, target.Prefix)
	require.Equal(t, http.StatusOK, meAsBackend(prod, prodApp.BackendToken))
	demoReplica := start(demo, target.Prefix+"demo:")
	require.Equal(t, http.StatusOK, meAsBackend(demoReplica, demo.Apps[0].BackendToken))

	assert.Equal(t, http.StatusUnauthorized, meAsBackend(prod, demo.Apps[0].BackendToken), "the demo app's public token")
	assert.Equal(t, http.StatusOK, meAsBackend(prod, prodApp.BackendToken), "the seed file's app")
}

// TestASeedFileChangeReachesRunningReplicas: a replica started with a seed
// file that changes an app's token, or drops an app, changes the shared
// registry; replicas already running must stop accepting the old
// credentials they cached (within the promise of the revocation channel,
// here 3 s), not when their cache entries expire a minute later. The
// fallback TTL is a minute too, so that a replica not yet subscribed,
// whose cache entries are capped by it, cannot pass for one that was told.
func TestASeedFileChangeReachesRunningReplicas(t *testing.T) {
	target := redistest.Shared(t)
	hasher, err := middleware.NewArgon2idHasher(middleware.TestArgon2Params)
	require.NoError(t, err)
	start := func(data *seed.File) *app.App {
		subscribed := &subscriptionSignal{up: make(chan struct{})}
		a, err := app.New(app.Config{Seed: data, Hasher: hasher, JWTKey: []byte(testJWTKey),
			Redis: redistest.NewClient(t, target.Addr), RedisPrefix: target.Prefix, FallbackTTL: time.Minute,
			Logger: slog.New(subscribed)})
		require.NoError(t, err)
		t.Cleanup(func() { _ = a.Close() })
		// A replica purges its caches once its subscription is up: one
		// coming up after the credential was cached would pass for a
		// replica that was told.
		select {
		case <-subscribed.up:
		case <-time.After(5 * time.Second):
			t.Fatal("the replica's revocation subscription never came up")
		}
		return a
	}
	demo := seed.Demo()
	old := demo.Apps[0].BackendToken
	running := start(demo)
	require.Equal(t, http.StatusOK, meAsBackend(running, old), "cached on the running replica")

	rotated := *demo
	rotated.Apps = []seed.App{demo.Apps[0]}
	rotated.Apps[0].BackendToken = strings.Repeat("3c", 22)
	require.NoError(t, rotated.Validate())
	start(&rotated)
	assert.Eventually(t, func() bool { return meAsBackend(running, old) == http.StatusUnauthorized },
		3*time.Second, 10*time.Millisecond, "the rotated token still works on the running replica")
	require.Equal(t, http.StatusOK, meAsBackend(running, rotated.Apps[0].BackendToken), "the new token, now cached")

	start(&seed.File{Users: demo.Users}) // no app at all
	assert.Eventually(t, func() bool { return meAsBackend(running, rotated.Apps[0].BackendToken) == http.StatusUnauthorized },
		3*time.Second, 10*time.Millisecond, "the dropped app still works on the running replica")
}

// subscriptionSignal is a slog.Handler that closes up when the example
// server's broadcaster logs that its revocation subscription is up, and
// drops every record.
type subscriptionSignal struct {
	up   chan struct{}
	once sync.Once
}

func (s *subscriptionSignal) Enabled(context.Context, slog.Level) bool { return true }
func (s *subscriptionSignal) WithAttrs([]slog.Attr) slog.Handler       { return s }
func (s *subscriptionSignal) WithGroup(string) slog.Handler            { return s }

func (s *subscriptionSignal) Handle(_ context.Context, r slog.Record) error {
	if strings.Contains(r.Message, "revocation subscription up") {
		s.once.Do(func() { close(s.up) })
	}
	return nil
}

// meAsBackend answers GET /0.4/me over TLS on a, with Basic credentials of
// backendToken for mary, and returns the status.
func meAsBackend(a *app.App, backendToken string) int {
	req := httptest.NewRequest(http.MethodGet, "https://api.example.com/0.4/me", nil)
	req.TLS = &tls.ConnectionState{}
	req.Header.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(backendToken+":"+maryID)))
	rec := httptest.NewRecorder()
	a.Handler().ServeHTTP(rec, req)
	return rec.Code
}
