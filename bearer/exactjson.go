package bearer

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"math"
	"slices"
	"strconv"
	"strings"
)

// unmarshalExact decodes the JSON object data into v, a pointer to a
// struct whose JSON member names are names, as json.Unmarshal does, except
// that a member's name must match exactly. It returns the members it
// decoded, in order, for checks of the caller's own.
//
// encoding/json matches a member to a field whose name differs only in
// case (or by Unicode folding: "ſub" is "sub" to it), the last such member
// winning. JWT claims (RFC 7519 §7.3) and JWK members (RFC 7517 §4) are
// compared code unit by code unit, as RFC 7159 §8.3 does, so "EXP" is an
// unknown claim, which RFC 7519 §4 says to ignore. Read as exp, it let a
// token signed by a trusted key carry an "exp" in the past and an "Exp"
// in the future, and be accepted; a JWK's "use":"enc" was overruled by a
// "USE":"sig". Such members are dropped here before v is decoded; every
// other member is decoded as it came.
//
// An object that repeats a member name is refused (errRepeatedName).
// RFC 7519 §4 (claims) and RFC 7517 §4-5 (JWK, JWK Set) allow that or
// keeping the lexically last member only, which encoding/json does not
// do: it ignores a null for a string, so {"sub":"u-mary","sub":null} kept
// u-mary, and it decodes a second array into the first one's elements,
// so of two "keys" members a key of the second took the first one's
// material. Refusing leaves nothing for two readers to read apart.
func unmarshalExact(data []byte, v any, names []string) ([]member, error) {
	members, ok := objectMembers(data)
	if !ok { // not a valid object: json.Unmarshal says what it is
		return nil, json.Unmarshal(data, v)
	}
	if hasRepeatedName(members) {
		return nil, errRepeatedName
	}
	kept := make([]member, 0, len(members))
	for _, m := range members {
		if !foldsToOneOf(m.name, names) {
			kept = append(kept, m)
		}
	}
	if len(kept) < len(members) {
		data = encodeObject(kept)
	}
	return kept, json.Unmarshal(data, v)
}

var errRepeatedName = errors.New("bearer: a JSON object repeats a member name")

// smallObject is the most members hasRepeatedName compares pairwise; a
// larger object (a JWKS document can be large) costs a map instead of a
// quadratic number of comparisons.
const smallObject = 16

// hasRepeatedName reports whether two of members have the same name. Names
// are compared as decoded (escapes undone), code unit by code unit, as
// RFC 7159 §8.3 compares them, except that encoding/json decodes every
// unpaired surrogate escape to U+FFFD, so that "x\ud800" and "x\udc00"
// count as one name: such an object is refused, which no real issuer
// notices.
func hasRepeatedName(members []member) bool {
	if len(members) <= smallObject {
		for i := range members {
			for _, earlier := range members[:i] {
				if earlier.name == members[i].name {
					return true
				}
			}
		}
		return false
	}
	seen := make(map[string]struct{}, len(members))
	for _, m := range members {
		if _, dup := seen[m.name]; dup {
			return true
		}
		seen[m.name] = struct{}{}
	}
	return false
}

// member is one member of a JSON object: its decoded name and its value as
// it came.
type member struct {
	name  string
	value json.RawMessage
}

// objectMembers returns the members of the JSON object data in order, or
// false when data is not one valid JSON object.
func objectMembers(data []byte) ([]member, bool) {
	if !json.Valid(data) {
		return nil, false
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return nil, false
	}
	var members []member
	for dec.More() {
		t, err := dec.Token()
		name, isName := t.(string)
		var value json.RawMessage
		if err != nil || !isName || dec.Decode(&value) != nil {
			return nil, false
		}
		members = append(members, member{name, value})
	}
	return members, true
}

// headerNamesAreUnique reports whether the JOSE header of token, a
// compact JWS whose header golang-jwt has decoded into decoded, names each
// member once. golang-jwt decodes it with encoding/json, which keeps the
// lexically last of repeated members; RFC 7515 §4 allows that or refusing
// the token, and tidegate refuses, as it does claims and JWKs that repeat
// a name (see unmarshalExact), so that no reader of the token reads its
// header otherwise ({"alg":"none","alg":"HS256"} is alg none to a reader
// keeping the first).
//
// The map holds one entry per distinct name, unescaped, so the names are
// unique exactly when the header has as many members as the map has
// entries. Counting them costs a scan and no decoding: this runs for every
// token the parser sees. (Two names that differ only in invalid UTF-8,
// which encoding/json replaces alike, count as repeated: refused too.)
func headerNamesAreUnique(token string, decoded map[string]any) bool {
	segment, _, _ := strings.Cut(token, ".")
	header, err := base64.RawURLEncoding.DecodeString(segment)
	return err == nil && countMembers(header) == len(decoded)
}

