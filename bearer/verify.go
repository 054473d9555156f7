package bearer

import (
	"context"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
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

// Reasons of verification failures, for logs and metrics. They are never
// sent: every failure gets the same 401 body.
const (
	reasonOversized  = "oversized"
	reasonMalformed  = "malformed"   // golang-jwt could not decode it (base64url, JSON), or a repeated member
	reasonCrit       = "crit"        // a critical extension (RFC 7515 §4.1.11)
	reasonKeyParam   = "key param"   // jku, jwk, x5u, x5c, x5t: a key named by the token
	reasonTyp        = "typ"         // not an access token (RFC 9068 §4)
	reasonHeader     = "header"      // no kid, or not a string
	reasonUnknownKey = "unknown key" // no configured key has the kid
	reasonAlg        = "algorithm"   // alg is not the key's, or not one the verifier accepts
	reasonSignature  = "signature"
	reasonClaims     = "claims" // a required claim is missing, or a claim has the wrong type
	reasonExpired    = "expired"
	reasonNotYet     = "not yet valid"
	reasonIssuer     = "issuer"
	reasonAudience   = "audience"
	reasonRevoked    = "revoked"
)

// jwksMethods are the algorithms a JWKSVerifier accepts: those of the keys
// decodeJWKS reads. HS256 secrets are never published, so never accepted
// from a document.
var jwksMethods = []string{EdDSA, ES256}

// keySource finds the key a token's kid names in keys it fetches (see
// JWKSVerifier). It returns an *Error: 401 for an unknown kid, 503 when the
// keys could not be fetched.
type keySource interface {
	key(ctx context.Context, kid string) (*Key, error)
}

// parseMode says what a token is parsed for, and so which of its time
// claims are judged (see tokenVerifier.parse).
type parseMode uint8

const (
	forAccess  parseMode = iota // every claim
	forRefresh                  // every claim but exp
	forLogout                   // no time claim
)

// tokenVerifier checks access tokens with golang-jwt's parser, or, for the
// tokens tidegate mints with a fixed key, with mintedHeaders, which decides
// them as the parser would. It is the Verifier of the bearer scheme (behind
// a middleware.Cache) and of NewJWKSVerifier.
type tokenVerifier struct {
	keys    *KeySet   // fixed keys, or nil
	fetched keySource // when keys is nil
	methods []string  // jwt.WithValidMethods of both parsers

	// access applies every rule; refresh every rule but expiry (see
	// refreshClaims), or with logoutClaims no time rule. Both are built
	// once.
	access  *jwt.Parser
	refresh *jwt.Parser
	// keyfunc is the Keyfunc of fixed keys, built once; nil with fetched
	// keys, whose Keyfunc needs the request's context.
	keyfunc jwt.Keyfunc
	// minted verifies access tokens whose header is one tidegate mints for
	// a fixed key, without decoding it; nil with fetched keys.
	minted *mintedHeaders

	leeway      time.Duration
	maxBytes    int
	revocations RevocationList // nil: no revocation list
}

// newTokenVerifier returns the access-token verifier of a configuration,
// with either fixed keys or fetched ones.
func newTokenVerifier(c *common, keys *KeySet, fetched keySource) *tokenVerifier {
	v := &tokenVerifier{
		keys:        keys,
		fetched:     fetched,
		methods:     jwksMethods,
		leeway:      c.leeway,
		maxBytes:    c.maxTokenBytes,
		revocations: c.revocations,
	}
	if keys != nil {
		v.methods = keys.algorithms()
		v.keyfunc = func(t *jwt.Token) (any, error) { return v.pick(context.Background(), t) }
	}
	accessOptions := append(v.parserOptions(c), jwt.WithExpirationRequired())
	v.access = jwt.NewParser(accessOptions...)
	v.refresh = jwt.NewParser(v.parserOptions(c)...)
	if keys != nil {
		v.minted = newMintedHeaders(keys, accessOptions)
	}
	return v
}

// parserOptions are the options both parsers share: the algorithm is one of
// the keys' (and then pinned per key by pick), base64url is strict (no
// padding, no non-canonical trailing bits: one spelling per token, RFC 7515
// §2, but for the twin every ECDSA signature has: see TestES256SignatureTwin),
// iss and aud must match, iat and nbf must not be in the future, all
// within the leeway, on the configured clock. (logoutClaims shows the
// parser no iat or nbf, so a logout judges neither.)
func (v *tokenVerifier) parserOptions(c *common) []jwt.ParserOption {
	return []jwt.ParserOption{
		jwt.WithValidMethods(v.methods),
		jwt.WithStrictDecoding(),
		jwt.WithIssuer(c.issuer),
		jwt.WithAudience(c.audience),
		jwt.WithIssuedAt(),
		jwt.WithLeeway(c.leeway),
		jwt.WithTimeFunc(c.now),
	}
}

// Verify implements middleware.Verifier.
func (v *tokenVerifier) Verify(ctx context.Context, cred middleware.Credential) (middleware.Principal, error) {
	var c Claims
	if err := v.parse(ctx, cred.Token, &c, forAccess); err != nil {
		return middleware.Principal{}, err
	}
	if err := v.checkRevoked(ctx, &c); err != nil {
		return middleware.Principal{}, err
	}
	return v.principal(&c), nil
}

// parse verifies token and fills c. The size is bounded before anything
// else; a token with a minted header is then decided by mintedHeaders,
// signature first. Any other goes to golang-jwt (v5.3.1 parser.go,
// ParseWithClaims), which decodes the token, refuses an alg outside
// WithValidMethods, calls pick (the Keyfunc: the header rules and the key),
// verifies the signature with that key, and only then validates the
// claims. So a forged token is refused for its signature whatever its
// claims say; an expired one is never told apart by its expiry.
//
// The mode says which time claims are judged: all of them for an access
// token; all but exp for a refresh (see refreshClaims), none for a logout
// (see logoutClaims). The last two use the refresh parser, whose rules
// are otherwise the access parser's.
func (v *tokenVerifier) parse(ctx context.Context, token string, c *Claims, mode parseMode) error {
	if len(token) > v.maxBytes {
		return middleware.Invalid(reasonOversized)
	}
	if !isCompactJWS(token) {
		return middleware.Invalid(reasonMalformed)
	}
	if mode == forAccess && v.minted != nil {
		if handled, err := v.minted.verify(token, (*accessClaims)(c)); handled {
			if err != nil {
				return v.failure(nil, c, err)
			}
			return nil
		}
	}
	keyfunc := v.keyfunc
	if keyfunc == nil {
		keyfunc = func(t *jwt.Token) (any, error) { return v.pick(ctx, t) }
	}
	var (
		tok *jwt.Token
		err error
	)
	switch mode {
	case forRefresh:
		tok, err = v.refresh.ParseWithClaims(token, (*refreshClaims)(c), keyfunc)
	case forLogout:
		tok, err = v.refresh.ParseWithClaims(token, (*logoutClaims)(c), keyfunc)
	default:
		tok, err = v.access.ParseWithClaims(token, (*accessClaims)(c), keyfunc)
	}
	if err != nil {
		return v.failure(tok, c, err)
	}
	if !tok.Valid { // golang-jwt sets Valid exactly when err is nil
		return middleware.Invalid(reasonSignature)
	}
	return nil
}

// pick is the Keyfunc. golang-jwt calls it once the token is decoded and
// its alg is among WithValidMethods, and verifies the signature with the
// key it returns. It applies the header rules golang-jwt has no option for,
// cheapest first, before any key lookup, so that a token refused anyway
// never makes a JWKSVerifier fetch:
//
//   - crit is refused: tidegate understands no extension, and RFC 7515
//     §4.1.11 requires refusing a token whose critical extensions are not
//     understood;
//   - jku, jwk, x5u, x5c, x5t and x5t#S256 are refused: the key is chosen
//     by kid among configured keys only, never fetched or taken from the
//     token (RFC 8725 §3.10). Ignoring them would be as safe; refusing
//     them makes a token that expects them fail loudly;
//   - typ must be at+jwt (RFC 9068 §4; see validTyp);
//   - kid must name a configured key, and alg must be that key's
//     algorithm: the algorithm is pinned per key (RFC 8725 §3.1), so HS256
//     over a public key's bytes, or EdDSA under an HS256 kid, is refused
//     even though both algorithms are valid methods of the verifier.
//
// Header member names follow RFC 7515 §4 through encoding/json: unknown
// members are ignored. A header that repeats a member name is refused
// first, as that section allows (see headerNamesAreUnique); golang-jwt's
// map would hold only the last of them.
func (v *tokenVerifier) pick(ctx context.Context, t *jwt.Token) (any, error) {
	if !headerNamesAreUnique(t.Raw, t.Header) {
		return nil, middleware.Invalid(reasonMalformed)
	}
	if reason := checkHeader(t.Header); reason != "" {
		return nil, middleware.Invalid(reason)
	}
	kid, ok := t.Header["kid"].(string)
	if !ok {
		return nil, middleware.Invalid(reasonHeader)
	}
	key, err := v.lookup(ctx, kid)
	if err != nil {
		return nil, err
	}
	if t.Method.Alg() != key.alg {
		return nil, middleware.Invalid(reasonAlg)
	}
	return key.m.verification, nil
}

// keyParams are the JOSE header parameters that name or carry a key (RFC
// 7515 §4.1.2 to §4.1.8).
var keyParams = [...]string{"jku", "jwk", "x5u", "x5c", "x5t", "x5t#S256"}

// checkHeader returns why the header is refused, or "". See pick.
func checkHeader(h map[string]any) string {
	if _, ok := h["crit"]; ok {
		return reasonCrit
	}
	for _, name := range keyParams {
		if _, ok := h[name]; ok {
			return reasonKeyParam
		}
	}
	if typ, _ := h["typ"].(string); !validTyp(typ) {
		return reasonTyp
	}
	return ""
}

// validTyp accepts the access-token type of RFC 9068 §4, "at+jwt", with or
// without its "application/" prefix (RFC 7515 §4.1.9), in any case (media
// types are case-insensitive, RFC 2045 §5.1). Plain "JWT", an ID token's
// type, a missing typ or one that is not a string are refused, so that no
// other kind of JWT signed with the same key passes as an access token
// (RFC 8725 §3.11).
func validTyp(typ string) bool {
	return strings.EqualFold(typ, "at+jwt") || strings.EqualFold(typ, "application/at+jwt")
}

// lookup finds the key of kid.
func (v *tokenVerifier) lookup(ctx context.Context, kid string) (*Key, error) {
	if v.keys == nil {
		return v.fetched.key(ctx, kid)
	}
	if k, ok := v.keys.byID[kid]; ok {
		return k, nil
	}
	return nil, middleware.Invalid(reasonUnknownKey)
}

// failure turns a parse error into the verifier's error. A refusal of pick
// comes back as is (golang-jwt wraps it), so that a key source that could
// not answer stays a 503; golang-jwt's own errors are 401s, with a reason
// for the log. c holds the claims the token was decoded into, whose
// subject a refusal for the claims names (see verifiedSubject).
func (v *tokenVerifier) failure(tok *jwt.Token, c *Claims, err error) error {
	if e, ok := errors.AsType[*middleware.Error](err); ok {
		return e
	}
	reason := v.reasonOf(tok, err)
	e := middleware.Invalid(reason)
	// A token that is not valid yet (nbf or iat ahead, RFC 7519 §4.1.5-6)
	// may be soon: its refusal is not remembered by the cache.
	e.Transient = reason == reasonNotYet
	e.Subject = verifiedSubject(c, err)
	return e
}

// verifiedSubject returns the sub of c, the claims of a token refused for
// them (expired, not valid yet, another issuer or audience), for the log.
// Both ways of parsing check the claims only once the signature has
// verified, and only then report jwt.ErrTokenInvalidClaims (golang-jwt's
// parser, and mintedHeaders.verify), so the subject is the one our key
// signed. Any other refusal may be a forgery: "".
func verifiedSubject(c *Claims, err error) string {
	if c == nil || !errors.Is(err, jwt.ErrTokenInvalidClaims) {
		return ""
	}
	return c.Subject
}

// reasonOf names golang-jwt's error. Claim errors come joined (a token may
// be both expired and of another issuer); the first that applies names it.
func (v *tokenVerifier) reasonOf(tok *jwt.Token, err error) string {
	switch {
	case errors.Is(err, jwt.ErrTokenMalformed):
		return reasonMalformed
	case errors.Is(err, jwt.ErrTokenUnverifiable):
		// alg missing, not a string, or no algorithm of golang-jwt's
		// ("None", "hs256"); pick's own refusals were handled by failure.
		return reasonAlg
	case errors.Is(err, jwt.ErrTokenSignatureInvalid):
		// golang-jwt reports an alg outside WithValidMethods ("none") as
		// a signature error.
		if tok != nil && tok.Method != nil && !slices.Contains(v.methods, tok.Method.Alg()) {
			return reasonAlg
		}
		return reasonSignature
	case errors.Is(err, jwt.ErrTokenExpired):
		return reasonExpired
	case errors.Is(err, jwt.ErrTokenUsedBeforeIssued), errors.Is(err, jwt.ErrTokenNotValidYet):
		return reasonNotYet
	case errors.Is(err, jwt.ErrTokenInvalidIssuer):
		return reasonIssuer
	case errors.Is(err, jwt.ErrTokenInvalidAudience):
		return reasonAudience
	}
	return reasonClaims
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
		// Verified: revocation is checked after the signature.
		return middleware.Invalid(reasonRevoked).WithSubject(c.Subject)
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

// isCompactJWS reports whether token has the syntax of a JWS compact
// serialization: three segments of the base64url alphabet, without padding,
// joined by two dots (RFC 7515 §3.1, §7.1, and §2, which rules out line
// breaks, whitespace and any other character). parse checks it before
// anything else. golang-jwt's strict decoding alone is not enough: Go's
// base64 decoders skip CR and LF even in strict mode, so a token with a
// line break inside would otherwise verify when a Verifier is called
// directly (the extractor never lets one through).
func isCompactJWS(token string) bool {
	dots := 0
	var bad byte
	for _, c := range []byte(token) {
		if c == '.' {
			dots++
			continue
		}
		bad |= notBase64URL[c]
	}
	return dots == 2 && bad == 0
}

// notBase64URL is 1 for every byte outside the base64url alphabet (RFC 4648 §5).
var notBase64URL = func() (t [256]byte) {
	for c := range t {
		switch {
		case c >= 'A' && c <= 'Z', c >= 'a' && c <= 'z', c >= '0' && c <= '9', c == '-', c == '_':
		default:
			t[c] = 1
		}
	}
	return t
}()
