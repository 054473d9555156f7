package bearer_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/tidegate/tidegate/bearer"
	"github.com/tidegate/tidegate/middleware"
	"github.com/tidegate/tidegate/session"
	"github.com/tidegate/tidegate/tidegatetest"
)

const (
	jsonCT          = "application/json"
	badLoginBody    = `{"error":"invalid_request","error_description":"the body must be a JSON object with exactly the string members \"username\" and \"password\", at most 64 KiB"}` + "\n"
	badRefreshBody  = `{"error":"invalid_request","error_description":"the body must be a JSON object with exactly the string member \"refresh_token\", at most 64 KiB"}` + "\n"
	notJSONBody     = `{"error":"invalid_request","error_description":"Content-Type must be application/json, with no Content-Encoding"}` + "\n"
	rateLimitedBody = `{"error":"rate_limited","error_description":"too many attempts, retry later"}` + "\n"
	unavailableBody = `{"error":"temporarily_unavailable","error_description":"authentication is temporarily unavailable"}` + "\n"
	maryLogin       = `{"username":"mary@example.com","password":"password of mary@example.com"}`
)

// decodeJWT returns the header and claims of a token without verifying it.
func decodeJWT(t *testing.T, tok string) (map[string]any, map[string]any) {
	t.Helper()
	parts := strings.Split(tok, ".")
	require.Len(t, parts, 3)
	var h, c map[string]any
	for i, dst := range []*map[string]any{&h, &c} {
		raw, err := b64.DecodeString(parts[i])
		require.NoError(t, err)
		require.NoError(t, json.Unmarshal(raw, dst))
	}
	return h, c
}

func TestAuthenticate(t *testing.T) {
	e := newEnv(t)
	rec := e.call("POST", "/api/v1/authenticate", maryLogin, "Content-Type", jsonCT)
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	assert.Equal(t, jsonCT, rec.Header().Get("Content-Type"))
	assert.Equal(t, "no-store", rec.Header().Get("Cache-Control"))
	assert.Equal(t, "no-cache", rec.Header().Get("Pragma"))
	body := decodeTokens(t, rec)
	assert.Equal(t, 28800, body.ExpiresIn)
	assert.Equal(t, "Bearer", body.TokenType)
	assert.Nil(t, body.Scope)
	require.NotNil(t, body.RefreshToken)
	assert.Len(t, *body.RefreshToken, 43)

	h, c := decodeJWT(t, body.AccessToken)
	assert.Equal(t, map[string]any{"alg": "HS256", "kid": hsKID, "typ": "at+jwt"}, h)
	assert.Equal(t, issuer, c["iss"])
	assert.Equal(t, "u-mary", c["sub"])
	assert.Equal(t, []any{audient}, c["aud"])
	assert.Equal(t, float64(t0.Unix()), c["iat"])
	assert.Equal(t, float64(t0.Add(8*time.Hour).Unix()), c["exp"])
	assert.Len(t, c["jti"], 22)
	assert.Len(t, c["sid"], 22)
	assert.Equal(t, []any{"user"}, c["roles"])

	ping := e.call("GET", "/api/v1/ping", "", "Authorization", "Bearer "+body.AccessToken)
	assert.Equal(t, http.StatusOK, ping.Code)
	assert.Equal(t, `{"authenticated":true}`+"\n", ping.Body.String())
}

func TestAuthenticateWrongCredentialsAreIndistinguishable(t *testing.T) {
	e := newEnv(t)
	wrongPassword := e.call("POST", "/api/v1/authenticate",
		`{"username":"mary@example.com","password":"nope"}`, "Content-Type", jsonCT)
	unknownUser := e.call("POST", "/api/v1/authenticate",
		`{"username":"nobody@example.com","password":"nope"}`, "Content-Type", jsonCT)
	emptyPassword := e.call("POST", "/api/v1/authenticate",
		`{"username":"mary@example.com","password":""}`, "Content-Type", jsonCT)
	for _, rec := range []*httptest.ResponseRecorder{wrongPassword, unknownUser, emptyPassword} {
		assert.Equal(t, http.StatusUnauthorized, rec.Code)
		// No token was sent, so the challenge names no error (RFC 6750 §3.1).
		assert.Equal(t, challengeMissing, rec.Header().Get("WWW-Authenticate"))
		assert.Equal(t, genericBody, rec.Body.String())
		assert.Equal(t, "no-store", rec.Header().Get("Cache-Control"))
	}
}

func TestAuthenticateBadRequests(t *testing.T) {
	e := newEnv(t)
	tests := []struct {
		name, contentType, body string
		status                  int
		want                    string
	}{
		{"not JSON", jsonCT, `username=mary&password=x`, 400, badLoginBody},
		{"empty body", jsonCT, ``, 400, badLoginBody},
		{"not an object", jsonCT, `["mary","x"]`, 400, badLoginBody},
		{"a string", jsonCT, `"mary"`, 400, badLoginBody},
		{"null", jsonCT, `null`, 400, badLoginBody},
		{"missing password", jsonCT, `{"username":"mary@example.com"}`, 400, badLoginBody},
		{"missing username", jsonCT, `{"password":"x"}`, 400, badLoginBody},
		{"number password", jsonCT, `{"username":"mary@example.com","password":12345}`, 400, badLoginBody},
		{"null password", jsonCT, `{"username":"mary@example.com","password":null}`, 400, badLoginBody},
		{"object username", jsonCT, `{"username":{"$ne":""},"password":"x"}`, 400, badLoginBody},
		{"unknown member", jsonCT, `{"username":"mary@example.com","password":"x","admin":true}`, 400, badLoginBody},
		{"repeated member", jsonCT, `{"username":"a","username":"mary@example.com","password":"x"}`, 400, badLoginBody},
		{"member name in another case", jsonCT, `{"USERNAME":"mary@example.com","password":"x"}`, 400, badLoginBody},
		{"trailing data", jsonCT, maryLogin + `{}`, 400, badLoginBody},
		{"truncated", jsonCT, maryLogin[:20], 400, badLoginBody},
		{"over 64 KiB", jsonCT, `{"username":"mary@example.com","password":"` + strings.Repeat("x", 64<<10) + `"}`, 400, badLoginBody},
		{"form content type", "application/x-www-form-urlencoded", maryLogin, 415, notJSONBody},
		{"text/plain", "text/plain", maryLogin, 415, notJSONBody},
		{"no content type", "", maryLogin, 415, notJSONBody},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec := e.call("POST", "/api/v1/authenticate", tc.body, "Content-Type", tc.contentType)
			assert.Equal(t, tc.status, rec.Code)
			assert.Equal(t, tc.want, rec.Body.String())
			assert.Equal(t, jsonCT, rec.Header().Get("Content-Type"))
			assert.Empty(t, rec.Header().Get("WWW-Authenticate"))
		})
	}
	t.Run("charset parameter", func(t *testing.T) {
		rec := e.call("POST", "/api/v1/authenticate", maryLogin, "Content-Type", "application/json; charset=utf-8")
		assert.Equal(t, http.StatusOK, rec.Code)
	})
	t.Run("wrong method", func(t *testing.T) {
		rec := e.call("GET", "/api/v1/authenticate", "")
		assert.Equal(t, http.StatusMethodNotAllowed, rec.Code)
		assert.Equal(t, "POST", rec.Header().Get("Allow"))
	})
}

