// Package basicauth implements tidegate's "basic" credential kind: Tapglue-
// compatible application credentials carried in HTTP Basic (RFC 7617), and
// the Tapglue-style endpoints that issue and revoke them.
//
// # Wire contract
//
//	Authorization: Basic base64(APP_TOKEN:SESSION_TOKEN)   a user, in an app
//	Authorization: Basic base64(BACKEND_TOKEN:USER_ID)     a trusted backend acting for a user
//	Authorization: Basic base64(APP_TOKEN:)                the app alone (sign-up, login)
//
// App tokens are 32 lowercase hex characters (128 bits) and ship inside
// client apps; backend tokens are 44 lowercase hex characters (176 bits),
// drawn independently, and stay on the app's own servers. Session tokens come
// from middleware.NewToken and are scoped to the app they were issued in:
// app A's session presented with app B's token is refused.
//
// Sign-up, login and GET /me answer the user as
// {"id","id_string","user_name","email"} (login adds "session_token"). The
// id is a string, not Tapglue's number, and id_string holds the same
// string: Tapglue's Android and iOS SDKs read the id from id_string only.
//
// # Principals
//
//   - app token + session: Actor middleware.ActorUser, Subject the user id,
//     App the app id, ExpiresAt the session's expiry.
//   - backend token + user id: Actor middleware.ActorBackend, Subject the
//     user id, App the app id.
//   - app (or backend) token + empty password, accepted by the app-only
//     middleware only: Actor ActorApp (defined here; the core has no "app"
//     actor), Subject "app:" + the app id, App the app id. The "app:" prefix
//     keeps such a subject from ever being mistaken for a user id.
//
// Every principal carries Attributes["token"] = "app" or "backend", telling
// which of the app's tokens authenticated it.
//
// # HTTPS only
//
// These credentials are refused over plain HTTP with 403, before any token
// is looked up: a request counts as HTTPS when it arrived over TLS, or when
// its direct peer is a trusted proxy (WithTrustedProxies) that sent
// X-Forwarded-Proto: https. WithInsecureLoopback allows plain HTTP from a
// loopback peer, for development only, and logs a warning when the Service
// is built. Responses to HTTPS requests carry Strict-Transport-Security
// (RFC 6797); responses over plain HTTP never do (RFC 6797 §7.2).
//
// # Errors
//
// Failures answer in Tapglue's shape,
//
//	{"errors":[{"code":1001,"message":"..."}]}
//
// with Content-Type: application/json and, on 401,
// WWW-Authenticate: Basic realm="...", charset="UTF-8". The codes are listed
// with CodeAppToken. Bodies never echo a credential.
//
// # Log events and metrics
//
// A request to one of Handler's endpoints has two log events: the app or
// user middleware writes its own for the credential it checked ("tidegate
// auth", a refusal there ends the request), then the endpoint writes one
// for its answer ("tidegate endpoint": a login's password, an account, a
// malformed body, a success). The Observer (WithSchemeOptions with
// middleware.WithObserver) hears the middleware's, and the endpoint's when
// it is a refusal or a login (a password checked): a success of /users,
// /me/logout or /me authenticated nobody the middleware had not. The
// endpoint's has the attributes kind ("basic"), endpoint ("users",
// "login", "logout", "me"), outcome (a middleware.Outcome), on failure
// reason and status, and subject, the user's id, when known. Successes are logged at Debug, refusals at Info,
// a failed backend at Warn, a bug at Error (with a contained panic's type
// and stack). No event carries a token, a password or the
// login name typed. A method an endpoint does not serve is answered 405
// (code 4050, with Allow) before any credential is checked: its
// endpoint's event (reason "method not allowed") is its only one.
//
// # Security notes
//
//   - Tokens are stored and looked up as SHA-256 digests only
//     (middleware.DigestToken); a found digest is compared again with
//     crypto/subtle, so the time to reject a token does not depend on how
//     many of its leading characters are right.
//   - Parsing is middleware.NewBasicExtractor's: strict RFC 7617, bounded
//     (MaxHeaderBytes), and a malformed header is 400 before any lookup.
//     Basic credentials in two Authorization headers are 400 too, even
//     when the two are identical.
//   - Verified credentials are cached (middleware.Cache); logout, RevokeSubject,
//     RotateToken and RevokeApp evict them at once.
//   - Password logins go through the shared *middleware.PasswordLogin, so
//     throttling, password rules and timing are the same as for the other
//     kinds.
//   - Sign-up and login read only a body sent as application/json, in one
//     Content-Type line and with no content coding but identity (415,
//     code 4150, otherwise; RFC 9110 §5.3: the field is not a list; §8.4:
//     a coded body means what it decodes to): a browser sends Basic
//     credentials on its own once its user has answered the challenge, and
//     only application/json needs a CORS preflight across origins.
//   - Their bodies ignore members other than user_name, email and password,
//     as Tapglue's server (json.Unmarshal) does: Tapglue's Android SDK
//     posts its whole User entity through Gson, counters and flags
//     (friend_count, is_friend, enabled, ...) included, and could not sign
//     up otherwise. This is safe: the body decodes into those three strings
//     only, so an extra member sets nothing (no mass assignment). The three
//     are read strictly: each at most once, a JSON string (not null),
//     named exactly (a name equal to one of them only case-insensitively,
//     which encoding/json would read as it, is 400), valid UTF-8 without
//     U+FFFD, in one object with nothing after it, at most MaxBodyBytes,
//     ignored members included.
package basicauth
