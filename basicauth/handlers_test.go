package basicauth_test

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/tidegate/tidegate/basicauth"
	"github.com/tidegate/tidegate/middleware"
)

// TestBodiesMustBeJSON: sign-up and login read only a body declared
// application/json, before any other work, as bearer's endpoints do.
// Basic credentials are sent by a browser on its own once its user has
// answered the challenge, and a cross-site form or text/plain POST needs
// no CORS preflight: those created accounts and issued sessions.
func TestBodiesMustBeJSON(t *testing.T) {
	f := newFixture(t, fixtureConfig{})
	login := `{"user_name":"mary","password":"` + maryPassword + `"}`
	signup := `{"user_name":"eve","email":"eve@example.com","password":"a long passphrase for eve"}`
	for _, tc := range []struct{ name, path, body, contentType string }{
		{"login text/plain", "/0.4/me/login", login, "text/plain"},
		{"login form", "/0.4/me/login", login, "application/x-www-form-urlencoded"},
		{"login without a type", "/0.4/me/login", login, ""},
		{"login, a JSON-looking type", "/0.4/me/login", login, "application/json-patch+json"},
		{"sign-up text/plain", "/0.4/users", signup, "text/plain; charset=utf-8"},
		{"sign-up form", "/0.4/users", signup, "multipart/form-data; boundary=x"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := f.do(t, http.MethodPost, tc.path, basic(appA+":"), tc.body, "Content-Type", tc.contentType)
			assert.Equal(t, http.StatusUnsupportedMediaType, res.status, res.body)
			assert.JSONEq(t, `{"errors":[{"code":4150,"message":"Content-Type must be application/json, with no Content-Encoding"}]}`, res.body)
			assert.Equal(t, "no-store", res.header.Get("Cache-Control"))
		})
	}
	_, err := f.accounts.FindByLogin(t.Context(), "eve")
	assert.ErrorIs(t, err, middleware.ErrAccountNotFound, "no account was created")
	assert.Equal(t, 4150, basicauth.CodeNotJSON)

	for _, contentType := range []string{"application/json", "application/json; charset=utf-8", "Application/JSON"} {
		res := f.do(t, http.MethodPost, "/0.4/me/login", basic(appA+":"), login, "Content-Type", contentType)
		assert.Equal(t, http.StatusCreated, res.status, "%s: %s", contentType, res.body)
	}
}

// TestTwoContentTypeLinesAre415: Content-Type is not a list (RFC 9110
// §8.3, §5.3), so a sign-up or login with two Content-Type field lines is
// malformed, answered as another content type is. The endpoints read the
// first line only, so application/json then text/plain logged in while a
// proxy or WAF reading the last line saw text/plain, and the reverse order
// was 415.
func TestTwoContentTypeLinesAre415(t *testing.T) {
	f := newFixture(t, fixtureConfig{})
	login := `{"user_name":"mary","password":"` + maryPassword + `"}`
	signup := `{"user_name":"eve","email":"eve@example.com","password":"a long passphrase for eve"}`
	for _, order := range [][2]string{{"application/json", "text/plain"}, {"text/plain", "application/json"},
		{"application/json", "application/json"}} {
		for _, tc := range []struct{ path, body string }{{"/0.4/me/login", login}, {"/0.4/users", signup}} {
			t.Run(tc.path+" "+order[0]+" then "+order[1], func(t *testing.T) {
				res := f.do(t, http.MethodPost, tc.path, basic(appA+":"), tc.body,
					"Content-Type", order[0], "Content-Type", order[1])
				assert.Equal(t, http.StatusUnsupportedMediaType, res.status, res.body)
				assert.JSONEq(t, `{"errors":[{"code":4150,"message":"Content-Type must be application/json, with no Content-Encoding"}]}`, res.body)
			})
		}
	}
	_, err := f.accounts.FindByLogin(t.Context(), "eve")
	assert.ErrorIs(t, err, middleware.ErrAccountNotFound, "no account was created")
}

// TestBodyMembersMustBeStrings: SECURITY.md promises JSON bodies whose
// documented members are strings, and bearer's parser refuses a
// null one. encoding/json reads null into a string as "", so a login with
// "user_name":null and an email logged in through the email, while a proxy
// or WAF could read the null otherwise: every member must be a JSON
// string, on sign-up as on login.
func TestBodyMembersMustBeStrings(t *testing.T) {
	f := newFixture(t, fixtureConfig{})
	for _, tc := range []struct{ name, path, body string }{
		{"login, null user_name", "/0.4/me/login",
			`{"user_name":null,"email":"mary@example.com","password":"` + maryPassword + `"}`},
		{"login, null email", "/0.4/me/login",
			`{"user_name":"mary","email":null,"password":"` + maryPassword + `"}`},
		{"login, null password", "/0.4/me/login", `{"user_name":"mary","password":null}`},
		{"login, a boolean", "/0.4/me/login", `{"user_name":"mary","email":false,"password":"` + maryPassword + `"}`},
		{"sign-up, null user_name", "/0.4/users",
			`{"user_name":null,"email":"eve@example.com","password":"a long passphrase for eve"}`},
		{"sign-up, null email", "/0.4/users",
			`{"user_name":"eve","email":null,"password":"a long passphrase for eve"}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := f.do(t, http.MethodPost, tc.path, basic(appA+":"), tc.body)
			requireError(t, res, http.StatusBadRequest, bodyBadRequest)
		})
	}
	_, err := f.accounts.FindByLogin(t.Context(), "eve")
	assert.ErrorIs(t, err, middleware.ErrAccountNotFound, "no account was created")
}

// TestSignUpEmailWhiteSpace: an email holding Unicode white space (a
// no-break space, an em space, a line separator, an ideographic space) is
// refused, as an ASCII space is. It was stored and echoed with the
// invisible character, while logins, which trim white space, matched it
// without.
func TestSignUpEmailWhiteSpace(t *testing.T) {
	f := newFixture(t, fixtureConfig{})
	for i, email := range []string{
		"bob0@example.com\u00a0", // no-break space, trailing
		"bob1@exa\u2003mple.com", // em space inside
		"bob2@example.com\u2028", // line separator
		"\u3000bob3@example.com", // ideographic space, leading
	} {
		name := "bob" + string(rune('0'+i))
		res := f.do(t, http.MethodPost, "/0.4/users", basic(appA+":"),
			`{"user_name":"`+name+`","email":"`+email+`","password":"a long enough password"}`)
		assert.Equal(t, http.StatusBadRequest, res.status, "email %q: %s", email, res.body)
	}
	_, err := f.accounts.FindByLogin(t.Context(), "bob0@example.com")
	assert.ErrorIs(t, err, middleware.ErrAccountNotFound, "an email with white space was stored")
}

// TestSignUpRefusesC1ControlsInUserName: a user name holding a C1 control
// character (NEL, the 8-bit CSI that starts a terminal escape) is refused,
// as an ASCII one is. The check read bytes, and the UTF-8 of a C1 control
// (C2 80 to C2 9F) passed it.
func TestSignUpRefusesC1ControlsInUserName(t *testing.T) {
	f := newFixture(t, fixtureConfig{})
	for i, name := range []string{"bob\u0085evil", "bob\u009b31m", "\u0082bob"} {
		res := f.do(t, http.MethodPost, "/0.4/users", basic(appA+":"),
			`{"user_name":"`+name+`","email":"c1-`+string(rune('a'+i))+`@example.com","password":"a long enough password"}`)
		assert.Equal(t, http.StatusBadRequest, res.status, "user_name %q: %s", name, res.body)
	}
}
