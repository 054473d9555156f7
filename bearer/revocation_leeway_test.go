package bearer_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/tidegate/tidegate/bearer"
)

// TestRevocationOutlastsEveryVerifiersLeeway: a logout revokes the access
// token's jti and its login for as long as any verifier could accept the
// token. A JWKSVerifier sharing the revocation list (WithRevocationList, as
// its doc recommends) may allow up to MaxLeeway, more than the issuer's
// default 30 s; when the revocations were kept for the issuer's leeway
// only, such a verifier accepted the logged-out token again between exp +
// 30 s and exp + 5 min.
func TestRevocationOutlastsEveryVerifiersLeeway(t *testing.T) {
	listClock := newClock()
	list, err := bearer.NewMemoryRevocationList(bearer.WithStoreClock(listClock.Now))
	require.NoError(t, err)

	issuerEnv, _ := asymmetricEnv(t, bearer.WithRevocationList(list)) // default leeway, 30 s

	srv := newJWKSServer(t, issuerEnv.svc.JWKSHandler())
	_, h := newJWKSVerifier(t, issuerEnv, srv.URL,
		bearer.WithLeeway(bearer.MaxLeeway), bearer.WithRevocationList(list))

	tok := issuerEnv.authenticate(t, "mary@example.com").AccessToken

	// Logout: revokes the login and the token.
	rec := issuerEnv.call("POST", "/api/v1/logout", "", "Authorization", "Bearer "+tok)
	require.Equal(t, http.StatusOK, rec.Code)
	require.Equal(t, http.StatusUnauthorized, get(h, tok).Code, "revoked right after logout")

	// 8 h 2 min later: exp (8 h) + 2 min, within the verifier's 5 min leeway.
	step := bearer.DefaultAccessTTL + 2*time.Minute
	issuerEnv.clock.Advance(step)
	listClock.Advance(step)
	// Ordinary later revocations let the list sweep what it no longer
	// needs (the contract allows dropping an entry at its until).
	for i := range 4 {
		require.NoError(t, list.RevokeToken(context.Background(), "other-"+string(rune('a'+i)), listClock.Now().Add(time.Hour)))
	}

	rec = get(h, tok)
	require.Equal(t, http.StatusUnauthorized, rec.Code,
		"a logged-out access token is accepted again by a JWKSVerifier sharing the revocation list: %s", rec.Body.String())
}
