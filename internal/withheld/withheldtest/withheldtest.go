// Package withheldtest checks, for tests, that values print without their
// secrets (see package withheld).
package withheldtest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"reflect"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Printings returns v as it can end up in a log, for tests that check a
// secret never does: under every fmt verb, as v and (for a pointer) as the
// value it points to, and as log/slog's text and JSON handlers write it.
func Printings(v any) []string {
	values := []any{v}
	if rv := reflect.ValueOf(v); rv.Kind() == reflect.Pointer && !rv.IsNil() {
		values = append(values, rv.Elem().Interface())
	}
	var out []string
	for _, x := range values {
		for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%d"} {
			out = append(out, fmt.Sprintf(verb, x))
		}
		var text, js bytes.Buffer
		slog.New(slog.NewTextHandler(&text, nil)).Info("state", "value", x)
		slog.New(slog.NewJSONHandler(&js, nil)).Info("state", "value", x)
		out = append(out, text.String(), js.String())
	}
	return out
}

// AssertPrintsNameAlone fails t unless v prints as name + "{…}" through
// fmt's %+v, log/slog's text handler and encoding/json: what a type
// embedding withheld.Contents prints.
func AssertPrintsNameAlone(t testing.TB, name string, v any) {
	t.Helper()
	want := name + "{…}"
	assert.Equal(t, want, fmt.Sprintf("%+v", v))
	var text bytes.Buffer
	slog.New(slog.NewTextHandler(&text, nil)).Info("state", "v", v)
	assert.Contains(t, text.String(), "v="+want+"\n")
	b, err := json.Marshal(v)
	require.NoError(t, err)
	assert.JSONEq(t, fmt.Sprintf("%q", want), string(b))
}
