package basicauth_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/require"
	"github.com/tidegate/tidegate/basicauth"
	"github.com/tidegate/tidegate/middleware"
)

// TestExportedRefusalsGiveTapgluesCodes: a Verifier of one's own behind
// NewScheme answers each of Tapglue's 401 codes with the refusal made for
// it; anything else refused is 1001.
func TestExportedRefusalsGiveTapgluesCodes(t *testing.T) {
	for _, tc := range []struct {
		name    string
		refusal error
		want    string
	}{
		{"InvalidSession", basicauth.InvalidSession(), `"code":4007`},
		{"SessionRequired", basicauth.SessionRequired(), `"code":4013`},
		{"any other refusal", middleware.Invalid("whatever"), `"code":1001`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			scheme, err := basicauth.NewScheme(middleware.VerifierFunc(
				func(context.Context, middleware.Credential) (middleware.Principal, error) {
					return middleware.Principal{}, tc.refusal
				}), basicauth.WithLogger(slog.New(slog.DiscardHandler)))
			require.NoError(t, err)
			req := httptest.NewRequest(http.MethodGet, "https://api.example/me", nil)
			req.SetBasicAuth("app", "session")
			rec := httptest.NewRecorder()
			middleware.Require(scheme)(http.NotFoundHandler()).ServeHTTP(rec, req)
			require.Equal(t, http.StatusUnauthorized, rec.Code)
			body, _ := io.ReadAll(rec.Body)
			require.Contains(t, string(body), tc.want)
		})
	}
}
