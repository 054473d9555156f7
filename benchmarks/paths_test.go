package benchmarks

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	gojwt "github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/tidegate/tidegate/middleware"
	"github.com/tidegate/tidegate/session"
)

// The benchmarks only mean something if every path answers what its name
// says: these tests serve each benchmark's requests once and check the
// status (and, for Any, which kind authenticated).

func serve(h http.Handler, r *http.Request) int {
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, r)
	return rec.Code
}

func TestTidegatePathsAnswerAsNamed(t *testing.T) {
	w := getWorld(t)
	cases := []struct {
		name string
		h    http.Handler
		want int
		reqs []*http.Request
	}{
		{"session", w.sessionHandler(), http.StatusOK, requests(session.HeaderToken, w.sessionTokens, false)},
		{"session unknown", w.sessionHandler(), http.StatusUnauthorized, requests(session.HeaderToken, unknownSessions(4), false)},
		{"HS256", middleware.Require(w.hs.Scheme())(ok), http.StatusOK, requests("Authorization", w.hsTokens, false)},
		{"HS256 forged", middleware.Require(w.hs.Scheme())(ok), http.StatusUnauthorized, requests("Authorization", forged(t, w.hsTokens[:4]), false)},
		{"EdDSA", middleware.Require(w.ed.Scheme())(ok), http.StatusOK, requests("Authorization", w.edTokens, false)},
		{"EdDSA forged", middleware.Require(w.ed.Scheme())(ok), http.StatusUnauthorized, requests("Authorization", forged(t, w.edTokens[:4]), false)},
		{"basic", w.apps.RequireUser()(ok), http.StatusOK, requests("Authorization", w.basicCreds, true)},
		{"basic, scheme only", middleware.Require(w.apps.Scheme())(ok), http.StatusOK, requests("Authorization", w.basicCreds, true)},
		{"basic unknown app", w.apps.RequireUser()(ok), http.StatusUnauthorized, requests("Authorization", unknownApps(4), true)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			for _, r := range tc.reqs {
				assert.Equal(t, tc.want, serve(tc.h, r))
			}
		})
	}
}

func TestCredentialsAreDistinct(t *testing.T) {
	w := getWorld(t)
	for _, values := range [][]string{w.sessionTokens, w.hsTokens, w.edTokens, w.basicCreds} {
		seen := map[string]bool{}
		for _, v := range values {
			seen[v] = true
		}
		assert.Len(t, seen, users)
	}
}

func TestForgedDiffersOnlyInSignature(t *testing.T) {
	w := getWorld(t)
	for _, v := range append(w.hsTokens[:2:2], w.edTokens[:2]...) {
		f := forged(t, []string{v})[0]
		require.NotEqual(t, v, f)
		cut := func(s string) string { return s[:len(s)-len(s[lastDot(s):])] }
		assert.Equal(t, cut(v), cut(f))
		assert.Len(t, f, len(v))
	}
}

func lastDot(s string) int {
	for i := len(s) - 1; i >= 0; i-- {
		if s[i] == '.' {
			return i
		}
	}
	return -1
}

// A first-sight request is a miss that fills the cache; the same request
// again is a hit that does not.
func TestFirstSightIsAMiss(t *testing.T) {
	w := getWorld(t)
	cases := []struct {
		name  string
		h     http.Handler
		cache *middleware.Cache
		pool  *pool
		req   func(string) *http.Request
	}{
		{"session", w.sessionHandler(), w.sessions.Cache(), w.sessionPool, func(v string) *http.Request { return request(session.HeaderToken, v) }},
		{"HS256", middleware.Require(w.hs.Scheme())(ok), cacheOf(t, w.hs.Scheme()), w.hsPool, func(v string) *http.Request { return request("Authorization", v) }},
		{"basic", w.apps.RequireUser()(ok), cacheOf(t, w.apps.Scheme()), w.basicPool,
			func(v string) *http.Request { return requests("Authorization", []string{v}, true)[0] }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			values, err := tc.pool.grow(users + 2)
			require.NoError(t, err)
			tc.cache.Purge()
			require.Equal(t, 0, tc.cache.Len())
			for i, v := range values[users : users+2] {
				require.Equal(t, http.StatusOK, serve(tc.h, tc.req(v)))
				assert.Equal(t, i+1, tc.cache.Len(), "a first sight is cached")
				require.Equal(t, http.StatusOK, serve(tc.h, tc.req(v)))
				assert.Equal(t, i+1, tc.cache.Len(), "a second sight is a hit")
			}
		})
	}
}

