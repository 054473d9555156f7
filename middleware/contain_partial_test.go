package middleware_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestContainAbortsAResponseAlreadyBegun: a handler that has already sent
// its 200 and part of its body, then panics, has its response aborted, as
// net/http alone would, so that the client sees it broken. Appending the
// generic 500 body to the 200 made a complete-looking, corrupted 200.
func TestContainAbortsAResponseAlreadyBegun(t *testing.T) {
	s := newScheme(t, bearerSpec, &testVerifier{})
	h := s.Contain(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusOK)
		_, _ = io.WriteString(w, `{"items":[1,2,`)
		w.(http.Flusher).Flush()
		panic("store bug")
	}))
	srv := httptest.NewServer(h)
	defer srv.Close()
	resp, err := srv.Client().Get(srv.URL)
	require.NoError(t, err)
	defer resp.Body.Close()
	body, readErr := io.ReadAll(resp.Body)
	require.True(t, resp.StatusCode != http.StatusOK || readErr != nil,
		"the client cannot tell the response is broken: status %d, body %q, read error %v", resp.StatusCode, body, readErr)
}
