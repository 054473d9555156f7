package bearer_test

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestOversizedChunkedLoginBodyIsAnsweredAtOnce: a login body over 64 KiB,
// sent chunked by a client that then waits for the answer before sending
// more, is answered 400 at once with Connection: close, as
// http.MaxBytesReader arranges on net/http's own ResponseWriter. Behind a
// wrapped ResponseWriter (as a panic-containing wrapper once was),
// MaxBytesReader no longer finds the server's requestTooLarge hook: net/http
// then read up to 256 KiB more of the body before it answered, and the
// client waited (and the server held the connection).
func TestOversizedChunkedLoginBodyIsAnsweredAtOnce(t *testing.T) {
	e := newEnv(t)
	srv := httptest.NewServer(e.server)
	defer srv.Close()
	conn, err := net.Dial("tcp", srv.Listener.Addr().String())
	require.NoError(t, err)
	defer conn.Close()
	chunk := `{"username":"mary@example.com","password":"` + strings.Repeat("x", 70<<10)
	_, err = fmt.Fprintf(conn, "POST /api/v1/authenticate HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n%x\r\n%s\r\n", len(chunk), chunk)
	require.NoError(t, err)
	require.NoError(t, conn.SetReadDeadline(time.Now().Add(3*time.Second)))
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	require.NoError(t, err, "no answer to an oversized body within 3 s")
	defer resp.Body.Close()
	require.Equal(t, http.StatusBadRequest, resp.StatusCode)
	require.True(t, resp.Close, "Connection: close expected, as MaxBytesReader sets it")
}

// TestOversizedLoginBodyClosesTheConnection: the same with the whole body
// sent: net/http's MaxBytesReader hook marks the answer Connection: close,
// which a wrapped ResponseWriter lost.
func TestOversizedLoginBodyClosesTheConnection(t *testing.T) {
	e := newEnv(t)
	srv := httptest.NewServer(e.server)
	defer srv.Close()
	body := `{"username":"mary@example.com","password":"` + strings.Repeat("x", 70<<10) + `"}`
	req, err := http.NewRequest("POST", srv.URL+"/api/v1/authenticate", strings.NewReader(body))
	require.NoError(t, err)
	req.ContentLength = -1 // chunked
	req.Header.Set("Content-Type", "application/json")
	resp, err := srv.Client().Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusBadRequest, resp.StatusCode)
	require.True(t, resp.Close, "Connection: close expected, as MaxBytesReader sets it; header %v", resp.Header)
}
