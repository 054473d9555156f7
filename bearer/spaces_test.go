package bearer_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"github.com/tidegate/tidegate/bearer"
	"github.com/tidegate/tidegate/middleware"
)

// TestTokenBoundIsTheSameWhateverTheSpacing: any number of spaces may follow
// "Bearer" (RFC 6750 §2.1), and the size bound counts the token, not the
// spaces: a token of DefaultMaxTokenBytes is accepted however it is spaced,
// one byte more is refused however it is spaced. The header bound counted
// the spaces too, so a token accepted after one space was refused as
// oversized after two.
func TestTokenBoundIsTheSameWhateverTheSpacing(t *testing.T) {
	v := middleware.VerifierFunc(func(context.Context, middleware.Credential) (middleware.Principal, error) {
		return middleware.Principal{Subject: "u"}, nil
	})
	s, err := bearer.NewScheme(v)
	require.NoError(t, err)
	h := middleware.Require(s)(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	longest := strings.Repeat("a", bearer.DefaultMaxTokenBytes-4) + ".b.c"
	for _, spaces := range []string{" ", "  ", strings.Repeat(" ", 100)} {
		for tok, want := range map[string]int{longest: http.StatusOK, "a" + longest: http.StatusBadRequest} {
			req := httptest.NewRequest(http.MethodGet, "/", nil)
			req.Header.Set("Authorization", "Bearer"+spaces+tok)
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			require.Equal(t, want, rec.Code, "%d spaces, a token of %d bytes", len(spaces), len(tok))
		}
	}
}
