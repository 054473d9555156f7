// Package withheld makes a tidegate type print as its name alone.
//
// Services, stores, caches and limiters hold credentials in flight, token
// digests, login names, password hashes and keys. fmt prints a struct
// field by field (%v, %+v, %#v, and every other verb), and log/slog's text
// handler does the same: a debugging Printf("%+v", svc) or
// slog.Any("cache", c) would write those secrets to a log. Embedding
// Contents in such a type makes fmt, both slog handlers and encoding/json
// print its type's name and nothing of its contents.
package withheld

import (
	"encoding/json"
	"fmt"
	"io"
	"reflect"
)

// Contents, embedded in a struct type T (as withheld.Contents[T]), makes
// every fmt verb, log/slog and encoding/json print a T, or a *T, as
// "pkg.T{…}". It takes no space. Its methods have value receivers, so that
// a dereferenced value is covered as well as a pointer; fmt, slog and
// encoding/json print a nil *T as "<nil>" or null without calling them.
// It has no LogValue method, which slog would call on a nil *T: slog's
// text handler prints with Format, and its JSON handler with MarshalJSON.
type Contents[T any] struct{}

// String returns the type's name, without its contents.
func (Contents[T]) String() string { return reflect.TypeFor[T]().String() + "{…}" }

// Format implements fmt.Formatter so that every verb prints String: fmt
// routes only some verbs to String, and prints the fields for the others.
func (c Contents[T]) Format(f fmt.State, _ rune) { _, _ = io.WriteString(f, c.String()) }

// MarshalJSON encodes String as a JSON string.
func (c Contents[T]) MarshalJSON() ([]byte, error) { return json.Marshal(c.String()) }

// Secret stands for a secret field's value where a type prints its fields:
// "<withheld>", or `""` when the field is empty, so that a printed value
// still tells whether the secret was set.
func Secret(s string) string {
	if s == "" {
		return `""`
	}
	return "<withheld>"
}
