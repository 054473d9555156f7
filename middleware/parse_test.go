package middleware_test

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/tidegate/tidegate/middleware"
)

// requireMalformed asserts err is a 400 invalid_request with the reason.
func requireMalformed(t *testing.T, err error, reason string, msgAndArgs ...any) {
	t.Helper()
	require.ErrorIs(t, err, middleware.ErrMalformed, msgAndArgs...)
	e := middleware.AsError(err)
	require.Equal(t, http.StatusBadRequest, e.Status, msgAndArgs...)
	require.Equal(t, middleware.CodeInvalidRequest, e.Code, msgAndArgs...)
	require.Equal(t, reason, e.Reason, msgAndArgs...)
}

// requireNone asserts err is the bare ErrNoCredential sentinel.
func requireNone(t *testing.T, err error, msgAndArgs ...any) {
	t.Helper()
	require.True(t, err == middleware.ErrNoCredential, "want the bare ErrNoCredential, got %v: %v", err, fmt.Sprint(msgAndArgs...))
}

func TestHeaderValue(t *testing.T) {
	const name, limit = "X-Tidepool-Session-Token", 16
	big := strings.Repeat("a", limit+1)
	cases := []struct {
		name   string
		values []string
		want   string
		reason string // "" with want "": no credential
	}{
		{"absent", nil, "", ""},
		{"one value", []string{"tok"}, "tok", ""},
		{"at the limit", []string{strings.Repeat("a", limit)}, strings.Repeat("a", limit), ""},
		{"over the limit", []string{big}, "", "oversized"},
		{"second value over the limit", []string{"a", big}, "", "oversized"},
		{"twice, same value", []string{"tok", "tok"}, "tok", ""},
		{"three times, same value", []string{"tok", "tok", "tok"}, "tok", ""},
		{"twice, different values", []string{"tok", "other"}, "", "duplicate"},
		{"twice, one empty", []string{"tok", ""}, "", "duplicate"},
		{"empty", []string{""}, "", "empty"},
		{"empty twice", []string{"", ""}, "", "empty"},
		{"present but no values", []string{}, "", ""},
		// Whitespace around a value only arrives over HTTP/2 (HTTP/1.1
		// strips it), where it makes the request malformed (RFC 9113 §8.2.1).
		{"leading space", []string{" tok"}, "", "spacing"},
		{"trailing tab", []string{"tok\t"}, "", "spacing"},
		{"spaces only", []string{"  "}, "", "spacing"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := http.Header{}
			if tc.values != nil {
				h[name] = tc.values
			}
			got, err := middleware.HeaderValue(h, name, limit)
			switch {
			case tc.reason != "":
				requireMalformed(t, err, tc.reason)
				require.Empty(t, got)
			case tc.want == "":
				requireNone(t, err)
			default:
				require.NoError(t, err)
				require.Equal(t, tc.want, got)
			}
		})
	}
	// The name must be given canonical, as net/http stores incoming headers.
	_, err := middleware.HeaderValue(http.Header{"x-tidepool-session-token": {"tok"}}, name, limit)
	requireNone(t, err)
}

