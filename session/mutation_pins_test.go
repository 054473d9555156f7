package session_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/tidegate/tidegate/middleware"
	"github.com/tidegate/tidegate/session"
)

// TestServerLoginSuccessForgivesEarlierFailures: a successful server
// login clears its name's count, within the window. (The last line of
// TestServerLoginThrottling checks this after the window has passed, when
// the count is gone anyway.) With AccountAttempts 2: a failure, a
// success, then two more failures are all answered 401, not 429.
func TestServerLoginSuccessForgivesEarlierFailures(t *testing.T) {
	clock := newFakeClock()
	limiter, err := middleware.NewMemoryLimiter(middleware.LimiterPolicy{AccountAttempts: 2, Window: time.Minute},
		middleware.WithStoreClock(clock.Now))
	require.NoError(t, err)
	f := newFixture(t, withService(session.WithServerLoginLimiter(limiter)))
	attempt := func(secret string) int {
		return f.do(http.MethodPost, "/auth/serverlogin",
			session.HeaderServerName, serverName, session.HeaderServerSecret, secret).Code
	}
	require.Equal(t, http.StatusUnauthorized, attempt(otherSecret))
	require.Equal(t, http.StatusOK, attempt(serverSecret))
	require.Equal(t, http.StatusUnauthorized, attempt(otherSecret), "the success cleared the count")
	require.Equal(t, http.StatusUnauthorized, attempt(otherSecret))
	require.Equal(t, http.StatusTooManyRequests, attempt(otherSecret), "the count starts again from the success")
}
