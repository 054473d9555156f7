// Package withheld makes a tidegate type print as its name alone.
//
// Services, stores, caches and limiters hold credentials in flight, token
// digests, login names, password hashes and keys. fmt prints a struct
// field by field (%v, %+v, %#v, and every other verb), and so does
// log/slog's text handler for a value it has no LogValuer for: a debugging
// Printf("%+v", svc) or slog.Any("cache", c) would write those secrets to a
// log. Embedding Contents in such a type gives it String, GoString, Format
// and LogValue methods that print its type's name and nothing of its
// contents.
package withheld

import (
	"fmt"
	"io"
	"log/slog"
	"reflect"
)

// Contents, embedded in a struct type T (as withheld.Contents[T]), makes
// every fmt verb and log/slog print a T, or a *T, as "pkg.T{…}". It takes
// no space. Its methods have value receivers, so that a dereferenced
// value is covered as well as a pointer; fmt prints a nil *T as "<nil>".
type Contents[T any] struct{}

// String returns the type's name, without its contents.
func (Contents[T]) String() string { return reflect.TypeFor[T]().String() + "{…}" }

// GoString is String, so that %#v is as safe as %v.
func (c Contents[T]) GoString() string { return c.String() }

// Format implements fmt.Formatter so that every verb prints String: fmt
// routes only some verbs to String, and prints the fields for the others.
func (c Contents[T]) Format(f fmt.State, _ rune) { _, _ = io.WriteString(f, c.String()) }

// LogValue implements slog.LogValuer with String.
func (c Contents[T]) LogValue() slog.Value { return slog.StringValue(c.String()) }
