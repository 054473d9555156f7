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
// payload, decodes it exactly as decodeClaims (encoding/json with exact
// member names, which golang-jwt's parser runs) does, and reports whether
// it accepted.
func requireSameAsJSON(t *testing.T, payload string) bool {
	t.Helper()
	var fast Claims
	if !decodeMintedClaims(payload, &fast) {
		return false
	}
	var slow Claims
	require.NoError(t, decodeClaims([]byte(payload), &slow), "accepted what the full decoder refuses: %q", payload)
	require.Equal(t, slow, fast, "decoded differently from the full decoder: %q", payload)
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

// FuzzMintedClaims checks decodeMintedClaims against decodeClaims: on
// every payload it accepts, decodeClaims must accept it too and decode
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
	key, err := NewHMACKey("hs1", secret)
	require.NoError(t, err)
	return signerOf(key)(t, header, payload)
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
	slow := *v
	slow.minted = nil
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
		assert.Equal(t, tc.reason, asReason(t, v.failure(nil, nil, err)), name)
		var parsed Claims
		assert.Equal(t, tc.reason, asReason(t, slow.parse(t.Context(), tc.token, &parsed, forAccess)), "%s: golang-jwt refuses it alike", name)
	}
	var c Claims
	require.NoError(t, v.parse(t.Context(), good, &c, forAccess))
	require.NoError(t, slow.parse(t.Context(), good, &c, forAccess))
}

// TestParseRefusesWhatIsNotACompactJWS: a token must be three base64url
// segments and nothing else (RFC 7515 §2, §7.1) before any path looks at
// it. Go's base64 decoders skip CR and LF even in strict mode, so without
// this check golang-jwt accepted a valid token with a line break appended
// or inside, when a Verifier was called directly. Every path refuses the
// same tokens: the fast one, the parser alone, and the refresh parser.
func TestParseRefusesWhatIsNotACompactJWS(t *testing.T) {
	v := internalVerifier(t)
	slow := *v
	slow.minted = nil
	signers := fuzzSigners(t, v)
	hs := signers[[2]bool{false, false}](t, mintedHS256Header, mintedPayloadAt(t))
	ed := signers[[2]bool{true, false}](t, mintedEdDSAHeader, mintedPayloadAt(t))
	header, rest, _ := strings.Cut(hs, ".")
	for name, token := range map[string]string{
		"HS256, LF after":     hs + "\n",
		"HS256, CRLF after":   hs + "\r\n",
		"EdDSA, LF after":     ed + "\n",
		"LF in the signature": hs[:len(hs)-5] + "\n" + hs[len(hs)-5:],
		"CR in the payload":   header + "." + rest[:10] + "\r" + rest[10:],
		"LF before":           "\n" + hs,
		"a space inside":      header + ". " + rest,
		"padding":             hs + "=",
		"standard base64 '+'": hs[:len(hs)-1] + "+",
		"standard base64 '/'": hs[:len(hs)-1] + "/",
		"four segments":       hs + ".",
		"two segments":        header + "." + rest[:strings.IndexByte(rest, '.')],
		"a byte over 0x7f":    hs + "\xc3\xa9",
		"a NUL":               hs + "\x00",
	} {
		for path, verifier := range map[string]*tokenVerifier{"fast": v, "parser": &slow} {
			for _, mode := range []parseMode{forAccess, forRefresh, forLogout} {
				err := verifier.parse(t.Context(), token, &Claims{}, mode)
				assert.Equal(t, reasonMalformed, asReason(t, err), "%s, %s path, mode %d", name, path, mode)
			}
		}
	}
	for name, token := range map[string]string{"HS256": hs, "EdDSA": ed} {
		for path, verifier := range map[string]*tokenVerifier{"fast": v, "parser": &slow} {
			assert.NoError(t, verifier.parse(t.Context(), token, &Claims{}, forAccess), "%s, %s path: the valid token itself", name, path)
		}
	}
}

