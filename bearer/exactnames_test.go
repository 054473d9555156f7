package bearer_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestClaimNamesAreMatchedExactly: RFC 7519 §7.3 compares claim names as
// RFC 7159 §8.3 does, code unit by code unit, so "EXP" or "AUD" are
// unknown claims, ignored (RFC 7519 §4), never read as exp or aud.
// encoding/json folds case, and let a token signed by a trusted key carry
// an expired exp and a live "Exp", or a wrong aud and a right "AUD".
func TestClaimNamesAreMatchedExactly(t *testing.T) {
	e := newEnv(t)
	now := e.clock.Now()
	header := `{"alg":"HS256","kid":"hs1","typ":"at+jwt"}`
	payload := payloadOf(t, validClaims(now))
	future := strconv.FormatInt(now.Add(time.Hour).Unix(), 10)
	past := strconv.FormatInt(now.Add(-time.Hour).Unix(), 10)
	for name, c := range map[string]struct {
		payload string
		want    int
	}{
		"EXP and no exp":          {strings.Replace(payload, `"exp":`, `"EXP":`, 1), http.StatusUnauthorized},
		"expired exp, then Exp":   {strings.Replace(payload, `"exp":`+future, `"exp":`+past+`,"Exp":`+future, 1), http.StatusUnauthorized},
		"wrong aud, then AUD":     {strings.Replace(payload, `"aud":["tidal-api"]`, `"aud":["other"],"AUD":["tidal-api"]`, 1), http.StatusUnauthorized},
		"ſub (folds to sub) only": {strings.Replace(payload, `"sub":`, `"ſub":`, 1), http.StatusUnauthorized},
		// An unknown member is ignored, not refused.
		"live exp, then an expired Exp": {strings.Replace(payload, `"exp":`+future, `"exp":`+future+`,"Exp":`+past, 1), http.StatusOK},
		"aud, then a wrong AUD":         {strings.Replace(payload, `"aud":["tidal-api"]`, `"aud":["tidal-api"],"AUD":["other"]`, 1), http.StatusOK},
	} {
		rec := e.whoami(rawToken(header, c.payload))
		assert.Equal(t, c.want, rec.Code, "%s: %s", name, c.payload)
	}
}

// TestNumericDateMustBeANumber: RFC 7519 §2 defines a NumericDate as "a
// JSON numeric value"; golang-jwt also read one from a string of digits.
func TestNumericDateMustBeANumber(t *testing.T) {
	e := newEnv(t)
	now := e.clock.Now()
	header := `{"alg":"HS256","kid":"hs1","typ":"at+jwt"}`
	payload := payloadOf(t, validClaims(now))
	exp := strconv.FormatInt(now.Add(time.Hour).Unix(), 10)
	iat := strconv.FormatInt(now.Unix(), 10)
	for name, p := range map[string]string{
		"exp a string": strings.Replace(payload, `"exp":`+exp, `"exp":"`+exp+`"`, 1),
		"iat a string": strings.Replace(payload, `"iat":`+iat, `"iat":"`+iat+`"`, 1),
		"nbf a string": strings.Replace(payload, `"iat":`, `"nbf":"`+iat+`","iat":`, 1),
	} {
		rec := e.whoami(rawToken(header, p))
		assert.Equal(t, http.StatusUnauthorized, rec.Code, "%s: %s", name, p)
	}
	rec := e.whoami(rawToken(header, strings.Replace(payload, `"iat":`, `"nbf":`+iat+`.5,"iat":`, 1)))
	assert.Equal(t, http.StatusOK, rec.Code, "a number with a fraction is a NumericDate")
}

// TestJWKMemberNamesAreMatchedExactly: RFC 7517 §4 ignores unknown JWK
// members, and names compare exactly: a "USE":"sig" must not make a
// "use":"enc" key a verification key, and a "D" is not private material.
func TestJWKMemberNamesAreMatchedExactly(t *testing.T) {
	issuerEnv, _ := asymmetricEnv(t)
	tok := issuerEnv.authenticate(t, "mary@example.com").AccessToken
	x := b64.EncodeToString(edPublic)
	for name, c := range map[string]struct {
		members string
		want    int
	}{
		"use enc, then USE sig":                {`"use":"enc","USE":"sig"`, http.StatusUnauthorized},
		"key_ops encrypt, then KEY_OPS verify": {`"key_ops":["encrypt"],"KEY_OPS":["verify"]`, http.StatusUnauthorized},
		"use sig, then USE enc":                {`"use":"sig","USE":"enc"`, http.StatusOK},
		"an unknown member D":                  {`"D":"AAAA"`, http.StatusOK},
	} {
		doc := `{"keys":[{"kty":"OKP","crv":"Ed25519","kid":"ed1","x":"` + x + `",` + c.members + `}]}`
		srv := newJWKSServer(t, serveString(http.StatusOK, doc))
		_, h := newJWKSVerifier(t, issuerEnv, srv.URL)
		assert.Equal(t, c.want, get(h, tok).Code, name)
	}
}

