package middleware_test

import (
	"context"
	"encoding/base64"
	"log/slog"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/tidegate/tidegate/middleware"
)

// verifyTimeout bounds the "slow" verifications of the contract tables.
const verifyTimeout = 20 * time.Millisecond

// contractCase is one row of the error contract: what a request carries and
// the exact response it gets.
type contractCase struct {
	name string
	// values returns the values of the header named name that the request
	// carries (nil: none).
	values func(spec kindSpec) (name string, values []string)
	// want builds the exact expectation for the scheme.
	want func(spec kindSpec) expectation
	// sameBody marks the failures that must all get one body per kind:
	// missing, malformed, expired, revoked and forged credentials.
	sameBody bool
}

// withToken carries token as a well-formed credential.
func withToken(token string) func(kindSpec) (string, []string) {
	return func(spec kindSpec) (string, []string) {
		name, value := spec.raw(token)
		return name, []string{value}
	}
}

// withValue carries the raw header value the function returns for a kind.
func withValue(value func(spec kindSpec) string) func(kindSpec) (string, []string) {
	return func(spec kindSpec) (string, []string) {
		name, _ := spec.raw("x")
		return name, []string{value(spec)}
	}
}

// valueOfLength returns a well-formed header value of the kind that is
// exactly n bytes long (for Basic: the longest valid one not over n).
func valueOfLength(spec kindSpec, n int) string {
	switch spec.kind {
	case kindSession:
		return strings.Repeat("a", n)
	case kindBearer:
		return "Bearer " + strings.Repeat("a", n-len("Bearer "))
	default:
		enc := (n - len("Basic ")) / 4 * 4
		raw := make([]byte, enc/4*3)
		for i := range raw {
			raw[i] = 'u'
		}
		raw[1] = ':'
		return "Basic " + base64.StdEncoding.EncodeToString(raw)
	}
}

func status(code int, challenge func(challenges) string, retryAfter, body string) func(kindSpec) expectation {
	return func(spec kindSpec) expectation {
		var ch []string
		if challenge != nil {
			ch = one(challenge(spec.challenges))
		}
		return expectation{status: code, challenges: ch, retryAfter: retryAfter, body: body}
	}
}

var (
	plainCh          = func(c challenges) string { return c.plain }
	invalidRequestCh = func(c challenges) string { return c.invalidRequest }
	invalidTokenCh   = func(c challenges) string { return c.invalidToken }
	insufficientCh   = func(c challenges) string { return c.insufficient }

	wantOK          = status(http.StatusOK, nil, "", "")
	wantMissing     = status(http.StatusUnauthorized, plainCh, "", bodyUnauthorized)
	wantMalformed   = status(http.StatusBadRequest, invalidRequestCh, "", bodyUnauthorized)
	wantInvalid     = status(http.StatusUnauthorized, invalidTokenCh, "", bodyUnauthorized)
	wantForbidden   = status(http.StatusForbidden, insufficientCh, "", bodyForbidden)
	wantLimited     = status(http.StatusTooManyRequests, nil, "42", bodyRateLimited)
	wantUnavailable = status(http.StatusServiceUnavailable, nil, "5", bodyUnavailable)
	wantInternal    = status(http.StatusInternalServerError, nil, "", bodyInternal)
)

// requireCases is the error contract of a single scheme, as Require (and,
// for everything but "missing", Optional) must answer it.
var requireCases = []contractCase{
	{name: "missing", values: func(kindSpec) (string, []string) { return "", nil }, want: wantMissing, sameBody: true},
	{name: "valid", values: withToken(tokGood), want: wantOK},
	{name: "empty value", values: withValue(func(kindSpec) string { return "" }), want: wantMalformed, sameBody: true},
	{name: "bad syntax", values: withValue(func(spec kindSpec) string {
		return map[middleware.Kind]string{
			kindSession: "not a token!",
			kindBearer:  "Bearer not a token!",
			kindBasic:   "Basic !!!!",
		}[spec.kind]
	}), want: wantMalformed, sameBody: true},
	{name: "bad spacing after the scheme word", values: withValue(func(spec kindSpec) string {
		_, v := spec.raw(tokGood)
		word, rest, _ := strings.Cut(v, " ")
		switch spec.kind {
		case kindSession:
			return " " + tokGood // a header value cannot start with a space either
		case kindBearer:
			return word + "\t" + rest // RFC 6750 §2.1 allows spaces only
		}
		return word + "  " + rest // Basic: exactly one space (Tapglue)
	}), want: wantMalformed, sameBody: true},
	{name: "oversized over the 8 KiB default", values: withValue(func(spec kindSpec) string {
		return valueOfLength(spec, middleware.DefaultMaxHeaderBytes) + "AAAA"
	}), want: wantMalformed, sameBody: true},
	{name: "at the 8 KiB default reaches the verifier", values: withValue(func(spec kindSpec) string {
		return valueOfLength(spec, middleware.DefaultMaxHeaderBytes)
	}), want: wantInvalid},
	{name: "same header twice with different values", values: func(spec kindSpec) (string, []string) {
		name, a := spec.raw(tokGood)
		_, b := spec.raw(tokAdmin)
		return name, []string{a, b}
	}, want: wantMalformed, sameBody: true},
	{name: "same header twice with the same value", values: func(spec kindSpec) (string, []string) {
		name, a := spec.raw(tokGood)
		return name, []string{a, a}
	}, want: wantOK},
	{name: "unknown", values: withToken(tokUnknown), want: wantInvalid, sameBody: true},
	{name: "revoked", values: withToken(tokRevoked), want: wantInvalid, sameBody: true},
	{name: "forged", values: withToken(tokForged), want: wantInvalid, sameBody: true},
	{name: "expired principal", values: withToken(tokExpired), want: wantInvalid, sameBody: true},
	{name: "backend error", values: withToken(tokDown), want: wantUnavailable},
	{name: "verifier timeout", values: withToken(tokSlow), want: wantUnavailable},
	{name: "rate limited", values: withToken(tokLimited), want: wantLimited},
	{name: "forbidden by the verifier", values: withToken(tokForbidden), want: wantForbidden},
	{name: "verifier panic", values: withToken(tokPanic), want: wantInternal},
	// A Verifier returning a typed nil *Error used to pass as a success
	// with an empty principal.
	{name: "typed nil error", values: withToken(tokTypedNil), want: wantInternal},
	// A hand-built Error without a status used to panic in WriteHeader(0).
	{name: "hand-built error literal", values: withToken(tokLiteral), want: wantInvalid},
}

