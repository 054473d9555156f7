package bearer

import (
	"net/http"

	"github.com/tidegate/tidegate/middleware"
)

// The bodies of failed requests, in the shape of OAuth error responses
// (RFC 6749 §5.2, RFC 6750 §3). They depend on the status only: a missing,
// malformed, expired, revoked or forged token, a wrong password and a
// reused refresh token all get the same 401 body, so that a client learns
// nothing from it an attacker could use. The reason is logged, not sent.
var (
	bodyUnauthorized = []byte(`{"error":"invalid_token","error_description":"a valid bearer token or valid credentials are required"}` + "\n")
	bodyForbidden    = []byte(`{"error":"insufficient_scope","error_description":"the token does not allow this request"}` + "\n")
	bodyRateLimited  = []byte(`{"error":"rate_limited","error_description":"too many attempts, retry later"}` + "\n")
	bodyUnavailable  = []byte(`{"error":"temporarily_unavailable","error_description":"authentication is temporarily unavailable"}` + "\n")
	bodyInternal     = []byte(`{"error":"server_error","error_description":"internal error"}` + "\n")
)

// render is the Renderer of the bearer scheme.
func render(w http.ResponseWriter, _ *http.Request, e *middleware.Error) {
	middleware.WriteJSON(w, e.Status, failureBody(e.Status))
}

func failureBody(status int) []byte {
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

// Bodies of requests the endpoints cannot read. They say what is expected,
// never what was sent.
var (
	bodyBadLogin       = []byte(`{"error":"invalid_request","error_description":"the body must be a JSON object with exactly the string members \"username\" and \"password\", at most 64 KiB"}` + "\n")
	bodyBadRefresh     = []byte(`{"error":"invalid_request","error_description":"the body must be a JSON object with exactly the string member \"refresh_token\", at most 64 KiB"}` + "\n")
	bodyNotJSON        = []byte(`{"error":"invalid_request","error_description":"Content-Type must be application/json, with no Content-Encoding"}` + "\n")
	bodyPing           = []byte(`{"authenticated":true}` + "\n")
	bodyLoggedOut      = []byte(`{"logged_out":true}` + "\n")
	refreshScope       = "offline_access"
	tokenTypeBearer    = "Bearer"
	noStore            = "no-store"
	headerCacheControl = "Cache-Control"
)

// bodyMethodNotAllowed is the body of a 405, whose Allow header names the
// methods the endpoint serves.
var bodyMethodNotAllowed = []byte(`{"error":"invalid_request","error_description":"method not allowed, see the Allow header"}` + "\n")

// writeNoStore writes a JSON response that no cache may keep: token
// responses carry secrets (RFC 6749 §5.1).
func writeNoStore(w http.ResponseWriter, status int, body []byte) {
	h := w.Header()
	h.Set(headerCacheControl, noStore)
	h.Set("Pragma", "no-cache")
	middleware.WriteJSON(w, status, body)
}
