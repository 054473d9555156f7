package middleware_test

import (
	"log/slog"
	"math"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tidegate/tidegate/middleware"
)

// The cache-first path (middleware.Peeker) must answer every request
// exactly as extracting and verifying does. These tests serve the same
// requests through two stacks over the same warm caches: "fast", with the
// package's extractors (Peekers), and "full", with the same extractors
// hidden behind ExtractorFunc, which is not a Peeker.

// peekStacks holds the handlers under comparison.
type peekStacks struct {
	fast, full map[string]http.Handler
	verifier   *testVerifier
}

func newPeekStacks(t testing.TB) *peekStacks {
	t.Helper()
	v := &testVerifier{}
	st := &peekStacks{fast: map[string]http.Handler{}, full: map[string]http.Handler{}, verifier: v}
	caches := map[middleware.Kind]*middleware.Cache{}
	var fastSchemes, fullSchemes []*middleware.Scheme
	for _, spec := range allSpecs {
		// The slow token waits for the verify timeout: keep it short, so
		// that a fuzz input that finds it costs milliseconds, not seconds.
		cache := newTestCache(t, v, time.Hour, middleware.WithVerifyTimeout(50*time.Millisecond))
		caches[spec.kind] = cache
		quiet := middleware.WithLogger(slog.New(slog.DiscardHandler))
		fast, err := middleware.NewScheme(spec.kind, spec.extractor(t), cache, spec.challenge, quiet)
		require.NoError(t, err)
		ex := spec.extractor(t)
		full, err := middleware.NewScheme(spec.kind, middleware.ExtractorFunc(ex.Extract), cache, spec.challenge, quiet)
		require.NoError(t, err)
		st.fast[string(spec.kind)] = middleware.Require(fast)(principalHandler(&seen{}))
		st.full[string(spec.kind)] = middleware.Require(full)(principalHandler(&seen{}))
		fastSchemes, fullSchemes = append(fastSchemes, fast), append(fullSchemes, full)
	}
	fastAny, err := middleware.Any(fastSchemes...)
	require.NoError(t, err)
	fullAny, err := middleware.Any(fullSchemes...)
	require.NoError(t, err)
	st.fast["any"] = fastAny(principalHandler(&seen{}))
	st.full["any"] = fullAny(principalHandler(&seen{}))

	// Warm every cache with the good credentials of every kind.
	for _, spec := range allSpecs {
		for _, tok := range []string{tokGood, tokAdmin} {
			req := newRequest()
			spec.set(req.Header, tok)
			require.Equal(t, http.StatusOK, serve(st.full[string(spec.kind)], req).Code)
		}
	}
	return st
}

// compare serves header through every stack pair and requires identical
// answers.
func (st *peekStacks) compare(t testing.TB, header http.Header) {
	t.Helper()
	for name, fast := range st.fast {
		reqFast, reqFull := newRequest(), newRequest()
		reqFast.Header, reqFull.Header = header.Clone(), header.Clone()
		got, want := serve(fast, reqFast), serve(st.full[name], reqFull)
		if got.Code != want.Code || got.Body.String() != want.Body.String() ||
			!equalHeaders(got.Header(), want.Header()) {
			t.Fatalf("%s, request %q:\ncache-first %d %v %q\nfull        %d %v %q", name, header,
				got.Code, got.Header(), got.Body.String(), want.Code, want.Header(), want.Body.String())
		}
	}
}

func equalHeaders(a, b http.Header) bool {
	if len(a) != len(b) {
		return false
	}
	for k, av := range a {
		bv := b[k]
		if len(av) != len(bv) {
			return false
		}
		for i := range av {
			if av[i] != bv[i] {
				return false
			}
		}
	}
	return true
}

