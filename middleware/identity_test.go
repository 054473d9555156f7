package middleware_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"github.com/tidegate/tidegate/middleware"
)

var testIdentity = middleware.IdentityHeaders{
	Subject: "x-auth-subject", // given in lower case on purpose
	Kind:    "X-Auth-Kind",
	Actor:   "X-Auth-Actor",
	App:     "X-Auth-App",
	Roles:   "X-Auth-Roles",
}

// forged fills a header map with client-sent identity headers in the
// spellings Go would canonicalise and in some it would not (set directly on
// the map, as a handler or another middleware could), including underscore
// spellings, which CGI and FastCGI read as the hyphenated name.
func forged(h http.Header) {
	h["X_Auth_Subject"] = []string{"root"}
	h["x_auth-subject"] = []string{"root"}
	h["X_AUTH_ROLES"] = []string{"admin"}
	h["X-Auth_Kind"] = []string{"server"}
	h["X_Unrelated"] = []string{"kept"}
	h["x-auth-subject"] = []string{"root"}
	h["X-AUTH-SUBJECT"] = []string{"root"}
	h["X-Auth-Subject"] = []string{"root"}
	h["x-Auth-sUbJeCt"] = []string{"root"}
	h["X-Auth-Roles"] = []string{"admin"}
	h["x-auth-roles"] = []string{"admin"}
	h["x-auth-app"] = []string{"evil"}
	h["X-Auth-Kind"] = []string{"server"}
	h["x-auth-actor"] = []string{"backend"}
	h["X-Unrelated"] = []string{"kept"}
}

func TestIdentityHeaders(t *testing.T) {
	v := &testVerifier{}
	withIDs := func(spec kindSpec) *middleware.Scheme {
		return newScheme(t, spec, v, middleware.WithIdentityHeaders(testIdentity))
	}
	anyMW, err := middleware.Any(withIDs(sessionSpec), withIDs(bearerSpec))
	require.NoError(t, err)
	bearer := withIDs(bearerSpec)

	cases := []struct {
		name   string
		mw     func(http.Handler) http.Handler
		token  string
		status int
		want   map[string]string // identity headers the handler must see, exactly
	}{
		{"Require", middleware.Require(bearer), tokAdmin, http.StatusOK, map[string]string{
			"X-Auth-Subject": subjAdmin, "X-Auth-Kind": "bearer", "X-Auth-Actor": "user", "X-Auth-Roles": "user,admin",
		}},
		{"Any", anyMW, tokGood, http.StatusOK, map[string]string{
			"X-Auth-Subject": subjGood, "X-Auth-Kind": "bearer", "X-Auth-Actor": "user", "X-Auth-Roles": "user",
		}},
		{"Optional, anonymous: stripped, nothing set", middleware.Optional(bearer), "", http.StatusOK, map[string]string{}},
		{"Require, rejected", middleware.Require(bearer), tokRevoked, http.StatusUnauthorized, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var got seen
			req := newRequest()
			forged(req.Header)
			if tc.token != "" {
				bearerSpec.set(req.Header, tc.token)
			}
			before := req.Header.Clone()

			rec := serve(tc.mw(principalHandler(&got)), req)
			require.Equal(t, tc.status, rec.Code)

			require.Equal(t, before, req.Header, "the caller's header map is not mutated")
			if tc.want == nil {
				require.False(t, got.called)
				return
			}
			require.True(t, got.called)
			// Every identity header the handler sees is one the middleware set.
			ids := map[string]string{}
			for name, values := range got.header {
				if matchesIdentity(name) {
					require.Len(t, values, 1, name)
					ids[name] = values[0]
				}
			}
			require.Equal(t, tc.want, ids)
			require.Equal(t, []string{"kept"}, got.header["X-Unrelated"])
			require.Equal(t, []string{"kept"}, got.header["X_Unrelated"])
		})
	}
}

// matchesIdentity reports whether name is an identity header in any
// spelling: any case, '_' for '-'.
func matchesIdentity(name string) bool {
	for _, n := range []string{testIdentity.Subject, testIdentity.Kind, testIdentity.Actor, testIdentity.App, testIdentity.Roles} {
		if strings.EqualFold(strings.ReplaceAll(n, "_", "-"), strings.ReplaceAll(name, "_", "-")) {
			return true
		}
	}
	return false
}

// TestIdentityHeadersApp: the App header is set when the principal has one,
// and the Actor header reads the principal's actor.
func TestIdentityHeadersApp(t *testing.T) {
	v := middleware.VerifierFunc(func(_ context.Context, c middleware.Credential) (middleware.Principal, error) {
		return middleware.Principal{Subject: "u1", App: "demo", Actor: middleware.ActorBackend}, nil
	})
	s := newScheme(t, basicSpec, v, middleware.WithIdentityHeaders(middleware.IdentityHeaders{App: "X-Auth-App", Actor: "X-Auth-Actor"}))
	var got seen
	req := newRequest()
	forged(req.Header)
	basicSpec.set(req.Header, "app-token")
	rec := serve(middleware.Require(s)(principalHandler(&got)), req)
	require.Equal(t, http.StatusOK, rec.Code)
	require.Equal(t, []string{"demo"}, got.header["X-Auth-App"])
	require.Equal(t, []string{"backend"}, got.header["X-Auth-Actor"])
	// Only the configured names are stripped: the scheme does not own X-Auth-Subject.
	require.Equal(t, []string{"root"}, got.header["X-Auth-Subject"])
}

// TestIdentityHeadersGivenTwiceAreRefused: a second WithIdentityHeaders
// (two WithSchemeOptions calls of a kind package append theirs) replaced
// the first, whose names were then neither set nor stripped: a client's
// "X-Auth-User: admin" reached the handler. The scheme is now refused.
func TestIdentityHeadersGivenTwiceAreRefused(t *testing.T) {
	ex, err := middleware.NewHeaderExtractor("session", "X-Token")
	require.NoError(t, err)
	_, err = middleware.NewScheme("session", ex, trivialVerifier, middleware.Challenge{Scheme: "Token", Realm: "api"},
		middleware.WithIdentityHeaders(middleware.IdentityHeaders{Subject: "X-Auth-User"}),
		middleware.WithIdentityHeaders(middleware.IdentityHeaders{Roles: "X-Auth-Roles"}),
	)
	require.Error(t, err)
	require.Contains(t, err.Error(), "twice")
}