func TestAuthorizationCredentials(t *testing.T) {
	const limit = 64
	cases := []struct {
		name   string
		values []string
		want   string
		reason string
	}{
		{"absent", nil, "", ""},
		{"bearer", []string{"Bearer tok"}, "tok", ""},
		{"lower case scheme word", []string{"bearer tok"}, "tok", ""},
		{"upper case scheme word", []string{"BEARER tok"}, "tok", ""},
		{"mixed case scheme word", []string{"bEaReR tok"}, "tok", ""},
		{"rest kept verbatim", []string{"Bearer a b  c"}, "a b  c", ""},
		{"another scheme", []string{"Basic dG9rOg=="}, "", ""},
		{"a longer scheme word", []string{"Bearerx tok"}, "", ""},
		{"a longer scheme word alone", []string{"Bearerx"}, "", ""},
		{"a shorter word", []string{"Bear"}, "", ""},
		{"a token, no scheme", []string{"tok"}, "", ""},
		{"scheme word alone", []string{"Bearer"}, "", "empty"},
		{"scheme word and a space", []string{"Bearer "}, "", "spacing"},
		{"two spaces", []string{"Bearer  tok"}, "", "spacing"},
		{"a tab", []string{"Bearer\ttok"}, "", "spacing"},
		{"a comma", []string{"Bearer,tok"}, "", "spacing"},
		{"a space before the scheme word", []string{" Bearer tok"}, "", "spacing"},
		// Another scheme's spacing is that scheme's to judge, as its size
		// is: under Any, the answer must not depend on which extractor
		// runs first (a Basic header over plain HTTP is 403, not a
		// malformed bearer credential's 400).
		{"a tab before another scheme", []string{"\tDigest x"}, "", ""},
		{"a space after another scheme's credential", []string{"Basic dG9rOg== "}, "", ""},
		{"a space before an oversized header", []string{" Bearer " + strings.Repeat("a", limit)}, "", "oversized"},
		{"a tab before another scheme, oversized", []string{"\tDigest " + strings.Repeat("a", limit)}, "", ""},
		{"blanks only", []string{" \t "}, "", "spacing"},
		{"spaced, then different", []string{" Basic dG9rOg==", "Basic dG9rOg=="}, "", "duplicate"},
		{"a space after the token", []string{"Bearer tok "}, "", "spacing"},
		{"empty header", []string{""}, "", "empty"},
		{"twice, same", []string{"Bearer tok", "Bearer tok"}, "tok", ""},
		{"twice, different", []string{"Bearer tok", "Bearer other"}, "", "duplicate"},
		{"twice, different schemes", []string{"Basic dG9rOg==", "Bearer tok"}, "", "duplicate"},
		{"oversized", []string{"Bearer " + strings.Repeat("a", limit)}, "", "oversized"},
		// Another scheme's header is not this extractor's to judge by size:
		// under Any, a Bearer JWT over the Basic limit must not be refused by
		// the Basic extractor (see AuthorizationCredentials).
		{"oversized, another scheme", []string{"Basic " + strings.Repeat("a", limit)}, "", ""},
		{"oversized, a longer scheme word", []string{"Bearerx " + strings.Repeat("a", limit)}, "", ""},
		{"oversized, another scheme, twice", []string{"Basic " + strings.Repeat("a", limit), "Basic " + strings.Repeat("a", limit)}, "", ""},
		{"oversized, another scheme, then different", []string{"Basic " + strings.Repeat("a", limit), "Bearer tok"}, "", "oversized"},
		{"oversized scheme word alone", []string{"Bearer" + strings.Repeat(" ", limit)}, "", "oversized"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := http.Header{}
			if tc.values != nil {
				h["Authorization"] = tc.values
			}
			got, err := middleware.AuthorizationCredentials(h, "Bearer", limit)
			switch {
			case tc.reason != "":
				requireMalformed(t, err, tc.reason)
			case tc.want == "":
				requireNone(t, err)
			default:
				require.NoError(t, err)
				require.Equal(t, tc.want, got)
			}
		})
	}
}

func TestIsToken68(t *testing.T) {
	for _, s := range []string{"a", "Z", "0", "abc123", "-._~+/", "abc=", "abc==", "a=====", "eyJhbGciOi.eyJzdWIiOi.c2ln-_"} {
		require.True(t, middleware.IsToken68(s), "%q", s)
	}
	for _, s := range []string{"", "=", "==", "a=b", "a==b", "a b", " a", "a ", "a\x00", "a\t", "é", "a,b", "a:b", `a"`, "a;b", "a\\b", "a\x7f"} {
		require.False(t, middleware.IsToken68(s), "%q", s)
	}
}

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

