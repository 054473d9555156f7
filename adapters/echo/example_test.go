package tideecho_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"

	"github.com/labstack/echo/v4"
	tideecho "github.com/tidegate/tidegate/adapters/echo"
	"github.com/tidegate/tidegate/middleware"
)

func ExampleWrap() {
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

	e := echo.New()
	e.GET("/whoami", func(c echo.Context) error {
		p, _ := tideecho.Principal(c)
		return c.String(http.StatusOK, "hello "+p.Subject)
	}, tideecho.Wrap(middleware.Require(scheme)))

	for _, auth := range []string{"Bearer t0ken", "Bearer wrong"} {
		req := httptest.NewRequest(http.MethodGet, "/whoami", nil)
		req.Header.Set("Authorization", auth)
		rec := httptest.NewRecorder()
		e.ServeHTTP(rec, req)
		fmt.Println(rec.Code, rec.Header().Get("WWW-Authenticate"), rec.Body.String())
	}
	// Output:
	// 200  hello mary
	// 401 Bearer realm="example", error="invalid_token" {"error":"unauthorized","message":"valid credentials are required"}
}
