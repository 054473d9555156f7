package session_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/tidegate/tidegate/session"
)

// TestTidepoolJSClientFlow replays what Tidepool's JavaScript client does
// over a real connection: log in with POST /auth/login and Content-Length: 0,
// refresh with GET /auth/login every few minutes and adopt whatever token
// comes back, and log out with POST /auth/logout, body {} and an extra
// x-tidepool-trace-session header. Header names are sent in lower case, as
// browsers' fetch and Node's http do.
func TestTidepoolJSClientFlow(t *testing.T) {
	f := newFixture(t)
	var (
		mu   sync.Mutex
		seen []string // method, path and Content-Length of each request
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen = append(seen, r.Method+" "+r.URL.Path+" "+r.Header.Get("Content-Length"))
		mu.Unlock()
		f.handler.ServeHTTP(w, r)
	}))
	defer srv.Close()

	send := func(method, path, body string, headers map[string]string) *http.Response {
		t.Helper()
		var rd io.Reader = http.NoBody // Go then sends "Content-Length: 0" with a POST
		if body != "" {
			rd = strings.NewReader(body)
		}
		req, err := http.NewRequest(method, srv.URL+path, rd)
		require.NoError(t, err)
		for k, v := range headers {
			req.Header[k] = []string{v} // lower case on the wire
		}
		resp, err := srv.Client().Do(req)
		require.NoError(t, err)
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp
	}

	resp := send(http.MethodPost, "/auth/login", "", map[string]string{"authorization": basic(maryLogin, maryPassword)})
	require.Equal(t, http.StatusOK, resp.StatusCode)
	token := resp.Header.Get("x-tidepool-session-token")
	require.NotEmpty(t, token)

	var old []string
	for range 5 {
		f.clock.Advance(10 * time.Minute)
		resp := send(http.MethodGet, "/auth/login", "", map[string]string{"x-tidepool-session-token": token})
		require.Equal(t, http.StatusOK, resp.StatusCode)
		old = append(old, token)
		token = resp.Header.Get("x-tidepool-session-token") // adopt
		require.NotEmpty(t, token)
	}
	f.clock.Advance(session.DefaultRefreshGrace)
	for _, o := range old {
		assert.Equal(t, http.StatusUnauthorized, send(http.MethodGet, "/whoami", "", map[string]string{"x-tidepool-session-token": o}).StatusCode)
	}
	require.Equal(t, http.StatusOK, send(http.MethodGet, "/whoami", "", map[string]string{"x-tidepool-session-token": token}).StatusCode,
		"50 minutes in, the adopted token works past the first token's hour")
	f.clock.Advance(20 * time.Minute)
	require.Equal(t, http.StatusOK, send(http.MethodGet, "/whoami", "", map[string]string{"x-tidepool-session-token": token}).StatusCode)

	resp = send(http.MethodPost, "/auth/logout", "{}", map[string]string{
		"x-tidepool-session-token": token, "x-tidepool-trace-session": "6f1e2d", "content-type": "application/json"})
	require.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, http.StatusUnauthorized, send(http.MethodGet, "/whoami", "", map[string]string{"x-tidepool-session-token": token}).StatusCode)

	mu.Lock()
	defer mu.Unlock()
	assert.Equal(t, "POST /auth/login 0", seen[0], "the login really had Content-Length: 0")
	assert.Contains(t, seen, "POST /auth/logout 2")
}