// TestTwoContentTypeLinesAre415: Content-Type is not a list (RFC 9110
// §8.3, §5.3), so a request with two Content-Type field lines is malformed,
// answered as another content type is. The endpoints read the first line
// only, so application/json then text/plain was served while a proxy or
// WAF reading the last line saw text/plain, and the reverse order was 415.
func TestTwoContentTypeLinesAre415(t *testing.T) {
	e := newEnv(t)
	tok := e.authenticate(t, "mary@example.com")
	auth := "Bearer " + tok.AccessToken
	for _, order := range [][2]string{{jsonCT, "text/plain"}, {"text/plain", jsonCT}, {jsonCT, jsonCT}} {
		for _, tc := range []struct{ path, body string }{
			{"/api/v1/authenticate", maryLogin},
			{"/api/v1/refresh", `{"refresh_token":"` + *tok.RefreshToken + `"}`},
		} {
			t.Run(tc.path+" "+order[0]+" then "+order[1], func(t *testing.T) {
				rec := e.call("POST", tc.path, tc.body,
					"Content-Type", order[0], "Content-Type", order[1], "Authorization", auth)
				assert.Equal(t, http.StatusUnsupportedMediaType, rec.Code)
				assert.Equal(t, notJSONBody, rec.Body.String())
				assert.Equal(t, jsonCT, rec.Header().Get("Content-Type"))
			})
		}
	}
	assert.Equal(t, http.StatusOK, e.refresh(tok.AccessToken, *tok.RefreshToken).Code, "nothing was consumed")
}

// TestLoginThrottlingIsShared checks that attempts through another kind's
// endpoint (here: the shared PasswordLogin called directly, as the session
// kind does) count against the bearer endpoint too.
func TestLoginThrottlingIsShared(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	client := netip.MustParseAddr("192.0.2.1") // httptest's RemoteAddr
	for range 5 {
		_, err := e.login.Login(ctx, client, "mary@example.com", "wrong")
		require.ErrorIs(t, err, middleware.ErrInvalidCredential)
	}
	rec := e.call("POST", "/api/v1/authenticate", maryLogin, "Content-Type", jsonCT)
	assert.Equal(t, http.StatusTooManyRequests, rec.Code)
	assert.Equal(t, "900", rec.Header().Get("Retry-After"))
	assert.Equal(t, rateLimitedBody, rec.Body.String())

	e.clock.Advance(15 * time.Minute)
	rec = e.call("POST", "/api/v1/authenticate", maryLogin, "Content-Type", jsonCT)
	assert.Equal(t, http.StatusOK, rec.Code)
}

func TestPing(t *testing.T) {
	e := newEnv(t)
	tok := e.authenticate(t, "mary@example.com").AccessToken
	rec := e.call("GET", "/api/v1/ping", "", "Authorization", "bearer "+tok)
	assert.Equal(t, http.StatusOK, rec.Code)
	assert.Equal(t, `{"authenticated":true}`+"\n", rec.Body.String())

	rec = e.call("GET", "/api/v1/ping", "")
	assert.Equal(t, http.StatusUnauthorized, rec.Code)
	assert.Equal(t, challengeMissing, rec.Header().Get("WWW-Authenticate"))
	assert.Equal(t, genericBody, rec.Body.String())

	rec = e.call("POST", "/api/v1/ping", "", "Authorization", "Bearer "+tok)
	assert.Equal(t, http.StatusMethodNotAllowed, rec.Code)
}

func TestRefresh(t *testing.T) {
	e := newEnv(t)
	first := e.authenticate(t, "mary@example.com")
	e.clock.Advance(time.Minute)
	rec := e.refresh(first.AccessToken, *first.RefreshToken)
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	assert.Equal(t, "no-store", rec.Header().Get("Cache-Control"))
	next := decodeTokens(t, rec)
	require.NotNil(t, next.RefreshToken)
	require.NotNil(t, next.Scope)
	assert.Equal(t, "offline_access", *next.Scope)
	assert.Equal(t, 28800, next.ExpiresIn)
	assert.Equal(t, "Bearer", next.TokenType)
	assert.NotEqual(t, first.AccessToken, next.AccessToken)
	assert.NotEqual(t, *first.RefreshToken, *next.RefreshToken)
	_, before := decodeJWT(t, first.AccessToken)
	_, after := decodeJWT(t, next.AccessToken)
	assert.Equal(t, before["sid"], after["sid"], "same login")
	assert.NotEqual(t, before["jti"], after["jti"])
	assert.Equal(t, http.StatusOK, e.whoami(next.AccessToken).Code)

	// The rotated refresh token works in turn.
	rec = e.refresh(next.AccessToken, *next.RefreshToken)
	assert.Equal(t, http.StatusOK, rec.Code)
}

