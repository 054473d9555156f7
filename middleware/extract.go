package middleware

import (
	"encoding/base64"
	"errors"
	"math"
	"net/http"
	"net/textproto"
	"strings"
	"unicode/utf8"
)

// DefaultMaxHeaderBytes bounds a credential header's value. A longer value is
// rejected as malformed before any parsing or decoding.
const DefaultMaxHeaderBytes = 8 << 10

// Extractor finds a credential of one kind in a request. It answers one of
// three things:
//   - the credential, with a nil error;
//   - ErrNoCredential, when the request carries no credential of this kind
//     (returning it unwrapped is cheapest; Missing() or a wrapped
//     ErrNoCredential are read the same way);
//   - an *Error of kind ErrMalformed, when a credential of this kind is
//     present but unreadable, oversized or doubled.
//
// Extractors must be cheap and must not block: they run on every request,
// before any cache lookup; so must the Is and As methods of the errors
// they return, which the middleware calls to read them. Any other error
// (one of no tidegate kind, or holding a nil *Error) is a bug, answered
// with the generic 500.
type Extractor interface {
	Extract(r *http.Request) (Credential, error)
}

// ExtractorFunc adapts a function to the Extractor interface.
type ExtractorFunc func(r *http.Request) (Credential, error)

// Extract calls f(r).
func (f ExtractorFunc) Extract(r *http.Request) (Credential, error) { return f(r) }

// ExtractorOption configures the extractors built by this package.
type ExtractorOption func(*extractorConfig) error

type extractorConfig struct {
	maxBytes  int
	syntax    func(string) bool
	syntaxSet bool // by WithTokenSyntax, which NewBasicExtractor refuses
}

// WithMaxHeaderBytes sets the largest header value the extractor accepts
// (default DefaultMaxHeaderBytes). It must be positive.
func WithMaxHeaderBytes(n int) ExtractorOption {
	return func(c *extractorConfig) error {
		if n <= 0 {
			return errors.New("tidegate: max header bytes must be positive")
		}
		c.maxBytes = n
		return nil
	}
}

// WithTokenSyntax replaces the token syntax check of NewHeaderExtractor and
// NewAuthorizationExtractor (default IsToken68). The check runs after the
// size limit and before any Verifier call; a token it refuses is malformed.
// NewBasicExtractor refuses it: Basic credentials follow RFC 7617's syntax,
// and a check it accepted but never ran would let through what it refuses.
func WithTokenSyntax(valid func(token string) bool) ExtractorOption {
	return func(c *extractorConfig) error {
		if valid == nil {
			return errors.New("tidegate: token syntax check must not be nil")
		}
		c.syntax, c.syntaxSet = valid, true
		return nil
	}
}

func newExtractorConfig(opts []ExtractorOption) (extractorConfig, error) {
	c := extractorConfig{maxBytes: DefaultMaxHeaderBytes, syntax: IsToken68}
	for _, opt := range opts {
		if opt == nil {
			return c, errors.New("tidegate: nil extractor option")
		}
		if err := opt(&c); err != nil {
			return c, err
		}
	}
	return c, nil
}

// HeaderValue returns the one value of the header name, which must be given
// in canonical form (as http.CanonicalHeaderKey returns it; net/http
// canonicalises every incoming header name, so "x-tidepool-session-token"
// arrives as "X-Tidepool-Session-Token").
//
// It returns ErrNoCredential when the header is absent, and a malformed
// *Error when any value is longer than maxBytes, when the header appears
// twice with different values, or when the value is empty. Repeated identical
// values (as some proxies produce) count as one.
//
// A value that starts or ends with a space or a tab is malformed too.
// HTTP/1.1 parsers strip that whitespace (RFC 9110 §5.5), so it only
// reaches a handler over HTTP/2, where such a field value makes the
// request malformed (RFC 9113 §8.2.1). Read as a value, " Basic x" named
// no scheme, and Optional let the request through as anonymous.
func HeaderValue(h http.Header, name string, maxBytes int) (string, error) {
	values := h[name]
	if len(values) == 0 {
		return "", ErrNoCredential
	}
	v := values[0]
	for _, other := range values {
		if len(other) > maxBytes {
			return "", Malformed("oversized")
		}
		if other != v {
			return "", Malformed("duplicate")
		}
	}
	if v == "" {
		return "", Malformed("empty")
	}
	if hasOuterOWS(v) {
		return "", Malformed("spacing")
	}
	return v, nil
}

