package bearer

import (
	"bytes"
	"encoding/json"
	"errors"
	"slices"
	"strings"
)

// unmarshalExact decodes the JSON object data into v, a pointer to a
// struct whose JSON member names are names, as json.Unmarshal does, except
// that a member's name must match exactly. It returns the object's members
// in order, duplicates included, for checks of the caller's own.
//
// encoding/json matches a member to a field whose name differs only in
// case (or by Unicode folding: "ſub" is "sub" to it), the last such member
// winning. JWT claims (RFC 7519 §7.3) and JWK members (RFC 7517 §4) are
// compared code unit by code unit, as RFC 7159 §8.3 does, so "EXP" is an
// unknown claim, which RFC 7519 §4 says to ignore. Read as exp, it let a
// token signed by a trusted key carry an "exp" in the past and an "Exp"
// in the future, and be accepted; a JWK's "use":"enc" was overruled by a
// "USE":"sig". Such members are dropped here before v is decoded; every
// other member, repeated ones too, is decoded as it came.
func unmarshalExact(data []byte, v any, names []string) ([]member, error) {
	members, ok := objectMembers(data)
	if !ok { // not a valid object: json.Unmarshal says what it is
		return nil, json.Unmarshal(data, v)
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

var errDateNotNumber = errors.New("bearer: a NumericDate claim is not a JSON number")

// decodeClaims decodes a token's claims into c with exact member names (see
// unmarshalExact). A NumericDate must be a JSON number (RFC 7519 §2):
// golang-jwt's decoder also reads one from a string of digits.
func decodeClaims(data []byte, c *Claims) error {
	members, err := unmarshalExact(data, c, claimNames)
	if err != nil {
		return err
	}
	for _, m := range members {
		if slices.Contains(dateClaims[:], m.name) && !isNumberOrNull(m.value) {
			return errDateNotNumber
		}
	}
	return nil
}

// isNumberOrNull reports whether the JSON value raw is a number or null.
func isNumberOrNull(raw json.RawMessage) bool {
	raw = bytes.TrimLeft(raw, " \t\r\n")
	return len(raw) > 0 && (raw[0] == '-' || '0' <= raw[0] && raw[0] <= '9' || string(raw) == "null")
}

// UnmarshalJSON decodes the claims with exact member names: see decodeClaims.
func (c *accessClaims) UnmarshalJSON(data []byte) error { return decodeClaims(data, (*Claims)(c)) }

// UnmarshalJSON decodes the claims with exact member names: see decodeClaims.
func (c *refreshClaims) UnmarshalJSON(data []byte) error { return decodeClaims(data, (*Claims)(c)) }

// UnmarshalJSON decodes the claims with exact member names: see decodeClaims.
func (c *logoutClaims) UnmarshalJSON(data []byte) error { return decodeClaims(data, (*Claims)(c)) }
