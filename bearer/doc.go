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
// Verification is strict and ordered so that nothing about a token is
// believed before its signature is checked (RFC 8725):
//
//   - the token is bounded (DefaultMaxTokenBytes) and must have three
//     segments of unpadded, canonical base64url;
//   - the header must name a configured kid, and its alg must be that key's
//     algorithm: the algorithm is pinned per key, so "none" in any spelling
//     and HS256 over a public key are refused; crit, jku, jwk, x5u, x5c and
//     x5t are refused, and no key is ever fetched from a token;
//   - typ must be at+jwt, so no other JWT signed with the same key passes;
//   - the signature is checked, and only then the claims are decoded: exp
//     and iat are required, iat and nbf must not be in the future, iss and
//     aud must match, within a leeway of 30 s by default (5 minutes at most);
//   - the token's jti, its login (sid) and its subject must not be revoked
//     (RevocationList).
//
// The middleware (Service.Scheme) caches verified tokens by their exact
// string until they expire, so a token is verified once; logout, refresh
// reuse and RevokeSubject evict it at once.
//
// For speed, the hot path decodes the token itself rather than through
// jwt.Parser: a strict base64url decoder, a strict parser of the small
// header, HMAC with the key schedule done once, and a decoder of the
// payload that handles exactly the shape tidegate issues and hands
// anything else to encoding/json. The rules are golang-jwt's (the tests run
// jwt.Parser with WithValidMethods, WithStrictDecoding, WithIssuer,
// WithAudience, WithLeeway, WithExpirationRequired and WithIssuedAt as the
// reference), the signing methods, claim types and token minting are
// golang-jwt's, and a token's first verification costs a fraction of
// jwt.ParseWithClaims.
//
// # Refresh tokens
//
// Refresh tokens are opaque (256 bits from crypto/rand), stored as SHA-256
// digests only (RefreshStore), and bound to one login: POST /refresh needs
// the login's access token too, which may have expired but must be genuine.
// Each refresh token is single-use: presenting one again revokes the whole
// login, its access tokens included (RFC 9700 §4.14.2), and of two
// concurrent refreshes with one token exactly one succeeds. A login ends
// after DefaultFamilyLifetime however often it is refreshed. WithoutRotation
// keeps the first refresh token valid instead, as some Tidal clients
// expect, at the cost of reuse detection.
//
// # Other services
//
// A service that only accepts tokens uses NewJWKSVerifier with the issuer's
// JWKS URL (EdDSA or ES256 keys).
package bearer
