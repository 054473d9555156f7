package bearer

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"time"

	"github.com/tidegate/tidegate/internal/cleanpath"
	"github.com/tidegate/tidegate/internal/events"
	"github.com/tidegate/tidegate/internal/jsonbody"
	"github.com/tidegate/tidegate/middleware"
)

// routes builds the endpoint mux. Each path has a method-less fallback
// route, which the mux picks for the other methods: ServeMux's own 405 is
// text/plain, this one is in the bearer error style.
func (s *Service) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /authenticate", s.authenticate)
	mux.HandleFunc("/authenticate", s.methodNotAllowed("authenticate", "POST"))
	mux.HandleFunc("POST /refresh", s.refresh)
	mux.HandleFunc("/refresh", s.methodNotAllowed("refresh", "POST"))
	mux.Handle("GET /ping", middleware.Require(s.scheme)(http.HandlerFunc(ping)))
	mux.HandleFunc("/ping", s.methodNotAllowed("ping", "GET, HEAD")) // "GET /ping" serves HEAD too
	mux.HandleFunc("POST /logout", s.logout)
	mux.HandleFunc("/logout", s.methodNotAllowed("logout", "POST"))
	return cleanpath.Only(mux) // no redirect outside the mount point
}

// methodNotAllowed returns the handler of the methods an endpoint does not
// serve: 405 with Allow, the methods it does (RFC 9110 §15.5.6), and the
// endpoint's one event.
func (s *Service) methodNotAllowed(endpoint, allow string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		s.endpointEvent(r, endpoint, middleware.Malformed("method not allowed"), http.StatusMethodNotAllowed, "")
		writeMethodNotAllowed(w, allow)
	}
}

// writeMethodNotAllowed answers 405 with Allow and a bearer error body.
func writeMethodNotAllowed(w http.ResponseWriter, allow string) {
	w.Header().Set("Allow", allow)
	writeNoStore(w, http.StatusMethodNotAllowed, bodyMethodNotAllowed)
}

// tokenResponse is the body of a successful authenticate or refresh, in the
// field order the Tidal API documents.
type tokenResponse struct {
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token,omitempty"`
	Scope        string `json:"scope,omitempty"`
	ExpiresIn    int64  `json:"expires_in"`
	TokenType    string `json:"token_type"`
}

// authenticate is POST /authenticate: a JSON username and password, checked
// by the shared PasswordLogin (throttling included), for a new login.
func (s *Service) authenticate(w http.ResponseWriter, r *http.Request) {
	fields, err := readFields(w, r, "username", "password")
	if err != nil {
		s.badRequest(w, r, "authenticate", err, bodyBadLogin)
		return
	}
	ctx := r.Context()
	account, err := s.login.Login(ctx, s.cfg.proxies.ClientAddr(r), fields[0], fields[1])
	if err != nil {
		s.fail(w, r, "authenticate", withoutErrorCode(err), "")
		return
	}
	tokens, err := s.Issue(ctx, account)
	if err != nil {
		s.fail(w, r, "authenticate", err, account.UserID)
		return
	}
	// The account may have been disabled, or its password changed, and its
	// subject revoked while the password was checked (see
	// middleware.PasswordLogin.Confirm): the tokens are then never handed
	// out, and their login is revoked.
	if err := s.login.Confirm(ctx, account); err != nil {
		var c Claims
		if s.verifier.parse(ctx, tokens.AccessToken, &c, forLogout) == nil {
			_ = s.revokeLogin(ctx, middleware.Credential{Kind: Kind, Token: tokens.AccessToken}, &c)
		}
		s.fail(w, r, "authenticate", withoutErrorCode(err), account.UserID)
		return
	}
	s.endpointEvent(r, "authenticate", nil, http.StatusOK, account.UserID)
	s.writeTokens(w, tokens, "")
}

