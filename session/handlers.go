package session

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/tidegate/tidegate/internal/cleanpath"
	"github.com/tidegate/tidegate/internal/events"
	"github.com/tidegate/tidegate/middleware"
)

// maxAuthorizationBytes bounds the Authorization header of POST /login: room
// for a MaxLoginBytes login and a MaxPasswordBytes password in base64, so an
// overlong password is refused by PasswordLogin (401, counted by the
// limiter) and anything larger as malformed (400) before decoding.
const maxAuthorizationBytes = 4 << 10

// basicChallenge is the challenge of a failed password login (RFC 7617 §2,
// with the charset parameter of §2.1: usernames and passwords are UTF-8).
const basicChallenge = `Basic realm="` + Realm + `", charset="UTF-8"`

// serverChallenge is the challenge of a failed server login. The server
// credentials travel in two headers of their own; as for the token
// challenge, the auth-scheme word names the header that was refused.
const serverChallenge = HeaderServerSecret + ` realm="` + Realm + `"`

// tokenChallengeValue is tokenChallenge as a header value, for the 401s
// that GET /token/{token} writes itself.
const tokenChallengeValue = HeaderToken + ` realm="` + Realm + `"`

// routes builds the handler. Request bodies are never read: a login needs
// only its headers, and Tidepool's client sends "{}" or nothing at all.
// net/http discards an unread body of up to 256 KiB and closes the
// connection on a larger one, so nothing unbounded is consumed.
func (s *Service) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /login", s.handleLogin)
	mux.HandleFunc("GET /login", s.handleRefresh)
	mux.HandleFunc("POST /logout", s.handleLogout)
	mux.HandleFunc("POST /serverlogin", s.handleServerLogin)
	mux.HandleFunc("GET /token/{token}", s.handleToken)
	// Every other method gets its 405 from a method-less route, in
	// Tidepool's JSON rather than ServeMux's text/plain. For /login that
	// includes HEAD (which "GET /login" also matches, see handleRefresh):
	// ServeMux's own Allow would list HEAD, and HEAD is refused.
	mux.HandleFunc("/login", s.notAllowed("login", allowLogin))
	mux.HandleFunc("/logout", s.notAllowed("logout", "POST"))
	mux.HandleFunc("/serverlogin", s.notAllowed("serverlogin", "POST"))
	mux.HandleFunc("/token/{token}", s.notAllowed("token", "GET, HEAD")) // tokenPaths serves HEAD
	return tokenPaths(cleanpath.Only(mux), s.handleToken)
}

// allowLogin is the Allow header of /login's 405.
const allowLogin = "GET, POST"

// notAllowed returns the handler of the methods an endpoint does not serve:
// 405 with Allow (RFC 9110 §15.5.6), and the endpoint's one event.
func (s *Service) notAllowed(endpoint, allow string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) { s.refuseMethod(w, r, endpoint, allow) }
}

// refuseMethod answers a method endpoint does not serve.
func (s *Service) refuseMethod(w http.ResponseWriter, r *http.Request, endpoint, allow string) {
	s.logEvent(r, endpoint, errMethodNotAllowed(), "")
	w.Header().Set("Allow", allow)
	writeBody(w, http.StatusMethodNotAllowed, []byte(`"Method not allowed"`))
}

// errMethodNotAllowed is the failure of a 405, for its log event and
// Observer call: the client's mistake, as a malformed request is.
func errMethodNotAllowed() *middleware.Error {
	return &middleware.Error{Kind: middleware.ErrMalformed, Status: http.StatusMethodNotAllowed, Reason: "method not allowed"}
}

// tokenPaths serves GET /token/{token} itself and everything else with
// mux. ServeMux cleans a path before matching it, so the tokens "." and
// ".." were answered with a redirect (to a path outside the mount point,
// under http.StripPrefix), without the caller or the token being checked:
// here every one-segment token reaches the handler, which answers 401 for
// those as for any invalid token.
func tokenPaths(mux http.Handler, token http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rest, ok := strings.CutPrefix(r.URL.EscapedPath(), "/token/")
		if ok && (r.Method == http.MethodGet || r.Method == http.MethodHead) && !strings.Contains(rest, "/") {
			if target, err := url.PathUnescape(rest); err == nil {
				r.SetPathValue("token", target)
				token(w, r)
				return
			}
		}
		mux.ServeHTTP(w, r)
	})
}

