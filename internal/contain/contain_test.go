package contain_test

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tidegate/tidegate/internal/contain"
	"github.com/tidegate/tidegate/middleware"
)

const secret = "s3cr3tHunter2TOKENzz"

func newScheme(t *testing.T) *middleware.Scheme {
	t.Helper()
	ex, err := middleware.NewAuthorizationExtractor("bearer", "Bearer")
	require.NoError(t, err)
	v := middleware.VerifierFunc(func(context.Context, middleware.Credential) (middleware.Principal, error) {
		return middleware.Principal{Subject: "u"}, nil
	})
	s, err := middleware.NewScheme("bearer", ex, v, middleware.Challenge{Scheme: "Bearer", Realm: "r", RFC6750: true})
	require.NoError(t, err)
	return s
}

// TestEndpoints: a panicking endpoint gets the scheme's generic 500 and one
// log event naming the panic's type, never its value; a panic with
// http.ErrAbortHandler, an abort on purpose, goes on to net/http; an
// endpoint that does not panic is untouched.
func TestEndpoints(t *testing.T) {
	s := newScheme(t)
	var logs bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&logs, nil))

	panicking := contain.Endpoints(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {
		panic("store bug with " + secret)
	}), s, logger)
	rec := httptest.NewRecorder()
	require.NotPanics(t, func() { panicking.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/login", nil)) })
	want := httptest.NewRecorder()
	s.Reject(want, httptest.NewRequest(http.MethodPost, "/login", nil), middleware.Internal("panic"))
	assert.Equal(t, http.StatusInternalServerError, rec.Code)
	assert.Equal(t, want.Body.String(), rec.Body.String(), "the scheme's generic 500")
	assert.Contains(t, logs.String(), "tidegate endpoint panicked")
	assert.Contains(t, logs.String(), "panic_type=string")
	assert.NotContains(t, logs.String()+rec.Body.String(), secret)

	aborting := contain.Endpoints(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {
		panic(http.ErrAbortHandler)
	}), s, logger)
	require.PanicsWithValue(t, http.ErrAbortHandler, func() {
		aborting.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/", nil))
	})

	fine := contain.Endpoints(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusTeapot)
	}), s, logger)
	rec = httptest.NewRecorder()
	fine.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
	assert.Equal(t, http.StatusTeapot, rec.Code)
}
