package bearer

import (
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Claims are the claims of a tidegate access token (RFC 9068 §2.2): the
// registered claims iss, sub, aud, exp, iat and jti, always present, plus
// the login id and the roles.
type Claims struct {
	jwt.RegisteredClaims
	// LoginID ("sid", as in OpenID Connect) names the login, that is the
	// refresh-token family, the token was issued under. Logging out or a
	// detected refresh-token reuse revokes every token of the login.
	LoginID string `json:"sid,omitempty"`
	// Roles are the account's roles when the token was issued.
	Roles []string `json:"roles,omitempty"`
	// Scope is a space-separated list of scopes (RFC 9068 §2.2.3). Tokens
	// tidegate issues carry none; tokens of other issuers may.
	Scope string `json:"scope,omitempty"`
}

// issuedAt returns the token's iat, or the zero time without one.
func (c *Claims) issuedAt() time.Time {
	if c.IssuedAt == nil {
		return time.Time{}
	}
	return c.IssuedAt.Time
}

// accessClaims is Claims as the access-token parser decodes it: the same
// struct (a *Claims converts to it for free), plus the claim rules
// golang-jwt has no option for, which its validator runs through
// jwt.ClaimsValidator, after the signature and with its other claim checks.
type accessClaims Claims

// Validate requires the claims RFC 9068 §2.2 makes mandatory and golang-jwt
// does not: iat (WithIssuedAt only checks it when present), sub and jti.
// exp is required by jwt.WithExpirationRequired, iss and aud by WithIssuer
// and WithAudience.
func (c *accessClaims) Validate() error {
	if c.IssuedAt == nil || c.Subject == "" || c.ID == "" {
		return jwt.ErrTokenRequiredClaimMissing
	}
	return nil
}

// refreshClaims is Claims as the refresh parser decodes it, for POST
// /refresh and /logout, which accept an expired access token. It hides exp
// from golang-jwt's validator (GetExpirationTime reports none), so that the
// refresh parser never judges expiry at all: there is no "expired" outcome
// that could be told apart from, or mistaken for, a bad signature. Every
// other check (algorithm, key, signature, iss, aud, iat, nbf) is the access
// parser's.
type refreshClaims Claims

// GetExpirationTime implements jwt.Claims, reporting no exp: see
// refreshClaims.
func (c *refreshClaims) GetExpirationTime() (*jwt.NumericDate, error) { return nil, nil }

// Validate requires exp to be present all the same (a token without it
// would never have been accepted as an access token), and the claims
// accessClaims requires.
func (c *refreshClaims) Validate() error {
	if c.ExpiresAt == nil {
		return jwt.ErrTokenRequiredClaimMissing
	}
	return (*accessClaims)(c).Validate()
}

// logoutClaims is Claims as POST /logout decodes it: refreshClaims, with
// iat and nbf hidden from golang-jwt's validator too, so that no time
// claim is judged at all. A genuine token is always revoked, even one
// whose iat lies ahead of this replica's clock (a replica running behind
// the one that minted it, or a clock stepped back): refusing it answered
// 200 and revoked nothing. Revoking more than asked is never unsafe.
type logoutClaims Claims

// GetExpirationTime implements jwt.Claims, reporting no exp.
func (c *logoutClaims) GetExpirationTime() (*jwt.NumericDate, error) { return nil, nil }

// GetIssuedAt implements jwt.Claims, reporting no iat.
func (c *logoutClaims) GetIssuedAt() (*jwt.NumericDate, error) { return nil, nil }

// GetNotBefore implements jwt.Claims, reporting no nbf.
func (c *logoutClaims) GetNotBefore() (*jwt.NumericDate, error) { return nil, nil }

// Validate requires what refreshClaims requires.
func (c *logoutClaims) Validate() error { return (*refreshClaims)(c).Validate() }
