package basicauth

import (
	"net/http"
	"strconv"

	"github.com/tidegate/tidegate/middleware"
)

// Error codes of the {"errors":[{"code":N,"message":"..."}]} bodies. 1001,
// 4007 and 4013 are Tapglue's; the others are tidegate's, one per status.
const (
	// CodeAppToken (401): the app or backend token is missing or unknown.
	CodeAppToken = 1001
	// CodeInvalidSession (401): the session token is invalid, expired,
	// revoked or from another app, or the backend's user id is unknown or
	// not well-formed.
	CodeInvalidSession = 4007
	// CodeSessionRequired (401): the route needs a user and the password
	// part of the credentials is empty.
	CodeSessionRequired = 4013
	// CodeBadRequest (400): malformed Authorization header or request body.
	CodeBadRequest = 4000
	// CodeLoginFailed (401): wrong user name, email or password, all alike.
	CodeLoginFailed = 4010
	// CodeHTTPSRequired (403): credentials sent over plain HTTP.
	CodeHTTPSRequired = 4030
	// CodeForbidden (403): authenticated but not allowed (RequireRole).
	CodeForbidden = 4031
	// CodeMethodNotAllowed (405): the endpoint does not serve the method;
	// Allow lists those it does.
	CodeMethodNotAllowed = 4050
	// CodeConflict (409): the user name or email is taken.
	CodeConflict = 4090
	// CodeNotJSON (415): a sign-up or login body whose Content-Type is not
	// application/json, is given in more than one line, or that carries a
	// Content-Encoding other than identity.
	CodeNotJSON = 4150
	// CodeRateLimited (429): too many login attempts; see Retry-After.
	CodeRateLimited = 4290
	// CodeInternal (500): a bug.
	CodeInternal = 5000
	// CodeUnavailable (503): a store or registry failed; see Retry-After.
	CodeUnavailable = 5030
)

// The Error.Reason values this package sets; the renderer maps them to codes.
const (
	reasonUnknownApp      = "unknown_app"
	reasonSessionRequired = "session_required"
	reasonInvalidSession  = "invalid_session"
	reasonUnknownUser     = "unknown_user"
	reasonLoginFailed     = "login_failed"
	reasonHTTPSRequired   = "https_required"
	reasonBody            = "body"
	reasonExpired         = "expired" // set by the middleware core
)

// InvalidSession is the refusal for a Verifier of your own behind NewScheme
// (or tidegatetest's StaticVerifier) to answer when the app token is
// known but the session token is invalid, expired or revoked, or the
// backend's user id is unknown: 401 with CodeInvalidSession (4007), as
// Service answers. A plain middleware.Invalid answers CodeAppToken (1001).
func InvalidSession() *middleware.Error { return middleware.Invalid(reasonInvalidSession) }

// SessionRequired is the refusal for a Verifier of your own to answer
// when a route needs a user and the credentials carry an app token alone:
// 401 with CodeSessionRequired (4013), as Service answers.
func SessionRequired() *middleware.Error { return middleware.Invalid(reasonSessionRequired) }

var messages = map[int]string{
	CodeAppToken:         "app token missing or invalid",
	CodeInvalidSession:   "session token or user id invalid",
	CodeSessionRequired:  "session token required",
	CodeBadRequest:       "malformed request",
	CodeLoginFailed:      "wrong user name, email or password",
	CodeHTTPSRequired:    "HTTPS is required for these credentials",
	CodeForbidden:        "not allowed",
	CodeMethodNotAllowed: "method not allowed",
	CodeConflict:         "user name or email already taken",
	CodeNotJSON:          "Content-Type must be application/json, with no Content-Encoding",
	CodeRateLimited:      "too many attempts, retry later",
	CodeInternal:         "internal error",
	CodeUnavailable:      "temporarily unavailable, retry later",
}

// bodies holds each code's response body, encoded once.
var bodies = func() map[int][]byte {
	out := make(map[int][]byte, len(messages))
	for code, msg := range messages {
		out[code] = []byte(`{"errors":[{"code":` + strconv.Itoa(code) +
			`,"message":` + strconv.Quote(msg) + `}]}` + "\n")
	}
	return out
}()

// codeOf maps a failure to its error code.
func codeOf(e *middleware.Error) int {
	switch e.Status {
	case http.StatusBadRequest:
		return CodeBadRequest
	case http.StatusUnauthorized:
		switch e.Reason {
		case reasonSessionRequired:
			return CodeSessionRequired
		case reasonInvalidSession, reasonUnknownUser, reasonExpired:
			return CodeInvalidSession
		case reasonLoginFailed:
			return CodeLoginFailed
		}
		return CodeAppToken // missing, unknown_app
	case http.StatusForbidden:
		if e.Reason == reasonHTTPSRequired {
			return CodeHTTPSRequired
		}
		return CodeForbidden
	case http.StatusTooManyRequests:
		return CodeRateLimited
	case http.StatusServiceUnavailable:
		return CodeUnavailable
	}
	return CodeInternal
}

// render is the Schemes' middleware.Renderer: Tapglue's error shape. The
// middleware has already set WWW-Authenticate, Retry-After and
// Cache-Control.
func render(w http.ResponseWriter, _ *http.Request, e *middleware.Error) {
	status := e.Status
	if status < 400 || status > 599 {
		status = http.StatusInternalServerError
	}
	middleware.WriteJSON(w, status, bodies[codeOf(e)])
}

// writeError answers a failure that is not an authentication failure (409,
// 415).
func writeError(w http.ResponseWriter, status, code int) {
	w.Header().Set("Cache-Control", "no-store")
	middleware.WriteJSON(w, status, bodies[code])
}