// contractModes runs a table with and without a Cache in front of the
// verifier: the cache must not change a single byte of the contract.
var contractModes = []struct {
	name   string
	cached bool
}{{"direct", false}, {"cached", true}}

// buildVerifier returns the verifier of a mode and the context a request
// should carry so that tokSlow ends (directly: the request's own deadline;
// cached: WithVerifyTimeout).
func buildVerifier(t *testing.T, cached bool, clock *fakeClock) (middleware.Verifier, func() (context.Context, context.CancelFunc)) {
	v := &testVerifier{}
	if !cached {
		return v, func() (context.Context, context.CancelFunc) {
			return context.WithTimeout(context.Background(), verifyTimeout)
		}
	}
	c := newTestCache(t, v, time.Minute, middleware.WithClock(clock.Now), middleware.WithVerifyTimeout(verifyTimeout))
	return c, func() (context.Context, context.CancelFunc) { return context.WithCancel(context.Background()) }
}

func TestRequireErrorContract(t *testing.T) {
	for _, mode := range contractModes {
		for _, spec := range allSpecs {
			t.Run(mode.name+"/"+string(spec.kind), func(t *testing.T) {
				clock := newFakeClock()
				v, reqCtx := buildVerifier(t, mode.cached, clock)
				s := newScheme(t, spec, v, middleware.WithClock(clock.Now))
				bodies := map[string]string{}
				for _, tc := range requireCases {
					t.Run(tc.name, func(t *testing.T) {
						var got seen
						h := middleware.Require(s)(principalHandler(&got))
						ctx, cancel := reqCtx()
						defer cancel()
						req := newRequest().WithContext(ctx)
						if name, values := tc.values(spec); values != nil {
							req.Header[name] = values
						}
						rec := serve(h, req)
						want := tc.want(spec)
						assertResponse(t, want, rec)
						require.Equal(t, want.status == http.StatusOK, got.called, "handler called")
						if got.called {
							require.True(t, got.ok)
							require.Equal(t, subjGood, got.principal.Subject)
							require.Equal(t, spec.kind, got.principal.Kind, "Kind defaults to the credential's")
						}
						if tc.sameBody {
							bodies[tc.name] = rec.Body.String()
						}
					})
				}
				// Missing, malformed, expired, revoked and forged: one body.
				require.NotEmpty(t, bodies)
				for name, body := range bodies {
					assert.Equal(t, bodyUnauthorized, body, name)
				}
			})
		}
	}
}

// TestConfiguredHeaderLimit: WithMaxHeaderBytes moves the bound, and a value
// over it is malformed before anything parses or verifies it.
func TestConfiguredHeaderLimit(t *testing.T) {
	const limit = 64
	for _, spec := range allSpecs {
		t.Run(string(spec.kind), func(t *testing.T) {
			v := &testVerifier{}
			s, err := middleware.NewScheme(spec.kind, spec.extractor(t, middleware.WithMaxHeaderBytes(limit)), v, spec.challenge)
			require.NoError(t, err)
			h := middleware.Require(s)(principalHandler(&seen{}))

			name, _ := spec.raw("x")
			req := newRequest()
			req.Header.Set(name, valueOfLength(spec, limit))
			assertResponse(t, wantInvalid(spec), serve(h, req))
			require.EqualValues(t, 1, v.calls.Load(), "a value at the limit is verified")

			req = newRequest()
			req.Header.Set(name, valueOfLength(spec, limit)+"AAAA")
			assertResponse(t, wantMalformed(spec), serve(h, req))
			require.EqualValues(t, 1, v.calls.Load(), "a value over the limit never reaches the verifier")
		})
	}
	_, err := middleware.NewHeaderExtractor(kindSession, sessionHeader, middleware.WithMaxHeaderBytes(0))
	require.Error(t, err)
	_, err = middleware.NewBasicExtractor(kindBasic, nil)
	require.Error(t, err)
}