// NamesScheme reports whether the Authorization value v is of the given
// scheme, well or badly spaced: it starts with the scheme word
// (case-insensitively, RFC 7235 §2.1) followed by its end or anything but a
// token character ("Basic x", "basic", "Basic\tx", "Basic,x"; not
// "Basicx"). It is the rule every Authorization extractor reads a header
// by, for code that must tell "this scheme, malformed" from "another
// scheme" on its own (as basicauth does to refuse Basic over plain HTTP).
func NamesScheme(v, scheme string) bool {
	n := len(scheme)
	return len(v) >= n && strings.EqualFold(v[:n], scheme) && (len(v) == n || !tchar[v[n]])
}

// hasOuterOWS reports whether v starts or ends with a space or a tab.
func hasOuterOWS(v string) bool {
	return v != "" && (isOWS(v[0]) || isOWS(v[len(v)-1]))
}

func isOWS(b byte) bool { return b == ' ' || b == '\t' }

// AuthorizationCredentials returns what follows the auth-scheme word in the
// Authorization header (RFC 7235 §2.1), for the given scheme.
//
// The scheme word matches case-insensitively and must be followed by exactly
// one space and a non-empty rest: the strict spelling Tapglue asks of Basic.
// (NewAuthorizationExtractor lets any number of spaces follow, as RFC 7235
// §2.1 allows.) An Authorization header for another scheme
// (including a longer scheme word, such as "Bearerish") is ErrNoCredential,
// whatever its length; the header doubled with different values, this
// scheme's header over maxBytes, or this scheme with nothing, more than one
// space, or anything but a space after it is malformed.
func AuthorizationCredentials(h http.Header, scheme string, maxBytes int) (string, error) {
	return authorizationCredentials(h, scheme, maxBytes, false)
}

// maxExtraSpaces is how many spaces beyond the first may follow the scheme
// word where 1*SP is allowed. The bound on a header counts a credential as
// spelled with one space, so that every spelling of one credential is
// accepted or refused alike; the raw value may be longer by this much.
const maxExtraSpaces = 256

// authorizationCredentials is AuthorizationCredentials, letting up to
// 1+maxExtraSpaces spaces follow the scheme word when spaces is set (RFC
// 7235 §2.1 and RFC 6750 §2.1: "Bearer" 1*SP b64token).
func authorizationCredentials(h http.Header, scheme string, maxBytes int, spaces bool) (string, error) {
	limit := maxBytes
	if spaces {
		limit = boundWithSpaces(maxBytes)
	}
	v, err := HeaderValue(h, "Authorization", limit)
	if err != nil {
		// The size bound and the spacing rule are this scheme's: an
		// Authorization header of another scheme is not this extractor's
		// to judge. Without this, under Any the Basic extractor (1 KiB)
		// answered 400 to every Bearer JWT over 1 KiB that the bearer
		// extractor had accepted (examples/server/adversarial,
		// TestHeaderParsing "authorization/Bearer token of 8 KiB is
		// read"). Checked on the error path only, so the hot path is
		// unchanged.
		if otherScheme(h["Authorization"], scheme) {
			return "", ErrNoCredential
		}
		return "", err
	}
	n := len(scheme)
	if len(v) < n || !strings.EqualFold(v[:n], scheme) {
		return "", ErrNoCredential
	}
	if len(v) == n {
		return "", Malformed("empty")
	}
	if v[n] != ' ' {
		if tchar[v[n]] {
			return "", ErrNoCredential // a longer scheme word, such as "Bearerish"
		}
		// Anything else after the scheme word ("Bearer\tx", "Basic,x") is
		// this scheme badly spaced. Reading it as another scheme let
		// Optional pass the request as anonymous instead of rejecting it.
		return "", Malformed("spacing")
	}
	rest, reason := credentialAfter(v, n, maxBytes, spaces)
	if reason != "" {
		return "", Malformed(reason)
	}
	return rest, nil
}

