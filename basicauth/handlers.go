package basicauth

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/tidegate/tidegate/internal/cleanpath"
	"github.com/tidegate/tidegate/internal/events"
	"github.com/tidegate/tidegate/internal/jsonbody"
	"github.com/tidegate/tidegate/middleware"
)

// Limits of the sign-up fields.
const (
	// MaxUserNameBytes bounds a user name.
	MaxUserNameBytes = 256
	// MaxEmailBytes bounds an email address (RFC 5321 §4.5.3.1.3 limits a
	// path to 256 octets, the address within it to 254).
	MaxEmailBytes = 254
)

// userJSON is a user as the endpoints return it. It never holds a password
// or hash. Tapglue writes a numeric "id" and its decimal string in
// "id_string"; tidegate's user ids are strings, so both hold the same
// string. Tapglue's SDKs read only "id_string" (Android's
// @SerializedName("id_string"), iOS's map["id_string"]): without it, every
// user they hold has a nil id.
type userJSON struct {
	ID           string `json:"id"`
	IDString     string `json:"id_string"`
	UserName     string `json:"user_name"`
	Email        string `json:"email"`
	SessionToken string `json:"session_token,omitempty"`
}

// bodyFields are what the bodies of POST /users (all three) and POST
// /me/login (user_name or email, not both, and password) carry.
type bodyFields struct {
	UserName string `json:"user_name"`
	Email    string `json:"email"`
	Password string `json:"password"`
}

// routes builds the endpoint mux once, wrapped in HSTS so that every
// response to an HTTPS request carries it, 404 and 405 included.
func (s *Service) routes() http.Handler {
	app := middleware.Require(s.appScheme)
	user := middleware.Require(s.userScheme)
	mux := http.NewServeMux()
	mux.Handle("POST /users", app(http.HandlerFunc(s.createUser)))
	mux.Handle("POST /me/login", app(http.HandlerFunc(s.loginUser)))
	mux.Handle("DELETE /me/logout", user(http.HandlerFunc(s.logout)))
	mux.Handle("GET /me", user(http.HandlerFunc(s.me)))
	// Every other method gets its 405 from a method-less route, in
	// Tapglue's shape rather than ServeMux's text/plain, before any
	// credential is checked, as ServeMux's own 405 was.
	mux.HandleFunc("/users", s.notAllowed("users", "POST"))
	mux.HandleFunc("/me/login", s.notAllowed("login", "POST"))
	mux.HandleFunc("/me/logout", s.notAllowed("logout", "DELETE"))
	mux.HandleFunc("/me", s.notAllowed("me", "GET, HEAD")) // "GET /me" serves HEAD too

	return s.HSTS(cleanpath.Only(mux)) // no redirect outside the mount point
}

// reasonMethodNotAllowed is the reason of a 405, as every kind logs it.
const reasonMethodNotAllowed = "method not allowed"

// notAllowed returns the handler of the methods an endpoint does not
// serve: 405 with Allow (RFC 9110 §15.5.6), and the endpoint's one event.
func (s *Service) notAllowed(endpoint, allow string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Allow", allow)
		s.refuseRequest(w, r, endpoint, http.StatusMethodNotAllowed, CodeMethodNotAllowed, reasonMethodNotAllowed)
	}
}

// The reasons of the refusals that are not about credentials, for the log
// events and the Observer.
const (
	reasonNotJSON  = "not_json"
	reasonConflict = "conflict"
)

// refuse answers an endpoint's failure the way the middleware does, after
// the endpoint's one event. subject is the user the request acts for, ""
// when not known.
func (s *Service) refuse(w http.ResponseWriter, r *http.Request, endpoint string, err error, subject string) {
	e := middleware.AsError(err)
	s.logEvent(r, endpoint, e, subject)
	s.userScheme.Reject(w, r, e)
}

// refuseRequest answers a refusal that is not about credentials (405,
// 409, 415) in Tapglue's shape with code, whatever renderer WithSchemeOptions
// gave the schemes, after the endpoint's one event.
func (s *Service) refuseRequest(w http.ResponseWriter, r *http.Request, endpoint string, status, code int, reason string) {
	s.logEvent(r, endpoint, &middleware.Error{Kind: middleware.ErrMalformed, Status: status, Reason: reason}, "")
	writeError(w, status, code)
}

// succeed answers a success with v as JSON, after the endpoint's one
// event. Responses may hold a session token, so nothing may store them
// (RFC 9111 §5.2.2.5; as RFC 6749 §5.1 asks of token responses).
func (s *Service) succeed(w http.ResponseWriter, r *http.Request, endpoint string, status int, subject string, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		s.refuse(w, r, endpoint, middleware.Internal("encode"), "")
		return
	}
	s.logEvent(r, endpoint, nil, subject)
	w.Header().Set("Cache-Control", "no-store")
	middleware.WriteJSON(w, status, append(body, '\n'))
}