// TestRefreshReuseRevokesTheLogin: presenting a used refresh token revokes
// every refresh token and access token of the login (RFC 9700 §4.14.2).
func TestRefreshReuseRevokesTheLogin(t *testing.T) {
	e := newEnv(t)
	first := e.authenticate(t, "mary@example.com")
	other := e.authenticate(t, "mary@example.com") // another login of the same user
	require.Equal(t, http.StatusOK, e.whoami(first.AccessToken).Code)
	rec := e.refresh(first.AccessToken, *first.RefreshToken)
	require.Equal(t, http.StatusOK, rec.Code)
	stolen := decodeTokens(t, rec) // say the thief refreshed first
	require.Equal(t, http.StatusOK, e.whoami(stolen.AccessToken).Code)

	rec = e.refresh(first.AccessToken, *first.RefreshToken) // the reuse
	assert.Equal(t, http.StatusUnauthorized, rec.Code)
	assert.Equal(t, challengeInvalid, rec.Header().Get("WWW-Authenticate"))
	assert.Equal(t, genericBody, rec.Body.String())

	assert.Equal(t, http.StatusUnauthorized, e.refresh(stolen.AccessToken, *stolen.RefreshToken).Code, "new refresh token revoked")
	assert.Equal(t, http.StatusUnauthorized, e.whoami(stolen.AccessToken).Code, "new access token revoked, though cached")
	assert.Equal(t, http.StatusUnauthorized, e.whoami(first.AccessToken).Code, "old access token revoked")
	assert.Equal(t, http.StatusOK, e.whoami(other.AccessToken).Code, "the user's other login is untouched")
	assert.Equal(t, http.StatusOK, e.refresh(other.AccessToken, *other.RefreshToken).Code)
}

func TestConcurrentRefreshExactlyOneSucceeds(t *testing.T) {
	e := newEnv(t)
	tok := e.authenticate(t, "mary@example.com")
	const n = 16
	start := make(chan struct{})
	codes := make(chan int, n)
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			<-start
			codes <- e.refresh(tok.AccessToken, *tok.RefreshToken).Code
		})
	}
	close(start)
	wg.Wait()
	close(codes)
	counts := map[int]int{}
	for c := range codes {
		counts[c]++
	}
	assert.Equal(t, map[int]int{http.StatusOK: 1, http.StatusUnauthorized: n - 1}, counts)
}

func TestRefreshWithExpiredAccessToken(t *testing.T) {
	e := newEnv(t, bearer.WithAccessTTL(time.Hour))
	tok := e.authenticate(t, "mary@example.com")
	e.clock.Advance(2 * time.Hour)
	require.Equal(t, http.StatusUnauthorized, e.whoami(tok.AccessToken).Code)
	rec := e.refresh(tok.AccessToken, *tok.RefreshToken)
	require.Equal(t, http.StatusOK, rec.Code)
	assert.Equal(t, http.StatusOK, e.whoami(decodeTokens(t, rec).AccessToken).Code)
}

// TestRefreshWithForgedExpiredAccessToken: the signature is checked before
// expiry is considered, and a refused request consumes nothing.
func TestRefreshWithForgedExpiredAccessToken(t *testing.T) {
	e := newEnv(t, bearer.WithAccessTTL(time.Hour))
	tok := e.authenticate(t, "mary@example.com")
	e.clock.Advance(2 * time.Hour)
	_, genuine := decodeJWT(t, tok.AccessToken)
	forged := forge(t, jwt.SigningMethodHS256, otherSecret, nil, jwt.MapClaims(genuine))
	for _, bad := range []string{
		forged,
		tok.AccessToken[:strings.LastIndexByte(tok.AccessToken, '.')+1] + flip(tok.AccessToken[strings.LastIndexByte(tok.AccessToken, '.')+1:]),
		forge(t, jwt.SigningMethodHS256, testSecret, map[string]any{"typ": "JWT"}, jwt.MapClaims(genuine)),
		forge(t, jwt.SigningMethodHS256, testSecret, nil, with(jwt.MapClaims(genuine), "iss", "https://evil.example")),
		forge(t, jwt.SigningMethodHS256, testSecret, nil, with(jwt.MapClaims(genuine), "aud", "other")),
	} {
		rec := e.refresh(bad, *tok.RefreshToken)
		assert.Equal(t, http.StatusUnauthorized, rec.Code)
		assert.Equal(t, challengeInvalid, rec.Header().Get("WWW-Authenticate"))
		assert.Equal(t, genericBody, rec.Body.String())
	}
	assert.Equal(t, http.StatusOK, e.refresh(tok.AccessToken, *tok.RefreshToken).Code, "the refresh token was not consumed")
}

func TestRefreshMustMatchTheLogin(t *testing.T) {
	e := newEnv(t)
	a := e.authenticate(t, "mary@example.com")
	b := e.authenticate(t, "mary@example.com")
	admin := e.authenticate(t, "admin@example.com")
	assert.Equal(t, http.StatusUnauthorized, e.refresh(a.AccessToken, *b.RefreshToken).Code, "another login of the same user")
	assert.Equal(t, http.StatusUnauthorized, e.refresh(a.AccessToken, *admin.RefreshToken).Code, "another user")
	assert.Equal(t, http.StatusUnauthorized, e.refresh(admin.AccessToken, *a.RefreshToken).Code, "another user")
	// Nothing was consumed or revoked.
	for _, tok := range []tokenBody{a, b, admin} {
		assert.Equal(t, http.StatusOK, e.refresh(tok.AccessToken, *tok.RefreshToken).Code)
	}
}

func TestRefreshTokenLifetimes(t *testing.T) {
	t.Run("each refresh token expires", func(t *testing.T) {
		e := newEnv(t, bearer.WithAccessTTL(time.Hour), bearer.WithRefreshTTL(2*time.Hour))
		tok := e.authenticate(t, "mary@example.com")
		e.clock.Advance(2 * time.Hour)
		assert.Equal(t, http.StatusUnauthorized, e.refresh(tok.AccessToken, *tok.RefreshToken).Code)
	})
	t.Run("the login ends however often it is refreshed", func(t *testing.T) {
		e := newEnv(t, bearer.WithAccessTTL(time.Hour), bearer.WithRefreshTTL(2*time.Hour),
			bearer.WithFamilyLifetime(5*time.Hour))
		tok := e.authenticate(t, "mary@example.com")
		for range 4 {
			e.clock.Advance(time.Hour)
			rec := e.refresh(tok.AccessToken, *tok.RefreshToken)
			require.Equal(t, http.StatusOK, rec.Code)
			tok = decodeTokens(t, rec)
		}
		e.clock.Advance(time.Hour) // 5 hours after login
		assert.Equal(t, http.StatusUnauthorized, e.refresh(tok.AccessToken, *tok.RefreshToken).Code)
	})
}

