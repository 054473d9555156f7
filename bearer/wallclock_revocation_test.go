package bearer_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"
	"unsafe"

	"github.com/stretchr/testify/require"
	"github.com/tidegate/tidegate/bearer"
)

// steppedClock is time.Now on a machine whose wall clock an administrator
// (or NTP) can step: Advance moves both of a time's readings, the wall clock
// and Go's monotonic one; StepWall moves the wall clock only. Go has no API
// to build such a time, so withWallShift writes time.Time's fields itself,
// and the tests check first that it did what a clock step does.
type steppedClock struct {
	mu      sync.Mutex
	base    time.Time // has a monotonic reading
	elapsed time.Duration
	step    time.Duration
}

func (c *steppedClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return withWallShift(c.base.Add(c.elapsed), c.step)
}

func (c *steppedClock) Advance(d time.Duration)  { c.mu.Lock(); c.elapsed += d; c.mu.Unlock() }
func (c *steppedClock) StepWall(d time.Duration) { c.mu.Lock(); c.step += d; c.mu.Unlock() }

// timeFields mirrors time.Time: with hasMonotonic set in wall, wall holds
// the seconds since 1885 in bits 30-62.
type timeFields struct {
	wall uint64
	ext  int64
	loc  *time.Location
}

// withWallShift moves t's wall reading by d (whole seconds), keeping its
// monotonic reading.
func withWallShift(t time.Time, d time.Duration) time.Time {
	f := (*timeFields)(unsafe.Pointer(&t))
	if f.wall&(1<<63) == 0 {
		panic("withWallShift needs a time with a monotonic reading")
	}
	f.wall += uint64(int64(d/time.Second) << 30)
	return t
}

// TestRevocationsEndByTheWallClock: a login's or a subject's revocation
// covers access tokens whose exp is a wall clock time, so it must last by
// the wall clock. Kept by elapsed time, it went early once the system
// clock was set back, and the tokens it covered, still inside their
// lifetime by the wall clock, were accepted again.
func TestRevocationsEndByTheWallClock(t *testing.T) {
	for name, revoke := range map[string]func(t *testing.T, e *env, clk *steppedClock) string{
		"logout": func(t *testing.T, e *env, clk *steppedClock) string {
			first := e.authenticate(t, "mary@example.com") // exp: login + 8 h
			clk.Advance(time.Hour)
			rec := e.refresh(first.AccessToken, *first.RefreshToken)
			require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
			second := decodeTokens(t, rec)
			require.Equal(t, http.StatusOK, e.call("POST", "/api/v1/logout", "", "Authorization", "Bearer "+second.AccessToken).Code)
			return first.AccessToken // revoked with its login
		},
		"RevokeSubject": func(t *testing.T, e *env, clk *steppedClock) string {
			tok := e.authenticate(t, "mary@example.com").AccessToken
			clk.Advance(time.Hour)
			require.NoError(t, e.svc.RevokeSubject(context.Background(), "u-mary"))
			return tok
		},
	} {
		t.Run(name, func(t *testing.T) {
			clk := &steppedClock{base: time.Now()}
			stepped := withWallShift(clk.Now(), -2*time.Hour)
			require.Equal(t, clk.Now().Unix()-7200, stepped.Unix(), "a step moves the wall clock")
			require.Zero(t, stepped.Sub(clk.Now()), "and leaves the monotonic one")

			list, err := bearer.NewMemoryRevocationList(bearer.WithStoreClock(clk.Now))
			require.NoError(t, err)
			e := newEnv(t, bearer.WithClock(clk.Now), bearer.WithRevocationList(list))
			token := revoke(t, e, clk)
			require.Equal(t, http.StatusUnauthorized, e.whoami(token).Code)

			clk.StepWall(-2 * time.Hour)
			clk.Advance(8*time.Hour + 10*time.Minute)         // wall clock: login + 7 h 10 min, before the token's exp
			for _, id := range []string{"a", "b", "c", "d"} { // inserts make the list sweep
				require.NoError(t, list.RevokeToken(context.Background(), "other-"+id, clk.Now().Add(time.Hour)))
			}
			rec := e.whoami(token)
			require.Equal(t, http.StatusUnauthorized, rec.Code, "a revoked token is accepted again: %s", rec.Body.String())
		})
	}
}