// refresh is POST /refresh: the access token (expired or not, but genuine)
// and a refresh token of the same login buy a new access token and, with
// rotation, a new refresh token.
func (s *Service) refresh(w http.ResponseWriter, r *http.Request) {
	cred, err := s.extract(r)
	if err != nil {
		s.fail(w, r, "refresh", err, "")
		return
	}
	fields, err := readFields(w, r, "refresh_token")
	if err != nil {
		s.badRequest(w, r, "refresh", err, bodyBadRefresh)
		return
	}
	ctx := r.Context()
	var c Claims
	if err := s.verifier.parse(ctx, cred.Token, &c, forRefresh); err != nil {
		s.fail(w, r, "refresh", err, "")
		return
	}
	tokens, err := s.rotate(ctx, &c, fields[0])
	if err != nil {
		s.fail(w, r, "refresh", err, c.Subject)
		return
	}
	s.endpointEvent(r, "refresh", nil, http.StatusOK, c.Subject)
	s.writeTokens(w, tokens, refreshScope)
}

// extract runs the scheme's extractor, and reports a request without a
// token as middleware.Missing(), as the middleware does, so that the
// event of the endpoint has a reason.
func (s *Service) extract(r *http.Request) (middleware.Credential, error) {
	cred, err := s.scheme.Extract(r)
	if errors.Is(err, middleware.ErrNoCredential) {
		return cred, middleware.Missing()
	}
	return cred, err
}

// rotate checks the refresh token against the access token's claims and
// mints the new tokens.
func (s *Service) rotate(ctx context.Context, c *Claims, refreshToken string) (Tokens, error) {
	if c.LoginID == "" || !validRefreshToken(refreshToken) {
		return Tokens{}, middleware.Invalid("refresh token")
	}
	if err := s.verifier.checkRevoked(ctx, c); err != nil {
		return Tokens{}, err
	}
	account, err := s.login.Accounts().FindByID(ctx, c.Subject)
	switch {
	case errors.Is(err, middleware.ErrAccountNotFound) || err == nil && account.Disabled:
		_ = s.cfg.refreshStore.RevokeFamily(ctx, c.LoginID)
		return Tokens{}, middleware.Invalid("account")
	case err != nil:
		return Tokens{}, middleware.Unavailable("accounts", err)
	}
	now := s.cfg.now()
	rot := Rotation{Presented: middleware.DigestToken(refreshToken), Family: c.LoginID, Subject: c.Subject, Now: now}
	var next string
	if !s.cfg.noRotation {
		next = middleware.NewToken()
		rot.Next, rot.NextExpiresAt = middleware.DigestToken(next), now.Add(s.cfg.refreshTTL)
	}
	if err := s.rotateInStore(ctx, rot); err != nil {
		return Tokens{}, s.rotationFailed(ctx, c, err)
	}
	access, err := s.mint(account, c.LoginID, now)
	if err != nil {
		return Tokens{}, err
	}
	return Tokens{AccessToken: access, RefreshToken: next, ExpiresIn: s.cfg.accessTTL}, nil
}

// rotationRetryTimeout bounds the second run of a rotation whose first run
// failed in a way that may have come after the store did the work.
const rotationRetryTimeout = time.Second

// rotateInStore runs the rotation, and runs it once more when the store's
// error may have come after the store did the work (see mayHaveLanded):
// Redis may then have rotated the token all the same, and a client told
// 503 would retry with its used token: a reuse, which ends its login. The store answers the
// same Rotation run again as its first run did (see RefreshStore.Rotate),
// so the second run learns the outcome. It runs on a context of its own,
// since the request's may be what ended the first run. A Redis silent for
// longer than that still leaves the outcome unknown (see SECURITY.md).
func (s *Service) rotateInStore(ctx context.Context, rot Rotation) error {
	_, err := s.cfg.refreshStore.Rotate(ctx, rot)
	if err == nil || !mayHaveLanded(err) {
		return err
	}
	retryCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), rotationRetryTimeout)
	defer cancel()
	_, err = s.cfg.refreshStore.Rotate(retryCtx, rot)
	return err
}

