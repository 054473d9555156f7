package middleware_test

import (
	"encoding/base64"
	"errors"
	"net/http"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/tidegate/tidegate/middleware"
)

// The fuzz targets of the parsers of untrusted input. Each checks that
// nothing panics and that every success holds the parser's invariants; the
// seed corpora live in testdata/fuzz/FuzzXxx/.

// fuzzLimit is small so that the fuzzer reaches the size bound easily.
const fuzzLimit = 32

// checkFailure fails unless err is a malformed *Error with one of reasons.
func checkFailure(t *testing.T, err error, reasons ...string) {
	t.Helper()
	var e *middleware.Error
	if !errors.As(err, &e) || !errors.Is(err, middleware.ErrMalformed) || e.Status != http.StatusBadRequest {
		t.Fatalf("want a malformed *Error, got %#v", err)
	}
	for _, r := range reasons {
		if e.Reason == r {
			return
		}
	}
	t.Fatalf("reason %q not in %q", e.Reason, reasons)
}

func FuzzHeaderValue(f *testing.F) {
	f.Add("tok", "", false)
	f.Add("tok", "tok", true)
	f.Add("tok", "other", true)
	f.Add("", "", true)
	f.Add(strings.Repeat("a", fuzzLimit+1), "", false)
	f.Fuzz(func(t *testing.T, a, b string, twice bool) {
		values := []string{a}
		if twice {
			values = append(values, b)
		}
		v, err := middleware.HeaderValue(http.Header{"X-Token": values}, "X-Token", fuzzLimit)
		oversized := len(a) > fuzzLimit || (twice && len(b) > fuzzLimit)
		switch {
		case err == nil:
			if v != a || v == "" || len(v) > fuzzLimit || (twice && b != a) {
				t.Fatalf("accepted %q from %q", v, values)
			}
		case oversized:
			checkFailure(t, err, "oversized")
		case twice && a != b:
			checkFailure(t, err, "duplicate")
		case a == "":
			checkFailure(t, err, "empty")
		default: // whitespace around the value (RFC 9113 §8.2.1)
			if a[0] != ' ' && a[0] != '\t' && a[len(a)-1] != ' ' && a[len(a)-1] != '\t' {
				t.Fatalf("refused %q: %v", values, err)
			}
			checkFailure(t, err, "spacing")
		}
	})
}

func FuzzAuthorizationCredentials(f *testing.F) {
	f.Add("Bearer tok", false)
	f.Add("basic dG9rOg==", true)
	f.Add("Bearerx tok", false)
	f.Add("Bearer  tok", false)
	f.Add("Bearer\ttok", false)
	f.Add("BEARER", false)
	f.Fuzz(func(t *testing.T, value string, basic bool) {
		scheme := "Bearer"
		if basic {
			scheme = "Basic"
		}
		rest, err := middleware.AuthorizationCredentials(http.Header{"Authorization": {value}}, scheme, fuzzLimit)
		n := len(scheme)
		mine := len(value) >= n && strings.EqualFold(value[:n], scheme)
		switch {
		case err == nil:
			if !mine || len(value) > fuzzLimit || value[n] != ' ' || rest != value[n+1:] || rest == "" || rest[0] == ' ' {
				t.Fatalf("accepted %q from %q", rest, value)
			}
		case err == middleware.ErrNoCredential:
			// Not this scheme: a header that starts with the scheme word
			// and a space is always this scheme's.
			if len(value) <= fuzzLimit && value != "" && mine && len(value) > n && value[n] == ' ' {
				t.Fatalf("%q read as another scheme", value)
			}
		default:
			checkFailure(t, err, "oversized", "empty", "spacing")
		}
	})
}

