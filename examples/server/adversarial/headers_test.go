package adversarial_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// headerCase is one request to /whoami (or path) and its exact answer.
// Headers go through net/http's client (canonical names, bytes it allows);
// raw lines are written to the connection exactly as given.
type headerCase struct {
	name   string
	path   string   // default /whoami
	header []string // name, value pairs, for net/http's client
	raw    []string // header lines, written as is
	want   want
}

func runHeaderCases(t *testing.T, s *server, cases []headerCase) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path := c.path
			if path == "" {
				path = "/whoami"
			}
			var got reply
			if c.raw != nil {
				got = s.raw(t, rawGet(path, c.raw...))
			} else {
				got = s.get(t, path, c.header...)
			}
			s.check(t, got, c.want)
		})
	}
}

// TestHeaderParsing sends every credential header empty, doubled,
// oversized, with control characters, under odd wire spellings of its name,
// together with another kind, in the query string instead of a header, and
// with auth-schemes tidegate does not speak.
//
// Decided behaviour for header names: HTTP field names are
// case-insensitive (RFC 9110 §5.1) and net/http canonicalises them, so
// every case spelling of x-tidepool-session-token and authorization works.
// A name with underscores (x_tidepool_session_token) is a different field:
// tidegate ignores it (401, no credential), and never maps "_" to "-" the
// way CGI-style servers do, so a proxy that strips the real header cannot
// be bypassed with the underscored one. A space before the colon is refused
// by net/http itself (RFC 9112 §5.1), before any handler runs.
func TestHeaderParsing(t *testing.T) {
	t.Parallel()
	s := newServer(t, setup{})
	session := s.sessionLogin(t, mary.Username, mary.Password)
	jwt := s.bearerLogin(t, mary.Username, mary.Password).Access
	userBasic := secret(basicAuth(demoApp.AppToken, s.appLogin(t, mary.Username, mary.Password)))
	unknown := randomToken()
	bearerJWT := secret("Bearer " + jwt)

	cases := []headerCase{
		// x-tidepool-session-token: empty, doubled, oversized.
		{name: "session/valid", header: []string{"X-Tidepool-Session-Token", session}, want: wantMarySession},
		{name: "session/empty", raw: []string{"X-Tidepool-Session-Token:"}, want: wantSessionMalformed},
		{name: "session/blank", raw: []string{"X-Tidepool-Session-Token:    "}, want: wantSessionMalformed},
		{name: "session/surrounding spaces are not part of the value", raw: []string{"X-Tidepool-Session-Token:   " + session + "  "}, want: wantMarySession},
		{name: "session/doubled same value", header: []string{"X-Tidepool-Session-Token", session, "X-Tidepool-Session-Token", session}, want: wantMarySession},
		{name: "session/doubled different values", header: []string{"X-Tidepool-Session-Token", session, "X-Tidepool-Session-Token", unknown}, want: wantSessionMalformed},
		{name: "session/doubled different spellings", raw: []string{"x-tidepool-session-token: " + session, "X-TIDEPOOL-SESSION-TOKEN: " + unknown}, want: wantSessionMalformed},
		{name: "session/doubled one empty", raw: []string{"X-Tidepool-Session-Token: " + session, "X-Tidepool-Session-Token:"}, want: wantSessionMalformed},
		{name: "session/comma-joined values", header: []string{"X-Tidepool-Session-Token", session + ", " + session}, want: wantSessionMalformed},
		{name: "session/1024 bytes is read", header: []string{"X-Tidepool-Session-Token", strings.Repeat("A", 1024)}, want: wantSessionInvalid},
		{name: "session/1025 bytes is oversized", header: []string{"X-Tidepool-Session-Token", strings.Repeat("A", 1025)}, want: wantSessionMalformed},
		{name: "session/8 KiB+1 is oversized", header: []string{"X-Tidepool-Session-Token", strings.Repeat("A", 8<<10+1)}, want: wantSessionMalformed},
		{name: "session/unknown token", header: []string{"X-Tidepool-Session-Token", unknown}, want: wantSessionInvalid},
		// Control characters: net/http refuses all but HTAB; obs-fold
		// arrives joined by a space. What reaches tidegate is refused.
		{name: "session/HTAB inside", raw: []string{"X-Tidepool-Session-Token: " + session[:10] + "\t" + session[10:]}, want: wantSessionMalformed},
		{name: "session/obs-fold continuation", raw: []string{"X-Tidepool-Session-Token: " + session[:10], " " + session[10:]}, want: wantSessionMalformed},
		{name: "session/NUL inside", raw: []string{"X-Tidepool-Session-Token: " + session[:10] + "\x00" + session[10:]}, want: wantNetHTTPBadRequest},
		{name: "session/DEL inside", raw: []string{"X-Tidepool-Session-Token: " + session[:10] + "\x7f" + session[10:]}, want: wantNetHTTPBadRequest},
		{name: "session/bare CR inside", raw: []string{"X-Tidepool-Session-Token: " + session[:10] + "\r" + session[10:]}, want: wantNetHTTPBadRequest},
		{name: "session/bare LF inside", raw: []string{"X-Tidepool-Session-Token: " + session[:10] + "\n" + session[10:]}, want: wantNetHTTPBadRequest},
		{name: "session/byte 0xff inside", raw: []string{"X-Tidepool-Session-Token: " + session[:10] + "\xff" + session[10:]}, want: wantSessionMalformed},
		{name: "session/space inside", header: []string{"X-Tidepool-Session-Token", session[:10] + " " + session[10:]}, want: wantSessionMalformed},
		{name: "session/padding first", header: []string{"X-Tidepool-Session-Token", "=" + session}, want: wantSessionMalformed},
		{name: "session/quoted", header: []string{"X-Tidepool-Session-Token", `"` + session + `"`}, want: wantSessionMalformed},
		// Wire spellings of the name.
		{name: "session/name lower case", raw: []string{"x-tidepool-session-token: " + session}, want: wantMarySession},
		{name: "session/name upper case", raw: []string{"X-TIDEPOOL-SESSION-TOKEN: " + session}, want: wantMarySession},
		{name: "session/name mixed case", raw: []string{"x-TiDePoOl-SeSsIoN-tOkEn: " + session}, want: wantMarySession},
		{name: "session/name with underscores is another header", raw: []string{"x_tidepool_session_token: " + session}, want: wantNoCredential},
		{name: "session/name with underscores, upper case", raw: []string{"X_TIDEPOOL_SESSION_TOKEN: " + session}, want: wantNoCredential},
		{name: "session/name with space before colon", raw: []string{"X-Tidepool-Session-Token : " + session},
			want: want{status: 400, body: "400 Bad Request: invalid header name", netHTTP: true}},
		{name: "session/name without the X- prefix", raw: []string{"Tidepool-Session-Token: " + session}, want: wantNoCredential},
		// Query strings are never read.
		{name: "query/session token", path: "/whoami?x-tidepool-session-token=" + url.QueryEscape(session), want: wantNoCredential},
		{name: "query/session_token", path: "/whoami?session_token=" + url.QueryEscape(session), want: wantNoCredential},
		{name: "query/access_token (RFC 6750 §2.3)", path: "/whoami?access_token=" + url.QueryEscape(jwt), want: wantNoCredential},
		{name: "query/access_token on ping", path: "/api/v1/ping?access_token=" + url.QueryEscape(jwt), want: wantBearerMissing},
		{name: "query/authorization", path: "/whoami?authorization=" + url.QueryEscape(bearerJWT), want: wantNoCredential},
		{name: "cookie/session token", header: []string{"Cookie", "x-tidepool-session-token=" + session}, want: wantNoCredential},
		{name: "cookie/access token", header: []string{"Cookie", "access_token=" + jwt}, want: wantNoCredential},

		// Authorization: empty, doubled, oversized, spellings.
		{name: "authorization/bearer valid", header: []string{"Authorization", bearerJWT}, want: wantMaryBearer},
		{name: "authorization/empty", raw: []string{"Authorization:"}, want: wantBearerMalformed},
		{name: "authorization/blank", raw: []string{"Authorization:   "}, want: wantBearerMalformed},
		{name: "authorization/Bearer without token", header: []string{"Authorization", "Bearer"}, want: wantBearerMalformed},
		{name: "authorization/Bearer and a space", raw: []string{"Authorization: Bearer "}, want: wantBearerMalformed},
		{name: "authorization/Bearer two spaces (RFC 6750 §2.1: 1*SP)", header: []string{"Authorization", "Bearer  " + jwt}, want: wantMaryBearer},
		{name: "authorization/Bearer HTAB", raw: []string{"Authorization: Bearer\t" + jwt}, want: wantBearerMalformed},
		{name: "authorization/Bearer comma", header: []string{"Authorization", "Bearer," + jwt}, want: wantBearerMalformed},
		{name: "authorization/bearer lower case", header: []string{"Authorization", "bearer " + jwt}, want: wantMaryBearer},
		{name: "authorization/BEARER upper case", header: []string{"Authorization", "BEARER " + jwt}, want: wantMaryBearer},
		{name: "authorization/name lower case", raw: []string{"authorization: Bearer " + jwt}, want: wantMaryBearer},
		{name: "authorization/name upper case", raw: []string{"AUTHORIZATION: Bearer " + jwt}, want: wantMaryBearer},
		{name: "authorization/name with underscore", raw: []string{"Author_ization: Bearer " + jwt}, want: wantNoCredential},
		{name: "authorization/doubled same value", header: []string{"Authorization", bearerJWT, "Authorization", bearerJWT}, want: wantMaryBearer},
		{name: "authorization/doubled different values", header: []string{"Authorization", bearerJWT, "Authorization", "Bearer a.b.c"}, want: wantBearerMalformed},
		{name: "authorization/doubled Bearer and Basic", header: []string{"Authorization", bearerJWT, "Authorization", userBasic}, want: wantBearerMalformed},
		{name: "authorization/doubled Basic and Bearer", header: []string{"Authorization", userBasic, "Authorization", bearerJWT}, want: wantBearerMalformed},
		{name: "authorization/8 KiB+1 of Bearer is read", header: []string{"Authorization", "Bearer " + strings.Repeat("A", 8<<10-7-2) + ".."}, want: wantBearerInvalid},
		{name: "authorization/Bearer token of 8 KiB is read", header: []string{"Authorization", "Bearer " + strings.Repeat("A", 8<<10-2) + ".."}, want: wantBearerInvalid},
		{name: "authorization/Bearer token of 8 KiB+1 is oversized", header: []string{"Authorization", "Bearer " + strings.Repeat("A", 8<<10-1) + ".."}, want: wantBearerMalformed},
		{name: "authorization/8 KiB+1 of Basic is oversized", header: []string{"Authorization", "Basic " + strings.Repeat("A", 8<<10+1-6)}, want: wantBasicMalformed},
		{name: "authorization/past net/http's 1 MB header limit", header: []string{"Authorization", "Bearer " + strings.Repeat("A", 2<<20)},
			want: want{status: http.StatusRequestHeaderFieldsTooLarge, body: "431 Request Header Fields Too Large", netHTTP: true}},
		{name: "authorization/comma-joined tokens", header: []string{"Authorization", bearerJWT + ", " + jwt}, want: wantBearerMalformed},
		{name: "authorization/NUL inside", raw: []string{"Authorization: Bearer " + jwt[:20] + "\x00" + jwt[20:]}, want: wantNetHTTPBadRequest},

		// Unsupported schemes: no credential of any kind tidegate speaks.
		{name: "scheme/Digest", header: []string{"Authorization", `Digest username="mary", realm="tidegate", nonce="abc", uri="/whoami", response="6629fae49393a05397450978507c4ef1"`}, want: wantNoCredential},
		{name: "scheme/Negotiate", header: []string{"Authorization", "Negotiate YIIBhwYGKwYBBQUCoIIBezCCAXegDTALBgkqhkiG9xIBAgI="}, want: wantNoCredential},
		{name: "scheme/Token", header: []string{"Authorization", "Token " + session}, want: wantNoCredential},
		{name: "scheme/OAuth", header: []string{"Authorization", `OAuth oauth_token="` + session + `"`}, want: wantNoCredential},
		{name: "scheme/JWT", header: []string{"Authorization", "JWT " + jwt}, want: wantNoCredential},
		{name: "scheme/Bearerish", header: []string{"Authorization", "Bearerish " + jwt}, want: wantNoCredential},
		{name: "scheme/Basically", header: []string{"Authorization", "Basically " + jwt}, want: wantNoCredential},
		{name: "scheme/word alone", header: []string{"Authorization", "Negotiate"}, want: wantNoCredential},
		{name: "scheme/the session token alone", header: []string{"Authorization", session}, want: wantNoCredential},
		{name: "scheme/the JWT alone", header: []string{"Authorization", jwt}, want: wantNoCredential},

		// Two kinds at once: tidegate never guesses which one counts.
		{name: "two kinds/session and bearer", header: []string{"X-Tidepool-Session-Token", session, "Authorization", bearerJWT}, want: wantBearerMalformed},
		{name: "two kinds/session and basic", header: []string{"X-Tidepool-Session-Token", session, "Authorization", userBasic}, want: wantSessionMalformed},
		{name: "two kinds/session and an invalid bearer", header: []string{"X-Tidepool-Session-Token", session, "Authorization", "Bearer a.b.c"}, want: wantBearerMalformed},
		{name: "two kinds/session and an unsupported scheme", header: []string{"X-Tidepool-Session-Token", session, "Authorization", "Digest x"}, want: wantMarySession},
		{name: "two kinds/session and an oversized unsupported scheme", header: []string{"X-Tidepool-Session-Token", session, "Authorization", "Digest " + strings.Repeat("d", 9000)}, want: wantMarySession},
		{name: "scheme/oversized unsupported scheme alone", header: []string{"Authorization", "Digest " + strings.Repeat("d", 9000)}, want: wantNoCredential},
		{name: "two kinds/malformed session and bearer", header: []string{"X-Tidepool-Session-Token", "a b", "Authorization", bearerJWT}, want: wantBearerMalformed},
	}
	runHeaderCases(t, s, cases)

	t.Run("query/form body on ping is not read", func(t *testing.T) {
		got := s.send(t, req{path: "/api/v1/ping", body: "access_token=" + url.QueryEscape(jwt),
			header: h("Content-Type", "application/x-www-form-urlencoded")})
		s.check(t, got, wantBearerMissing)
	})
}