// mayHaveLanded reports whether a failed store call may have been carried
// out, only its answer lost. go-redis retries a command itself (MaxRetries)
// and returns the last attempt's error only: an earlier attempt may have
// reached Redis and run even when the last one timed out, never got a
// connection (a dial error, a pool timeout under load) or got a failover's
// error reply (READONLY, LOADING). So every error may have landed but the
// store's own answers, which say what it did (an invalid or reused token, a
// full store), and a cancelled request: its client has gone, and would not
// get the answer. Asking again is safe, the store answering the same
// Rotation run again as its first run.
func mayHaveLanded(err error) bool {
	for _, nothingHappened := range []error{ErrRefreshInvalid, ErrRefreshReused, ErrRefreshStoreFull, context.Canceled} {
		if errors.Is(err, nothingHappened) {
			return false
		}
	}
	return true
}

// rotationFailed classifies a failed rotation.
func (s *Service) rotationFailed(ctx context.Context, c *Claims, err error) error {
	switch {
	case errors.Is(err, ErrRefreshReused):
		return s.revokeReusedLogin(ctx, c)
	case errors.Is(err, ErrRefreshInvalid):
		return middleware.Invalid("refresh token")
	}
	return middleware.Unavailable("refresh store", err)
}

// revokeReusedLogin answers a reused refresh token. It was stolen, or the
// client is broken: the store has revoked the family, and every access
// token of the login is revoked too, so that whoever refreshed with it
// first loses what they got (RFC 9700 §4.14.2). If that revocation fails,
// the answer is 503, not 401: the store answers every later presentation of
// the family's tokens as a reuse again, so the client's retry revokes the
// login then, while a 401 would end the exchange with the access tokens
// still working. Both answers carry reasonRefreshReused, and the refresh
// endpoint logs them, with the subject, as its one event (see eventLevel).
func (s *Service) revokeReusedLogin(ctx context.Context, c *Claims) error {
	defer s.invalidateSubject(c.Subject) // even on an error, which may come after the work was done
	if err := s.cfg.revocations.RevokeLogin(ctx, c.LoginID, s.revokedUntil(s.cfg.now(), c.issuedAt())); err != nil {
		return middleware.Unavailable(reasonRefreshReused, err)
	}
	return middleware.Invalid(reasonRefreshReused)
}

// reasonRefreshReused is the reason of a refused reused refresh token.
const reasonRefreshReused = "refresh token reused"

// validRefreshToken reports whether t has the shape of middleware.NewToken:
// 43 characters of canonical base64url (middleware.TokenBytes bytes).
// Anything else is refused before hashing. The alphabet is checked apart
// from the decoding: Go's base64 decoders skip CR and LF even in strict
// mode, so 42 characters and a line break decoded without error.
func validRefreshToken(t string) bool {
	if len(t) != refreshTokenChars {
		return false
	}
	var bad byte
	for _, c := range []byte(t) {
		bad |= notBase64URL[c]
	}
	if bad != 0 {
		return false
	}
	_, err := base64.RawURLEncoding.Strict().DecodeString(t)
	return err == nil
}

// refreshTokenChars is the length of a token made by middleware.NewToken.
var refreshTokenChars = base64.RawURLEncoding.EncodedLen(middleware.TokenBytes)

// ping is GET /ping behind the bearer middleware.
func ping(w http.ResponseWriter, _ *http.Request) {
	writeNoStore(w, http.StatusOK, bodyPing)
}

// logout is POST /logout: it revokes the login of the bearer token (which
// may be expired or not yet valid on this replica's clock, but must be
// genuine) and the token itself. It answers 200 whatever the token, so
// that logging out never fails for the user; only a revocation store that
// cannot record the revocation makes it 503, since answering 200 then
// would claim a logout that did not happen. A token refused is logged as
// refused, with the status 200 answered.
func (s *Service) logout(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	var c Claims
	cred, err := s.extract(r)
	if err == nil {
		err = s.verifier.parse(ctx, cred.Token, &c, forLogout)
	}
	if err != nil {
		s.endpointEvent(r, "logout", middleware.AsError(err), http.StatusOK, "")
		writeNoStore(w, http.StatusOK, bodyLoggedOut)
		return
	}
	if err := s.revokeLogin(ctx, cred, &c); err != nil {
		s.fail(w, r, "logout", middleware.Unavailable("revocation", err), c.Subject)
		return
	}
	s.endpointEvent(r, "logout", nil, http.StatusOK, c.Subject)
	writeNoStore(w, http.StatusOK, bodyLoggedOut)
}

