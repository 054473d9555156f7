package main

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

// TestRedisURLIsRefusedWithoutEchoingItsPassword: -redis takes
// host:port. Given a Redis URL instead (the usual REDIS_URL form, which
// carries the password), the server must refuse it at start naming the
// flag, and, as for -jwt-key-file, without echoing the secret it was given.
func TestRedisURLIsRefusedWithoutEchoingItsPassword(t *testing.T) {
	const password = "hunter2hunter2"
	for _, value := range []string{
		"redis://default:" + password + "@127.0.0.1:1/0",
		":" + password + "@127.0.0.1:1",
	} {
		err := refusedAtStart(t, "-addr", "127.0.0.1:0", "-redis", value)
		assert.ErrorContains(t, err, "-redis", "the message names the flag")
		assert.NotContains(t, err.Error(), password, "the message echoes the password")
	}
}
