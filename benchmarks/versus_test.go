package benchmarks

import (
	"context"
	"crypto/subtle"
	"net/http"
	"testing"
	"time"

	ginjwt "github.com/appleboy/gin-jwt/v2"
	jwtmiddleware "github.com/auth0/go-jwt-middleware/v2"
	"github.com/auth0/go-jwt-middleware/v2/validator"
	"github.com/gin-gonic/gin"
	"github.com/go-chi/jwtauth/v5"
	echojwt "github.com/labstack/echo-jwt/v4"
	"github.com/labstack/echo/v4"
	echomw "github.com/labstack/echo/v4/middleware"
	"github.com/lestrrat-go/jwx/v2/jwt"
)

// The peers do the same job as tidegate's bearer scheme, each configured as
// its documentation recommends: HS256 only, the same 32-byte random secret,
// iss and aud checked where the peer has an option for them, the default
// claims parsing, the default error response. They verify the very tokens
// tidegate's HS256 service issues (the same bytes: iat, exp, iss, aud, sub,
// jti, sid, roles, a kid), so every JWT path parses the same input. A
// framework-bound peer runs behind its framework's router and ServeHTTP (the
// framework's own cost is BenchmarkPeerEchoBaseline / BenchmarkPeerGinBaseline).
// Peers keep no cache: each request is a full verification, so their valid
// path is compared with tidegate's first sight and its cache hit.
//
// Versions: auth0/go-jwt-middleware v2.3.1 (no v3 is served), go-chi/jwtauth
// v5.3.3, appleboy/gin-jwt v2.10.3 (no v3 is served) on gin v1.12.0, the
// latest the Go module proxy served when they were chosen; labstack/echo-jwt
// v4.4.0 on echo v4.16.0, where echo's own BasicAuth is measured too: echo
// v5 exists, but echo-jwt has no v5, and one echo serves all three echo
// peers.

// leeway is the clock skew every JWT checker allows (tidegate's default).
const leeway = 30 * time.Second

// peerTokens returns the valid and the forged requests every JWT peer gets.
func peerValid(b *testing.B) []*http.Request {
	return requests("Authorization", getWorld(b).hsTokens, false)
}

func peerForged(b *testing.B) []*http.Request {
	return requests("Authorization", forged(b, getWorld(b).hsTokens[:invalidCount]), false)
}

// auth0Handler: github.com/auth0/go-jwt-middleware/v2 with its validator
// (go-jose), HS256, issuer and audience required.
func auth0Handler(tb testing.TB, secret []byte) http.Handler {
	keyFunc := func(context.Context) (any, error) { return secret, nil }
	v, err := validator.New(keyFunc, validator.HS256, issuer, []string{audience}, validator.WithAllowedClockSkew(leeway))
	if err != nil {
		tb.Fatal(err)
	}
	return jwtmiddleware.New(v.ValidateToken).CheckJWT(ok)
}

// jwtauthHandler: github.com/go-chi/jwtauth/v5 (lestrrat-go/jwx), its
// Verifier and Authenticator as its README chains them, with iss, aud and
// skew validation.
func jwtauthHandler(secret []byte) http.Handler {
	ta := jwtauth.New("HS256", secret, nil, jwt.WithIssuer(issuer), jwt.WithAudience(audience), jwt.WithAcceptableSkew(leeway))
	return jwtauth.Verifier(ta)(jwtauth.Authenticator(ta)(ok))
}

func echoOK(c echo.Context) error { return c.NoContent(http.StatusOK) }

// echoJWTHandler: github.com/labstack/echo-jwt/v4 on echo, HS256 with its
// default parsing (jwt.MapClaims; echo-jwt has no iss or aud option).
func echoJWTHandler(secret []byte) http.Handler {
	e := echo.New()
	e.GET("/whoami", echoOK, echojwt.WithConfig(echojwt.Config{SigningKey: secret, SigningMethod: echojwt.AlgorithmHS256}))
	return e
}

// ginJWTHandler: github.com/appleboy/gin-jwt/v2 on gin (release mode, no
// logger), HS256, identity from "sub". gin-jwt checks exp; it has no iss
// or aud option.
func ginJWTHandler(tb testing.TB, secret []byte) http.Handler {
	gin.SetMode(gin.ReleaseMode)
	mw, err := ginjwt.New(&ginjwt.GinJWTMiddleware{
		Realm: "bench", Key: secret, SigningAlgorithm: "HS256", IdentityKey: "sub",
		Authenticator: func(*gin.Context) (any, error) { return nil, ginjwt.ErrFailedAuthentication }, // no login here
	})
	if err != nil {
		tb.Fatal(err)
	}
	r := gin.New()
	r.GET("/whoami", mw.MiddlewareFunc(), func(c *gin.Context) { c.Status(http.StatusOK) })
	return r
}

