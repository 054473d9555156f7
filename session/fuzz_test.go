package session_test

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/stretchr/testify/require"
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

// FuzzTokenPath sends GET (or HEAD) /auth/token/{rest} through the
// Service's own handler, as a real server caller, with rest an escaped path
// that the fuzzer writes after nothing, an issued user token or the
// caller's own server token. The answer must be the documented one: 404
// when rest holds a "/" (no one-segment token path: tokenPaths leaves it
// to the mux, which has no such route); otherwise 200 with the token's
// userid, isserver and expires_at exactly when the unescaped segment is a
// token that was really issued, and 401 "Invalid session token" for
// anything else ("." and ".." included). No answer carries a token, in
// its body or in the token header.
func FuzzTokenPath(f *testing.F) {
	// prefix%3 puts nothing (0), the issued user token (1) or the caller's
	// own server token (2) before rest; more seeds in testdata/fuzz.
	f.Add(uint8(1), "", false)
	f.Add(uint8(0), "a%2Fb", false)
	f.Add(uint8(2), "/", true)
	fx := newFixture(f)
	server := fx.serverLogin(serverName, serverSecret)
	user := fx.login(maryLogin, maryPassword)
	userExpires := fx.clock.Now().Add(session.DefaultTokenLifetime).UTC().Format(time.RFC3339)
	serverExpires := fx.clock.Now().Add(session.DefaultServerTokenLifetime).UTC().Format(time.RFC3339)
	// Mounted without the fixture's ServeMux, which would clean the path
	// (and redirect) before the Service saw it, as chi or gin do not.
	h := http.StripPrefix("/auth", fx.svc.Handler())
	f.Fuzz(func(t *testing.T, prefix uint8, rest string, head bool) {
		switch prefix % 3 {
		case 1:
			rest = user + rest
		case 2:
			rest = server + rest
		}
		uri := "/auth/token/" + rest
		u, err := url.ParseRequestURI(uri)
		if err != nil || strings.ContainsAny(uri, " \t") {
			return // net/http refuses such a request line before any handler
		}
		method := http.MethodGet
		if head {
			method = http.MethodHead
		}
		req := httptest.NewRequest(method, "/", nil)
		req.URL, req.RequestURI = u, uri
		req.Header.Set(session.HeaderToken, server)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)

		body := rec.Body.String()
		if strings.Contains(body, user) || strings.Contains(body, server) || rec.Header().Get(session.HeaderToken) != "" {
			t.Fatalf("%s %q: a token in the answer: %q", method, uri, body)
		}
		segment, ok := strings.CutPrefix(u.EscapedPath(), "/auth/token/")
		if !ok {
			t.Fatalf("%q parsed to %q", uri, u.EscapedPath())
		}
		if strings.Contains(segment, "/") {
			if rec.Code != http.StatusNotFound {
				t.Fatalf("%s %q: status %d, want 404 for more than one segment", method, uri, rec.Code)
			}
			return
		}
		target, err := url.PathUnescape(segment)
		if err != nil {
			t.Fatalf("%q: the parsed path %q does not unescape: %v", uri, segment, err)
		}
		if rec.Header().Get("Cache-Control") != "no-store" {
			t.Fatalf("%s %q: Cache-Control %q", method, uri, rec.Header().Get("Cache-Control"))
		}
		var want tokenAnswer
		switch target {
		case user:
			want = tokenAnswer{UserID: maryID, IsServer: false, ExpiresAt: userExpires}
		case server:
			want = tokenAnswer{UserID: serverName, IsServer: true, ExpiresAt: serverExpires}
		default:
			if rec.Code != http.StatusUnauthorized || body != `"Invalid session token"` ||
				rec.Header().Get("WWW-Authenticate") != `X-Tidepool-Session-Token realm="tidepool"` {
				t.Fatalf("%s %q (target %q): status %d body %q, want 401", method, uri, target, rec.Code, body)
			}
			return
		}
		var got tokenAnswer
		if rec.Code != http.StatusOK || json.Unmarshal(rec.Body.Bytes(), &got) != nil || got != want {
			t.Fatalf("%s %q: an issued token got status %d body %q", method, uri, rec.Code, body)
		}
	})
}