// TestBasicExtractorRefusesTokenSyntax: a syntax check the Basic extractor
// would never run is refused, not accepted and ignored (a user-id the
// check refuses reached the Verifier).
func TestBasicExtractorRefusesTokenSyntax(t *testing.T) {
	_, err := middleware.NewBasicExtractor(kindBasic, middleware.WithTokenSyntax(func(string) bool { return false }))
	require.ErrorContains(t, err, "WithTokenSyntax")
}

// TestExpiryFollowsTheClock: a principal valid until t0+1m is accepted
// before and refused from then on, with or without a cache, without
// sleeping.
func TestExpiryFollowsTheClock(t *testing.T) {
	for _, mode := range contractModes {
		t.Run(mode.name, func(t *testing.T) {
			clock := newFakeClock()
			v, _ := buildVerifier(t, mode.cached, clock)
			s := newScheme(t, bearerSpec, v, middleware.WithClock(clock.Now))
			h := middleware.Require(s)(principalHandler(&seen{}))
			send := func() *http.Request {
				req := newRequest()
				bearerSpec.set(req.Header, tokExpiring)
				return req
			}
			assertResponse(t, wantOK(bearerSpec), serve(h, send()))
			clock.Advance(time.Minute - time.Nanosecond)
			assertResponse(t, wantOK(bearerSpec), serve(h, send()))
			clock.Advance(time.Nanosecond)
			assertResponse(t, wantInvalid(bearerSpec), serve(h, send()))
		})
	}
	// A cache hit does not spare the scheme its own expiry check when the
	// two run on different clocks.
	t.Run("the scheme's clock decides on a cache hit", func(t *testing.T) {
		cacheClock, schemeClock := newFakeClock(), newFakeClock()
		cache := newTestCache(t, &testVerifier{}, time.Hour, middleware.WithClock(cacheClock.Now))
		h := middleware.Require(newScheme(t, bearerSpec, cache, middleware.WithClock(schemeClock.Now)))(principalHandler(&seen{}))
		send := func() *http.Request {
			req := newRequest()
			bearerSpec.set(req.Header, tokExpiring)
			return req
		}
		assertResponse(t, wantOK(bearerSpec), serve(h, send()))
		schemeClock.Advance(time.Minute)
		assertResponse(t, wantInvalid(bearerSpec), serve(h, send()))
	})
}

func TestOptionalErrorContract(t *testing.T) {
	for _, mode := range contractModes {
		for _, spec := range allSpecs {
			t.Run(mode.name+"/"+string(spec.kind), func(t *testing.T) {
				clock := newFakeClock()
				v, reqCtx := buildVerifier(t, mode.cached, clock)
				s := newScheme(t, spec, v, middleware.WithClock(clock.Now))

				t.Run("anonymous passes through", func(t *testing.T) {
					var got seen
					rec := serve(middleware.Optional(s)(principalHandler(&got)), newRequest())
					assertResponse(t, wantOK(spec), rec)
					require.True(t, got.called)
					require.False(t, got.ok, "no principal for an anonymous request")
				})
				// Every other row is the same as Require's: a credential
				// that is present is never downgraded to anonymous.
				for _, tc := range requireCases {
					if tc.name == "missing" {
						continue
					}
					t.Run(tc.name, func(t *testing.T) {
						var got seen
						h := middleware.Optional(s)(principalHandler(&got))
						ctx, cancel := reqCtx()
						defer cancel()
						req := newRequest().WithContext(ctx)
						name, values := tc.values(spec)
						req.Header[name] = values
						rec := serve(h, req)
						want := tc.want(spec)
						assertResponse(t, want, rec)
						require.Equal(t, want.status == http.StatusOK, got.called, "handler called")
						if got.called {
							require.True(t, got.ok, "a valid credential is authenticated, not anonymous")
							require.Equal(t, subjGood, got.principal.Subject)
						}
					})
				}
			})
		}
	}
}

