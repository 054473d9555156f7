// Package cleanpath keeps the endpoint handlers of tidegate's kinds from
// redirecting outside their mount point.
//
// Each kind serves its endpoints with an http.ServeMux, which answers a
// path that is not clean ("//me", "/a/../me", or "" under
// http.StripPrefix) with a redirect to the clean path. Mounted behind
// http.StripPrefix by a router that does not clean paths itself (chi and
// gin do not; http.ServeMux at the top does), that redirect drops the
// prefix: GET /0.4//me was sent to /me. None of the kinds' routes is
// reached through such a path, so it is answered 404 instead.
package cleanpath

import (
	"net/http"
	"path"
)

// Only returns a handler that passes requests with a clean path to next and
// answers the others 404.
func Only(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !Clean(r.URL.Path) {
			http.NotFound(w, r)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// Clean reports whether p is an absolute path that path.Clean leaves as it
// is (the root, or segments without "", "." or "..").
func Clean(p string) bool {
	return p != "" && p[0] == '/' && path.Clean(p) == p
}
