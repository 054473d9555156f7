package main

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/tidegate/tidegate/tidegatetest"
)

func TestPublicRoutes(t *testing.T) {
	h := newTestHandler(t)
	token := loginSession(t, h, mary)
	cases := []struct {
		name, method, target string
		header               []string
		status               int
		body                 string
	}{
		{"healthz", http.MethodGet, "/healthz", nil, 200, `{"status":"ok"}` + "\n"},
		{"hello, anonymous", http.MethodGet, "/hello", nil, 200, `{"hello":"anonymous"}` + "\n"},
		{"hello, session user", http.MethodGet, "/hello", []string{"X-Tidepool-Session-Token", token}, 200,
			`{"hello":"88144f5ea3"}` + "\n"},
		{"hello, forged token", http.MethodGet, "/hello", []string{"X-Tidepool-Session-Token", "forged"}, 401, sessionRequired},
		{"healthz, wrong method", http.MethodPost, "/healthz", nil, 405, ""},
		{"unknown route", http.MethodGet, "/nope", nil, 404, "404 page not found\n"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rec := do(h, c.method, c.target, "", c.header...)
			assert.Equal(t, c.status, rec.Code)
			assert.Equal(t, c.body, rec.Body.String())
		})
	}
}

func TestSessionOnlyRoute(t *testing.T) {
	h := newTestHandler(t)
	c := newCreds(t, h)
	cases := []struct {
		name      string
		header    []string
		status    int
		challenge string
		body      string
	}{
		{"session token", c.header("mary session"), 200, "",
			`{"subject":"88144f5ea3","kind":"session","actor":"user","roles":["user"]}` + "\n"},
		{"no credential", nil, 401, sessionChallenge, sessionRequired},
		{"bearer token", c.header("admin bearer"), 401, sessionChallenge, sessionRequired},
		{"app credentials", c.header("mary app"), 401, sessionChallenge, sessionRequired},
		{"malformed token", []string{"X-Tidepool-Session-Token", "not a token"}, 400, "", sessionRequired},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rec := do(h, http.MethodGet, "/session/whoami", "", tc.header...)
			assert.Equal(t, tc.status, rec.Code)
			assert.Equal(t, tc.challenge, rec.Header().Get("WWW-Authenticate"))
			assert.Equal(t, tc.body, rec.Body.String())
		})
	}
}

func TestAnyKindRoute(t *testing.T) {
	h := newTestHandler(t)
	c := newCreds(t, h)
	cases := []struct {
		cred string
		body string
	}{
		{"mary session", `{"subject":"88144f5ea3","kind":"session","actor":"user","roles":["user"]}`},
		{"mary bearer", `{"subject":"88144f5ea3","kind":"bearer","actor":"user","roles":["user"]}`},
		{"mary app", `{"subject":"88144f5ea3","kind":"basic","actor":"user","app":"demo","roles":["user"]}`},
		{"admin session", `{"subject":"a1d2c3b4e5","kind":"session","actor":"user","roles":["user","admin"]}`},
		{"admin bearer", `{"subject":"a1d2c3b4e5","kind":"bearer","actor":"user","roles":["user","admin"]}`},
		{"admin backend", `{"subject":"a1d2c3b4e5","kind":"basic","actor":"backend","app":"demo","roles":["user","admin"]}`},
	}
	for _, tc := range cases {
		t.Run(tc.cred, func(t *testing.T) {
			rec := do(h, http.MethodGet, "/whoami", "", c.header(tc.cred)...)
			assert.Equal(t, http.StatusOK, rec.Code)
			assert.Equal(t, tc.body+"\n", rec.Body.String())
		})
	}
	t.Run("no credential", func(t *testing.T) {
		rec := do(h, http.MethodGet, "/whoami", "")
		assert.Equal(t, http.StatusUnauthorized, rec.Code)
		assert.Equal(t, []string{sessionChallenge, bearerChallenge, basicChallenge}, rec.Header().Values("WWW-Authenticate"))
		assert.Equal(t, sessionRequired, rec.Body.String())
	})
	t.Run("two kinds at once", func(t *testing.T) {
		// RFC 6750 §3.1: invalid_request, said by the bearer scheme's
		// challenge and body, as the session header has no RFC 6750 one.
		rec := do(h, http.MethodGet, "/whoami", "", append(c.header("mary session"), c.header("admin bearer")...)...)
		assert.Equal(t, http.StatusBadRequest, rec.Code)
		assert.Equal(t, []string{bearerChallenge + `, error="invalid_request"`}, rec.Header().Values("WWW-Authenticate"))
		assert.Contains(t, rec.Body.String(), `"error":"invalid_token"`, "the bearer kind's one body for every refusal")
	})
}

