package main

import (
	"flag"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A seed file that is missing, unreadable or invalid stops the server at
// start with a message naming the file and the problem.
func TestBadSeedFileStopsTheServer(t *testing.T) {
	dir := t.TempDir()
	invalid := filepath.Join(dir, "invalid.json")
	require.NoError(t, os.WriteFile(invalid, []byte(`{"users": [{"userid": "x"}]}`), 0o600))
	notJSON := filepath.Join(dir, "garbage.json")
	require.NoError(t, os.WriteFile(notJSON, []byte(`users: mary`), 0o600))
	unreadable := filepath.Join(dir, "unreadable.json")
	require.NoError(t, os.Mkdir(unreadable, 0o700)) // a directory cannot be read as a file

	cases := []struct{ path, problem string }{
		{filepath.Join(dir, "missing.json"), "no such file"},
		{invalid, "users[0]"},
		{notJSON, "invalid JSON"},
		{unreadable, "is a directory"},
	}
	for _, tc := range cases {
		t.Run(filepath.Base(tc.path), func(t *testing.T) {
			err := run([]string{"-addr", "127.0.0.1:0", "-seed", tc.path})
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.path)
			assert.Contains(t, err.Error(), tc.problem)
		})
	}
}

func TestFlagErrors(t *testing.T) {
	assert.ErrorIs(t, run([]string{"-h"}), flag.ErrHelp, "main exits 0 on it, after the usage")
	assert.ErrorContains(t, run([]string{"-tls-cert", "x.pem"}), "go together")
	assert.ErrorContains(t, run([]string{"-jwt-key-file", filepath.Join(t.TempDir(), "none")}), "-jwt-key-file")
	assert.ErrorContains(t, run([]string{"-trusted-proxies", "not-a-range"}), "-trusted-proxies")
	assert.ErrorContains(t, run([]string{"-debug-addr", "0.0.0.0:6060"}), "loopback")
	assert.ErrorContains(t, run([]string{"-debug-addr", "localhost"}), "-debug-addr")
}

// TestDebugAddrServesGoroutineCounts: -debug-addr serves net/http/pprof on
// loopback (the load test reads the goroutine count from it).
func TestDebugAddrServesGoroutineCounts(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	stop, err := serveDebug(addr)
	require.NoError(t, err)
	defer stop()
	resp, err := http.Get("http://" + addr + "/debug/pprof/goroutine?debug=1")
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Regexp(t, `^goroutine profile: total \d+\n`, string(body))
}
