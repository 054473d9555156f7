package middleware_test

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/tidegate/tidegate/middleware"
)

// tenantError is an application's error type carrying detail, around a
// tidegate kind, as the Extractor contract allows ("an *Error ... wrapped").
type tenantError struct {
	Tenant string
	Err    error
}

func (e *tenantError) Error() string { return "tenant " + e.Tenant + ": " + e.Err.Error() }
func (e *tenantError) Unwrap() error { return e.Err }

// TestExtractKeepsTheExtractorsError: Scheme.Extract hands back the
// extractor's own error when it is within the contract, so that a caller
// can read its own type out of it with errors.As; the middleware reads the
// *Error inside. Returning only that *Error lost the wrapper.
func TestExtractKeepsTheExtractorsError(t *testing.T) {
	spec := withExtractor(sessionSpec, func(*http.Request) (middleware.Credential, error) {
		return middleware.Credential{}, &tenantError{Tenant: "acme", Err: middleware.Malformed("tenant")}
	})
	s := newScheme(t, spec, &testVerifier{})
	_, err := s.Extract(newRequest())
	require.ErrorIs(t, err, middleware.ErrMalformed)
	te, ok := errors.AsType[*tenantError](err)
	require.True(t, ok, "Extract's error lost the extractor's *tenantError: %T %v", err, err)
	assert.Equal(t, "acme", te.Tenant)
}

// TestOptionalJoinedMissingAndMalformed: an extractor that looks in two
// places and joins what it found (nothing in one, a malformed value in the
// other) is refused 400 by Optional in either order of the join. With
// Missing() first, the request passed anonymously.
func TestOptionalJoinedMissingAndMalformed(t *testing.T) {
	for name, failure := range map[string]error{
		"Malformed, then Missing()": errors.Join(middleware.Malformed("cookie"), middleware.Missing()),
		"Missing(), then Malformed": errors.Join(middleware.Missing(), middleware.Malformed("cookie")),
	} {
		spec := withExtractor(sessionSpec, func(*http.Request) (middleware.Credential, error) {
			return middleware.Credential{}, failure
		})
		s := newScheme(t, spec, &testVerifier{})
		var rec *httptest.ResponseRecorder
		require.NotPanics(t, func() { rec = serve(middleware.Optional(s)(principalHandler(&seen{})), newRequest()) })
		assert.Equal(t, http.StatusBadRequest, rec.Code, name)
	}
}
