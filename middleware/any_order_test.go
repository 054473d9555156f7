package middleware_test

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/tidegate/tidegate/middleware"
)

// Any's answer to a request that more than one of its schemes has an
// opinion about must not depend on the order the schemes were listed in:
// these tests build Any over every order of their schemes.

// realSessionSpec is the session kind as session.NewScheme builds it: its
// challenge is not an RFC 6750 one.
var realSessionSpec = func() kindSpec {
	s := sessionSpec
	s.challenge = middleware.Challenge{Scheme: "X-Tidepool-Session-Token", Realm: "tidepool"}
	return s
}()

// withExtractor returns spec with ex as its extractor.
func withExtractor(spec kindSpec, ex middleware.ExtractorFunc) kindSpec {
	spec.extractor = func(testing.TB, ...middleware.ExtractorOption) middleware.Extractor { return ex }
	return spec
}

// panicking is spec with an extractor that panics.
func panicking(spec kindSpec) kindSpec {
	return withExtractor(spec, func(*http.Request) (middleware.Credential, error) { panic("extractor bug") })
}

// refusingForm is basicSpec with an extractor that refuses any
// Authorization header with 403, as basicauth refuses Basic over plain
// HTTP.
var refusingForm = withExtractor(basicSpec, func(r *http.Request) (middleware.Credential, error) {
	if r.Header.Get("Authorization") == "" {
		return middleware.Credential{}, middleware.ErrNoCredential
	}
	return middleware.Credential{}, middleware.Forbidden("https_required", "")
})

// permutations returns every order of specs.
func permutations(specs []kindSpec) [][]kindSpec {
	if len(specs) <= 1 {
		return [][]kindSpec{specs}
	}
	var out [][]kindSpec
	for i := range specs {
		rest := append(append([]kindSpec(nil), specs[:i]...), specs[i+1:]...)
		for _, p := range permutations(rest) {
			out = append(out, append([]kindSpec{specs[i]}, p...))
		}
	}
	return out
}

// serveAnyInOrder serves a request with headers (name, value pairs)
// through Any over order's schemes, each logging to one debug log, and
// returns the response, the log and the order's kinds.
func serveAnyInOrder(t *testing.T, order []kindSpec, headers ...string) (*httptest.ResponseRecorder, string, []middleware.Kind) {
	t.Helper()
	logger, buf := debugLogger()
	var (
		schemes []*middleware.Scheme
		kinds   []middleware.Kind
	)
	for _, spec := range order {
		schemes = append(schemes, newScheme(t, spec, &testVerifier{}, middleware.WithLogger(logger)))
		kinds = append(kinds, spec.kind)
	}
	anyMW, err := middleware.Any(schemes...)
	require.NoError(t, err)
	req := newRequest()
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Add(headers[i], headers[i+1])
	}
	return serve(anyMW(principalHandler(&seen{})), req), buf.String(), kinds
}

// TestAnyBrokenExtractorInEveryOrder: an extractor that panics is the
// logged 500 in every order, whatever the other schemes saw first: a
// malformed credential, a form refused with 403, another kind's
// credential. Any stopped at the first failure, so a panicking extractor
// listed after it never ran and the answer was 400.
func TestAnyBrokenExtractorInEveryOrder(t *testing.T) {
	for name, tc := range map[string]struct {
		specs   []kindSpec
		headers []string
	}{
		"malformed Bearer, panicking session extractor": {
			[]kindSpec{bearerSpec, panicking(realSessionSpec)}, []string{"Authorization", "Bearer not a token!"}},
		"malformed session token, panicking Basic extractor": {
			[]kindSpec{realSessionSpec, panicking(basicSpec)}, []string{sessionHeader, "not a token!"}},
		"malformed Basic, panicking Bearer extractor": {
			[]kindSpec{basicSpec, panicking(bearerSpec)}, []string{"Authorization", "Basic YQ=="}},
		"form refused, panicking session extractor": {
			[]kindSpec{refusingForm, panicking(sessionSpec)}, []string{"Authorization", basicValue(tokGood, "pw")}},
		"form refused, a session token, panicking Bearer extractor": {
			[]kindSpec{refusingForm, realSessionSpec, panicking(bearerSpec)},
			[]string{"Authorization", basicValue(tokGood, "pw"), sessionHeader, tokGood}},
		"two valid kinds, panicking Basic extractor": {
			[]kindSpec{bearerSpec, realSessionSpec, panicking(basicSpec)},
			[]string{"Authorization", "Bearer " + tokGood, sessionHeader, tokGood}},
	} {
		for _, order := range permutations(tc.specs) {
			rec, log, kinds := serveAnyInOrder(t, order, tc.headers...)
			assert.Equal(t, http.StatusInternalServerError, rec.Code, "%s, order %v", name, kinds)
			assert.Contains(t, log, "reason=panic", "%s, order %v", name, kinds)
		}
	}
}

// TestAnyExtractorErrorOutsideItsContract: an extractor returning an error
// of no tidegate kind is a bug, 500, in every order. It was 503 when its
// scheme came first (AsError reads an unknown error as a backend's) and
// 400 ambiguous when it came after a form refused with 403.
func TestAnyExtractorErrorOutsideItsContract(t *testing.T) {
	failing := withExtractor(realSessionSpec, func(*http.Request) (middleware.Credential, error) {
		return middleware.Credential{}, errors.New("extractor: lookup of the client's tenant failed")
	})
	for _, order := range permutations([]kindSpec{refusingForm, failing}) {
		rec, log, kinds := serveAnyInOrder(t, order, "Authorization", basicValue(tokGood, "pw"))
		assert.Equal(t, http.StatusInternalServerError, rec.Code, "order %v", kinds)
		assert.Contains(t, log, "reason=extractor_error", "order %v", kinds)
		assert.NotContains(t, log+rec.Body.String(), "tenant", "order %v: the error's text is never shown", kinds)
	}
}

// TestAnyTwoMalformedKindsLogOneReason: a malformed session token beside
// an empty Bearer header is the 400 of two kinds, answered by the Bearer
// scheme and logged with one reason, in either order. The reason logged
// was the first malformed credential's ("syntax" under kind=bearer, or
// "empty"), so counts of reasons by kind depended on the order.
func TestAnyTwoMalformedKindsLogOneReason(t *testing.T) {
	logs := map[string]string{}
	for _, order := range permutations([]kindSpec{realSessionSpec, bearerSpec}) {
		rec, log, kinds := serveAnyInOrder(t, order, sessionHeader, "not a token!", "Authorization", "Bearer")
		require.Equal(t, http.StatusBadRequest, rec.Code)
		logs[string(kinds[0])+" first"] = log[strings.Index(log, "kind="):]
	}
	assert.Equal(t, "kind=bearer outcome=rejected reason=ambiguous status=400\n", logs["session first"])
	assert.Equal(t, logs["session first"], logs["bearer first"])
}
