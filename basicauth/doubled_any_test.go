package basicauth_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/tidegate/tidegate/middleware"
)

// TestDoubledAuthorizationUnderAnyDoesNotDependOnOrder: issue 2 says
// a request carrying the same header twice with different values gets 400
// (RFC 6750 invalid_request) from Any, and Any's doc (and
// TestAnyMalformedAnswerDoesNotDependOnOrder) says the answer does not
// depend on the order the schemes are listed in. With a Bearer scheme and
// the basicauth scheme, an Authorization header doubled as Bearer + Basic
// over plain HTTP gets 400 invalid_request when Bearer is listed first but
// 403 "HTTPS required" (Tapglue code 4xx body, no challenge) when Basic is
// listed first.
func TestDoubledAuthorizationUnderAnyDoesNotDependOnOrder(t *testing.T) {
	f := newFixture(t, fixtureConfig{})
	bearerFirst, basicFirst := bothOrders(t, f)

	doubled := []string{"Authorization", "Bearer tok", "Authorization", basic(appA + ":" + maryID)}
	for _, overTLS := range []bool{false, true} {
		a := serve(bearerFirst(http.HandlerFunc(echoPrincipal)), "", overTLS, doubled...)
		b := serve(basicFirst(http.HandlerFunc(echoPrincipal)), "", overTLS, doubled...)
		assert.Equal(t, http.StatusBadRequest, a.Code, "bearer first, TLS %v: %s", overTLS, a.Body)
		assert.Equal(t, http.StatusBadRequest, b.Code, "basic first, TLS %v: %s", overTLS, b.Body)
		assert.Equal(t, a.Header().Values("WWW-Authenticate"), b.Header().Values("WWW-Authenticate"), "TLS %v", overTLS)
	}
}

// TestSpacedAuthorizationUnderAnyDoesNotDependOnOrder: Basic credentials
// with spaces or tabs around the header value (which only HTTP/2 delivers
// as sent) are judged by the Basic scheme alone, whatever the order of
// Any's schemes: 403 over plain HTTP, as Require(basic) answers, and 400
// over TLS. The bearer extractor used to call them a malformed bearer
// credential, 400, when listed first.
func TestSpacedAuthorizationUnderAnyDoesNotDependOnOrder(t *testing.T) {
	f := newFixture(t, fixtureConfig{})
	bearerFirst, basicFirst := bothOrders(t, f)

	credentials := basic(appA + ":" + maryID)
	for _, v := range []string{credentials + " ", " " + credentials, "\t" + credentials + "\t"} {
		for overTLS, want := range map[bool]int{false: http.StatusForbidden, true: http.StatusBadRequest} {
			alone := serve(middleware.Require(f.svc.Scheme())(http.HandlerFunc(echoPrincipal)), "", overTLS, "Authorization", v)
			a := serve(bearerFirst(http.HandlerFunc(echoPrincipal)), "", overTLS, "Authorization", v)
			b := serve(basicFirst(http.HandlerFunc(echoPrincipal)), "", overTLS, "Authorization", v)
			assert.Equal(t, want, alone.Code, "Require(basic), %q, TLS %v: %s", v, overTLS, alone.Body)
			assert.Equal(t, want, a.Code, "bearer first, %q, TLS %v: %s", v, overTLS, a.Body)
			assert.Equal(t, want, b.Code, "basic first, %q, TLS %v: %s", v, overTLS, b.Body)
			assert.Equal(t, b.Body.String(), a.Body.String(), "%q, TLS %v", v, overTLS)
		}
	}
}

// bothOrders returns Any over a bearer scheme and f's Basic scheme, in
// both orders.
func bothOrders(t *testing.T, f *fixture) (bearerFirst, basicFirst func(http.Handler) http.Handler) {
	ex, err := middleware.NewAuthorizationExtractor("bearer", "Bearer")
	require.NoError(t, err)
	bearer := echoScheme(t, "bearer", ex, middleware.Challenge{Scheme: "Bearer", Realm: "tidal", RFC6750: true})
	return anyBothOrders(t, f, bearer)
}

// anyBothOrders returns Any over other and f's Basic scheme, in both
// orders.
func anyBothOrders(t *testing.T, f *fixture, other *middleware.Scheme) (otherFirst, basicFirst func(http.Handler) http.Handler) {
	otherFirst, err := middleware.Any(other, f.svc.Scheme())
	require.NoError(t, err)
	basicFirst, err = middleware.Any(f.svc.Scheme(), other)
	require.NoError(t, err)
	return otherFirst, basicFirst
}

// echoScheme returns a scheme of kind over ex whose Verifier accepts every
// credential, as the subject kind-token.
func echoScheme(t *testing.T, kind middleware.Kind, ex middleware.Extractor, c middleware.Challenge) *middleware.Scheme {
	s, err := middleware.NewScheme(kind, ex, middleware.VerifierFunc(
		func(_ context.Context, cred middleware.Credential) (middleware.Principal, error) {
			return middleware.Principal{Subject: string(kind) + "-" + cred.Token}, nil
		}), c)
	require.NoError(t, err)
	return s
}

// TestTwoKindsUnderAnyOverPlainHTTPDoNotDependOnOrder: a request carrying
// Basic credentials over plain HTTP and a session token too carries
// credentials of two kinds, which issue 2 answers 400 from Any whatever the
// order of its schemes, and whether the session token is well formed or
// not. The Basic scheme's HTTPS refusal (403) used to answer when Basic was
// listed first, or when it came after a well-formed session token, and the
// session scheme's 400 when the token was malformed and listed first.
func TestTwoKindsUnderAnyOverPlainHTTPDoNotDependOnOrder(t *testing.T) {
	f := newFixture(t, fixtureConfig{})
	ex, err := middleware.NewHeaderExtractor("session", "X-Tidepool-Session-Token")
	require.NoError(t, err)
	sessionFirst, basicFirst := anyBothOrders(t, f, echoScheme(t, "session", ex,
		middleware.Challenge{Scheme: "X-Tidepool-Session-Token", Realm: "tidepool", RFC6750: true}))

	credentials := basic(appA + ":" + maryID)
	for name, token := range map[string]string{"well formed": "tok", "malformed": "t o k"} {
		a := serve(sessionFirst(http.HandlerFunc(echoPrincipal)), credentials, false, "X-Tidepool-Session-Token", token)
		b := serve(basicFirst(http.HandlerFunc(echoPrincipal)), credentials, false, "X-Tidepool-Session-Token", token)
		assert.Equal(t, http.StatusBadRequest, a.Code, "session first, %s token: %s", name, a.Body)
		assert.Equal(t, http.StatusBadRequest, b.Code, "basic first, %s token: %s", name, b.Body)
		assert.Equal(t, a.Header().Values("WWW-Authenticate"), b.Header().Values("WWW-Authenticate"), "%s token", name)
		assert.Equal(t, a.Body.String(), b.Body.String(), "%s token", name)
	}
}
