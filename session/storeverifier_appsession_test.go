package session_test

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/tidegate/tidegate/basicauth"
	"github.com/tidegate/tidegate/middleware"
	"github.com/tidegate/tidegate/session"
	"github.com/tidegate/tidegate/tidegatetest"
)

// TestStoreVerifierRefusesAppSessionsOfASharedStore: SECURITY.md says an app
// session "is never a session token even when both kinds share one store",
// and basicauth.WithSessionStore allows the sharing. session.Service keeps
// that promise (ownSessions), but the public building block that
// session.NewScheme's doc recommends for a service that only accepts
// tokens, a middleware.Cache in front of session.NewStoreVerifier, did
// not: a Tapglue app session, scoped to one app and living 30 days, passes
// as an x-tidepool-session-token.
func TestStoreVerifierRefusesAppSessionsOfASharedStore(t *testing.T) {
	accounts := tidegatetest.NewAccounts(t, tidegatetest.User{UserID: "u-mary", Username: "mary", Password: "a long passphrase for mary"})
	shared, err := middleware.NewMemorySessionStore()
	require.NoError(t, err)

	tokens := basicauth.NewAppTokens()
	registry, err := basicauth.NewMemoryRegistry(basicauth.AppSpec{ID: "demo", Name: "Demo", AppToken: tokens.AppToken, BackendToken: tokens.BackendToken})
	require.NoError(t, err)
	apps, err := basicauth.New(registry, accounts.Store, accounts.Login, basicauth.WithSessionStore(shared))
	require.NoError(t, err)
	t.Cleanup(func() { _ = apps.Close() })
	appSession := tidegatetest.LoginBasic(t, apps, tokens.AppToken, "mary", "a long passphrase for mary")

	// A resource server accepting Tidepool session tokens from the same store.
	v, err := session.NewStoreVerifier(shared)
	require.NoError(t, err)
	cache, err := middleware.NewCache(v, time.Minute)
	require.NoError(t, err)
	t.Cleanup(func() { _ = cache.Close() })
	scheme, err := session.NewScheme(cache)
	require.NoError(t, err)
	h := middleware.Require(scheme)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, _ := middleware.FromRequest(r)
		_, _ = w.Write([]byte(p.Subject + " app=" + p.App))
	}))

	req := httptest.NewRequest(http.MethodGet, "/whoami", nil)
	req.Header.Set(session.HeaderToken, appSession)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	assert.Equal(t, http.StatusUnauthorized, rec.Code, "an app session was accepted as a session token: %q", rec.Body.String())
}