// credentialAfter returns the credential of v, an Authorization value
// whose first n bytes are the scheme word and whose next is a space: what
// follows that space (and, when spaces is set, up to maxExtraSpaces more).
// Otherwise it returns the reason v is malformed: "spacing", or "oversized"
// for a credential over maxBytes as spelled with one space. Extract and
// Peek both read the credential through it, so that they agree.
func credentialAfter(v string, n, maxBytes int, spaces bool) (rest, reason string) {
	rest = v[n+1:]
	if spaces {
		rest = strings.TrimLeft(rest, " ")
	}
	switch {
	case rest == "" || rest[0] == ' ' || len(v)-len(rest)-n > 1+maxExtraSpaces:
		return "", "spacing"
	case n+1+len(rest) > maxBytes:
		return "", "oversized"
	}
	return rest, ""
}

// boundWithSpaces is maxBytes+maxExtraSpaces, saturating at math.MaxInt.
func boundWithSpaces(maxBytes int) int {
	if maxBytes > math.MaxInt-maxExtraSpaces {
		return math.MaxInt
	}
	return maxBytes + maxExtraSpaces
}

// otherScheme reports whether values, the Authorization header HeaderValue
// has just refused, is one value (or the same value repeated) whose
// auth-scheme word, once spaces and tabs around the value are trimmed, is
// not scheme. Such a header is refused for its size or its spacing, and
// both are for the scheme it names to judge: this extractor reports no
// credential, so that under Any the answer does not depend on which scheme
// is listed first (a Basic header over plain HTTP is 403 whatever comes
// before the Basic scheme). Every other refusal stands: an empty or
// all-blank header is malformed for every scheme, different values are a
// duplicate, and this scheme's own header is malformed.
func otherScheme(values []string, scheme string) bool {
	if len(values) == 0 {
		return false
	}
	v := values[0]
	for _, other := range values[1:] {
		if other != v {
			return false
		}
	}
	trimmed := strings.Trim(v, " \t")
	return trimmed != "" && !NamesScheme(trimmed, scheme)
}

// IsToken68 reports whether s is a non-empty token68 (RFC 7235 §2.1): ASCII
// letters, digits and "-._~+/", optionally followed by '=' padding.
//
// It runs on every request, cached or not, over tokens of hundreds of bytes
// (a JWT), so the body is checked without a branch per byte: the table
// lookups are OR-ed together and tested once.
func IsToken68(s string) bool {
	n := len(s)
	for n > 0 && s[n-1] == '=' {
		n--
	}
	if n == 0 {
		return false
	}
	var bad byte
	for _, c := range []byte(s[:n]) {
		bad |= notToken68[c]
	}
	return bad == 0
}

// notToken68 is 1 for every byte that may not appear before a token68's
// padding.
var notToken68 = func() (t [256]byte) {
	for c := range t {
		if !token68[c] {
			t[c] = 1
		}
	}
	return t
}()

var token68 = func() (t [256]bool) {
	for c := 'a'; c <= 'z'; c++ {
		t[c] = true
	}
	for c := 'A'; c <= 'Z'; c++ {
		t[c] = true
	}
	for c := '0'; c <= '9'; c++ {
		t[c] = true
	}
	for _, c := range "-._~+/" {
		t[c] = true
	}
	return t
}()

