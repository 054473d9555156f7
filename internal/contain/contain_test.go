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

func newScheme(t *testing.T, opts ...middleware.SchemeOption) *middleware.Scheme {
	t.Helper()
	ex, err := middleware.NewAuthorizationExtractor("bearer", "Bearer")
	require.NoError(t, err)
	v := middleware.VerifierFunc(func(context.Context, middleware.Credential) (middleware.Principal, error) {
		return middleware.Principal{Subject: "u"}, nil
	})
	s, err := middleware.NewScheme("bearer", ex, v, middleware.Challenge{Scheme: "Bearer", Realm: "r", RFC6750: true}, opts...)
	require.NoError(t, err)
	return s
}

// TestEndpoints: a panicking endpoint gets the scheme's generic 500 and one
// log event naming the panic's type, never its value; a panic with
// http.ErrAbortHandler, an abort on purpose, goes on to net/http; an
// endpoint that does not panic is untouched.
func TestEndpoints(t *testing.T) {
	var logs bytes.Buffer
	s := newScheme(t, middleware.WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))

	panicking := contain.Endpoints(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {
		panic("store bug with " + secret)
	}), s)
	rec := httptest.NewRecorder()
	require.NotPanics(t, func() { panicking.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/login", nil)) })
	want := httptest.NewRecorder()
	s.Reject(want, httptest.NewRequest(http.MethodPost, "/login", nil), middleware.Internal("panic"))
	assert.Equal(t, http.StatusInternalServerError, rec.Code)
	assert.Equal(t, want.Body.String(), rec.Body.String(), "the scheme's generic 500")
	assert.Contains(t, logs.String(), "msg=\"tidegate endpoint\"")
	assert.Contains(t, logs.String(), "panic_type=string")
	assert.NotContains(t, logs.String()+rec.Body.String(), secret)

	aborting := contain.Endpoints(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {
		panic(http.ErrAbortHandler)
	}), s)
	require.PanicsWithValue(t, http.ErrAbortHandler, func() {
		aborting.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/", nil))
	})

	fine := contain.Endpoints(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusTeapot)
	}), s)
	rec = httptest.NewRecorder()
	fine.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
	assert.Equal(t, http.StatusTeapot, rec.Code)
}

// observed records the outcomes an Observer hears.
type observed struct{ auth []string }

func (o *observed) ObserveAuth(kind middleware.Kind, outcome middleware.Outcome, reason string) {
	o.auth = append(o.auth, string(kind)+"/"+string(outcome)+"/"+reason)
}
func (o *observed) ObserveCache(middleware.Kind, bool) {}

// TestEndpointPanicIsTheRequestsOutcome: a contained panic is the
// request's outcome, as any 500 of an endpoint is: the scheme's Observer
// hears it once, and the one log event says it was an error. Only the log
// line said so, without an outcome, and metrics never counted the 500s
// operators most need to see.
func TestEndpointPanicIsTheRequestsOutcome(t *testing.T) {
	obs := &observed{}
	var logs bytes.Buffer
	s := newScheme(t, middleware.WithObserver(obs), middleware.WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))
	h := contain.Endpoints(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { panic("bug") }), s)
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodPost, "/login", nil))
	assert.Equal(t, []string{"bearer/error/panic"}, obs.auth)
	assert.Equal(t, 1, bytes.Count(logs.Bytes(), []byte("\n")), "one event: %s", logs.String())
	assert.Contains(t, logs.String(), "outcome=error reason=panic status=500")
}
