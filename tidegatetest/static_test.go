package tidegatetest_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/tidegate/tidegate/basicauth"
	"github.com/tidegate/tidegate/bearer"
	"github.com/tidegate/tidegate/middleware"
	"github.com/tidegate/tidegate/session"
	"github.com/tidegate/tidegate/tidegatetest"
)

func TestStaticVerifierVerify(t *testing.T) {
	down := middleware.Unavailable("down", nil)
	v, err := tidegatetest.NewStaticVerifier(
		tidegatetest.Token("session", "tok-a", middleware.Principal{Subject: "a"}),
		tidegatetest.Token("", "tok-any", middleware.Principal{Subject: "any"}),
		tidegatetest.Token("bearer", "tok-any", middleware.Principal{Subject: "bearer-wins"}),
		tidegatetest.Pair{Credential: middleware.Credential{Kind: "basic", Token: "app", Secret: "sess"},
			Principal: middleware.Principal{Subject: "basic-user", Roles: []string{"user"}}},
		tidegatetest.Pair{Credential: middleware.Credential{Kind: "session", Token: "tok-down"}, Err: down},
	)
	require.NoError(t, err)

	cases := []struct {
		name    string
		cred    middleware.Credential
		subject string
		kind    error // the error's sentinel; nil for success
	}{
		{"exact kind", middleware.Credential{Kind: "session", Token: "tok-a"}, "a", nil},
		{"wrong kind", middleware.Credential{Kind: "bearer", Token: "tok-a"}, "", middleware.ErrInvalidCredential},
		{"any kind", middleware.Credential{Kind: "session", Token: "tok-any"}, "any", nil},
		{"own kind wins over any kind", middleware.Credential{Kind: "bearer", Token: "tok-any"}, "bearer-wins", nil},
		{"two parts", middleware.Credential{Kind: "basic", Token: "app", Secret: "sess"}, "basic-user", nil},
		{"other second part", middleware.Credential{Kind: "basic", Token: "app", Secret: "other"}, "", middleware.ErrInvalidCredential},
		{"unknown", middleware.Credential{Kind: "session", Token: "nope"}, "", middleware.ErrInvalidCredential},
		{"error pair", middleware.Credential{Kind: "session", Token: "tok-down"}, "", middleware.ErrUnavailable},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p, err := v.Verify(context.Background(), c.cred)
			if c.kind != nil {
				require.ErrorIs(t, err, c.kind)
				assert.Empty(t, p.Subject)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, c.subject, p.Subject)
		})
	}
	assert.EqualValues(t, len(cases), v.Calls())
}

func TestStaticVerifierCancelledContextIsUnavailable(t *testing.T) {
	v, err := tidegatetest.NewStaticVerifier(tidegatetest.Token("", "tok", middleware.Principal{Subject: "a"}))
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = v.Verify(ctx, middleware.Credential{Kind: "session", Token: "tok"})
	require.ErrorIs(t, err, middleware.ErrUnavailable)
	require.ErrorIs(t, err, context.Canceled)
}

func TestNewStaticVerifierRefuses(t *testing.T) {
	p := middleware.Principal{Subject: "a"}
	cases := []struct {
		name  string
		pairs []tidegatetest.Pair
		msg   string
	}{
		{"no credential", []tidegatetest.Pair{{Principal: p}}, "pair 0 has no credential"},
		{"no subject and no error", []tidegatetest.Pair{tidegatetest.Token("", "tok", middleware.Principal{})},
			"pair 0 has neither a subject nor an error"},
		{"same credential twice", []tidegatetest.Pair{tidegatetest.Token("s", "tok", p), tidegatetest.Token("s", "tok", p)},
			"pair 1 repeats the credential of an earlier pair"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			v, err := tidegatetest.NewStaticVerifier(c.pairs...)
			require.Error(t, err)
			assert.Nil(t, v)
			assert.Equal(t, "tidegatetest: "+c.msg, err.Error())
		})
	}
	// The same token for two kinds, or for one kind and any kind, is two rows.
	_, err := tidegatetest.NewStaticVerifier(tidegatetest.Token("s", "tok", p), tidegatetest.Token("b", "tok", p),
		tidegatetest.Token("", "tok", p))
	require.NoError(t, err)
}

func TestStaticVerifierHandsOutCopies(t *testing.T) {
	p := middleware.Principal{Subject: "a", Roles: []string{"user"}, Attributes: map[string]string{"k": "v"}}
	v, err := tidegatetest.NewStaticVerifier(tidegatetest.Token("", "tok", p))
	require.NoError(t, err)
	p.Roles[0] = "changed by the caller after construction"

	got, err := v.Verify(context.Background(), middleware.Credential{Token: "tok"})
	require.NoError(t, err)
	assert.Equal(t, []string{"user"}, got.Roles)
	got.Roles[0], got.Attributes["k"] = "changed by a handler", "changed"

	again, err := v.Verify(context.Background(), middleware.Credential{Token: "tok"})
	require.NoError(t, err)
	assert.Equal(t, []string{"user"}, again.Roles)
	assert.Equal(t, map[string]string{"k": "v"}, again.Attributes)
}

