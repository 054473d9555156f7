package main

import (
	"crypto/rand"
	"os"
	"path/filepath"
	"sync/atomic"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestEndlessJWTKeyFileIsRefusedWithoutReadingItAll: -jwt-key-file reads
// at most a few KiB (a key is at most 1,024 bytes). It read its file to the
// end, so a device or pipe that never ends ("-jwt-key-file /dev/urandom",
// an easy slip for "a random key") grew the server until it ran out of
// memory. A FIFO fed 16 MiB of random bytes stands for /dev/urandom here,
// so that the test stays bounded.
func TestEndlessJWTKeyFileIsRefusedWithoutReadingItAll(t *testing.T) {
	fifo := filepath.Join(t.TempDir(), "urandom")
	require.NoError(t, syscall.Mkfifo(fifo, 0o600))
	var written atomic.Int64
	go func() {
		w, err := os.OpenFile(fifo, os.O_WRONLY, 0)
		if err != nil {
			return
		}
		defer w.Close()
		buf := make([]byte, 64<<10)
		for written.Load() < 16<<20 {
			_, _ = rand.Read(buf)
			n, err := w.Write(buf)
			written.Add(int64(n))
			if err != nil {
				return // the reader closed: it stopped reading
			}
		}
	}()
	err := refusedAtStart(t, "-addr", "127.0.0.1:0", "-jwt-key-file", fifo)
	assert.ErrorContains(t, err, "-jwt-key-file")
	assert.Less(t, written.Load(), int64(1<<20),
		"the server read %d bytes of a key file before refusing it; a key is at most 1024", written.Load())
}