// basicCases are the strictness rules of RFC 7617 as ParseBasic and the
// Basic extractor apply them. A case with reason "" and user "" expects no
// credential.
var basicCases = []struct {
	name           string
	values         []string
	user, password string
	reason         string
}{
	{"valid", []string{"Basic " + b64("alice:pw")}, "alice", "pw", ""},
	{"lower case scheme word", []string{"basic " + b64("alice:pw")}, "alice", "pw", ""},
	{"upper case scheme word", []string{"BASIC " + b64("alice:pw")}, "alice", "pw", ""},
	{"empty password", []string{"Basic " + b64("alice:")}, "alice", "", ""},
	{"extra colons: split at the first", []string{"Basic " + b64("a:b:c")}, "a", "b:c", ""},
	{"UTF-8", []string{"Basic " + b64("ålice:pässwörd✓")}, "ålice", "pässwörd✓", ""},
	{"spaces are not control characters", []string{"Basic " + b64("al ice:p w")}, "al ice", "p w", ""},
	{"long: decoded beyond the stack buffer", []string{"Basic " + b64("u:"+strings.Repeat("p", 400))}, "u", strings.Repeat("p", 400), ""},
	{"no colon", []string{"Basic " + b64("alice")}, "", "", "colon"},
	{"empty decoded value", []string{"Basic " + b64("")}, "", "", "spacing"},
	{"empty user", []string{"Basic " + b64(":pw")}, "", "", "empty user"},
	{"NUL in user", []string{"Basic " + b64("al\x00ice:pw")}, "", "", "control"},
	{"tab in password", []string{"Basic " + b64("alice:p\tw")}, "", "", "control"},
	{"newline in password", []string{"Basic " + b64("alice:pw\n")}, "", "", "control"},
	{"DEL in password", []string{"Basic " + b64("alice:p\x7fw")}, "", "", "control"},
	{"invalid UTF-8", []string{"Basic " + b64("alice:\xff\xfe")}, "", "", "utf8"},
	{"truncated UTF-8", []string{"Basic " + b64("alice:p\xc3")}, "", "", "utf8"},
	{"canonical YQ== (no colon)", []string{"Basic YQ=="}, "", "", "colon"},
	{"non-canonical YR==", []string{"Basic YR=="}, "", "", "base64"},
	{"canonical YTo=", []string{"Basic YTo="}, "a", "", ""},
	{"non-canonical YTp=", []string{"Basic YTp="}, "", "", "base64"},
	{"missing padding", []string{"Basic " + strings.TrimRight(b64("alice:pw"), "=")}, "", "", "base64"},
	{"too much padding", []string{"Basic " + b64("alice:pw") + "===="}, "", "", "base64"},
	{"URL-safe alphabet", []string{"Basic " + strings.NewReplacer("+", "-", "/", "_").Replace(b64("a:~~~?"))}, "", "", "base64"},
	{"standard alphabet with + and /", []string{"Basic " + b64("a:~~~?")}, "a", "~~~?", ""},
	{"CR LF inside the base64", []string{"Basic YWxp\r\n\r\nY2U6cHc="}, "", "", "base64"},
	{"LF inside the base64", []string{"Basic YWxpY2U6\n\n\n\ncHc="}, "", "", "base64"},
	{"not base64", []string{"Basic !!!!"}, "", "", "base64"},
	{"two spaces", []string{"Basic  " + b64("alice:pw")}, "", "", "spacing"},
	{"a tab", []string{"Basic\t" + b64("alice:pw")}, "", "", "spacing"},
	{"trailing space", []string{"Basic " + b64("alice:pw") + " "}, "", "", "spacing"},
	{"scheme word alone", []string{"Basic"}, "", "", "empty"},
	{"twice, same", []string{"Basic " + b64("alice:pw"), "Basic " + b64("alice:pw")}, "alice", "pw", ""},
	{"twice, different", []string{"Basic " + b64("alice:pw"), "Basic " + b64("bob:pw")}, "", "", "duplicate"},
	{"oversized", []string{"Basic " + b64("u:"+strings.Repeat("p", middleware.DefaultMaxHeaderBytes))}, "", "", "oversized"},
	{"bearer", []string{"Bearer tok"}, "", "", ""},
	{"absent", nil, "", "", ""},
}

func TestParseBasic(t *testing.T) {
	ex := basicSpec.extractor(t)
	for _, tc := range basicCases {
		t.Run(tc.name, func(t *testing.T) {
			h := http.Header{}
			if tc.values != nil {
				h["Authorization"] = tc.values
			}
			user, password, err := middleware.ParseBasic(h, middleware.DefaultMaxHeaderBytes)
			req := newRequest()
			req.Header = h
			cred, exErr := ex.Extract(req)
			switch {
			case tc.reason != "":
				requireMalformed(t, err, tc.reason)
				requireMalformed(t, exErr, tc.reason)
			case tc.user == "":
				requireNone(t, err)
				requireNone(t, exErr)
			default:
				require.NoError(t, err)
				require.Equal(t, tc.user, user)
				require.Equal(t, tc.password, password)
				require.NoError(t, exErr)
				require.Equal(t, kindBasic, cred.Kind)
				require.Equal(t, tc.user, cred.Token)
				require.Equal(t, tc.password, cred.Secret)
			}
		})
	}
}

