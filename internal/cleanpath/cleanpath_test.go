package cleanpath_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/tidegate/tidegate/internal/cleanpath"
)

func TestOnly(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /me", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusOK) })
	h := http.StripPrefix("/0.4", cleanpath.Only(mux))
	for target, want := range map[string]int{
		"/0.4/me":       http.StatusOK,
		"/0.4//me":      http.StatusNotFound, // ServeMux alone: 301 to /me, outside /0.4
		"/0.4/./me":     http.StatusNotFound,
		"/0.4/x/../me":  http.StatusNotFound,
		"/0.4/me/":      http.StatusNotFound,
		"/0.4":          http.StatusNotFound, // "" after StripPrefix: ServeMux alone redirects to /
		"/0.4/":         http.StatusNotFound, // the root: clean, and no route of the mux
		"/0.4/nowhere":  http.StatusNotFound,
		"/0.4/me?a=b/c": http.StatusOK,
	} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, target, nil))
		assert.Equal(t, want, rec.Code, target)
		assert.Empty(t, rec.Header().Get("Location"), target)
	}
}

func TestClean(t *testing.T) {
	for p, want := range map[string]bool{
		"/": true, "/me": true, "/token/abc": true, "/a/b": true,
		"": false, "me": false, "//me": false, "/me/": false, "/./me": false, "/a/../me": false, "/me/.": false,
	} {
		assert.Equal(t, want, cleanpath.Clean(p), p)
	}
}
