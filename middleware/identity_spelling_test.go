package middleware_test

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tidegate/tidegate/middleware"
)

// TestIdentityHeaderUnderscoreSpellingOfCredentialHeader: identity
// headers are stripped with '_' read as '-' (stripIdentity), but the new
// collision checks compare canonical names only. An identity header spelled
// x_tidepool_session_token is accepted, then strips the session token from
// every request: each is refused, the very misconfiguration 3fa6cd3 refuses
// for "X-Tidepool-Session-Token".
// Identity headers are matched as stripIdentity strips them: in any case,
// with '_' read as '-'. The checks that refuse a name that would strip a
// credential, or two names that are one, compare the same way.

// TestIdentityHeaderUnderscoreSpellingOfCredentialHeader: an identity
// header spelled x_tidepool_session_token strips the session token.
func TestIdentityHeaderUnderscoreSpellingOfCredentialHeader(t *testing.T) {
	opt := middleware.WithIdentityHeaders(middleware.IdentityHeaders{Subject: "x_tidepool_session_token"})
	s, err := middleware.NewScheme(sessionSpec.kind, sessionSpec.extractor(t), &testVerifier{}, sessionSpec.challenge, opt)
	if err == nil {
		req := newRequest()
		sessionSpec.set(req.Header, tokGood)
		rec := serve(middleware.Require(s)(principalHandler(&seen{})), req)
		assert.Equal(t, http.StatusOK, rec.Code, "accepted, then a valid session token is refused: %s", rec.Body.String())
	}
	require.Error(t, err, "an identity header that strips the scheme's own credential header must be refused")
}

// TestAnyIdentityHeaderUnderscoreSpelling: the same through Any.
// TestAnyIdentityHeaderUnderscoreSpelling: likewise across Any's schemes.
func TestAnyIdentityHeaderUnderscoreSpelling(t *testing.T) {
	v := &testVerifier{}
	sess := newScheme(t, sessionSpec, v)
	bear := newScheme(t, bearerSpec, v, middleware.WithIdentityHeaders(middleware.IdentityHeaders{Subject: "X_Tidepool_Session_Token"}))
	mw, err := middleware.Any(sess, bear)
	if err == nil {
		req := newRequest()
		sessionSpec.set(req.Header, tokGood)
		rec := serve(mw(principalHandler(&seen{})), req)
		assert.Equal(t, http.StatusOK, rec.Code, "Any accepted, then a valid session token is refused: %s", rec.Body.String())
	}
	require.Error(t, err, "Any must refuse an identity header that strips another scheme's credential")
}

// TestIdentityHeaderTwiceUnderscore: "X-User" and "X_User" are one
// header to stripIdentity (and to CGI and many proxies), but the "named
// twice" check lets them through; downstream of such a proxy, Roles
// overwrites Subject.
// TestIdentityHeaderTwiceUnderscore: X-User and X_User are one name.
func TestIdentityHeaderTwiceUnderscore(t *testing.T) {
	_, err := middleware.NewScheme(bearerSpec.kind, bearerSpec.extractor(t), &testVerifier{}, bearerSpec.challenge,
		middleware.WithIdentityHeaders(middleware.IdentityHeaders{Subject: "X-User", Roles: "X_User"}))
	require.Error(t, err, "two identity headers that stripIdentity treats as one name")
}
