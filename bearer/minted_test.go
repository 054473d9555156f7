package bearer

import (
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// mintedPayload is the JSON of claims as tidegate mints them.
func mintedPayload(t testing.TB, c Claims) string {
	t.Helper()
	b, err := json.Marshal(c)
	require.NoError(t, err)
	return string(b)
}

// fullClaims has every member of Claims set.
func fullClaims() Claims {
	return Claims{
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer: DefaultIssuer, Subject: "u-1", Audience: jwt.ClaimStrings{DefaultAudience, "other"},
			ExpiresAt: jwt.NewNumericDate(internalNow.Add(time.Hour)), NotBefore: jwt.NewNumericDate(internalNow),
			IssuedAt: jwt.NewNumericDate(internalNow), ID: "j-1",
		},
		LoginID: "s-1", Roles: []string{"user", "admin"}, Scope: "read write",
	}
}

// requireSameAsJSON asserts that decodeMintedClaims, when it accepts
// payload, decodes it exactly as json.Unmarshal does, and reports whether
// it accepted.
func requireSameAsJSON(t *testing.T, payload string) bool {
	t.Helper()
	var fast Claims
	if !decodeMintedClaims(payload, &fast) {
		return false
	}
	var slow Claims
	require.NoError(t, json.Unmarshal([]byte(payload), &slow), "accepted what encoding/json refuses: %q", payload)
	require.Equal(t, slow, fast, "decoded differently from encoding/json: %q", payload)
	return true
}

func TestDecodeMintedClaimsAcceptsWhatTidegateMints(t *testing.T) {
	minimal := Claims{RegisteredClaims: jwt.RegisteredClaims{Subject: "u-1"}}
	escaped := fullClaims()
	escaped.Subject = `<a&"b\c>`
	for name, c := range map[string]Claims{
		"every member": fullClaims(),
		"one member":   minimal,
		"epoch dates": {RegisteredClaims: jwt.RegisteredClaims{
			ExpiresAt: jwt.NewNumericDate(time.Unix(0, 0)), IssuedAt: jwt.NewNumericDate(time.Unix(999999999999, 0))}},
	} {
		assert.True(t, requireSameAsJSON(t, mintedPayload(t, c)), name)
	}
	// json.Marshal escapes these; encoding/json decodes them instead.
	assert.False(t, requireSameAsJSON(t, mintedPayload(t, escaped)), "escaped")
}

func TestDecodeMintedClaimsLeavesEveryOtherFormToEncodingJSON(t *testing.T) {
	full := mintedPayload(t, fullClaims())
	for name, payload := range map[string]string{
		"empty":              "",
		"empty object":       "{}",
		"null":               "null",
		"whitespace":         strings.Replace(full, `,"sub"`, `, "sub"`, 1),
		"trailing":           full + " ",
		"another member":     strings.Replace(full, `"iss"`, `"x":1,"iss"`, 1),
		"members reordered":  `{"sub":"u-1","iss":"tidegate"}`,
		"a member twice":     `{"sub":"u-1","sub":"u-2"}`,
		"another case":       `{"Sub":"u-1"}`,
		"an escape":          `{"sub":"u\u002d1"}`,
		"non-ASCII":          `{"sub":"é"}`,
		"a control byte":     "{\"sub\":\"u\t1\"}",
		"unterminated":       `{"sub":"u-1}`,
		"aud as a string":    `{"aud":"tidegate"}`,
		"empty aud":          `{"aud":[]}`,
		"null aud":           `{"aud":null}`,
		"aud not strings":    `{"aud":[1]}`,
		"aud unterminated":   `{"aud":["a"`,
		"fractional date":    `{"exp":1.5}`,
		"exponent date":      `{"exp":1e9}`,
		"negative date":      `{"exp":-1}`,
		"leading zero":       `{"exp":01}`,
		"thirteen digits":    `{"exp":1000000000000}`,
		"string date":        `{"exp":"1"}`,
		"no closing brace":   `{"sub":"u-1"`,
		"a second object":    `{"sub":"u-1"}{}`,
		"string subject":     `{"sub":1}`,
		"roles not an array": `{"roles":"user"}`,
	} {
		assert.False(t, requireSameAsJSON(t, payload), name)
	}
}

