package tidegin_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	tidegin "github.com/tidegate/tidegate/adapters/gin"
	"github.com/tidegate/tidegate/middleware"
)

func init() { gin.SetMode(gin.TestMode) }

// newScheme returns a bearer-style scheme accepting "good" (user u1, role
// admin) and "plain" (user u2); "down" makes the verifier fail as a backend.
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

// TestWrapAnswersExactlyLikeNetHTTP runs the same middleware stack under
// net/http and under gin and compares status, headers and body byte for byte.
func TestWrapAnswersExactlyLikeNetHTTP(t *testing.T) {
	s := newScheme(t)
	optional := middleware.Optional(s)
	stacks := map[string][]func(http.Handler) http.Handler{
		"require":       {middleware.Require(s)},
		"optional":      {optional},
		"require+admin": {middleware.Require(s), middleware.RequireRole("admin")},
	}
	cases := []struct {
		name, authorization string
	}{
		{"missing", ""},
		{"valid", "Bearer good"},
		{"valid without role", "Bearer plain"},
		{"invalid", "Bearer nope"},
		{"malformed", "Bearer a b"},
		{"backend down", "Bearer down"},
		{"other scheme", "Basic dTpw"},
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

				engine := gin.New()
				handlers := []gin.HandlerFunc{}
				for _, mw := range stack {
					handlers = append(handlers, tidegin.Wrap(mw))
				}
				handlers = append(handlers, gin.WrapH(final))
				engine.GET("/", handlers...)
				got := serve(engine, tc.authorization)

				assert.Equal(t, want.Code, got.Code)
				assert.Equal(t, want.Body.String(), got.Body.String())
				assert.Equal(t, want.Header(), got.Header())
			})
		}
	}
}

func TestPrincipalReachesGinHandlers(t *testing.T) {
	s := newScheme(t)
	engine := gin.New()
	engine.GET("/", tidegin.Wrap(middleware.Require(s)), func(c *gin.Context) {
		p, ok := tidegin.Principal(c)
		require.True(t, ok)
		raw, exists := c.Get(tidegin.PrincipalKey)
		require.True(t, exists)
		fromCtx, ok := middleware.FromContext(c.Request.Context())
		require.True(t, ok)
		assert.Equal(t, "u1", p.Subject)
		assert.Equal(t, "u1", raw.(middleware.Principal).Subject)
		assert.Equal(t, "u1", fromCtx.Subject)
		p.Roles[0] = "changed by a handler"
		again, _ := tidegin.Principal(c)
		assert.Equal(t, []string{"admin"}, again.Roles, "the getter hands out copies")
		c.String(http.StatusOK, "ok")
	})
	rec := serve(engine, "Bearer good")
	assert.Equal(t, http.StatusOK, rec.Code)
}

// TestPrincipalOfAHandlerTestedWithoutTheMiddleware: a handler tested
// with a principal put on its request (middleware.NewContext, as
// tidegatetest.WithPrincipal does) reads it through the same getter as
// behind Wrap.
func TestPrincipalOfAHandlerTestedWithoutTheMiddleware(t *testing.T) {
	engine := gin.New()
	engine.GET("/", func(c *gin.Context) {
		p, ok := tidegin.Principal(c)
		c.String(http.StatusOK, "%v %s", ok, p.Subject)
	})
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	req = req.WithContext(middleware.NewContext(req.Context(), middleware.Principal{Subject: "u1"}))
	rec := httptest.NewRecorder()
	engine.ServeHTTP(rec, req)
	assert.Equal(t, "true u1", rec.Body.String())
}

func TestRejectedRequestStopsTheChain(t *testing.T) {
	s := newScheme(t)
	engine := gin.New()
	reached := false
	engine.GET("/", tidegin.Wrap(middleware.Require(s)), func(c *gin.Context) { reached = true })
	rec := serve(engine, "Bearer nope")
	assert.Equal(t, http.StatusUnauthorized, rec.Code)
	assert.False(t, reached)
}

func TestOptionalAnonymousHasNoPrincipal(t *testing.T) {
	s := newScheme(t)
	engine := gin.New()
	engine.GET("/", tidegin.Wrap(middleware.Optional(s)), func(c *gin.Context) {
		_, ok := tidegin.Principal(c)
		c.String(http.StatusOK, "%v", ok)
	})
	rec := serve(engine, "")
	assert.Equal(t, http.StatusOK, rec.Code)
	assert.Equal(t, "false", rec.Body.String())
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

// newSessionScheme is a second scheme, of another kind than newScheme's,
// that accepts any X-Session header as user u9.
func newSessionScheme(t *testing.T) *middleware.Scheme {
	t.Helper()
	ex, err := middleware.NewHeaderExtractor("session", "X-Session")
	require.NoError(t, err)
	s, err := middleware.NewScheme("session", ex, middleware.VerifierFunc(
		func(context.Context, middleware.Credential) (middleware.Principal, error) {
			return middleware.Principal{Subject: "u9"}, nil
		}), middleware.Challenge{Scheme: "Session", Realm: "test"}, middleware.WithLogger(discard()))
	require.NoError(t, err)
	return s
}

// TestPrincipalAgreesWithTheRequestAfterOptional: a later Optional that
// lets the request through anonymously leaves no principal on the request;
// Principal used to return the one an earlier Wrap had stored in the gin
// context, while middleware.FromRequest and RequireRole saw none.
func TestPrincipalAgreesWithTheRequestAfterOptional(t *testing.T) {
	first := newScheme(t)
	second := newSessionScheme(t)
	r := gin.New()
	r.GET("/", tidegin.Wrap(middleware.Require(first)), tidegin.Wrap(middleware.Optional(second)), func(c *gin.Context) {
		p, ok := tidegin.Principal(c)
		_, onRequest := middleware.FromRequest(c.Request)
		assert.Equal(t, onRequest, ok, "Principal and FromRequest agree")
		c.String(http.StatusOK, p.Subject)
	})
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	req.Header.Set("Authorization", "Bearer good")
	rec := httptest.NewRecorder()
	r.ServeHTTP(rec, req)
	assert.Equal(t, http.StatusOK, rec.Code)
	assert.Empty(t, rec.Body.String(), "anonymous after Optional")
}

// TestWrapRefusesNilMiddleware: Wrap(nil) is a wiring mistake, refused when
// the route is built rather than at its first request.
func TestWrapRefusesNilMiddleware(t *testing.T) {
	require.Panics(t, func() { tidegin.Wrap(nil) })
}
