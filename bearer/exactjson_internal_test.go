package bearer

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"reflect"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestExactNamesCoverTheStructs: the name lists unmarshalExact is given
// must be exactly the JSON names of the structs' fields, or a member added
// to a struct would be matched case-insensitively again, and a member
// listed but gone would be dropped for nothing.
func TestExactNamesCoverTheStructs(t *testing.T) {
	for _, c := range []struct {
		of    any
		names []string
	}{{Claims{}, claimNames}, {jwk{}, jwkNames}, {jwkSet{}, jwkSetNames}} {
		assert.ElementsMatch(t, jsonNames(reflect.TypeOf(c.of)), c.names, "%T", c.of)
	}
}

// jsonNames returns the JSON member names of struct type t's fields,
// embedded structs' included.
func jsonNames(t reflect.Type) []string {
	var names []string
	for f := range t.Fields() {
		if f.Anonymous && f.Type.Kind() == reflect.Struct {
			names = append(names, jsonNames(f.Type)...)
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		names = append(names, name)
	}
	return names
}

// TestDecodeClaimsIgnoresNamesThatOnlyFold: a member whose name only folds
// to a claim's is ignored; a claim of the wrong JSON type is refused.
func TestDecodeClaimsIgnoresNamesThatOnlyFold(t *testing.T) {
	var c Claims
	err := decodeClaims([]byte(`{"sub":"a","SUB":"b","Jti":"j","roles":["r"],"ROLES":["admin"],"exp":1}`), &c)
	assert.NoError(t, err)
	assert.Equal(t, "a", c.Subject)
	assert.Empty(t, c.ID)
	assert.Equal(t, []string{"r"}, c.Roles)

	for _, bad := range []string{`[]`, `{"exp":"1"}`, `{"iat":true}`, `{"nbf":{}}`, `{"sub":1}`, `{`} {
		assert.Error(t, decodeClaims([]byte(bad), &Claims{}), bad)
	}
	assert.NoError(t, decodeClaims([]byte(`{"exp":null,"iat":-1.5}`), &Claims{}))
}

// TestAnIgnoredMemberChangesNothingElse: dropping a member whose name only
// folds to a claim's must leave the rest decoded as it came, repeated
// members and their errors included. Re-encoding the object from a map
// kept only the last of two "exp", so a token refused for its first
// became accepted once an ignored "Exp" was added.
func TestAnIgnoredMemberChangesNothingElse(t *testing.T) {
	for _, c := range []struct{ without, with string }{
		{`{"exp":true,"exp":5}`, `{"exp":true,"exp":5,"Exp":1}`},
		{`{"sub":1,"sub":"a"}`, `{"sub":1,"sub":"a","SUB":"b"}`},
		{`{"aud":{},"aud":"x"}`, `{"aud":{},"aud":"x","AUD":"y"}`},
		{`{"exp":"1","exp":5}`, `{"exp":"1","exp":5,"EXP":2}`},
		{`{"sub":"a","sub":"b"}`, `{"sub":"a","Sub":"c","sub":"b"}`},
	} {
		var without, with Claims
		errWithout := decodeClaims([]byte(c.without), &without)
		errWith := decodeClaims([]byte(c.with), &with)
		assert.Equal(t, errWithout == nil, errWith == nil, "%s: %v; %s: %v", c.without, errWithout, c.with, errWith)
		if errWithout == nil {
			assert.Equal(t, without, with, c.with)
		}
	}
}

// TestDecodeClaimsRefusesARepeatedName: a claims set that repeats a
// member name, compared exactly once unescaped, is refused (RFC 7519 §4
// allows it), whatever the values, the claim known or not. Names that
// differ, if only in case, are not repeats.
func TestDecodeClaimsRefusesARepeatedName(t *testing.T) {
	for _, c := range []struct {
		payload string
		refused bool
	}{
		{`{"sub":"a","sub":null}`, true},
		{`{"sub":"a","sub":"a"}`, true},
		{`{"aud":["a"],"exp":1,"aud":null}`, true},
		{`{"sub":"a","s\u0075b":"b"}`, true},
		{`{"x":1,"x":1}`, true},
		{`{"Sub":1,"Sub":2}`, true}, // ignored names, repeated all the same
		{`{"sub":"a","Sub":"b","SUB":"c"}`, false},
		{`{"sub":"a","x":{"sub":1,"sub":2}}`, false}, // a nested object is an unknown claim's value
	} {
		err := decodeClaims([]byte(c.payload), &Claims{})
		if c.refused {
			assert.ErrorIs(t, err, errRepeatedName, c.payload)
		} else {
			assert.NoError(t, err, c.payload)
		}
	}
}

// TestDecodeJWKSRefusesARepeatedName: RFC 7517 §4 and §5 say a JWK or JWK
// Set parser must refuse repeated member names or use only the lexically
// last one. encoding/json decodes a second "keys" array into the first
// one's elements (jwk.UnmarshalJSON does not reset them), so a key of the
// second was merged with the fields of the first: here the last "keys"
// holds only a kid, no usable key, yet the document gave a verification
// key under that kid with the first key's material, its "use":"enc"
// overwritten too. A repeated name, in the set or in a key, makes the
// document unusable, as any other malformed document.
func TestDecodeJWKSRefusesARepeatedName(t *testing.T) {
	pub, _, err := ed25519.GenerateKey(rand.Reader)
	require.NoError(t, err)
	key := `"kty":"OKP","crv":"Ed25519","x":"` + base64.RawURLEncoding.EncodeToString(pub) + `"`

	// What the lexically last "keys" alone gives: no usable key.
	lastOnly, err := decodeJWKS([]byte(`{"keys":[{"kid":"second","use":"sig"}]}`))
	require.NoError(t, err)
	require.Empty(t, lastOnly)
	// The key alone is usable: only the repeats below make it unusable.
	usable, err := decodeJWKS([]byte(`{"keys":[{` + key + `,"kid":"ed1","use":"sig"}]}`))
	require.NoError(t, err)
	require.Len(t, usable, 1)

	for name, doc := range map[string]string{
		"keys twice":              `{"keys":[{` + key + `,"kid":"first","use":"enc"}],"keys":[{"kid":"second","use":"sig"}]}`,
		"keys twice, one escaped": `{"keys":[{` + key + `,"kid":"first","use":"enc"}],"k\u0065ys":[{"kid":"second","use":"sig"}]}`,
		"a key's use twice":       `{"keys":[{` + key + `,"kid":"ed1","use":"enc","use":"sig"}]}`,
		"a key's kid twice":       `{"keys":[{` + key + `,"kid":"ed1","kid":"ed1"}]}`,
		"a key's x twice":         `{"keys":[{` + key + `,"kid":"ed1",` + key[strings.Index(key, `"x"`):] + `}]}`,
		"an unknown member twice": `{"keys":[{` + key + `,"kid":"ed1","n":1,"n":1}]}`,
	} {
		keys, err := decodeJWKS([]byte(doc))
		assert.ErrorIs(t, err, errJWKS, "%s: %s gave %v", name, doc, keys)
	}
}

// TestDecodeClaimsBoundsNumericDates: a NumericDate must be below 10^12
// seconds either side of 1970 (maxNumericDate), where golang-jwt's int64
// conversion is the same on every platform, and the fast path, which
// reads up to twelve digits, must agree at the bound.
func TestDecodeClaimsBoundsNumericDates(t *testing.T) {
	for _, c := range []struct {
		payload string
		want    error
	}{
		{`{"exp":999999999999}`, nil},
		{`{"exp":-999999999999.9}`, nil},
		{`{"exp":null,"nbf":0,"iat":-0}`, nil},
		{`{"exp":1000000000000}`, errDateOutOfRange},
		{`{"exp":1e12}`, errDateOutOfRange},
		{`{"nbf":-1e12}`, errDateOutOfRange},
		{`{"iat":9223372036854775808}`, errDateOutOfRange},
		{`{"nbf":1e19}`, errDateOutOfRange},
		{`{"nbf":1e300}`, errDateOutOfRange},
	} {
		err := decodeClaims([]byte(c.payload), &Claims{})
		if c.want == nil {
			assert.NoError(t, err, c.payload)
		} else {
			assert.ErrorIs(t, err, c.want, c.payload)
		}
		requireSameAsJSON(t, c.payload)
	}
}

// TestEveryParserRefusesARepeatedHeaderName: a header that repeats a
// member name is refused by every verifier path (the access parser with
// and without the fast path, refresh, logout), before any key lookup.
func TestEveryParserRefusesARepeatedHeaderName(t *testing.T) {
	fast := internalVerifier(t)
	slow := *fast
	slow.minted = nil
	for _, header := range []string{
		`{"alg":"HS256","kid":"hs1","typ":"at+jwt","kid":"hs1"}`,
		`{"alg":"HS256","kid":"nobody","kid":"hs1","typ":"at+jwt"}`,
		`{"alg":"HS256","kid":"hs1","typ":"at+jwt","t\u0079p":"at+jwt"}`,
	} {
		token := signedToken(t, internalSecret, header, mintedPayloadAt(t))
		for name, parse := range map[string]func() error{
			"fast":    func() error { return fast.parse(t.Context(), token, &Claims{}, forAccess) },
			"slow":    func() error { return slow.parse(t.Context(), token, &Claims{}, forAccess) },
			"refresh": func() error { return fast.parse(t.Context(), token, &Claims{}, forRefresh) },
			"logout":  func() error { return fast.parse(t.Context(), token, &Claims{}, forLogout) },
		} {
			assert.Equal(t, reasonMalformed, asReason(t, parse()), "%s: %s", name, header)
		}
	}
	// The header alone makes the difference.
	good := signedToken(t, internalSecret, `{"alg":"HS256","kid":"hs1","typ":"at+jwt","x":1}`, mintedPayloadAt(t))
	require.NoError(t, slow.parse(t.Context(), good, &Claims{}, forAccess))
}
