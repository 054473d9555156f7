// Package nilness tells a missing dependency from a present one. An
// interface that holds a nil pointer or a nil func is not == nil, yet the
// first call through it panics: a store from a constructor whose error was
// ignored (store, _ := redisstore.NewSessionStore(c)) is exactly that.
// Constructors and options refuse both, so that nothing panics at request
// time.
package nilness

import "reflect"

// Is reports whether v is nil, or holds a nil pointer or a nil func.
func Is(v any) bool {
	if v == nil {
		return true
	}
	switch rv := reflect.ValueOf(v); rv.Kind() {
	case reflect.Pointer, reflect.Func:
		return rv.IsNil()
	default:
		return false
	}
}