func TestRefreshWithoutRotation(t *testing.T) {
	e := newEnv(t, bearer.WithoutRotation())
	tok := e.authenticate(t, "mary@example.com")
	for range 3 {
		rec := e.refresh(tok.AccessToken, *tok.RefreshToken)
		require.Equal(t, http.StatusOK, rec.Code)
		body := decodeTokens(t, rec)
		assert.Nil(t, body.RefreshToken, "no new refresh token")
		require.NotNil(t, body.Scope)
		assert.Equal(t, "offline_access", *body.Scope)
		assert.Equal(t, http.StatusOK, e.whoami(body.AccessToken).Code)
	}
	rec := e.call("POST", "/api/v1/logout", "", "Authorization", "Bearer "+tok.AccessToken)
	require.Equal(t, http.StatusOK, rec.Code)
	assert.Equal(t, http.StatusUnauthorized, e.refresh(tok.AccessToken, *tok.RefreshToken).Code)
}

func TestRefreshBadRequests(t *testing.T) {
	e := newEnv(t)
	tok := e.authenticate(t, "mary@example.com")
	auth := "Bearer " + tok.AccessToken
	tests := []struct {
		name      string
		headers   []string
		body      string
		status    int
		challenge string
		want      string
	}{
		{"no bearer token", []string{"Content-Type", jsonCT}, `{"refresh_token":"` + *tok.RefreshToken + `"}`, 401, challengeMissing, genericBody},
		{"malformed bearer token", []string{"Content-Type", jsonCT, "Authorization", "Bearer x y"}, `{"refresh_token":"` + *tok.RefreshToken + `"}`, 400, challengeRequest, genericBody},
		{"bearer token not a JWT", []string{"Content-Type", jsonCT, "Authorization", "Bearer x"}, `{"refresh_token":"` + *tok.RefreshToken + `"}`, 401, challengeInvalid, genericBody},
		{"not JSON", []string{"Content-Type", jsonCT, "Authorization", auth}, `refresh_token=x`, 400, "", badRefreshBody},
		{"missing member", []string{"Content-Type", jsonCT, "Authorization", auth}, `{}`, 400, "", badRefreshBody},
		{"number", []string{"Content-Type", jsonCT, "Authorization", auth}, `{"refresh_token":1}`, 400, "", badRefreshBody},
		{"extra member", []string{"Content-Type", jsonCT, "Authorization", auth}, `{"refresh_token":"x","grant_type":"refresh_token"}`, 400, "", badRefreshBody},
		{"form", []string{"Content-Type", "application/x-www-form-urlencoded", "Authorization", auth}, `refresh_token=x`, 415, "", notJSONBody},
		{"malformed refresh token", []string{"Content-Type", jsonCT, "Authorization", auth}, `{"refresh_token":"short"}`, 401, challengeInvalid, genericBody},
		{"unknown refresh token", []string{"Content-Type", jsonCT, "Authorization", auth}, `{"refresh_token":"` + middleware.NewToken() + `"}`, 401, challengeInvalid, genericBody},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec := e.call("POST", "/api/v1/refresh", tc.body, tc.headers...)
			assert.Equal(t, tc.status, rec.Code)
			assert.Equal(t, tc.challenge, rec.Header().Get("WWW-Authenticate"))
			assert.Equal(t, tc.want, rec.Body.String())
		})
	}
	assert.Equal(t, http.StatusOK, e.refresh(tok.AccessToken, *tok.RefreshToken).Code, "nothing was consumed")
}

func TestRefreshOfDisabledAccount(t *testing.T) {
	e := newEnv(t)
	tok := e.authenticate(t, "mary@example.com")
	a, err := e.accounts.FindByID(context.Background(), "u-mary")
	require.NoError(t, err)
	a.Disabled = true
	require.NoError(t, e.accounts.Update(context.Background(), a))
	assert.Equal(t, http.StatusUnauthorized, e.refresh(tok.AccessToken, *tok.RefreshToken).Code)
}

func TestLogout(t *testing.T) {
	e := newEnv(t)
	first := e.authenticate(t, "mary@example.com")
	rec := e.refresh(first.AccessToken, *first.RefreshToken)
	require.Equal(t, http.StatusOK, rec.Code)
	current := decodeTokens(t, rec)
	other := e.authenticate(t, "mary@example.com")
	for _, tok := range []string{first.AccessToken, current.AccessToken, other.AccessToken} {
		require.Equal(t, http.StatusOK, e.whoami(tok).Code) // cached
	}

	rec = e.call("POST", "/api/v1/logout", "", "Authorization", "Bearer "+current.AccessToken)
	assert.Equal(t, http.StatusOK, rec.Code)
	assert.Equal(t, `{"logged_out":true}`+"\n", rec.Body.String())
	assert.Equal(t, "no-store", rec.Header().Get("Cache-Control"))

	assert.Equal(t, http.StatusUnauthorized, e.whoami(current.AccessToken).Code, "the token itself")
	assert.Equal(t, http.StatusUnauthorized, e.whoami(first.AccessToken).Code, "an older token of the login")
	assert.Equal(t, http.StatusUnauthorized, e.refresh(current.AccessToken, *current.RefreshToken).Code, "the refresh token")
	assert.Equal(t, http.StatusOK, e.whoami(other.AccessToken).Code, "another login")
	assert.Equal(t, http.StatusOK, e.refresh(other.AccessToken, *other.RefreshToken).Code)

	// The revocation outlives the token's leeway-extended expiry.
	e.clock.Advance(8*time.Hour + 20*time.Second)
	assert.Equal(t, http.StatusUnauthorized, e.whoami(current.AccessToken).Code)
}

