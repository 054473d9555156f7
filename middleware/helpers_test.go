package middleware_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/tidegate/tidegate/middleware"
)

// The default JSON bodies, written out byte for byte: the contract is the
// exact bytes, not "some JSON with an error field".
const (
	bodyUnauthorized = `{"error":"unauthorized","message":"valid credentials are required"}` + "\n"
	bodyForbidden    = `{"error":"forbidden","message":"not allowed"}` + "\n"
	bodyRateLimited  = `{"error":"rate_limited","message":"too many attempts, retry later"}` + "\n"
	bodyUnavailable  = `{"error":"unavailable","message":"authentication is temporarily unavailable"}` + "\n"
	bodyInternal     = `{"error":"internal_error","message":"internal error"}` + "\n"
)

// t0 is the fake clock's start.
var t0 = time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)

// fakeClock is a clock that only moves when told to.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func newFakeClock() *fakeClock { return &fakeClock{now: t0} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// The tokens the test verifier knows. Each names what the verifier does
// with it; any other token is unknown (invalid).
const (
	tokGood      = "good-token"      // user 88144f5ea3, role user, scope read
	tokAdmin     = "admin-token"     // user 1dd5a6e3b1, roles user+admin, scopes read+write
	tokExpiring  = "expiring-token"  // valid until t0+1m
	tokExpired   = "expired-token"   // expired at t0-1s
	tokRevoked   = "revoked-token"   // Invalid("revoked")
	tokForged    = "forged-token"    // a wrapped ErrInvalidCredential
	tokUnknown   = "unknown-token"   // Invalid("unknown")
	tokDown      = "down-token"      // backend error
	tokLimited   = "limited-token"   // RateLimited(42s)
	tokForbidden = "forbidden-token" // Forbidden
	tokPanic     = "panic-token"     // panics
	tokSlow      = "slow-token"      // waits for its context to end
	tokTypedNil  = "typednil-token"  // returns a typed nil *Error
	tokLiteral   = "literal-token"   // returns &Error{Kind: ErrInvalidCredential}, no Status
)

const (
	subjGood  = "88144f5ea3"
	subjAdmin = "1dd5a6e3b1"
)

// testVerifier is a Verifier whose answer depends on the token, counting
// its calls.
type testVerifier struct {
	calls atomic.Int64
}

func (v *testVerifier) Verify(ctx context.Context, c middleware.Credential) (middleware.Principal, error) {
	v.calls.Add(1)
	switch c.Token {
	case tokGood:
		return middleware.Principal{Subject: subjGood, Roles: []string{"user"}, Scopes: []string{"read"},
			Attributes: map[string]string{"sid": "s1"}}, nil
	case tokAdmin:
		return middleware.Principal{Subject: subjAdmin, Roles: []string{"user", "admin"}, Scopes: []string{"read", "write"}}, nil
	case tokExpiring:
		return middleware.Principal{Subject: subjGood, ExpiresAt: t0.Add(time.Minute)}, nil
	case tokExpired:
		return middleware.Principal{Subject: subjGood, ExpiresAt: t0.Add(-time.Second)}, nil
	case tokRevoked:
		return middleware.Principal{}, middleware.Invalid("revoked")
	case tokForged:
		return middleware.Principal{}, fmt.Errorf("signature check: %w", middleware.ErrInvalidCredential)
	case tokDown:
		return middleware.Principal{}, errors.New("dial tcp 10.0.0.7:5432: connection refused")
	case tokLimited:
		return middleware.Principal{}, middleware.RateLimited("too many attempts", 42*time.Second)
	case tokForbidden:
		return middleware.Principal{}, middleware.Forbidden("app disabled", "")
	case tokPanic:
		panic("verifier bug")
	case tokSlow:
		<-ctx.Done()
		return middleware.Principal{}, ctx.Err()
	case tokTypedNil:
		var e *middleware.Error
		return middleware.Principal{}, e
	case tokLiteral:
		return middleware.Principal{}, &middleware.Error{Kind: middleware.ErrInvalidCredential, Reason: "hand-built"}
	}
	return middleware.Principal{}, middleware.Invalid("unknown")
}

// kinds of the test schemes.
const (
	kindSession middleware.Kind = "session"
	kindBearer  middleware.Kind = "bearer"
	kindBasic   middleware.Kind = "basic"
)

const sessionHeader = "X-Tidepool-Session-Token"

// challenges holds the exact WWW-Authenticate values a test scheme sends.
// An empty value means "no challenge".
type challenges struct {
	plain, invalidRequest, invalidToken, insufficient string
}

var (
	sessionChallenges = challenges{
		plain:          `X-Tidepool-Session-Token realm="tidepool"`,
		invalidRequest: `X-Tidepool-Session-Token realm="tidepool", error="invalid_request"`,
		invalidToken:   `X-Tidepool-Session-Token realm="tidepool", error="invalid_token"`,
		insufficient:   `X-Tidepool-Session-Token realm="tidepool", error="insufficient_scope"`,
	}
	bearerChallenges = challenges{
		plain:          `Bearer realm="tidal"`,
		invalidRequest: `Bearer realm="tidal", error="invalid_request"`,
		invalidToken:   `Bearer realm="tidal", error="invalid_token"`,
		insufficient:   `Bearer realm="tidal", error="insufficient_scope"`,
	}
	// Basic has no RFC 6750 error attribute: a challenge on 401 only.
	basicChallenges = challenges{
		plain:        `Basic realm="tapglue", charset="UTF-8"`,
		invalidToken: `Basic realm="tapglue", charset="UTF-8"`,
	}
)