// FuzzMintedClaims checks decodeMintedClaims against encoding/json: on
// every payload it accepts, encoding/json must accept it too and decode
// the same claims.
func FuzzMintedClaims(f *testing.F) {
	f.Add(mintedPayload(f, fullClaims()))
	f.Add(`{"iss":"tidegate","sub":"u-1","aud":["tidegate"],"exp":1767229200,"iat":1767225600,"jti":"j","sid":"s","roles":["user"]}`)
	f.Add(`{"sub":"u-1","exp":0}`)
	f.Fuzz(func(t *testing.T, payload string) {
		requireSameAsJSON(t, payload)
	})
}

// signedToken signs header and payload, both raw JSON, with HS256.
func signedToken(t testing.TB, secret []byte, header, payload string) string {
	t.Helper()
	input := base64.RawURLEncoding.EncodeToString([]byte(header)) + "." + base64.RawURLEncoding.EncodeToString([]byte(payload))
	sig, err := jwt.SigningMethodHS256.Sign(input, secret)
	require.NoError(t, err)
	return input + "." + base64.RawURLEncoding.EncodeToString(sig)
}

// mintedHS256Header is the header tidegate mints for the key hs1.
const mintedHS256Header = `{"alg":"HS256","kid":"hs1","typ":"at+jwt"}`

// mintedPayloadAt is a valid payload at internalNow, as tidegate mints it.
func mintedPayloadAt(t testing.TB) string {
	c := fullClaims()
	c.Audience = jwt.ClaimStrings{DefaultAudience}
	c.NotBefore = nil
	return mintedPayload(t, c)
}

func TestMintedTokensTakeTheFastPath(t *testing.T) {
	v := internalVerifier(t)
	hs, _ := v.keys.Lookup("hs1")
	c := fullClaims()
	signed, err := newAccessToken(hs, c).SignedString(internalSecret)
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(signed, base64.RawURLEncoding.EncodeToString([]byte(mintedHS256Header))+"."))

	var got, parsed accessClaims
	handled, err := v.minted.verify(signed, &got)
	require.True(t, handled)
	require.NoError(t, err)
	_, err = v.access.ParseWithClaims(signed, &parsed, v.keyfunc)
	require.NoError(t, err)
	assert.Equal(t, parsed, got, "the fast path decodes what golang-jwt decodes")
	assert.Equal(t, c.Subject, got.Subject)
	_, payload, _ := strings.Cut(signed, ".")
	payload, _, _ = strings.Cut(payload, ".")
	decoded, err := base64.RawURLEncoding.DecodeString(payload)
	require.NoError(t, err)
	assert.True(t, decodeMintedClaims(string(decoded), &Claims{}), "the claims tidegate mints take the scanner")
}

func TestFastPathRefusesAsTheParserDoes(t *testing.T) {
	v := internalVerifier(t)
	good := signedToken(t, internalSecret, mintedHS256Header, mintedPayloadAt(t))
	expired := fullClaims()
	expired.ExpiresAt = jwt.NewNumericDate(internalNow.Add(-time.Hour))
	for name, tc := range map[string]struct {
		token, reason string
	}{
		"forged":             {signedToken(t, internalOther, mintedHS256Header, mintedPayloadAt(t)), reasonSignature},
		"signature flipped":  {flipLast(good), reasonSignature},
		"signature too long": {good + strings.Repeat("A", 60), reasonSignature},
		"signature padded":   {good + "=", reasonMalformed},
		"a fourth segment":   {good + ".x", reasonMalformed},
		"no signature":       {strings.TrimSuffix(good, good[strings.LastIndexByte(good, '.'):]), reasonMalformed},
		"expired":            {signedToken(t, internalSecret, mintedHS256Header, mintedPayload(t, expired)), reasonExpired},
		"another issuer":     {signedToken(t, internalSecret, mintedHS256Header, strings.Replace(mintedPayloadAt(t), DefaultIssuer, "x", 1)), reasonIssuer},
	} {
		var c accessClaims
		handled, err := v.minted.verify(tc.token, &c)
		require.True(t, handled, name)
		assert.Equal(t, tc.reason, asReason(t, v.failure(nil, err)), name)
	}
	var c Claims
	require.NoError(t, v.parse(t.Context(), good, &c, false))
}

