package basicauth_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/tidegate/tidegate/basicauth"
	"github.com/tidegate/tidegate/middleware"
)

func TestCreateUser(t *testing.T) {
	f := newFixture(t, fixtureConfig{})
	app := basic(appA + ":")
	res := f.do(t, http.MethodPost, "/0.4/users", app, `{"user_name":"bob","email":"bob@example.com","password":"hunter2 hunter2"}`)
	require.Equal(t, http.StatusCreated, res.status, res.body)
	assert.Equal(t, "application/json", res.header.Get("Content-Type"))
	assert.Equal(t, "no-store", res.header.Get("Cache-Control"))
	var user map[string]string
	require.NoError(t, json.Unmarshal([]byte(res.body), &user))
	assert.Len(t, user, 4, "id, id_string, user_name, email and nothing else")
	assert.Regexp(t, `^[0-9a-f]{32}$`, user["id"])
	assert.Equal(t, user["id"], user["id_string"], "Tapglue's SDKs read the id from id_string")
	assert.Equal(t, "bob", user["user_name"])
	assert.Equal(t, "bob@example.com", user["email"])

	// The new user can log in and is who /me says.
	res = f.do(t, http.MethodPost, "/0.4/me/login", app, `{"email":"BOB@example.com","password":"hunter2 hunter2"}`)
	require.Equal(t, http.StatusCreated, res.status, res.body)
	var login map[string]string
	require.NoError(t, json.Unmarshal([]byte(res.body), &login))
	me := f.do(t, http.MethodGet, "/0.4/me", basic(appA+":"+login["session_token"]), "")
	require.Equal(t, http.StatusOK, me.status, me.body)
	assert.JSONEq(t, `{"id":"`+user["id"]+`","id_string":"`+user["id"]+`","user_name":"bob","email":"bob@example.com"}`, me.body)
}

func TestCreateUserErrors(t *testing.T) {
	f := newFixture(t, fixtureConfig{})
	app := basic(appA + ":")
	big := `{"user_name":"big","email":"big@example.com","password":"` + strings.Repeat("x", basicauth.MaxBodyBytes) + `"}`
	tests := []struct {
		name, auth, body string
		status           int
		want             string
	}{
		{"taken user name", app, `{"user_name":"MARY","email":"other@example.com","password":"pw"}`, 409, bodyConflict},
		{"taken email", app, `{"user_name":"other","email":"Mary@Example.com","password":"pw"}`, 409, bodyConflict},
		{"user name is someone's email", app, `{"user_name":"mary@example.com","email":"x@example.com","password":"pw"}`, 409, bodyConflict},
		{"not JSON", app, `user_name=bob`, 400, bodyBadRequest},
		{"empty body", app, ``, 400, bodyBadRequest},
		{"JSON null", app, `null`, 400, bodyBadRequest},
		{"array", app, `[]`, 400, bodyBadRequest},
		{"missing password", app, `{"user_name":"bob","email":"bob@example.com"}`, 400, bodyBadRequest},
		{"taken name but no password", app, `{"user_name":"mary","email":"bob@example.com","password":""}`, 400, bodyBadRequest},
		{"missing email", app, `{"user_name":"bob","password":"pw"}`, 400, bodyBadRequest},
		{"missing user name", app, `{"email":"bob@example.com","password":"pw"}`, 400, bodyBadRequest},
		{"bad email", app, `{"user_name":"bob","email":"bob.example.com","password":"pw"}`, 400, bodyBadRequest},
		{"user name with spaces around", app, `{"user_name":" bob","email":"bob@example.com","password":"pw"}`, 400, bodyBadRequest},
		{"user name with control", app, `{"user_name":"b\u0000ob","email":"bob@example.com","password":"pw"}`, 400, bodyBadRequest},
		// Other members are ignored (TestBodiesIgnoreOtherMembers), but not
		// a known one in another case, which encoding/json would read.
		{"member in another case", app, `{"user_name":"bob","email":"bob@example.com","password":"pw","Password":"other"}`, 400, bodyBadRequest},
		{"trailing data", app, `{"user_name":"bob","email":"bob@example.com","password":"pw"} {}`, 400, bodyBadRequest},
		{"password too long", app, `{"user_name":"bob","email":"bob@example.com","password":"` + strings.Repeat("x", middleware.MaxPasswordBytes+1) + `"}`, 400, bodyBadRequest},
		{"body over 64 KiB", app, big, 400, bodyBadRequest},
		{"ignored member over 64 KiB", app, `{"user_name":"bob","email":"bob@example.com","password":"pw","about":"` + strings.Repeat("x", basicauth.MaxBodyBytes) + `"}`, 400, bodyBadRequest},
		{"user name not UTF-8", app, "{\"user_name\":\"bob\xff\",\"email\":\"bob@example.com\",\"password\":\"pw\"}", 400, bodyBadRequest},
		{"password with a lone surrogate", app, `{"user_name":"bob","email":"bob@example.com","password":"pw\ud800"}`, 400, bodyBadRequest},
		{"no credentials", "", `{"user_name":"bob","email":"bob@example.com","password":"pw"}`, 401, bodyAppToken},
		{"unknown app token", basic(strings.Repeat("a", 32) + ":"), `{}`, 401, bodyAppToken},
		{"bad session with app token", basic(appA + ":nope"), `{}`, 401, bodyInvalidSession},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res := f.do(t, http.MethodPost, "/0.4/users", tc.auth, tc.body)
			requireError(t, res, tc.status, tc.want)
			assert.Equal(t, hstsValue, res.header.Get("Strict-Transport-Security"))
		})
	}
	_, err := f.accounts.FindByLogin(t.Context(), "bob")
	assert.ErrorIs(t, err, middleware.ErrAccountNotFound, "no failed sign-up created an account")
}

