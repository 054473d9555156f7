package tidegatetest_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/tidegate/tidegate/internal/withheld/withheldtest"
	"github.com/tidegate/tidegate/middleware"
	"github.com/tidegate/tidegate/tidegatetest"
)

// TestStaticVerifierPrintsNoSecret: a StaticVerifier prints as its name
// alone. It printed its table field by field, every token and secret in
// its keys.
func TestStaticVerifierPrintsNoSecret(t *testing.T) {
	const token, secret = "tok-9f8e7d6c5b4a", "s3cret-pass-word"
	v, err := tidegatetest.NewStaticVerifier(tidegatetest.Pair{
		Credential: middleware.Credential{Kind: "basic", Token: token, Secret: secret},
		Principal:  middleware.Principal{Subject: "u-1"},
	})
	require.NoError(t, err)
	for _, out := range withheldtest.Printings(v) {
		assert.NotContains(t, out, secret)
		assert.NotContains(t, out, token)
	}
}
