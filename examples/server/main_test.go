package main

import (
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
	assert.ErrorContains(t, run([]string{"-tls-cert", "x.pem"}), "go together")
	assert.ErrorContains(t, run([]string{"-jwt-key-file", filepath.Join(t.TempDir(), "none")}), "-jwt-key-file")
	assert.ErrorContains(t, run([]string{"-trusted-proxies", "not-a-range"}), "-trusted-proxies")
}