// TestRepeatedClaimIsRefused: RFC 7519 §4 lets a parser either refuse a
// claims set that repeats a name or use only the lexically last member.
// encoding/json does neither: it ignores a null for a string (and
// jwt.ClaimStrings returns early on null), so of {"sub":"u-mary",…,
// "sub":null} the first value stood and the token was accepted as u-mary.
// tidegate refuses any repeated name, compared exactly once unescaped.
func TestRepeatedClaimIsRefused(t *testing.T) {
	e := newEnv(t)
	header := `{"alg":"HS256","kid":"hs1","typ":"at+jwt"}`
	claims := with(validClaims(e.clock.Now()), "scope", "read")
	payload := payloadOf(t, claims)
	rec := e.whoami(rawToken(header, payload))
	require.Equal(t, http.StatusOK, rec.Code, "control: %s", rec.Body.String())
	cases := map[string]string{"an unknown claim twice": `"x":1,"x":1`}
	for claim, value := range claims {
		same, err := json.Marshal(value)
		require.NoError(t, err)
		cases[claim+", then null"] = `"` + claim + `":null`
		cases[claim+", then another value"] = `"` + claim + `":"other"`
		cases[claim+", then the same value"] = `"` + claim + `":` + string(same)
		// {"\u0073ub":null} names sub too, once unescaped.
		cases[claim+", then null, the name escaped"] = fmt.Sprintf(`"\u%04x%s":null`, claim[0], claim[1:])
	}
	for name, member := range cases {
		dup := strings.TrimSuffix(payload, "}") + "," + member + "}"
		rec := e.whoami(rawToken(header, dup))
		assert.Equal(t, http.StatusUnauthorized, rec.Code, "%s: %s accepted as %s", name, dup, rec.Body.String())
	}
}

// TestNumericDateMustBeInRange: a NumericDate must be a number of seconds
// below 10^12 either side of 1970. Beyond what int64 holds (1e19, 1e300)
// golang-jwt's int64(f) conversion is implementation-specific: amd64 gives
// math.MinInt64, so a token not valid before (nbf), or issued at (iat), a
// far-future instant read as the distant past and was accepted.
func TestNumericDateMustBeInRange(t *testing.T) {
	e := newEnv(t)
	header := `{"alg":"HS256","kid":"hs1","typ":"at+jwt"}`
	claims := validClaims(e.clock.Now())
	for _, c := range []struct {
		name, member string
		want         int
	}{
		{"nbf 1e19", `"nbf":1e19`, http.StatusUnauthorized},
		{"nbf 1e300", `"nbf":1e300`, http.StatusUnauthorized},
		{"nbf -1e19", `"nbf":-1e19`, http.StatusUnauthorized},
		{"nbf 1e12, the bound", `"nbf":1e12`, http.StatusUnauthorized},
		{"nbf -1e12, the bound", `"nbf":-1e12`, http.StatusUnauthorized},
		{"iat 1e19", `"iat":1e19`, http.StatusUnauthorized},
		{"exp 1e19", `"exp":1e19`, http.StatusUnauthorized},
		{"exp 1e12, the bound", `"exp":1000000000000`, http.StatusUnauthorized},
		{"nbf -999999999999.5, within", `"nbf":-999999999999.5`, http.StatusOK},
		{"exp 999999999999, within", `"exp":999999999999`, http.StatusOK},
	} {
		name, _, _ := strings.Cut(c.member[1:], `"`)
		payload := payloadOf(t, with(claims, name, nil))
		tok := rawToken(header, strings.TrimSuffix(payload, "}")+","+c.member+"}")
		rec := e.whoami(tok)
		assert.Equal(t, c.want, rec.Code, "%s: %s answered %q", c.name, c.member, rec.Body.String())
	}
}
