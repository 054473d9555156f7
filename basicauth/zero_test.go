package basicauth_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"
	"github.com/tidegate/tidegate/basicauth"
	"github.com/tidegate/tidegate/middleware"
)

// TestZeroRegistryIsRefused: a registry its constructor did not make (a
// zero value) answers an error instead of panicking.
func TestZeroRegistryIsRefused(t *testing.T) {
	r := &basicauth.MemoryRegistry{}
	err := r.Register(context.Background(), basicauth.AppSpec{Name: "demo", AppToken: "0123456789abcdef0123456789abcdef"})
	require.ErrorIs(t, err, middleware.ErrInternal)
}
