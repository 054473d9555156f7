package middleware_test

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/tidegate/tidegate/middleware"
)

// TestExtractorErrorsOutsideTheContract: an Extractor returning an error
// the contract does not allow (a typed nil *Error in a non-nil error, or an
// error of no tidegate kind) is a bug, answered with the generic 500 by
// Require, Optional and Any, never a panic. A typed nil *Error panicked
// all three (errors.Is called its Is method on the nil pointer), and net/
// http dropped the connection.
func TestExtractorErrorsOutsideTheContract(t *testing.T) {
	for name, failure := range map[string]error{
		"typed nil *Error":  (*middleware.Error)(nil),
		"wrapped typed nil": fmtWrap((*middleware.Error)(nil)),
		"unknown error":     errors.New("extractor: tenant lookup failed"),
	} {
		for wrapper, h := range wrappersOver(t, failure) {
			var rec *httptest.ResponseRecorder
			require.NotPanics(t, func() { rec = serve(h, newRequest()) }, "%s, %s", name, wrapper)
			assert.Equal(t, http.StatusInternalServerError, rec.Code, "%s, %s", name, wrapper)
		}
	}
}

// wrappersOver returns Require, Optional and Any over a scheme whose
// extractor returns failure, by name.
func wrappersOver(t *testing.T, failure error) map[string]http.Handler {
	t.Helper()
	spec := withExtractor(sessionSpec, func(*http.Request) (middleware.Credential, error) {
		return middleware.Credential{}, failure
	})
	s := newScheme(t, spec, &testVerifier{})
	anyMW, err := middleware.Any(s)
	require.NoError(t, err)
	return map[string]http.Handler{
		"Require":  middleware.Require(s)(principalHandler(&seen{})),
		"Optional": middleware.Optional(s)(principalHandler(&seen{})),
		"Any":      anyMW(principalHandler(&seen{})),
	}
}

// fmtWrap wraps err as fmt.Errorf("%w") would, without formatting it
// (Error on a nil *Error would panic).
func fmtWrap(err error) error { return wrapped{err} }

type wrapped struct{ err error }

func (w wrapped) Error() string { return "wrapped" }
func (w wrapped) Unwrap() error { return w.err }

// joined is errors.Join's shape, in a fixed order.
type joined []error

func (j joined) Error() string   { return "joined" }
func (j joined) Unwrap() []error { return j }

// TestExtractorTypedNilBesideAKind: a typed nil *Error anywhere in an
// extractor's error is outside the contract, 500, whatever else the error
// holds. Beside a Missing() that came first, it read as "no credential",
// and Optional let the request through anonymously.
func TestExtractorTypedNilBesideAKind(t *testing.T) {
	for name, failure := range map[string]error{
		"typed nil first":      joined{(*middleware.Error)(nil), middleware.Missing()},
		"typed nil last":       joined{middleware.Missing(), (*middleware.Error)(nil)},
		"typed nil wrapped in": joined{middleware.Missing(), fmtWrap(joined{nil, (*middleware.Error)(nil)})},
	} {
		spec := withExtractor(sessionSpec, func(*http.Request) (middleware.Credential, error) {
			return middleware.Credential{}, failure
		})
		s := newScheme(t, spec, &testVerifier{})
		var rec *httptest.ResponseRecorder
		require.NotPanics(t, func() { rec = serve(middleware.Optional(s)(principalHandler(&seen{})), newRequest()) }, name)
		assert.Equal(t, http.StatusInternalServerError, rec.Code, name)
	}
}

// optionalStatus serves one request through Optional with an extractor
// that returns failure.
func optionalStatus(t *testing.T, failure error) int {
	t.Helper()
	spec := withExtractor(sessionSpec, func(*http.Request) (middleware.Credential, error) {
		return middleware.Credential{}, failure
	})
	s := newScheme(t, spec, &testVerifier{})
	var rec *httptest.ResponseRecorder
	require.NotPanics(t, func() { rec = serve(middleware.Optional(s)(principalHandler(&seen{})), newRequest()) })
	return rec.Code
}