// TestStaticVerifierBehindSchemes uses the table with the real session
// scheme (Require) and a bearer scheme (Any), behind a cache: Calls shows
// that a second request is a cache hit.
func TestStaticVerifierBehindSchemes(t *testing.T) {
	clock := tidegatetest.NewClock(time.Time{})
	v, err := tidegatetest.NewStaticVerifier(
		tidegatetest.Token("session", "mary-token", middleware.Principal{Subject: "u-mary", Roles: []string{"user"}}),
		tidegatetest.Token("bearer", "ada.jwt.x", middleware.Principal{Subject: "u-ada", Roles: []string{"admin"}}),
	)
	require.NoError(t, err)
	cache, err := middleware.NewCache(v, time.Minute, middleware.WithClock(clock.Now))
	require.NoError(t, err)
	t.Cleanup(func() { _ = cache.Close() })
	sessions, err := session.NewScheme(cache, middleware.WithLogger(discard()))
	require.NoError(t, err)
	ex, err := middleware.NewAuthorizationExtractor("bearer", "Bearer")
	require.NoError(t, err)
	jwts, err := middleware.NewScheme("bearer", ex, cache, middleware.Challenge{Scheme: "Bearer", Realm: "t", RFC6750: true},
		middleware.WithLogger(discard()))
	require.NoError(t, err)
	anyKind, err := middleware.Any(sessions, jwts)
	require.NoError(t, err)

	onlySession := middleware.Require(sessions)(whoami)
	either := anyKind(whoami)
	cases := []struct {
		name   string
		h      http.Handler
		header []string
		status int
		body   string
	}{
		{"session on session route", onlySession, []string{session.HeaderToken, "mary-token"}, 200, "u-mary session [user]"},
		{"session again (cached)", onlySession, []string{session.HeaderToken, "mary-token"}, 200, "u-mary session [user]"},
		{"bearer on session route", onlySession, []string{"Authorization", tidegatetest.BearerHeader("ada.jwt.x")}, 401, `"Session token required"`},
		{"bearer on any route", either, []string{"Authorization", tidegatetest.BearerHeader("ada.jwt.x")}, 200, "u-ada bearer [admin]"},
		{"unknown session", either, []string{session.HeaderToken, "forged"}, 401, `"Session token required"`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rec := get(c.h, "/", c.header...)
			assert.Equal(t, c.status, rec.Code)
			assert.Equal(t, c.body, rec.Body.String())
		})
	}
	// mary-token verified once, ada.jwt.x once, forged once.
	assert.EqualValues(t, 3, v.Calls())
}

// TestStaticSchemesAnswerLikeTheRealOnes: bearer.NewScheme and
// basicauth.NewScheme around a StaticVerifier answer every refusal exactly
// as the schemes of a configured bearer.Service and basicauth.Service do
// (status, challenges, body), and let the table's credentials in: a
// handler's tests see what production answers.
func TestStaticSchemesAnswerLikeTheRealOnes(t *testing.T) {
	k := newKit(t)
	v, err := tidegatetest.NewStaticVerifier(
		tidegatetest.Token(bearer.Kind, "ada.access.token", middleware.Principal{Subject: "ada"}),
		tidegatetest.Pair{Credential: middleware.Credential{Kind: basicauth.Kind, Token: "app", Secret: "session"},
			Principal: middleware.Principal{Subject: "mary"}},
	)
	require.NoError(t, err)
	jwts, err := bearer.NewScheme(v, middleware.WithLogger(discard()))
	require.NoError(t, err)
	apps, err := basicauth.NewScheme(v, basicauth.WithLogger(discard()))
	require.NoError(t, err)

	tlsRequest := func(header ...string) *http.Request {
		req := httptest.NewRequest(http.MethodGet, "https://example.com/", nil)
		for i := 0; i+1 < len(header); i += 2 {
			req.Header.Add(header[i], header[i+1])
		}
		return req
	}
	for name, tc := range map[string]struct {
		real, static *middleware.Scheme
		req          func() *http.Request
	}{
		"bearer, none":        {k.jwts.Scheme(), jwts, func() *http.Request { return tlsRequest() }},
		"bearer, forged":      {k.jwts.Scheme(), jwts, func() *http.Request { return tlsRequest("Authorization", "Bearer forged.access.token") }},
		"bearer, malformed":   {k.jwts.Scheme(), jwts, func() *http.Request { return tlsRequest("Authorization", "Bearer not a token") }},
		"basic, none":         {k.apps.Scheme(), apps, func() *http.Request { return tlsRequest() }},
		"basic, unknown":      {k.apps.Scheme(), apps, func() *http.Request { return tlsRequest("Authorization", tidegatetest.BasicHeader("nope", "nope")) }},
		"basic, malformed":    {k.apps.Scheme(), apps, func() *http.Request { return tlsRequest("Authorization", "Basic !!!") }},
		"basic, in the clear": {k.apps.Scheme(), apps, func() *http.Request { return get403Request() }},
	} {
		want, got := httptest.NewRecorder(), httptest.NewRecorder()
		middleware.Require(tc.real)(whoami).ServeHTTP(want, tc.req())
		middleware.Require(tc.static)(whoami).ServeHTTP(got, tc.req())
		require.NotEqual(t, http.StatusOK, want.Code, name)
		assert.Equal(t, want.Code, got.Code, name)
		assert.Equal(t, want.Header().Values("WWW-Authenticate"), got.Header().Values("WWW-Authenticate"), name)
		assert.Equal(t, want.Body.String(), got.Body.String(), name)
	}
	rec := httptest.NewRecorder()
	middleware.Require(jwts)(whoami).ServeHTTP(rec, tlsRequest("Authorization", "Bearer ada.access.token"))
	assert.Equal(t, "ada bearer []", rec.Body.String())
	rec = httptest.NewRecorder()
	middleware.Require(apps)(whoami).ServeHTTP(rec, tlsRequest("Authorization", tidegatetest.BasicHeader("app", "session")))
	assert.Equal(t, "mary basic []", rec.Body.String())
}

// get403Request is a Basic credential over plain HTTP: refused with 403
// before any verifier is asked.
func get403Request() *http.Request {
	req := httptest.NewRequest(http.MethodGet, "http://example.com/", nil)
	req.Header.Set("Authorization", tidegatetest.BasicHeader("app", "session"))
	return req
}