// echoBasicHandler: echo's middleware.BasicAuth with a constant-time check
// of one app token and session token pair, as its documentation advises.
func echoBasicHandler(user, pass string) http.Handler {
	e := echo.New()
	e.GET("/whoami", echoOK, echomw.BasicAuth(func(u, p string, _ echo.Context) (bool, error) {
		okUser := subtle.ConstantTimeCompare([]byte(u), []byte(user))
		okPass := subtle.ConstantTimeCompare([]byte(p), []byte(pass))
		return okUser&okPass == 1, nil
	}))
	return e
}

// BenchmarkPeerAuth0Valid: auth0/go-jwt-middleware v2, a valid HS256 token.
func BenchmarkPeerAuth0Valid(b *testing.B) {
	run(b, auth0Handler(b, getWorld(b).hsSecret), http.StatusOK, peerValid(b)...)
}

// BenchmarkPeerAuth0Invalid: auth0/go-jwt-middleware v2, a forged HS256 token.
func BenchmarkPeerAuth0Invalid(b *testing.B) {
	run(b, auth0Handler(b, getWorld(b).hsSecret), http.StatusUnauthorized, peerForged(b)...)
}

// BenchmarkPeerJWTAuthValid: go-chi/jwtauth v5, a valid HS256 token.
func BenchmarkPeerJWTAuthValid(b *testing.B) {
	run(b, jwtauthHandler(getWorld(b).hsSecret), http.StatusOK, peerValid(b)...)
}

// BenchmarkPeerJWTAuthInvalid: go-chi/jwtauth v5, a forged HS256 token.
func BenchmarkPeerJWTAuthInvalid(b *testing.B) {
	run(b, jwtauthHandler(getWorld(b).hsSecret), http.StatusUnauthorized, peerForged(b)...)
}

// BenchmarkPeerEchoJWTValid: labstack/echo-jwt v4 on echo, a valid HS256 token.
func BenchmarkPeerEchoJWTValid(b *testing.B) {
	run(b, echoJWTHandler(getWorld(b).hsSecret), http.StatusOK, peerValid(b)...)
}

// BenchmarkPeerEchoJWTInvalid: labstack/echo-jwt v4 on echo, a forged HS256 token.
func BenchmarkPeerEchoJWTInvalid(b *testing.B) {
	run(b, echoJWTHandler(getWorld(b).hsSecret), http.StatusUnauthorized, peerForged(b)...)
}

// BenchmarkPeerGinJWTValid: appleboy/gin-jwt v2 on gin, a valid HS256 token.
func BenchmarkPeerGinJWTValid(b *testing.B) {
	run(b, ginJWTHandler(b, getWorld(b).hsSecret), http.StatusOK, peerValid(b)...)
}

// BenchmarkPeerGinJWTInvalid: appleboy/gin-jwt v2 on gin, a forged HS256 token.
func BenchmarkPeerGinJWTInvalid(b *testing.B) {
	run(b, ginJWTHandler(b, getWorld(b).hsSecret), http.StatusUnauthorized, peerForged(b)...)
}

// echoBasicUser and echoBasicPass are the one pair echo's BasicAuth accepts,
// of the same shape as tidegate's app credentials.
const (
	echoBasicUser = "0123456789abcdef0123456789abcdef"
	echoBasicPass = "0123456789abcdef0123456789abcdef0123456789ab"
)

// BenchmarkPeerEchoBasicValid: echo's BasicAuth, valid credentials over TLS.
func BenchmarkPeerEchoBasicValid(b *testing.B) {
	run(b, echoBasicHandler(echoBasicUser, echoBasicPass), http.StatusOK,
		requests("Authorization", []string{basicValue(echoBasicUser, echoBasicPass)}, true)...)
}

// BenchmarkPeerEchoBasicInvalid: echo's BasicAuth, unknown credentials over TLS.
func BenchmarkPeerEchoBasicInvalid(b *testing.B) {
	run(b, echoBasicHandler(echoBasicUser, echoBasicPass), http.StatusUnauthorized,
		requests("Authorization", unknownApps(invalidCount), true)...)
}

// BenchmarkPeerEchoBaseline: echo's router and the bare handler, no auth.
func BenchmarkPeerEchoBaseline(b *testing.B) {
	e := echo.New()
	e.GET("/whoami", echoOK)
	run(b, e, http.StatusOK, request())
}

// BenchmarkPeerGinBaseline: gin's router and the bare handler, no auth.
func BenchmarkPeerGinBaseline(b *testing.B) {
	gin.SetMode(gin.ReleaseMode)
	r := gin.New()
	r.GET("/whoami", func(c *gin.Context) { c.Status(http.StatusOK) })
	run(b, r, http.StatusOK, request())
}
