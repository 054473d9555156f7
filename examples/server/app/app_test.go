package app_test

import (
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/tidegate/tidegate/examples/server/app"
	"github.com/tidegate/tidegate/internal/seed"
	"github.com/tidegate/tidegate/middleware"
)

// testJWTKey is 32 random bytes in base64, as -jwt-key-file accepts them.
const testJWTKey = "Qe301IVmUw4RhRCd8Kq/WKhZYsSdXr7Tv3H4n0AKfoE="

const (
	maryLogin    = "mary@example.com"
	maryPassword = "correct horse battery staple"
	maryID       = "88144f5ea3"
)

// newServer runs the example server over TLS (Basic app credentials are
// HTTPS only) with cheap password hashing.
func newServer(t *testing.T) *httptest.Server {
	t.Helper()
	hasher, err := middleware.NewArgon2idHasher(middleware.TestArgon2Params)
	require.NoError(t, err)
	a, err := app.New(app.Config{Hasher: hasher, JWTKey: []byte(testJWTKey)})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, a.Close()) })
	srv := httptest.NewTLSServer(a.Handler())
	t.Cleanup(srv.Close)
	return srv
}

func do(t *testing.T, srv *httptest.Server, method, path string, body string, header ...string) *http.Response {
	t.Helper()
	req, err := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
	require.NoError(t, err)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := srv.Client().Do(req)
	require.NoError(t, err)
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

func whoami(t *testing.T, srv *httptest.Server, header ...string) map[string]any {
	t.Helper()
	resp := do(t, srv, http.MethodGet, "/whoami", "", header...)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	var got map[string]any
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&got))
	return got
}

func TestHealthzNeedsNoCredential(t *testing.T) {
	srv := newServer(t)
	resp := do(t, srv, http.MethodGet, "/healthz", "")
	assert.Equal(t, http.StatusOK, resp.StatusCode)
}

func TestWhoamiWithoutCredentialChallengesEveryKind(t *testing.T) {
	srv := newServer(t)
	resp := do(t, srv, http.MethodGet, "/whoami", "")
	assert.Equal(t, http.StatusUnauthorized, resp.StatusCode)
	assert.Equal(t, []string{
		`X-Tidepool-Session-Token realm="tidepool"`,
		`Bearer realm="tidegate"`,
		`Basic realm="tapglue", charset="UTF-8"`,
	}, resp.Header.Values("WWW-Authenticate"))
}

func TestSessionTokenLoginThenWhoami(t *testing.T) {
	srv := newServer(t)
	basic := "Basic " + base64.StdEncoding.EncodeToString([]byte(maryLogin+":"+maryPassword))
	resp := do(t, srv, http.MethodPost, "/auth/login", "", "Authorization", basic)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	token := resp.Header.Get("X-Tidepool-Session-Token")
	require.NotEmpty(t, token)
	got := whoami(t, srv, "X-Tidepool-Session-Token", token)
	assert.Equal(t, maryID, got["subject"])
	assert.Equal(t, "session", got["kind"])
	assert.Equal(t, []any{"user"}, got["roles"])
}

func TestBearerLoginThenWhoami(t *testing.T) {
	srv := newServer(t)
	resp := do(t, srv, http.MethodPost, "/api/v1/authenticate",
		`{"username":"`+maryLogin+`","password":"`+maryPassword+`"}`, "Content-Type", "application/json")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	var tokens struct {
		AccessToken string `json:"access_token"`
	}
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&tokens))
	got := whoami(t, srv, "Authorization", "Bearer "+tokens.AccessToken)
	assert.Equal(t, maryID, got["subject"])
	assert.Equal(t, "bearer", got["kind"])
}

func TestAppCredentialsLoginThenWhoami(t *testing.T) {
	srv := newServer(t)
	demo := seed.Demo().Apps[0]
	appOnly := "Basic " + base64.StdEncoding.EncodeToString([]byte(demo.AppToken+":"))
	resp := do(t, srv, http.MethodPost, "/0.4/me/login",
		`{"email":"`+maryLogin+`","password":"`+maryPassword+`"}`, "Authorization", appOnly, "Content-Type", "application/json")
	require.Equal(t, http.StatusCreated, resp.StatusCode)
	var user struct {
		SessionToken string `json:"session_token"`
	}
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&user))
	userCreds := "Basic " + base64.StdEncoding.EncodeToString([]byte(demo.AppToken+":"+user.SessionToken))
	got := whoami(t, srv, "Authorization", userCreds)
	assert.Equal(t, maryID, got["subject"])
	assert.Equal(t, "basic", got["kind"])
	assert.Equal(t, "demo", got["app"])

	backend := "Basic " + base64.StdEncoding.EncodeToString([]byte(demo.BackendToken+":"+maryID))
	got = whoami(t, srv, "Authorization", backend)
	assert.Equal(t, "backend", got["actor"])
}

