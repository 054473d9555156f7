package tidegin_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"

	"github.com/gin-gonic/gin"
	tidegin "github.com/tidegate/tidegate/adapters/gin"
	"github.com/tidegate/tidegate/middleware"
)

func ExampleWrap() {
	gin.SetMode(gin.ReleaseMode)
	extract, _ := middleware.NewAuthorizationExtractor("bearer", "Bearer")
	verify := middleware.VerifierFunc(func(_ context.Context, c middleware.Credential) (middleware.Principal, error) {
		if c.Token == "t0ken" {
			return middleware.Principal{Subject: "mary"}, nil
		}
		return middleware.Principal{}, middleware.Invalid("unknown token")
	})
	scheme, _ := middleware.NewScheme("bearer", extract, verify,
		middleware.Challenge{Scheme: "Bearer", Realm: "example", RFC6750: true},
		middleware.WithLogger(slog.New(slog.DiscardHandler)))

	r := gin.New()
	r.GET("/whoami", tidegin.Wrap(middleware.Require(scheme)), func(c *gin.Context) {
		p, _ := tidegin.Principal(c)
		c.String(http.StatusOK, "hello %s", p.Subject)
	})

	for _, auth := range []string{"Bearer t0ken", "Bearer wrong"} {
		req := httptest.NewRequest(http.MethodGet, "/whoami", nil)
		req.Header.Set("Authorization", auth)
		rec := httptest.NewRecorder()
		r.ServeHTTP(rec, req)
		fmt.Println(rec.Code, rec.Header().Get("WWW-Authenticate"), rec.Body.String())
	}
	// Output:
	// 200  hello mary
	// 401 Bearer realm="example", error="invalid_token" {"error":"unauthorized","message":"valid credentials are required"}
}