// kindSpec is a credential kind as the tests drive it: how to build its
// scheme and how to put a token into a request.
type kindSpec struct {
	kind       middleware.Kind
	challenges challenges
	extractor  func(t testing.TB, opts ...middleware.ExtractorOption) middleware.Extractor
	challenge  middleware.Challenge
	// raw returns the header name and value that carry token as a
	// well-formed credential of the kind.
	raw func(token string) (name, value string)
}

// set adds token to h as a well-formed credential of the kind.
func (s kindSpec) set(h http.Header, token string) {
	name, value := s.raw(token)
	h.Add(name, value)
}

func basicValue(user, password string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+password))
}

var (
	sessionSpec = kindSpec{
		kind:       kindSession,
		challenges: sessionChallenges,
		challenge:  middleware.Challenge{Scheme: "X-Tidepool-Session-Token", Realm: "tidepool", RFC6750: true},
		extractor: func(t testing.TB, opts ...middleware.ExtractorOption) middleware.Extractor {
			ex, err := middleware.NewHeaderExtractor(kindSession, "x-tidepool-session-token", opts...)
			require.NoError(t, err)
			return ex
		},
		raw: func(token string) (string, string) { return sessionHeader, token },
	}
	bearerSpec = kindSpec{
		kind:       kindBearer,
		challenges: bearerChallenges,
		challenge:  middleware.Challenge{Scheme: "Bearer", Realm: "tidal", RFC6750: true},
		extractor: func(t testing.TB, opts ...middleware.ExtractorOption) middleware.Extractor {
			ex, err := middleware.NewAuthorizationExtractor(kindBearer, "Bearer", opts...)
			require.NoError(t, err)
			return ex
		},
		raw: func(token string) (string, string) { return "Authorization", "Bearer " + token },
	}
	basicSpec = kindSpec{
		kind:       kindBasic,
		challenges: basicChallenges,
		challenge:  middleware.Challenge{Scheme: "Basic", Realm: "tapglue", Charset: true},
		extractor: func(t testing.TB, opts ...middleware.ExtractorOption) middleware.Extractor {
			ex, err := middleware.NewBasicExtractor(kindBasic, opts...)
			require.NoError(t, err)
			return ex
		},
		raw: func(token string) (string, string) { return "Authorization", basicValue(token, "pw") },
	}
	allSpecs = []kindSpec{sessionSpec, bearerSpec, basicSpec}
)

// newScheme builds a scheme of spec's kind over v.
func newScheme(t testing.TB, spec kindSpec, v middleware.Verifier, opts ...middleware.SchemeOption) *middleware.Scheme {
	t.Helper()
	// Quiet by default; a test that reads the log passes its own WithLogger,
	// which, coming later, wins.
	opts = append([]middleware.SchemeOption{middleware.WithLogger(slog.New(slog.DiscardHandler))}, opts...)
	s, err := middleware.NewScheme(spec.kind, spec.extractor(t), v, spec.challenge, opts...)
	require.NoError(t, err)
	return s
}

// newTestCache wraps v in a Cache that is closed when the test ends.
func newTestCache(t testing.TB, v middleware.Verifier, ttl time.Duration, opts ...middleware.CacheOption) *middleware.Cache {
	t.Helper()
	c, err := middleware.NewCache(v, ttl, opts...)
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// seen records what the protected handler saw.
type seen struct {
	called    bool
	principal middleware.Principal
	ok        bool
	header    http.Header
}

// principalHandler answers 200 with the principal's subject and records it.
func principalHandler(s *seen) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.called = true
		s.principal, s.ok = middleware.FromRequest(r)
		s.header = r.Header.Clone()
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write([]byte("subject=" + s.principal.Subject))
	})
}

// serve sends req through h and returns the recorded response.
func serve(h http.Handler, req *http.Request) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

func newRequest() *http.Request { return httptest.NewRequest(http.MethodGet, "/whoami", nil) }

// expectation is what a response must be, exactly.
type expectation struct {
	status     int
	challenges []string // every WWW-Authenticate value, in order; nil for none
	retryAfter string   // "" for none
	body       string   // ignored for 200
}

// assertResponse checks rec against want: status, every WWW-Authenticate
// value, Retry-After, and on failures Cache-Control: no-store and the body.
func assertResponse(t *testing.T, want expectation, rec *httptest.ResponseRecorder) {
	t.Helper()
	require.Equal(t, want.status, rec.Code, "status (body %q)", rec.Body.String())
	require.Equal(t, want.challenges, rec.Header().Values("WWW-Authenticate"), "WWW-Authenticate")
	require.Equal(t, want.retryAfter, rec.Header().Get("Retry-After"), "Retry-After")
	if want.status == http.StatusOK {
		return
	}
	require.Equal(t, "no-store", rec.Header().Get("Cache-Control"), "Cache-Control")
	require.Equal(t, "application/json", rec.Header().Get("Content-Type"), "Content-Type")
	require.Equal(t, want.body, rec.Body.String(), "body")
}

// one returns a one-element challenge list, or nil for "".
func one(ch string) []string {
	if ch == "" {
		return nil
	}
	return []string{ch}
}

// syncBuffer is a bytes.Buffer safe for the concurrent writes of a logger.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// debugLogger returns a text logger at Debug level writing to a buffer.
func debugLogger() (*slog.Logger, *syncBuffer) {
	buf := &syncBuffer{}
	return slog.New(slog.NewTextHandler(buf, &slog.HandlerOptions{Level: slog.LevelDebug})), buf
}