type loginResponse struct {
	UserID   string   `json:"userid"`
	Username string   `json:"username"`
	Emails   []string `json:"emails"`
}

type refreshResponse struct {
	UserID string `json:"userid"`
}

// tokenResponse is the body of GET /token/{token} and POST /serverlogin.
type tokenResponse struct {
	UserID    string `json:"userid"`
	IsServer  bool   `json:"isserver"`
	ExpiresAt string `json:"expires_at"`
}

// handleLogin serves POST /login: HTTP Basic username:password.
func (s *Service) handleLogin(w http.ResponseWriter, r *http.Request) {
	user, password, err := middleware.ParseBasic(r.Header, maxAuthorizationBytes)
	if err != nil {
		// Absent or unreadable alike: 400, as Tidepool answers.
		s.fail(w, r, "login", missingLogin(err), bodyMissingLogin, "", "")
		return
	}
	account, err := s.login.Login(r.Context(), s.proxies.ClientAddr(r), user, password)
	if err != nil {
		s.fail(w, r, "login", middleware.AsError(err), bodyLoginFailed, basicChallenge, "")
		return
	}
	token, _, err := s.issue(r.Context(), account.UserID, middleware.ActorUser, account.Roles)
	if err != nil {
		s.fail(w, r, "login", middleware.AsError(err), nil, "", account.UserID)
		return
	}
	// The account may have been disabled, or its password changed, and its
	// subject revoked while the password was checked (see Confirm): the
	// token is then never handed out, and revoked.
	if err := s.login.Confirm(r.Context(), account); err != nil {
		_ = s.revoke(r.Context(), middleware.Credential{Kind: Kind, Token: token}, account.UserID)
		s.fail(w, r, "login", middleware.AsError(err), bodyLoginFailed, basicChallenge, account.UserID)
		return
	}
	emails := account.Emails
	if emails == nil {
		emails = []string{}
	}
	s.succeed(w, r, "login", token, account.UserID,
		loginResponse{UserID: account.UserID, Username: account.Username, Emails: emails})
}

// handleRefresh serves GET /login: a new token for a live one.
func (s *Service) handleRefresh(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet {
		s.refuseMethod(w, r, "login", allowLogin) // a HEAD must not rotate a token
		return
	}
	cred, err := s.scheme.Extract(r)
	if err != nil {
		s.reject(w, r, "refresh", err, "")
		return
	}
	token, subject, err := s.refresh(r.Context(), cred)
	if err != nil {
		s.reject(w, r, "refresh", err, subject)
		return
	}
	s.succeed(w, r, "refresh", token, subject, refreshResponse{UserID: subject})
}

// refresh rotates cred's session: a new token lives min(now + lifetime, the
// login's absolute expiry); the old one ends after the grace window and
// leaves the caches at once, so that no cached entry outlives the grace.
// Within the grace window the old token can still be refreshed (two tabs
// refreshing at once both succeed); every token it yields shares the same
// absolute expiry, so a login never outlives its absolute lifetime.
//
// subject is the session's, once it was found: the event of a failure
// after that names it.
func (s *Service) refresh(ctx context.Context, cred middleware.Credential) (token, subject string, err error) {
	old := middleware.DigestToken(cred.Token)
	sess, err := s.store.Lookup(ctx, old)
	if err != nil {
		return "", "", storeError(err)
	}
	if sess.App != "" {
		// An app session in a shared store is not ours to refresh (see
		// ownSessions). Its record says whose it is.
		return "", sess.Subject, middleware.Invalid("app session")
	}
	roles, err := s.stillAllowed(ctx, sess)
	if err != nil {
		return "", sess.Subject, err
	}
	now := s.now()
	absolute := sess.AbsoluteExpiresAt
	if absolute.IsZero() {
		absolute = sess.ExpiresAt
	}
	next := middleware.Session{
		Subject: sess.Subject, Actor: sess.Actor, App: sess.App, Roles: roles,
		IssuedAt: now, ExpiresAt: minTime(now.Add(s.lifetimeOf(sess.Actor)), absolute),
		AbsoluteExpiresAt: absolute, Predecessor: old,
	}
	token = middleware.NewToken()
	err = s.store.Rotate(ctx, old, now.Add(s.grace), middleware.DigestToken(token), next)
	// Evicted on an error too, which may come after the store shortened or
	// ended the old token (a late answer from Redis).
	s.invalidate(cred, sess.Subject)
	if err != nil {
		return "", sess.Subject, storeError(err)
	}
	return token, sess.Subject, nil
}

