package tidegatetest

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/tidegate/tidegate/basicauth"
	"github.com/tidegate/tidegate/bearer"
	"github.com/tidegate/tidegate/middleware"
	"github.com/tidegate/tidegate/session"
)

// BasicHeader returns the Authorization value of HTTP Basic credentials
// (RFC 7617): "Basic " and base64 of user ":" password. For basicauth it
// is BasicHeader(appToken, sessionToken), BasicHeader(backendToken,
// userID) or BasicHeader(appToken, "").
func BasicHeader(user, password string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+password))
}

// BearerHeader returns the Authorization value of a bearer token (RFC 6750
// §2.1): "Bearer " and the token.
func BearerHeader(token string) string { return "Bearer " + token }

// LoginSession logs in through svc's POST /login (HTTP Basic login:password,
// as a Tidepool client does), in-process, and returns the session token to
// send in the session.HeaderToken header. It stops the test unless the login
// succeeds.
func LoginSession(t testing.TB, svc *session.Service, login, password string) string {
	t.Helper()
	req := httptest.NewRequest(http.MethodPost, "/login", http.NoBody)
	req.Header.Set("Authorization", BasicHeader(login, password))
	rec := serve(svc.Handler(), req)
	token := rec.Header().Get(session.HeaderToken)
	if rec.Code != http.StatusOK || token == "" {
		t.Fatalf("tidegatetest: session login as %q: status %d, body %s", login, rec.Code, bytes.TrimSpace(rec.Body.Bytes()))
	}
	return token
}

// IssueSession stores s in store under a fresh token and returns the token,
// without any password: for a session.Service pass svc.Store(); for a
// basicauth.Service pass the store given to basicauth.WithSessionStore and
// set s.App to the app's id. s needs a Subject and an ExpiresAt on the
// service's clock (with a Clock: clock.Now().Add(time.Hour)); a zero
// IssuedAt is set to ExpiresAt less one hour.
func IssueSession(t testing.TB, store middleware.SessionStore, s middleware.Session) string {
	t.Helper()
	if s.Subject == "" || s.ExpiresAt.IsZero() {
		t.Fatalf("tidegatetest: IssueSession needs a session with a Subject and an ExpiresAt")
	}
	if s.IssuedAt.IsZero() {
		s.IssuedAt = s.ExpiresAt.Add(-time.Hour)
	}
	token := middleware.NewToken()
	if err := store.Create(context.Background(), middleware.DigestToken(token), s); err != nil {
		t.Fatalf("tidegatetest: store a session of %q: %v", s.Subject, err)
	}
	return token
}

// LoginBearer logs in through svc's POST /authenticate (a JSON username and
// password, as a Tidal client does), in-process, and returns the tokens.
// Send the access token with BearerHeader. It stops the test unless the
// login succeeds.
func LoginBearer(t testing.TB, svc *bearer.Service, login, password string) bearer.Tokens {
	t.Helper()
	body, _ := json.Marshal(map[string]string{"username": login, "password": password})
	req := httptest.NewRequest(http.MethodPost, "/authenticate", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	rec := serve(svc.Handler(), req)
	var out struct {
		AccessToken  string `json:"access_token"`
		RefreshToken string `json:"refresh_token"`
		ExpiresIn    int64  `json:"expires_in"`
	}
	if rec.Code != http.StatusOK || json.Unmarshal(rec.Body.Bytes(), &out) != nil || out.AccessToken == "" {
		t.Fatalf("tidegatetest: bearer login as %q: status %d", login, rec.Code)
	}
	return bearer.Tokens{
		AccessToken: out.AccessToken, RefreshToken: out.RefreshToken,
		ExpiresIn: time.Duration(out.ExpiresIn) * time.Second,
	}
}

// IssueBearer returns an access token for account, without any password,
// through svc.Issue: only account.UserID and account.Roles matter. It stops
// the test if svc refuses (an empty UserID, a disabled account).
func IssueBearer(t testing.TB, svc *bearer.Service, account middleware.Account) string {
	t.Helper()
	tokens, err := svc.Issue(context.Background(), account)
	if err != nil {
		t.Fatalf("tidegatetest: issue a bearer token for %q: %v", account.UserID, err)
	}
	return tokens.AccessToken
}

// LoginBasic logs in through svc's POST /me/login in the app of appToken
// (as a Tapglue client does: Basic appToken with an empty password, and a
// JSON user_name and password), in-process and over HTTPS, and returns the
// app session token. Send it as BasicHeader(appToken, sessionToken). It
// stops the test unless the login succeeds.
func LoginBasic(t testing.TB, svc *basicauth.Service, appToken, login, password string) string {
	t.Helper()
	body, _ := json.Marshal(map[string]string{"user_name": login, "password": password})
	// An https target gives the request a TLS state: basicauth refuses its
	// credentials over plain HTTP.
	req := httptest.NewRequest(http.MethodPost, "https://tidegatetest.invalid/me/login", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", BasicHeader(appToken, ""))
	rec := serve(svc.Handler(), req)
	var out struct {
		SessionToken string `json:"session_token"`
	}
	if rec.Code != http.StatusCreated || json.Unmarshal(rec.Body.Bytes(), &out) != nil || out.SessionToken == "" {
		t.Fatalf("tidegatetest: basicauth login as %q: status %d, body %s", login, rec.Code, bytes.TrimSpace(rec.Body.Bytes()))
	}
	return out.SessionToken
}

// serve runs one request through h in-process.
func serve(h http.Handler, req *http.Request) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}
