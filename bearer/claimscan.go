package bearer

import (
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// decodeMintedClaims decodes the claims of an access token when they are
// in the form json.Marshal gives a Claims value of plain ASCII strings,
// which covers the tokens tidegate mints for ordinary accounts: no
// whitespace; members among iss, sub, aud, exp, nbf, iat, jti,
// sid, roles and scope, each at most once and in that order; strings of
// printable ASCII without escapes; aud and roles arrays of at least one
// such string; dates as integers of seconds. It reports false, having
// filled c partly or not at all, for anything else, and the caller then
// has golang-jwt's parser decode the claims with decodeClaims, whose
// result it reproduces on every input it accepts (FuzzMintedClaims checks
// that). c must be zero.
//
// encoding/json spends about 3 µs and 31 allocations on such claims,
// through reflection and jwt.NumericDate's and jwt.ClaimStrings'
// UnmarshalJSON, which decode every value a second time. This allocates
// only the dates and the aud and roles slices; the claims' strings share
// the payload's own string.
func decodeMintedClaims(payload string, c *Claims) bool {
	d := claimScanner{rest: payload, ok: true}
	sep := byte('{')
	for _, f := range mintedClaims {
		if d.member(sep, f.name) {
			f.decode(&d, c)
			sep = ','
		}
	}
	return d.ok && sep == ',' && d.rest == "}"
}

// mintedClaims are the members of Claims in json.Marshal's order, the
// order of the struct fields.
var mintedClaims = [...]struct {
	name   string
	decode func(*claimScanner, *Claims)
}{
	{`"iss":`, func(d *claimScanner, c *Claims) { c.Issuer = d.str() }},
	{`"sub":`, func(d *claimScanner, c *Claims) { c.Subject = d.str() }},
	{`"aud":`, func(d *claimScanner, c *Claims) { c.Audience = d.strs() }},
	{`"exp":`, func(d *claimScanner, c *Claims) { c.ExpiresAt = d.date() }},
	{`"nbf":`, func(d *claimScanner, c *Claims) { c.NotBefore = d.date() }},
	{`"iat":`, func(d *claimScanner, c *Claims) { c.IssuedAt = d.date() }},
	{`"jti":`, func(d *claimScanner, c *Claims) { c.ID = d.str() }},
	{`"sid":`, func(d *claimScanner, c *Claims) { c.LoginID = d.str() }},
	{`"roles":`, func(d *claimScanner, c *Claims) { c.Roles = d.strs() }},
	{`"scope":`, func(d *claimScanner, c *Claims) { c.Scope = d.str() }},
}

// claimScanner reads the minted form from the front of rest. Once a value
// is not in that form, ok is false and every later read returns zero.
type claimScanner struct {
	rest string
	ok   bool
}

// member consumes sep and the quoted name with its colon, when rest starts
// with them.
func (d *claimScanner) member(sep byte, name string) bool {
	if !d.ok || len(d.rest) <= len(name) || d.rest[0] != sep || !strings.HasPrefix(d.rest[1:], name) {
		return false
	}
	d.rest = d.rest[1+len(name):]
	return true
}

// str reads a string of printable ASCII without escapes: one that JSON
// decodes to its own bytes.
func (d *claimScanner) str() string {
	if !d.ok || len(d.rest) < 2 || d.rest[0] != '"' {
		d.ok = false
		return ""
	}
	for i := 1; i < len(d.rest); i++ {
		switch c := d.rest[i]; {
		case c == '"':
			s := d.rest[1:i]
			d.rest = d.rest[i+1:]
			return s
		case c < 0x20 || c > 0x7e || c == '\\':
			d.ok = false
			return ""
		}
	}
	d.ok = false
	return ""
}

// strs reads an array of at least one str. An empty array is not the
// minted form: json.Marshal omits empty aud and roles.
func (d *claimScanner) strs() []string {
	if !d.ok || len(d.rest) == 0 || d.rest[0] != '[' {
		d.ok = false
		return nil
	}
	var list []string
	for sep := byte('['); d.ok && len(d.rest) > 0 && d.rest[0] == sep; sep = ',' {
		d.rest = d.rest[1:]
		list = append(list, d.str())
	}
	if !d.ok || len(d.rest) == 0 || d.rest[0] != ']' {
		d.ok = false
		return nil
	}
	d.rest = d.rest[1:]
	return list
}

// maxDateDigits bounds a date's seconds, far beyond any real date and
// well within what a float64 holds exactly, as jwt.NumericDate decodes
// through one. Twelve digits stay below maxNumericDate, the bound of
// decodeClaims, so that both paths accept the same dates.
const maxDateDigits = 12

// date reads a date as jwt.NumericDate decodes an integer: the Unix time,
// truncated to jwt.TimePrecision.
func (d *claimScanner) date() *jwt.NumericDate {
	n := 0
	for n < len(d.rest) && n <= maxDateDigits && '0' <= d.rest[n] && d.rest[n] <= '9' {
		n++
	}
	if !d.ok || n == 0 || n > maxDateDigits || (d.rest[0] == '0' && n > 1) {
		d.ok = false
		return nil
	}
	var seconds int64
	for _, c := range d.rest[:n] {
		seconds = seconds*10 + int64(c-'0')
	}
	d.rest = d.rest[n:]
	return jwt.NewNumericDate(time.Unix(seconds, 0))
}