func TestAnyErrorContract(t *testing.T) {
	v := &testVerifier{}
	session, bearer, basic := newScheme(t, sessionSpec, v), newScheme(t, bearerSpec, v), newScheme(t, basicSpec, v)
	anyMW, err := middleware.Any(session, bearer, basic)
	require.NoError(t, err)

	type header struct{ name, value string }
	sessionH := func(tok string) header { return header{sessionHeader, tok} }
	bearerH := func(tok string) header { return header{"Authorization", "Bearer " + tok} }
	basicH := func(tok string) header { return header{"Authorization", basicValue(tok, "pw")} }

	cases := []struct {
		name    string
		headers []header
		want    expectation
		kind    middleware.Kind // of the principal on 200
	}{
		{name: "none: one challenge per scheme, in order", want: expectation{
			status:     http.StatusUnauthorized,
			challenges: []string{sessionChallenges.plain, bearerChallenges.plain, basicChallenges.plain},
			body:       bodyUnauthorized,
		}},
		{name: "session", headers: []header{sessionH(tokGood)}, want: expectation{status: http.StatusOK}, kind: kindSession},
		{name: "bearer", headers: []header{bearerH(tokGood)}, want: expectation{status: http.StatusOK}, kind: kindBearer},
		{name: "basic", headers: []header{basicH(tokGood)}, want: expectation{status: http.StatusOK}, kind: kindBasic},
		{name: "Authorization twice with the same value", headers: []header{bearerH(tokGood), bearerH(tokGood)},
			want: expectation{status: http.StatusOK}, kind: kindBearer},
		{name: "two kinds: session and bearer", headers: []header{sessionH(tokGood), bearerH(tokGood)},
			want: expectation{status: http.StatusBadRequest, challenges: one(sessionChallenges.invalidRequest), body: bodyUnauthorized}},
		{name: "two kinds: session and basic", headers: []header{sessionH(tokGood), basicH(tokGood)},
			want: expectation{status: http.StatusBadRequest, challenges: one(sessionChallenges.invalidRequest), body: bodyUnauthorized}},
		{name: "two kinds in one doubled header: bearer and basic", headers: []header{bearerH(tokGood), basicH(tokGood)},
			want: expectation{status: http.StatusBadRequest, challenges: one(bearerChallenges.invalidRequest), body: bodyUnauthorized}},
		{name: "session header twice with different values", headers: []header{sessionH(tokGood), sessionH(tokAdmin)},
			want: expectation{status: http.StatusBadRequest, challenges: one(sessionChallenges.invalidRequest), body: bodyUnauthorized}},
		{name: "Authorization twice with different bearer tokens", headers: []header{bearerH(tokGood), bearerH(tokAdmin)},
			want: expectation{status: http.StatusBadRequest, challenges: one(bearerChallenges.invalidRequest), body: bodyUnauthorized}},
		{name: "malformed session beside a valid bearer", headers: []header{sessionH("not a token!"), bearerH(tokGood)},
			want: expectation{status: http.StatusBadRequest, challenges: one(sessionChallenges.invalidRequest), body: bodyUnauthorized}},
		{name: "invalid bearer: its own challenge only", headers: []header{bearerH(tokRevoked)},
			want: expectation{status: http.StatusUnauthorized, challenges: one(bearerChallenges.invalidToken), body: bodyUnauthorized}},
		{name: "invalid basic", headers: []header{basicH(tokUnknown)},
			want: expectation{status: http.StatusUnauthorized, challenges: one(basicChallenges.plain), body: bodyUnauthorized}},
		{name: "malformed basic", headers: []header{{"Authorization", "Basic YQ=="}},
			want: expectation{status: http.StatusBadRequest, body: bodyUnauthorized}},
		{name: "backend error", headers: []header{sessionH(tokDown)},
			want: expectation{status: http.StatusServiceUnavailable, retryAfter: "5", body: bodyUnavailable}},
		{name: "rate limited", headers: []header{basicH(tokLimited)},
			want: expectation{status: http.StatusTooManyRequests, retryAfter: "42", body: bodyRateLimited}},
		{name: "panic", headers: []header{bearerH(tokPanic)},
			want: expectation{status: http.StatusInternalServerError, body: bodyInternal}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var got seen
			req := newRequest()
			for _, h := range tc.headers {
				req.Header.Add(h.name, h.value)
			}
			rec := serve(anyMW(principalHandler(&got)), req)
			assertResponse(t, tc.want, rec)
			require.Equal(t, tc.want.status == http.StatusOK, got.called)
			if got.called {
				require.Equal(t, tc.kind, got.principal.Kind)
				require.Equal(t, subjGood, got.principal.Subject)
			}
		})
	}
}

// TestAnyAmbiguityIsInvalidRequest: credentials of two kinds are 400
// invalid_request (RFC 6750 §3.1: more than one method of sending a token).
// When the first scheme found has no RFC 6750 challenge (Tidepool's session
// header has none) the other one answers, so that the response says
// invalid_request; it used to be the first one's bare 400.
func TestAnyAmbiguityIsInvalidRequest(t *testing.T) {
	v := &testVerifier{}
	plainSession := sessionSpec
	plainSession.challenge = middleware.Challenge{Scheme: "X-Tidepool-Session-Token", Realm: "tidepool"}
	session, bearer, basic := newScheme(t, plainSession, v), newScheme(t, bearerSpec, v), newScheme(t, basicSpec, v)
	anyMW, err := middleware.Any(session, bearer, basic)
	require.NoError(t, err)
	for _, tc := range []struct {
		name          string
		authorization string
		want          expectation
	}{
		{"session and bearer", "Bearer " + tokGood,
			expectation{status: http.StatusBadRequest, challenges: one(bearerChallenges.invalidRequest), body: bodyUnauthorized}},
		{"session and basic: neither speaks RFC 6750", basicValue(tokGood, "pw"),
			expectation{status: http.StatusBadRequest, body: bodyUnauthorized}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := newRequest()
			req.Header.Set(sessionHeader, tokGood)
			req.Header.Set("Authorization", tc.authorization)
			assertResponse(t, tc.want, serve(anyMW(principalHandler(&seen{})), req))
		})
	}
}

