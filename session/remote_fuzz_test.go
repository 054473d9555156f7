package session_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/tidegate/tidegate/middleware"
	"github.com/tidegate/tidegate/session"
)

// remoteBodyLimit is how much of an auth server's answer RemoteVerifier
// reads: a longer one is an unavailable auth server.
const remoteBodyLimit = 16 << 10

// answerCase is the answer the fuzzed auth server gives: to POST
// /serverlogin when login is set (GET /token/{token} then answers a valid
// user token), to GET /token/{token} otherwise (POST /serverlogin then
// answers a good login).
type answerCase struct {
	login      bool
	status     int
	body       []byte
	retryAfter string
	now        time.Time
}

// FuzzRemoteVerifierAnswer points one RemoteVerifier at one auth server
// whose answer (status, body, Retry-After), to its server login or to its
// token lookup, is the fuzz input, and checks what Verify makes of it
// against the mapping that remote.go and middleware.Verifier document:
//
//   - a principal only for a 200 lookup whose body names a non-empty
//     userid and an RFC 3339 expires_at in the future, after a 200 login
//     whose body has an RFC 3339 expires_at in the future; the principal
//     has exactly that subject, expiry and actor (isserver);
//   - ErrInvalidCredential only for the auth server's own 401 "Invalid
//     session token" (surrounding space allowed);
//   - ErrUnavailable, never ErrInvalidCredential, for everything else: any
//     other 401 (a gateway's, or "Session token required" twice), 429, any
//     other status, a malformed or oversized body, and any failed login;
//   - after a failed login, the next request waits (503 at once, no call)
//     for the backoff or the auth server's Retry-After in delay-seconds,
//     whichever is longer, never more than 15 minutes;
//   - no error quotes the user token or the server secret.
//
// Each execution builds its own verifier (a few allocations, on the one
// server's client, so connections are reused): a fresh one logs in first,
// so every execution reaches the fuzzed answer, with no server token or
// login backoff left by an earlier one, and a failing input replays alone.
func FuzzRemoteVerifierAnswer(f *testing.F) {
	f.Add(false, 200, []byte(`{"userid":"u1","isserver":false,"expires_at":"2099-01-01T00:00:00Z"}`), "")
	f.Add(false, 401, []byte(`"Invalid session token"`), "")
	f.Add(true, 429, []byte(`"too many requests"`), "60")
	var (
		mu      sync.Mutex
		current answerCase
	)
	respond := func(w http.ResponseWriter, c answerCase) {
		if c.retryAfter != "" && fieldValue(c.retryAfter) {
			w.Header().Set("Retry-After", c.retryAfter)
		}
		w.WriteHeader(c.status)
		_, _ = w.Write(c.body)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /auth/serverlogin", func(w http.ResponseWriter, _ *http.Request) {
		mu.Lock()
		c := current
		mu.Unlock()
		w.Header().Set(session.HeaderToken, middleware.NewToken())
		if c.login {
			respond(w, c)
			return
		}
		_, _ = fmt.Fprintf(w, `{"userid":%q,"isserver":true,"expires_at":%q}`,
			serverName, c.now.Add(30*time.Minute).UTC().Format(time.RFC3339))
	})
	mux.HandleFunc("GET /auth/token/{token}", func(w http.ResponseWriter, _ *http.Request) {
		mu.Lock()
		c := current
		mu.Unlock()
		if !c.login {
			respond(w, c)
			return
		}
		_, _ = fmt.Fprintf(w, `{"userid":"u1","isserver":false,"expires_at":%q}`,
			c.now.Add(time.Hour).UTC().Format(time.RFC3339))
	})
	srv := httptest.NewServer(mux)
	f.Cleanup(srv.Close)
	client := srv.Client() // closed with srv; a verifier's Close would empty its pool
	now := newFakeClock().Now()
	clock := func() time.Time { return now }

	f.Fuzz(func(t *testing.T, login bool, status int, body []byte, retryAfter string) {
		if status < 200 || status > 599 { // a final status; 1xx are interim
			status = 200 + int(uint(status)%400)
		}
		v, err := session.NewRemoteVerifier(srv.URL+"/auth", serverName, serverSecret,
			session.WithHTTPClient(client), session.WithRemoteClock(clock), session.WithRemoteLogger(quiet))
		require.NoError(t, err)
		mu.Lock()
		current = answerCase{login: login, status: status, body: body, retryAfter: retryAfter, now: now}
		mu.Unlock()
		seen := body
		if status == http.StatusNoContent || status == http.StatusNotModified {
			seen = nil // net/http sends no body with these
		}

		token := middleware.NewToken()
		p, err := v.Verify(t.Context(), cred(token))
		requireNoSecretIn(t, err, token, serverSecret)

		if login {
			if loginAccepted(status, seen, now) {
				if err != nil || p.Subject != "u1" || !p.ExpiresAt.Equal(now.Add(time.Hour).Truncate(time.Second)) {
					t.Fatalf("login %d %q accepted, then principal %+v, error %v", status, seen, p, err)
				}
				return
			}
			if !errors.Is(err, middleware.ErrUnavailable) || errors.Is(err, middleware.ErrInvalidCredential) || p.Subject != "" {
				t.Fatalf("login %d %q refused: principal %+v, error %v, want 503", status, seen, p, err)
			}
			// The next request finds the login waiting.
			_, err = v.Verify(t.Context(), cred(middleware.NewToken()))
			e, ok := errors.AsType[*middleware.Error](err)
			if !ok || e.Status != http.StatusServiceUnavailable {
				t.Fatalf("during the backoff: %v, want 503", err)
			}
			const backoff = time.Second // the first failure's
			switch n, strict := delaySeconds(retryAfter); {
			case strict && len(seen) <= remoteBodyLimit:
				if want := max(backoff, min(n, 15*time.Minute)); e.RetryAfter != want {
					t.Fatalf("Retry-After %q: wait %v, want %v", retryAfter, e.RetryAfter, want)
				}
			case e.RetryAfter < backoff || e.RetryAfter > max(backoff, 15*time.Minute):
				t.Fatalf("Retry-After %q: wait %v out of bounds", retryAfter, e.RetryAfter)
			}
			return
		}

		want, ok := lookupPrincipal(status, seen, now)
		switch {
		case lookupExpired(status, seen, now):
			if !errors.Is(err, middleware.ErrInvalidCredential) {
				t.Fatalf("lookup %d %q names an expired session: %v, want an invalid credential", status, seen, err)
			}
		case ok:
			if err != nil || p.Subject != want.Subject || p.Kind != session.Kind || p.ActingAs() != want.ActingAs() ||
				!p.ExpiresAt.Equal(want.ExpiresAt) {
				t.Fatalf("lookup %d %q: principal %+v, error %v, want %+v", status, seen, p, err, want)
			}
		case err == nil:
			t.Fatalf("lookup %d %q accepted as %+v", status, seen, p)
		case status == http.StatusUnauthorized && len(seen) <= remoteBodyLimit &&
			bytes.Equal(bytes.TrimSpace(seen), []byte(`"Invalid session token"`)):
			if !errors.Is(err, middleware.ErrInvalidCredential) {
				t.Fatalf("lookup 401 %q: %v, want an invalid credential", seen, err)
			}
		case !errors.Is(err, middleware.ErrUnavailable) || errors.Is(err, middleware.ErrInvalidCredential):
			t.Fatalf("lookup %d %q: %v, want 503", status, seen, err)
		}
	})
}

