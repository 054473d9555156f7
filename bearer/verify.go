package bearer

import (
	"bytes"
	"context"
	"slices"
	"strings"
	"time"

	"github.com/tidegate/tidegate/middleware"
)

// Kind is the credential kind of bearer JWTs.
const Kind middleware.Kind = "bearer"

// Principal attributes set for a verified access token.
const (
	// AttrTokenID is the jti of the access token.
	AttrTokenID = "jti"
	// AttrLoginID is the sid of the access token: its login.
	AttrLoginID = "sid"
)

// Reasons of verification failures, for logs and metrics.
const (
	reasonOversized  = "oversized"
	reasonSyntax     = "syntax"
	reasonUnknownKey = "unknown key"
	reasonAlg        = "algorithm"
	reasonTyp        = "typ"
	reasonSignature  = "signature"
	reasonClaims     = "claims"
	reasonExpired    = "expired"
	reasonNotYet     = "not yet valid"
	reasonIssuer     = "issuer"
	reasonAudience   = "audience"
	reasonRevoked    = "revoked"
)

// maxSignatureBytes is the largest signature of the supported algorithms
// (Ed25519 and ES256: 64 bytes; HS256: 32).
const maxSignatureBytes = 64

// keySource finds the key a token's kid names in keys it fetches (see
// JWKSVerifier). It returns an *Error: 401 for an unknown kid, 503 when the
// keys could not be fetched.
type keySource interface {
	key(ctx context.Context, kid string) (*Key, error)
}

// tokenVerifier checks access tokens. It is the Verifier of the bearer
// scheme (behind a middleware.Cache) and of NewJWKSVerifier.
type tokenVerifier struct {
	keys        *KeySet   // fixed keys, or nil
	fetched     keySource // when keys is nil
	issuer      string
	audience    string
	leeway      time.Duration
	now         func() time.Time
	maxBytes    int
	revocations RevocationList // nil: no revocation list
}

// Verify implements middleware.Verifier.
func (v *tokenVerifier) Verify(ctx context.Context, cred middleware.Credential) (middleware.Principal, error) {
	var c Claims
	if err := v.parse(ctx, cred.Token, &c, false); err != nil {
		return middleware.Principal{}, err
	}
	if err := v.checkRevoked(ctx, &c); err != nil {
		return middleware.Principal{}, err
	}
	return v.principal(&c), nil
}

// parse verifies token and fills c. The order matters:
//
//  1. size and shape (three segments) before any decoding;
//  2. the header, strictly (see parseHeader);
//  3. the key by kid among configured keys, and the token's alg must be
//     that key's algorithm: "none" in any spelling, and HS256 over a public
//     key, find no key of theirs (RFC 8725 §2.1, §3.1);
//  4. typ must be at+jwt (RFC 9068 §4, RFC 8725 §3.11);
//  5. the signature;
//  6. only then the claims are decoded, and checked: a forged token is
//     never told apart by its expiry.
//
// With allowExpired, an expired token passes step 6 (for refresh and
// logout); everything else still applies.
func (v *tokenVerifier) parse(ctx context.Context, token string, c *Claims, allowExpired bool) error {
	if len(token) > v.maxBytes {
		return middleware.Invalid(reasonOversized)
	}
	dot1 := strings.IndexByte(token, '.')
	if dot1 < 0 || dot1 > maxHeaderSegment {
		return middleware.Invalid(reasonSyntax)
	}
	dot2 := dot1 + 1 + strings.IndexByte(token[dot1+1:], '.')
	if dot2 <= dot1 || strings.IndexByte(token[dot2+1:], '.') >= 0 {
		return middleware.Invalid(reasonSyntax)
	}
	key, err := v.headerKey(ctx, token[:dot1])
	if err != nil {
		return err
	}
	var sig [maxSignatureBytes]byte
	n := decodeSegment(sig[:], token[dot2+1:])
	if n < 0 || !key.verify(token[:dot2], sig[:n]) {
		return middleware.Invalid(reasonSignature)
	}
	payload, ok := decodePayload(token[dot1+1 : dot2])
	if !ok || decodeClaims(payload, c) != nil {
		return middleware.Invalid(reasonClaims)
	}
	return v.checkClaims(c, allowExpired)
}

// headerKey decodes and checks the header and returns the key to verify with.
func (v *tokenVerifier) headerKey(ctx context.Context, segment string) (*Key, error) {
	var buf [maxHeaderBytes]byte
	n := decodeSegment(buf[:], segment)
	if n < 0 {
		return nil, middleware.Invalid(reasonSyntax)
	}
	h, reason := parseHeader(buf[:n])
	if reason != "" {
		return nil, middleware.Invalid(reason)
	}
	key, err := v.lookup(ctx, h.kid)
	if err != nil {
		return nil, err
	}
	if string(h.alg) != key.alg {
		return nil, middleware.Invalid(reasonAlg)
	}
	if !validTyp(h.typ) {
		return nil, middleware.Invalid(reasonTyp)
	}
	return key, nil
}