func TestAnyConstruction(t *testing.T) {
	v := &testVerifier{}
	s := newScheme(t, bearerSpec, v)
	_, err := middleware.Any()
	require.Error(t, err, "no scheme")
	_, err = middleware.Any(s, nil)
	require.Error(t, err, "nil scheme")
	_, err = middleware.Any(s, newScheme(t, bearerSpec, v))
	require.Error(t, err, "two schemes of one kind")
	// Any strips every scheme's identity headers before any scheme reads
	// its credential: one named like another scheme's credential header
	// would remove that credential from every request.
	_, err = middleware.Any(newScheme(t, sessionSpec, v),
		newScheme(t, bearerSpec, v, middleware.WithIdentityHeaders(middleware.IdentityHeaders{Subject: "x-tidepool-session-token"})))
	require.Error(t, err, "an identity header another scheme reads")

	// Any copies its arguments: changing the caller's slice later changes nothing.
	schemes := []*middleware.Scheme{s}
	anyMW, err := middleware.Any(schemes...)
	require.NoError(t, err)
	schemes[0] = newScheme(t, sessionSpec, v)
	rec := serve(anyMW(principalHandler(&seen{})), newRequest())
	require.Equal(t, []string{bearerChallenges.plain}, rec.Header().Values("WWW-Authenticate"))

	require.Panics(t, func() { middleware.Require(nil) })
	require.Panics(t, func() { middleware.Optional(nil) })
}

// noneExtractor is a custom extractor that reports "no credential" as
// Missing() rather than the bare sentinel.
var noneExtractor = middleware.ExtractorFunc(func(*http.Request) (middleware.Credential, error) {
	return middleware.Credential{}, middleware.Missing()
})

// TestCustomExtractorMissing: an extractor that returns Missing() (an *Error
// of kind ErrNoCredential) means "none of my kind", exactly like the bare
// sentinel. Compared with ==, Optional used to answer 401 instead of letting
// the request through, and Any used to refuse a valid credential of another
// scheme.
func TestCustomExtractorMissing(t *testing.T) {
	v := &testVerifier{}
	custom, err := middleware.NewScheme("custom", noneExtractor, v, middleware.Challenge{Scheme: "Custom", Realm: "r"})
	require.NoError(t, err)

	var got seen
	rec := serve(middleware.Optional(custom)(principalHandler(&got)), newRequest())
	require.Equal(t, http.StatusOK, rec.Code)
	require.False(t, got.ok)

	anyMW, err := middleware.Any(custom, newScheme(t, bearerSpec, v))
	require.NoError(t, err)
	req := newRequest()
	bearerSpec.set(req.Header, tokGood)
	rec = serve(anyMW(principalHandler(&got)), req)
	require.Equal(t, http.StatusOK, rec.Code)
	require.Equal(t, kindBearer, got.principal.Kind)

	rec = serve(anyMW(principalHandler(&got)), newRequest())
	assertResponse(t, expectation{status: http.StatusUnauthorized,
		challenges: []string{`Custom realm="r"`, bearerChallenges.plain}, body: bodyUnauthorized}, rec)
}

