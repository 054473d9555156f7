package adversarial_test

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/tidegate/tidegate/middleware"
	"github.com/tidegate/tidegate/tidegatetest"
)

// floodMarker is in every credential of the flood, raw; a leak of any of
// them into the log would show it (or, for Basic, one of its base64 cores).
const floodMarker = "Fl00dMark3rZq"

// base64Cores returns the base64 text that encodes marker wherever it sits
// in the encoded input: for each of the three alignments, the characters
// fully determined by the marker's bytes.
func base64Cores(marker string) []string {
	var out []string
	for off := range 3 {
		enc := base64.StdEncoding.EncodeToString([]byte(strings.Repeat("\x00", off) + marker))
		first := (off*8 + 5) / 6            // first character starting inside the marker
		last := (off + len(marker)) * 8 / 6 // characters ending inside it
		out = append(out, enc[first:last])
	}
	return out
}

// floodCredential is the i-th credential of the flood: a session token, a
// JWT-shaped bearer token or Basic app credentials, all invalid, all
// distinct, each holding floodMarker.
func floodCredential(i int, jwtPrefix string) (name, value string) {
	unique := fmt.Sprintf("%s%07d", floodMarker, i)
	switch i % 3 {
	case 0:
		return "X-Tidepool-Session-Token", unique + strings.Repeat("s", 43-len(unique))
	case 1:
		// 'A' last: canonical base64url, so the signature is checked.
		return "Authorization", "Bearer " + jwtPrefix + "." + unique + strings.Repeat("A", 43-len(unique))
	default:
		return "Authorization", "Basic " + base64.StdEncoding.EncodeToString([]byte(demoApp.AppToken+":"+unique+strings.Repeat("b", 43-len(unique))))
	}
}

