package bearer_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tidegate/tidegate/bearer"
)

// TestZeroServiceJWKSHandlerFails: a zero Service (not made by New)
// has no keys. Its JWKSHandler answered 200 with an empty body, typed
// application/jwk-set+json and cacheable for five minutes by any shared
// cache (public, max-age=300): a success where the Service's other
// methods now answer ErrInternal.
func TestZeroServiceJWKSHandlerFails(t *testing.T) {
	var s bearer.Service
	rec := httptest.NewRecorder()
	require.NotPanics(t, func() {
		s.JWKSHandler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/.well-known/jwks.json", nil))
	})
	assert.Equal(t, http.StatusInternalServerError, rec.Code, "headers %v, body %q", rec.Header(), rec.Body.String())
	assert.NotContains(t, rec.Header().Get("Cache-Control"), "public")
}

// TestNilJWKSVerifierGetters: like a nil Service's, a nil JWKSVerifier's
// getters answer nil instead of panicking.
func TestNilJWKSVerifierGetters(t *testing.T) {
	var v *bearer.JWKSVerifier
	assert.NotPanics(t, func() { assert.Nil(t, v.Scheme()) })
	assert.NotPanics(t, func() { assert.Nil(t, v.Cache()) })
}