func TestKeySetRefusesAKeyNoConstructorMade(t *testing.T) {
	hs, err := NewHMACKey("hs1", internalSecret)
	require.NoError(t, err)
	_, err = NewKeySet(hs, &Key{})
	require.Error(t, err)
	_, err = NewKeySet(hs, nil)
	require.Error(t, err)
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
		err = v.parse(t.Context(), token, (*Claims)(&c), forAccess)
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
// token signed by the key hs1 or ed1 (or, when forged, by a key of the same
// algorithm that is not configured) over any header and payload, with any
// suffix after its signature, must get the same outcome, and when accepted
// the same claims, from a verifier with the fast path and from the same
// verifier without it.
func FuzzMintedHeaders(f *testing.F) {
	valid := `{"iss":"tidegate","sub":"u-1","aud":["tidegate"],"exp":1767229200,"iat":1767225600,"jti":"j","sid":"s","roles":["user"]}`
	f.Add(mintedHS256Header, valid, "", false, false)
	f.Add(mintedHS256Header, valid, "", false, true)
	f.Add(mintedEdDSAHeader, valid, "", true, false)
	f.Add(mintedEdDSAHeader, valid, "\n", true, false)
	f.Add(mintedHS256Header, valid, "\r\n", false, false)
	f.Add(mintedHS256Header, valid, "A", false, false)
	f.Add(mintedHS256Header, valid, ".x", false, false)
	f.Add(`{"kid":"hs1","alg":"HS256","typ":"at+jwt"}`, valid, "", false, false)
	f.Add(mintedHS256Header, `{"aud":"tidegate","exp":1767229200,"iat":1767225600,"iss":"tidegate","jti":"j","sub":"u-1"}`, "", false, false)
	f.Add(mintedHS256Header, `{"iss":"tidegate","sub":"u-1","aud":["tidegate"],"exp":1767222000,"iat":1767225600,"jti":"j"}`, "", false, false)
	f.Add(mintedHS256Header, "null", "", false, false)
	fast := internalVerifier(f)
	slow := *fast
	slow.minted = nil
	signers := fuzzSigners(f, fast)
	f.Fuzz(func(t *testing.T, header, payload, suffix string, ed, forged bool) {
		sign := signers[[2]bool{ed, forged}]
		token := sign(t, header, payload) + suffix
		var fc, sc Claims
		fastErr := fast.parse(t.Context(), token, &fc, forAccess)
		slowErr := slow.parse(t.Context(), token, &sc, forAccess)
		require.Equal(t, slowErr == nil, fastErr == nil, "outcomes differ on %q: fast %v, golang-jwt %v", token, fastErr, slowErr)
		if fastErr == nil {
			require.Equal(t, sc, fc)
			require.False(t, forged)
		}
	})
}

// mintedEdDSAHeader is the header tidegate mints for the key ed1.
const mintedEdDSAHeader = `{"alg":"EdDSA","kid":"ed1","typ":"at+jwt"}`

// tokenSigner signs a raw JSON header and payload into a compact JWS.
type tokenSigner func(t testing.TB, header, payload string) string

// fuzzSigners returns v's keys hs1 and ed1 as signers, by {ed, forged}: a
// forged signer signs with a key of the same algorithm that v does not have.
func fuzzSigners(t testing.TB, v *tokenVerifier) map[[2]bool]tokenSigner {
	hs, _ := v.keys.Lookup("hs1")
	ed, _ := v.keys.Lookup("ed1")
	otherHS, err := NewHMACKey("hs1", internalOther)
	require.NoError(t, err)
	otherEd, err := GenerateKey("ed1", EdDSA)
	require.NoError(t, err)
	return map[[2]bool]tokenSigner{
		{false, false}: signerOf(hs), {false, true}: signerOf(otherHS),
		{true, false}: signerOf(ed), {true, true}: signerOf(otherEd),
	}
}

// signerOf signs with key, whatever alg the header names.
func signerOf(key *Key) tokenSigner {
	return func(t testing.TB, header, payload string) string {
		t.Helper()
		input := base64.RawURLEncoding.EncodeToString([]byte(header)) + "." + base64.RawURLEncoding.EncodeToString([]byte(payload))
		sig, err := key.method.Sign(input, key.signingKey())
		require.NoError(t, err)
		return input + "." + base64.RawURLEncoding.EncodeToString(sig)
	}
}
