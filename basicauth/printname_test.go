package basicauth_test

import (
	"bytes"
	"log/slog"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/tidegate/tidegate/basicauth"
	"github.com/tidegate/tidegate/internal/withheld/withheldtest"
)

// TestPrintsItsNameAlone: the Service and the registry print and
// log as their type's name alone, as SECURITY.md says.
func TestPrintsItsNameAlone(t *testing.T) {
	f := newFixture(t, fixtureConfig{})
	registry, err := basicauth.NewMemoryRegistry()
	require.NoError(t, err)
	for name, v := range map[string]any{
		"basicauth.Service":        f.svc,
		"basicauth.MemoryRegistry": registry,
	} {
		withheldtest.AssertPrintsNameAlone(t, name, v)
	}
}

// TestAppSpecLogValue: an AppSpec logs its id and name, its tokens
// withheld.
func TestAppSpecLogValue(t *testing.T) {
	var buf bytes.Buffer
	slog.New(slog.NewTextHandler(&buf, nil)).Info("app", "spec",
		basicauth.AppSpec{ID: "app-1", Name: "Demo", AppToken: appA})
	assert.Contains(t, buf.String(), `spec.id=app-1 spec.name=Demo spec.app_token=<withheld> spec.backend_token="\"\""`)
}