// logEvent writes the one event of a request an endpoint answered and
// tells the Observer (see internal/events): the endpoints check passwords
// and accounts themselves, after the middleware, which wrote its own event
// for the credential it checked. Both schemes have the same Observer
// (WithSchemeOptions). Only a login's success is an authentication of its
// own (a password): the others' successes are logged, not observed, so
// that the Observer counts the request's authentication once, the
// middleware's.
func (s *Service) logEvent(r *http.Request, endpoint string, e *middleware.Error, subject string) {
	events.Log(r.Context(), s.userScheme, events.Event{Endpoint: endpoint, Err: e, Subject: subject,
		Unobserved: endpoint != "login"})
}

// jsonBody reports whether r's body is declared plain application/json
// (see jsonbody.Declared). Sign-up and login read nothing else: Basic
// credentials are sent by a browser on its own once its user has answered
// the challenge, and a cross-site form or text/plain POST needs no CORS
// preflight, while application/json does. bearer's endpoints refuse the
// rest alike.
func jsonBody(r *http.Request) bool { return jsonbody.Declared(r.Header) }

// createUser serves POST /users.
func (s *Service) createUser(w http.ResponseWriter, r *http.Request) {
	if !jsonBody(r) {
		jsonbody.Refused(w.Header())
		s.refuseRequest(w, r, "users", http.StatusUnsupportedMediaType, CodeNotJSON, reasonNotJSON)
		return
	}
	in, err := decodeBody(http.MaxBytesReader(w, r.Body, MaxBodyBytes))
	if err != nil ||
		!validUserName(in.UserName) || !validEmail(in.Email) || !validPassword(in.Password) {
		s.refuse(w, r, "users", middleware.Malformed(reasonBody), "")
		return
	}
	ctx := r.Context()
	// A taken name or email answers before the costly hash; Create checks
	// again atomically, so a race between two sign-ups is still a 409.
	for _, login := range []string{in.UserName, in.Email} {
		_, err := s.accounts.FindByLogin(ctx, login)
		if err == nil {
			s.refuseRequest(w, r, "users", http.StatusConflict, CodeConflict, reasonConflict)
			return
		}
		if !errors.Is(err, middleware.ErrAccountNotFound) {
			s.refuse(w, r, "users", middleware.Unavailable("accounts", err), "")
			return
		}
	}
	hash, err := s.login.HashPassword(ctx, in.Password)
	if err != nil {
		s.refuse(w, r, "users", err, "")
		return
	}
	account := middleware.Account{
		UserID: newUserID(), Username: in.UserName, Emails: []string{in.Email},
		Roles: []string{"user"}, PasswordHash: hash,
	}
	switch err := s.accounts.Create(ctx, account); {
	case errors.Is(err, middleware.ErrAccountExists):
		s.refuseRequest(w, r, "users", http.StatusConflict, CodeConflict, reasonConflict)
		return
	case err != nil:
		s.refuse(w, r, "users", middleware.Unavailable("accounts", err), "")
		return
	}
	s.succeed(w, r, "users", http.StatusCreated, account.UserID, userOf(account))
}

// loginUser serves POST /me/login: the shared PasswordLogin checks the
// password (throttled, timing-safe, one error for every wrong input), then
// a session scoped to the authenticated app is issued.
func (s *Service) loginUser(w http.ResponseWriter, r *http.Request) {
	if !jsonBody(r) {
		jsonbody.Refused(w.Header())
		s.refuseRequest(w, r, "login", http.StatusUnsupportedMediaType, CodeNotJSON, reasonNotJSON)
		return
	}
	in, err := decodeBody(http.MaxBytesReader(w, r.Body, MaxBodyBytes))
	login := in.UserName
	if login == "" {
		login = in.Email
	}
	if err != nil || (in.UserName != "" && in.Email != "") || login == "" || in.Password == "" {
		s.refuse(w, r, "login", middleware.Malformed(reasonBody), "")
		return
	}
	p, ok := middleware.FromRequest(r)
	if !ok {
		s.refuse(w, r, "login", middleware.Internal("no principal"), "")
		return
	}
	ctx := r.Context()
	account, err := s.login.Login(ctx, s.proxies.ClientAddr(r), login, in.Password)
	if err != nil {
		s.loginFailed(w, r, err, "")
		return
	}
	token, err := s.newSession(r, p.App, account)
	if err != nil {
		s.loginFailed(w, r, err, account.UserID)
		return
	}
	// The account may have been disabled, or its password changed, and its
	// subject revoked while the password was checked (see
	// middleware.PasswordLogin.Confirm): the session is then never handed
	// out, and revoked.
	if err := s.login.Confirm(ctx, account); err != nil {
		_ = s.sessions.Revoke(ctx, middleware.DigestToken(token))
		s.loginFailed(w, r, err, account.UserID)
		return
	}
	out := userOf(account)
	out.SessionToken = token
	s.succeed(w, r, "login", http.StatusCreated, account.UserID, out)
}

