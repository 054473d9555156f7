package bearer_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/tidegate/tidegate/bearer"
)

// TestRefusalLogsTheVerifiedSubject: the log event of a token refused
// after its signature verified (revoked, expired, another audience) names
// its subject, as issue 2 asks ("subject when known"); a token whose
// signature fails, or a forged one naming another user, never does: its
// claims are anybody's. Only successes named a subject.
func TestRefusalLogsTheVerifiedSubject(t *testing.T) {
	e, logs, _ := observedEnv(t, bearer.WithAccessTTL(time.Hour))
	genuine := validClaims(e.clock.Now())
	revoked := e.authenticate(t, "mary@example.com")
	require.Equal(t, http.StatusOK, e.call("POST", "/api/v1/logout", "", "Authorization", "Bearer "+revoked.AccessToken).Code)
	expired := forgeHS(t, with(genuine, "exp", e.clock.Now().Add(-time.Hour).Unix()), nil)
	otherAudience := forgeHS(t, with(genuine, "aud", "another-service"), nil)
	forged := forge(t, jwt.SigningMethodHS256, otherSecret, nil, with(genuine, "sub", "u-admin"))
	logs.take()

	for name, tc := range map[string]struct {
		token, subject string
	}{
		"revoked":        {revoked.AccessToken, "u-mary"},
		"expired":        {expired, "u-mary"},
		"other audience": {otherAudience, "u-mary"},
		"forged":         {forged, ""},
	} {
		rec := e.call("GET", "/whoami", "", "Authorization", "Bearer "+tc.token)
		require.Equal(t, http.StatusUnauthorized, rec.Code, name)
		events := logs.take()
		require.Len(t, events, 1, name)
		subject, named := events[0]["subject"]
		if tc.subject == "" {
			assert.False(t, named, "%s: a forged token's claims are never logged: %v", name, events[0])
		} else {
			assert.Equal(t, tc.subject, subject, "%s: %v", name, events[0])
		}
	}
}
