package tidegatetest

import (
	"net/http"

	"github.com/tidegate/tidegate/middleware"
)

// WithPrincipal returns a shallow copy of r whose context carries p, as if
// tidegate's middleware had authenticated the request (see
// middleware.NewContext). middleware.FromRequest then returns a copy of p,
// and RequireRole and RequireScope judge p, answering failures with the
// default JSON renderer and no challenge. r itself is not changed.
func WithPrincipal(r *http.Request, p middleware.Principal) *http.Request {
	return r.WithContext(middleware.NewContext(r.Context(), p))
}
