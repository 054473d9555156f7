package basicauth_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/tidegate/tidegate/basicauth"
	"github.com/tidegate/tidegate/internal/withheld/withheldtest"
	"github.com/tidegate/tidegate/middleware"
)

// TestPrintsNoSecret: app tokens, the AppSpec that registers them, the
// registry and the Service print as their names alone under every fmt verb
// and through slog. AppTokens and AppSpec printed their tokens, and the
// registry their digests, field by field.
func TestPrintsNoSecret(t *testing.T) {
	f := newFixture(t, fixtureConfig{})
	spec := basicauth.AppSpec{ID: "a", Name: "A", AppToken: appA, BackendToken: backendA}
	registry, err := basicauth.NewMemoryRegistry(spec)
	require.NoError(t, err)
	fresh := basicauth.NewAppTokens()

	var secrets []string
	for _, token := range []string{appA, backendA, fresh.AppToken, fresh.BackendToken} {
		d := middleware.DigestToken(token)
		secrets = append(secrets, token, fmt.Sprintf("%x", d), strings.Trim(fmt.Sprint(d), "[]"))
	}
	for _, v := range []any{spec, &spec, fresh, &fresh, registry, f.svc} {
		for _, out := range withheldtest.Printings(v) {
			for _, s := range secrets {
				assert.NotContains(t, out, s, "%T printed", v)
			}
		}
	}
	assert.Equal(t, "basicauth.AppTokens{AppToken:<withheld> BackendToken:<withheld>}", fmt.Sprint(fresh))
	assert.Equal(t, `basicauth.AppSpec{ID:"a" Name:"A" AppToken:<withheld> BackendToken:""}`, fmt.Sprint(basicauth.AppSpec{ID: "a", Name: "A", AppToken: appA}))
}