func TestFastPathLeavesOtherClaimsToTheParser(t *testing.T) {
	v := internalVerifier(t)
	valid := mintedPayloadAt(t)
	for name, tc := range map[string]struct {
		payload, reason string // reason "": golang-jwt accepts it
	}{
		"claims not JSON":    {"{", reasonMalformed},
		"no claims":          {"{}", reasonClaims},
		"null claims":        {"null", reasonClaims},
		"reordered":          {`{"sub":"u-1","iss":"tidegate"}`, reasonClaims},
		"whitespace":         {strings.Replace(valid, `,"sub"`, `, "sub"`, 1), ""},
		"trailing bytes":     {valid + "x", reasonMalformed},
		"an unknown member":  {strings.Replace(valid, `{"iss"`, `{"x":1,"iss"`, 1), ""},
		"an escaped subject": {strings.Replace(valid, `"sub":"u-1"`, `"sub":"u\u002d1"`, 1), ""},
	} {
		token := signedToken(t, internalSecret, mintedHS256Header, tc.payload)
		var c accessClaims
		handled, err := v.minted.verify(token, &c)
		assert.False(t, handled, name)
		assert.NoError(t, err, name)
		assert.Equal(t, accessClaims{}, c, "%s: nothing decoded is left behind", name)
		err = v.parse(t.Context(), token, (*Claims)(&c), false)
		if tc.reason == "" {
			assert.NoError(t, err, name)
		} else {
			assert.Equal(t, tc.reason, asReason(t, err), name)
		}
	}
}

func TestFastPathLeavesOtherHeadersToTheParser(t *testing.T) {
	v := internalVerifier(t)
	for name, header := range map[string]string{
		"reordered":     `{"kid":"hs1","alg":"HS256","typ":"at+jwt"}`,
		"whitespace":    `{"alg":"HS256", "kid":"hs1","typ":"at+jwt"}`,
		"crit":          `{"alg":"HS256","crit":["x"],"kid":"hs1","typ":"at+jwt"}`,
		"another typ":   `{"alg":"HS256","kid":"hs1","typ":"JWT"}`,
		"alg none":      `{"alg":"none","kid":"hs1","typ":"at+jwt"}`,
		"another key":   `{"alg":"HS256","kid":"ed1","typ":"at+jwt"}`,
		"unknown key":   `{"alg":"HS256","kid":"hs2","typ":"at+jwt"}`,
		"prefixed typ":  `{"alg":"HS256","kid":"hs1","typ":"application/at+jwt"}`,
		"key parameter": `{"alg":"HS256","jku":"https://x","kid":"hs1","typ":"at+jwt"}`,
	} {
		handled, err := v.minted.verify(signedToken(t, internalSecret, header, mintedPayloadAt(t)), &accessClaims{})
		assert.False(t, handled, name)
		assert.NoError(t, err, name)
	}
}

// FuzzMintedHeaders checks the fast path against golang-jwt's parser: a
// token signed with the configured secret (or, when forged, another one)
// over any header and payload must get the same outcome, and when accepted
// the same claims, from a verifier with the fast path and from one
// without.
func FuzzMintedHeaders(f *testing.F) {
	valid := `{"iss":"tidegate","sub":"u-1","aud":["tidegate"],"exp":1767229200,"iat":1767225600,"jti":"j","sid":"s","roles":["user"]}`
	f.Add(mintedHS256Header, valid, false)
	f.Add(mintedHS256Header, valid, true)
	f.Add(`{"kid":"hs1","alg":"HS256","typ":"at+jwt"}`, valid, false)
	f.Add(mintedHS256Header, `{"aud":"tidegate","exp":1767229200,"iat":1767225600,"iss":"tidegate","jti":"j","sub":"u-1"}`, false)
	f.Add(mintedHS256Header, `{"iss":"tidegate","sub":"u-1","aud":["tidegate"],"exp":1767222000,"iat":1767225600,"jti":"j"}`, false)
	f.Add(mintedHS256Header, "null", false)
	fast := internalVerifier(f)
	slow := internalVerifier(f)
	slow.minted = nil
	f.Fuzz(func(t *testing.T, header, payload string, forged bool) {
		secret := internalSecret
		if forged {
			secret = internalOther
		}
		token := signedToken(t, secret, header, payload)
		var fc, sc Claims
		fastErr := fast.parse(t.Context(), token, &fc, false)
		slowErr := slow.parse(t.Context(), token, &sc, false)
		require.Equal(t, slowErr == nil, fastErr == nil, "outcomes differ on %q %q: fast %v, golang-jwt %v", header, payload, fastErr, slowErr)
		if fastErr == nil {
			require.Equal(t, sc, fc)
			require.False(t, forged)
		}
	})
}
