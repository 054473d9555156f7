package bearer

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
)

// unmarshalExact decodes the JSON object data into v, a pointer to a
// struct whose JSON member names are names, as json.Unmarshal does, except
// that a member's name must match exactly. It returns the object's members
// by name, for checks of the caller's own.
//
// encoding/json matches a member to a field whose name differs only in
// case (or by Unicode folding: "ſub" is "sub" to it), the last such member
// winning. JWT claims (RFC 7519 §7.3) and JWK members (RFC 7517 §4) are
// compared code unit by code unit, as RFC 7159 §8.3 does, so "EXP" is an
// unknown claim, which RFC 7519 §4 says to ignore. Read as exp, it let a
// token signed by a trusted key carry an "exp" in the past and an "Exp"
// in the future, and be accepted; a JWK's "use":"enc" was overruled by a
// "USE":"sig". Such members are dropped here before v is decoded.
func unmarshalExact(data []byte, v any, names []string) (map[string]json.RawMessage, error) {
	var members map[string]json.RawMessage
	if err := json.Unmarshal(data, &members); err != nil {
		return nil, err
	}
	folded := false
	for name := range members {
		if foldsToOneOf(name, names) {
			delete(members, name)
			folded = true
		}
	}
	if folded {
		var err error
		if data, err = json.Marshal(members); err != nil {
			return nil, err
		}
	}
	return members, json.Unmarshal(data, v)
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
	for _, name := range dateClaims {
		raw := bytes.TrimLeft(members[name], " \t\r\n")
		if len(raw) > 0 && raw[0] != '-' && (raw[0] < '0' || raw[0] > '9') && string(raw) != "null" {
			return errDateNotNumber
		}
	}
	return nil
}

// UnmarshalJSON decodes the claims with exact member names: see decodeClaims.
func (c *accessClaims) UnmarshalJSON(data []byte) error { return decodeClaims(data, (*Claims)(c)) }

// UnmarshalJSON decodes the claims with exact member names: see decodeClaims.
func (c *refreshClaims) UnmarshalJSON(data []byte) error { return decodeClaims(data, (*Claims)(c)) }

// UnmarshalJSON decodes the claims with exact member names: see decodeClaims.
func (c *logoutClaims) UnmarshalJSON(data []byte) error { return decodeClaims(data, (*Claims)(c)) }