// loginFailed answers a refused login: a wrong input is the one generic
// login failure. subject is the account's user id once the password was
// checked, "" before.
func (s *Service) loginFailed(w http.ResponseWriter, r *http.Request, err error, subject string) {
	if errors.Is(err, middleware.ErrInvalidCredential) {
		err = middleware.Invalid(reasonLoginFailed)
	}
	s.refuse(w, r, "login", err, subject)
}

// newSession stores a fresh session of account in app and returns its token.
func (s *Service) newSession(r *http.Request, app string, account middleware.Account) (string, error) {
	token := middleware.NewToken()
	now := s.now()
	err := s.sessions.Create(r.Context(), middleware.DigestToken(token), middleware.Session{
		Subject: account.UserID, Actor: middleware.ActorUser, App: app, Roles: account.Roles,
		IssuedAt: now, ExpiresAt: now.Add(s.sessionTTL),
	})
	if err != nil {
		return "", middleware.Unavailable("session store", err)
	}
	return token, nil
}

// logout serves DELETE /me/logout: the session of this request is revoked
// in the store, then evicted from every cache, so it fails on the very next
// request. The user's other sessions are untouched.
func (s *Service) logout(w http.ResponseWriter, r *http.Request) {
	p, ok := middleware.FromRequest(r)
	if !ok {
		s.refuse(w, r, "logout", middleware.Internal("no principal"), "")
		return
	}
	if p.ActingAs() != middleware.ActorUser {
		// A backend acting for a user holds no session to end.
		s.refuse(w, r, "logout", middleware.Invalid(reasonSessionRequired), p.Subject)
		return
	}
	cred, err := s.userScheme.Extract(r)
	if err != nil || cred.Secret == "" {
		s.refuse(w, r, "logout", middleware.Internal("credential vanished"), p.Subject)
		return
	}
	err = s.sessions.Revoke(r.Context(), middleware.DigestToken(cred.Secret))
	s.invalidate(cred, p.Subject) // on an error too, which may come after the work was done
	if err != nil {
		s.refuse(w, r, "logout", middleware.Unavailable("session store", err), p.Subject)
		return
	}
	s.logEvent(r, "logout", nil, p.Subject)
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusNoContent)
}

// me serves GET /me.
func (s *Service) me(w http.ResponseWriter, r *http.Request) {
	subject, ok := middleware.SubjectFromContext(r.Context())
	if !ok {
		s.refuse(w, r, "me", middleware.Internal("no principal"), "")
		return
	}
	account, err := s.accounts.FindByID(r.Context(), subject)
	switch {
	case errors.Is(err, middleware.ErrAccountNotFound) || (err == nil && account.Disabled):
		s.refuse(w, r, "me", middleware.Invalid(reasonUnknownUser), subject)
		return
	case err != nil:
		s.refuse(w, r, "me", middleware.Unavailable("accounts", err), subject)
		return
	}
	s.succeed(w, r, "me", http.StatusOK, subject, userOf(account))
}

func userOf(a middleware.Account) userJSON {
	u := userJSON{ID: a.UserID, IDString: a.UserID, UserName: a.Username}
	if len(a.Emails) > 0 {
		u.Email = a.Emails[0]
	}
	return u
}

var (
	errTrailing = errors.New("basicauth: data after the JSON object")
	errMembers  = errors.New("basicauth: not an object of distinct, exactly named string members")
	errEncoding = errors.New("basicauth: not UTF-8 text, or a value holding U+FFFD")
)

// bodyMembers are the member names of bodyFields, matched exactly.
var bodyMembers = map[string]bool{"user_name": true, "email": true, "password": true}

