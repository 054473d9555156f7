package bearer

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/tidegate/tidegate/middleware"
)

var strictRawURL = base64.RawURLEncoding.Strict()

func TestDecodeSegment(t *testing.T) {
	tests := []struct {
		in   string
		want string // "" with ok=false means refused
		ok   bool
	}{
		{"", "", true},
		{"YQ", "a", true},
		{"YWI", "ab", true},
		{"YWJj", "abc", true},
		{"_-8", "\xff\xef", true},
		{"YR", "", false},     // non-canonical: trailing bits set
		{"YWJ", "", false},    // non-canonical
		{"Y", "", false},      // a lone 6-bit group
		{"YQ==", "", false},   // padding
		{"YQ=", "", false},    // padding
		{"Y+8", "", false},    // standard alphabet
		{"Y/8", "", false},    // standard alphabet
		{"YW\nJj", "", false}, // encoding/base64 would skip the newline
		{"YW Jj", "", false},
		{"YWJj\x00", "", false},
	}
	for _, tc := range tests {
		var buf [16]byte
		n := decodeSegment(buf[:], tc.in)
		if !tc.ok {
			assert.Equal(t, -1, n, "%q", tc.in)
			continue
		}
		require.GreaterOrEqual(t, n, 0, "%q", tc.in)
		assert.Equal(t, tc.want, string(buf[:n]), "%q", tc.in)
	}
	var small [2]byte
	assert.Equal(t, -1, decodeSegment(small[:], "YWJj"), "a destination too small is refused")
}

// FuzzDecodeSegment checks decodeSegment against base64.RawURLEncoding.Strict():
// it accepts exactly what the standard decoder accepts, except line breaks,
// which the standard decoder skips and decodeSegment refuses.
func FuzzDecodeSegment(f *testing.F) {
	for _, s := range []string{"", "YQ", "YWI", "YWJj", "YR", "YQ==", "Y+8", "YW\nJj", "_-8"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		buf := make([]byte, decodedLen(len(s))+1)
		n := decodeSegment(buf, s)
		want, err := strictRawURL.DecodeString(s)
		if n >= 0 {
			require.NoError(t, err)
			require.Equal(t, want, buf[:n])
			return
		}
		if err == nil {
			require.True(t, strings.ContainsAny(s, "\r\n"), "refused %q, which the standard decoder accepts", s)
		}
	})
}

func TestParseHeader(t *testing.T) {
	ok := map[string][3]string{
		`{"alg":"HS256","kid":"k","typ":"at+jwt"}`:                                {"HS256", "k", "at+jwt"},
		` { "typ" : "at+jwt" , "kid":"k" ,"alg":"EdDSA" } `:                       {"EdDSA", "k", "at+jwt"},
		`{"alg":"HS256","kid":"k","typ":"at+jwt","cty":"x","n":-1.5e+3,"b":true}`: {"HS256", "k", "at+jwt"},
		`{"alg":"HS256","kid":"k","typ":"at+jwt","z":null,"f":false,"zero":0}`:    {"HS256", "k", "at+jwt"},
	}
	for in, want := range ok {
		h, reason := parseHeader([]byte(in))
		require.Empty(t, reason, in)
		assert.Equal(t, want, [3]string{string(h.alg), string(h.kid), string(h.typ)}, in)
	}
	refused := map[string]string{
		``:                               reasonHeader,
		`{}`:                             reasonHeader,
		`{"alg":"HS256","kid":"k"}`:      reasonHeader,
		`{"alg":"HS256","typ":"at+jwt"}`: reasonHeader,
		`{"kid":"k","typ":"at+jwt"}`:     reasonHeader,
		`{"alg":"HS256","alg":"none","kid":"k","typ":"at+jwt"}`:      reasonHeader,
		`{"alg":1,"kid":"k","typ":"at+jwt"}`:                         reasonHeader,
		`{"alg":"HS256","kid":"k","typ":"at+jwt"} x`:                 reasonHeader,
		`{"alg":"HS256","kid":"k","typ":"at+jwt",}`:                  reasonHeader,
		`{"alg":"HS256" "kid":"k","typ":"at+jwt"}`:                   reasonHeader,
		`{"alg":"HS\u0032\u0035\u0036","kid":"k","typ":"at+jwt"}`:    reasonHeader,
		`{"alg":"HS256","kid":"é","typ":"at+jwt"}`:                   reasonHeader,
		`{"alg":"HS256","kid":"k","typ":"at+jwt","x":01}`:            reasonHeader,
		`{"alg":"HS256","kid":"k","typ":"at+jwt","x":1.}`:            reasonHeader,
		`{"alg":"HS256","kid":"k","typ":"at+jwt","x":-}`:             reasonHeader,
		`{"alg":"HS256","kid":"k","typ":"at+jwt","x":tru}`:           reasonHeader,
		`{"alg":"HS256","kid":"k","typ":"at+jwt","x":{}}`:            reasonHeader,
		`{"alg":"HS256","kid":"k","typ":"at+jwt","x":[]}`:            reasonHeader,
		`{"alg":"HS256","kid":"k","typ":"at+jwt","crit":["exp"]}`:    reasonCrit,
		`{"alg":"HS256","kid":"k","typ":"at+jwt","jku":"https://x"}`: reasonKeyParam,
		`{"alg":"HS256","kid":"k","typ":"at+jwt","jwk":{}}`:          reasonKeyParam,
		`{"alg":"HS256","kid":"k","typ":"at+jwt","x5u":"https://x"}`: reasonKeyParam,
		`{"alg":"HS256","kid":"k","typ":"at+jwt","x5c":[]}`:          reasonKeyParam,
		`{"alg":"HS256","kid":"k","typ":"at+jwt","x5t#S256":"abc"}`:  reasonKeyParam,
		"{\"alg\":\"HS256\",\"kid\":\"k\",\"typ\":\"at+jwt\"}\x00":   reasonHeader,
		"{\"alg\":\"HS256\",\"kid\":\"k\x01\",\"typ\":\"at+jwt\"}":   reasonHeader,
		`["alg","HS256"]`: reasonHeader,
	}
	for in, want := range refused {
		_, reason := parseHeader([]byte(in))
		assert.Equal(t, want, reason, in)
	}
}

