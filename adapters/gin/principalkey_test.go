package tidegin_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/gin-gonic/gin"
	"github.com/stretchr/testify/assert"
	tidegin "github.com/tidegate/tidegate/adapters/gin"
	"github.com/tidegate/tidegate/middleware"
)

// TestPrincipalKeyAbsentAfterOptional: after a later Optional lets the
// request through anonymously, c.Get(PrincipalKey) reports no principal,
// as tidegin.Principal and middleware.FromRequest do. It reported exists
// (with a nil value), so a handler checking the key the usual gin way took
// an anonymous request for an authenticated one.
func TestPrincipalKeyAbsentAfterOptional(t *testing.T) {
	first := newScheme(t)
	second := newSessionScheme(t)

	r := gin.New()
	r.GET("/", tidegin.Wrap(middleware.Require(first)), tidegin.Wrap(middleware.Optional(second)),
		func(c *gin.Context) {
			_, viaPrincipal := tidegin.Principal(c)
			_, viaRequest := middleware.FromRequest(c.Request)
			v, viaKey := c.Get(tidegin.PrincipalKey)
			assert.False(t, viaPrincipal, "tidegin.Principal")
			assert.False(t, viaRequest, "middleware.FromRequest")
			assert.False(t, viaKey, "c.Get(PrincipalKey) exists for an anonymous request (value %#v)", v)
			if viaKey {
				c.String(http.StatusOK, "authenticated")
				return
			}
			c.String(http.StatusOK, "anonymous")
		})
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	req.Header.Set("Authorization", "Bearer good")
	rec := httptest.NewRecorder()
	r.ServeHTTP(rec, req)
	assert.Equal(t, "anonymous", rec.Body.String())
}