// TestBearerTokenSyntax sends bearer tokens with bytes outside RFC 6750's
// b64token syntax (an HTAB, a space, a quote, a byte over 0x7f). They are
// malformed requests, 400 with error="invalid_request" (RFC 6750 §3.1), as
// the session and Basic kinds answer for the same bytes, and never reach
// golang-jwt. (Found by this suite: the bearer extractor once checked only
// for two dots and answered 401 invalid_token.)
func TestBearerTokenSyntax(t *testing.T) {
	t.Parallel()
	s := newServer(t, setup{})
	jwt := s.bearerLogin(t, mary.Username, mary.Password).Access
	dot := strings.IndexByte(jwt, '.')
	runHeaderCases(t, s, []headerCase{
		{name: "HTAB inside the token", raw: []string{"Authorization: Bearer " + jwt[:dot+3] + "\t" + jwt[dot+3:]}, want: wantBearerMalformed},
		{name: "space inside the token", header: []string{"Authorization", "Bearer " + jwt[:dot+3] + " " + jwt[dot+3:]}, want: wantBearerMalformed},
		{name: "quoted token", header: []string{"Authorization", `Bearer "` + jwt + `"`}, want: wantBearerMalformed},
		{name: "byte 0xff inside the token", raw: []string{"Authorization: Bearer " + jwt[:dot+3] + "\xff" + jwt[dot+3:]}, want: wantBearerMalformed},
	})
}
