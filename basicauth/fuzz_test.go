package basicauth_test

import (
	"crypto/tls"
	"encoding/base64"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/tidegate/tidegate/basicauth"
	"github.com/tidegate/tidegate/middleware"
)

// FuzzBasicExtractor feeds arbitrary Authorization values, over TLS or
// plain HTTP, to the schemes' extractor and to RequireUser. The extractor
// must accept exactly the canonical RFC 7617 spellings, refuse plain HTTP
// before anything else, and the middleware must never answer 500 or echo
// the header.
func FuzzBasicExtractor(f *testing.F) {
	fx := newFixture(f, fixtureConfig{})
	h := fx.svc.RequireUser()(http.HandlerFunc(echoPrincipal))
	for _, seed := range []string{
		basic(appA + ":" + middleware.NewToken()), basic(backendA + ":" + maryID), basic(appA + ":"),
		"basic " + base64.StdEncoding.EncodeToString([]byte("a:b")), "Basic", "Basic ", "Basic  YTpi", "Basic YTpi=",
		"Bearer x", "", "Basic Og==", "Basic YQ==", "Basic YToA", "Basicx YTpi",
	} {
		f.Add(seed, true)
		f.Add(seed, false)
	}
	f.Fuzz(func(t *testing.T, value string, overTLS bool) {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.Header["Authorization"] = []string{value}
		if overTLS {
			r.TLS = &tls.ConnectionState{}
		}
		for _, s := range []*middleware.Scheme{fx.svc.Scheme(), fx.svc.AppScheme()} {
			c, err := s.Extract(r)
			checkExtracted(t, value, overTLS, c, err)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		switch rec.Code {
		case http.StatusOK, http.StatusBadRequest, http.StatusUnauthorized, http.StatusForbidden:
		default:
			t.Fatalf("status %d for %q", rec.Code, value)
		}
		if rec.Code != http.StatusOK && !knownBodies[rec.Body.String()] {
			t.Fatalf("unexpected body %q", rec.Body.String())
		}
	})
}

// tokenChars are the characters of a token (RFC 9110 §5.6.2 tchar).
const tokenChars = "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"

func checkExtracted(t *testing.T, value string, overTLS bool, c middleware.Credential, err error) {
	t.Helper()
	// Basic is the scheme word (after any whitespace) followed by the end or
	// by anything but a token character (RFC 9110 §5.6.2).
	word := strings.TrimLeft(value, " \t")
	isBasic := len(word) >= 5 && strings.EqualFold(word[:5], "basic") &&
		(len(word) == 5 || !strings.ContainsRune(tokenChars, rune(word[5])))
	switch {
	case err == middleware.ErrNoCredential:
		if isBasic {
			t.Fatalf("%q: Basic credentials reported as none", value)
		}
	case err != nil:
		var e *middleware.Error
		if !errors.As(err, &e) {
			t.Fatalf("%q: error %v is not an *Error", value, err)
		}
		want := http.StatusBadRequest
		if !overTLS && isBasic {
			want = http.StatusForbidden
		}
		if e.Status != want {
			t.Fatalf("%q (TLS %v): status %d, want %d", value, overTLS, e.Status, want)
		}
	default:
		if !overTLS {
			t.Fatalf("%q: accepted over plain HTTP", value)
		}
		decoded, derr := base64.StdEncoding.Strict().DecodeString(value[6:])
		switch {
		case !isBasic || len(value) > basicauth.MaxHeaderBytes:
			t.Fatalf("%q: accepted", value)
		case derr != nil || string(decoded) != c.Token+":"+c.Secret:
			t.Fatalf("%q: decoded to %q/%q", value, c.Token, c.Secret)
		case base64.StdEncoding.EncodeToString(decoded) != value[6:]:
			t.Fatalf("%q: not the canonical spelling", value)
		case c.Kind != basicauth.Kind || c.Token == "" || strings.Contains(c.Token, ":"):
			t.Fatalf("%q: bad credential %v", value, c)
		case !utf8.ValidString(c.Token+c.Secret) || strings.ContainsFunc(c.Token+c.Secret, isControl):
			t.Fatalf("%q: control or invalid UTF-8 accepted", value)
		}
	}
}

// knownBodies are the only bodies a failure may have: fixed texts, so a
// credential is never echoed.
var knownBodies = map[string]bool{
	bodyAppToken: true, bodyInvalidSession: true, bodySessionRequired: true, bodyBadRequest: true, bodyHTTPSRequired: true,
}

func isControl(r rune) bool { return r < 0x20 || r == 0x7f }
