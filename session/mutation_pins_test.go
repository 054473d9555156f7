package session_test

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestServerLoginSuccessForgivesEarlierFailures: a successful server
// login clears its name's count, within the window. (The last line of
// TestServerLoginThrottling checks this after the window has passed, when
// the count is gone anyway.) With AccountAttempts 2: a failure, a
// success, then two more failures are all answered 401, not 429.
func TestServerLoginSuccessForgivesEarlierFailures(t *testing.T) {
	_, _, attempt := throttledServerLogin(t)
	require.Equal(t, http.StatusUnauthorized, attempt(otherSecret))
	require.Equal(t, http.StatusOK, attempt(serverSecret))
	require.Equal(t, http.StatusUnauthorized, attempt(otherSecret), "the success cleared the count")
	require.Equal(t, http.StatusUnauthorized, attempt(otherSecret))
	require.Equal(t, http.StatusTooManyRequests, attempt(otherSecret), "the count starts again from the success")
}