// TestExtractorErrorTreesAreBounded: the search for a nil *Error follows
// a tree to any depth within its bound and refuses (500) a tree too large
// to search, at once: one that shares its parts (a Missing() joined with
// itself 40 times has 2^40 paths) hung the request, and a nil *Error 33
// wrappings down beside a Missing() passed Optional anonymously. An
// *Error's cause is not searched: its kind is the answer, as AsError
// reads it, so a malformed credential with 64 causes joined is still 400,
// and a Missing() is no credential whatever its cause. A wrapped
// ErrNoCredential is no credential.
func TestExtractorErrorTreesAreBounded(t *testing.T) {
	causedByNil := middleware.Missing()
	causedByNil.Err = (*middleware.Error)(nil)
	var deepNil error = (*middleware.Error)(nil)
	for range 32 {
		deepNil = fmtWrap(deepNil)
	}
	var parts []error
	for i := range 64 {
		parts = append(parts, fmt.Errorf("value %d: %w", i, errors.New("not base64")))
	}
	manyCauses := middleware.Malformed("bad cookie")
	manyCauses.Err = errors.Join(parts...)
	var deepMissing error = middleware.ErrNoCredential
	for i := range 64 {
		deepMissing = fmt.Errorf("layer %d: %w", i, deepMissing)
	}
	var shared error = middleware.Missing()
	for range 40 {
		shared = joined{shared, shared}
	}
	for name, tc := range map[string]struct {
		failure error
		want    int
	}{
		"Missing() caused by a nil *Error":             {causedByNil, http.StatusOK},
		"malformed, 64 causes joined":                  {manyCauses, http.StatusBadRequest},
		"ErrNoCredential wrapped 64 times":             {deepMissing, http.StatusOK},
		"nil *Error 33 wrappings down, beside Missing": {joined{middleware.Missing(), deepNil}, http.StatusInternalServerError},
		"Missing() joined with itself 40 times":        {shared, http.StatusInternalServerError},
		"Missing() wrapped three times":                {fmtWrap(fmtWrap(fmtWrap(middleware.Missing()))), http.StatusOK},
	} {
		assert.Equal(t, tc.want, optionalStatus(t, tc.failure), name)
	}
}

// panicIs is an error whose Is method panics.
type panicIs struct{}

func (panicIs) Error() string { return "panicIs" }
func (panicIs) Is(error) bool { panic("Is called") }

// asNilError answers errors.As for *Error with a nil *Error.
type asNilError struct{}

func (asNilError) Error() string { return "asNil" }
func (asNilError) As(target any) bool {
	if p, ok := target.(**middleware.Error); ok {
		*p = nil
		return true
	}
	return false
}

// TestExtractorErrorMethodsRunUnderRecover: an extractor's error is read
// once, inside the recover that contains the extractor's panics, so its
// own methods cannot panic Require, Optional or Any. A panicking Is beside
// a malformed credential reached net/http (noCredential ran errors.Is on
// the raw error after extract); an As method that yields a nil *Error
// beside a Missing() (AsError reads it as "nil *Error", a 500) passed
// Optional anonymously.
func TestExtractorErrorMethodsRunUnderRecover(t *testing.T) {
	for name, tc := range map[string]struct {
		failure error
		want    int
	}{
		"malformed beside a panicking Is":      {joined{middleware.Malformed("bad"), panicIs{}}, http.StatusBadRequest},
		"an As yielding a nil *Error, Missing": {joined{asNilError{}, middleware.Missing()}, http.StatusInternalServerError},
	} {
		for wrapper, h := range wrappersOver(t, tc.failure) {
			var rec *httptest.ResponseRecorder
			require.NotPanics(t, func() { rec = serve(h, newRequest()) }, "%s, %s", name, wrapper)
			assert.Equal(t, tc.want, rec.Code, "%s, %s", name, wrapper)
		}
	}
}