// FuzzParseHeader checks that whatever parseHeader accepts, encoding/json
// reads as the same alg, kid and typ, with none of the refused members.
func FuzzParseHeader(f *testing.F) {
	for _, s := range []string{
		`{"alg":"HS256","kid":"k","typ":"at+jwt"}`,
		`{"alg":"HS256","kid":"k","typ":"at+jwt","n":-1.5e3,"t":true,"z":null}`,
		`{"alg":"HS256","kid":"k","typ":"at+jwt","crit":["b64"]}`,
		`{"alg":"none","kid":"k","typ":"JWT"}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		h, reason := parseHeader(data)
		if reason != "" {
			return
		}
		var m map[string]any
		require.NoError(t, json.Unmarshal(data, &m), "%q", data)
		assert.Equal(t, string(h.alg), m["alg"])
		assert.Equal(t, string(h.kid), m["kid"])
		assert.Equal(t, string(h.typ), m["typ"])
		for _, refused := range []string{"crit", "jku", "jwk", "x5u", "x5c", "x5t", "x5t#S256"} {
			assert.NotContains(t, m, refused)
		}
	})
}

// claimsCorpus are payloads for the decoder tests: the fast path's shapes
// and the shapes it must leave to encoding/json.
var claimsCorpus = []string{
	`{"iss":"i","sub":"s","aud":["a"],"exp":1767225600,"iat":1767196800,"jti":"j","sid":"f","roles":["user","admin"]}`,
	`{"iss":"i","sub":"s","aud":"a","exp":1767225600,"nbf":0,"iat":1767196800,"jti":"j","scope":"read write"}`,
	` { "aud" : [ ] , "roles" : [ ] , "sub" : "é" } `,
	`{}`,
	`{"sub":"s\u00e9"}`,
	`{"SUB":"s"}`,
	`{"sub":"a","sub":"b"}`,
	`{"exp":1.5}`,
	`{"exp":1e9}`,
	`{"exp":-1}`,
	`{"exp":01}`,
	`{"exp":"1767225600"}`,
	`{"exp":null}`,
	`{"exp":9999999999999999}`,
	`{"aud":[null]}`,
	`{"roles":null}`,
	`{"roles":[1]}`,
	`{"other":{"nested":[1,2]}}`,
	`{"sub":"a"} `,
	`{"sub":"a"}x`,
	"{\"sub\":\"\xff\"}",
	"{\"sub\":\"a\tb\"}",
	`{"sub":"a",}`,
	`[]`,
	``,
}

// FuzzDecodeClaims checks that decodeClaims reads every payload exactly as
// encoding/json (golang-jwt's decoder) does, and that the fast path never
// accepts what encoding/json would read differently.
func FuzzDecodeClaims(f *testing.F) {
	for _, s := range claimsCorpus {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, payload string) {
		var ref Claims
		refErr := json.Unmarshal([]byte(payload), &ref)
		var fast Claims
		if decodeClaimsFast(payload, &fast) {
			require.NoError(t, refErr, "fast path accepted %q", payload)
			require.Equal(t, ref, fast, "%q", payload)
		}
		var got Claims
		err := decodeClaims(payload, &got)
		require.Equal(t, refErr == nil, err == nil, "%q", payload)
		if err == nil {
			require.Equal(t, ref, got, "%q", payload)
		}
	})
}

func TestDecodeClaimsFastPath(t *testing.T) {
	var c Claims
	require.True(t, decodeClaimsFast(claimsCorpus[0], &c), "tidegate's own shape takes the fast path")
	assert.Equal(t, Claims{
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer: "i", Subject: "s", Audience: jwt.ClaimStrings{"a"}, ID: "j",
			ExpiresAt: jwt.NewNumericDate(time.Unix(1767225600, 0)),
			IssuedAt:  jwt.NewNumericDate(time.Unix(1767196800, 0)),
		},
		LoginID: "f", Roles: []string{"user", "admin"},
	}, c)
	for _, s := range []string{`{"sub":"s\u00e9"}`, `{"SUB":"s"}`, `{"exp":1.5}`, `{"exp":null}`, `{"sub":"a","sub":"b"}`} {
		assert.False(t, decodeClaimsFast(s, &Claims{}), "%s goes to encoding/json", s)
	}
}

func TestParseFields(t *testing.T) {
	got, err := parseFields([]byte(` {"password":"p\u00e9","username":"u"} `), "username", "password")
	require.NoError(t, err)
	assert.Equal(t, []string{"u", "pé"}, got)
	for _, bad := range []string{``, `null`, `{}`, `[]`, `"x"`, `{"username":"u"}`, `{"username":"u","password":1}`,
		`{"username":"u","password":"p","x":"y"}`, `{"username":"u","username":"u","password":"p"}`,
		`{"username":"u","password":"p"}{}`, `{"username":"u","password":"p"`, `{"Username":"u","password":"p"}`,
		`{"username":["u"],"password":"p"}`, `{"username":"u","password":{"a":"b"}}`} {
		_, err := parseFields([]byte(bad), "username", "password")
		assert.ErrorIs(t, err, errBadBody, bad)
	}
}

// FuzzParseFields checks the login body parser: no panic, and whatever it
// accepts is an object of exactly those string members to encoding/json.
func FuzzParseFields(f *testing.F) {
	for _, s := range []string{`{"username":"u","password":"p"}`, `{"username":"u"}`, `{"username":1,"password":"p"}`,
		`{"username":"u","password":"p","x":1}`, `{"username":"u","password":"p"} []`, `{"username":"\ud800","password":"p"}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		got, err := parseFields(data, "username", "password")
		if err != nil {
			return
		}
		var m map[string]any
		dec := json.NewDecoder(bytes.NewReader(data))
		require.NoError(t, dec.Decode(&m), "%q", data)
		require.Equal(t, map[string]any{"username": got[0], "password": got[1]}, m, "%q", data)
	})
}

