// Package contain keeps a panic in the kinds' endpoints from reaching
// net/http. The endpoints call the application's code (its accounts and
// stores); net/http answers a panic there by dropping the connection
// unanswered and logging the panic's value, which may quote a credential,
// a password or a user id.
package contain

import (
	"net/http"

	"github.com/tidegate/tidegate/internal/events"
	"github.com/tidegate/tidegate/middleware"
)

// Endpoints returns h with its panics contained: the request gets the
// generic 500 in the scheme's body (Scheme.Reject), and its one endpoint
// event (events.Log, at Error, with the Observer told of it) names the
// panic's type and the stack, never its value (middleware.Panicked). It
// has no endpoint attribute: which endpoint panicked is in the stack.
// A panic with http.ErrAbortHandler, an abort on purpose, goes on to
// net/http.
//
// h must write its response last, as the kinds' endpoints do (each renders
// one body at its end): a 500 cannot follow a response already begun.
// Knowing whether one has begun would mean wrapping the ResponseWriter, and
// http.MaxBytesReader then no longer finds net/http's own writer, which it
// tells to close the connection after an oversized body (the endpoints read
// their bodies through it).
func Endpoints(h http.Handler, scheme *middleware.Scheme) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			v := recover()
			if v == nil {
				return
			}
			if v == http.ErrAbortHandler {
				panic(v)
			}
			e := middleware.Panicked("endpoint", v)
			events.Log(r.Context(), scheme, events.Event{Err: e})
			scheme.Reject(w, r, e)
		}()
		h.ServeHTTP(w, r)
	})
}
