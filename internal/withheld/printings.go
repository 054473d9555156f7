package withheld

import (
	"bytes"
	"fmt"
	"log/slog"
	"reflect"
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