func TestGuards(t *testing.T) {
	v := &testVerifier{}
	bearer, basic := newScheme(t, bearerSpec, v), newScheme(t, basicSpec, v)
	anyMW, err := middleware.Any(newScheme(t, sessionSpec, v), bearer)
	require.NoError(t, err)

	reqWith := func(spec kindSpec, tok string) *http.Request {
		req := newRequest()
		if tok != "" {
			spec.set(req.Header, tok)
		}
		return req
	}
	forbidden := func(challenge string) expectation {
		return expectation{status: http.StatusForbidden, challenges: one(challenge), body: bodyForbidden}
	}
	ok := expectation{status: http.StatusOK}

	cases := []struct {
		name  string
		outer func(http.Handler) http.Handler
		guard func(http.Handler) http.Handler
		req   *http.Request
		want  expectation
	}{
		{"role held", middleware.Require(bearer), middleware.RequireRole("admin"), reqWith(bearerSpec, tokAdmin), ok},
		// A role is not an OAuth scope: the challenge names none.
		{"role lacking: bearer", middleware.Require(bearer), middleware.RequireRole("admin"), reqWith(bearerSpec, tokGood),
			forbidden(bearerChallenges.insufficient)},
		{"scope held", middleware.Require(bearer), middleware.RequireScope("write"), reqWith(bearerSpec, tokAdmin), ok},
		{"scope lacking: bearer names it", middleware.Require(bearer), middleware.RequireScope("write"), reqWith(bearerSpec, tokGood),
			forbidden(bearerChallenges.insufficient + `, scope="write"`)},
		{"scope lacking: several scope tokens", middleware.Require(bearer), middleware.RequireScope("write:all admin"), reqWith(bearerSpec, tokGood),
			forbidden(bearerChallenges.insufficient + `, scope="write:all admin"`)},
		{"scope lacking: a scope unfit for a quoted-string is left out", middleware.Require(bearer), middleware.RequireScope(`a"b`),
			reqWith(bearerSpec, tokGood), forbidden(bearerChallenges.insufficient)},
		{"role lacking: basic has no 403 challenge", middleware.Require(basic), middleware.RequireRole("admin"), reqWith(basicSpec, tokGood),
			forbidden("")},
		{"scope lacking behind Any: the authenticating scheme's challenge", anyMW, middleware.RequireScope("write"), reqWith(bearerSpec, tokGood),
			forbidden(bearerChallenges.insufficient + `, scope="write"`)},
		{"behind Optional, authenticated", middleware.Optional(bearer), middleware.RequireRole("user"), reqWith(bearerSpec, tokGood), ok},
		{"behind Optional, anonymous: 401 with the scheme's challenge", middleware.Optional(bearer), middleware.RequireRole("user"),
			reqWith(bearerSpec, ""), expectation{status: http.StatusUnauthorized, challenges: one(bearerChallenges.plain), body: bodyUnauthorized}},
		{"behind Optional, anonymous, scope guard", middleware.Optional(basic), middleware.RequireScope("read"),
			reqWith(basicSpec, ""), expectation{status: http.StatusUnauthorized, challenges: one(basicChallenges.plain), body: bodyUnauthorized}},
		{"without any middleware: 500, nobody let through", func(h http.Handler) http.Handler { return h }, middleware.RequireRole("user"),
			reqWith(bearerSpec, tokGood), expectation{status: http.StatusInternalServerError, body: bodyInternal}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var got seen
			rec := serve(tc.outer(tc.guard(principalHandler(&got))), tc.req)
			assertResponse(t, tc.want, rec)
			require.Equal(t, tc.want.status == http.StatusOK, got.called)
		})
	}

	t.Run("NewContext principal: default renderer, no challenge", func(t *testing.T) {
		var got seen
		h := middleware.RequireRole("admin")(principalHandler(&got))
		req := newRequest()
		req = req.WithContext(middleware.NewContext(req.Context(), middleware.Principal{Subject: "u", Roles: []string{"user"}}))
		assertResponse(t, forbidden(""), serve(h, req))
		require.False(t, got.called)

		req = req.WithContext(middleware.NewContext(req.Context(), middleware.Principal{Subject: "u", Roles: []string{"admin"}}))
		require.Equal(t, http.StatusOK, serve(h, req).Code)
		require.Equal(t, "u", got.principal.Subject)
	})
}

// TestRendererOption: WithRenderer replaces the body, never the headers the
// middleware owns.
func TestRendererOption(t *testing.T) {
	var gotErr *middleware.Error
	render := func(w http.ResponseWriter, r *http.Request, e *middleware.Error) {
		gotErr = e
		middleware.WriteJSON(w, e.Status, []byte(`{"code":401}`))
	}
	s, err := middleware.NewScheme(kindBearer, bearerSpec.extractor(t), &testVerifier{}, bearerSpec.challenge, middleware.WithRenderer(render))
	require.NoError(t, err)
	req := newRequest()
	bearerSpec.set(req.Header, tokRevoked)
	rec := serve(middleware.Require(s)(principalHandler(&seen{})), req)
	require.Equal(t, http.StatusUnauthorized, rec.Code)
	require.Equal(t, `{"code":401}`, rec.Body.String())
	require.Equal(t, []string{bearerChallenges.invalidToken}, rec.Header().Values("WWW-Authenticate"))
	require.Equal(t, "no-store", rec.Header().Get("Cache-Control"))
	require.ErrorIs(t, gotErr, middleware.ErrInvalidCredential)
	require.Equal(t, "revoked", gotErr.Reason)

	_, err = middleware.NewScheme(kindBearer, bearerSpec.extractor(t), &testVerifier{}, bearerSpec.challenge, middleware.WithRenderer(nil))
	require.Error(t, err)
}

// TestRendererGetsItsOwnError: a Verifier may return one *Error to many
// callers (a package-level value, or a singleflight of its own); a renderer
// may change what it is given. Each request's renderer gets a copy, so the
// next request, and the Verifier's own value, see nothing of the change.
func TestRendererGetsItsOwnError(t *testing.T) {
	refused := middleware.Invalid("revoked") // shared by every call
	v := middleware.VerifierFunc(func(context.Context, middleware.Credential) (middleware.Principal, error) {
		return middleware.Principal{}, refused
	})
	var got []*middleware.Error
	render := func(w http.ResponseWriter, r *http.Request, e *middleware.Error) {
		got = append(got, e)
		e.Reason = "changed by a renderer"
		middleware.JSONRenderer(w, r, e)
	}
	s, err := middleware.NewScheme(kindBearer, bearerSpec.extractor(t), v, bearerSpec.challenge, middleware.WithRenderer(render))
	require.NoError(t, err)
	h := middleware.Require(s)(principalHandler(&seen{}))
	for range 2 {
		req := newRequest()
		bearerSpec.set(req.Header, tokRevoked)
		require.Equal(t, http.StatusUnauthorized, serve(h, req).Code)
	}
	require.Len(t, got, 2)
	require.NotSame(t, got[0], got[1])
	require.NotSame(t, refused, got[0])
	require.Equal(t, "revoked", refused.Reason, "the Verifier's own value is untouched")
}

