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
	now := e.clock.Now()
	genuine := validClaims(now)
	revoked := e.authenticate(t, "mary@example.com")
	require.Equal(t, http.StatusOK, e.call("POST", "/api/v1/logout", "", "Authorization", "Bearer "+revoked.AccessToken).Code)
	// Claims in a map are encoded in sorted order, which golang-jwt's
	// parser verifies; tokens in tidegate's own form (a Claims struct)
	// take the minted fast path, which must name the subject too.
	expired := forgeHS(t, with(genuine, "exp", now.Add(-time.Hour).Unix()), nil)
	otherAudience := forgeHS(t, with(genuine, "aud", "another-service"), nil)
	mintedOtherAudience := forgeHS(t, &bearer.Claims{RegisteredClaims: jwt.RegisteredClaims{
		Issuer: issuer, Subject: "u-mary", Audience: jwt.ClaimStrings{"another-service"},
		ExpiresAt: jwt.NewNumericDate(now.Add(10 * time.Hour)), IssuedAt: jwt.NewNumericDate(now), ID: "jti-9",
	}, LoginID: "sid-9"}, nil)
	mintedExpired := e.authenticate(t, "mary@example.com").AccessToken
	forged := forge(t, jwt.SigningMethodHS256, otherSecret, nil, with(genuine, "sub", "u-admin"))
	logs.take()

	for _, tc := range []struct {
		name, token, subject string
		later                time.Duration // how far the clock moves first
	}{
		{"revoked", revoked.AccessToken, "u-mary", 0},
		{"expired", expired, "u-mary", 0},
		{"other audience", otherAudience, "u-mary", 0},
		{"other audience, minted", mintedOtherAudience, "u-mary", 0},
		{"forged", forged, "", 0},
		{"expired, as minted", mintedExpired, "u-mary", 3 * time.Hour}, // past exp and the leeway
	} {
		e.clock.Advance(tc.later)
		rec := e.call("GET", "/whoami", "", "Authorization", "Bearer "+tc.token)
		require.Equal(t, http.StatusUnauthorized, rec.Code, tc.name)
		events := logs.take()
		require.Len(t, events, 1, tc.name)
		subject, named := events[0]["subject"]
		if tc.subject == "" {
			assert.False(t, named, "%s: a forged token's claims are never logged: %v", tc.name, events[0])
		} else {
			assert.Equal(t, tc.subject, subject, "%s: %v", tc.name, events[0])
		}
	}
}