// TestBodiesIgnoreOtherMembers: sign-up and login ignore members other
// than user_name, email and password, as Tapglue's server (json.Unmarshal)
// does. Tapglue's Android SDK posts its whole User entity through Gson,
// which writes every primitive field (friend_count, is_friend, enabled,
// ...): refused with 400, no user of the SDK could sign up. The body
// decodes into three strings, so an extra member sets nothing ("admin" is
// no role). A name equal to a known one only in another case still is 400:
// encoding/json would read it as that member.
func TestBodiesIgnoreOtherMembers(t *testing.T) {
	f := newFixture(t, fixtureConfig{})
	app := basic(appA + ":")
	gson := `{"friend_count":0,"follower_count":0,"followed_count":0,` +
		`"is_friend":false,"is_follower":false,"is_followed":false,` +
		`"user_name":"bob","password":"hunter2 hunter2","enabled":true,"email":"bob@example.com",` +
		`"admin":true,"roles":["admin"],"id":"` + maryID + `"}`
	res := f.do(t, http.MethodPost, "/0.4/users", app, gson)
	require.Equal(t, http.StatusCreated, res.status, res.body)
	account, err := f.accounts.FindByLogin(t.Context(), "bob")
	require.NoError(t, err)
	assert.Equal(t, []string{"user"}, account.Roles)
	assert.NotEqual(t, maryID, account.UserID)

	res = f.do(t, http.MethodPost, "/0.4/me/login", app,
		`{"user_name":"bob","password":"hunter2 hunter2","is_friend":false,"email_addr":null}`)
	require.Equal(t, http.StatusCreated, res.status, res.body)

	for _, tc := range []struct{ name, path, body string }{
		{"sign-up, USER_NAME beside user_name", "/0.4/users",
			`{"user_name":"eve","USER_NAME":"mallory","email":"eve@example.com","password":"a long passphrase for eve"}`},
		{"sign-up, Email alone", "/0.4/users",
			`{"user_name":"eve","Email":"eve@example.com","password":"a long passphrase for eve"}`},
		{"login, Password beside password", "/0.4/me/login",
			`{"user_name":"mary","password":"wrong","Password":"` + maryPassword + `"}`},
		{"login, USER_NAME alone", "/0.4/me/login", `{"USER_NAME":"mary","password":"` + maryPassword + `"}`},
		{"login, a long s folds to s", "/0.4/me/login", `{"user_name":"mary","pa\u017fsword":"` + maryPassword + `"}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			requireError(t, f.do(t, http.MethodPost, tc.path, app, tc.body), http.StatusBadRequest, bodyBadRequest)
		})
	}
	_, err = f.accounts.FindByLogin(t.Context(), "eve")
	assert.ErrorIs(t, err, middleware.ErrAccountNotFound, "no account was created")
}

func TestLogin(t *testing.T) {
	f := newFixture(t, fixtureConfig{})
	for _, body := range []string{
		`{"user_name":"mary","password":"` + maryPassword + `"}`,
		`{"email":"MARY@example.com","password":"` + maryPassword + `"}`,
	} {
		res := f.do(t, http.MethodPost, "/0.4/me/login", basic(appA+":"), body)
		require.Equal(t, http.StatusCreated, res.status, res.body)
		assert.Equal(t, "no-store", res.header.Get("Cache-Control"))
		assert.Equal(t, hstsValue, res.header.Get("Strict-Transport-Security"))
		var out map[string]string
		require.NoError(t, json.Unmarshal([]byte(res.body), &out))
		assert.Equal(t, maryID, out["id"])
		assert.Equal(t, maryID, out["id_string"])
		assert.Equal(t, maryName, out["user_name"])
		assert.Equal(t, maryEmail, out["email"])
		assert.Regexp(t, `^[A-Za-z0-9_-]{43}$`, out["session_token"])
	}
}

func TestLoginFailures(t *testing.T) {
	f := newFixture(t, fixtureConfig{})
	app := basic(appA + ":")
	tests := []struct {
		name, auth, body string
		status           int
		want             string
	}{
		{"wrong password", app, `{"user_name":"mary","password":"wrong"}`, 401, bodyLoginFailed},
		{"unknown user", app, `{"user_name":"nobody","password":"wrong"}`, 401, bodyLoginFailed},
		{"unknown email", app, `{"email":"nobody@example.com","password":"` + maryPassword + `"}`, 401, bodyLoginFailed},
		{"password too long", app, `{"user_name":"mary","password":"` + strings.Repeat("x", middleware.MaxPasswordBytes+1) + `"}`, 401, bodyLoginFailed},
		{"both user name and email", app, `{"user_name":"mary","email":"mary@example.com","password":"pw"}`, 400, bodyBadRequest},
		{"neither user name nor email", app, `{"password":"pw"}`, 400, bodyBadRequest},
		{"no password", app, `{"user_name":"mary"}`, 400, bodyBadRequest},
		{"not JSON", app, `mary`, 400, bodyBadRequest},
		// encoding/json reads each of these as U+FFFD: a password set with
		// one of them would accept all the others.
		{"password not UTF-8", app, "{\"user_name\":\"mary\",\"password\":\"pw\xfe\"}", 400, bodyBadRequest},
		{"password with a lone surrogate", app, `{"user_name":"mary","password":"pw\udfff"}`, 400, bodyBadRequest},
		{"no credentials", "", `{"user_name":"mary","password":"` + maryPassword + `"}`, 401, bodyAppToken},
		{"backend token unknown", basic(strings.Repeat("b", 44) + ":"), `{}`, 401, bodyAppToken},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			requireError(t, f.do(t, http.MethodPost, "/0.4/me/login", tc.auth, tc.body), tc.status, tc.want)
		})
	}
}

func TestLoginThrottled(t *testing.T) {
	f := newFixture(t, fixtureConfig{limiter: middleware.LimiterPolicy{AccountAttempts: 2, Window: time.Minute}})
	wrong := `{"user_name":"mary","password":"wrong"}`
	for range 2 {
		requireError(t, f.do(t, http.MethodPost, "/0.4/me/login", basic(appA+":"), wrong), 401, bodyLoginFailed)
	}
	// Past the limit even the right password is throttled, whatever the app.
	right := `{"user_name":"mary","password":"` + maryPassword + `"}`
	res := f.do(t, http.MethodPost, "/0.4/me/login", basic(appB+":"), right)
	requireError(t, res, http.StatusTooManyRequests, bodyRateLimited)
	assert.Equal(t, "60", res.header.Get("Retry-After"))
	// When the window has passed, logging in works again.
	f.clock.Advance(time.Minute)
	f.logIn(t, appA)

	// The limiter counts with the other kinds' logins: two failures through
	// the shared PasswordLogin elsewhere, and this endpoint throttles too.
	for range 2 {
		_, err := f.login.Login(t.Context(), netip.MustParseAddr("192.0.2.7"), "MARY", "wrong")
		require.ErrorIs(t, err, middleware.ErrInvalidCredential)
	}
	requireError(t, f.do(t, http.MethodPost, "/0.4/me/login", basic(appA+":"), right), http.StatusTooManyRequests, bodyRateLimited)
	// Once more, after the window.
	f.clock.Advance(time.Minute)
	f.logIn(t, appA)
}

func TestMe(t *testing.T) {
	f := newFixture(t, fixtureConfig{})
	session := f.logIn(t, appA)
	want := `{"id":"` + maryID + `","id_string":"` + maryID + `","user_name":"mary","email":"mary@example.com"}`
	for name, auth := range map[string]string{
		"app and session":      basic(appA + ":" + session),
		"backend and user id":  basic(backendA + ":" + maryID),
		"lower-case scheme":    "basic " + strings.TrimPrefix(basic(appA+":"+session), "Basic "),
		"backend of other app": basic(backendB + ":" + maryID),
	} {
		t.Run(name, func(t *testing.T) {
			res := f.do(t, http.MethodGet, "/0.4/me", auth, "")
			require.Equal(t, http.StatusOK, res.status, res.body)
			assert.JSONEq(t, want, res.body)
			assert.Equal(t, hstsValue, res.header.Get("Strict-Transport-Security"))
		})
	}
}

// TestUserCredentialErrors covers every 401 of a route that needs a user.
func TestUserCredentialErrors(t *testing.T) {
	f := newFixture(t, fixtureConfig{})
	sessionA := f.logIn(t, appA)
	require.NoError(t, f.accounts.Create(t.Context(), middleware.Account{
		UserID: "gone", Username: "gone", PasswordHash: "x", Disabled: true,
	}))
	// Sessions in a shared store that are not app sessions of app A.
	unscoped, server := middleware.NewToken(), middleware.NewToken()
	for token, sess := range map[string]middleware.Session{
		unscoped: {Subject: maryID, ExpiresAt: f.clock.Now().Add(time.Hour)},
		server:   {Subject: "uploader", Actor: middleware.ActorServer, App: "a", ExpiresAt: f.clock.Now().Add(time.Hour)},
	} {
		require.NoError(t, f.sessions.Create(t.Context(), middleware.DigestToken(token), sess))
	}
	tests := []struct {
		name, auth string
		want       string
	}{
		{"unscoped session", basic(appA + ":" + unscoped), bodyInvalidSession},
		{"server session", basic(appA + ":" + server), bodyInvalidSession},
		{"no credentials", "", bodyAppToken},
		{"other scheme", "Bearer abc", bodyAppToken},
		{"unknown app token", basic(strings.Repeat("0", 32) + ":" + sessionA), bodyAppToken},
		{"app token in upper case", basic(strings.ToUpper(appA) + ":" + sessionA), bodyAppToken},
		{"token of neither length", basic("abc:" + sessionA), bodyAppToken},
		{"unknown backend token", basic(strings.Repeat("0", 44) + ":" + maryID), bodyAppToken},
		{"unknown app token without password", basic(strings.Repeat("0", 32) + ":"), bodyAppToken},
		{"app token only", basic(appA + ":"), bodySessionRequired},
		{"backend token only", basic(backendA + ":"), bodySessionRequired},
		{"unknown session", basic(appA + ":" + middleware.NewToken()), bodyInvalidSession},
		{"session of app A with app B", basic(appB + ":" + sessionA), bodyInvalidSession},
		{"session with backend token", basic(backendA + ":" + sessionA), bodyInvalidSession},
		{"backend with unknown user", basic(backendA + ":nobody"), bodyInvalidSession},
		{"backend with disabled user", basic(backendA + ":gone"), bodyInvalidSession},
		{"backend with overlong user id", basic(backendA + ":" + strings.Repeat("u", basicauth.MaxUserIDBytes+1)), bodyInvalidSession},
		{"backend with user id holding a colon", basic(backendA + ":" + maryID + ":x"), bodyInvalidSession},
		{"user id as app token", basic(maryID + ":" + sessionA), bodyAppToken},
	}
	for _, tc := range tests {
		for _, path := range []string{"/0.4/me", "/whoami"} {
			t.Run(tc.name+" "+path, func(t *testing.T) {
				res := f.do(t, http.MethodGet, path, tc.auth, "")
				requireError(t, res, http.StatusUnauthorized, tc.want)
				assert.Equal(t, hstsValue, res.header.Get("Strict-Transport-Security"))
			})
		}
	}
}

func TestMalformedBeforeLookup(t *testing.T) {
	f := newFixture(t, fixtureConfig{})
	session := f.logIn(t, appA)
	good := basic(appA + ":" + session)
	payload := strings.TrimPrefix(good, "Basic ")
	tests := []struct {
		name  string
		auths []string
	}{
		{"two different headers", []string{good, basic(appB + ":" + session)}},
		{"the same header twice", []string{good, good}},
		{"Basic and Bearer", []string{good, "Bearer x"}},
		{"two spaces", []string{"Basic  " + payload}},
		{"no space", []string{"Basic"}},
		{"unpadded base64", []string{"Basic " + strings.TrimRight(basic(appA + ":x")[6:], "=")}},
		{"not base64", []string{"Basic !!!!"}},
		{"URL-safe alphabet", []string{strings.Replace(basic(appA+":???"), "Pz8/", "Pz8_", 1)}}, // "???" is "Pz8/"
		{"no colon", []string{basic(appA)}},
		{"empty token part", []string{basic(":" + session)}},
		{"control character", []string{basic(appA + ":a\x00b")}},
		{"invalid UTF-8", []string{basic(appA + ":\xff")}},
		{"oversized", []string{basic(appA + ":" + strings.Repeat("s", basicauth.MaxHeaderBytes))}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := f.registry.lookups.Load()
			var extra []string
			for _, a := range tc.auths[1:] {
				extra = append(extra, "Authorization", a)
			}
			res := f.do(t, http.MethodGet, "/0.4/me", tc.auths[0], "", extra...)
			requireError(t, res, http.StatusBadRequest, bodyBadRequest)
			assert.Equal(t, before, f.registry.lookups.Load(), "a malformed header is never looked up")
		})
	}
	// Unaltered, the URL-safe case's credential is well-formed (and wrong).
	requireError(t, f.do(t, http.MethodGet, "/0.4/me", basic(appA+":???"), ""), 401, bodyInvalidSession)
	// The header alone is accepted.
	res := f.do(t, http.MethodGet, "/0.4/me", good, "")
	assert.Equal(t, http.StatusOK, res.status, res.body)
}

func TestLogout(t *testing.T) {
	f := newFixture(t, fixtureConfig{})
	first, second := f.logIn(t, appA), f.logIn(t, appA)
	other := f.logIn(t, appB)
	for _, s := range []string{first, second} {
		require.Equal(t, http.StatusOK, f.do(t, http.MethodGet, "/0.4/me", basic(appA+":"+s), "").status) // now cached
	}

	res := f.do(t, http.MethodDelete, "/0.4/me/logout", basic(appA+":"+first), "")
	require.Equal(t, http.StatusNoContent, res.status, res.body)
	assert.Empty(t, res.body)
	assert.Equal(t, hstsValue, res.header.Get("Strict-Transport-Security"))

	// The session is dead at once, though it was cached, on every route.
	requireError(t, f.do(t, http.MethodGet, "/0.4/me", basic(appA+":"+first), ""), 401, bodyInvalidSession)
	requireError(t, f.do(t, http.MethodGet, "/app/whoami", basic(appA+":"+first), ""), 401, bodyInvalidSession)
	requireError(t, f.do(t, http.MethodDelete, "/0.4/me/logout", basic(appA+":"+first), ""), 401, bodyInvalidSession)
	// The user's other sessions still work.
	assert.Equal(t, http.StatusOK, f.do(t, http.MethodGet, "/0.4/me", basic(appA+":"+second), "").status)
	assert.Equal(t, http.StatusOK, f.do(t, http.MethodGet, "/0.4/me", basic(appB+":"+other), "").status)
}

func TestLogoutNeedsSession(t *testing.T) {
	f := newFixture(t, fixtureConfig{})
	requireError(t, f.do(t, http.MethodDelete, "/0.4/me/logout", basic(appA+":"), ""), 401, bodySessionRequired)
	requireError(t, f.do(t, http.MethodDelete, "/0.4/me/logout", basic(backendA+":"+maryID), ""), 401, bodySessionRequired)
	requireError(t, f.do(t, http.MethodDelete, "/0.4/me/logout", "", ""), 401, bodyAppToken)
}

func TestPrincipals(t *testing.T) {
	f := newFixture(t, fixtureConfig{})
	session := f.logIn(t, appA)
	tests := []struct {
		name, path, auth string
		want             middleware.Principal
	}{
		{"user", "/whoami", basic(appA + ":" + session), middleware.Principal{
			Subject: maryID, Kind: basicauth.Kind, Actor: middleware.ActorUser, App: "a", Roles: []string{"user"},
			ExpiresAt: f.clock.Now().Add(basicauth.DefaultSessionTTL), Attributes: map[string]string{"token": "app"},
		}},
		{"backend", "/whoami", basic(backendB + ":" + maryID), middleware.Principal{
			Subject: maryID, Kind: basicauth.Kind, Actor: middleware.ActorBackend, App: "b", Roles: []string{"user"},
			Attributes: map[string]string{"token": "backend"},
		}},
		{"app only", "/app/whoami", basic(appA + ":"), middleware.Principal{
			Subject: "app:a", Kind: basicauth.Kind, Actor: basicauth.ActorApp, App: "a",
			Attributes: map[string]string{"token": "app"},
		}},
		{"backend only", "/app/whoami", basic(backendA + ":"), middleware.Principal{
			Subject: "app:a", Kind: basicauth.Kind, Actor: basicauth.ActorApp, App: "a",
			Attributes: map[string]string{"token": "backend"},
		}},
		{"user on an app route", "/app/whoami", basic(appA + ":" + session), middleware.Principal{
			Subject: maryID, Kind: basicauth.Kind, Actor: middleware.ActorUser, App: "a", Roles: []string{"user"},
			ExpiresAt: f.clock.Now().Add(basicauth.DefaultSessionTTL), Attributes: map[string]string{"token": "app"},
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res := f.do(t, http.MethodGet, tc.path, tc.auth, "")
			require.Equal(t, http.StatusOK, res.status, res.body)
			var got middleware.Principal
			require.NoError(t, json.Unmarshal([]byte(res.body), &got))
			assert.True(t, tc.want.ExpiresAt.Equal(got.ExpiresAt), "expires %v, want %v", got.ExpiresAt, tc.want.ExpiresAt)
			got.ExpiresAt, tc.want.ExpiresAt = time.Time{}, time.Time{}
			assert.Equal(t, tc.want, got)
		})
	}
}

func TestSessionExpiry(t *testing.T) {
	f := newFixture(t, fixtureConfig{opts: []basicauth.Option{basicauth.WithSessionTTL(time.Hour)}})
	session := f.logIn(t, appA)
	auth := basic(appA + ":" + session)
	require.Equal(t, http.StatusOK, f.do(t, http.MethodGet, "/0.4/me", auth, "").status)
	f.clock.Advance(time.Hour - time.Second)
	require.Equal(t, http.StatusOK, f.do(t, http.MethodGet, "/0.4/me", auth, "").status)
	f.clock.Advance(time.Second)
	requireError(t, f.do(t, http.MethodGet, "/0.4/me", auth, ""), 401, bodyInvalidSession)
}

func TestRevokeSubject(t *testing.T) {
	inv := &recordingInvalidator{}
	f := newFixture(t, fixtureConfig{opts: []basicauth.Option{basicauth.WithInvalidator(inv)}})
	a, b := f.logIn(t, appA), f.logIn(t, appB)
	for _, s := range []string{appA + ":" + a, appB + ":" + b} {
		require.Equal(t, http.StatusOK, f.do(t, http.MethodGet, "/whoami", basic(s), "").status)
	}
	require.NoError(t, f.svc.RevokeSubject(t.Context(), maryID))
	for _, s := range []string{appA + ":" + a, appB + ":" + b} {
		requireError(t, f.do(t, http.MethodGet, "/whoami", basic(s), ""), 401, bodyInvalidSession)
	}
	assert.Equal(t, []string{maryID}, inv.subjects)
	// A backend still acts for the (existing) user, and she can log in again.
	assert.Equal(t, http.StatusOK, f.do(t, http.MethodGet, "/whoami", basic(backendA+":"+maryID), "").status)
	f.logIn(t, appA)
}

func TestLogoutTellsInvalidator(t *testing.T) {
	inv := &recordingInvalidator{}
	f := newFixture(t, fixtureConfig{opts: []basicauth.Option{basicauth.WithInvalidator(inv)}})
	session := f.logIn(t, appA)
	require.Equal(t, http.StatusNoContent, f.do(t, http.MethodDelete, "/0.4/me/logout", basic(appA+":"+session), "").status)
	require.Len(t, inv.creds, 1)
	assert.Equal(t, basicauth.Kind, inv.creds[0].Kind)
	assert.Equal(t, appA, inv.creds[0].Token)
	assert.Equal(t, session, inv.creds[0].Secret)
	// Other replicas cannot be told a credential: they hear the subject.
	assert.Equal(t, []string{maryID}, inv.subjects)
}

func TestRotateToken(t *testing.T) {
	inv := &recordingInvalidator{}
	f := newFixture(t, fixtureConfig{opts: []basicauth.Option{basicauth.WithInvalidator(inv)}})
	session := f.logIn(t, appA)
	require.Equal(t, http.StatusOK, f.do(t, http.MethodGet, "/whoami", basic(appA+":"+session), "").status)
	require.Equal(t, http.StatusOK, f.do(t, http.MethodGet, "/whoami", basic(backendA+":"+maryID), "").status)

	newApp, err := f.svc.RotateToken(t.Context(), "a", basicauth.AppToken)
	require.NoError(t, err)
	assert.Regexp(t, `^[0-9a-f]{32}$`, newApp)
	requireError(t, f.do(t, http.MethodGet, "/whoami", basic(appA+":"+session), ""), 401, bodyAppToken)
	assert.Equal(t, http.StatusOK, f.do(t, http.MethodGet, "/whoami", basic(newApp+":"+session), "").status,
		"sessions survive an app token rotation")
	assert.Equal(t, http.StatusOK, f.do(t, http.MethodGet, "/whoami", basic(backendA+":"+maryID), "").status,
		"the backend token is untouched")

	newBackend, err := f.svc.RotateToken(t.Context(), "a", basicauth.BackendToken)
	require.NoError(t, err)
	assert.Regexp(t, `^[0-9a-f]{44}$`, newBackend)
	requireError(t, f.do(t, http.MethodGet, "/whoami", basic(backendA+":"+maryID), ""), 401, bodyAppToken)
	assert.Equal(t, http.StatusOK, f.do(t, http.MethodGet, "/whoami", basic(newBackend+":"+maryID), "").status)
	assert.Equal(t, 2, inv.purges)

	_, err = f.svc.RotateToken(t.Context(), "nope", basicauth.AppToken)
	assert.ErrorIs(t, err, basicauth.ErrAppNotFound)
	_, err = f.svc.RotateToken(t.Context(), "a", basicauth.TokenType(9))
	assert.ErrorIs(t, err, middleware.ErrInternal, "an unknown token type is the caller's bug, not an outage")
}

// TestAppChangeWithUnknownOutcomeForgetsTheCache: a registry that answers
// with an error may have done the work all the same (a timeout after Redis
// ran the script), so the caches forget the app either way: a credential
// the registry no longer holds must not live on in a cache.
func TestAppChangeWithUnknownOutcomeForgetsTheCache(t *testing.T) {
	f := newFixture(t, fixtureConfig{})
	session := f.logIn(t, appA)
	require.Equal(t, http.StatusOK, f.do(t, http.MethodGet, "/whoami", basic(appA+":"+session), "").status)
	require.Equal(t, http.StatusOK, f.do(t, http.MethodGet, "/whoami", basic(backendA+":"+maryID), "").status)
	f.registry.lateWrite.Store(true)

	_, err := f.svc.RotateToken(t.Context(), "a", basicauth.BackendToken)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	requireError(t, f.do(t, http.MethodGet, "/whoami", basic(backendA+":"+maryID), ""), 401, bodyAppToken)

	require.ErrorIs(t, f.svc.RevokeApp(t.Context(), "a"), context.DeadlineExceeded)
	requireError(t, f.do(t, http.MethodGet, "/whoami", basic(appA+":"+session), ""), 401, bodyAppToken)
}

// lateRevokeStore is a session store whose revocations answer late: each is
// done, then reported as failed.
type lateRevokeStore struct{ middleware.SessionStore }

func (s lateRevokeStore) Revoke(ctx context.Context, d middleware.TokenDigest) error {
	return errors.Join(s.SessionStore.Revoke(ctx, d), context.DeadlineExceeded)
}

func (s lateRevokeStore) RevokeSubject(ctx context.Context, subject string) error {
	return errors.Join(s.SessionStore.RevokeSubject(ctx, subject), context.DeadlineExceeded)
}

// TestSessionRevocationWithUnknownOutcomeForgetsTheCache: as for app
// changes, a session store's error on logout or RevokeSubject may come
// after the work was done, so the caches forget the session either way.
func TestSessionRevocationWithUnknownOutcomeForgetsTheCache(t *testing.T) {
	sessions, err := middleware.NewMemorySessionStore()
	require.NoError(t, err)
	f := newFixture(t, fixtureConfig{realClock: true,
		opts: []basicauth.Option{basicauth.WithSessionStore(lateRevokeStore{sessions})}})
	loggedOut, revoked := f.logIn(t, appA), f.logIn(t, appA)
	require.Equal(t, http.StatusOK, f.do(t, http.MethodGet, "/whoami", basic(appA+":"+loggedOut), "").status)
	require.Equal(t, http.StatusOK, f.do(t, http.MethodGet, "/whoami", basic(appA+":"+revoked), "").status)

	res := f.do(t, http.MethodDelete, "/0.4/me/logout", basic(appA+":"+loggedOut), "")
	require.Equal(t, http.StatusServiceUnavailable, res.status, res.body)
	requireError(t, f.do(t, http.MethodGet, "/whoami", basic(appA+":"+loggedOut), ""), 401, bodyInvalidSession)

	require.ErrorIs(t, f.svc.RevokeSubject(t.Context(), maryID), context.DeadlineExceeded)
	requireError(t, f.do(t, http.MethodGet, "/whoami", basic(appA+":"+revoked), ""), 401, bodyInvalidSession)
}

func TestRevokeApp(t *testing.T) {
	f := newFixture(t, fixtureConfig{})
	session := f.logIn(t, appA)
	require.Equal(t, http.StatusOK, f.do(t, http.MethodGet, "/whoami", basic(appA+":"+session), "").status)
	require.Equal(t, http.StatusOK, f.do(t, http.MethodGet, "/app/whoami", basic(appA+":"), "").status)
	require.NoError(t, f.svc.RevokeApp(t.Context(), "a"))
	for _, auth := range []string{appA + ":" + session, appA + ":", backendA + ":" + maryID} {
		requireError(t, f.do(t, http.MethodGet, "/app/whoami", basic(auth), ""), 401, bodyAppToken)
	}
	assert.Equal(t, http.StatusOK, f.do(t, http.MethodGet, "/app/whoami", basic(appB+":"), "").status)
	assert.NoError(t, f.svc.RevokeApp(t.Context(), "a"), "revoking twice is fine")
}

func TestUnavailable(t *testing.T) {
	f := newFixture(t, fixtureConfig{})
	f.registry.fail.Store(true)
	res := f.do(t, http.MethodGet, "/0.4/me", basic(appA+":"+middleware.NewToken()), "")
	requireError(t, res, http.StatusServiceUnavailable, bodyUnavailable)
	assert.Equal(t, "5", res.header.Get("Retry-After"))
	assert.NotContains(t, res.body, "unexpected EOF", "no library error text")
}

func TestWrongMethodAndPath(t *testing.T) {
	f := newFixture(t, fixtureConfig{})
	res := f.do(t, http.MethodGet, "/0.4/users", basic(appA+":"), "")
	assert.Equal(t, http.StatusMethodNotAllowed, res.status)
	assert.Equal(t, hstsValue, res.header.Get("Strict-Transport-Security"))
	res = f.do(t, http.MethodGet, "/0.4/nothing", "", "")
	assert.Equal(t, http.StatusNotFound, res.status)
	assert.Equal(t, hstsValue, res.header.Get("Strict-Transport-Security"))
}

func TestAny(t *testing.T) {
	f := newFixture(t, fixtureConfig{})
	ex, err := middleware.NewHeaderExtractor("session", "X-Session")
	require.NoError(t, err)
	other, err := middleware.NewScheme("session", ex, middleware.VerifierFunc(
		func(_ context.Context, c middleware.Credential) (middleware.Principal, error) {
			return middleware.Principal{Subject: "s-" + c.Token}, nil
		}), middleware.Challenge{Scheme: "X-Session", Realm: "x"})
	require.NoError(t, err)
	anyAuth, err := middleware.Any(other, f.svc.Scheme())
	require.NoError(t, err)
	h := f.svc.HSTS(anyAuth(http.HandlerFunc(echoPrincipal)))
	session := f.logIn(t, appA)

	rec := serve(h, basic(appA+":"+session), true)
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	assert.Contains(t, rec.Body.String(), `"Subject":"`+maryID+`"`)
	assert.Equal(t, hstsValue, rec.Header().Get("Strict-Transport-Security"))

	rec = serve(h, "", true)
	assert.Equal(t, http.StatusUnauthorized, rec.Code)
	assert.Equal(t, []string{`X-Session realm="x"`, challenge}, rec.Header().Values("WWW-Authenticate"))
}

// TestRequireRole: a principal without the role a guard wants is 403 with
// code CodeForbidden, no challenge, and never reaches the handler.
func TestRequireRole(t *testing.T) {
	f := newFixture(t, fixtureConfig{})
	session := f.logIn(t, appA)
	reached := func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusTeapot) }
	tests := []struct {
		name, role, auth string
		app              bool // behind RequireApp instead of RequireUser
		status           int
	}{
		{"user has the role", "user", basic(appA + ":" + session), false, http.StatusTeapot},
		{"backend for a user with the role", "user", basic(backendA + ":" + maryID), false, http.StatusTeapot},
		{"user lacks the role", "admin", basic(appA + ":" + session), false, http.StatusForbidden},
		{"backend for a user lacking the role", "admin", basic(backendA + ":" + maryID), false, http.StatusForbidden},
		{"the app alone holds no user role", "user", basic(appA + ":"), true, http.StatusForbidden},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			auth := f.svc.RequireUser()
			if tc.app {
				auth = f.svc.RequireApp()
			}
			h := auth(middleware.RequireRole(tc.role)(http.HandlerFunc(reached)))
			rec := serve(h, tc.auth, true)
			require.Equal(t, tc.status, rec.Code, rec.Body.String())
			assert.Equal(t, hstsValue, rec.Header().Get("Strict-Transport-Security"))
			if tc.status == http.StatusForbidden {
				requireError(t, response{status: rec.Code, header: rec.Header(), body: rec.Body.String()},
					http.StatusForbidden, bodyForbidden)
			}
		})
	}
}
