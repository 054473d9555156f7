package main

import (
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tidegate/tidegate/basicauth"
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

// refusedAtStart runs the server with args and returns its error; it fails
// the test if the server starts serving instead.
func refusedAtStart(t *testing.T, args ...string) error {
	t.Helper()
	errc := make(chan error, 1)
	go func() { errc <- run(args) }()
	select {
	case err := <-errc:
		require.Error(t, err, "%q", args)
		return err
	case <-time.After(5 * time.Second):
		t.Fatalf("%q: the server started", args)
		return nil
	}
}

// TestStartRefusals: flag mistakes that used to start a server that was not
// the one asked for.
func TestStartRefusals(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "missing.key")
	// flag stops at "false": the key file after it was silently ignored.
	err := refusedAtStart(t, "-addr", "127.0.0.1:0", "-insecure-basic", "false", "-jwt-key-file", missing)
	assert.ErrorContains(t, err, `unexpected argument "false"`)
	// The demo set's secrets are public: never on the network.
	for _, addr := range []string{"0.0.0.0:0", ":0", "[::]:0", "192.0.2.1:0"} {
		assert.ErrorContains(t, refusedAtStart(t, "-addr", addr), "-seed", addr)
	}
	// A key file that is read but refused names the flag, as a missing one
	// does; neither echoes the flag's value, which may be the key itself
	// given by mistake instead of a path.
	dir := t.TempDir()
	for name, content := range map[string]string{
		"short.key":    "too short",
		"password.key": "password1234567890password1234567890",
	} {
		path := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(path, []byte(content), 0o600))
		err := refusedAtStart(t, "-addr", "127.0.0.1:0", "-jwt-key-file", path)
		assert.ErrorContains(t, err, "-jwt-key-file: ")
		assert.NotContains(t, err.Error(), path)
	}
	const keyNotPath = "kR3v9wQ2mZ7xT1yB8nC4hJ6pL0sD5fG3aE2uI9oW7qY"
	err = refusedAtStart(t, "-addr", "127.0.0.1:0", "-jwt-key-file", keyNotPath)
	assert.ErrorContains(t, err, "-jwt-key-file: cannot read the file")
	assert.NotContains(t, err.Error(), keyNotPath)
	// A certificate that cannot be loaded stops the server before it listens.
	assert.ErrorContains(t, refusedAtStart(t, "-addr", "127.0.0.1:0",
		"-tls-cert", filepath.Join(dir, "none.pem"), "-tls-key", filepath.Join(dir, "none.key")), "-tls-cert")
}

func TestTheDemoSetHasRedisKeysOfItsOwn(t *testing.T) {
	assert.Equal(t, demoRedisPrefix, redisPrefix(""), "the demo set")
	assert.Empty(t, redisPrefix("seed.json"), "a seed file: app.Config's default prefix")
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

// TestSeedRefusedLaterIsNamed: a seed file that passes seed.Validate but
// that app.New refuses (more apps than the in-memory registry holds) stops
// the server with a message naming the file and the problem, on one line.
func TestSeedRefusedLaterIsNamed(t *testing.T) {
	var apps []string
	for i := 0; i <= basicauth.MaxMemoryApps; i++ {
		apps = append(apps, fmt.Sprintf(`{"name":"app%d","app_token":"%032x","backend_token":"%044x"}`, i, 2*i+1, 2*i+2))
	}
	path := filepath.Join(t.TempDir(), "many-apps.json")
	require.NoError(t, os.WriteFile(path, []byte(`{"apps":[`+strings.Join(apps, ",")+`]}`), 0o600))

	err := refusedAtStart(t, "-addr", "127.0.0.1:0", "-seed", path)
	assert.Contains(t, err.Error(), path, "the message names the seed file")
	assert.ErrorIs(t, err, basicauth.ErrRegistryFull, "and the problem")
	assert.NotContains(t, err.Error(), "\n")
}
