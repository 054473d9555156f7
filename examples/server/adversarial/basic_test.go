package adversarial_test

import (
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"github.com/tidegate/tidegate/internal/seed"
	"github.com/tidegate/tidegate/middleware"
)

// basicSeed is the demo seed plus a second app and a user whose id makes
// the standard base64 of its backend credentials contain both '+' and '/'
// (so that the URL-safe spelling of valid credentials can be sent).
func basicSeed() *seed.File {
	f := seed.Demo()
	f.Apps = append(f.Apps, seed.App{Name: "other",
		AppToken: "aaaabbbbccccddddeeeeffff00001111", BackendToken: "2222333344445555666677778888999900001111aaaa"})
	f.Users = append(f.Users, seed.User{UserID: "~~~???", Username: "tilde@example.com",
		Password: "tilde's long password", Emails: []string{"tilde@example.com"}, Roles: []string{"user"}})
	return f
}

// b64 is standard padded base64.
func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

// TestBasicDecoding sends app credentials (RFC 7617) in every shape a
// client or an attacker can give them, to /whoami over TLS. Only the one
// canonical spelling of valid credentials is accepted: standard alphabet,
// padded, no non-zero trailing bits, no white space or line breaks inside,
// the scheme word in any case followed by exactly one space. Anything else
// is 400 before any lookup.
func TestBasicDecoding(t *testing.T) {
	t.Parallel()
	s := newServer(t, setup{seed: basicSeed()})
	other := basicSeed().Apps[1]
	secret(other.AppToken)
	secret(other.BackendToken)
	app, backend := demoApp.AppToken, demoApp.BackendToken
	sess := s.appLogin(t, mary.Username, mary.Password)
	user := b64(app + ":" + sess)
	secret(user)
	backendMary := b64(backend + ":" + mary.UserID) // ...Mw==
	secret(backendMary)
	tilde := b64(backend + ":~~~???") // ...fn5+Pz8/
	secret(tilde)
	require.True(t, strings.HasSuffix(backendMary, "Mw=="), backendMary)
	require.True(t, strings.HasSuffix(tilde, "fn5+Pz8/"), tilde)
	wantTilde := want{status: 200, cacheable: true, body: whoamiBody("~~~???", "basic", "backend", "demo", "user")}
	wantAdminBackend := want{status: 200, cacheable: true, body: whoamiBody(admin.UserID, "basic", "backend", "demo", "user", "admin")}

	cases := []headerCase{
		{name: "valid user credentials", header: []string{"Authorization", "Basic " + user}, want: wantMaryBasic},
		{name: "valid backend credentials", header: []string{"Authorization", "Basic " + backendMary}, want: wantMaryBackend},
		{name: "valid backend credentials, '+' and '/'", header: []string{"Authorization", "Basic " + tilde}, want: wantTilde},
		{name: "backend credentials for another user", header: []string{"Authorization", "Basic " + b64(backend+":"+admin.UserID)}, want: wantAdminBackend},
		// Parts.
		{name: "app token alone needs a session here", header: []string{"Authorization", "Basic " + b64(app+":")}, want: wantBasicNeedsSession},
		{name: "backend token alone needs a user here", header: []string{"Authorization", "Basic " + b64(backend+":")}, want: wantBasicNeedsSession},
		{name: "no colon", header: []string{"Authorization", "Basic " + b64(app+sess)}, want: wantBasicMalformed},
		{name: "empty user-id", header: []string{"Authorization", "Basic " + b64(":"+sess)}, want: wantBasicMalformed},
		{name: "both parts empty", header: []string{"Authorization", "Basic " + b64(":")}, want: wantBasicMalformed},
		{name: "nothing encoded", raw: []string{"Authorization: Basic "}, want: wantBasicMalformed},
		{name: "extra colon after the session", header: []string{"Authorization", "Basic " + b64(app+":"+sess+":")}, want: wantBasicInvalid},
		{name: "extra colon before the session", header: []string{"Authorization", "Basic " + b64(app+"::"+sess)}, want: wantBasicInvalid},
		{name: "three parts", header: []string{"Authorization", "Basic " + b64(app+":"+sess+":"+sess)}, want: wantBasicInvalid},
		{name: "colon inside the app token", header: []string{"Authorization", "Basic " + b64(app[:16]+":"+app[16:]+":"+sess)}, want: wantBasicUnknownApp},
		{name: "unknown app token", header: []string{"Authorization", "Basic " + b64(strings.Repeat("0", 32)+":"+sess)}, want: wantBasicUnknownApp},
		{name: "app token in upper case", header: []string{"Authorization", "Basic " + b64(strings.ToUpper(app)+":"+sess)}, want: wantBasicUnknownApp},
		{name: "app token one short", header: []string{"Authorization", "Basic " + b64(app[1:]+":"+sess)}, want: wantBasicUnknownApp},
		{name: "backend token cut to an app token's length", header: []string{"Authorization", "Basic " + b64(backend[:32]+":"+sess)}, want: wantBasicUnknownApp},
		{name: "session of another app", header: []string{"Authorization", "Basic " + b64(other.AppToken+":"+sess)}, want: wantBasicInvalid},
		{name: "unknown session", header: []string{"Authorization", "Basic " + b64(app+":"+randomToken())}, want: wantBasicInvalid},
		{name: "user id where a session belongs", header: []string{"Authorization", "Basic " + b64(app+":"+mary.UserID)}, want: wantBasicInvalid},
		{name: "session where a user id belongs", header: []string{"Authorization", "Basic " + b64(backend+":"+sess)}, want: wantBasicInvalid},
		{name: "unknown user id", header: []string{"Authorization", "Basic " + b64(backend+":nobody-at-all")}, want: wantBasicInvalid},
		{name: "app principal as user id", header: []string{"Authorization", "Basic " + b64(backend+":app:demo")}, want: wantBasicInvalid},
		{name: "user id over 256 bytes", header: []string{"Authorization", "Basic " + b64(backend+":"+strings.Repeat("u", 257))}, want: wantBasicInvalid},
		{name: "unicode user-id", header: []string{"Authorization", "Basic " + b64("\u00e5lice:"+sess)}, want: wantBasicUnknownApp},
		// Bad base64.
		{name: "URL-safe alphabet", header: []string{"Authorization", "Basic " + strings.NewReplacer("+", "-", "/", "_").Replace(tilde)}, want: wantBasicMalformed},
		{name: "missing padding", header: []string{"Authorization", "Basic " + strings.TrimRight(backendMary, "=")}, want: wantBasicMalformed},
		{name: "one padding character missing", header: []string{"Authorization", "Basic " + strings.TrimSuffix(backendMary, "=")}, want: wantBasicMalformed},
		{name: "extra padding", header: []string{"Authorization", "Basic " + backendMary + "="}, want: wantBasicMalformed},
		{name: "a padding block too many", header: []string{"Authorization", "Basic " + tilde + "===="}, want: wantBasicMalformed},
		{name: "padding in the middle", header: []string{"Authorization", "Basic " + backendMary[:8] + "====" + backendMary[8:]}, want: wantBasicMalformed},
		{name: "non-canonical trailing bits", header: []string{"Authorization", "Basic " + strings.TrimSuffix(backendMary, "Mw==") + "Mx=="}, want: wantBasicMalformed},
		{name: "space inside", header: []string{"Authorization", "Basic " + user[:8] + " " + user[8:]}, want: wantBasicMalformed},
		{name: "HTAB inside", raw: []string{"Authorization: Basic " + user[:8] + "\t" + user[8:]}, want: wantBasicMalformed},
		{name: "obs-fold (CRLF and a space) inside", raw: []string{"Authorization: Basic " + user[:8], " " + user[8:]}, want: wantBasicMalformed},
		{name: "bare CR inside", raw: []string{"Authorization: Basic " + user[:8] + "\r" + user[8:]}, want: wantNetHTTPBadRequest},
		{name: "not base64 at all", header: []string{"Authorization", "Basic " + app + ":" + sess}, want: wantBasicMalformed},
		{name: "base64 of base64", header: []string{"Authorization", "Basic " + b64(user)}, want: wantBasicMalformed},
		// What the decoded text may hold.
		{name: "invalid UTF-8 in the password", header: []string{"Authorization", "Basic " + b64(app+":"+sess+"\xff")}, want: wantBasicMalformed},
		{name: "invalid UTF-8 in the user-id", header: []string{"Authorization", "Basic " + b64("\xc3"+app+":"+sess)}, want: wantBasicMalformed},
		{name: "overlong UTF-8 encoding of ':'", header: []string{"Authorization", "Basic " + b64(app+"\xc0\xba"+sess)}, want: wantBasicMalformed},
		{name: "NUL in the user-id", header: []string{"Authorization", "Basic " + b64(app+"\x00:"+sess)}, want: wantBasicMalformed},
		{name: "HTAB in the password", header: []string{"Authorization", "Basic " + b64(app+":\t"+sess)}, want: wantBasicMalformed},
		{name: "DEL in the password", header: []string{"Authorization", "Basic " + b64(app+":"+sess+"\x7f")}, want: wantBasicMalformed},
		{name: "CRLF in the password", header: []string{"Authorization", "Basic " + b64(app+":"+sess+"\r\n")}, want: wantBasicMalformed},
		// The scheme word and its spacing.
		{name: "scheme word lower case", header: []string{"Authorization", "basic " + user}, want: wantMaryBasic},
		{name: "scheme word upper case", header: []string{"Authorization", "BASIC " + user}, want: wantMaryBasic},
		{name: "scheme word mixed case", header: []string{"Authorization", "bAsIc " + user}, want: wantMaryBasic},
		{name: "two spaces", header: []string{"Authorization", "Basic  " + user}, want: wantBasicMalformed},
		{name: "HTAB after the scheme word", raw: []string{"Authorization: Basic\t" + user}, want: wantBasicMalformed},
		{name: "comma after the scheme word", header: []string{"Authorization", "Basic," + user}, want: wantBasicMalformed},
		{name: "scheme word alone", header: []string{"Authorization", "Basic"}, want: wantBasicMalformed},
		{name: "trailing spaces are not part of the value", raw: []string{"Authorization: Basic " + user + "   "}, want: wantMaryBasic},
		{name: "auth-param syntax", header: []string{"Authorization", `Basic token="` + user + `"`}, want: wantBasicMalformed},
		// Size: the header is bounded at 1 KiB before decoding.
		{name: "1022 bytes is read", header: []string{"Authorization", "Basic " + b64(app+":"+strings.Repeat("s", 1016/4*3-33))}, want: wantBasicInvalid},
		{name: "1026 bytes is oversized", header: []string{"Authorization", "Basic " + b64(app+":"+strings.Repeat("s", 1020/4*3-33))}, want: wantBasicMalformed},
	}
	runHeaderCases(t, s, cases)

	// CR and LF cannot reach a handler over the wire (net/http refuses a
	// bare CR and joins a folded line with a space, both cases above); a
	// handler behind another front end may still see them, and
	// encoding/base64 would skip them even in Strict mode.
	for _, c := range []struct{ name, value string }{
		{"CRLF inside", "Basic " + user[:8] + "\r\n" + user[8:]},
		{"LF inside", "Basic " + user[:8] + "\n" + user[8:]},
		{"CRLF at the end", "Basic " + user + "\r\n"},
	} {
		t.Run("in-process/"+c.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodGet, "https://example.com/whoami", nil)
			r.Header["Authorization"] = []string{c.value}
			rec := httptest.NewRecorder()
			s.handler.ServeHTTP(rec, r)
			s.check(t, reply{status: rec.Code, header: rec.Header(), body: rec.Body.String()}, wantBasicMalformed)
		})
	}
}