// NewHeaderExtractor returns an Extractor for a credential carried alone in
// its own header, such as x-tidepool-session-token. The header name may be
// given in any case: it is looked up under its canonical spelling, which is
// how net/http stores every header it receives (and Header.Set and Add
// write); a value put straight into the map under another spelling is not
// found. The value must pass the token syntax check
// (IsToken68 unless WithTokenSyntax says otherwise).
func NewHeaderExtractor(kind Kind, header string, opts ...ExtractorOption) (Extractor, error) {
	if kind == "" {
		return nil, errors.New("tidegate: extractor kind must not be empty")
	}
	if !validHeaderName(header) {
		return nil, errors.New("tidegate: invalid header name " + quoteForError(header))
	}
	cfg, err := newExtractorConfig(opts)
	if err != nil {
		return nil, err
	}
	return &headerExtractor{kind: kind, name: textproto.CanonicalMIMEHeaderKey(header), cfg: cfg}, nil
}

// headerExtractor finds a credential alone in its own header. A concrete
// type rather than a closure: the extractor runs on every request.
type headerExtractor struct {
	kind Kind
	name string
	cfg  extractorConfig
}

// Extract implements Extractor.
func (x *headerExtractor) Extract(r *http.Request) (Credential, error) {
	v, err := HeaderValue(r.Header, x.name, x.cfg.maxBytes)
	if err != nil {
		return Credential{}, err
	}
	if !x.cfg.syntax(v) {
		return Credential{}, Malformed("syntax")
	}
	return Credential{Kind: x.kind, Token: v}, nil
}

// NewAuthorizationExtractor returns an Extractor for "Authorization: <scheme>
// <token>", such as Bearer (RFC 6750 §2.1). One or more spaces may follow
// the scheme word, as RFC 7235 §2.1 and RFC 6750 §2.1 allow (1*SP), but no
// other whitespace. The token must pass the token syntax check (IsToken68
// unless WithTokenSyntax says otherwise).
func NewAuthorizationExtractor(kind Kind, scheme string, opts ...ExtractorOption) (Extractor, error) {
	if kind == "" {
		return nil, errors.New("tidegate: extractor kind must not be empty")
	}
	if !validToken(scheme) {
		return nil, errors.New("tidegate: invalid auth-scheme " + quoteForError(scheme))
	}
	cfg, err := newExtractorConfig(opts)
	if err != nil {
		return nil, err
	}
	return &authorizationExtractor{kind: kind, scheme: scheme, cfg: cfg}, nil
}

// authorizationExtractor finds "Authorization: <scheme> <token>".
type authorizationExtractor struct {
	kind   Kind
	scheme string
	cfg    extractorConfig
}

// Extract implements Extractor.
func (x *authorizationExtractor) Extract(r *http.Request) (Credential, error) {
	v, err := authorizationCredentials(r.Header, x.scheme, x.cfg.maxBytes, true)
	if err != nil {
		return Credential{}, err
	}
	if !x.cfg.syntax(v) {
		return Credential{}, Malformed("syntax")
	}
	return Credential{Kind: x.kind, Token: v}, nil
}

// NewBasicExtractor returns an Extractor for HTTP Basic credentials (RFC
// 7617), parsed strictly by ParseBasic. Token is the user-id part and Secret
// the password part; an empty password is allowed here and left to the
// Verifier to judge.
func NewBasicExtractor(kind Kind, opts ...ExtractorOption) (Extractor, error) {
	if kind == "" {
		return nil, errors.New("tidegate: extractor kind must not be empty")
	}
	cfg, err := newExtractorConfig(opts)
	if err != nil {
		return nil, err
	}
	if cfg.syntaxSet {
		return nil, errors.New("tidegate: WithTokenSyntax does not apply to Basic credentials; check the user-id in the Verifier")
	}
	return &basicExtractor{kind: kind, cfg: cfg}, nil
}