// decodeBody reads the fields of one JSON object. Members named other than
// bodyMembers are ignored, as Tapglue's server (json.Unmarshal) ignores
// them: its Android SDK posts its whole User entity through Gson, counters
// and flags (friend_count, is_friend, enabled, ...) beside user_name, email
// and password. Ignoring them is safe: only three strings are read, so no
// member can set anything else (no mass assignment). Everything else is
// strict: a repeated known member, a name that matches a known one only
// case-insensitively, a known member that is not a string, trailing data
// and anything but an object are errors. The caller bounds r, ignored
// members included.
//
// encoding/json alone matches names case-insensitively and keeps the last
// of repeated members, so {"user_name":"a","USER_NAME":"mary"} logged in
// as mary while a proxy or WAF reading "user_name" saw "a"; checkMembers
// gives a body one meaning only, as bearer's parser does
// (examples/server/adversarial, TestLoginBodies "tapglue/duplicate member").
// The fields are then taken from the known members alone, by exact name,
// so no ignored name reaches a field, whatever its case folding.
//
// For the same reason the body must be valid UTF-8 and no known member's
// value may hold U+FFFD: encoding/json turns invalid bytes and lone
// surrogate escapes ("\ud800") into U+FFFD, so that different passwords
// logged in alike and the UTF-8 checks of the fields could never fail
// (RFC 8259 §8.1 requires UTF-8 anyway).
func decodeBody(r io.Reader) (bodyFields, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return bodyFields{}, err
	}
	if !utf8.Valid(data) {
		return bodyFields{}, errEncoding
	}
	known, err := checkMembers(data)
	if err != nil {
		return bodyFields{}, err
	}
	return bodyFields{UserName: known["user_name"], Email: known["email"], Password: known["password"]}, nil
}

// checkMembers returns the known members of data, a JSON object, by exact
// name. It reports an error unless every known member appears at most once
// and is a JSON string holding no U+FFFD, no other member's name equals a
// known one case-insensitively (Unicode simple folding, as encoding/json
// and strings.EqualFold match: "USER_NAME", "Email", "pasſword"), and
// nothing follows the object. The decoder would read null into a string
// as "", so that {"user_name":null,"email":"mary@example.com"} logged in
// as mary through the email while a proxy could read the null otherwise;
// bearer's parser refuses it alike. Other members' values need only be
// JSON, and are not kept.
func checkMembers(data []byte) (map[string]string, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return nil, errMembers
	}
	known := make(map[string]string, len(bodyMembers))
	for dec.More() {
		t, err := dec.Token()
		name, ok := t.(string)
		if err != nil || !ok {
			return nil, errMembers
		}
		var value json.RawMessage // syntax checked, never decoded
		if err := dec.Decode(&value); err != nil {
			return nil, err
		}
		if !bodyMembers[name] {
			if foldsToBodyMember(name) {
				return nil, errMembers
			}
			continue
		}
		text, err := stringValue(value)
		if err != nil {
			return nil, err
		}
		if _, repeated := known[name]; repeated {
			return nil, errMembers
		}
		known[name] = text
	}
	if t, err := dec.Token(); err != nil || t != json.Delim('}') {
		return nil, errMembers
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errTrailing
	}
	return known, nil
}

// foldsToBodyMember reports whether name, not itself one of bodyMembers,
// equals one of them case-insensitively, as encoding/json would match it.
func foldsToBodyMember(name string) bool {
	for member := range bodyMembers {
		if strings.EqualFold(name, member) {
			return true
		}
	}
	return false
}

// stringValue returns the text of value, a JSON string holding no U+FFFD;
// null, which encoding/json reads into a string as "", is an error.
func stringValue(value json.RawMessage) (string, error) {
	var text string
	if len(value) == 0 || value[0] != '"' || json.Unmarshal(value, &text) != nil {
		return "", errMembers
	}
	if strings.ContainsRune(text, utf8.RuneError) {
		return "", errEncoding
	}
	return text, nil
}

// validUserName: non-empty, bounded, valid UTF-8, no control characters
// (Unicode's C1 too: NEL, the 8-bit CSI of terminal escapes) and no
// surrounding white space (logins match after trimming it, so " bob" and
// "bob" would be the same login).
func validUserName(s string) bool {
	return s != "" && len(s) <= MaxUserNameBytes && utf8.ValidString(s) &&
		!strings.ContainsFunc(s, unicode.IsControl) && strings.TrimSpace(s) == s
}

// validEmail is a deliberately simple check: bounded, valid UTF-8, no
// white space or control characters (Unicode's too: a no-break space
// stored an address that logs in without it), one "@" with something on
// each side. Whether the address works is for a confirmation mail to find
// out.
func validEmail(s string) bool {
	at := strings.IndexByte(s, '@')
	return len(s) <= MaxEmailBytes && utf8.ValidString(s) &&
		!strings.ContainsFunc(s, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }) &&
		at > 0 && at == strings.LastIndexByte(s, '@') && at < len(s)-1
}

// validPassword applies the core's password rules (middleware.PasswordLogin
// HashPassword checks them again): not empty, at most MaxPasswordBytes.
func validPassword(s string) bool { return s != "" && len(s) <= middleware.MaxPasswordBytes }
