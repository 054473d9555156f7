package tideecho_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	tideecho "github.com/tidegate/tidegate/adapters/echo"
	"github.com/tidegate/tidegate/middleware"
)

func newScheme(t *testing.T) *middleware.Scheme {
	t.Helper()
	ex, err := middleware.NewAuthorizationExtractor("bearer", "Bearer")
	require.NoError(t, err)
	v := middleware.VerifierFunc(func(_ context.Context, c middleware.Credential) (middleware.Principal, error) {
		switch c.Token {
		case "good":
			return middleware.Principal{Subject: "u1", Roles: []string{"admin"}}, nil
		case "plain":
			return middleware.Principal{Subject: "u2"}, nil
		case "down":
			return middleware.Principal{}, errors.New("connection refused")
		}
		return middleware.Principal{}, middleware.Invalid("unknown")
	})
	cache, err := middleware.NewCache(v, time.Minute)
	require.NoError(t, err)
	t.Cleanup(func() { _ = cache.Close() })
	s, err := middleware.NewScheme("bearer", ex, cache,
		middleware.Challenge{Scheme: "Bearer", Realm: "test", RFC6750: true},
		middleware.WithLogger(discard()))
	require.NoError(t, err)
	return s
}

// TestWrapAnswersExactlyLikeNetHTTP compares status, headers and body of the
// same middleware stack under net/http and under echo.
func TestWrapAnswersExactlyLikeNetHTTP(t *testing.T) {
	s := newScheme(t)
	stacks := map[string][]func(http.Handler) http.Handler{
		"require":       {middleware.Require(s)},
		"optional":      {middleware.Optional(s)},
		"require+admin": {middleware.Require(s), middleware.RequireRole("admin")},
	}
	cases := []struct{ name, authorization string }{
		{"missing", ""}, {"valid", "Bearer good"}, {"valid without role", "Bearer plain"},
		{"invalid", "Bearer nope"}, {"malformed", "Bearer a b"}, {"backend down", "Bearer down"},
	}
	final := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		subject, _ := middleware.SubjectFromContext(r.Context())
		w.Header().Set("X-Subject", subject)
		w.WriteHeader(http.StatusTeapot)
		_, _ = w.Write([]byte("reached " + subject))
	})
	for stackName, stack := range stacks {
		for _, tc := range cases {
			t.Run(stackName+"/"+tc.name, func(t *testing.T) {
				var h http.Handler = final
				for i := len(stack) - 1; i >= 0; i-- {
					h = stack[i](h)
				}
				want := serve(h, tc.authorization)

				e := echo.New()
				var mws []echo.MiddlewareFunc
				for _, mw := range stack {
					mws = append(mws, tideecho.Wrap(mw))
				}
				e.GET("/", echo.WrapHandler(final), mws...)
				got := serve(e, tc.authorization)

				assert.Equal(t, want.Code, got.Code)
				assert.Equal(t, want.Body.String(), got.Body.String())
				assert.Equal(t, want.Header(), got.Header())
			})
		}
	}
}

func TestPrincipalReachesEchoHandlers(t *testing.T) {
	s := newScheme(t)
	e := echo.New()
	e.GET("/", func(c echo.Context) error {
		p, ok := tideecho.Principal(c)
		require.True(t, ok)
		fromCtx, ok := middleware.FromContext(c.Request().Context())
		require.True(t, ok)
		assert.Equal(t, "u1", p.Subject)
		assert.Equal(t, "u1", fromCtx.Subject)
		return c.String(http.StatusOK, "ok")
	}, tideecho.Wrap(middleware.Require(s)))
	assert.Equal(t, http.StatusOK, serve(e, "Bearer good").Code)
}

// TestPrincipalOfAHandlerTestedWithoutTheMiddleware: a handler tested
// with a principal put on its request (middleware.NewContext, as
// tidegatetest.WithPrincipal does) reads it through the same getter as
// behind Wrap.
func TestPrincipalOfAHandlerTestedWithoutTheMiddleware(t *testing.T) {
	e := echo.New()
	e.GET("/", func(c echo.Context) error {
		p, ok := tideecho.Principal(c)
		return c.String(http.StatusOK, fmt.Sprintf("%v %s", ok, p.Subject))
	})
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	req = req.WithContext(middleware.NewContext(req.Context(), middleware.Principal{Subject: "u1"}))
	rec := httptest.NewRecorder()
	e.ServeHTTP(rec, req)
	assert.Equal(t, "true u1", rec.Body.String())
}

func TestHandlerErrorReachesEcho(t *testing.T) {
	s := newScheme(t)
	e := echo.New()
	e.GET("/", func(c echo.Context) error {
		return echo.NewHTTPError(http.StatusConflict, "taken")
	}, tideecho.Wrap(middleware.Require(s)))
	assert.Equal(t, http.StatusConflict, serve(e, "Bearer good").Code)
}

func serve(h http.Handler, authorization string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	if authorization != "" {
		req.Header.Set("Authorization", authorization)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

// TestPrincipalAgreesWithTheRequestAfterOptional: a later Optional that
// lets the request through anonymously leaves no principal on the request;
// Principal used to return the one an earlier Wrap had stored in the echo
// context, while middleware.FromRequest and RequireRole saw none.
func TestPrincipalAgreesWithTheRequestAfterOptional(t *testing.T) {
	first := newScheme(t)
	ex, err := middleware.NewHeaderExtractor("session", "X-Session")
	require.NoError(t, err)
	second, err := middleware.NewScheme("session", ex, middleware.VerifierFunc(
		func(context.Context, middleware.Credential) (middleware.Principal, error) {
			return middleware.Principal{Subject: "u9"}, nil
		}), middleware.Challenge{Scheme: "Session", Realm: "test"})
	require.NoError(t, err)
	e := echo.New()
	e.GET("/", func(c echo.Context) error {
		p, ok := tideecho.Principal(c)
		_, onRequest := middleware.FromRequest(c.Request())
		assert.Equal(t, onRequest, ok, "Principal and FromRequest agree")
		return c.String(http.StatusOK, p.Subject)
	}, tideecho.Wrap(middleware.Require(first)), tideecho.Wrap(middleware.Optional(second)))
	rec := serve(e, "Bearer good")
	assert.Equal(t, http.StatusOK, rec.Code)
	assert.Empty(t, rec.Body.String(), "anonymous after Optional")
}

// TestWrapRefusesNilMiddleware: Wrap(nil) is a wiring mistake, refused when
// the route is built rather than at its first request.
func TestWrapRefusesNilMiddleware(t *testing.T) {
	require.Panics(t, func() { tideecho.Wrap(nil) })
}