func TestRoleGuardedRoute(t *testing.T) {
	h := newTestHandler(t)
	c := newCreds(t, h)
	adminBody := `{"admin":"a1d2c3b4e5","stats":"all systems nominal"}` + "\n"
	cases := []struct {
		cred      string
		status    int
		challenge string
		body      string
	}{
		{"mary session", 403, "", `"Forbidden"`},
		{"mary bearer", 403, `Bearer realm="tidegate", error="insufficient_scope"`,
			`{"error":"insufficient_scope","error_description":"the token does not allow this request"}` + "\n"},
		{"mary app", 403, "", `{"errors":[{"code":4031,"message":"not allowed"}]}` + "\n"},
		{"admin session", 200, "", adminBody},
		{"admin bearer", 200, "", adminBody},
		{"admin backend", 200, "", adminBody},
		{"", 401, sessionChallenge, sessionRequired},
	}
	for _, tc := range cases {
		t.Run(tc.cred, func(t *testing.T) {
			rec := do(h, http.MethodGet, "/admin/stats", "", c.header(tc.cred)...)
			assert.Equal(t, tc.status, rec.Code)
			assert.Equal(t, tc.challenge, rec.Header().Get("WWW-Authenticate"))
			assert.Equal(t, tc.body, rec.Body.String())
		})
	}
}

func TestSessionLoginFlow(t *testing.T) {
	h := newTestHandler(t)
	bad := do(h, http.MethodPost, "/auth/login", "", "Authorization", tidegatetest.BasicHeader(mary.Username, "wrong"))
	assert.Equal(t, http.StatusUnauthorized, bad.Code)
	assert.Equal(t, `"login failed"`, bad.Body.String())

	token := loginSession(t, h, mary)
	refreshed := do(h, http.MethodGet, "/auth/login", "", "X-Tidepool-Session-Token", token)
	require.Equal(t, http.StatusOK, refreshed.Code)
	assert.Equal(t, `{"userid":"88144f5ea3"}`, refreshed.Body.String())
	next := refreshed.Header().Get("X-Tidepool-Session-Token")
	require.NotEmpty(t, next)
	assert.NotEqual(t, token, next)
	assert.Equal(t, http.StatusOK, do(h, http.MethodGet, "/session/whoami", "", "X-Tidepool-Session-Token", next).Code)

	assert.Equal(t, http.StatusOK, do(h, http.MethodPost, "/auth/logout", "", "X-Tidepool-Session-Token", next).Code)
	assert.Equal(t, http.StatusUnauthorized, do(h, http.MethodGet, "/session/whoami", "", "X-Tidepool-Session-Token", next).Code)
	assert.Equal(t, http.StatusUnauthorized, do(h, http.MethodGet, "/whoami", "", "X-Tidepool-Session-Token", next).Code)
}

func TestBearerLoginFlow(t *testing.T) {
	h := newTestHandler(t)
	bad := do(h, http.MethodPost, "/api/v1/authenticate", `{"username":"mary@example.com","password":"wrong"}`,
		"Content-Type", jsonType)
	assert.Equal(t, http.StatusUnauthorized, bad.Code)

	tokens := loginBearer(t, h, mary)
	assert.Equal(t, 28800, tokens.ExpiresIn)
	assert.Equal(t, "Bearer", tokens.TokenType)
	ping := do(h, http.MethodGet, "/api/v1/ping", "", "Authorization", tidegatetest.BearerHeader(tokens.AccessToken))
	assert.Equal(t, http.StatusOK, ping.Code)
	assert.Equal(t, `{"authenticated":true}`+"\n", ping.Body.String())

	body, _ := json.Marshal(map[string]string{"refresh_token": tokens.RefreshToken})
	rec := do(h, http.MethodPost, "/api/v1/refresh", string(body),
		"Authorization", tidegatetest.BearerHeader(tokens.AccessToken), "Content-Type", jsonType)
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	var next bearerTokens
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &next))
	assert.NotEqual(t, tokens.RefreshToken, next.RefreshToken)
	assert.Equal(t, http.StatusOK, do(h, http.MethodGet, "/whoami", "", "Authorization", tidegatetest.BearerHeader(next.AccessToken)).Code)

	assert.Equal(t, http.StatusOK, do(h, http.MethodPost, "/api/v1/logout", "", "Authorization", tidegatetest.BearerHeader(next.AccessToken)).Code)
	assert.Equal(t, http.StatusUnauthorized, do(h, http.MethodGet, "/whoami", "", "Authorization", tidegatetest.BearerHeader(next.AccessToken)).Code)

	jwks := do(h, http.MethodGet, "/.well-known/jwks.json", "")
	assert.Equal(t, http.StatusOK, jwks.Code)
	assert.Equal(t, "application/jwk-set+json", jwks.Header().Get("Content-Type"))
}

