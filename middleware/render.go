package middleware

import (
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Challenge describes the WWW-Authenticate challenge of a scheme (RFC 7235
// §4.1). Every 401 carries it; with RFC6750 set, 400 and 403 carry it too,
// with the error attribute of RFC 6750 §3.
type Challenge struct {
	// Scheme is the auth-scheme word, such as "Bearer" or "Basic".
	Scheme string
	// Realm is the protection space (RFC 7235 §2.2). It must not contain a
	// double quote, a backslash or a control character.
	Realm string
	// Charset adds charset="UTF-8", as RFC 7617 §2.1 defines for Basic.
	Charset bool
	// RFC6750 adds error="invalid_request" / "invalid_token" /
	// "insufficient_scope" (and scope) as RFC 6750 §3 defines for Bearer.
	// No error attribute is sent when the request had no credential.
	RFC6750 bool
}

// challenge holds a Challenge's header values, built once at construction
// so that rendering a failure allocates nothing for the common cases.
type challenge struct {
	rfc6750        bool
	plain          string // no error attribute
	invalidRequest string
	invalidToken   string
}

func (c Challenge) compile() (challenge, error) {
	if !validToken(c.Scheme) {
		return challenge{}, errors.New("tidegate: invalid challenge scheme " + quoteForError(c.Scheme))
	}
	if c.Realm == "" || !validQuotedContent(c.Realm) {
		return challenge{}, errors.New("tidegate: challenge realm must be non-empty printable text without quotes or backslashes")
	}
	plain := c.Scheme + ` realm="` + c.Realm + `"`
	if c.Charset {
		plain += `, charset="UTF-8"`
	}
	out := challenge{rfc6750: c.RFC6750, plain: plain}
	if c.RFC6750 {
		out.invalidRequest = plain + `, error="` + CodeInvalidRequest + `"`
		out.invalidToken = plain + `, error="` + CodeInvalidToken + `"`
	}
	return out, nil
}

// value returns the WWW-Authenticate value for e, or "" when e's status
// carries no challenge.
func (c *challenge) value(e *Error) string {
	if !c.rfc6750 {
		if e.Status == http.StatusUnauthorized {
			return c.plain
		}
		return ""
	}
	switch e.Code {
	case CodeInvalidRequest:
		return c.invalidRequest
	case CodeInvalidToken:
		return c.invalidToken
	case CodeInsufficientScope:
		v := c.plain + `, error="` + CodeInsufficientScope + `"`
		if e.Scope != "" && validScope(e.Scope) {
			v += `, scope="` + e.Scope + `"`
		}
		return v
	}
	if e.Status == http.StatusUnauthorized {
		return c.plain
	}
	return ""
}

// validQuotedContent reports whether s can sit inside a quoted-string
// without escaping: printable ASCII or UTF-8, no '"', no '\\'.
func validQuotedContent(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == 0x7f || c == '"' || c == '\\' {
			return false
		}
	}
	return true
}

// validScope reports whether s is a space-separated list of RFC 6749 §3.3
// scope tokens (%x21 / %x23-5B / %x5D-7E).
func validScope(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c != ' ' && (c < 0x21 || c == '"' || c == '\\' || c > 0x7e) {
			return false
		}
	}
	return strings.TrimSpace(s) != ""
}

// Renderer writes the response for a failed authentication. Before it runs,
// the middleware has set WWW-Authenticate, Retry-After (429 and 503) and
// Cache-Control: no-store; the renderer sets Content-Type, calls
// w.WriteHeader(e.Status) and writes the body.
//
// A renderer must never write a credential, a claim, a key or e.Err's text.
// A panic in a renderer is recovered and logged by its type, and the answer
// becomes JSONRenderer's 500.
type Renderer func(w http.ResponseWriter, r *http.Request, e *Error)

// JSONRenderer is the default Renderer. Its bodies depend on the status
// alone, so a missing, malformed, expired, revoked or forged credential all
// get the same body:
//
//	400, 401: {"error":"unauthorized","message":"valid credentials are required"}
//	403:      {"error":"forbidden","message":"not allowed"}
//	429:      {"error":"rate_limited","message":"too many attempts, retry later"}
//	503:      {"error":"unavailable","message":"authentication is temporarily unavailable"}
//	500:      {"error":"internal_error","message":"internal error"}
func JSONRenderer(w http.ResponseWriter, r *http.Request, e *Error) {
	WriteJSON(w, e.Status, jsonBody(e.Status))
}

var (
	bodyUnauthorized = []byte(`{"error":"unauthorized","message":"valid credentials are required"}` + "\n")
	bodyForbidden    = []byte(`{"error":"forbidden","message":"not allowed"}` + "\n")
	bodyRateLimited  = []byte(`{"error":"rate_limited","message":"too many attempts, retry later"}` + "\n")
	bodyUnavailable  = []byte(`{"error":"unavailable","message":"authentication is temporarily unavailable"}` + "\n")
	bodyInternal     = []byte(`{"error":"internal_error","message":"internal error"}` + "\n")
)

func jsonBody(status int) []byte {
	switch status {
	case http.StatusBadRequest, http.StatusUnauthorized:
		return bodyUnauthorized
	case http.StatusForbidden:
		return bodyForbidden
	case http.StatusTooManyRequests:
		return bodyRateLimited
	case http.StatusServiceUnavailable:
		return bodyUnavailable
	default:
		return bodyInternal
	}
}

// WriteJSON writes a pre-encoded JSON body with the given status and
// Content-Type: application/json.
func WriteJSON(w http.ResponseWriter, status int, body []byte) {
	h := w.Header()
	h["Content-Type"] = headerJSON
	h["X-Content-Type-Options"] = headerNosniff
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// The constant header values of failures, each shared by every response:
// http.Header.Set makes a new one-element slice per call, and those slices
// were four of the allocations of every refused request. Each has
// len == cap, so adding a value to one of these headers copies it; nothing
// may write into them in place.
var (
	headerJSON    = []string{"application/json"}
	headerNosniff = []string{"nosniff"}
	headerNoStore = []string{"no-store"}
)

// setFailureHeaders sets the headers every failure carries, before the
// renderer runs. challenges are the WWW-Authenticate values to send, in order.
func setFailureHeaders(w http.ResponseWriter, e *Error, challenges ...string) {
	h := w.Header()
	for _, c := range challenges {
		if c != "" {
			// The canonical spelling, written directly: Header.Add would
			// canonicalise "WWW-Authenticate" into a new string every time.
			h["Www-Authenticate"] = append(h["Www-Authenticate"], c)
		}
	}
	if e.Status == http.StatusTooManyRequests || e.Status == http.StatusServiceUnavailable {
		h.Set("Retry-After", RetryAfterSeconds(e.RetryAfter))
	}
	h["Cache-Control"] = headerNoStore
}

// RetryAfterSeconds renders a delay as the value of a Retry-After header:
// whole seconds (RFC 9110 §10.2.3), rounded up, at least 1. It rounds
// without adding to d: d + time.Second - 1 overflowed for a delay within a
// second of the largest Duration, which then read as "1". Kind packages
// use it for the headers of their own endpoints.
func RetryAfterSeconds(d time.Duration) string {
	secs := int64(d / time.Second)
	if d%time.Second > 0 {
		secs++
	}
	return strconv.FormatInt(max(1, secs), 10)
}