// FuzzParseBasic: token is what follows "Basic "; with raw set, it is the
// whole header value. A success must have a non-empty user-id without a
// colon, no control characters, valid UTF-8, and must be the one canonical
// encoding of what it decoded to; the Basic extractor must agree.
func FuzzParseBasic(f *testing.F) {
	f.Add(b64("alice:pw"), false)
	f.Add(b64("a:b:c"), false)
	f.Add("YR==", false)
	f.Add("YWxp\r\n\r\nY2U6cHc=", false)
	f.Add("basic "+b64("ålice:pw"), true)
	f.Fuzz(func(t *testing.T, token string, raw bool) {
		value := "Basic " + token
		if raw {
			value = token
		}
		h := http.Header{"Authorization": {value}}
		user, password, err := middleware.ParseBasic(h, middleware.DefaultMaxHeaderBytes)

		ex, exErr := middleware.NewBasicExtractor("basic")
		if exErr != nil {
			t.Fatal(exErr)
		}
		req, _ := http.NewRequest(http.MethodGet, "/", nil)
		req.Header = h
		cred, exErr := ex.Extract(req)
		if (err == nil) != (exErr == nil) || (err == nil && (cred.Token != user || cred.Secret != password)) {
			t.Fatalf("ParseBasic (%q, %q, %v) and the extractor (%q, %q, %v) disagree", user, password, err, cred.Token, cred.Secret, exErr)
		}

		if err != nil {
			if err == middleware.ErrNoCredential {
				if !raw {
					t.Fatalf("%q has the Basic scheme word", value)
				}
				return
			}
			checkFailure(t, err, "oversized", "empty", "spacing", "base64", "control", "colon", "empty user", "utf8", "duplicate")
			return
		}
		if user == "" || strings.Contains(user, ":") {
			t.Fatalf("user-id %q", user)
		}
		for _, part := range []string{user, password} {
			if !utf8.ValidString(part) {
				t.Fatalf("invalid UTF-8 in %q", part)
			}
			for i := 0; i < len(part); i++ {
				if c := part[i]; c < 0x20 || c == 0x7f {
					t.Fatalf("control character in %q", part)
				}
			}
		}
		encoded := value[len("Basic "):]
		if base64.StdEncoding.EncodeToString([]byte(user+":"+password)) != encoded {
			t.Fatalf("%q is not the canonical encoding of %q", encoded, user+":"+password)
		}
		if !strings.EqualFold(value[:len("Basic ")], "Basic ") {
			t.Fatalf("accepted %q", value)
		}
	})
}

// FuzzExtractors drives the three extractors the core offers with one
// header value (or two, for a doubled header): each answers "none of my
// kind", a malformed error, or a credential that holds their invariants: a
// bounded token68 that is exactly what the header carried (after the
// spaces that follow "Bearer"), and a Basic user-id without a colon.
func FuzzExtractors(f *testing.F) {
	f.Add("good-token", "", false)
	f.Add("Bearer good-token", "Bearer good-token", true)
	f.Add("Bearer a", "Bearer b", true)
	f.Add("Bearer a==", "", false)
	f.Add("Bearer =a", "", false)
	f.Add("not a token!", "", false)
	f.Add("Basic "+b64("app:sess"), "", false)
	f.Add(strings.Repeat("a", fuzzLimit+1), "", false)
	newExtractor := func(build func() (middleware.Extractor, error)) middleware.Extractor {
		ex, err := build()
		if err != nil {
			f.Fatal(err)
		}
		return ex
	}
	limit := middleware.WithMaxHeaderBytes(fuzzLimit)
	header := newExtractor(func() (middleware.Extractor, error) {
		return middleware.NewHeaderExtractor("session", "x-tidepool-session-token", limit)
	})
	bearer := newExtractor(func() (middleware.Extractor, error) {
		return middleware.NewAuthorizationExtractor("bearer", "Bearer", limit)
	})
	basic := newExtractor(func() (middleware.Extractor, error) { return middleware.NewBasicExtractor("basic", limit) })

	f.Fuzz(func(t *testing.T, value, second string, twice bool) {
		values := []string{value}
		if twice {
			values = append(values, second)
		}
		same := !twice || second == value
		for _, tc := range []struct {
			ex   middleware.Extractor
			name string
		}{{header, "X-Tidepool-Session-Token"}, {bearer, "Authorization"}, {basic, "Authorization"}} {
			req, _ := http.NewRequest(http.MethodGet, "/", nil)
			req.Header = http.Header{tc.name: values}
			c, err := tc.ex.Extract(req)
			if err != nil {
				if err != middleware.ErrNoCredential {
					checkFailure(t, err, "oversized", "duplicate", "empty", "spacing", "syntax",
						"base64", "control", "colon", "empty user", "utf8")
				}
				continue
			}
			// A bearer value may carry up to 256 spaces beyond the first
			// (RFC 6750 §2.1: 1*SP); the bound counts the rest.
			if !same || len(value) > fuzzLimit && c.Kind != "bearer" {
				t.Fatalf("%s accepted %q", c.Kind, values)
			}
			switch c.Kind {
			case "session":
				if c.Token != value || c.Secret != "" || !middleware.IsToken68(c.Token) {
					t.Fatalf("session credential from %q", value)
				}
			case "bearer":
				rest := value[len("Bearer"):]
				spaces := len(rest) - len(strings.TrimLeft(rest, " "))
				if c.Secret != "" || !middleware.IsToken68(c.Token) || !strings.EqualFold(value[:len("Bearer")], "Bearer") ||
					spaces < 1 || spaces > 257 || rest[spaces:] != c.Token || len("Bearer ")+len(c.Token) > fuzzLimit {
					t.Fatalf("bearer credential from %q", value)
				}
			case "basic":
				if c.Token == "" || strings.Contains(c.Token, ":") ||
					base64.StdEncoding.EncodeToString([]byte(c.Token+":"+c.Secret)) != value[len("Basic "):] {
					t.Fatalf("basic credential from %q", value)
				}
			}
		}
	})
}
