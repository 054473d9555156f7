package bearer

import (
	"encoding/base64"
	"encoding/json"
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// FuzzDecodeClaims: golang-jwt decodes a token's claims before it checks
// the signature, so decodeClaims reads what anyone sends. It must never
// panic; it must refuse claims that repeat a member name or hold a
// NumericDate of 10^12 seconds or more either side of 1970; on claims with
// no member whose name only folds to a claim's and no NumericDate given
// as a string, it must decode exactly as encoding/json does. And the fast
// path, decodeMintedClaims, must give decodeClaims' answer wherever it
// gives one (requireSameAsJSON).
func FuzzDecodeClaims(f *testing.F) {
	f.Add(`{"iss":"i","sub":"s","aud":["a"],"exp":1767229200,"iat":1767225600,"jti":"j"}`)
	f.Add(`{"exp":1,"Exp":2,"exp":3}`)
	f.Add(`{"sub":"a","SUB":1,"ſub":"c"}`)
	f.Add(`{"exp":"1","nbf":null,"iat":-1.5e3}`)
	f.Add(`[{"exp":1}]`)
	f.Add(`{"sub":"u-mary","sub":null}`)
	f.Add(`{"sub":"u-mary","nbf":1e19}`)
	f.Fuzz(func(t *testing.T, payload string) {
		requireSameAsJSON(t, payload)
		var exact Claims
		err := decodeClaims([]byte(payload), &exact)
		members, isObject := objectMembers([]byte(payload))
		for i, m := range members {
			if slices.ContainsFunc(members[:i], func(earlier member) bool { return earlier.name == m.name }) {
				require.Error(t, err, "%q repeats %q", payload, m.name)
				return
			}
			var seconds float64
			if slices.Contains(dateClaims[:], m.name) && json.Unmarshal(m.value, &seconds) == nil && math.Abs(seconds) >= 1e12 {
				require.Error(t, err, "%q: %s out of range", payload, m.name)
				return
			}
		}
		for _, m := range members {
			if foldsToOneOf(m.name, claimNames) || slices.Contains(dateClaims[:], m.name) && !isNumberOrNull(m.value) {
				return // where decodeClaims differs from encoding/json on purpose
			}
		}
		var plain Claims
		plainErr := json.Unmarshal([]byte(payload), &plain)
		require.Equal(t, plainErr == nil, err == nil, "%q: encoding/json %v, decodeClaims %v", payload, plainErr, err)
		if err == nil {
			require.Equal(t, plain, exact, "%q", payload)
			require.True(t, isObject || strings.TrimSpace(payload) == "null", "%q", payload)
		}
	})
}

// FuzzHeaderNamesAreUnique: headerNamesAreUnique counts a header's members
// with a scan of its own instead of decoding them; on every header that
// golang-jwt decodes into a map, it must agree with objectMembers and
// hasRepeatedName, the decoder-based check of claims and JWKs.
func FuzzHeaderNamesAreUnique(f *testing.F) {
	f.Add(`{"alg":"HS256","kid":"hs1","typ":"at+jwt"}`)
	f.Add(`{"alg":"none","alg":"HS256"}`)
	f.Add(`{"kid":"a:b\"c:","k\u0069d":"x"}`)
	f.Add(`{"x":{"a":1,"a":[{"b":":"}]},"y":[":",{"c":2}]}`)
	f.Add("{\"\xff\":1,\"\xfe\":2}")
	f.Add(` { "a" : 1 , "b" : "\\" } `)
	f.Fuzz(func(t *testing.T, header string) {
		var decoded map[string]any
		members, isObject := objectMembers([]byte(header))
		if json.Unmarshal([]byte(header), &decoded) != nil || !isObject {
			return // golang-jwt refuses it, or holds no header (null)
		}
		token := base64.RawURLEncoding.EncodeToString([]byte(header)) + ".e30.sig"
		require.Equal(t, !hasRepeatedName(members), headerNamesAreUnique(token, decoded), "%q", header)
	})
}