// basicExtractor finds HTTP Basic credentials.
type basicExtractor struct {
	kind Kind
	cfg  extractorConfig
}

// Extract implements Extractor.
func (x *basicExtractor) Extract(r *http.Request) (Credential, error) {
	v, err := AuthorizationCredentials(r.Header, "Basic", x.cfg.maxBytes)
	if err != nil {
		return Credential{}, err
	}
	decoded, colon, err := decodeBasic(v)
	if err != nil {
		return Credential{}, err
	}
	return newBasicCredential(x.kind, v, decoded, colon), nil
}

// ParseBasic parses the Authorization header of a request as HTTP Basic
// credentials (RFC 7617) and returns the user-id and password.
//
// Parsing is strict: the header must appear once (or repeated identically),
// be at most maxBytes long, use the scheme word "Basic" (any case) followed
// by exactly one space and standard, padded, canonical base64. The decoded
// value must be valid UTF-8, contain a colon (it is split at the first one),
// have a non-empty user-id, and no control characters in either part.
// It returns ErrNoCredential when there is no Basic Authorization header.
func ParseBasic(h http.Header, maxBytes int) (user, password string, err error) {
	v, err := AuthorizationCredentials(h, "Basic", maxBytes)
	if err != nil {
		return "", "", err
	}
	decoded, colon, err := decodeBasic(v)
	if err != nil {
		return "", "", err
	}
	return decoded[:colon], decoded[colon+1:], nil
}

// basicEncoding is standard base64 with padding that also refuses
// non-canonical encodings (non-zero trailing bits), so each credential has
// exactly one accepted spelling.
var basicEncoding = base64.StdEncoding.Strict()

// decodeBasic decodes a token68 of Basic credentials and returns the decoded
// string and the index of its first colon. It makes one allocation, the
// decoded string itself, by decoding into a stack buffer when it fits.
func decodeBasic(token string) (string, int, error) {
	// encoding/base64 skips CR and LF anywhere in its input, even in Strict
	// mode, so "YWxp\r\n\r\nY2U6cHc=" decoded as "alice:pw": refuse them so
	// that each credential really has one accepted spelling.
	if len(token)%4 != 0 || strings.IndexByte(token, '\r') >= 0 || strings.IndexByte(token, '\n') >= 0 {
		return "", 0, Malformed("base64")
	}
	var stack [256]byte
	buf := stack[:]
	if n := basicEncoding.DecodedLen(len(token)); n > len(stack) {
		buf = make([]byte, n)
	}
	n, err := basicEncoding.Decode(buf, []byte(token))
	if err != nil {
		return "", 0, Malformed("base64")
	}
	raw := buf[:n]
	colon := -1
	for i, c := range raw {
		if c < 0x20 || c == 0x7f {
			return "", 0, Malformed("control")
		}
		if c == ':' && colon < 0 {
			colon = i
		}
	}
	switch {
	case colon < 0:
		return "", 0, Malformed("colon")
	case colon == 0:
		return "", 0, Malformed("empty user")
	case !utf8.Valid(raw):
		return "", 0, Malformed("utf8")
	}
	return string(raw), colon, nil
}

// validToken reports whether s is an RFC 9110 token (tchar+).
func validToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !tchar[s[i]] {
			return false
		}
	}
	return true
}

func validHeaderName(s string) bool { return validToken(s) }

var tchar = func() (t [256]bool) {
	for c := range 128 {
		t[c] = token68[c] && c != '/' && c != '='
	}
	for _, c := range "!#$%&'*^`|" {
		t[c] = true
	}
	return t
}()

// quoteForError quotes a configuration value for an error message, bounded
// so that a huge value cannot flood a log. Only configuration values (never
// request data) pass through here.
func quoteForError(s string) string {
	if len(s) > 64 {
		s = s[:64] + "..."
	}
	return `"` + strings.ToValidUTF8(s, "?") + `"`
}