// TestALogoutAfterTheClockWasSetBackOutlastsTheLoginsTokens: a login's
// revocation is kept until every token of the login has expired. Counted
// from the time of the logout, it ended too early when the wall clock had
// been set back after the tokens were minted (a clock running fast,
// corrected by NTP): they expire up to the step's size later than that.
func TestALogoutAfterTheClockWasSetBackOutlastsTheLoginsTokens(t *testing.T) {
	clk := &steppedClock{base: time.Now()}
	list, err := bearer.NewMemoryRevocationList(bearer.WithStoreClock(clk.Now))
	require.NoError(t, err)
	e := newEnv(t, bearer.WithClock(clk.Now), bearer.WithRevocationList(list))

	first := e.authenticate(t, "mary@example.com") // exp: W + 8 h
	rec := e.refresh(first.AccessToken, *first.RefreshToken)
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	second := decodeTokens(t, rec) // the same login, exp: W + 8 h

	clk.StepWall(-2 * time.Hour)
	require.Equal(t, http.StatusOK, e.call("POST", "/api/v1/logout", "", "Authorization", "Bearer "+first.AccessToken).Code)
	clk.Advance(8*time.Hour + 10*time.Minute)         // wall clock: W + 6 h 10 min, before second's exp
	for _, id := range []string{"a", "b", "c", "d"} { // inserts make the list sweep
		require.NoError(t, list.RevokeToken(context.Background(), "other-"+id, clk.Now().Add(time.Hour)))
	}
	rec = e.whoami(second.AccessToken)
	require.Equal(t, http.StatusUnauthorized, rec.Code, "a token of a logged-out login is accepted again: %s", rec.Body.String())
}

// TestALogoutOnAnotherServiceAfterTheClockWasSetBack: a service that did
// not mint the login's tokens (another replica, or this one restarted)
// does not know when they were minted; it counts the login's revocation
// from the presented token's iat too, which after a step back is later
// than its now.
func TestALogoutOnAnotherServiceAfterTheClockWasSetBack(t *testing.T) {
	clk := &steppedClock{base: time.Now()}
	list, err := bearer.NewMemoryRevocationList(bearer.WithStoreClock(clk.Now))
	require.NoError(t, err)
	refresh, err := bearer.NewMemoryRefreshStore(bearer.WithStoreClock(clk.Now))
	require.NoError(t, err)
	shared := []bearer.ServiceOption{bearer.WithClock(clk.Now), bearer.WithRevocationList(list), bearer.WithRefreshStore(refresh)}
	e := newEnv(t, shared...)
	first := e.authenticate(t, "mary@example.com")
	rec := e.refresh(first.AccessToken, *first.RefreshToken)
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	second := decodeTokens(t, rec) // the same login, minted in the same second

	clk.StepWall(-2 * time.Hour)
	other, err := bearer.New(e.login, testKeySet(t), append([]bearer.ServiceOption{bearer.WithIssuer(issuer),
		bearer.WithAudience(audient), bearer.WithLogger(quiet)}, shared...)...)
	require.NoError(t, err)
	t.Cleanup(func() { _ = other.Close() })
	logout := httptest.NewRecorder()
	req := httptest.NewRequest(http.MethodPost, "/logout", nil)
	req.Header.Set("Authorization", "Bearer "+first.AccessToken)
	other.Handler().ServeHTTP(logout, req)
	require.Equal(t, http.StatusOK, logout.Code, logout.Body.String())

	clk.Advance(8*time.Hour + 10*time.Minute)         // wall clock: login + 6 h 10 min, before second's exp
	for _, id := range []string{"a", "b", "c", "d"} { // inserts make the list sweep
		require.NoError(t, list.RevokeToken(context.Background(), "other-"+id, clk.Now().Add(time.Hour)))
	}
	rec = e.whoami(second.AccessToken)
	require.Equal(t, http.StatusUnauthorized, rec.Code, "a token of a logged-out login is accepted again: %s", rec.Body.String())
}
