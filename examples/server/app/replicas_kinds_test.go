package app_test

import (
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
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

// The tests below run two example servers on one Redis, as two processes
// started with -redis ADDR and the same -jwt-key-file would be, and check
// that each kind's shared state (refresh-token families, access-token
// revocations, app sessions, login throttling) is one state, whichever
// replica a request reaches.

// call sends a request and returns its status and body.
func (r *replica) call(t *testing.T, method, path, body string, header ...string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, r.URL+path, stringsReader(body))
	require.NoError(t, err)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := r.Client().Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, string(data)
}

// bearerTokens is the part of an authenticate or refresh answer the tests use.
type bearerTokens struct {
	Access  string `json:"access_token"`
	Refresh string `json:"refresh_token"`
}

func (r *replica) bearerLogin(t *testing.T) bearerTokens {
	t.Helper()
	status, body := r.call(t, http.MethodPost, "/api/v1/authenticate",
		`{"username":"`+maryLogin+`","password":"`+maryPassword+`"}`, "Content-Type", "application/json")
	require.Equal(t, http.StatusOK, status, body)
	var tok bearerTokens
	require.NoError(t, json.Unmarshal([]byte(body), &tok))
	return tok
}

// refresh answers the status of a refresh and, on success, the new tokens.
func (r *replica) refresh(t *testing.T, tok bearerTokens) (int, bearerTokens) {
	t.Helper()
	status, body := r.call(t, http.MethodPost, "/api/v1/refresh", `{"refresh_token":"`+tok.Refresh+`"}`,
		"Authorization", "Bearer "+tok.Access, "Content-Type", "application/json")
	var next bearerTokens
	if status == http.StatusOK {
		require.NoError(t, json.Unmarshal([]byte(body), &next))
	}
	return status, next
}

func (r *replica) ping(t *testing.T, access string) int {
	t.Helper()
	status, _ := r.call(t, http.MethodGet, "/api/v1/ping", "", "Authorization", "Bearer "+access)
	return status
}

func TestARefreshTokenReusedOnAnotherReplicaRevokesTheLoginOnBoth(t *testing.T) {
	target := redistest.Shared(t)
	rs := newReplicas(t, 2, target.Addr, target.Prefix)
	a, b := rs[0], rs[1]

	first := a.bearerLogin(t)
	require.Equal(t, http.StatusOK, b.ping(t, first.Access), "B accepts A's access token (same key)")
	status, second := a.refresh(t, first)
	require.Equal(t, http.StatusOK, status)
	require.Equal(t, http.StatusOK, b.ping(t, second.Access), "B accepts, and caches, the refreshed access token")

	// The spent refresh token, replayed on B (a thief's copy): refused,
	// and the whole login is revoked, on both replicas.
	status, _ = b.refresh(t, first)
	require.Equal(t, http.StatusUnauthorized, status, "reuse of a spent refresh token")
	status, _ = a.refresh(t, second)
	assert.Equal(t, http.StatusUnauthorized, status, "A: the family's live refresh token died with it")
	for name, r := range map[string]*replica{"A": a, "B": b} {
		assert.Eventually(t, func() bool { return r.ping(t, second.Access) == http.StatusUnauthorized },
			time.Second, 5*time.Millisecond, "%s: the login's access token is revoked, cache included", name)
	}
}

func TestConcurrentRefreshesOnTwoReplicasGiveOneSuccess(t *testing.T) {
	target := redistest.Shared(t)
	rs := newReplicas(t, 2, target.Addr, target.Prefix)
	for round := range 10 {
		tok := rs[0].bearerLogin(t)
		statuses := make([]int, len(rs))
		next := make([]bearerTokens, len(rs))
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i, r := range rs {
			wg.Go(func() {
				<-start
				statuses[i], next[i] = r.refresh(t, tok)
			})
		}
		close(start)
		wg.Wait()
		require.ElementsMatch(t, []int{http.StatusOK, http.StatusUnauthorized}, statuses, "round %d", round)
		// The loser presented a spent token: a reuse, which revokes the
		// family (RFC 9700 §4.14.2), so the winner's new refresh token is
		// dead too, on whichever replica it is tried.
		winner := next[0]
		if statuses[1] == http.StatusOK {
			winner = next[1]
		}
		status, _ := rs[round%2].refresh(t, winner)
		assert.Equal(t, http.StatusUnauthorized, status, "round %d: the family is revoked", round)
	}
}

func TestABearerLogoutOnOneReplicaIsRejectedOnTheOther(t *testing.T) {
	target := redistest.Shared(t)
	rs := newReplicas(t, 2, target.Addr, target.Prefix)
	a, b := rs[0], rs[1]
	tok := a.bearerLogin(t)
	require.Equal(t, http.StatusOK, b.ping(t, tok.Access), "B caches the token")

	status, _ := a.call(t, http.MethodPost, "/api/v1/logout", "", "Authorization", "Bearer "+tok.Access)
	require.Equal(t, http.StatusOK, status)
	assert.Eventually(t, func() bool { return b.ping(t, tok.Access) == http.StatusUnauthorized },
		time.Second, 5*time.Millisecond, "the access token is refused on B")
	status, _ = b.refresh(t, tok)
	assert.Equal(t, http.StatusUnauthorized, status, "the login's refresh token is refused on B")
}