func TestLogoutAlwaysAnswers200(t *testing.T) {
	e := newEnv(t)
	tok := e.authenticate(t, "mary@example.com")
	forged := forge(t, jwt.SigningMethodHS256, otherSecret, nil, validClaims(e.clock.Now()))
	for name, headers := range map[string][]string{
		"no token":     nil,
		"garbage":      {"Authorization", "Bearer garbage"},
		"forged":       {"Authorization", "Bearer " + forged},
		"basic":        {"Authorization", "Basic dXNlcjpwYXNz"},
		"doubled":      {"Authorization", "Bearer a.b.c", "Authorization", "Bearer c.d.e"},
		"twice (real)": {"Authorization", "Bearer " + tok.AccessToken},
	} {
		rec := e.call("POST", "/api/v1/logout", "", headers...)
		assert.Equal(t, http.StatusOK, rec.Code, name)
		assert.Equal(t, `{"logged_out":true}`+"\n", rec.Body.String(), name)
	}
	rec := e.call("GET", "/api/v1/logout", "")
	assert.Equal(t, http.StatusMethodNotAllowed, rec.Code)
}

func TestLogoutWithExpiredAccessTokenRevokesTheLogin(t *testing.T) {
	e := newEnv(t, bearer.WithAccessTTL(time.Hour))
	tok := e.authenticate(t, "mary@example.com")
	e.clock.Advance(2 * time.Hour)
	rec := e.call("POST", "/api/v1/logout", "", "Authorization", "Bearer "+tok.AccessToken)
	require.Equal(t, http.StatusOK, rec.Code)
	assert.Equal(t, http.StatusUnauthorized, e.refresh(tok.AccessToken, *tok.RefreshToken).Code)
}

func TestRevokeSubject(t *testing.T) {
	e := newEnv(t)
	a := e.authenticate(t, "mary@example.com")
	b := e.authenticate(t, "mary@example.com")
	admin := e.authenticate(t, "admin@example.com")
	for _, tok := range []string{a.AccessToken, b.AccessToken, admin.AccessToken} {
		require.Equal(t, http.StatusOK, e.whoami(tok).Code)
	}
	require.NoError(t, e.svc.RevokeSubject(context.Background(), "u-mary"))
	assert.Equal(t, http.StatusUnauthorized, e.whoami(a.AccessToken).Code)
	assert.Equal(t, http.StatusUnauthorized, e.whoami(b.AccessToken).Code)
	assert.Equal(t, http.StatusUnauthorized, e.refresh(a.AccessToken, *a.RefreshToken).Code)
	assert.Equal(t, http.StatusOK, e.whoami(admin.AccessToken).Code)

	// Tokens carry whole seconds: a login in the same second is revoked
	// too (fail safe); from the next second on, logins work again.
	same := e.authenticate(t, "mary@example.com")
	assert.Equal(t, http.StatusUnauthorized, e.whoami(same.AccessToken).Code)
	e.clock.Advance(time.Second)
	fresh := e.authenticate(t, "mary@example.com")
	assert.Equal(t, http.StatusOK, e.whoami(fresh.AccessToken).Code)
	assert.Equal(t, http.StatusOK, e.refresh(fresh.AccessToken, *fresh.RefreshToken).Code)
}

// recordingInvalidator records what it is told to evict.
type recordingInvalidator struct {
	mu       sync.Mutex
	creds    int
	subjects []string
}

func (r *recordingInvalidator) Invalidate(middleware.Credential) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.creds++
}

func (r *recordingInvalidator) InvalidateSubject(s string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.subjects = append(r.subjects, s)
}

func TestExtraInvalidatorIsTold(t *testing.T) {
	inv := &recordingInvalidator{}
	e := newEnv(t, bearer.WithInvalidator(inv))
	tok := e.authenticate(t, "mary@example.com")
	require.Equal(t, http.StatusOK, e.call("POST", "/api/v1/logout", "", "Authorization", "Bearer "+tok.AccessToken).Code)
	assert.Equal(t, 1, inv.creds)
	assert.Equal(t, []string{"u-mary"}, inv.subjects)

	require.NoError(t, e.svc.RevokeSubject(context.Background(), "u-admin"))
	assert.Equal(t, []string{"u-mary", "u-admin"}, inv.subjects)

	tok = e.authenticate(t, "mary@example.com")
	require.Equal(t, http.StatusOK, e.refresh(tok.AccessToken, *tok.RefreshToken).Code)
	require.Equal(t, http.StatusUnauthorized, e.refresh(tok.AccessToken, *tok.RefreshToken).Code) // reuse
	assert.Equal(t, []string{"u-mary", "u-admin", "u-mary"}, inv.subjects)
}

// failingRevocations is a revocation list whose backend is down.
type failingRevocations struct{}

var errDown = errors.New("backend down")

func (failingRevocations) RevokeToken(context.Context, string, time.Time) error { return errDown }
func (failingRevocations) RevokeLogin(context.Context, string, time.Time) error { return errDown }
func (failingRevocations) RevokeSubject(context.Context, string, time.Time, time.Time) error {
	return errDown
}
func (failingRevocations) Revoked(context.Context, bearer.TokenRef) (bool, error) {
	return false, errDown
}

// failingRefreshStore is a refresh store whose backend is down.
type failingRefreshStore struct{}

func (failingRefreshStore) Create(context.Context, bearer.Family, middleware.TokenDigest, time.Time) error {
	return errDown
}
func (failingRefreshStore) Rotate(context.Context, bearer.Rotation) (bearer.Family, error) {
	return bearer.Family{}, errDown
}
func (failingRefreshStore) RevokeFamily(context.Context, string) error  { return errDown }
func (failingRefreshStore) RevokeSubject(context.Context, string) error { return errDown }

func TestBackendFailuresAre503(t *testing.T) {
	t.Run("revocation list", func(t *testing.T) {
		e := newEnv(t, bearer.WithRevocationList(failingRevocations{}))
		tok := e.authenticate(t, "mary@example.com")
		for _, rec := range []*httptest.ResponseRecorder{
			e.whoami(tok.AccessToken),
			e.refresh(tok.AccessToken, *tok.RefreshToken),
			e.call("POST", "/api/v1/logout", "", "Authorization", "Bearer "+tok.AccessToken),
		} {
			assert.Equal(t, http.StatusServiceUnavailable, rec.Code)
			assert.Equal(t, "5", rec.Header().Get("Retry-After"))
			assert.Equal(t, unavailableBody, rec.Body.String())
		}
		assert.Error(t, e.svc.RevokeSubject(context.Background(), "u-mary"))
	})
	t.Run("refresh store", func(t *testing.T) {
		e := newEnv(t, bearer.WithRefreshStore(failingRefreshStore{}))
		rec := e.call("POST", "/api/v1/authenticate", maryLogin, "Content-Type", jsonCT)
		assert.Equal(t, http.StatusServiceUnavailable, rec.Code)
		assert.Equal(t, unavailableBody, rec.Body.String())
	})
}

