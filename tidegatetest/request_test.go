package tidegatetest_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/tidegate/tidegate/middleware"
	"github.com/tidegate/tidegate/tidegatetest"
)

func TestWithPrincipalReachesTheHandler(t *testing.T) {
	orig := httptest.NewRequest(http.MethodGet, "/me", nil)
	p := middleware.Principal{Subject: "u-mary", Kind: "session", Roles: []string{"user"}}
	req := tidegatetest.WithPrincipal(orig, p)

	rec := httptest.NewRecorder()
	whoami.ServeHTTP(rec, req)
	assert.Equal(t, http.StatusOK, rec.Code)
	assert.Equal(t, "u-mary session [user]", rec.Body.String())

	_, ok := middleware.FromRequest(orig)
	assert.False(t, ok, "the original request must not carry the principal")
}

func TestWithPrincipalCopiesThePrincipal(t *testing.T) {
	p := middleware.Principal{Subject: "u-mary", Roles: []string{"user"}}
	req := tidegatetest.WithPrincipal(httptest.NewRequest(http.MethodGet, "/", nil), p)
	p.Roles[0] = "admin" // the caller changes its own principal afterwards

	got, ok := middleware.FromRequest(req)
	require.True(t, ok)
	assert.Equal(t, []string{"user"}, got.Roles)
}

func TestWithPrincipalBehindGuards(t *testing.T) {
	user := middleware.Principal{Subject: "u-mary", Roles: []string{"user"}, Scopes: []string{"read"}}
	admin := middleware.Principal{Subject: "u-ada", Roles: []string{"user", "admin"}}
	forbidden := `{"error":"forbidden","message":"not allowed"}` + "\n"
	cases := []struct {
		name   string
		guard  func(http.Handler) http.Handler
		p      middleware.Principal
		status int
		body   string
	}{
		{"role held", middleware.RequireRole("admin"), admin, http.StatusOK, "u-ada  [user admin]"},
		{"role missing", middleware.RequireRole("admin"), user, http.StatusForbidden, forbidden},
		{"scope held", middleware.RequireScope("read"), user, http.StatusOK, "u-mary  [user]"},
		{"scope missing", middleware.RequireScope("write"), user, http.StatusForbidden, forbidden},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			req := tidegatetest.WithPrincipal(httptest.NewRequest(http.MethodGet, "/admin", nil), c.p)
			c.guard(whoami).ServeHTTP(rec, req)
			assert.Equal(t, c.status, rec.Code)
			assert.Equal(t, c.body, rec.Body.String())
			assert.Empty(t, rec.Header().Values("WWW-Authenticate"))
		})
	}
}