func TestExtractorConstruction(t *testing.T) {
	_, err := middleware.NewHeaderExtractor("", sessionHeader)
	require.Error(t, err)
	_, err = middleware.NewHeaderExtractor(kindSession, "X Bad")
	require.Error(t, err)
	_, err = middleware.NewHeaderExtractor(kindSession, "")
	require.Error(t, err)
	_, err = middleware.NewAuthorizationExtractor(kindBearer, "Bear er")
	require.Error(t, err)
	_, err = middleware.NewAuthorizationExtractor("", "Bearer")
	require.Error(t, err)
	_, err = middleware.NewBasicExtractor("")
	require.Error(t, err)
	_, err = middleware.NewHeaderExtractor(kindSession, sessionHeader, middleware.WithTokenSyntax(nil))
	require.Error(t, err)
	_, err = middleware.NewHeaderExtractor(kindSession, sessionHeader, middleware.WithMaxHeaderBytes(-1))
	require.Error(t, err)

	// The header name matches in any case; WithTokenSyntax replaces token68.
	hexOnly := func(s string) bool { return strings.Trim(s, "0123456789abcdef") == "" }
	ex, err := middleware.NewHeaderExtractor(kindSession, "x-TIDEPOOL-session-token", middleware.WithTokenSyntax(hexOnly))
	require.NoError(t, err)
	req := newRequest()
	req.Header.Set(sessionHeader, "00ff")
	c, err := ex.Extract(req)
	require.NoError(t, err)
	require.Equal(t, "00ff", c.Token)
	req.Header.Set(sessionHeader, "00fg")
	_, err = ex.Extract(req)
	requireMalformed(t, err, "syntax")

	bex, err := middleware.NewAuthorizationExtractor(kindBearer, "Bearer", middleware.WithTokenSyntax(hexOnly))
	require.NoError(t, err)
	req = newRequest()
	req.Header.Set("Authorization", "Bearer abc=")
	_, err = bex.Extract(req)
	requireMalformed(t, err, "syntax")
}

func TestAsError(t *testing.T) {
	var typedNil *middleware.Error
	wrappedForbidden := middleware.Forbidden("r", "s")
	cases := []struct {
		name       string
		err        error
		kind       error
		status     int
		code       string
		reason     string
		retryAfter time.Duration
	}{
		{"bare no credential", middleware.ErrNoCredential, middleware.ErrNoCredential, 401, "", "", 0},
		{"bare malformed", middleware.ErrMalformed, middleware.ErrMalformed, 400, middleware.CodeInvalidRequest, "", 0},
		{"wrapped invalid", fmt.Errorf("jwt: %w", middleware.ErrInvalidCredential), middleware.ErrInvalidCredential, 401, middleware.CodeInvalidToken, "", 0},
		{"bare forbidden", middleware.ErrForbidden, middleware.ErrForbidden, 403, middleware.CodeInsufficientScope, "", 0},
		{"bare rate limited", middleware.ErrRateLimited, middleware.ErrRateLimited, 429, "", "", 0},
		{"bare unavailable", middleware.ErrUnavailable, middleware.ErrUnavailable, 503, "", "", middleware.DefaultRetryAfter},
		{"bare internal", middleware.ErrInternal, middleware.ErrInternal, 500, "", "", 0},
		{"deadline", context.DeadlineExceeded, middleware.ErrUnavailable, 503, "", "timeout", middleware.DefaultRetryAfter},
		{"wrapped deadline", fmt.Errorf("query: %w", context.DeadlineExceeded), middleware.ErrUnavailable, 503, "", "timeout", middleware.DefaultRetryAfter},
		{"canceled", context.Canceled, middleware.ErrUnavailable, 503, "", "backend", middleware.DefaultRetryAfter},
		{"anything else", io.ErrUnexpectedEOF, middleware.ErrUnavailable, 503, "", "backend", middleware.DefaultRetryAfter},
		{"wrapped *Error", fmt.Errorf("wrap: %w", wrappedForbidden), middleware.ErrForbidden, 403, middleware.CodeInsufficientScope, "r", 0},
		// Fail closed on a typed nil: AsError used to return nil, which
		// callVerifier read as success.
		{"typed nil *Error", typedNil, middleware.ErrInternal, 500, "", "nil *Error", 0},
		// Hand-built literals get their kind's status and code.
		{"literal without status", &middleware.Error{Kind: middleware.ErrInvalidCredential, Reason: "lit"}, middleware.ErrInvalidCredential, 401, middleware.CodeInvalidToken, "lit", 0},
		{"literal without kind", &middleware.Error{Status: 401}, middleware.ErrInternal, 500, "", "", 0},
		{"literal with a foreign kind", &middleware.Error{Kind: io.EOF, Status: 401}, middleware.ErrInternal, 500, "", "", 0},
		{"literal with a 200 status", &middleware.Error{Kind: middleware.ErrForbidden, Status: 200, Scope: "w"}, middleware.ErrForbidden, 403, middleware.CodeInsufficientScope, "", 0},
		{"literal rate limit keeps its delay", &middleware.Error{Kind: middleware.ErrRateLimited, RetryAfter: 3 * time.Second}, middleware.ErrRateLimited, 429, "", "", 3 * time.Second},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := middleware.AsError(tc.err)
			require.NotNil(t, e)
			require.ErrorIs(t, e, tc.kind)
			require.Equal(t, tc.status, e.Status)
			require.Equal(t, tc.code, e.Code)
			require.Equal(t, tc.reason, e.Reason)
			require.Equal(t, tc.retryAfter, e.RetryAfter)
			require.NotPanics(t, func() { _ = e.Error() })
			// Exactly one sentinel matches.
			n := 0
			for _, k := range []error{middleware.ErrNoCredential, middleware.ErrMalformed, middleware.ErrInvalidCredential,
				middleware.ErrForbidden, middleware.ErrRateLimited, middleware.ErrUnavailable, middleware.ErrInternal} {
				if errors.Is(e, k) {
					n++
				}
			}
			require.Equal(t, 1, n)
		})
	}
	require.Nil(t, middleware.AsError(nil))
	require.Same(t, wrappedForbidden, middleware.AsError(fmt.Errorf("wrap: %w", wrappedForbidden)))
	e := middleware.AsError(fmt.Errorf("x: %w", io.EOF))
	require.ErrorIs(t, e, io.EOF, "the cause stays reachable")
	lit := middleware.AsError(&middleware.Error{Kind: middleware.ErrForbidden, Scope: "w"})
	require.Equal(t, "w", lit.Scope)
}