func TestTwoKindsAtOnceIsBadRequest(t *testing.T) {
	srv := newServer(t)
	resp := do(t, srv, http.MethodGet, "/whoami", "",
		"X-Tidepool-Session-Token", "abc", "Authorization", "Bearer a.b.c")
	assert.Equal(t, http.StatusBadRequest, resp.StatusCode)
	body, _ := io.ReadAll(resp.Body)
	assert.NotContains(t, string(body), "abc")
}

func TestBadJWTKeyIsRefusedAtStart(t *testing.T) {
	_, err := app.New(app.Config{JWTKey: []byte("short")})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "JWT key")
}

func stringsReader(s string) *strings.Reader { return strings.NewReader(s) }

// TestServerLoginsShareTheLoginThrottle: wrong server secrets are counted
// like wrong passwords, so a guessed server secret meets the same 429.
func TestServerLoginsShareTheLoginThrottle(t *testing.T) {
	srv := newServer(t)
	status := 0
	tries := 0
	for ; tries < 50; tries++ {
		resp := do(t, srv, http.MethodPost, "/auth/serverlogin", "",
			"X-Tidepool-Server-Name", "uploader", "X-Tidepool-Server-Secret", "a guess")
		if status = resp.StatusCode; status != http.StatusUnauthorized {
			break
		}
	}
	require.Equal(t, http.StatusTooManyRequests, status)
	assert.LessOrEqual(t, tries, 10, "the account limit of the password logins")
}

// TestAUserCannotClearAServerLoginsThrottle: server logins and password
// logins share one limiter, and anyone can sign up a user of any name
// through the app API. The server login "uploader" was counted under the
// name "server:uploader", so a user of that name cleared the server's
// counter with each of their own logins, and guessing the server's secret
// was never throttled per name.
func TestAUserCannotClearAServerLoginsThrottle(t *testing.T) {
	srv := newServer(t)
	demo := seed.Demo().Apps[0]
	appAuth := "Basic " + base64.StdEncoding.EncodeToString([]byte(demo.AppToken+":"))
	resp := do(t, srv, http.MethodPost, "/0.4/users",
		`{"user_name":"server:uploader","email":"evil@example.com","password":"attacker password"}`,
		"Authorization", appAuth, "Content-Type", "application/json")
	require.Equal(t, http.StatusCreated, resp.StatusCode)

	guess := func() int {
		return do(t, srv, http.MethodPost, "/auth/serverlogin", "",
			"X-Tidepool-Server-Name", "uploader", "X-Tidepool-Server-Secret", "a wrong guess at the secret").StatusCode
	}
	statuses := []int{}
	for range 12 {
		statuses = append(statuses, guess())
		resp := do(t, srv, http.MethodPost, "/api/v1/authenticate",
			`{"username":"server:uploader","password":"attacker password"}`, "Content-Type", "application/json")
		require.Equal(t, http.StatusOK, resp.StatusCode, "the user's own login")
	}
	assert.Contains(t, statuses, http.StatusTooManyRequests, "the server's secret is throttled: %v", statuses)
}

// TestJWKSRefusesOtherMethodsInJSON: bearer/doc.go promises that the JWKS
// handler answers a method it does not serve 405, with Allow and a JSON
// error body. Mounted under the method pattern "GET /.well-known/jwks.json",
// it never ran for another method: ServeMux answered text/plain "Method
// Not Allowed" itself.
func TestJWKSRefusesOtherMethodsInJSON(t *testing.T) {
	srv := newServer(t)
	for _, method := range []string{http.MethodPost, http.MethodDelete, http.MethodOptions} {
		resp := do(t, srv, method, "/.well-known/jwks.json", "")
		body, _ := io.ReadAll(resp.Body)
		assert.Equal(t, http.StatusMethodNotAllowed, resp.StatusCode, method)
		assert.Equal(t, "GET, HEAD", resp.Header.Get("Allow"), method)
		assert.Equal(t, "application/json", resp.Header.Get("Content-Type"), method)
		assert.JSONEq(t, `{"error":"invalid_request","error_description":"method not allowed, see the Allow header"}`, string(body), method)
	}
}
