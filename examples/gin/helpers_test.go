package main

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"
	"github.com/stretchr/testify/require"
	"github.com/tidegate/tidegate/middleware"
	"github.com/tidegate/tidegate/tidegatetest"
)

func TestMain(m *testing.M) {
	gin.SetMode(gin.TestMode)
	os.Exit(m.Run())
}

// newTestHandler is the router with the demo data, cheap password hashing
// and Basic app credentials allowed over plain HTTP from loopback.
func newTestHandler(t *testing.T) http.Handler {
	t.Helper()
	hasher, err := middleware.NewArgon2idHasher(middleware.TestArgon2Params)
	require.NoError(t, err)
	h, closeAll, err := newRouter(config{Users: demoUsers, Apps: demoApps, Hasher: hasher, InsecureBasic: true})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, closeAll()) })
	return h
}

// loopback is the RemoteAddr of test requests: curl on the same machine.
const loopback = "127.0.0.1:40000"

// do sends one request through h from loopback. header is name, value, ...
func do(h http.Handler, method, target, body string, header ...string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, target, strings.NewReader(body))
	req.RemoteAddr = loopback
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Add(header[i], header[i+1])
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

const jsonType = "application/json"

// loginSession logs in at POST /auth/login and returns the session token.
func loginSession(t *testing.T, h http.Handler, u demoUser) string {
	t.Helper()
	rec := do(h, http.MethodPost, "/auth/login", "", "Authorization", tidegatetest.BasicHeader(u.Username, u.Password))
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	token := rec.Header().Get("X-Tidepool-Session-Token")
	require.NotEmpty(t, token)
	return token
}

// bearerTokens is the body of POST /api/v1/authenticate and /refresh.
type bearerTokens struct {
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token"`
	ExpiresIn    int    `json:"expires_in"`
	TokenType    string `json:"token_type"`
}

// loginBearer logs in at POST /api/v1/authenticate.
func loginBearer(t *testing.T, h http.Handler, u demoUser) bearerTokens {
	t.Helper()
	body, _ := json.Marshal(map[string]string{"username": u.Username, "password": u.Password})
	rec := do(h, http.MethodPost, "/api/v1/authenticate", string(body), "Content-Type", jsonType)
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	var out bearerTokens
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &out))
	require.NotEmpty(t, out.AccessToken)
	return out
}

// loginApp logs in at POST /0.4/me/login in the demo app and returns the
// app session token.
func loginApp(t *testing.T, h http.Handler, u demoUser) string {
	t.Helper()
	body, _ := json.Marshal(map[string]string{"user_name": u.Username, "password": u.Password})
	rec := do(h, http.MethodPost, "/0.4/me/login", string(body),
		"Authorization", tidegatetest.BasicHeader(demo.AppToken, ""), "Content-Type", jsonType)
	require.Equal(t, http.StatusCreated, rec.Code, rec.Body.String())
	var out struct {
		ID           string `json:"id"`
		SessionToken string `json:"session_token"`
	}
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &out))
	require.Equal(t, u.UserID, out.ID)
	require.NotEmpty(t, out.SessionToken)
	return out.SessionToken
}

// creds holds one credential of every kind for mary and for the admin, as
// header name and value.
type creds map[string][2]string

func newCreds(t *testing.T, h http.Handler) creds {
	t.Helper()
	return creds{
		"mary session":  {"X-Tidepool-Session-Token", loginSession(t, h, mary)},
		"mary bearer":   {"Authorization", tidegatetest.BearerHeader(loginBearer(t, h, mary).AccessToken)},
		"mary app":      {"Authorization", tidegatetest.BasicHeader(demo.AppToken, loginApp(t, h, mary))},
		"admin session": {"X-Tidepool-Session-Token", loginSession(t, h, admin)},
		"admin bearer":  {"Authorization", tidegatetest.BearerHeader(loginBearer(t, h, admin).AccessToken)},
		"admin backend": {"Authorization", tidegatetest.BasicHeader(demo.BackendToken, admin.UserID)},
	}
}

// header returns the credential called name as do's header arguments.
func (c creds) header(name string) []string {
	if name == "" {
		return nil
	}
	kv, ok := c[name]
	if !ok {
		panic("no credential " + name)
	}
	return kv[:]
}

// The challenges of the three kinds, and their 401 bodies.
const (
	sessionChallenge = `X-Tidepool-Session-Token realm="tidepool"`
	bearerChallenge  = `Bearer realm="tidegate"`
	basicChallenge   = `Basic realm="tapglue", charset="UTF-8"`
	sessionRequired  = `"Session token required"`
)
