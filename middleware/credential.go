package middleware

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"strings"
)

// Kind names a credential kind, such as "session", "bearer" or "basic". The
// scheme packages define their own constants; the core treats kinds as
// opaque labels.
type Kind string

// Credential is a credential as it was found in a request, after its
// extractor checked the syntax. Token is the main secret (a session token, a
// JWT, or the user-id half of HTTP Basic); Secret is the second half where
// the kind has two parts (the password half of HTTP Basic) and is empty
// otherwise.
//
// A Credential never prints its secrets: String, GoString, Format (every fmt
// verb) and LogValue show the kind and a short fingerprint only. (fmt cannot
// call these methods on a Credential held in an unexported struct field;
// do not print such structs.)
type Credential struct {
	Kind   Kind
	Token  string
	Secret string

	// A credential read by the Basic extractor is cached under the token68
	// it arrived as (key, form basicKey), so that a cached one is found
	// without decoding it (see Peeker). decoded is "Token:Secret" as
	// decoded from key; it lets cacheKey notice a changed part.
	key     string
	form    keyForm
	decoded string
}

// keyForm tells the spaces of cache keys apart. A cache entry holds the
// form of its key and a lookup compares it, as it compares the kind, so a
// key of one form never finds an entry of another.
type keyForm uint8

const (
	// tokenKey is the Token as it stands, for a credential without a
	// Secret (session tokens, JWTs, API keys). It is the zero form, the
	// one a Peek of a token header finds: the header value is the key, so
	// a hit needs no scan of the token (a ':' in it would otherwise have
	// to be looked for, in every byte of a JWT, on every request).
	tokenKey keyForm = iota
	// partsKey is encodeKey(Token, Secret), for a credential with a Secret.
	partsKey
	// basicKey is the Basic token68 as sent. The Basic extractor accepts
	// exactly one spelling of each (Token, Secret) (canonical, padded
	// base64; no line breaks), so the token68 is as unambiguous a key as
	// the parts.
	basicKey
)

// String describes the credential without revealing it.
func (c Credential) String() string {
	return string(c.Kind) + " credential " + c.Fingerprint()
}

// GoString describes the credential without revealing it, so that %#v is as
// safe as %v.
func (c Credential) GoString() string { return c.String() }

// Format implements fmt.Formatter so that every verb prints String. Without
// it, verbs that fmt does not route to String (%d, %t, %o, ...) print the
// struct field by field, secrets included ("%!d(string=<token>)").
func (c Credential) Format(f fmt.State, verb rune) { _, _ = io.WriteString(f, c.String()) }

// MarshalJSON encodes the credential as its description, so that a
// Credential serialised by accident (in a log record, an error report, a
// debug endpoint) never carries its secrets.
func (c Credential) MarshalJSON() ([]byte, error) {
	return []byte(strconv.Quote(c.String())), nil
}

// LogValue implements slog.LogValuer: a logged credential shows its kind and
// fingerprint, never its parts.
func (c Credential) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("kind", string(c.Kind)),
		slog.String("fp", c.Fingerprint()),
	)
}

// Fingerprint returns the first 8 hex characters of an HMAC-SHA-256 of the
// credential's parts (encoded by encodeKey) under a random key of this
// process: enough to correlate the log lines of one process, far too
// little to recover or replay the credential. It is the same for a
// credential however it was read, within one process; another process (a
// restart, another replica) gives another.
//
// The key is what keeps a low-entropy secret out of the logs: a plain
// SHA-256 of "user:password" let whoever read one log line test a password
// dictionary offline, 32 bits being more than enough to single out the
// right password among millions (OWASP ASVS V7.1.1: no credentials in logs).
func (c Credential) Fingerprint() string {
	token, secret := c.Token, c.Secret
	if c.form == basicKey && c.decoded == "" && token == "" && secret == "" {
		// A cache hit's credential holds only its token68 (see
		// Peek.credential); decode it, as only a log line needs this.
		if d, colon, err := decodeBasic(c.key); err == nil {
			token, secret = d[:colon], d[colon+1:]
		}
	}
	return fingerprint(&fingerprintKey, token, secret)
}