func TestNewValidatesItsConfiguration(t *testing.T) {
	e := newEnv(t)
	keys := testKeySet(t)
	tests := map[string][]bearer.ServiceOption{
		"nil option":                   {nil},
		"leeway over 5 minutes":        {bearer.WithLeeway(6 * time.Minute)},
		"negative leeway":              {bearer.WithLeeway(-time.Second)},
		"access ttl over a day":        {bearer.WithAccessTTL(25 * time.Hour)},
		"access ttl zero":              {bearer.WithAccessTTL(0)},
		"refresh ttl beyond family":    {bearer.WithRefreshTTL(48 * time.Hour), bearer.WithFamilyLifetime(24 * time.Hour)},
		"empty issuer":                 {bearer.WithIssuer("")},
		"issuer with a quote":          {bearer.WithIssuer(`a"b`)},
		"empty audience":               {bearer.WithAudience("")},
		"realm with a quote":           {bearer.WithRealm(`a"b`)},
		"nil clock":                    {bearer.WithClock(nil)},
		"nil store":                    {bearer.WithRefreshStore(nil)},
		"nil list":                     {bearer.WithRevocationList(nil)},
		"nil invalidator":              {bearer.WithInvalidator(nil)},
		"nil logger":                   {bearer.WithLogger(nil)},
		"tiny max token":               {bearer.WithMaxTokenBytes(100)},
		"max token over header limit":  {bearer.WithMaxTokenBytes(1 << 20)},
		"zero cache entries":           {bearer.WithCacheMaxEntries(0)},
		"nil scheme option":            {bearer.WithSchemeOptions(nil)},
		"nil cache option":             {bearer.WithCacheOptions(nil)},
		"invalid cache option":         {bearer.WithCacheOptions(middleware.WithVerifyTimeout(0))},
		"family lifetime under second": {bearer.WithFamilyLifetime(time.Millisecond)},
	}
	for name, opts := range tests {
		_, err := bearer.New(e.login, keys, opts...)
		assert.Error(t, err, name)
	}
	_, err := bearer.New(nil, keys)
	assert.Error(t, err)
	_, err = bearer.New(e.login, nil)
	assert.Error(t, err)

	for name, opts := range map[string][]bearer.ServiceOption{
		"leeway of 5 minutes":     {bearer.WithLeeway(bearer.MaxLeeway)},
		"no leeway":               {bearer.WithLeeway(0)},
		"access ttl of a day":     {bearer.WithAccessTTL(24 * time.Hour)},
		"smallest max token":      {bearer.WithMaxTokenBytes(512)},
		"refresh ttl = family":    {bearer.WithRefreshTTL(24 * time.Hour), bearer.WithFamilyLifetime(24 * time.Hour)},
		"without rotation":        {bearer.WithoutRotation()},
		"a URL issuer and an aud": {bearer.WithIssuer("https://auth.example.com/"), bearer.WithAudience("api://tidal")},
	} {
		svc, err := bearer.New(e.login, keys, opts...)
		if assert.NoError(t, err, name) {
			assert.NoError(t, svc.Close())
		}
	}
}

func TestJWKSHandler(t *testing.T) {
	t.Run("HS256 keys are never published", func(t *testing.T) {
		e := newEnv(t) // HS256 signing, Ed25519 verification key
		rec := e.call("GET", "/.well-known/jwks.json", "")
		require.Equal(t, http.StatusOK, rec.Code)
		assert.Equal(t, "application/jwk-set+json", rec.Header().Get("Content-Type"))
		assert.JSONEq(t, `{"keys":[{"kty":"OKP","crv":"Ed25519","x":"`+b64.EncodeToString(edPublic)+`","kid":"ed1","alg":"EdDSA","use":"sig"}]}`,
			rec.Body.String())
		assert.NotContains(t, rec.Body.String(), b64.EncodeToString(testSecret))
	})
	t.Run("only HS256", func(t *testing.T) {
		hs, err := bearer.NewHMACKey(hsKID, testSecret)
		require.NoError(t, err)
		set, err := bearer.NewKeySet(hs)
		require.NoError(t, err)
		e := newEnvWithKeys(t, set)
		rec := e.call("GET", "/.well-known/jwks.json", "")
		assert.JSONEq(t, `{"keys":[]}`, rec.Body.String())
	})
	t.Run("method", func(t *testing.T) {
		e := newEnv(t)
		rec := e.call("POST", "/.well-known/jwks.json", "")
		assert.Equal(t, http.StatusMethodNotAllowed, rec.Code)
	})
}

func TestIssue(t *testing.T) {
	e := newEnv(t)
	tokens, err := e.svc.Issue(context.Background(), middleware.Account{UserID: "u-sso", Roles: []string{"a"}})
	require.NoError(t, err)
	assert.Equal(t, 8*time.Hour, tokens.ExpiresIn)
	assert.Equal(t, http.StatusOK, e.whoami(tokens.AccessToken).Code)
	_, err = e.svc.Issue(context.Background(), middleware.Account{UserID: "u-off", Disabled: true})
	assert.Error(t, err)
}

// TestIssueRefusalIsNotAnOutage: Issue refused a disabled account with a
// plain error, which middleware.AsError (and Scheme.Reject) read as
// ErrUnavailable: a 503 with Retry-After, the answer the package promises
// never to give for a refused credential.
func TestIssueRefusalIsNotAnOutage(t *testing.T) {
	svc := newEnv(t).svc
	_, err := svc.Issue(context.Background(), middleware.Account{UserID: "u1", Disabled: true})
	if err == nil {
		t.Fatal("Issue accepted a disabled account")
	}
	rec := httptest.NewRecorder()
	svc.Scheme().Reject(rec, httptest.NewRequest(http.MethodPost, "/sso", nil), err)
	if errors.Is(middleware.AsError(err), middleware.ErrUnavailable) || rec.Code == http.StatusServiceUnavailable {
		t.Fatalf("a disabled account is reported as an outage: %d, Retry-After %q, err %v",
			rec.Code, rec.Header().Get("Retry-After"), err)
	}
	require.ErrorIs(t, err, middleware.ErrInvalidCredential, "a refused account is a 401")

	// An account without a user id is the caller's bug: a 500, not an outage.
	_, err = svc.Issue(context.Background(), middleware.Account{})
	require.ErrorIs(t, err, middleware.ErrInternal)
}