// stillAllowed checks, on refresh, that the user's account still exists and
// is enabled (or that the server is still configured), and returns the
// account's current roles. A disabled or deleted account loses every
// session at once.
func (s *Service) stillAllowed(ctx context.Context, sess middleware.Session) ([]string, error) {
	if sess.Actor == middleware.ActorServer {
		if !s.servers.has(sess.Subject) {
			return nil, middleware.Invalid("server removed")
		}
		return sess.Roles, nil
	}
	account, err := s.login.Accounts().FindByID(ctx, sess.Subject)
	if err != nil && !errors.Is(err, middleware.ErrAccountNotFound) {
		return nil, middleware.Unavailable("accounts", err)
	}
	if err != nil || account.Disabled {
		if err := s.RevokeSubject(ctx, sess.Subject); err != nil {
			return nil, err
		}
		return nil, middleware.Invalid("account disabled")
	}
	return account.Roles, nil
}

// handleLogout serves POST /logout. The answer is 200 whatever the token:
// valid, expired, unknown, malformed or absent look the same. Only a live
// token is revoked and evicted, so that logouts with made-up tokens cannot
// flood the cache's invalidation (or a broadcast to other replicas). A
// revocation the store could not record is 503, never a 200 for a token
// that still works. The event says what happened: a token that ended
// nothing is a refusal (with the 200 it got), not an authentication.
func (s *Service) handleLogout(w http.ResponseWriter, r *http.Request) {
	subject, refused, err := s.logoutToken(r)
	if err != nil {
		// Not revoked: say so (503), rather than let the client
		// believe a token that still works is gone.
		s.reject(w, r, "logout", storeError(err), subject)
		return
	}
	events.Log(r.Context(), s.scheme,
		events.Event{Endpoint: "logout", Err: refused, Status: http.StatusOK, Subject: subject})
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
}

// logoutToken ends the session of r's token. It returns the subject of the
// session found (ended, or refused as an app's), why none was ended
// (refused), or the store's error.
func (s *Service) logoutToken(r *http.Request) (subject string, refused *middleware.Error, err error) {
	cred, err := s.scheme.Extract(r)
	if err != nil {
		return "", endpointError(err), nil
	}
	sess, err := s.store.Lookup(r.Context(), middleware.DigestToken(cred.Token))
	switch {
	case errors.Is(err, middleware.ErrSessionNotFound):
		return "", middleware.Invalid("unknown"), nil
	case err != nil:
		return "", nil, err
	case sess.App != "":
		// An app session in a shared store is not ours to end (see
		// NewStoreVerifier): its kind ends it, over HTTPS, through its
		// own caches. Its record says whose it is.
		return sess.Subject, middleware.Invalid("app session"), nil
	}
	return sess.Subject, nil, s.logout(r.Context(), cred, sess)
}

// handleServerLogin serves POST /serverlogin.
func (s *Service) handleServerLogin(w http.ResponseWriter, r *http.Request) {
	name, secret, err := serverCredentials(r.Header)
	if err != nil {
		s.fail(w, r, "serverlogin", missingLogin(err), bodyMissingLogin, "", "")
		return
	}
	if err := s.checkServer(r, name, secret); err != nil {
		s.fail(w, r, "serverlogin", middleware.AsError(err), bodyLoginFailed, serverChallenge, "")
		return
	}
	token, sess, err := s.issue(r.Context(), name, middleware.ActorServer, nil)
	if err != nil {
		s.fail(w, r, "serverlogin", middleware.AsError(err), nil, "", name)
		return
	}
	s.succeed(w, r, "serverlogin", token, name,
		tokenResponse{UserID: name, IsServer: true, ExpiresAt: formatTime(sess.ExpiresAt)})
}

