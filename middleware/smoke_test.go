package middleware_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/tidegate/tidegate/middleware"
)

func TestSmoke(t *testing.T) {
	ex, err := middleware.NewHeaderExtractor("session", "x-tidepool-session-token")
	require.NoError(t, err)
	v := middleware.VerifierFunc(func(ctx context.Context, c middleware.Credential) (middleware.Principal, error) {
		if c.Token == "good" {
			return middleware.Principal{Subject: "u1", Roles: []string{"user"}}, nil
		}
		return middleware.Principal{}, middleware.Invalid("unknown")
	})
	cache, err := middleware.NewCache(v, time.Minute)
	require.NoError(t, err)
	defer cache.Close()
	s, err := middleware.NewScheme("session", ex, cache, middleware.Challenge{Scheme: "X-Tidepool-Session-Token", Realm: "tidepool"})
	require.NoError(t, err)
	h := middleware.Require(s)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, ok := middleware.FromRequest(r)
		require.True(t, ok)
		w.Write([]byte(p.Subject))
	}))
	for _, tc := range []struct{ tok string; code int }{{"good", 200}, {"good", 200}, {"bad", 401}, {"", 401}, {"a b", 400}} {
		rec := httptest.NewRecorder()
		req := httptest.NewRequest("GET", "/", nil)
		if tc.tok != "" {
			req.Header.Set("X-Tidepool-Session-Token", tc.tok)
		}
		h.ServeHTTP(rec, req)
		t.Log(tc.tok, rec.Code, rec.Header(), rec.Body.String())
		require.Equal(t, tc.code, rec.Code)
	}
}