func TestVerifierRefusesOversizedTokensItself(t *testing.T) {
	key, err := NewHMACKey("k", []byte("\x05\xbf\xeb\x32\x46\x08\x57\x9b\x74\xfc\x4c\xd0\xed\x63\xd4\x9e\x11\xfc\x96\x55\xe3\x7d\x80\xc2\xe0\xb7\xdd\x5c\xa8\x10\x77\x18"))
	require.NoError(t, err)
	set, err := NewKeySet(key)
	require.NoError(t, err)
	v := &tokenVerifier{keys: set, maxBytes: 600, now: time.Now}
	var c Claims
	err = v.parse(t.Context(), strings.Repeat("a", 601), &c, false)
	assert.Equal(t, reasonOversized, asReason(t, err))
	err = v.parse(t.Context(), strings.Repeat("a", 590)+"..", &c, false)
	assert.Equal(t, reasonSyntax, asReason(t, err))
}

// asReason returns the Reason of a verification error.
func asReason(t *testing.T, err error) string {
	t.Helper()
	e := middleware.AsError(err)
	require.NotNil(t, e)
	return e.Reason
}

// FuzzDecodeJWKS fuzzes the JWKS document reader: no panic, and every key
// it returns is a verification key of a supported algorithm under a valid
// kid.
func FuzzDecodeJWKS(f *testing.F) {
	for _, s := range []string{
		`{"keys":[{"kty":"OKP","crv":"Ed25519","kid":"ed1","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}]}`,
		`{"keys":[{"kty":"EC","crv":"P-256","kid":"es1","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}]}`,
		`{"keys":[{"kty":"oct","kid":"k","k":"AAAA"}]}`,
		`{"keys":[]}`,
		`{}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		keys, err := decodeJWKS(data)
		if err != nil {
			return
		}
		for kid, k := range keys {
			require.Equal(t, kid, k.ID())
			require.True(t, validKID(kid))
			require.Contains(t, []string{EdDSA, ES256}, k.Algorithm())
			require.False(t, k.CanSign())
		}
	})
}