// TestJWKSRefusesOtherMethodsInJSON: bearer/doc.go promises that the JWKS
// handler answers a method it does not serve 405, with Allow and a JSON
// error body. Mounted for GET and HEAD only, it never ran for another
// method: the router answered text/plain itself.
func TestJWKSRefusesOtherMethodsInJSON(t *testing.T) {
	h := newTestHandler(t)
	for _, method := range []string{http.MethodPost, http.MethodDelete, http.MethodOptions} {
		rec := do(h, method, "/.well-known/jwks.json", "")
		assert.Equal(t, http.StatusMethodNotAllowed, rec.Code, method)
		assert.Equal(t, []string{"GET, HEAD"}, rec.Header().Values("Allow"), method)
		assert.Equal(t, "application/json", rec.Header().Get("Content-Type"), method)
		assert.JSONEq(t, `{"error":"invalid_request","error_description":"method not allowed, see the Allow header"}`, rec.Body.String(), method)
	}
}

func TestAppLoginFlow(t *testing.T) {
	h := newTestHandler(t)
	bad := do(h, http.MethodPost, "/0.4/me/login", `{"user_name":"mary@example.com","password":"wrong"}`,
		"Authorization", tidegatetest.BasicHeader(demo.AppToken, ""), "Content-Type", jsonType)
	assert.Equal(t, http.StatusUnauthorized, bad.Code)
	assert.Equal(t, `{"errors":[{"code":4010,"message":"wrong user name, email or password"}]}`+"\n", bad.Body.String())

	session := loginApp(t, h, mary)
	user := tidegatetest.BasicHeader(demo.AppToken, session)
	me := do(h, http.MethodGet, "/0.4/me", "", "Authorization", user)
	assert.Equal(t, http.StatusOK, me.Code)
	assert.Contains(t, me.Body.String(), `"user_name":"mary@example.com"`)

	assert.Equal(t, http.StatusNoContent, do(h, http.MethodDelete, "/0.4/me/logout", "", "Authorization", user).Code)
	rec := do(h, http.MethodGet, "/whoami", "", "Authorization", user)
	assert.Equal(t, http.StatusUnauthorized, rec.Code)
	assert.Equal(t, `{"errors":[{"code":4007,"message":"session token or user id invalid"}]}`+"\n", rec.Body.String())
}

// TestAppCredentialsNeedHTTPS: plain HTTP is refused from anywhere but
// loopback; over HTTPS the response carries Strict-Transport-Security.
func TestAppCredentialsNeedHTTPS(t *testing.T) {
	h := newTestHandler(t)
	backend := tidegatetest.BasicHeader(demo.BackendToken, admin.UserID)

	req := httptest.NewRequest(http.MethodGet, "/whoami", nil) // RemoteAddr 192.0.2.1
	req.Header.Set("Authorization", backend)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	assert.Equal(t, http.StatusForbidden, rec.Code)
	assert.Equal(t, `{"errors":[{"code":4030,"message":"HTTPS is required for these credentials"}]}`+"\n", rec.Body.String())

	req = httptest.NewRequest(http.MethodGet, "https://api.example/whoami", nil)
	req.Header.Set("Authorization", backend)
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	assert.Equal(t, http.StatusOK, rec.Code)
	assert.Equal(t, "max-age=31536000", rec.Header().Get("Strict-Transport-Security"))
}

// TestMountedRedirectsKeepThePrefix: the kinds' handlers are mounted behind
// http.StripPrefix. Their muxes used to redirect a path like /0.4//me to
// the clean path without the prefix (/me); they now answer it 404, and
// never redirect outside the mount. The ServeMux in front of them redirects
// it to the clean path with the prefix (/0.4/me).
func TestMountedRedirectsKeepThePrefix(t *testing.T) {
	h := newTestHandler(t)
	backend := tidegatetest.BasicHeader(demo.BackendToken, admin.UserID)
	for _, target := range []string{"/0.4//me", "/0.4", "/0.4/./me", "/auth//login", "/api/v1//ping"} {
		rec := do(h, http.MethodGet, target, "", "Authorization", backend)
		if loc := rec.Header().Get("Location"); rec.Code/100 == 3 {
			assert.True(t, strings.HasPrefix(loc, target[:4]), "%s: %d redirects to %q, outside the mount", target, rec.Code, loc)
		}
	}
}