func TestErrorConstructors(t *testing.T) {
	cause := errors.New("cause")
	cases := []struct {
		err    *middleware.Error
		kind   error
		status int
		code   string
		text   string
	}{
		{middleware.Missing(), middleware.ErrNoCredential, 401, "", "tidegate: no credential: missing"},
		{middleware.Malformed("syntax"), middleware.ErrMalformed, 400, middleware.CodeInvalidRequest, "tidegate: malformed credential: syntax"},
		{middleware.Invalid("revoked"), middleware.ErrInvalidCredential, 401, middleware.CodeInvalidToken, "tidegate: invalid credential: revoked"},
		{middleware.Forbidden("missing role", "admin"), middleware.ErrForbidden, 403, middleware.CodeInsufficientScope, "tidegate: forbidden: missing role"},
		{middleware.RateLimited("login", time.Minute), middleware.ErrRateLimited, 429, "", "tidegate: rate limited: login"},
		{middleware.Unavailable("redis", cause), middleware.ErrUnavailable, 503, "", "tidegate: verifier unavailable: redis"},
		{middleware.Internal("panic"), middleware.ErrInternal, 500, "", "tidegate: internal error: panic"},
		{middleware.Invalid(""), middleware.ErrInvalidCredential, 401, middleware.CodeInvalidToken, "tidegate: invalid credential"},
	}
	for _, tc := range cases {
		require.ErrorIs(t, tc.err, tc.kind)
		require.Equal(t, tc.status, tc.err.Status)
		require.Equal(t, tc.code, tc.err.Code)
		require.Equal(t, tc.text, tc.err.Error())
		require.Same(t, tc.err, middleware.AsError(tc.err))
	}
	require.Equal(t, "admin", middleware.Forbidden("r", "admin").Scope)
	require.Equal(t, time.Minute, middleware.RateLimited("r", time.Minute).RetryAfter)
	require.ErrorIs(t, middleware.Unavailable("redis", cause), cause)
}

// TestOversizedHeaderWithOuterWhitespaceIsNotAnonymous: a header value with
// whitespace around it (only HTTP/2 delivers one) is malformed whatever its
// size. Over the size bound, its first word was read as another scheme
// (" Bearer" is not "Bearer"), and Optional let the request through as
// anonymous.
func TestOversizedHeaderWithOuterWhitespaceIsNotAnonymous(t *testing.T) {
	long := strings.Repeat("A", 2*middleware.DefaultMaxHeaderBytes) // past every bound, spaces allowed too
	for _, v := range []string{" Bearer " + long, "\tBearer " + long, "Bearer " + long, "Bearer " + long + " "} {
		req := httptest.NewRequest(http.MethodGet, "/whoami", nil)
		req.Header.Set("Authorization", v)
		rec := httptest.NewRecorder()
		middleware.Optional(bearerScheme())(whoami).ServeHTTP(rec, req)
		require.Equal(t, http.StatusBadRequest, rec.Code, "%q...: %s", v[:8], rec.Body.String())
	}
}

func TestNamesScheme(t *testing.T) {
	for v, want := range map[string]bool{
		"Basic x": true, "basic": true, "BASIC  x": true, "Basic\tx": true, "Basic,x": true,
		"Basicx y": false, "Bearer x": false, "Basi": false, "": false, " Basic x": false,
	} {
		require.Equal(t, want, middleware.NamesScheme(v, "Basic"), "%q", v)
	}
}