// rotateFails is a memory store whose Rotate fails, as a store whose
// backend went down after the login.
type rotateFails struct{ *bearer.MemoryRefreshStore }

func (rotateFails) Rotate(context.Context, bearer.Rotation) (bearer.Family, error) {
	return bearer.Family{}, errDown
}

func TestRefreshWithFailingStoreIs503(t *testing.T) {
	mem, err := bearer.NewMemoryRefreshStore()
	require.NoError(t, err)
	e := newEnv(t, bearer.WithRefreshStore(rotateFails{mem}))
	tok := e.authenticate(t, "mary@example.com")
	rec := e.refresh(tok.AccessToken, *tok.RefreshToken)
	assert.Equal(t, http.StatusServiceUnavailable, rec.Code)
	assert.Equal(t, unavailableBody, rec.Body.String())
}

// TestTrustedProxiesNameTheClient: behind a trusted proxy, login throttling
// counts the address in X-Forwarded-For, not the proxy's.
func TestTrustedProxiesNameTheClient(t *testing.T) {
	accounts := middleware.NewMemoryAccounts()
	hasher, err := middleware.NewArgon2idHasher(middleware.TestArgon2Params)
	require.NoError(t, err)
	hash, err := hasher.Hash("pw")
	require.NoError(t, err)
	require.NoError(t, accounts.Create(context.Background(), middleware.Account{UserID: "u", Username: "u", PasswordHash: hash}))
	limiter, err := middleware.NewMemoryLimiter(middleware.LimiterPolicy{AddressAttempts: 3})
	require.NoError(t, err)
	login, err := middleware.NewPasswordLogin(accounts, middleware.WithHasher(hasher), middleware.WithLimiter(limiter))
	require.NoError(t, err)
	proxies, err := middleware.NewTrustedProxies("192.0.2.0/24") // httptest's RemoteAddr
	require.NoError(t, err)
	svc, err := bearer.New(login, testKeySet(t), bearer.WithTrustedProxies(proxies), bearer.WithLogger(quiet))
	require.NoError(t, err)
	defer svc.Close()
	attempt := func(client, password string) int {
		req := httptest.NewRequest("POST", "/authenticate", strings.NewReader(`{"username":"u","password":"`+password+`"}`))
		req.Header.Set("Content-Type", jsonCT)
		req.Header.Set("X-Forwarded-For", client)
		rec := httptest.NewRecorder()
		svc.Handler().ServeHTTP(rec, req)
		return rec.Code
	}
	for range 3 {
		require.Equal(t, http.StatusUnauthorized, attempt("203.0.113.9", "wrong"))
	}
	assert.Equal(t, http.StatusTooManyRequests, attempt("203.0.113.9", "pw"), "that client used up its attempts")
	assert.Equal(t, http.StatusOK, attempt("198.51.100.7", "pw"), "another client behind the same proxy did not")
}

// TestWithTrustedProxiesAcceptsNil: a nil *middleware.TrustedProxies is
// the documented default ("trusts nobody": middleware, each kind's option,
// the README), so one config value wired into every kind must pass both
// session.New and bearer.New; refusing it in bearer alone made such a
// config fail there only.
func TestWithTrustedProxiesAcceptsNil(t *testing.T) {
	var proxies *middleware.TrustedProxies // no proxies configured
	acc := tidegatetest.NewAccounts(t)
	s, err := session.New(acc.Login, session.WithTrustedProxies(proxies))
	if err != nil {
		t.Fatalf("session refuses nil: %v", err)
	}
	defer s.Close()
	b, err := bearer.New(acc.Login, testKeySet(t), bearer.WithTrustedProxies(proxies))
	if err != nil {
		t.Fatalf("bearer.WithTrustedProxies(nil) refused, session's same option accepts it: %v", err)
	}
	b.Close()
}

// lateRevocations is a revocation list whose answers come late: each
// revocation is written, then reported as failed (a timeout after Redis ran
// the command).
type lateRevocations struct{ bearer.RevocationList }

func (l lateRevocations) RevokeToken(ctx context.Context, id string, until time.Time) error {
	return errors.Join(l.RevocationList.RevokeToken(ctx, id, until), context.DeadlineExceeded)
}
func (l lateRevocations) RevokeLogin(ctx context.Context, id string, until time.Time) error {
	return errors.Join(l.RevocationList.RevokeLogin(ctx, id, until), context.DeadlineExceeded)
}
func (l lateRevocations) RevokeSubject(ctx context.Context, subject string, before, until time.Time) error {
	return errors.Join(l.RevocationList.RevokeSubject(ctx, subject, before, until), context.DeadlineExceeded)
}

// TestRevocationWithUnknownOutcomeForgetsTheCache: an error from the
// revocation list does not say that nothing was revoked, so the cache
// forgets the tokens whatever the outcome. A cached token would otherwise
// be accepted until its exp, hours after the list revoked it.
func TestRevocationWithUnknownOutcomeForgetsTheCache(t *testing.T) {
	list, err := bearer.NewMemoryRevocationList()
	require.NoError(t, err)
	e := newEnv(t, bearer.WithRevocationList(lateRevocations{list}))
	loggedOut := e.authenticate(t, "mary@example.com").AccessToken
	revoked := e.authenticate(t, "admin@example.com").AccessToken
	require.Equal(t, http.StatusOK, e.whoami(loggedOut).Code)
	require.Equal(t, http.StatusOK, e.whoami(revoked).Code)

	require.Equal(t, http.StatusServiceUnavailable,
		e.call("POST", "/api/v1/logout", "", "Authorization", "Bearer "+loggedOut).Code)
	assert.Equal(t, http.StatusUnauthorized, e.whoami(loggedOut).Code, "logout failed late")

	require.ErrorIs(t, e.svc.RevokeSubject(t.Context(), "u-admin"), context.DeadlineExceeded)
	assert.Equal(t, http.StatusUnauthorized, e.whoami(revoked).Code, "RevokeSubject failed late")
}

