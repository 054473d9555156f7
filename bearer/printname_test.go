package bearer_test

import (
	"bytes"
	"log/slog"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/tidegate/tidegate/bearer"
	"github.com/tidegate/tidegate/internal/withheld/withheldtest"
)

// TestPrintsItsNameAlone: SECURITY.md says every service, store and
// key set prints and logs as its type's name alone, through fmt, both slog
// handlers and encoding/json.
func TestPrintsItsNameAlone(t *testing.T) {
	e := newEnv(t)
	revocations, err := bearer.NewMemoryRevocationList()
	require.NoError(t, err)
	refresh, err := bearer.NewMemoryRefreshStore()
	require.NoError(t, err)
	jwks, err := bearer.NewJWKSVerifier("http://127.0.0.1:1/.well-known/jwks.json")
	require.NoError(t, err)
	t.Cleanup(func() { _ = jwks.Close() })
	for name, v := range map[string]any{
		"bearer.Service":              e.svc,
		"bearer.KeySet":               testKeySet(t),
		"bearer.MemoryRevocationList": revocations,
		"bearer.MemoryRefreshStore":   refresh,
		"bearer.JWKSVerifier":         jwks,
	} {
		withheldtest.AssertPrintsNameAlone(t, name, v)
	}
}

// TestTokensLogValue: Tokens log their lifetime, the tokens withheld.
func TestTokensLogValue(t *testing.T) {
	var buf bytes.Buffer
	slog.New(slog.NewTextHandler(&buf, nil)).Info("login", "tokens",
		bearer.Tokens{AccessToken: "a", ExpiresIn: 8 * time.Hour})
	assert.Contains(t, buf.String(), `tokens.access_token=<withheld> tokens.refresh_token="\"\"" tokens.expires_in=8h0m0s`)
}