// serverCredentials reads the two server login headers: each must appear
// once (or repeated identically), be non-empty and bounded.
func serverCredentials(h http.Header) (name, secret string, err error) {
	name, err = middleware.HeaderValue(h, HeaderServerName, maxServerNameBytes)
	if err != nil {
		return "", "", err
	}
	secret, err = middleware.HeaderValue(h, HeaderServerSecret, maxServerSecretBytes)
	if err != nil {
		return "", "", err
	}
	return name, secret, nil
}

// missingLogin turns a header parsing failure into a 400, keeping the
// parser's reason ("missing", "duplicate", "base64", ...) for the log.
func missingLogin(err error) *middleware.Error {
	reason := "missing"
	if e, ok := errors.AsType[*middleware.Error](err); ok {
		reason = e.Reason
	}
	return middleware.Malformed(reason)
}

// checkServer throttles (when configured) and checks server credentials.
func (s *Service) checkServer(r *http.Request, name, secret string) error {
	ctx, client := r.Context(), s.proxies.ClientAddr(r)
	// The limiter may be shared with the password logins, whose names any
	// user can choose (a user named "server:uploader" once shared this
	// counter, and cleared it with every login of theirs). No password
	// login is counted under a name holding a NUL: PasswordLogin replaces
	// its NULs first. The count is per server name and client address:
	// counted per name alone, eleven wrong secrets from anywhere locked
	// the real server out, which throttling a long random secret does not
	// need. The address's own count still bounds guesses across names.
	account := "\x00server:" + name + "\x00" + client.String()
	if s.serverLimiter != nil {
		wait, err := s.serverLimiter.Attempt(ctx, account, client)
		if err != nil {
			return middleware.Unavailable("limiter", err)
		}
		if wait > 0 {
			return middleware.RateLimited("login throttled", wait)
		}
	}
	if !s.servers.check(name, secret) {
		return middleware.Invalid("login failed")
	}
	if s.serverLimiter != nil {
		if err := s.serverLimiter.Succeeded(ctx, account, client); err != nil {
			return middleware.Unavailable("limiter", err)
		}
	}
	return nil
}

// handleToken serves GET /token/{token}: a server asks about a token.
//
// A caller that is not an authenticated server gets "Session token
// required"; an authenticated server asking about a dead token gets
// "Invalid session token". Both are 401, as Tidepool answers, and the
// different bodies let a remote verifier tell "my server token was refused"
// (log in again) from "the user's token is invalid" without a guess. Only a
// server ever sees the second body, so it reveals nothing to users. Being a
// protocol between services, these bodies are this package's own, whatever
// renderer WithSchemeOptions gave the scheme.
func (s *Service) handleToken(w http.ResponseWriter, r *http.Request) {
	caller, err := s.scheme.Authenticate(r)
	if err == nil && caller.ActingAs() != middleware.ActorServer {
		err = middleware.Invalid("not a server")
	}
	if err != nil {
		s.fail(w, r, "token", endpointError(err), bodyTokenRequired, tokenChallengeValue, "")
		return
	}
	target := r.PathValue("token")
	if len(target) > MaxTokenBytes || !middleware.IsToken68(target) {
		s.fail(w, r, "token", middleware.Invalid("syntax"), bodyInvalidToken, tokenChallengeValue, caller.Subject)
		return
	}
	p, err := s.cache.Verify(r.Context(), middleware.Credential{Kind: Kind, Token: target})
	if err != nil {
		s.fail(w, r, "token", middleware.AsError(err), bodyInvalidToken, tokenChallengeValue, caller.Subject)
		return
	}
	s.succeed(w, r, "token", "", caller.Subject, tokenResponse{
		UserID: p.Subject, IsServer: p.ActingAs() == middleware.ActorServer, ExpiresAt: formatTime(p.ExpiresAt),
	})
}

