// Package tidegin adapts tidegate middleware to gin.
//
// Any tidegate middleware, such as middleware.Require(scheme), becomes a
// gin.HandlerFunc with Wrap. A request the middleware rejects is aborted
// with exactly the status, headers and body net/http would have sent; a
// request it accepts continues down the gin chain with the principal in the
// request's context and under PrincipalKey (read it with Principal).
//
//	r := gin.New()
//	r.GET("/whoami", tidegin.Wrap(middleware.Require(scheme)), func(c *gin.Context) {
//		p, _ := tidegin.Principal(c)
//		c.JSON(http.StatusOK, gin.H{"subject": p.Subject})
//	})
//
// Mind gin's own logging: gin.Recovery in debug mode (gin's default) logs
// every request header of a panicking handler and hides only
// Authorization, so an X-Tidepool-Session-Token or a server secret would
// reach the log. Run gin in release mode (gin.SetMode(gin.ReleaseMode)) or
// recover with gin.CustomRecovery.
package tidegin

import (
	"net/http"

	"github.com/gin-gonic/gin"
	"github.com/tidegate/tidegate/middleware"
)

// PrincipalKey is the gin context key (c.Get) under which Wrap stores the
// authenticated middleware.Principal.
const PrincipalKey = "tidegate.principal"

// Wrap turns tidegate middleware into a gin handler. The rest of the gin
// chain runs inside the tidegate middleware's next handler, so anything the
// middleware attached to the request (the principal in its context) is what
// later gin handlers see in c.Request. Wrap panics if mw is nil: a wiring
// mistake, found when the route is built.
func Wrap(mw func(http.Handler) http.Handler) gin.HandlerFunc {
	if mw == nil {
		panic("tidegate: Wrap given a nil middleware")
	}
	return func(c *gin.Context) {
		passed := false
		next := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			passed = true
			c.Request = r
			if p, ok := middleware.FromRequest(r); ok {
				c.Set(PrincipalKey, p)
			} else if _, stored := c.Get(PrincipalKey); stored {
				// Optional let the request through anonymously after an
				// earlier Wrap stored a principal: the request has none
				// now, and Principal must not say otherwise.
				c.Delete(PrincipalKey) // gone, so that c.Get reports no principal either
			}
			c.Next()
		})
		mw(next).ServeHTTP(c.Writer, c.Request)
		if !passed {
			c.Abort()
		}
	}
}

// Principal returns the principal Wrap stored for this request, or else the
// one on the request's context (put there by middleware.NewContext or
// tidegatetest.WithPrincipal, to test a handler without the middleware);
// ok is false when the request was not authenticated (or was let through
// anonymously by middleware.Optional). The principal is the handler's own
// copy.
func Principal(c *gin.Context) (middleware.Principal, bool) {
	if v, ok := c.Get(PrincipalKey); ok {
		if p, ok := v.(middleware.Principal); ok {
			return p.Clone(), true
		}
	}
	if c.Request == nil {
		return middleware.Principal{}, false
	}
	return middleware.FromRequest(c.Request)
}