// remoteAnswer is the body of a 200 from GET /token/{token} or POST
// /serverlogin, decoded as the wire contract (issue 3) says.
type remoteAnswer struct {
	UserID    string `json:"userid"`
	IsServer  bool   `json:"isserver"`
	ExpiresAt string `json:"expires_at"`
}

// decodeAnswer decodes a 200 body and reports its expiry, and whether it
// is well-formed and in the future.
func decodeAnswer(status int, body []byte, now time.Time) (remoteAnswer, time.Time, bool) {
	var a remoteAnswer
	if status != http.StatusOK || len(body) > remoteBodyLimit || json.Unmarshal(body, &a) != nil {
		return a, time.Time{}, false
	}
	expires, err := time.Parse(time.RFC3339, a.ExpiresAt)
	return a, expires, err == nil && expires.After(now)
}

// lookupExpired states which GET /token/{token} answers name a session
// that has expired on the verifier's clock (the zero instant included): a
// 200 whose body is otherwise what lookupPrincipal accepts.
func lookupExpired(status int, body []byte, now time.Time) bool {
	var a remoteAnswer
	if status != http.StatusOK || len(body) > remoteBodyLimit || json.Unmarshal(body, &a) != nil || a.UserID == "" {
		return false
	}
	expires, err := time.Parse(time.RFC3339, a.ExpiresAt)
	return err == nil && !expires.After(now)
}

// loginAccepted states when a POST /serverlogin answer (with a token
// header) gives a server token.
func loginAccepted(status int, body []byte, now time.Time) bool {
	_, _, ok := decodeAnswer(status, body, now)
	return ok
}

// lookupPrincipal states which GET /token/{token} answers name a principal,
// and which.
func lookupPrincipal(status int, body []byte, now time.Time) (middleware.Principal, bool) {
	a, expires, ok := decodeAnswer(status, body, now)
	if !ok || a.UserID == "" {
		return middleware.Principal{}, false
	}
	p := middleware.Principal{Subject: a.UserID, Kind: session.Kind, Actor: middleware.ActorUser, ExpiresAt: expires}
	if a.IsServer {
		p.Actor = middleware.ActorServer
	}
	return p, true
}

// delaySeconds reads a Retry-After of strict delay-seconds (RFC 9110
// §10.2.3: 1*DIGIT) of at least one second, as RemoteVerifier must honour
// it; strict is false for any other value, whose wait only has bounds.
func delaySeconds(v string) (d time.Duration, strict bool) {
	if v == "" || len(v) > 6 {
		return 0, false
	}
	n := 0
	for i := 0; i < len(v); i++ {
		if v[i] < '0' || v[i] > '9' {
			return 0, false
		}
		n = n*10 + int(v[i]-'0')
	}
	return time.Duration(n) * time.Second, n > 0
}

// fieldValue reports whether v can be sent as a header value (RFC 9110
// §5.5: no control character but HTAB); the fuzzed auth server sends no
// Retry-After rather than a response that no client would read.
func fieldValue(v string) bool {
	for i := 0; i < len(v); i++ {
		if b := v[i]; b != '\t' && (b < ' ' || b == 0x7f) {
			return false
		}
	}
	return true
}