// revokeLogin revokes the token's refresh-token family, the login's access
// tokens and the token itself, then evicts them from the caches. It evicts
// them on an error too: the error may come after the store did the work (a
// late answer from Redis), and a cached token must not outlive its
// revocation.
func (s *Service) revokeLogin(ctx context.Context, cred middleware.Credential, c *Claims) error {
	defer s.invalidateSubject(c.Subject)
	defer s.invalidate(cred)
	now := s.cfg.now()
	if c.LoginID != "" {
		if err := s.cfg.refreshStore.RevokeFamily(ctx, c.LoginID); err != nil {
			return err
		}
		if err := s.cfg.revocations.RevokeLogin(ctx, c.LoginID, s.revokedUntil(now, c.issuedAt())); err != nil {
			return err
		}
	}
	// Kept until no verifier could accept the token any more: one sharing
	// this revocation list (a JWKSVerifier) may allow up to MaxLeeway,
	// more than this service's own leeway.
	if until := c.ExpiresAt.Add(MaxLeeway); now.Before(until) {
		if err := s.cfg.revocations.RevokeToken(ctx, c.ID, until); err != nil {
			return err
		}
	}
	return nil
}

// writeTokens writes a token response (RFC 6749 §5.1: never cached).
func (s *Service) writeTokens(w http.ResponseWriter, t Tokens, scope string) {
	body, _ := json.Marshal(tokenResponse{
		AccessToken:  t.AccessToken,
		RefreshToken: t.RefreshToken,
		Scope:        scope,
		ExpiresIn:    int64(t.ExpiresIn.Seconds()),
		TokenType:    tokenTypeBearer,
	})
	writeNoStore(w, http.StatusOK, append(body, '\n'))
}

// badRequest answers a body the endpoint cannot read: 415 for one not
// declared plain application/json (see jsonbody.Declared: another content
// type, two Content-Type lines, a content coding), 400 otherwise, with a
// message saying what is expected.
func (s *Service) badRequest(w http.ResponseWriter, r *http.Request, endpoint string, err error, body []byte) {
	status, reason := http.StatusBadRequest, "bad body"
	switch {
	case errors.Is(err, errNotJSON):
		status, reason, body = http.StatusUnsupportedMediaType, "not json", bodyNotJSON
		jsonbody.Refused(w.Header())
	case errors.Is(err, errBodyLarge):
		reason = "body too large"
	}
	s.endpointEvent(r, endpoint, middleware.Malformed(reason), status, "")
	writeNoStore(w, status, body)
}

// fail answers a failure the way the bearer middleware does (challenge,
// Retry-After, generic body) and logs it. subject is the account's user
// id when it is known, "" otherwise.
func (s *Service) fail(w http.ResponseWriter, r *http.Request, endpoint string, err error, subject string) {
	e := middleware.AsError(err)
	s.endpointEvent(r, endpoint, e, e.Status, subject)
	s.scheme.Reject(w, r, e)
}

// withoutErrorCode drops the RFC 6750 error code of a failed password login:
// the request carried no token, so its 401 challenge names none (RFC 6750
// §3.1).
func withoutErrorCode(err error) error {
	e := middleware.AsError(err)
	if e.Code != middleware.CodeInvalidToken {
		return e
	}
	plain := *e
	plain.Code = ""
	return &plain
}

// endpointEvent writes the one event of a request to an endpoint and tells
// the scheme's Observer (see internal/events). e is nil for a success;
// status is the status answered, logged with a failure. A reused refresh
// token is a Warn: its token was stolen, or its client is broken (RFC 9700
// §4.14.2), and an operator should hear of either.
func (s *Service) endpointEvent(r *http.Request, endpoint string, e *middleware.Error, status int, subject string) {
	events.Log(r.Context(), s.scheme, events.Event{Endpoint: endpoint, Err: e, Status: status,
		Subject: subject, Warn: e != nil && e.Reason == reasonRefreshReused})
}
