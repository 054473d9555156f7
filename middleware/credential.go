package middleware

import (
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

	// key is the cache key when the constructor already holds it (see
	// newBasicCredential); empty means "compute it with encodeKey".
	key string
}

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

// Fingerprint returns the first 8 hex characters of the SHA-256 of the
// credential's cache key: enough to correlate log lines, far too little to
// recover or replay the credential.
func (c Credential) Fingerprint() string {
	sum := sha256.Sum256([]byte(c.cacheKey()))
	return hex.EncodeToString(sum[:4])
}

// IsZero reports whether the credential carries no secret at all.
func (c Credential) IsZero() bool { return c.Token == "" && c.Secret == "" }

// cacheKey returns an encoding of (Token, Secret) that is injective: two
// credentials share a key only when both parts are equal. The kind is not
// part of the string; the cache stores it in the entry and compares it on
// every hit.
func (c Credential) cacheKey() string {
	if c.key != "" && keyFits(c.key, c.Token, c.Secret) {
		return c.key
	}
	return encodeKey(c.Token, c.Secret)
}

// keyFits reports whether key is still encodeKey(token, secret) in form 1 or
// 2, as newBasicCredential built it. Token and Secret are exported, so a
// caller (a wrapping Extractor, say) may change them after extraction; the
// precomputed key must then not be used, or the cache would answer for the
// credential as it was extracted, not as it was verified: a changed Secret
// would hit the entry of the original one. The comparisons are cheap: in the
// unchanged case the parts share the key's memory.
func keyFits(key, token, secret string) bool {
	if strings.IndexByte(token, ':') >= 0 || strings.HasPrefix(token, "\x00") {
		return false // encodeKey would use form 3
	}
	if secret == "" {
		return key == token
	}
	return len(key) == len(token)+1+len(secret) &&
		key[:len(token)] == token && key[len(token)] == ':' && key[len(token)+1:] == secret
}

// encodeKey encodes two parts into one string without ambiguity, so that
// ("ab","c") and ("a","bc") never meet. It picks the cheapest of three
// disjoint forms:
//
//  1. token, when secret is empty and token has no ':' and does not start
//     with NUL: no allocation for single-part kinds (session tokens, JWTs).
//     This form never contains ':'.
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

// newBasicCredential builds a two-part credential from a decoded
// "user:password" string split at its first colon, reusing the decoded string
// as the cache key (form 2 of encodeKey) so that no second copy is made.
// The caller guarantees that user has no ':' and no control characters.
func newBasicCredential(kind Kind, decoded string, colon int) Credential {
	c := Credential{Kind: kind, Token: decoded[:colon], Secret: decoded[colon+1:]}
	if c.Secret == "" {
		c.key = c.Token // form 1
	} else {
		c.key = decoded // form 2
	}
	return c
}
