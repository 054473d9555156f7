package bearer

import (
	"encoding/json"
	"time"
	"unicode/utf8"

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

// decodeClaims decodes a JWT payload into c exactly as encoding/json does
// (which is what golang-jwt's parser uses). The payload of a token tidegate
// issued takes a fast path that allocates little; any other shape (escapes,
// unknown or repeated members, null, fractional or huge numbers) falls back
// to encoding/json, so the fast path never decides alone what a payload
// means. FuzzDecodeClaims checks that both agree.
func decodeClaims(payload string, c *Claims) error {
	if decodeClaimsFast(payload, c) {
		return nil
	}
	// A claims value of its own, so that c does not escape to the heap on
	// the fast path.
	slow := new(Claims)
	err := json.Unmarshal([]byte(payload), slow)
	*c = *slow
	return err
}

// Member bits for duplicate detection in decodeClaimsFast.
const (
	seenIss = 1 << iota
	seenSub
	seenAud
	seenExp
	seenNbf
	seenIat
	seenJti
	seenSid
	seenRoles
	seenScope
)

// decodeClaimsFast decodes payloads of the shape tidegate issues: one flat
// object whose members are the claims of Claims, with strings free of
// escapes, integer dates and arrays of such strings. It reports false for
// anything else, leaving c partly filled. Strings are slices of payload.
func decodeClaimsFast(payload string, c *Claims) bool {
	p := scanner{s: payload}
	if !p.expect('{') {
		return false
	}
	if p.peek() == '}' {
		p.i++
		return p.end()
	}
	var seen uint
	for {
		name, ok := p.str()
		if !ok || !p.expect(':') {
			return false
		}
		bit, ok := p.member(name, c)
		if !ok || seen&bit != 0 {
			return false
		}
		seen |= bit
		switch p.next() {
		case ',':
			continue
		case '}':
			return p.end()
		default:
			return false
		}
	}
}

// member decodes the value of the member name into c and returns its bit.
func (p *scanner) member(name string, c *Claims) (uint, bool) {
	var ok bool
	switch name {
	case "iss":
		c.Issuer, ok = p.str()
		return seenIss, ok
	case "sub":
		c.Subject, ok = p.str()
		return seenSub, ok
	case "jti":
		c.ID, ok = p.str()
		return seenJti, ok
	case "sid":
		c.LoginID, ok = p.str()
		return seenSid, ok
	case "scope":
		c.Scope, ok = p.str()
		return seenScope, ok
	case "aud":
		c.Audience, ok = p.audience()
		return seenAud, ok
	case "roles":
		c.Roles, ok = p.strings()
		if ok && c.Roles == nil {
			c.Roles = []string{} // encoding/json gives [] as an empty slice
		}
		return seenRoles, ok
	case "exp":
		c.ExpiresAt, ok = p.date()
		return seenExp, ok
	case "nbf":
		c.NotBefore, ok = p.date()
		return seenNbf, ok
	case "iat":
		c.IssuedAt, ok = p.date()
		return seenIat, ok
	}
	return 0, false
}

// scanner reads the restricted JSON of decodeClaimsFast.
type scanner struct {
	s string
	i int
}

func (p *scanner) skipSpace() {
	for p.i < len(p.s) {
		switch p.s[p.i] {
		case ' ', '\t', '\n', '\r':
			p.i++
		default:
			return
		}
	}
}

// peek returns the next non-space byte without consuming it (0 at the end).
func (p *scanner) peek() byte {
	p.skipSpace()
	if p.i == len(p.s) {
		return 0
	}
	return p.s[p.i]
}

// next consumes and returns the next non-space byte (0 at the end).
func (p *scanner) next() byte {
	c := p.peek()
	if c != 0 {
		p.i++
	}
	return c
}

func (p *scanner) expect(c byte) bool { return p.next() == c }

// end reports whether only white space is left.
func (p *scanner) end() bool {
	p.skipSpace()
	return p.i == len(p.s)
}

// str reads a string without escapes or control characters, valid UTF-8
// (encoding/json would replace invalid bytes). ASCII, the common case, is
// checked in the same pass.
func (p *scanner) str() (string, bool) {
	if !p.expect('"') {
		return "", false
	}
	start := p.i
	var high byte
	for p.i < len(p.s) {
		c := p.s[p.i]
		switch {
		case c == '"':
			v := p.s[start:p.i]
			p.i++
			return v, high < utf8.RuneSelf || utf8.ValidString(v)
		case c == '\\' || c < 0x20:
			return "", false
		}
		high |= c
		p.i++
	}
	return "", false
}

// strings reads an array of strings; [] gives nil.
func (p *scanner) strings() ([]string, bool) {
	if !p.expect('[') {
		return nil, false
	}
	if p.peek() == ']' {
		p.i++
		return nil, true
	}
	var out []string
	for {
		v, ok := p.str()
		if !ok {
			return nil, false
		}
		out = append(out, v)
		switch p.next() {
		case ',':
		case ']':
			return out, true
		default:
			return nil, false
		}
	}
}

// audience reads aud as jwt.ClaimStrings does: a string, or an array of
// strings where [] gives nil.
func (p *scanner) audience() (jwt.ClaimStrings, bool) {
	if p.peek() == '"' {
		v, ok := p.str()
		return jwt.ClaimStrings{v}, ok
	}
	v, ok := p.strings()
	return v, ok
}

// maxDateDigits keeps dates exact in the float64 jwt.NumericDate decodes
// through, so that the fast path and encoding/json agree.
const maxDateDigits = 15

// date reads a non-negative integer NumericDate.
func (p *scanner) date() (*jwt.NumericDate, bool) {
	p.skipSpace()
	start := p.i
	var n int64
	for p.i < len(p.s) && '0' <= p.s[p.i] && p.s[p.i] <= '9' {
		n = n*10 + int64(p.s[p.i]-'0')
		p.i++
	}
	digits := p.i - start
	if digits == 0 || digits > maxDateDigits || (digits > 1 && p.s[start] == '0') {
		return nil, false
	}
	if p.i < len(p.s) {
		switch p.s[p.i] {
		case '.', 'e', 'E': // fractional or exponent form: leave it to encoding/json
			return nil, false
		}
	}
	// time.Unix(n, 0) is already whole seconds: jwt.NewNumericDate would
	// truncate it to itself.
	return &jwt.NumericDate{Time: time.Unix(n, 0)}, true
}
