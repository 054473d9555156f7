// Package session implements the x-tidepool-session-token credential kind,
// wire-compatible with the Tidepool API: opaque session tokens sent in the
// x-tidepool-session-token header, the handlers that issue, refresh and
// revoke them, server tokens for services talking to services, and a remote
// Verifier with which another service accepts the same tokens.
//
// # Endpoints
//
// Service.Handler serves, relative to where it is mounted (the example server
// mounts it at /auth with http.StripPrefix):
//
//	POST /login         HTTP Basic username:password -> 200, token in x-tidepool-session-token,
//	                    {"userid","username","emails"}; 401 "login failed"; 400 "Missing login
//	                    information"; 429 with Retry-After when throttled
//	GET  /login         refresh: a new token in the header, {"userid"}; the old token keeps
//	                    working for a grace window (default 30 s); 401 "Session token required"
//	POST /logout        200 whatever the token; a valid one is revoked at once, caches
//	                    included (503 when that cannot be done: the store failing, or a
//	                    token refreshed over 1,024 times within the grace window)
//	POST /serverlogin   x-tidepool-server-name / x-tidepool-server-secret -> a server token
//	GET  /token/{token} with a server token: {"userid","isserver","expires_at"} of {token}
//
// Any other method on these paths is answered 405 with Allow and the body
// "Method not allowed". Each request writes one log event, "tidegate
// endpoint" (attributes kind, endpoint, outcome, and reason and status on
// failure; a contained panic's has its type and stack instead of the
// endpoint) and tells the scheme's Observer its outcome once.
//
// # Tokens
//
// Tokens are middleware.NewToken values (256 bits from crypto/rand,
// base64url). A middleware.SessionStore keeps only their SHA-256 digests, so
// a copy of the store cannot be replayed. A token lives one hour by default;
// refreshing issues a new one but never past the login's absolute lifetime
// (seven days by default). Server tokens live 24 hours.
//
// # Middleware
//
// Service.Scheme returns the middleware.Scheme to pass to middleware.Require,
// Optional or Any: the header extractor, the store-backed Verifier behind a
// middleware.Cache, the challenge and a Tidepool-style error renderer. Logout,
// refresh and Service.RevokeSubject evict from that cache (and from an
// optional extra middleware.Invalidator) right after revoking in the store.
//
// Another service validates tokens without sharing the store through
// NewRemoteVerifier, which calls the auth server's GET /token/{token} with
// its own server token; wrap it in middleware.NewCache and pass it to
// NewScheme. An unreachable or failing auth server gives 503, never 401.
package session