// countMembers returns the number of members of data, a valid JSON object:
// the colons outside strings at its top level, one per member.
func countMembers(data []byte) int {
	members, depth := 0, 0
	inString, escaped := false, false
	for _, c := range data {
		switch {
		case escaped: // the character after a backslash, in a string
			escaped = false
		case inString:
			inString = c != '"'
			escaped = c == '\\'
		case c == '"':
			inString = true
		case c == '{' || c == '[':
			depth++
		case c == '}' || c == ']':
			depth--
		case c == ':' && depth == 1:
			members++
		}
	}
	return members
}

// encodeObject encodes members as one JSON object, in order.
func encodeObject(members []member) []byte {
	out := []byte{'{'}
	for i, m := range members {
		if i > 0 {
			out = append(out, ',')
		}
		name, _ := json.Marshal(m.name) // a string always encodes
		out = append(append(append(out, name...), ':'), m.value...)
	}
	return append(out, '}')
}

// foldsToOneOf reports whether name matches one of names case-insensitively
// but none exactly.
func foldsToOneOf(name string, names []string) bool {
	folds := false
	for _, n := range names {
		if name == n {
			return false
		}
		folds = folds || strings.EqualFold(name, n)
	}
	return folds
}

// claimNames are the JSON names of Claims' members (TestExactNamesCoverTheStructs
// keeps them in step with the struct tags).
var claimNames = []string{"iss", "sub", "aud", "exp", "nbf", "iat", "jti", "sid", "roles", "scope"}

// dateClaims are the claims whose value is a NumericDate.
var dateClaims = [...]string{"exp", "nbf", "iat"}

var (
	errDateNotNumber  = errors.New("bearer: a NumericDate claim is not a JSON number")
	errDateOutOfRange = errors.New("bearer: a NumericDate claim is out of range")
)

// maxNumericDate bounds a NumericDate, in seconds either side of 1970,
// exclusive. golang-jwt turns the float64 it decodes into int64 seconds
// with int64(f), whose result beyond int64 is up to the platform: amd64
// gives math.MinInt64, so an nbf or iat of 1e19 became the distant past
// and a token not valid for ages was accepted. 10^12 s, about 31,700
// years, is past any real token, far inside int64 and inside the 2^53
// that float64 holds exactly, so every platform reads every accepted date
// alike. It also bounds the fast path: its 12 digits (maxDateDigits) stay
// below it. A negative date (before 1970) remains a NumericDate, as RFC
// 7519 §2 allows any JSON number.
const maxNumericDate = 1e12

// decodeClaims decodes a token's claims into c with exact member names (see
// unmarshalExact). A NumericDate must be a JSON number (RFC 7519 §2):
// golang-jwt's decoder also reads one from a string of digits. It must be
// within maxNumericDate too.
//
// A claims set that repeats a member name is refused (see unmarshalExact).
func decodeClaims(data []byte, c *Claims) error {
	members, err := unmarshalExact(data, c, claimNames)
	if err != nil {
		return err
	}
	for _, m := range members {
		if !slices.Contains(dateClaims[:], m.name) {
			continue
		}
		if !isNumberOrNull(m.value) {
			return errDateNotNumber
		}
		if !inDateRange(m.value) {
			return errDateOutOfRange
		}
	}
	return nil
}

// isNumberOrNull reports whether the JSON value raw is a number or null.
func isNumberOrNull(raw json.RawMessage) bool {
	raw = bytes.TrimLeft(raw, " \t\r\n")
	return len(raw) > 0 && (raw[0] == '-' || '0' <= raw[0] && raw[0] <= '9' || string(raw) == "null")
}

// inDateRange reports whether raw, a JSON number or null, is null or a
// number of magnitude below maxNumericDate.
func inDateRange(raw json.RawMessage) bool {
	if string(raw) == "null" {
		return true
	}
	seconds, err := strconv.ParseFloat(string(raw), 64)
	return err == nil && math.Abs(seconds) < maxNumericDate
}

// UnmarshalJSON decodes the claims with exact member names: see decodeClaims.
func (c *accessClaims) UnmarshalJSON(data []byte) error { return decodeClaims(data, (*Claims)(c)) }

// UnmarshalJSON decodes the claims with exact member names: see decodeClaims.
func (c *refreshClaims) UnmarshalJSON(data []byte) error { return decodeClaims(data, (*Claims)(c)) }

// UnmarshalJSON decodes the claims with exact member names: see decodeClaims.
func (c *logoutClaims) UnmarshalJSON(data []byte) error { return decodeClaims(data, (*Claims)(c)) }
