package redisstore_test

import (
	"bytes"
	"log/slog"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/tidegate/tidegate/redisstore"
)

// TestZeroBroadcasterSaysItDropsRevocations: a Broadcaster
// is an Invalidator; a kind hands it every revocation (InvalidateSubject,
// Purge) for the other replicas, and the interface has no error return. A
// built Broadcaster whose PUBLISH fails logs a Warn ("revocation not
// published to other replicas"). A zero one, which session.WithInvalidator
// and the other kinds accept, publishes nothing and says nothing: every
// other replica keeps serving the revoked credential from its cache, and
// nobody is told.
func TestZeroBroadcasterSaysItDropsRevocations(t *testing.T) {
	var buf bytes.Buffer
	old := slog.Default()
	slog.SetDefault(slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelWarn})))
	t.Cleanup(func() { slog.SetDefault(old) })

	var b redisstore.Broadcaster
	b.InvalidateSubject("mary")
	b.Purge()

	assert.NotEmpty(t, buf.String(), "a revocation a zero Broadcaster cannot publish is at least logged")
	assert.Equal(t, 2, bytes.Count(buf.Bytes(), []byte("level=ERROR")), "one Error per revocation: %s", buf.String())
}