func TestCacheFirstPathAnswersAsExtractionDoes(t *testing.T) {
	st := newPeekStacks(t)
	good := basicValue(tokGood, "pw")
	cases := map[string][]string{
		"no credential":                   nil,
		"session":                         {sessionHeader, tokGood},
		"session twice, same value":       {sessionHeader, tokGood, sessionHeader, tokGood},
		"session twice, different values": {sessionHeader, tokGood, sessionHeader, tokAdmin},
		"session empty":                   {sessionHeader, ""},
		"session with a colon":            {sessionHeader, tokGood + ":x"},
		"session not token68":             {sessionHeader, tokGood + " x"},
		"session oversized":               {sessionHeader, strings.Repeat("a", middleware.DefaultMaxHeaderBytes+1)},
		"bearer":                          {"Authorization", "Bearer " + tokGood},
		"bearer, lower-case scheme word":  {"Authorization", "bearer " + tokGood},
		"bearer, two spaces":              {"Authorization", "Bearer  " + tokGood},
		"bearer, tab":                     {"Authorization", "Bearer\t" + tokGood},
		"bearer, nothing after":           {"Authorization", "Bearer"},
		"bearer, a space after":           {"Authorization", "Bearer "},
		"bearer twice":                    {"Authorization", "Bearer " + tokGood, "Authorization", "Bearer " + tokGood},
		"bearer and session":              {"Authorization", "Bearer " + tokGood, sessionHeader, tokGood},
		"bearer, longer scheme word":      {"Authorization", "Bearerish " + tokGood},
		"bearer oversized":                {"Authorization", "Bearer " + strings.Repeat("a", middleware.DefaultMaxHeaderBytes)},
		"basic":                           {"Authorization", good},
		"basic, lower-case scheme word":   {"Authorization", "basic" + good[len("Basic"):]},
		"basic, unknown user":             {"Authorization", basicValue(tokUnknown, "pw")},
		"basic, wrong password":           {"Authorization", basicValue(tokGood, "other")},
		"basic, not base64":               {"Authorization", "Basic !!!!"},
		"basic, unpadded":                 {"Authorization", strings.TrimRight(good, "=")},
		"basic and session":               {"Authorization", good, sessionHeader, tokGood},
		"basic twice":                     {"Authorization", good, "Authorization", good},
		"empty authorization":             {"Authorization", ""},
		"unsupported scheme and session":  {"Authorization", "Digest x", sessionHeader, tokGood},
		"session, unknown token":          {sessionHeader, tokUnknown},
		"session, revoked token":          {sessionHeader, tokRevoked},
		"session admin, bearer unknown":   {sessionHeader, tokAdmin, "Authorization", "Bearer " + tokUnknown},
		"session starting with a colon":   {sessionHeader, ":" + tokGood},
	}
	for name, pairs := range cases {
		t.Run(name, func(t *testing.T) {
			h := http.Header{}
			for i := 0; i+1 < len(pairs); i += 2 {
				h[pairs[i]] = append(h[pairs[i]], pairs[i+1])
			}
			st.compare(t, h)
		})
	}
}

// TestCacheFirstPathServesHits: a cached credential is answered with its
// principal and without a Verifier call, through Require and Any.
func TestCacheFirstPathServesHits(t *testing.T) {
	st := newPeekStacks(t)
	before := st.verifier.calls.Load()
	for _, spec := range allSpecs {
		for _, name := range []string{string(spec.kind), "any"} {
			req := newRequest()
			spec.set(req.Header, tokAdmin)
			rec := serve(st.fast[name], req)
			require.Equal(t, http.StatusOK, rec.Code, "%s via %s", spec.kind, name)
			assert.Equal(t, "subject="+subjAdmin, rec.Body.String())
		}
	}
	assert.Equal(t, before, st.verifier.calls.Load(), "every request was a hit")
}

// FuzzCacheFirstPath: for any session header and Authorization header(s),
// the cache-first path answers as extraction does.
func FuzzCacheFirstPath(f *testing.F) {
	f.Add(tokGood, "", "")
	f.Add("", "Bearer "+tokGood, "")
	f.Add("", basicValue(tokGood, "pw"), "")
	f.Add(tokGood, "Bearer "+tokAdmin, "")
	f.Add("", "Bearer "+tokGood, "Bearer "+tokGood)
	f.Add("", "bEaReR "+tokGood, "")
	f.Add("", "Bearer   "+tokGood, "")               // RFC 6750 §2.1: 1*SP
	f.Add("", "Bearer  "+tokGood, "Bearer "+tokGood) // one credential, two spellings
	f.Add("", "Basic "+strings.TrimRight(basicValue(tokGood, "pw")[len("Basic "):], "="), "")
	st := newPeekStacks(f)
	f.Fuzz(func(t *testing.T, session, auth1, auth2 string) {
		h := http.Header{}
		if session != "" {
			h[sessionHeader] = []string{session}
		}
		for _, v := range []string{auth1, auth2} {
			if v != "" {
				h["Authorization"] = append(h["Authorization"], v)
			}
		}
		st.compare(t, h)
	})
}