// revocationsDown is a revocation list whose RevokeLogin fails while down
// is set (Redis refusing writes during a failover), while reads still work.
type revocationsDown struct {
	bearer.RevocationList
	down atomic.Bool
}

func (l *revocationsDown) RevokeLogin(ctx context.Context, login string, until time.Time) error {
	if l.down.Load() {
		return errDown
	}
	return l.RevocationList.RevokeLogin(ctx, login, until)
}

// TestRefreshReuseWhoseRevocationFailedIsRevokedNextTime: the store revokes
// the family when it detects a reuse, but the access token the thief bought
// with the first use lives until the login is revoked (RFC 9700 §4.14.2).
// When that revocation fails, the reuse is answered 503, not as a refusal
// the client would accept, and the next presentation of any of the login's
// refresh tokens is a reuse again, which revokes the login then.
func TestRefreshReuseWhoseRevocationFailedIsRevokedNextTime(t *testing.T) {
	list, err := bearer.NewMemoryRevocationList()
	require.NoError(t, err)
	revocations := &revocationsDown{RevocationList: list}
	e := newEnv(t, bearer.WithRevocationList(revocations))
	victim := e.authenticate(t, "mary@example.com")
	rec := e.refresh(victim.AccessToken, *victim.RefreshToken)
	require.Equal(t, http.StatusOK, rec.Code)
	thief := decodeTokens(t, rec) // the thief refreshed first

	revocations.down.Store(true)
	rec = e.refresh(victim.AccessToken, *victim.RefreshToken) // the reuse
	require.Equal(t, http.StatusServiceUnavailable, rec.Code, "the login could not be revoked: retry later")
	assert.Equal(t, unavailableBody, rec.Body.String())
	assert.Equal(t, http.StatusServiceUnavailable, e.refresh(thief.AccessToken, *thief.RefreshToken).Code,
		"the thief's refresh token is a reuse too, and buys nothing")

	revocations.down.Store(false)
	rec = e.refresh(victim.AccessToken, *victim.RefreshToken) // the client retries
	assert.Equal(t, http.StatusUnauthorized, rec.Code, "the reuse, revoked this time")
	assert.Equal(t, challengeInvalid, rec.Header().Get("WWW-Authenticate"))
	assert.Equal(t, http.StatusUnauthorized, e.whoami(thief.AccessToken).Code, "what the first use bought is revoked")
	assert.Equal(t, http.StatusUnauthorized, e.whoami(victim.AccessToken).Code)
}

// lateRotations is a memory refresh store whose Rotate fails with err for
// its first failures calls; when landed is set those rotations were carried
// out all the same (a timeout after Redis ran the script).
type lateRotations struct {
	*bearer.MemoryRefreshStore
	err      error
	landed   bool
	failures atomic.Int32
	calls    atomic.Int32
}

func (l *lateRotations) Rotate(ctx context.Context, r bearer.Rotation) (bearer.Family, error) {
	l.calls.Add(1)
	if l.failures.Add(-1) < 0 {
		return l.MemoryRefreshStore.Rotate(ctx, r)
	}
	if l.landed {
		_, _ = l.MemoryRefreshStore.Rotate(ctx, r)
	}
	return bearer.Family{}, l.err
}

// TestRefreshRetriesARotationWhoseAnswerWasLost: a rotation the store may
// have carried out before failing (a timeout, a lost connection) is run
// once more, the same Rotation, which the store answers as it did the first
// run. Answered 503 instead, the rotation may have used the token up, and
// the client's retry with it would be a reuse that ends the login. A
// refusal is not run again.
func TestRefreshRetriesARotationWhoseAnswerWasLost(t *testing.T) {
	timeout := &net.OpError{Op: "read", Net: "tcp", Err: os.ErrDeadlineExceeded}
	refused := &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}
	tests := []struct {
		name      string
		err       error
		landed    bool
		failures  int32
		wantCode  int
		wantCalls int32
	}{
		{"read timeout after the rotation", fmt.Errorf("redisstore: rotate: %w", timeout), true, 1, http.StatusOK, 2},
		{"read timeout before the rotation", timeout, false, 1, http.StatusOK, 2},
		{"connection lost", io.ErrUnexpectedEOF, true, 1, http.StatusOK, 2},
		{"context deadline", context.DeadlineExceeded, true, 1, http.StatusOK, 2},
		{"late twice", timeout, true, 2, http.StatusServiceUnavailable, 2},
		// go-redis returns its last attempt's error only: an earlier one may
		// have run, whatever the last one met.
		{"connection refused after an attempt that ran", refused, true, 1, http.StatusOK, 2},
		{"pool timeout after an attempt that ran", errors.New("redis: connection pool timeout"), true, 1, http.StatusOK, 2},
		{"failover reply after an attempt that ran", errors.New("READONLY You can't write against a read only replica."), true, 1, http.StatusOK, 2},
		{"backend error before the rotation", errDown, false, 1, http.StatusOK, 2},
		{"down twice", errDown, false, 2, http.StatusServiceUnavailable, 2},
		{"request cancelled", fmt.Errorf("%w: %w", context.Canceled, timeout), false, 1, http.StatusServiceUnavailable, 1},
		{"store full", bearer.ErrRefreshStoreFull, false, 1, http.StatusServiceUnavailable, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			mem, err := bearer.NewMemoryRefreshStore()
			require.NoError(t, err)
			store := &lateRotations{MemoryRefreshStore: mem, err: tc.err, landed: tc.landed}
			e := newEnv(t, bearer.WithRefreshStore(store))
			tok := e.authenticate(t, "mary@example.com")
			store.failures.Store(tc.failures)
			rec := e.refresh(tok.AccessToken, *tok.RefreshToken)
			require.Equal(t, tc.wantCode, rec.Code)
			assert.Equal(t, tc.wantCalls, store.calls.Load(), "rotations asked of the store")
			if tc.wantCode != http.StatusOK {
				return
			}
			next := decodeTokens(t, rec)
			assert.Equal(t, http.StatusOK, e.whoami(next.AccessToken).Code)
			assert.Equal(t, http.StatusOK, e.refresh(next.AccessToken, *next.RefreshToken).Code,
				"the login lives: the retry was not taken for a reuse")
		})
	}
}
