package bearer

import (
	"encoding/base64"
	"fmt"
	"strings"

	"github.com/golang-jwt/jwt/v5"
	"github.com/tidegate/tidegate/middleware"
)

// newAccessToken returns the unsigned access token of claims under key:
// the one header shape tidegate mints, {"alg":…,"kid":…,"typ":"at+jwt"}.
func newAccessToken(key *Key, claims jwt.Claims) *jwt.Token {
	t := jwt.NewWithClaims(key.method, claims)
	t.Header["typ"] = typAccessToken
	t.Header["kid"] = key.id
	return t
}

// mintedHeaders verifies, without decoding their header, the access tokens
// whose header segment is byte for byte one tidegate mints for a key of the
// set. That is nearly every token a verifier sees, and golang-jwt decodes
// every header into a map through encoding/json.
//
// Such a header has exactly the members alg, kid and typ="at+jwt", each
// once, alg being the key's own: every rule pick applies to a header holds
// for it by construction. What remains is what ParseWithClaims does after
// the header, done here with equivalent code: the signature is verified
// over the same signing input by Key.verify (the key's golang-jwt
// SigningMethod, or for HS256 the same computation with a pooled HMAC
// state); the claims, when they are in the form decodeMintedClaims reads,
// are decoded into what encoding/json would give, and checked by a
// jwt.Validator built from the parser's own options. Any other header
// (another spelling, whitespace, more members), and any claims in another
// form, go to the full parser, so this only ever decides tokens the parser
// would accept or refuse alike. FuzzMintedHeaders checks that on the tokens
// it generates (HS256 and EdDSA).
//
// Only access tokens of a fixed KeySet take this path: refresh and logout
// (which accept an expired token) and NewJWKSVerifier always use the
// parser.
//
// One order differs: the signature is checked before the claims are
// decoded, so a forged token is refused without JSON work; the parser
// decodes them first. Both refuse the same tokens; only the reason logged
// may differ, for a token that is both forged and undecodable, or whose
// over-long signature is not base64url either.
//
// The caller, tokenVerifier.parse, has checked the token's syntax
// (isCompactJWS): three base64url segments, so no line break that Go's
// base64 decoders would skip can reach the signature check.
//
// The signature is checked with the key's own method (Key.verify). A
// program that replaces golang-jwt's HS256, EdDSA or ES256 through
// jwt.RegisterSigningMethod changes what the parser calls, not this.
type mintedHeaders struct {
	keys      map[string]*Key // by encoded header segment
	validator *jwt.Validator
}

// newMintedHeaders returns the fast path of a key set, validating claims as
// the access parser built from opts does.
func newMintedHeaders(keys *KeySet, opts []jwt.ParserOption) *mintedHeaders {
	m := &mintedHeaders{keys: make(map[string]*Key, len(keys.byID)), validator: jwt.NewValidator(opts...)}
	for _, key := range keys.byID {
		// NewKeySet takes only keys with a method. Encoding a map of three
		// strings cannot fail; a key whose header could not be encoded
		// would simply have no fast path.
		if input, err := newAccessToken(key, nil).SigningString(); err == nil {
			header, _, _ := strings.Cut(input, ".")
			m.keys[header] = key
		}
	}
	return m
}

// maxSignatureBytes bounds a decoded signature: 32 bytes for HS256, 64 for
// EdDSA and ES256. A longer one is no signature of a configured key.
// maxSignatureChars is the longest encoding of one.
const (
	maxSignatureBytes = 64
	maxSignatureChars = 86 // base64.RawURLEncoding.EncodedLen(64)
)

// verify checks token into c. handled is false when the token's header is
// not a minted one: the caller then runs the full parser, and err is nil.
func (m *mintedHeaders) verify(token string, c *accessClaims) (handled bool, err error) {
	header, rest, _ := strings.Cut(token, ".")
	key, ok := m.keys[header]
	if !ok {
		return false, nil
	}
	payload, signature, ok := strings.Cut(rest, ".")
	if !ok || strings.IndexByte(signature, '.') >= 0 {
		return true, middleware.Invalid(reasonMalformed)
	}
	if len(signature) > maxSignatureChars {
		return true, middleware.Invalid(reasonSignature)
	}
	// Copied into an array: a []byte conversion of this length allocates.
	var encoded [maxSignatureChars]byte
	var sig [maxSignatureBytes]byte
	n, err := base64.RawURLEncoding.Strict().Decode(sig[:], encoded[:copy(encoded[:], signature)])
	if err != nil {
		return true, middleware.Invalid(reasonMalformed)
	}
	if !key.verify(token[:len(header)+1+len(payload)], sig[:n]) {
		return true, middleware.Invalid(reasonSignature)
	}
	claims, err := base64.RawURLEncoding.Strict().DecodeString(payload)
	if err != nil {
		return true, middleware.Invalid(reasonMalformed)
	}
	if !decodeMintedClaims(string(claims), (*Claims)(c)) {
		// Claims in a form tidegate does not mint, under its key: rare
		// enough to leave them, decoding and all, to golang-jwt, whose
		// decoder is then the only one that ever judges such claims.
		*c = accessClaims{}
		return false, nil
	}
	if err := m.validator.Validate(c); err != nil {
		// Wrapped as ParseWithClaims wraps it.
		return true, fmt.Errorf("%w: %w", jwt.ErrTokenInvalidClaims, err)
	}
	return true, nil
}