// TestInvalidateHandBuiltBasicCredential: Basic credentials are cached
// under their token68; Invalidate given the same credential built by hand
// from its parts still forgets the entry.
func TestInvalidateHandBuiltBasicCredential(t *testing.T) {
	v := &testVerifier{}
	cache := newTestCache(t, v, time.Hour)
	h := middleware.Require(newScheme(t, basicSpec, cache))(principalHandler(&seen{}))
	send := func() int {
		req := newRequest()
		basicSpec.set(req.Header, tokGood)
		return serve(h, req).Code
	}
	require.Equal(t, http.StatusOK, send())
	require.Equal(t, http.StatusOK, send())
	require.Equal(t, int64(1), v.calls.Load())

	cache.Invalidate(middleware.Credential{Kind: kindBasic, Token: tokGood, Secret: "pw"})
	require.Equal(t, http.StatusOK, send())
	assert.Equal(t, int64(2), v.calls.Load(), "verified again after Invalidate")
}

// TestBasicFingerprintIsTheSameOnAHit: the log line of a cache hit names
// the credential by the same fingerprint as the first request's.
func TestBasicFingerprintIsTheSameOnAHit(t *testing.T) {
	logger, logs := debugLogger()
	cache := newTestCache(t, &testVerifier{}, time.Hour)
	h := middleware.Require(newScheme(t, basicSpec, cache, middleware.WithLogger(logger)))(principalHandler(&seen{}))
	for range 2 {
		req := newRequest()
		basicSpec.set(req.Header, tokGood)
		require.Equal(t, http.StatusOK, serve(h, req).Code)
	}
	fp := "fp=" + middleware.Credential{Kind: kindBasic, Token: tokGood, Secret: "pw"}.Fingerprint()
	assert.Equal(t, 2, strings.Count(logs.String(), fp), logs.String())
}

// TestBearerAllowsSpacesAfterTheSchemeWord: RFC 6750 §2.1 (and RFC 7235
// §2.1) put 1*SP between "Bearer" and the token, so any number of spaces
// is the same credential, verified once and found in the cache by each
// spelling. (Basic keeps exactly one space: Tapglue's rule, issue 5.) Two
// spaces used to be refused as malformed.
func TestBearerAllowsSpacesAfterTheSchemeWord(t *testing.T) {
	v := &countingVerifier{}
	h := middleware.Require(newScheme(t, bearerSpec, newTestCache(t, v, time.Hour)))(principalHandler(&seen{}))
	for _, value := range []string{"Bearer " + tokGood, "Bearer  " + tokGood, "bearer     " + tokGood} {
		req := newRequest()
		req.Header.Set("Authorization", value)
		require.Equal(t, http.StatusOK, serve(h, req).Code, "%q", value)
	}
	require.EqualValues(t, 1, v.total.Load(), "one credential, one verification")

	basic := middleware.Require(newScheme(t, basicSpec, &testVerifier{}))(principalHandler(&seen{}))
	req := newRequest()
	req.Header.Set("Authorization", "Basic  "+strings.TrimPrefix(basicValue(tokGood, "pw"), "Basic "))
	require.Equal(t, http.StatusBadRequest, serve(basic, req).Code, "Basic: exactly one space")
}

// TestSpacesAfterBearerAreBounded: at most 257 spaces may follow "Bearer",
// in Extract and in the cache-first peek alike (more used to be read, up to
// the raw bound), and a header bound near math.MaxInt does not wrap round
// when the spaces are added to it (every Bearer header was then refused as
// oversized).
func TestSpacesAfterBearerAreBounded(t *testing.T) {
	v := &countingVerifier{}
	h := middleware.Require(newScheme(t, bearerSpec, newTestCache(t, v, time.Hour)))(principalHandler(&seen{}))
	for spaces, want := range map[int]int{1: http.StatusOK, 257: http.StatusOK, 258: http.StatusBadRequest, 4000: http.StatusBadRequest} {
		req := newRequest()
		req.Header.Set("Authorization", "Bearer"+strings.Repeat(" ", spaces)+tokGood)
		require.Equal(t, want, serve(h, req).Code, "%d spaces", spaces) // cached after the first 200
	}
	for _, limit := range []int{math.MaxInt, math.MaxInt - 255} {
		ex, err := middleware.NewAuthorizationExtractor(kindBearer, "Bearer", middleware.WithMaxHeaderBytes(limit))
		require.NoError(t, err)
		req := newRequest()
		req.Header.Set("Authorization", "Bearer tok")
		c, err := ex.Extract(req)
		require.NoError(t, err, "a bound of %d", limit)
		require.Equal(t, "tok", c.Token)
	}
}