// tokenAnswer is the body of GET /token/{token} and POST /serverlogin.
type tokenAnswer struct {
	UserID    string `json:"userid"`
	IsServer  bool   `json:"isserver"`
	ExpiresAt string `json:"expires_at"`
}

// FuzzServerLogin feeds the x-tidepool-server-name and
// x-tidepool-server-secret headers (the secret possibly twice) to POST
// /auth/serverlogin, on a Service whose server logins go through a limiter
// that never throttles, and checks the answer against an independent
// statement of the rules: a header that is empty, oversized (256 bytes of
// name, 1024 of secret), spaced at either end or repeated with another
// value is 400 "Missing login information"; readable credentials are 200
// only for the exact configured name and secret, with a server token, and
// 401 "login failed" with the server challenge otherwise. No answer ever
// quotes a secret.
func FuzzServerLogin(f *testing.F) {
	f.Add(serverName, serverSecret, "", false)
	f.Add(otherServer, otherSecret, otherSecret, true)
	f.Add(" "+serverName, serverSecret, "", false)
	f.Add(strings.Repeat("u", 257), serverSecret, "", false)
	limiter, err := middleware.NewMemoryLimiter(middleware.LimiterPolicy{AccountAttempts: 1 << 30, AddressAttempts: 1 << 30})
	require.NoError(f, err)
	fx := newFixture(f, withService(session.WithServerLoginLimiter(limiter)))
	servers := map[string]string{serverName: serverSecret, otherServer: otherSecret}
	f.Fuzz(func(t *testing.T, name, secret, second string, twice bool) {
		req := httptest.NewRequest(http.MethodPost, "/auth/serverlogin", nil)
		req.Header[session.HeaderServerName] = []string{name}
		req.Header[session.HeaderServerSecret] = []string{secret}
		if twice {
			req.Header[session.HeaderServerSecret] = append(req.Header[session.HeaderServerSecret], second)
		}
		rec := httptest.NewRecorder()
		fx.handler.ServeHTTP(rec, req)

		body, h := rec.Body.String(), rec.Header()
		for _, s := range []string{serverSecret, otherSecret} {
			if strings.Contains(body, s) {
				t.Fatalf("a secret in the body %q", body)
			}
		}
		readable := readableValue(name, 256) && readableValue(secret, 1024) && (!twice || second == secret)
		want, ok := servers[name]
		switch {
		case !readable:
			if rec.Code != http.StatusBadRequest || body != `"Missing login information"` {
				t.Fatalf("unreadable %q, %q, %q: status %d body %q", name, secret, second, rec.Code, body)
			}
		case ok && secret == want:
			var got tokenAnswer
			if rec.Code != http.StatusOK || json.Unmarshal(rec.Body.Bytes(), &got) != nil ||
				got.UserID != name || !got.IsServer || !token68.MatchString(h.Get(session.HeaderToken)) {
				t.Fatalf("server %q refused: status %d body %q", name, rec.Code, body)
			}
			if strings.Contains(body, h.Get(session.HeaderToken)) {
				t.Fatalf("the token in the body %q", body)
			}
		default:
			if rec.Code != http.StatusUnauthorized || body != `"login failed"` ||
				h.Get("WWW-Authenticate") != `X-Tidepool-Server-Secret realm="tidepool"` || h.Get(session.HeaderToken) != "" {
				t.Fatalf("%q, %q: status %d body %q, want 401", name, secret, rec.Code, body)
			}
		}
	})
}

// readableValue states what a server login header value must be: present,
// non-empty, at most limit bytes, without a space or tab at either end.
func readableValue(v string, limit int) bool {
	if v == "" || len(v) > limit {
		return false
	}
	first, last := v[0], v[len(v)-1]
	return first != ' ' && first != '\t' && last != ' ' && last != '\t'
}
