package session_test

import (
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tidegate/tidegate/middleware"
	"github.com/tidegate/tidegate/session"
)

// TestRenewalBackoffDoublesWhileTheOldTokenWorks: while /serverlogin fails
// and the current server token still works (the renewal margin), each
// failed renewal makes the next wait longer (1 s doubling up to a minute,
// as RemoteVerifier's doc says). The backoff was reset by every lookup the
// auth server accepted, and the old token's lookups kept succeeding, so a
// renewal was tried on every request more than a second after the last
// failure.
func TestRenewalBackoffDoublesWhileTheOldTokenWorks(t *testing.T) {
	var fail atomic.Bool
	var logins, finished atomic.Int64
	login := switchedLogin(&fail, &logins)
	srv, _ := fakeAuth(t, func(w http.ResponseWriter, r *http.Request) {
		defer finished.Add(1)
		login(w, r)
	}, goodToken)
	clock := &fakeClock{t: time.Now()}
	v, err := session.NewRemoteVerifier(srv.URL+"/auth", serverName, serverSecret,
		session.WithRemoteLogger(quiet), session.WithRemoteClock(clock.Now))
	require.NoError(t, err)
	_, err = v.Verify(t.Context(), cred(middleware.NewToken()))
	require.NoError(t, err)
	require.EqualValues(t, 1, logins.Load())

	fail.Store(true)
	clock.Advance(time.Hour - 4*time.Minute) // due for renewal, still usable for 4 minutes
	for range 20 {
		_, err := v.Verify(t.Context(), cred(middleware.NewToken()))
		require.NoError(t, err, "the current server token still works")
		// A renewal the request started runs on: let the auth server
		// answer it before time moves on (a renewal that lags only makes
		// fewer logins).
		require.Eventually(t, func() bool { return finished.Load() == logins.Load() }, 5*time.Second, time.Millisecond)
		clock.Advance(1500 * time.Millisecond)
	}
	// 30 s of requests: with a doubling backoff (1, 2, 4, 8, 16 s) about
	// five renewals; without, one per request.
	assert.LessOrEqual(t, logins.Load()-1, int64(6), "failed renewals in 30 s")
}