// TestRendererGetsItsOwnExtractorError: an Extractor's *Error, and one
// handed to Scheme.Reject, reach the renderer as a copy too, under Require
// and under Any: they reached it as the very same pointer, so a renderer
// that changed it changed every later request's error and log line.
func TestRendererGetsItsOwnExtractorError(t *testing.T) {
	malformed := middleware.Malformed("bad header") // shared by every call
	ex := middleware.ExtractorFunc(func(*http.Request) (middleware.Credential, error) {
		return middleware.Credential{}, malformed
	})
	v := middleware.VerifierFunc(func(context.Context, middleware.Credential) (middleware.Principal, error) {
		return middleware.Principal{Subject: "u"}, nil
	})
	var got []*middleware.Error
	render := func(w http.ResponseWriter, r *http.Request, e *middleware.Error) {
		got = append(got, e)
		e.Reason = "changed by a renderer"
		middleware.JSONRenderer(w, r, e)
	}
	s, err := middleware.NewScheme("custom", ex, v, middleware.Challenge{Scheme: "Custom", Realm: "api"},
		middleware.WithRenderer(render), middleware.WithLogger(slog.New(slog.DiscardHandler)))
	require.NoError(t, err)
	h := middleware.Require(s)(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	anyMW, err := middleware.Any(s)
	require.NoError(t, err)
	for _, handler := range []http.Handler{h, anyMW(h)} {
		require.Equal(t, http.StatusBadRequest, serve(handler, newRequest()).Code)
	}
	s.Reject(httptest.NewRecorder(), newRequest(), malformed)

	require.Len(t, got, 3)
	for i, e := range got {
		assert.NotSame(t, malformed, e, "render %d got the extractor's own *Error", i)
	}
	assert.Equal(t, "bad header", malformed.Reason, "the extractor's own value is untouched")
}

// TestSchemeReject: kind packages answer their own endpoints' failures with
// Reject, which must match the middleware byte for byte.
func TestSchemeReject(t *testing.T) {
	s := newScheme(t, bearerSpec, &testVerifier{})
	cases := []struct {
		err  error
		want expectation
	}{
		{middleware.Invalid("x"), wantInvalid(bearerSpec)},
		{middleware.ErrNoCredential, wantMissing(bearerSpec)},
		{middleware.Malformed("x"), wantMalformed(bearerSpec)},
		{middleware.RateLimited("x", 1500*time.Millisecond), expectation{status: 429, retryAfter: "2", body: bodyRateLimited}},
		{middleware.RateLimited("x", 0), expectation{status: 429, retryAfter: "1", body: bodyRateLimited}},
		{middleware.RateLimited("x", -time.Second), expectation{status: 429, retryAfter: "1", body: bodyRateLimited}},
		{middleware.RateLimited("x", math.MaxInt64), expectation{status: 429, retryAfter: "9223372037", body: bodyRateLimited}},
		{middleware.RateLimited("x", math.MaxInt64-999_999_999), expectation{status: 429, retryAfter: "9223372036", body: bodyRateLimited}},
		{context.DeadlineExceeded, wantUnavailable(bearerSpec)},
		{nil, wantInternal(bearerSpec)},
	}
	for _, tc := range cases {
		rec := httptest.NewRecorder()
		s.Reject(rec, newRequest(), tc.err)
		assertResponse(t, tc.want, rec)
	}
}

func TestNewSchemeValidates(t *testing.T) {
	v, ex := &testVerifier{}, bearerSpec.extractor(t)
	good := bearerSpec.challenge
	cases := []struct {
		name string
		kind middleware.Kind
		ex   middleware.Extractor
		v    middleware.Verifier
		ch   middleware.Challenge
		opts []middleware.SchemeOption
	}{
		{"empty kind", "", ex, v, good, nil},
		{"nil extractor", kindBearer, nil, v, good, nil},
		{"nil verifier", kindBearer, ex, nil, good, nil},
		{"bad challenge scheme", kindBearer, ex, v, middleware.Challenge{Scheme: "Bear er", Realm: "r"}, nil},
		{"empty realm", kindBearer, ex, v, middleware.Challenge{Scheme: "Bearer"}, nil},
		{"quote in realm", kindBearer, ex, v, middleware.Challenge{Scheme: "Bearer", Realm: `a"b`}, nil},
		{"nil option", kindBearer, ex, v, good, []middleware.SchemeOption{nil}},
		{"nil logger", kindBearer, ex, v, good, []middleware.SchemeOption{middleware.WithLogger(nil)}},
		{"nil clock", kindBearer, ex, v, good, []middleware.SchemeOption{middleware.WithClock(nil)}},
		{"nil observer", kindBearer, ex, v, good, []middleware.SchemeOption{middleware.WithObserver(nil)}},
		{"no identity header", kindBearer, ex, v, good, []middleware.SchemeOption{middleware.WithIdentityHeaders(middleware.IdentityHeaders{})}},
		{"bad identity header", kindBearer, ex, v, good, []middleware.SchemeOption{middleware.WithIdentityHeaders(middleware.IdentityHeaders{Subject: "X Bad"})}},
		{"identity header twice", kindBearer, ex, v, good, []middleware.SchemeOption{middleware.WithIdentityHeaders(middleware.IdentityHeaders{Subject: "X-User", Roles: "x-user"})}},
		{"identity header Authorization", kindBearer, ex, v, good, []middleware.SchemeOption{middleware.WithIdentityHeaders(middleware.IdentityHeaders{Subject: "authorization"})}},
		{"identity header Cookie", kindBearer, ex, v, good, []middleware.SchemeOption{middleware.WithIdentityHeaders(middleware.IdentityHeaders{App: "Cookie"})}},
		{"identity header the credential's own", kindSession, sessionSpec.extractor(t), v, good, []middleware.SchemeOption{middleware.WithIdentityHeaders(middleware.IdentityHeaders{Subject: "X-Tidepool-Session-Token"})}},
	}
	for _, tc := range cases {
		_, err := middleware.NewScheme(tc.kind, tc.ex, tc.v, tc.ch, tc.opts...)
		require.Error(t, err, tc.name)
	}
}

// TestAnyMalformedAnswerDoesNotDependOnOrder: Basic and Bearer in one
// doubled Authorization header are refused by both extractors as a
// duplicate. Whichever scheme came first in Any answered: with Basic first,
// a bare 400 without the invalid_request challenge that Bearer gives.
func TestAnyMalformedAnswerDoesNotDependOnOrder(t *testing.T) {
	v := &testVerifier{}
	bearer, basic := newScheme(t, bearerSpec, v), newScheme(t, basicSpec, v)
	for name, schemes := range map[string][]*middleware.Scheme{
		"bearer first": {bearer, basic},
		"basic first":  {basic, bearer},
	} {
		t.Run(name, func(t *testing.T) {
			anyMW, err := middleware.Any(schemes...)
			require.NoError(t, err)
			for _, values := range [][]string{
				{basicValue(tokGood, "pw"), "Bearer " + tokGood},
				{"Bearer " + tokGood, basicValue(tokGood, "pw")},
			} {
				req := newRequest()
				for _, v := range values {
					req.Header.Add("Authorization", v)
				}
				var got seen
				rec := serve(anyMW(principalHandler(&got)), req)
				assertResponse(t, expectation{status: http.StatusBadRequest,
					challenges: one(bearerChallenges.invalidRequest), body: bodyUnauthorized}, rec)
			}
			req := newRequest()
			req.Header.Set("Authorization", "Basic YQ==") // Basic alone, malformed: Basic's own 400
			rec := serve(anyMW(principalHandler(&seen{})), req)
			assertResponse(t, expectation{status: http.StatusBadRequest, body: bodyUnauthorized}, rec)
		})
	}
}

// TestAnyForbiddenFormBesideAnotherKind: an extractor that refuses its
// credential's form with 403 (as basicauth refuses Basic over plain HTTP)
// while the request also carries a session token, well formed or not,
// sees two kinds: 400 invalid_request in either order. The 403 answered
// when the refusing scheme came first or after a well-formed token.
func TestAnyForbiddenFormBesideAnotherKind(t *testing.T) {
	v := &testVerifier{}
	refusing := basicSpec
	refusing.extractor = func(t testing.TB, opts ...middleware.ExtractorOption) middleware.Extractor {
		return middleware.ExtractorFunc(func(r *http.Request) (middleware.Credential, error) {
			if r.Header.Get("Authorization") == "" {
				return middleware.Credential{}, middleware.ErrNoCredential
			}
			return middleware.Credential{}, middleware.Forbidden("https_required", "")
		})
	}
	session, basic := newScheme(t, sessionSpec, v), newScheme(t, refusing, v)
	for name, schemes := range map[string][]*middleware.Scheme{
		"session first": {session, basic},
		"basic first":   {basic, session},
	} {
		anyMW, err := middleware.Any(schemes...)
		require.NoError(t, err)
		for _, token := range []string{tokGood, "t o k"} {
			req := newRequest()
			req.Header.Set("Authorization", basicValue(tokGood, "pw"))
			req.Header.Set(sessionHeader, token)
			rec := serve(anyMW(principalHandler(&seen{})), req)
			assert.Equal(t, http.StatusBadRequest, rec.Code, "%s, token %q", name, token)
			assert.Equal(t, []string{sessionChallenges.invalidRequest}, rec.Header().Values("WWW-Authenticate"), "%s, token %q", name, token)
		}
		req := newRequest()
		req.Header.Set("Authorization", basicValue(tokGood, "pw"))
		rec := serve(anyMW(principalHandler(&seen{})), req)
		assert.Equal(t, http.StatusForbidden, rec.Code, "%s, the refused form alone keeps its 403", name)
	}
}