// TestBasicNeedsHTTPS sends app credentials over plain HTTP: refused with
// 403 before any lookup (a token sent in clear text is never confirmed
// valid to an eavesdropper), whatever their shape, and whatever an
// untrusted peer claims in X-Forwarded-Proto. Other kinds and anonymous
// requests are not affected, and no plain-HTTP response carries HSTS
// (RFC 6797 §7.2). With the peer listed as a trusted proxy, its
// X-Forwarded-Proto: https is believed.
func TestBasicNeedsHTTPS(t *testing.T) {
	t.Parallel()
	s := newServer(t, setup{plain: true})
	backendMary := secret("Basic " + b64(demoApp.BackendToken+":"+mary.UserID))
	session := s.sessionLogin(t, mary.Username, mary.Password)
	cases := []headerCase{
		{name: "valid backend credentials", header: []string{"Authorization", backendMary}, want: wantBasicHTTPSRequired},
		{name: "app token alone", header: []string{"Authorization", "Basic " + b64(demoApp.AppToken+":")}, want: wantBasicHTTPSRequired},
		{name: "malformed base64", header: []string{"Authorization", "Basic !!!!"}, want: wantBasicHTTPSRequired},
		{name: "scheme word alone", header: []string{"Authorization", "basic"}, want: wantBasicHTTPSRequired},
		{name: "X-Forwarded-Proto from an untrusted peer", header: []string{"Authorization", backendMary, "X-Forwarded-Proto", "https"}, want: wantBasicHTTPSRequired},
		{name: "Forwarded from an untrusted peer", header: []string{"Authorization", backendMary, "Forwarded", "proto=https"}, want: wantBasicHTTPSRequired},
		{name: "no credential", want: wantNoCredential},
		{name: "session token", header: []string{"X-Tidepool-Session-Token", session}, want: wantMarySession},
		{name: "an empty header of another scheme stays 400", header: []string{"Authorization", "Bearer"}, want: wantBearerMalformed},
	}
	runHeaderCases(t, s, cases)

	t.Run("login over plain HTTP", func(t *testing.T) {
		got := s.send(t, req{method: http.MethodPost, path: "/0.4/me/login", body: `{"user_name":"mary@example.com","password":"` + mary.Password + `"}`,
			header: h("Authorization", "Basic "+b64(demoApp.AppToken+":"), "Content-Type", "application/json")})
		s.check(t, got, wantBasicHTTPSRequired)
	})

	t.Run("X-Forwarded-Proto from a trusted proxy", func(t *testing.T) {
		proxies, err := middleware.NewTrustedProxies("127.0.0.1/32", "::1/128")
		require.NoError(t, err)
		behind := newServer(t, setup{plain: true, proxies: proxies})
		got := behind.get(t, "/whoami", "Authorization", backendMary, "X-Forwarded-Proto", "https")
		// The proxy said HTTPS: the answer carries HSTS, as over TLS.
		checkReply(t, got, wantMaryBackend, true)
		got = behind.get(t, "/whoami", "Authorization", backendMary)
		behind.check(t, got, wantBasicHTTPSRequired)
	})
}
