// Package bearer implements the bearer-JWT credential kind of tidegate,
// wire-compatible with the Tidal Migrations API, on
// github.com/golang-jwt/jwt/v5:
//
//	POST /api/v1/authenticate  {"username","password"} -> {"access_token","refresh_token","expires_in":28800,"token_type":"Bearer"}
//	POST /api/v1/refresh       Authorization: Bearer <access token> + {"refresh_token"} -> new tokens
//	GET  /api/v1/ping          Authorization: Bearer <access token> -> {"authenticated":true}
//	POST /api/v1/logout        Authorization: Bearer <access token> -> the login is revoked
//	GET  /.well-known/jwks.json  the public verification keys (EdDSA, ES256)
//
// # Access tokens
//
// Access tokens are JWS compact JWTs with the header typ "at+jwt" (RFC
// 9068) and a kid, and the claims iss, sub, aud, exp, iat, jti, sid (the
// login) and roles (see Claims). They are signed with HS256 by default
// (a secret of at least 32 bytes that passes CheckHMACSecret), or with
// EdDSA or ES256, by the signing key of a KeySet; the set's other keys keep
// verifying tokens they signed, so keys rotate without logging anyone out.
//
// Access tokens are validated by golang-jwt's jwt.Parser: one parser per
// verifier, built at construction with WithValidMethods
// (the algorithms of the key set), WithStrictDecoding (unpadded, canonical
// base64url only), WithIssuer, WithAudience, WithIssuedAt, WithLeeway
// (30 s by default, 5 minutes at most) and WithExpirationRequired, decoding
// into the typed Claims. Its order is what RFC 8725 asks for: nothing about
// a token is believed before its signature is checked.
//
//   - the token is bounded (DefaultMaxTokenBytes) before it is parsed;
//   - golang-jwt decodes it and refuses an alg that no configured key has,
//     so "none" in any spelling never gets further;
//   - the Keyfunc applies the header rules golang-jwt has no option for:
//     a header that repeats a member name is refused (RFC 7515 §4), as are
//     crit, jku, jwk, x5u, x5c, x5t and x5t#S256 (no key is ever fetched
//     from a token); typ must be at+jwt (RFC 9068 §4, in any case, with
//     or without "application/"), kid must name a configured
//     key, and alg must be that key's algorithm: the algorithm is pinned per
//     key, so HS256 over a public key's bytes is refused;
//   - golang-jwt verifies the signature with that key, and only then
//     validates the claims: exp required and not passed, iat required and
//     not in the future, nbf if present, iss and aud; sub and jti required;
//   - the token's jti, its login (sid) and its subject must not be revoked
//     (RevocationList).
//
// The tokens tidegate mints itself take a shorter path to the same answer
// (see mintedHeaders): when a token's header segment is byte for byte the
// one the key set mints for one of its keys, every header rule above holds
// by construction, so the header is not decoded; the signature is checked
// with that key before the claims are decoded, and claims in the compact,
// plain-ASCII form tidegate writes are read without reflection, then
// validated by golang-jwt's jwt.Validator with the parser's own options. Any
// other header or claims form goes to the parser, and so do refresh, logout
// and NewJWKSVerifier. FuzzMintedHeaders checks that both paths accept and
// refuse the same fuzzed tokens, with the same claims.
//
// POST /refresh and /logout accept an expired access token through a
// second parser with the same rules, whose claims type shows golang-jwt no
// exp, so that it never judges expiry at all: an expired token must still
// have a valid signature, algorithm, typ, issuer and audience, and no forged
// one can pass for "merely expired". For /logout its claims type hides iat
// and nbf too: a genuine token is revoked even when this replica's clock
// stands before its iat.
//
// The middleware (Service.Scheme) caches verified tokens by their exact
// string for DefaultCacheTTL (one minute, WithCacheTTL) or until they
// expire if sooner, so a token in use is verified once a minute; logout,
// refresh reuse and RevokeSubject evict it at once, on every replica whose
// cache hears them (Service.Cache, registered with a
// redisstore.Broadcaster).
//
// # Refresh tokens
//
// Refresh tokens are opaque (256 bits from crypto/rand), stored as SHA-256
// digests only (RefreshStore), and bound to one login: POST /refresh needs
// the login's access token too, which may have expired but must be genuine.
// Each refresh token is single-use: presenting one again revokes the whole
// login, its access tokens included (RFC 9700 §4.14.2), and of two
// concurrent refreshes with one token exactly one succeeds. A reuse whose
// access tokens cannot be revoked is answered 503, and every later
// presentation of the login's refresh tokens (until they expire) is a reuse
// again, which tries again. A rotation whose store call failed for any
// reason but the store's own answer is run once more, the same rotation,
// since the store may have carried it out (see RefreshStore.Rotate). A login ends after DefaultFamilyLifetime
// however often it is refreshed. WithoutRotation keeps the first refresh
// token valid instead, as some Tidal clients expect, at the cost of reuse
// detection.
//
// # Events
//
// Each request to POST /authenticate, /refresh or /logout writes one log
// event, "tidegate endpoint", in the shape of the middleware's: kind,
// endpoint, outcome (middleware.OutcomeOf), on failure the reason and the
// status answered, and the subject (the account's user id) when known,
// never the username typed, a token or a claim other than the subject. A
// success is logged at Debug, a refusal at Info, a failing backend at Warn,
// and so is a reused refresh token, a sign of theft; a bug at Error, with a
// contained panic's type and stack (a panic the endpoint itself did not
// contain has no endpoint attribute: its stack says where). The endpoint also
// tells the scheme's Observer (WithSchemeOptions with
// middleware.WithObserver) of its outcome, once, as the middleware does
// for the requests it authenticates. POST /logout answers 200 even to a
// token it refuses; its event says rejected, with the reason and status
// 200. GET /ping is authenticated by the middleware, whose event it is.
// A method an endpoint does not serve is answered 405, with Allow and a
// JSON error body, and is that endpoint's event too (reason "method not
// allowed", status 405); the JWKS handler answers it alike, without an
// event.
// The cache's hits and misses reach an Observer given to the cache with
// WithCacheOptions(middleware.WithObserver(o)).
//
// # Other services
//
// A service that only accepts tokens uses NewJWKSVerifier with the issuer's
// JWKS URL (EdDSA or ES256 keys).
package bearer