// heapInUse returns the live heap after a full collection.
func heapInUse() uint64 {
	var m runtime.MemStats
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// TestFloodOfInvalidCredentials sends 100,000 distinct invalid credentials
// of the three kinds to /whoami, in-process on two goroutines. Every one
// is answered 401 by its kind (no 5xx), little is kept for them (each
// cache remembers at most DefaultMaxRefusals refusals, stored by hash, not
// the credential, and nothing else grows: the live heap grows by less than
// 8 MiB), a valid credential still works from the cache afterwards,
// and the flood takes well under a millisecond a request even with -race.
//
// Not parallel: it measures the heap, which other tests would disturb.
// Its server logs into a scanSink (100,000 log lines are too many to keep
// for the end-of-suite search), which looks for the flood's marker and the
// test's secrets in every line as it is written.
func TestFloodOfInvalidCredentials(t *testing.T) {
	const total = 100_000
	sink := newScanSink(append([]string{floodMarker}, base64Cores(floodMarker)...)...)
	sink.tee(suiteLog) // until the flood starts, the server logs into the suite log
	s := newServer(t, setup{logger: slog.New(slog.NewJSONHandler(sink, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	token := s.sessionLogin(t, mary.Username, mary.Password)
	jwt := s.bearerLogin(t, mary.Username, mary.Password).Access
	jwtPrefix := jwt[:strings.LastIndexByte(jwt, '.')]
	sink.add(append([]string{token, jwt}, demoSecrets()...)...) // what this server could leak

	whoami := func(name, value string) *httptest.ResponseRecorder {
		r := httptest.NewRequest(http.MethodGet, "https://example.com/whoami", nil)
		r.Header.Set(name, value)
		rec := httptest.NewRecorder()
		s.handler.ServeHTTP(rec, r)
		return rec
	}
	require.Equal(t, http.StatusOK, whoami("X-Tidepool-Session-Token", token).Code)

	sink.tee(nil) // the flood is scanned as written, not kept
	before := heapInUse()
	var statuses [600]atomic.Int64
	var wrongBody atomic.Int64
	bodies := [3]string{bodySessionRequired, bodyBearerUnauth, bodyBasicInvalid}
	start := time.Now()
	var wg sync.WaitGroup
	for w := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < total; i += 2 {
				rec := whoami(floodCredential(i, jwtPrefix))
				statuses[rec.Code].Add(1)
				if rec.Body.String() != bodies[i%3] {
					wrongBody.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	after := heapInUse()
	sink.tee(suiteLog)

	assert.Equal(t, int64(total), statuses[http.StatusUnauthorized].Load(), "every flood request is 401")
	assert.Zero(t, wrongBody.Load(), "every flood request gets its kind's body")
	grown := int64(after) - int64(before)
	assert.Less(t, grown, int64(8<<20), "live heap grew by %d bytes", grown)
	assert.Less(t, elapsed/total, time.Millisecond, "%v for %d requests", elapsed, total)
	records, leaked := sink.counts()
	assert.GreaterOrEqual(t, records, total, "every request was logged")
	assert.Zero(t, leaked, "a flood credential or secret reached the log")

	rec := whoami("X-Tidepool-Session-Token", token)
	assert.Equal(t, http.StatusOK, rec.Code)
	assert.Equal(t, wantMarySession.body, rec.Body.String())
}

// TestFloodCoreSearch checks the flood's leak patterns: a Basic credential
// holding the marker, logged as its header value, is found by one of the
// base64 cores, whatever the marker's offset.
func TestFloodCoreSearch(t *testing.T) {
	cores := base64Cores(floodMarker)
	for off := range 3 {
		enc := base64.StdEncoding.EncodeToString([]byte(strings.Repeat("a", 30+off) + ":" + floodMarker + "0000042"))
		found := false
		for _, c := range cores {
			found = found || strings.Contains(enc, c)
		}
		assert.True(t, found, "offset %d", off)
	}
}

// ---------------------------------------------------------------------------
// A custom scheme over middleware.NewCache, for Verifiers that misbehave.

// customServer serves "ok" behind Require(scheme), where scheme reads
// X-Custom-Token and verifies it with v behind a cache on clock.
func customServer(t *testing.T, v middleware.Verifier, clock *tidegatetest.Clock, opts ...middleware.CacheOption) *server {
	t.Helper()
	if clock == nil {
		clock = tidegatetest.NewClock(time.Time{})
	}
	cache, err := middleware.NewCache(v, time.Minute, append([]middleware.CacheOption{middleware.WithClock(clock.Now)}, opts...)...)
	require.NoError(t, err)
	t.Cleanup(func() { _ = cache.Close() })
	ex, err := middleware.NewHeaderExtractor("custom", "X-Custom-Token")
	require.NoError(t, err)
	scheme, err := middleware.NewScheme("custom", ex, cache, middleware.Challenge{Scheme: "Bearer", Realm: "custom", RFC6750: true},
		middleware.WithLogger(suiteLogger), middleware.WithClock(clock.Now))
	require.NoError(t, err)
	srv := httptest.NewServer(middleware.Require(scheme)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sub, _ := middleware.SubjectFromContext(r.Context())
		middleware.WriteJSON(w, http.StatusOK, []byte(`{"subject":"`+sub+`"}`))
	})))
	t.Cleanup(srv.Close)
	return &server{Server: srv, clock: clock}
}

// The custom scheme's answers.
var (
	wantCustomOK          = want{status: 200, cacheable: true, body: `{"subject":"u1"}`}
	wantCustomInvalid     = want{status: 401, challenges: []string{`Bearer realm="custom", error="invalid_token"`}, body: bodyJSONUnauthorized}
	wantCustomUnavailable = want{status: 503, retryAfter: "5", body: bodyJSONUnavailable}
	wantCustomInternal    = want{status: 500, body: bodyJSONInternal}
)

// TestSlowVerifier: a Verifier slower than the verify timeout (100 ms
// here) answers 503 with Retry-After, never 401 and never a hang; eight
// concurrent requests with the same credential make one call; a 503 is
// not cached, so the first request after the backend recovers succeeds.
// A Verifier that ignores its context holds only the request that called
// it: the others get their 503 at the timeout, and that one gets its 503
// when the Verifier returns, whose late success is cached all the same.
func TestSlowVerifier(t *testing.T) {
	t.Parallel()
	var calls atomic.Int64
	var healthy atomic.Bool
	release := make(chan struct{})
	entered := make(chan struct{}, 16)
	v := middleware.VerifierFunc(func(ctx context.Context, c middleware.Credential) (middleware.Principal, error) {
		calls.Add(1)
		entered <- struct{}{}
		switch {
		case healthy.Load():
			return middleware.Principal{Subject: "u1"}, nil
		case c.Token == "stubborn-token":
			<-release // ignores ctx
			return middleware.Principal{Subject: "u1"}, nil
		}
		<-ctx.Done()
		return middleware.Principal{}, ctx.Err()
	})
	s := customServer(t, v, nil, middleware.WithVerifyTimeout(100*time.Millisecond))
	token := secret("slow-verifier-token")

	replies := concurrently(t, 8, func() (reply, error) { return s.trySend(req{path: "/", header: h("X-Custom-Token", token)}) })
	for _, r := range replies {
		s.check(t, r, wantCustomUnavailable)
	}
	assert.LessOrEqual(t, calls.Load(), int64(8))
	assert.GreaterOrEqual(t, calls.Load(), int64(1))

	healthy.Store(true)
	s.check(t, s.get(t, "/", "X-Custom-Token", token), wantCustomOK)
	n := calls.Load()
	s.check(t, s.get(t, "/", "X-Custom-Token", token), wantCustomOK)
	assert.Equal(t, n, calls.Load(), "the success is cached")

	// The Verifier that ignores its context.
	healthy.Store(false)
	for len(entered) > 0 {
		<-entered
	}
	leader := make(chan reply, 1)
	go func() {
		r, err := s.trySend(req{path: "/", header: h("X-Custom-Token", "stubborn-token")})
		assert.NoError(t, err)
		leader <- r
	}()
	<-entered // the leader is inside the Verifier
	waiters := concurrently(t, 4, func() (reply, error) {
		return s.trySend(req{path: "/", header: h("X-Custom-Token", "stubborn-token")})
	})
	for _, r := range waiters {
		s.check(t, r, wantCustomUnavailable)
	}
	close(release)
	// The leader answered after the timeout: 503 as well, but its success
	// is cached, so the next request gets in without a Verifier call.
	s.check(t, <-leader, wantCustomUnavailable)
	n = calls.Load()
	s.check(t, s.get(t, "/", "X-Custom-Token", "stubborn-token"), wantCustomOK)
	assert.Equal(t, n, calls.Load(), "the late success is cached")
}

// missCounter is a middleware.Observer counting cache misses.
type missCounter struct{ misses atomic.Int64 }

func (m *missCounter) ObserveAuth(middleware.Kind, middleware.Outcome, string) {}
func (m *missCounter) ObserveCache(_ middleware.Kind, hit bool) {
	if !hit {
		m.misses.Add(1)
	}
}

// TestSingleflightCountsOneCall: eight concurrent first requests with one
// credential, all inside the cache's miss path at once (counted by an
// Observer), make exactly one Verifier call.
func TestSingleflightCountsOneCall(t *testing.T) {
	t.Parallel()
	var calls atomic.Int64
	gate := make(chan struct{})
	v := middleware.VerifierFunc(func(ctx context.Context, c middleware.Credential) (middleware.Principal, error) {
		calls.Add(1)
		<-gate
		return middleware.Principal{Subject: "u1"}, nil
	})
	observer := &missCounter{}
	s := customServer(t, v, nil, middleware.WithObserver(observer))
	token := secret("singleflight-token")
	done := make(chan []reply, 1)
	go func() {
		done <- concurrently(t, 8, func() (reply, error) { return s.trySend(req{path: "/", header: h("X-Custom-Token", token)}) })
	}()
	require.Eventually(t, func() bool { return observer.misses.Load() == 8 }, 5*time.Second, time.Millisecond)
	close(gate)
	for _, r := range <-done {
		s.check(t, r, wantCustomOK)
	}
	assert.Equal(t, int64(1), calls.Load())
}

// TestFailingVerifier: a backend error is 503 with Retry-After and a
// generic body, never 401, never cached, and its text (here quoting a
// database password and the credential) reaches neither the response nor
// the log. An invalid credential is 401 and its refusal is remembered
// (briefly), never turned into a success.
func TestFailingVerifier(t *testing.T) {
	t.Parallel()
	dbPassword := secret("db-password-that-must-not-leak")
	var calls atomic.Int64
	v := middleware.VerifierFunc(func(ctx context.Context, c middleware.Credential) (middleware.Principal, error) {
		calls.Add(1)
		if c.Token == "invalid-token-value" {
			return middleware.Principal{}, middleware.Invalid("unknown")
		}
		return middleware.Principal{}, fmt.Errorf("query for %s failed: dial postgres://app:%s@db: %w", c.Token, dbPassword, errors.New("connection refused"))
	})
	s := customServer(t, v, nil)
	token := secret("failing-verifier-token")
	for i := range 3 {
		s.check(t, s.get(t, "/", "X-Custom-Token", token), wantCustomUnavailable, "attempt %d", i)
	}
	assert.Equal(t, int64(3), calls.Load(), "a backend failure is never cached")
	for i := range 2 {
		s.check(t, s.get(t, "/", "X-Custom-Token", "invalid-token-value"), wantCustomInvalid, "attempt %d", i)
	}
	assert.Equal(t, int64(4), calls.Load(), "a refusal is remembered: the second attempt is refused from memory")
	log := suiteLog.String()
	assert.NotContains(t, log, dbPassword)
	assert.NotContains(t, log, token)
	assert.NotContains(t, log, "connection refused")
}

// TestPanickingVerifier: a Verifier that panics (with the credential in
// the panic value, of any type, or with nil) is answered 500 with a
// generic body, to the request that called it and to those waiting on the
// same verification; the panic is logged at Error with its type and stack,
// never its value; the server goes on serving.
func TestPanickingVerifier(t *testing.T) {
	t.Parallel()
	gate := make(chan struct{})
	var calls atomic.Int64
	v := middleware.VerifierFunc(func(ctx context.Context, c middleware.Credential) (middleware.Principal, error) {
		calls.Add(1)
		switch {
		case strings.HasPrefix(c.Token, "string-"):
			panic("verifier broke on " + c.Token)
		case strings.HasPrefix(c.Token, "error-"):
			panic(fmt.Errorf("verifier broke on %s", c.Token))
		case strings.HasPrefix(c.Token, "nil-"):
			panic(nil)
		case strings.HasPrefix(c.Token, "gated-"):
			<-gate
			panic(c)
		}
		return middleware.Principal{Subject: "u1"}, nil
	})
	observer := &missCounter{}
	s := customServer(t, v, nil, middleware.WithObserver(observer))
	tokens := []string{secret("string-panic-token"), secret("error-panic-token"), secret("nil-panic-token00")}
	for _, token := range tokens {
		s.check(t, s.get(t, "/", "X-Custom-Token", token), wantCustomInternal, token[:5])
	}

	gated := secret("gated-panic-token")
	done := make(chan []reply, 1)
	go func() {
		done <- concurrently(t, 4, func() (reply, error) { return s.trySend(req{path: "/", header: h("X-Custom-Token", gated)}) })
	}()
	// All four inside the miss path, one of them inside the Verifier.
	require.Eventually(t, func() bool { return observer.misses.Load() == 3+4 && calls.Load() == 3+1 }, 5*time.Second, time.Millisecond)
	close(gate)
	for _, r := range <-done {
		s.check(t, r, wantCustomInternal)
	}
	assert.Equal(t, int64(3+1), calls.Load())
	s.check(t, s.get(t, "/", "X-Custom-Token", "healthy-token"), wantCustomOK)

	log := suiteLog.String()
	for _, token := range append(tokens, gated) {
		assert.NotContains(t, log, token)
	}
	assert.Contains(t, log, `"level":"ERROR","msg":"tidegate auth","kind":"custom","outcome":"error","reason":"panic","status":500`)
	assert.Contains(t, log, `"panic_type":"string"`)
	assert.Contains(t, log, `"panic_type":"*errors.errorString"`)
	assert.Contains(t, log, `"panic_type":"*runtime.PanicNilError"`)
	assert.Contains(t, log, `"panic_type":"middleware.Credential"`)
}

// TestExpiryOfManyEntriesAtOnce: 3,000 credentials verified at the same
// instant all leave the cache together, at the end of its TTL (a minute)
// or at their principal's earlier expiry (30 s after verification for
// half of them); each is then verified again, exactly once, and one
// revoked meanwhile is refused.
func TestExpiryOfManyEntriesAtOnce(t *testing.T) {
	t.Parallel()
	const n = 3000
	clock := tidegatetest.NewClock(time.Time{})
	start := clock.Now()
	var calls atomic.Int64
	var revoked sync.Map
	v := middleware.VerifierFunc(func(ctx context.Context, c middleware.Credential) (middleware.Principal, error) {
		calls.Add(1)
		if _, gone := revoked.Load(c.Token); gone {
			return middleware.Principal{}, middleware.Invalid("revoked")
		}
		p := middleware.Principal{Subject: "u1"}
		if strings.HasPrefix(c.Token, "short") {
			p.ExpiresAt = clock.Now().Add(30 * time.Second)
		}
		return p, nil
	})
	s := customServer(t, v, clock)
	tokens := make([]string, n)
	for i := range tokens {
		prefix := "long"
		if i%2 == 0 {
			prefix = "short"
		}
		tokens[i] = fmt.Sprintf("%s-entry-%05d", prefix, i)
	}
	// statuses sends every token once, in-process, and counts the answers.
	statuses := func() map[int]int {
		out := map[int]int{}
		for _, tk := range tokens {
			r := httptest.NewRequest(http.MethodGet, "/", nil)
			r.Header.Set("X-Custom-Token", tk)
			rec := httptest.NewRecorder()
			s.Config.Handler.ServeHTTP(rec, r)
			out[rec.Code]++
		}
		return out
	}
	assert.Equal(t, map[int]int{200: n}, statuses())
	assert.Equal(t, int64(n), calls.Load())

	clock.Set(start.Add(30*time.Second - 1))
	assert.Equal(t, map[int]int{200: n}, statuses())
	assert.Equal(t, int64(n), calls.Load(), "all cached")

	clock.Set(start.Add(30 * time.Second)) // the short half expires together
	assert.Equal(t, map[int]int{200: n}, statuses())
	assert.Equal(t, int64(n+n/2), calls.Load(), "the short half verified again")

	for i, tk := range tokens {
		if i%3 == 0 {
			revoked.Store(tk, true)
		}
	}
	clock.Set(start.Add(time.Minute - 1))
	assert.Equal(t, map[int]int{200: n}, statuses(), "revoked in the backend, still cached")
	clock.Set(start.Add(time.Minute)) // the TTL of the long ones; the short ones' second 30 s
	assert.Equal(t, map[int]int{200: n - n/3, 401: n / 3}, statuses())
	assert.Equal(t, int64(n+n/2+n), calls.Load(), "everything verified again, once")
}
