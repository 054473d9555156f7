package session_test

import (
	"encoding/base64"
	"errors"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/tidegate/tidegate/middleware"
	"github.com/tidegate/tidegate/session"
)

// token68 is an independent statement of RFC 7235 §2.1's token68.
var token68 = regexp.MustCompile(`^[A-Za-z0-9\-._~+/]+=*$`)

// FuzzExtractToken feeds the x-tidepool-session-token header, once or twice,
// to the scheme's extractor and to the protected route, and checks both
// against an independent statement of the rules.
func FuzzExtractToken(f *testing.F) {
	f.Add("dGhpcyB0b2tlbiB3YXMgbmV2ZXIgaXNzdWVkIGF0IGFsbA", "", false)
	f.Add("abc", "abc", true)
	f.Add("abc", "abd", true)
	f.Add("a b", "", false)
	f.Add("", "", false)
	f.Add("abc==", "", false)
	f.Add("=abc", "", false)
	f.Add(strings.Repeat("a", session.MaxTokenBytes+1), "", false)
	fx := newFixture(f)
	ex, err := session.NewExtractor()
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, first, second string, doubled bool) {
		req := httptest.NewRequest(http.MethodGet, "/whoami", nil)
		req.Header[session.HeaderToken] = []string{first}
		if doubled {
			req.Header[session.HeaderToken] = append(req.Header[session.HeaderToken], second)
		}
		wantOK := token68.MatchString(first) && len(first) <= session.MaxTokenBytes &&
			(!doubled || second == first)

		c, err := ex.Extract(req)
		switch {
		case wantOK && err != nil:
			t.Fatalf("refused a valid header: %v", err)
		case wantOK && (c.Kind != session.Kind || c.Token != first || c.Secret != ""):
			t.Fatalf("extracted %#v", c)
		case !wantOK && err == nil:
			t.Fatalf("accepted %q, %q", first, second)
		case !wantOK && !errors.Is(err, middleware.ErrMalformed):
			t.Fatalf("a present but invalid header must be malformed, got %v", err)
		}

		rec := httptest.NewRecorder()
		fx.handler.ServeHTTP(rec, req)
		want := http.StatusBadRequest
		if wantOK {
			want = http.StatusUnauthorized // well-formed, never issued
		}
		if rec.Code != want || rec.Body.String() != `"Session token required"` {
			t.Fatalf("status %d body %q, want %d", rec.Code, rec.Body.String(), want)
		}
	})
}

// FuzzLoginBasic feeds the Authorization header to POST /login and checks
// the answer against an independent statement of strict RFC 7617 parsing:
// unreadable credentials are 400 "Missing login information", readable
// ones 401 "login failed" unless they are a real user's.
func FuzzLoginBasic(f *testing.F) {
	f.Add(basic(maryLogin, maryPassword))
	f.Add(basic("MARY@example.com", "wrong"))
	f.Add(basic("jo", ""))
	f.Add("Basic")
	f.Add("Basic ")
	f.Add("basic " + base64.StdEncoding.EncodeToString([]byte("a:b")))
	f.Add("Basic  " + base64.StdEncoding.EncodeToString([]byte("a:b")))
	f.Add("Basic " + base64.StdEncoding.EncodeToString([]byte(":b")))
	f.Add("Basic " + base64.StdEncoding.EncodeToString([]byte("ab")))
	f.Add("Basic " + base64.StdEncoding.EncodeToString([]byte("a\x00:b")))
	f.Add("Basic " + base64.StdEncoding.EncodeToString([]byte("a:\xff")))
	f.Add("Basic YTpi")
	f.Add("Basic YTpj=")
	f.Add("Bearer abc")
	fx := newFixture(f, withPolicy(middleware.LimiterPolicy{AccountAttempts: 1 << 30, AddressAttempts: 1 << 30}))
	f.Fuzz(func(t *testing.T, header string) {
		req := httptest.NewRequest(http.MethodPost, "/auth/login", nil)
		req.Header["Authorization"] = []string{header}
		rec := httptest.NewRecorder()
		fx.handler.ServeHTTP(rec, req)

		user, password, readable := refParseBasic(header)
		switch {
		case !readable:
			if rec.Code != http.StatusBadRequest || rec.Body.String() != `"Missing login information"` {
				t.Fatalf("unreadable %q: status %d body %q", header, rec.Code, rec.Body.String())
			}
		case rec.Code == http.StatusOK:
			if !isUser(user, password) {
				t.Fatalf("logged in with %q", header)
			}
		case rec.Code != http.StatusUnauthorized || rec.Body.String() != `"login failed"`:
			t.Fatalf("readable %q: status %d body %q", header, rec.Code, rec.Body.String())
		case isUser(user, password):
			t.Fatalf("a real user was refused: %q", header)
		}
	})
}

// refParseBasic is an independent statement of the strict Basic rules:
// "Basic" in any case, one space, a token68 that is canonical padded
// base64 (the decoder alone would skip CR and LF) of UTF-8
// "user:password", a non-empty user, no control characters, bounded.
func refParseBasic(h string) (user, password string, ok bool) {
	if len(h) > 4<<10 || len(h) < 7 || !strings.EqualFold(h[:6], "basic ") || !token68.MatchString(h[6:]) {
		return "", "", false
	}
	raw, err := base64.StdEncoding.Strict().DecodeString(h[6:])
	if err != nil || !utf8.Valid(raw) || strings.ContainsFunc(string(raw), func(r rune) bool { return r < 0x20 || r == 0x7f }) {
		return "", "", false
	}
	user, password, found := strings.Cut(string(raw), ":")
	if !found || user == "" {
		return "", "", false
	}
	return user, password, true
}

func isUser(login, password string) bool {
	login = strings.ToLower(strings.TrimSpace(login)) // as middleware.MemoryAccounts folds
	switch {
	case login == maryLogin:
		return password == maryPassword
	case login == "admin@example.com":
		return password == "admin demo password"
	case login == "jo" || login == "jo@example.org" || login == "jo.work@example.com":
		return password == joPassword
	}
	return false
}
