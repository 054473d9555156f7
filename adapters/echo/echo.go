// Package tideecho adapts tidegate middleware to echo (v4).
//
// Any tidegate middleware becomes an echo.MiddlewareFunc with Wrap. A
// rejected request is answered with exactly the status, headers and body
// net/http would have sent, and the echo chain stops; an accepted one
// continues with the principal in the request's context and under
// PrincipalKey (read it with Principal).
//
//	e := echo.New()
//	e.GET("/whoami", whoami, tideecho.Wrap(middleware.Require(scheme)))
package tideecho

import (
	"net/http"

	"github.com/labstack/echo/v4"
	"github.com/tidegate/tidegate/middleware"
)

// PrincipalKey is the echo context key (c.Get) under which Wrap stores the
// authenticated middleware.Principal.
const PrincipalKey = "tidegate.principal"

// Wrap turns tidegate middleware into echo middleware. The rest of the echo
// chain runs inside the tidegate middleware's next handler; its error is
// returned to echo as usual. Wrap panics if mw is nil: a wiring mistake,
// found when the route is built.
func Wrap(mw func(http.Handler) http.Handler) echo.MiddlewareFunc {
	if mw == nil {
		panic("tidegate: Wrap given a nil middleware")
	}
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			var err error
			inner := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				c.SetRequest(r)
				if p, ok := middleware.FromRequest(r); ok {
					c.Set(PrincipalKey, p)
				} else if c.Get(PrincipalKey) != nil {
					// Optional let the request through anonymously after
					// an earlier Wrap stored a principal: the request has
					// none now, and Principal must not say otherwise.
					c.Set(PrincipalKey, nil)
				}
				err = next(c)
			})
			mw(inner).ServeHTTP(c.Response(), c.Request())
			return err
		}
	}
}

// Principal returns the principal Wrap stored for this request, or else the
// one on the request's context (put there by middleware.NewContext or
// tidegatetest.WithPrincipal, to test a handler without the middleware), as
// the handler's own copy; ok is false when the request was not
// authenticated.
func Principal(c echo.Context) (middleware.Principal, bool) {
	if p, ok := c.Get(PrincipalKey).(middleware.Principal); ok {
		return p.Clone(), true
	}
	if c.Request() == nil {
		return middleware.Principal{}, false
	}
	return middleware.FromRequest(c.Request())
}
