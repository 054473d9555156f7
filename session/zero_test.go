package session_test

import (
	"testing"

	"github.com/stretchr/testify/require"
	"github.com/tidegate/tidegate/middleware"
	"github.com/tidegate/tidegate/session"
)

// TestNewRefusesAZeroPasswordLogin: a PasswordLogin that
// middleware.NewPasswordLogin did not make is refused at construction; it
// used to be accepted, and every login then panicked.
func TestNewRefusesAZeroPasswordLogin(t *testing.T) {
	_, err := session.New(&middleware.PasswordLogin{})
	require.Error(t, err)
}