// lookup finds the key of kid. A fixed KeySet is looked up directly, with
// no interface call: kid, and the header buffer it points into, then stay
// on the stack.
func (v *tokenVerifier) lookup(ctx context.Context, kid []byte) (*Key, error) {
	if v.keys == nil {
		return v.fetched.key(ctx, string(kid))
	}
	if k, ok := v.keys.byID[string(kid)]; ok {
		return k, nil
	}
	return nil, middleware.Invalid(reasonUnknownKey)
}

// validTyp accepts the access-token type of RFC 9068 §4, "at+jwt", with or
// without its "application/" prefix, in any case (media types are
// case-insensitive). Plain "JWT", an ID token's type or none are refused,
// so that no other kind of JWT signed with the same key passes as an
// access token.
func validTyp(typ []byte) bool {
	return bytes.EqualFold(typ, []byte("at+jwt")) || bytes.EqualFold(typ, []byte("application/at+jwt"))
}

// decodePayload decodes the claims segment into a string: one allocation,
// of which the claims' strings are slices.
func decodePayload(segment string) (string, bool) {
	var stack [1024]byte
	buf := stack[:]
	if decodedLen(len(segment)) > len(buf) {
		buf = make([]byte, decodedLen(len(segment)))
	}
	n := decodeSegment(buf, segment)
	if n < 0 {
		return "", false
	}
	return string(buf[:n]), true
}

// checkClaims applies the claim rules, the same as golang-jwt's validator
// with WithExpirationRequired, WithIssuedAt, WithLeeway, WithIssuer and
// WithAudience, and further requires iat, sub and jti (RFC 9068 §2.2).
func (v *tokenVerifier) checkClaims(c *Claims, allowExpired bool) error {
	now := v.now()
	late := now.Add(v.leeway) // now, as seen by a clock running ahead
	switch {
	case c.ExpiresAt == nil || c.IssuedAt == nil || c.Subject == "" || c.ID == "":
		return middleware.Invalid(reasonClaims)
	case !allowExpired && !now.Before(c.ExpiresAt.Add(v.leeway)):
		return middleware.Invalid(reasonExpired)
	case late.Before(c.IssuedAt.Time):
		return middleware.Invalid(reasonNotYet)
	case c.NotBefore != nil && late.Before(c.NotBefore.Time):
		return middleware.Invalid(reasonNotYet)
	case c.Issuer != v.issuer:
		return middleware.Invalid(reasonIssuer)
	case !slices.Contains(c.Audience, v.audience):
		return middleware.Invalid(reasonAudience)
	}
	return nil
}

// checkRevoked asks the revocation list about the token. A failing list is
// 503: tidegate cannot tell whether the token was revoked.
func (v *tokenVerifier) checkRevoked(ctx context.Context, c *Claims) error {
	if v.revocations == nil {
		return nil
	}
	revoked, err := v.revocations.Revoked(ctx, refOf(c))
	if err != nil {
		return middleware.Unavailable("revocation list", err)
	}
	if revoked {
		return middleware.Invalid(reasonRevoked)
	}
	return nil
}

// principal builds the principal of verified claims. ExpiresAt is exp plus
// the leeway, the last moment the token is accepted, so that the cache and
// the verifier agree.
func (v *tokenVerifier) principal(c *Claims) middleware.Principal {
	p := middleware.Principal{
		Subject:   c.Subject,
		Kind:      Kind,
		Roles:     c.Roles,
		ExpiresAt: c.ExpiresAt.Add(v.leeway),
	}
	if c.LoginID != "" {
		p.Attributes = map[string]string{AttrTokenID: c.ID, AttrLoginID: c.LoginID}
	} else {
		p.Attributes = map[string]string{AttrTokenID: c.ID}
	}
	if c.Scope != "" {
		p.Scopes = strings.Fields(c.Scope)
	}
	return p
}

// refOf returns what the revocation list needs to know of a token.
func refOf(c *Claims) TokenRef {
	return TokenRef{ID: c.ID, Login: c.LoginID, Subject: c.Subject, IssuedAt: c.IssuedAt.Time}
}

// hasTwoDots is the bearer extractor's syntax check: as cheap as possible,
// since it runs on every request, cached or not. Everything else about the
// token is checked by the Verifier on a cache miss, and only a token that
// passed it is ever cached.
func hasTwoDots(token string) bool { return strings.Count(token, ".") == 2 }
