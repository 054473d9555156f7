package bearer_test

import (
	"encoding/hex"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/tidegate/tidegate/bearer"
	"github.com/tidegate/tidegate/internal/withheld/withheldtest"
	"github.com/tidegate/tidegate/middleware"
)

// TestPrintsNoSecret: a Service, the Tokens of a login, the refresh store
// and the key set print as their names alone under
// every fmt verb and through slog, never a token, a digest or the HMAC
// secret. Tokens printed its access and refresh tokens field by field.
func TestPrintsNoSecret(t *testing.T) {
	e := newEnv(t)
	account, err := e.accounts.FindByLogin(t.Context(), "mary@example.com")
	require.NoError(t, err)
	tokens, err := e.svc.Issue(t.Context(), account)
	require.NoError(t, err)

	store, err := bearer.NewMemoryRefreshStore()
	require.NoError(t, err)
	digest := middleware.DigestToken(tokens.RefreshToken)
	require.NoError(t, store.Create(t.Context(), bearer.Family{ID: "login-1", Subject: "u-mary",
		ExpiresAt: time.Now().Add(time.Hour)}, digest, time.Now().Add(time.Hour)))

	secrets := []string{tokens.AccessToken, tokens.RefreshToken, hex.EncodeToString(digest[:]),
		strings.Trim(fmt.Sprint(digest), "[]"), hex.EncodeToString(testSecret), strings.Trim(fmt.Sprint(testSecret), "[]")}
	for _, v := range []any{e.svc, tokens, &tokens, store, testKeySet(t)} {
		for _, out := range withheldtest.Printings(v) {
			for _, s := range secrets {
				assert.NotContains(t, out, s, "%T printed", v)
			}
		}
	}
	assert.Equal(t, "bearer.Tokens{AccessToken:<withheld> RefreshToken:<withheld> ExpiresIn:8h0m0s}", fmt.Sprint(tokens))
}