// issue stores a new session for subject and returns its token.
func (s *Service) issue(ctx context.Context, subject string, actor middleware.Actor, roles []string) (string, middleware.Session, error) {
	now := s.now()
	sess := middleware.Session{
		Subject: subject, Actor: actor, Roles: roles, IssuedAt: now,
		ExpiresAt:         now.Add(s.lifetimeOf(actor)),
		AbsoluteExpiresAt: now.Add(max(s.absolute, s.lifetimeOf(actor))),
	}
	token := middleware.NewToken()
	if err := s.store.Create(ctx, middleware.DigestToken(token), sess); err != nil {
		return "", middleware.Session{}, middleware.Unavailable("store", err)
	}
	return token, sess, nil
}

func (s *Service) lifetimeOf(actor middleware.Actor) time.Duration {
	if actor == middleware.ActorServer {
		return s.serverLifetime
	}
	return s.lifetime
}

// storeError maps a store error: a session not found is an invalid token,
// anything else an unavailable backend.
func storeError(err error) error {
	if errors.Is(err, middleware.ErrSessionNotFound) {
		return middleware.Invalid("unknown")
	}
	if e, ok := errors.AsType[*middleware.Error](err); ok {
		return e
	}
	return middleware.Unavailable("store", err)
}

// reject answers a token failure the way the scheme's middleware does
// ("Session token required" for 400 and 401, with the challenge).
func (s *Service) reject(w http.ResponseWriter, r *http.Request, endpoint string, err error, subject string) {
	e := endpointError(err)
	s.logEvent(r, endpoint, e, subject)
	s.scheme.Reject(w, r, e)
}

// endpointError is err as an endpoint answers and logs it: no credential
// at all is middleware.Missing(), as the middleware reports it, so that
// the event and the Observer get its reason; AsError gave none.
func endpointError(err error) *middleware.Error {
	if errors.Is(err, middleware.ErrNoCredential) {
		return middleware.Missing()
	}
	return middleware.AsError(err)
}

// fail answers a failure of a login endpoint. clientBody is the body of a 400
// or 401 (other statuses get the scheme's bodies); challenge is sent with
// 401. subject is the user id the event names, when known.
func (s *Service) fail(w http.ResponseWriter, r *http.Request, endpoint string, e *middleware.Error, clientBody []byte, challenge, subject string) {
	s.logEvent(r, endpoint, e, subject)
	h := w.Header()
	h.Set("Cache-Control", "no-store")
	if e.Status == http.StatusUnauthorized && challenge != "" {
		h.Set("WWW-Authenticate", challenge)
	}
	if e.Status == http.StatusTooManyRequests || e.Status == http.StatusServiceUnavailable {
		h.Set("Retry-After", retryAfter(e.RetryAfter))
	}
	body := bodyFor(e.Status)
	if (e.Status == http.StatusBadRequest || e.Status == http.StatusUnauthorized) && clientBody != nil {
		body = clientBody
	}
	writeBody(w, e.Status, body)
}

// succeed answers 200 with the token header (when token is not empty) and
// v as JSON.
func (s *Service) succeed(w http.ResponseWriter, r *http.Request, endpoint, token, subject string, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		s.fail(w, r, endpoint, middleware.Internal("encode"), nil, "", subject)
		return
	}
	s.logEvent(r, endpoint, nil, subject)
	h := w.Header()
	h.Set("Cache-Control", "no-store")
	if token != "" {
		h.Set(HeaderToken, token)
	}
	writeBody(w, http.StatusOK, body)
}

func writeBody(w http.ResponseWriter, status int, body []byte) {
	middleware.WriteJSON(w, status, body)
}

// logEvent writes the one event of a request to an endpoint and tells the
// Observer (see internal/events).
func (s *Service) logEvent(r *http.Request, endpoint string, e *middleware.Error, subject string) {
	events.Log(r.Context(), s.scheme, events.Event{Endpoint: endpoint, Err: e, Subject: subject})
}

// retryAfter renders a delay as a Retry-After value (see
// middleware.RetryAfterSeconds), the default delay when d is not positive.
func retryAfter(d time.Duration) string {
	if d <= 0 {
		d = middleware.DefaultRetryAfter
	}
	return middleware.RetryAfterSeconds(d)
}

func formatTime(t time.Time) string { return t.UTC().Format(time.RFC3339) }

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}
