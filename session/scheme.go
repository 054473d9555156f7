package session

import (
	"context"
	"errors"
	"net/http"

	"github.com/tidegate/tidegate/internal/nilness"
	"github.com/tidegate/tidegate/middleware"
)

// Kind is the credential kind of session tokens.
const Kind middleware.Kind = "session"

// Header names of the Tidepool API. net/http matches header names
// case-insensitively; these are the canonical spellings.
const (
	// HeaderToken carries a session or server token, in requests and in
	// the responses that issue one.
	HeaderToken = "X-Tidepool-Session-Token"
	// HeaderServerName names the service in POST /serverlogin.
	HeaderServerName = "X-Tidepool-Server-Name"
	// HeaderServerSecret carries the service's secret in POST /serverlogin.
	HeaderServerSecret = "X-Tidepool-Server-Secret"
)

// Realm is the protection space named in every challenge of this package.
const Realm = "tidepool"

// MaxTokenBytes bounds the x-tidepool-session-token header. Tokens issued
// here are 43 bytes; anything over 1 KiB is refused as malformed before any
// hashing or store lookup.
const MaxTokenBytes = 1024

// tokenChallenge is the challenge of every 401 about a session token.
//
// RFC 7235 §4.1 asks every 401 to carry a WWW-Authenticate challenge, but
// Tidepool's header is not a registered auth-scheme, and calling it Bearer
// would invite clients to send "Authorization: Bearer", which this kind never
// reads. Naming the header itself as the auth-scheme (a valid token, RFC 9110
// §11.1) tells a client exactly which credential is expected and where. No
// RFC 6750 error attributes: they are defined for Bearer only.
var tokenChallenge = middleware.Challenge{Scheme: HeaderToken, Realm: Realm}

// The response bodies, JSON strings as Tidepool sends them. A body depends
// on the status alone, so a missing, malformed, unknown, expired or revoked
// token cannot be told apart.
var (
	bodyTokenRequired = []byte(`"Session token required"`)
	bodyLoginFailed   = []byte(`"login failed"`)
	bodyMissingLogin  = []byte(`"Missing login information"`)
	bodyInvalidToken  = []byte(`"Invalid session token"`)
	bodyForbidden     = []byte(`"Forbidden"`)
	bodyRateLimited   = []byte(`"Too many requests"`)
	bodyUnavailable   = []byte(`"Service unavailable"`)
	bodyInternal      = []byte(`"Internal server error"`)
)

// render is the Tidepool-style middleware.Renderer of the scheme.
func render(w http.ResponseWriter, _ *http.Request, e *middleware.Error) {
	middleware.WriteJSON(w, e.Status, bodyFor(e.Status))
}

func bodyFor(status int) []byte {
	switch status {
	case http.StatusBadRequest, http.StatusUnauthorized:
		return bodyTokenRequired
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

// NewExtractor returns the extractor of the scheme: the one value of the
// x-tidepool-session-token header, at most MaxTokenBytes, a token68 (RFC
// 7235 §2.1). The header twice with different values is malformed.
//
// The header is looked up under its canonical key, HeaderToken. net/http
// stores every header it receives under that key whatever its spelling on
// the wire, and Header.Set and Header.Add do too; a value written into the
// map under another key (r.Header["x-tidepool-session-token"] = ...) is not
// found.
func NewExtractor() (middleware.Extractor, error) {
	return middleware.NewHeaderExtractor(Kind, HeaderToken, middleware.WithMaxHeaderBytes(MaxTokenBytes))
}

// NewScheme returns the session scheme around any Verifier: usually a
// middleware.Cache in front of NewStoreVerifier or NewRemoteVerifier. It
// carries the x-tidepool-session-token extractor, the challenge
// `X-Tidepool-Session-Token realm="tidepool"` and a renderer answering
// "Session token required" to every 400 and 401. opts apply after those
// and may replace the renderer.
func NewScheme(v middleware.Verifier, opts ...middleware.SchemeOption) (*middleware.Scheme, error) {
	ex, err := NewExtractor()
	if err != nil {
		return nil, err
	}
	all := append([]middleware.SchemeOption{middleware.WithRenderer(render)}, opts...)
	return middleware.NewScheme(Kind, ex, v, tokenChallenge, all...)
}

// NewStoreVerifier returns the Verifier that looks session tokens up in
// store by digest. It is not cached: wrap it in middleware.NewCache for a
// request path (a Service does).
//
// It refuses app-scoped sessions (Session.App set), which only Tapglue's
// kind issues: one found in store is a basicauth app session in a store
// shared with basicauth (basicauth.WithSessionStore allows sharing, and two
// Redis session stores share one under the same prefix). Accepted as a
// session token, it would escape its app's scope.
func NewStoreVerifier(store middleware.SessionStore) (middleware.Verifier, error) {
	if nilness.Is(store) {
		return nil, errors.New("session: store must not be nil")
	}
	return storeVerifier{store: store}, nil
}

type storeVerifier struct{ store middleware.SessionStore }

// Verify implements middleware.Verifier.
func (v storeVerifier) Verify(ctx context.Context, c middleware.Credential) (middleware.Principal, error) {
	if c.Kind != Kind || c.Token == "" || c.Secret != "" {
		return middleware.Principal{}, middleware.Invalid("wrong kind")
	}
	s, err := v.store.Lookup(ctx, middleware.DigestToken(c.Token))
	if errors.Is(err, middleware.ErrSessionNotFound) {
		return middleware.Principal{}, middleware.Invalid("unknown")
	}
	if err != nil {
		return middleware.Principal{}, middleware.Unavailable("store", err)
	}
	if s.App != "" {
		// The stored record says whose it is.
		return middleware.Principal{}, middleware.Invalid("app session").WithSubject(s.Subject)
	}
	return principalOf(s), nil
}

// principalOf builds the principal of a live session.
func principalOf(s middleware.Session) middleware.Principal {
	return middleware.Principal{
		Subject:   s.Subject,
		Kind:      Kind,
		Actor:     s.Actor,
		App:       s.App,
		Roles:     s.Roles,
		ExpiresAt: s.ExpiresAt,
	}
}
