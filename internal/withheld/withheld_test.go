package withheld_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"reflect"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/tidegate/tidegate/internal/withheld"
	"github.com/tidegate/tidegate/internal/withheld/withheldtest"
)

type vault struct {
	withheld.Contents[vault]

	secret string
	byName map[string]string
}

// TestContentsPrintsTheNameAlone: every fmt verb and both slog handlers
// print a vault and a *vault by the type's name, never a field, and so does
// fmt for a vault held in another value.
func TestContentsPrintsTheNameAlone(t *testing.T) {
	v := &vault{secret: "s3cr3t-value", byName: map[string]string{"login-name": "hash-value"}}
	outputs := append(withheldtest.Printings(v),
		fmt.Sprint([]any{v, *v}), fmt.Sprintf("%+v", struct{ V vault }{*v}))
	for _, out := range outputs {
		for _, secret := range []string{"s3cr3t-value", "login-name", "hash-value"} {
			assert.NotContains(t, out, secret)
		}
	}
	assert.Equal(t, "withheld_test.vault{…}", fmt.Sprintf("%+v", v))
	b, err := json.Marshal(map[string]any{"v": v, "value": *v})
	require.NoError(t, err)
	assert.JSONEq(t, `{"v":"withheld_test.vault{…}","value":"withheld_test.vault{…}"}`, string(b))
	assert.Equal(t, "<nil>", fmt.Sprint((*vault)(nil)))
}

// TestContentsTakesNoSpace: embedding it costs a type no memory.
func TestContentsTakesNoSpace(t *testing.T) {
	assert.Zero(t, reflect.TypeFor[withheld.Contents[vault]]().Size())
}

// TestNilPrintsAsNil: a nil *vault prints as "<nil>" and logs as <nil> or
// null, as it did before it embedded Contents; a LogValue method, which
// slog calls on a nil pointer too, made slog log a panic's stack instead.
func TestNilPrintsAsNil(t *testing.T) {
	var v *vault
	assert.Equal(t, "<nil>", fmt.Sprint(v))
	var text, js bytes.Buffer
	slog.New(slog.NewTextHandler(&text, nil)).Info("state", "v", v)
	slog.New(slog.NewJSONHandler(&js, nil)).Info("state", "v", v)
	assert.Contains(t, text.String(), "v=<nil>")
	assert.Contains(t, js.String(), `"v":null`)
	b, err := json.Marshal(v)
	require.NoError(t, err)
	assert.Equal(t, "null", string(b))
}