func TestAnyResolvesToEachKind(t *testing.T) {
	w := getWorld(t)
	var kind middleware.Kind
	record := http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		p, _ := middleware.FromRequest(r)
		kind = p.Kind
		rw.WriteHeader(http.StatusOK)
	})
	anyKind, err := middleware.Any(w.sessions.Scheme(), w.hs.Scheme(), w.apps.Scheme())
	require.NoError(t, err)
	h := w.apps.HSTS(anyKind(record))
	for want, reqs := range map[middleware.Kind][]*http.Request{
		"session": requests(session.HeaderToken, w.sessionTokens[:2], false),
		"bearer":  requests("Authorization", w.hsTokens[:2], false),
		"basic":   requests("Authorization", w.basicCreds[:2], true),
	} {
		for _, r := range reqs {
			kind = ""
			require.Equal(t, http.StatusOK, serve(h, r))
			assert.Equal(t, want, kind)
		}
	}
	assert.Equal(t, http.StatusOK, serve(w.anyHandler(t), requests("Authorization", w.basicCreds[:1], true)[0]))
}

// signHS256 signs claims with the benchmark's HS256 secret, as tidegate's
// tokens are signed, for tests of the peers' configuration.
func signHS256(t *testing.T, secret []byte, claims gojwt.MapClaims) string {
	s, err := gojwt.NewWithClaims(gojwt.SigningMethodHS256, claims).SignedString(secret)
	require.NoError(t, err)
	return "Bearer " + s
}

func TestPeersAcceptValidAndRejectForged(t *testing.T) {
	w := getWorld(t)
	now := time.Now()
	wrongAud := signHS256(t, w.hsSecret, gojwt.MapClaims{
		"iss": issuer, "aud": "https://elsewhere.example/", "sub": "u1", "exp": now.Add(time.Hour).Unix(), "iat": now.Unix(),
	})
	expired := signHS256(t, w.hsSecret, gojwt.MapClaims{
		"iss": issuer, "aud": audience, "sub": "u1", "exp": now.Add(-time.Hour).Unix(), "iat": now.Add(-2 * time.Hour).Unix(),
	})
	peers := []struct {
		name     string
		h        http.Handler
		checksAu bool // has an iss/aud option, configured
	}{
		{"auth0", auth0Handler(t, w.hsSecret), true},
		{"jwtauth", jwtauthHandler(w.hsSecret), true},
		{"echo-jwt", echoJWTHandler(w.hsSecret), false},
		{"gin-jwt", ginJWTHandler(t, w.hsSecret), false},
	}
	for _, p := range peers {
		t.Run(p.name, func(t *testing.T) {
			for _, r := range requests("Authorization", w.hsTokens[:4], false) {
				assert.Equal(t, http.StatusOK, serve(p.h, r))
			}
			for _, r := range requests("Authorization", forged(t, w.hsTokens[:4]), false) {
				assert.Equal(t, http.StatusUnauthorized, serve(p.h, r))
			}
			assert.Equal(t, http.StatusUnauthorized, serve(p.h, request("Authorization", expired)))
			if p.checksAu {
				assert.Equal(t, http.StatusUnauthorized, serve(p.h, request("Authorization", wrongAud)))
			}
		})
	}
	t.Run("echo basic", func(t *testing.T) {
		h := echoBasicHandler(echoBasicUser, echoBasicPass)
		assert.Equal(t, http.StatusOK, serve(h, requests("Authorization", []string{basicValue(echoBasicUser, echoBasicPass)}, true)[0]))
		assert.Equal(t, http.StatusUnauthorized, serve(h, requests("Authorization", unknownApps(1), true)[0]))
		assert.Equal(t, http.StatusUnauthorized, serve(h, requests("Authorization", []string{basicValue(echoBasicUser, "wrong")}, true)[0]))
	})
}

func TestFloorAttachesAValue(t *testing.T) {
	var got any
	h := floor(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) { got = r.Context().Value(floorKey{}) }))
	serve(h, request())
	assert.Same(t, floorPrincipal, got)
}