func TestAnAppSessionLoggedOutOnOneReplicaIsRejectedOnTheOther(t *testing.T) {
	target := redistest.Shared(t)
	rs := newReplicas(t, 2, target.Addr, target.Prefix)
	a, b := rs[0], rs[1]
	demo := seed.Demo().Apps[0]
	basic := func(user, pass string) string {
		return "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+pass))
	}

	status, body := a.call(t, http.MethodPost, "/0.4/me/login", `{"email":"`+maryLogin+`","password":"`+maryPassword+`"}`,
		"Authorization", basic(demo.AppToken, ""), "Content-Type", "application/json")
	require.Equal(t, http.StatusCreated, status, body)
	var user struct {
		SessionToken string `json:"session_token"`
	}
	require.NoError(t, json.Unmarshal([]byte(body), &user))
	creds := basic(demo.AppToken, user.SessionToken)

	status, _ = b.call(t, http.MethodGet, "/0.4/me", "", "Authorization", creds)
	require.Equal(t, http.StatusOK, status, "an app session made on A works on B")
	status, _ = a.call(t, http.MethodDelete, "/0.4/me/logout", "", "Authorization", creds)
	require.Equal(t, http.StatusNoContent, status)
	assert.Eventually(t, func() bool {
		status, _ := b.call(t, http.MethodGet, "/0.4/me", "", "Authorization", creds)
		return status == http.StatusUnauthorized
	}, time.Second, 5*time.Millisecond, "the logged-out app session is refused on B")
}

func TestLoginThrottlingIsCountedAcrossReplicas(t *testing.T) {
	target := redistest.Shared(t)
	rs := newReplicas(t, 2, target.Addr, target.Prefix)
	wrong := "Basic " + base64.StdEncoding.EncodeToString([]byte(maryLogin+":not the password"))
	// Alternate replicas until the account is throttled: the failures on
	// both count against one limit, so the 429 comes no later than it
	// would on one replica.
	var status int
	tries := 0
	for ; tries < 50; tries++ {
		status, _ = rs[tries%2].call(t, http.MethodPost, "/auth/login", "", "Authorization", wrong)
		if status != http.StatusUnauthorized {
			break
		}
	}
	require.Equal(t, http.StatusTooManyRequests, status)
	assert.LessOrEqual(t, tries, 11, "failures on A and B share one counter")
	// The right password is throttled too, on either replica.
	right := "Basic " + base64.StdEncoding.EncodeToString([]byte(maryLogin+":"+maryPassword))
	for _, r := range rs {
		status, _ = r.call(t, http.MethodPost, "/auth/login", "", "Authorization", right)
		assert.Equal(t, http.StatusTooManyRequests, status)
	}
}

// TestAnAppTokenChangedInTheSeedFileTakesEffect: with -redis, the apps of
// the seed file are registered once for all replicas. A replica started
// with a file whose app token was changed (a leaked token rotated) brings
// the shared registry to the file: the new token works on every replica
// and the old one on none. It used to keep the old token, silently.
func TestAnAppTokenChangedInTheSeedFileTakesEffect(t *testing.T) {
	target := redistest.Shared(t)
	before := newReplicas(t, 1, target.Addr, target.Prefix)[0]
	old := seed.Demo().Apps[0]
	rotated := seed.Demo()
	rotated.Apps[0].AppToken = "f00dfeedf00dfeedf00dfeedf00dfeed"
	hasher, err := middleware.NewArgon2idHasher(middleware.TestArgon2Params)
	require.NoError(t, err)
	a, err := app.New(app.Config{
		Hasher: hasher, JWTKey: []byte(testJWTKey), InsecureBasic: true, Seed: rotated,
		Redis: redistest.NewClient(t, target.Addr), RedisPrefix: target.Prefix,
	})
	require.NoError(t, err)
	t.Cleanup(func() { _ = a.Close() })
	srv := httptest.NewServer(a.Handler())
	t.Cleanup(srv.Close)
	after := &replica{srv}

	login := func(r *replica, appToken string) int {
		status, _ := r.call(t, http.MethodPost, "/0.4/me/login", `{"email":"`+maryLogin+`","password":"`+maryPassword+`"}`,
			"Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(appToken+":")), "Content-Type", "application/json")
		return status
	}
	for name, r := range map[string]*replica{"the replica started before": before, "the replica started with the new file": after} {
		assert.Equal(t, http.StatusCreated, login(r, rotated.Apps[0].AppToken), "%s: the new app token", name)
		assert.Equal(t, http.StatusUnauthorized, login(r, old.AppToken), "%s: the old app token", name)
	}
}