// fingerprintKey keys every Fingerprint of this process.
var fingerprintKey = func() (key [32]byte) {
	_, _ = rand.Read(key[:]) // crypto/rand.Read never fails (Go 1.24+)
	return key
}()

// fingerprint is Fingerprint of the parts token and secret under key.
func fingerprint(key *[32]byte, token, secret string) string {
	mac := hmac.New(sha256.New, key[:])
	_, _ = io.WriteString(mac, encodeKey(token, secret))
	return hex.EncodeToString(mac.Sum(nil)[:4])
}

// IsZero reports whether the credential carries no secret at all.
func (c Credential) IsZero() bool { return c.Token == "" && c.Secret == "" && c.key == "" }

// cacheKey returns the credential's cache key and its form: the token68 of
// a credential the Basic extractor read (while its parts are unchanged),
// the Token of a credential without a Secret, an injective encoding of
// (Token, Secret) otherwise. Two credentials share a
// key and form only when both parts are equal. The kind is not part of the
// key; the cache stores it in the entry and compares it on every hit.
func (c Credential) cacheKey() (string, keyForm) {
	if c.form == basicKey && (c.decoded == "" && c.Token == "" && c.Secret == "" || basicFits(c)) {
		return c.key, basicKey
	}
	if c.Secret == "" {
		return c.Token, tokenKey
	}
	return encodeKey(c.Token, c.Secret), partsKey
}

// basicFits reports whether c's parts are still those its key was decoded
// to. Token and Secret are exported, so a caller (a wrapping Extractor,
// say) may change them after extraction; the token68 must then not be the
// key, or the cache would answer for the credential as it was extracted,
// not as it is verified. The comparisons are cheap: unchanged parts share
// decoded's memory. A Token with a colon would split decoded elsewhere.
//
// (A credential with no parts and no decoded text is one a Scheme built
// from a cache hit, for its log line only: see Scheme.cached.)
func basicFits(c Credential) bool {
	t, d := c.Token, c.decoded
	return strings.IndexByte(t, ':') < 0 && len(d) == len(t)+1+len(c.Secret) &&
		d[:len(t)] == t && d[len(t)] == ':' && d[len(t)+1:] == c.Secret
}

// encodeKey encodes two parts into one string without ambiguity, so that
// ("ab","c") and ("a","bc") never meet. It picks the cheapest of three
// disjoint forms:
//
//  1. token, when secret is empty and token has no ':' and does not start
//     with NUL. This form never contains ':'. (Fingerprints use it; a
//     cache keys a credential without a Secret by its Token, tokenKey.)
//  2. token ":" secret, when token has no ':' and does not start with NUL.
//     This form contains ':' and never starts with NUL; splitting at the
//     first ':' recovers both parts.
//  3. NUL len(token) ":" token secret, for everything else. Only this form
//     starts with NUL; the length prefix recovers both parts.
func encodeKey(token, secret string) string {
	simple := !strings.Contains(token, ":") && !strings.HasPrefix(token, "\x00")
	switch {
	case simple && secret == "":
		return token
	case simple:
		return token + ":" + secret
	default:
		return "\x00" + strconv.Itoa(len(token)) + ":" + token + secret
	}
}

// newBasicCredential builds a two-part credential from the token68 of a
// Basic Authorization header and its decoded "user:password", split at its
// first colon. Its cache key is the token68 itself (see basicKey). The
// caller guarantees that user has no ':' and no control characters.
func newBasicCredential(kind Kind, token68, decoded string, colon int) Credential {
	return Credential{
		Kind: kind, Token: decoded[:colon], Secret: decoded[colon+1:],
		key: token68, form: basicKey, decoded: decoded,
	}
}
