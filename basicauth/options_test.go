package basicauth_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/tidegate/tidegate/basicauth"
	"github.com/tidegate/tidegate/middleware"
)

// recordingObserver keeps its ObserveAuth calls as "kind/outcome/reason"
// and counts its ObserveCache calls.
type recordingObserver struct {
	mu     sync.Mutex
	auth   []string
	caches int
}

func (o *recordingObserver) ObserveAuth(k middleware.Kind, out middleware.Outcome, reason string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.auth = append(o.auth, string(k)+"/"+string(out)+"/"+reason)
}

func (o *recordingObserver) ObserveCache(middleware.Kind, bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.caches++
}

// take returns the ObserveAuth calls and the count of ObserveCache calls
// since the last call.
func (o *recordingObserver) take() (auth []string, caches int) {
	o.mu.Lock()
	defer o.mu.Unlock()
	auth, caches = o.auth, o.caches
	o.auth, o.caches = nil, 0
	return auth, caches
}

// TestSchemeAndCacheOptionsApply: WithSchemeOptions and WithCacheOptions
// reach both of the Service's schemes and caches, so that the Basic kind's
// outcomes and cache lookups can be counted as the other kinds' are, and
// identity headers set. basicauth took neither.
func TestSchemeAndCacheOptionsApply(t *testing.T) {
	observer := &recordingObserver{}
	f := newFixture(t, fixtureConfig{opts: []basicauth.Option{
		basicauth.WithSchemeOptions(middleware.WithObserver(observer),
			middleware.WithIdentityHeaders(middleware.IdentityHeaders{Subject: "X-User-Id"})),
		basicauth.WithCacheOptions(middleware.WithObserver(observer)),
	}})
	session := f.logIn(t, appA)
	observer.take()

	identity := func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte(r.Header.Get("X-User-Id"))) }
	for _, tc := range []struct {
		name    string
		require func(http.Handler) http.Handler
		auth    string
		subject string
	}{
		{"user scheme", f.svc.RequireUser(), basic(appA + ":" + session), maryID},
		{"app scheme", f.svc.RequireApp(), basic(appA + ":"), "app:a"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := httptest.NewRequest(http.MethodGet, "https://example.com/", nil)
			req.Header.Set("Authorization", tc.auth)
			req.Header.Set("X-User-Id", "forged")
			rec := httptest.NewRecorder()
			tc.require(http.HandlerFunc(identity)).ServeHTTP(rec, req)
			require.Equal(t, http.StatusOK, rec.Code)
			assert.Equal(t, tc.subject, rec.Body.String(), "identity header set by the scheme")
			auth, caches := observer.take()
			assert.Equal(t, []string{"basic/authenticated/"}, auth)
			assert.Equal(t, 1, caches, "one cache lookup observed")
		})
	}
}

// TestNewSchemeTakesSchemeOptions: basicauth.NewScheme applies
// WithSchemeOptions too.
func TestNewSchemeTakesSchemeOptions(t *testing.T) {
	observer := &recordingObserver{}
	v := middleware.VerifierFunc(func(context.Context, middleware.Credential) (middleware.Principal, error) {
		return middleware.Principal{Subject: "u"}, nil
	})
	scheme, err := basicauth.NewScheme(v, basicauth.WithSchemeOptions(middleware.WithObserver(observer)))
	require.NoError(t, err)
	req := httptest.NewRequest(http.MethodGet, "https://example.com/", nil)
	req.Header.Set("Authorization", basic(appA+":"))
	rec := httptest.NewRecorder()
	middleware.Require(scheme)(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})).ServeHTTP(rec, req)
	require.Equal(t, http.StatusOK, rec.Code)
	auth, _ := observer.take()
	assert.Equal(t, []string{"basic/authenticated/"}, auth)

	_, err = basicauth.NewScheme(v, basicauth.WithSchemeOptions(nil))
	assert.Error(t, err, "a nil scheme option")
}
