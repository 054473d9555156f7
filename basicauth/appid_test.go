package basicauth_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/tidegate/tidegate/basicauth"
	"github.com/tidegate/tidegate/middleware"
)

// idlessRegistry is a user's AppRegistry that answers lookups with apps
// that have no id.
type idlessRegistry struct{ basicauth.AppRegistry }

func (r idlessRegistry) Lookup(ctx context.Context, t basicauth.TokenType, d middleware.TokenDigest) (basicauth.App, error) {
	app, err := r.AppRegistry.Lookup(ctx, t, d)
	app.ID = ""
	return app, err
}

// TestAnAppWithoutAnIDIsRefused: a session with no app is the session
// kind's, so app sessions issued for an app without an id would be valid
// Tidepool session tokens in a store both kinds share, and the other way
// round. An app without an id is a broken registry: 500, before any
// session is issued or looked up.
func TestAnAppWithoutAnIDIsRefused(t *testing.T) {
	f := newFixture(t, fixtureConfig{})
	svc, err := basicauth.New(idlessRegistry{f.registry}, f.accounts, f.login,
		basicauth.WithSessionStore(f.sessions), basicauth.WithLogger(discard))
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, svc.Close()) })
	issued := f.sessions.Len()

	for name, serve := range map[string]http.Handler{
		"login":       http.StripPrefix("/0.4", svc.Handler()),
		"RequireApp":  svc.RequireApp()(http.HandlerFunc(echoPrincipal)),
		"RequireUser": svc.RequireUser()(http.HandlerFunc(echoPrincipal)),
	} {
		t.Run(name, func(t *testing.T) {
			req := httptest.NewRequest(http.MethodPost, "https://api.example/0.4/me/login",
				strings.NewReader(`{"email":"`+maryEmail+`","password":"`+maryPassword+`"}`))
			req.Header.Set("Content-Type", "application/json")
			auth := basic(appA + ":") // the app alone, as sign-up and login take it
			if name == "RequireUser" {
				auth = basic(backendA + ":" + maryID) // a user, with no session to issue
			}
			req.Header.Set("Authorization", auth)
			rec := httptest.NewRecorder()
			serve.ServeHTTP(rec, req)
			assert.Equal(t, http.StatusInternalServerError, rec.Code, rec.Body.String())
		})
	}
	assert.Equal(t, issued, f.sessions.Len(), "no session issued for an app without an id")
}
