package adversarial_test

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// seg is one JWS segment: base64url without padding (RFC 7515 §2).
func seg(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }

// signer signs a JWS signing input and returns the signature segment.
type signer func(input string) string

// hmacSigner signs with HMAC-SHA256 under key (HS256).
func hmacSigner(key []byte) signer {
	return func(input string) string {
		mac := hmac.New(sha256.New, key)
		mac.Write([]byte(input))
		return base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
	}
}

// methodSigner signs with a golang-jwt signing method and key.
func methodSigner(t testing.TB, m jwt.SigningMethod, key any) signer {
	return func(input string) string {
		sig, err := m.Sign(input, key)
		require.NoError(t, err)
		return base64.RawURLEncoding.EncodeToString(sig)
	}
}

// noSignature is the empty signature of alg "none".
func noSignature(string) string { return "" }

// jws assembles a compact JWS from header and payload JSON text, taken
// verbatim (so duplicate members and non-object JSON can be sent).
func jws(header, payload string, sign signer) string {
	input := seg(header) + "." + seg(payload)
	return secret(input + "." + sign(input))
}

// serverKID is the kid of testJWTKey: bearer derives it from the secret
// (base64url of the first 9 bytes of SHA-256("HS256" NUL secret)).
func serverKID() string {
	sum := sha256.Sum256(append([]byte("HS256\x00"), jwtSecret...))
	return base64.RawURLEncoding.EncodeToString(sum[:9])
}

// claimsAt is the payload of a genuine access token issued at now to
// mary, with extra members (JSON text, each `"name":value`) appended.
func claimsAt(now time.Time, extra ...string) string {
	members := []string{
		`"iss":"tidegate"`, `"sub":"` + mary.UserID + `"`, `"aud":["tidegate"]`,
		fmt.Sprintf(`"exp":%d`, now.Add(time.Hour).Unix()), fmt.Sprintf(`"iat":%d`, now.Unix()),
		`"jti":"` + newJTI() + `"`, `"sid":"adversarial-login"`, `"roles":["user"]`,
	}
	return "{" + strings.Join(append(members, extra...), ",") + "}"
}

var jtiCounter atomic.Int64

func newJTI() string { return fmt.Sprintf("adversarial-%d", jtiCounter.Add(1)) }

// claimsWithout is claimsAt without the named members.
func claimsWithout(now time.Time, names ...string) string {
	var m map[string]json.RawMessage
	_ = json.Unmarshal([]byte(claimsAt(now)), &m)
	for _, n := range names {
		delete(m, n)
	}
	b, _ := json.Marshal(m)
	return string(b)
}

// headerJSON is a JOSE header with alg HS256, the server's kid and typ
// at+jwt, with members replaced or added (JSON text values) or removed
// (value "").
func headerJSON(set ...string) string {
	members := [][2]string{{"alg", `"HS256"`}, {"kid", `"` + serverKID() + `"`}, {"typ", `"at+jwt"`}}
	for i := 0; i+1 < len(set); i += 2 {
		found := false
		for j := range members {
			if members[j][0] == set[i] {
				members[j][1], found = set[i+1], true
			}
		}
		if !found {
			members = append(members, [2]string{set[i], set[i+1]})
		}
	}
	var parts []string
	for _, m := range members {
		if m[1] != "" {
			parts = append(parts, `"`+m[0]+`":`+m[1])
		}
	}
	return "{" + strings.Join(parts, ",") + "}"
}

// nested returns depth levels of JSON arrays.
func nested(depth int) string { return strings.Repeat("[", depth) + strings.Repeat("]", depth) }

// jwtCase is a token and the exact answer of /whoami; /api/v1/ping must
// answer the same failure, or {"authenticated":true} for a success.
type jwtCase struct {
	name  string
	token string // sent as "Authorization: Bearer <token>"
	want  want
}

// TestJWTForgery sends forged, tampered and malformed JWTs to /whoami and
// /api/v1/ping. Only tokens signed with the server's HS256 key, under its
// kid, with alg HS256, typ at+jwt, no key-carrying header, and the claims
// iss, sub, aud, exp, iat and jti in order, are accepted. A control case
// minted by the same code with the real key passes, so every refusal is
// due to the one trick its case plays.
func TestJWTForgery(t *testing.T) {
	t.Parallel()
	s := newServer(t, setup{})
	issued := s.bearerLogin(t, mary.Username, mary.Password).Access
	now := time.Now()
	key := hmacSigner(jwtSecret)
	wrongKey := hmacSigner([]byte(secret("a different key of thirty-two bytes!")))
	parts := strings.Split(issued, ".")
	require.Len(t, parts, 3)
	realHeader, _ := base64.RawURLEncoding.DecodeString(parts[0])
	var hdr map[string]any
	require.NoError(t, json.Unmarshal(realHeader, &hdr))
	require.Equal(t, serverKID(), hdr["kid"], "the suite derives the server's kid as bearer does")

	// Keys of other algorithms, and a server that counts key fetches.
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	ecKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	_, edKey, err := ed25519.GenerateKey(rand.Reader)
	require.NoError(t, err)
	var fetches atomic.Int64
	keyHost := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fetches.Add(1)
		_, _ = w.Write([]byte(`{"keys":[{"kty":"oct","k":"` + seg("attacker key of thirty-two bytes") + `"}]}`))
	}))
	t.Cleanup(keyHost.Close)
	jwks := s.get(t, "/.well-known/jwks.json").body
	attackerJWK := `{"kty":"oct","k":"` + seg("attacker key of thirty-two bytes") + `"}`

	ok := want{status: 200, cacheable: true, body: whoamiBody(mary.UserID, "bearer", "user", "", "user")}
	claims := claimsAt(now)
	good := jws(headerJSON(), claims, key)
	goodSig := good[strings.LastIndexByte(good, '.')+1:]
	input := good[:strings.LastIndexByte(good, '.')]
	// A genuine token of about size bytes: roles pad it out.
	genuineOfSize := func(size int) string {
		base := jws(headerJSON(), claimsAt(now), key)
		pad := (size - len(base)) * 3 / 4
		return jws(headerJSON(), claimsAt(now, `"x":"`+strings.Repeat("r", pad-10)+`"`), key)
	}
	big := genuineOfSize(8100)
	require.True(t, len(big) > 7900 && len(big) <= 8192, "%d", len(big))
	tooBig := genuineOfSize(8300)
	require.Greater(t, len(tooBig), 8192)

	cases := []jwtCase{
		// Controls.
		{"control/issued by the server", issued, wantMaryBearer},
		{"control/minted here with the server's key", good, ok},
		{"control/typ at+JWT (media types are case-insensitive)", jws(headerJSON("typ", `"at+JWT"`), claimsAt(now), key), ok},
		{"control/typ application/at+jwt", jws(headerJSON("typ", `"application/at+jwt"`), claimsAt(now), key), ok},
		{"control/aud as a string", jws(headerJSON(), strings.Replace(claimsAt(now), `"aud":["tidegate"]`, `"aud":"tidegate"`, 1), key), ok},
		{"control/aud among others", jws(headerJSON(), strings.Replace(claimsAt(now), `"aud":["tidegate"]`, `"aud":["other","tidegate"]`, 1), key), ok},
		{"control/genuine token over 1 KiB", genuineOfSize(1500), ok},
		{"control/genuine token of nearly 8 KiB", big, ok},

		// alg tricks.
		{"alg/none", jws(headerJSON("alg", `"none"`), claims, noSignature), wantBearerInvalid},
		{"alg/None", jws(headerJSON("alg", `"None"`), claims, noSignature), wantBearerInvalid},
		{"alg/NONE", jws(headerJSON("alg", `"NONE"`), claims, noSignature), wantBearerInvalid},
		{"alg/nOnE", jws(headerJSON("alg", `"nOnE"`), claims, noSignature), wantBearerInvalid},
		{"alg/none without kid or typ", jws(`{"alg":"none"}`, claims, noSignature), wantBearerInvalid},
		{"alg/none with the real signature", jws(headerJSON("alg", `"none"`), claims, key), wantBearerInvalid},
		{"alg/none over a real token's payload", secret(seg(`{"alg":"none","typ":"at+jwt","kid":"`+serverKID()+`"}`) + "." + parts[1] + "."), wantBearerInvalid},
		{"alg/missing", jws(headerJSON("alg", ""), claims, key), wantBearerInvalid},
		{"alg/null", jws(headerJSON("alg", "null"), claims, key), wantBearerInvalid},
		{"alg/number", jws(headerJSON("alg", "256"), claims, key), wantBearerInvalid},
		{"alg/array", jws(headerJSON("alg", `["HS256"]`), claims, key), wantBearerInvalid},
		{"alg/object", jws(headerJSON("alg", `{"alg":"HS256"}`), claims, key), wantBearerInvalid},
		{"alg/empty", jws(headerJSON("alg", `""`), claims, key), wantBearerInvalid},
		{"alg/trailing space", jws(headerJSON("alg", `"HS256 "`), claims, key), wantBearerInvalid},
		{"alg/lower case hs256", jws(headerJSON("alg", `"hs256"`), claims, key), wantBearerInvalid},
		{"alg/HS384 with the server's key", jws(headerJSON("alg", `"HS384"`), claims, methodSigner(t, jwt.SigningMethodHS384, jwtSecret)), wantBearerInvalid},
		{"alg/HS512 with the server's key", jws(headerJSON("alg", `"HS512"`), claims, methodSigner(t, jwt.SigningMethodHS512, jwtSecret)), wantBearerInvalid},
		{"alg/RS256 under the server's kid", jws(headerJSON("alg", `"RS256"`), claims, methodSigner(t, jwt.SigningMethodRS256, rsaKey)), wantBearerInvalid},
		{"alg/PS256 under the server's kid", jws(headerJSON("alg", `"PS256"`), claims, methodSigner(t, jwt.SigningMethodPS256, rsaKey)), wantBearerInvalid},
		{"alg/ES256 under the server's kid", jws(headerJSON("alg", `"ES256"`), claims, methodSigner(t, jwt.SigningMethodES256, ecKey)), wantBearerInvalid},
		{"alg/EdDSA under the server's kid", jws(headerJSON("alg", `"EdDSA"`), claims, methodSigner(t, jwt.SigningMethodEdDSA, edKey)), wantBearerInvalid},

		// Key confusion: HS256 under the right kid, wrong key material.
		{"key/another secret", jws(headerJSON(), claims, wrongKey), wantBearerInvalid},
		{"key/the key file's text instead of its bytes", jws(headerJSON(), claims, hmacSigner([]byte(testJWTKey))), wantBearerInvalid},
		{"key/the kid as the secret", jws(headerJSON(), claims, hmacSigner([]byte(serverKID()))), wantBearerInvalid},
		{"key/the JWKS document as the secret", jws(headerJSON(), claims, hmacSigner([]byte(jwks))), wantBearerInvalid},
		{"key/an empty secret", jws(headerJSON(), claims, hmacSigner(nil)), wantBearerInvalid},
		{"key/an RSA public key's DER as the secret", jws(headerJSON(), claims, hmacSigner(rsaKey.PublicKey.N.Bytes())), wantBearerInvalid},

		// kid.
		{"kid/unknown", jws(headerJSON("kid", `"other"`), claims, key), wantBearerInvalid},
		{"kid/missing", jws(headerJSON("kid", ""), claims, key), wantBearerInvalid},
		{"kid/empty", jws(headerJSON("kid", `""`), claims, key), wantBearerInvalid},
		{"kid/number", jws(headerJSON("kid", "1"), claims, key), wantBearerInvalid},
		{"kid/null", jws(headerJSON("kid", "null"), claims, key), wantBearerInvalid},
		{"kid/path traversal", jws(headerJSON("kid", `"../../../../dev/null"`), claims, hmacSigner(nil)), wantBearerInvalid},
		{"kid/SQL", jws(headerJSON("kid", `"x' UNION SELECT 'key"`), claims, hmacSigner([]byte("key"))), wantBearerInvalid},
		{"kid/the server's with a trailing space", jws(headerJSON("kid", `"`+serverKID()+` "`), claims, key), wantBearerInvalid},
		{"kid/the server's in upper case", jws(headerJSON("kid", `"`+strings.ToUpper(serverKID())+`"`), claims, key), wantBearerInvalid},

		// Key-carrying and critical header parameters (RFC 8725 §3.10,
		// RFC 7515 §4.1.11): refused even with the right signature, and
		// nothing is ever fetched.
		{"header/jku", jws(headerJSON("jku", `"`+keyHost.URL+`/jwks.json"`), claims, key), wantBearerInvalid},
		{"header/jku with the attacker's key", jws(headerJSON("jku", `"`+keyHost.URL+`/jwks.json"`, "kid", `"attacker"`), claims, hmacSigner([]byte("attacker key of thirty-two bytes"))), wantBearerInvalid},
		{"header/jwk with the attacker's key", jws(headerJSON("jwk", attackerJWK), claims, hmacSigner([]byte("attacker key of thirty-two bytes"))), wantBearerInvalid},
		{"header/jwk with the right signature", jws(headerJSON("jwk", attackerJWK), claims, key), wantBearerInvalid},
		{"header/x5u", jws(headerJSON("x5u", `"`+keyHost.URL+`/cert.pem"`), claims, key), wantBearerInvalid},
		{"header/x5c", jws(headerJSON("x5c", `["MIIBszCCAVmgAwIBAgIUJ"]`), claims, key), wantBearerInvalid},
		{"header/x5t", jws(headerJSON("x5t", `"`+seg("thumbprint-sha1-20b")+`"`), claims, key), wantBearerInvalid},
		{"header/x5t#S256", jws(headerJSON("x5t#S256", `"`+seg("thumbprint-sha256-of-32-bytes!!!")+`"`), claims, key), wantBearerInvalid},
		{"header/crit", jws(headerJSON("crit", `["exp"]`), claims, key), wantBearerInvalid},
		{"header/crit empty", jws(headerJSON("crit", `[]`), claims, key), wantBearerInvalid},

		// typ (RFC 9068 §4, RFC 8725 §3.11).
		{"typ/JWT", jws(headerJSON("typ", `"JWT"`), claims, key), wantBearerInvalid},
		{"typ/missing", jws(headerJSON("typ", ""), claims, key), wantBearerInvalid},
		{"typ/empty", jws(headerJSON("typ", `""`), claims, key), wantBearerInvalid},
		{"typ/number", jws(headerJSON("typ", "1"), claims, key), wantBearerInvalid},
		{"typ/ID token", jws(headerJSON("typ", `"id_token+jwt"`), claims, key), wantBearerInvalid},
		{"typ/with a trailing space", jws(headerJSON("typ", `"at+jwt "`), claims, key), wantBearerInvalid},
		{"typ/reversed", jws(headerJSON("typ", `"jwt+at"`), claims, key), wantBearerInvalid},

		// Tampering after signing.
		{"tampered/sub", secret(seg(headerJSON()) + "." + seg(strings.Replace(claims, mary.UserID, admin.UserID, 1)) + "." + goodSig), wantBearerInvalid},
		{"tampered/roles", secret(seg(headerJSON()) + "." + seg(strings.Replace(claims, `["user"]`, `["user","admin"]`, 1)) + "." + goodSig), wantBearerInvalid},
		{"tampered/exp", secret(seg(headerJSON()) + "." + seg(strings.Replace(claims, `"exp":`, `"exp":9`, 1)) + "." + goodSig), wantBearerInvalid},
		{"tampered/header typ", secret(seg(headerJSON("typ", `"at+JWT"`)) + "." + seg(claims) + "." + goodSig), wantBearerInvalid},
		{"tampered/signature of another token", secret(input + "." + parts[2]), wantBearerInvalid},
		{"tampered/signature cut short", secret(input + "." + goodSig[:len(goodSig)-1]), wantBearerInvalid},
		{"tampered/signature one character longer", secret(input + "." + goodSig + "A"), wantBearerInvalid},
		{"tampered/signature empty", secret(input + "."), wantBearerInvalid},
		{"tampered/signature padded", secret(input + "." + goodSig + "="), wantBearerInvalid},
		{"tampered/signature non-canonical", secret(input + "." + nonCanonical(goodSig)), wantBearerInvalid},
		{"tampered/signature in the standard alphabet", secret(input + "." + base64.StdEncoding.EncodeToString(mustRawURL(goodSig))), wantBearerInvalid},
		// '=' inside a token is not an RFC 6750 b64token: malformed, 400.
		{"tampered/payload padded", secret(seg(headerJSON()) + "." + paddedSegment(claims) + "." + goodSig), wantBearerMalformed},

		// Duplicate members: a claims set that repeats a name is refused,
		// as RFC 7519 §4 allows (the other choice, the lexically last
		// member, encoding/json does not keep to: it ignores a last null).
		{"duplicate/sub", jws(headerJSON(), strings.Replace(claims, `"sub":`, `"sub":"`+admin.UserID+`","sub":`, 1), key), wantBearerInvalid},
		{"duplicate/sub, the last null", jws(headerJSON(), claimsAt(now, `"sub":null`), key), wantBearerInvalid},
		{"duplicate/exp, the last in the past", jws(headerJSON(), claimsAt(now, fmt.Sprintf(`"exp":%d`, now.Add(-time.Hour).Unix())), key), wantBearerInvalid},
		// So is a JOSE header that repeats a name, as RFC 7515 §4 allows.
		{"duplicate/header alg none then HS256", jws(`{"alg":"none","alg":"HS256","kid":"`+serverKID()+`","typ":"at+jwt"}`, claims, key), wantBearerInvalid},
		{"duplicate/header alg HS256 then none", jws(`{"alg":"HS256","alg":"none","kid":"`+serverKID()+`","typ":"at+jwt"}`, claims, key), wantBearerInvalid},
		{"duplicate/header kid unknown then right", jws(`{"alg":"HS256","kid":"other","kid":"`+serverKID()+`","typ":"at+jwt"}`, claims, key), wantBearerInvalid},
		{"duplicate/header typ JWT last", jws(`{"alg":"HS256","kid":"`+serverKID()+`","typ":"at+jwt","typ":"JWT"}`, claims, key), wantBearerInvalid},
		{"duplicate/header typ at+jwt twice", jws(`{"alg":"HS256","kid":"`+serverKID()+`","typ":"at+jwt","typ":"at+jwt"}`, claims, key), wantBearerInvalid},

		// Segment counts: a b64token with anything but three segments is a
		// well-formed request with a malformed token, 401 invalid_token
		// (RFC 6750 §3.1), refused before any decoding, as are three
		// empty or undecodable segments.
		{"segments/one", parts[0], wantBearerInvalid},
		{"segments/two", parts[0] + "." + parts[1], wantBearerInvalid},
		{"segments/four", issued + "." + parts[2], wantBearerInvalid},
		{"segments/five (JWE)", parts[0] + "." + parts[1] + "." + parts[1] + "." + parts[1] + "." + parts[2], wantBearerInvalid},
		{"segments/three empty", "..", wantBearerInvalid},
		{"segments/only a header", parts[0] + "..", wantBearerInvalid},
		{"segments/empty payload", secret(parts[0] + ".." + parts[2]), wantBearerInvalid},
		{"segments/empty header", secret("." + parts[1] + "." + parts[2]), wantBearerInvalid},
		{"segments/not base64 (outside b64token, so malformed)", "!!!.!!!.!!!", wantBearerMalformed},

		// Non-object JSON, signed with the right key.
		{"json/header array", jws(`[]`, claims, key), wantBearerInvalid},
		{"json/header string", jws(`"HS256"`, claims, key), wantBearerInvalid},
		{"json/header null", jws(`null`, claims, key), wantBearerInvalid},
		{"json/header number", jws(`1`, claims, key), wantBearerInvalid},
		{"json/header not JSON", jws(`alg=HS256`, claims, key), wantBearerInvalid},
		{"json/header with trailing data", jws(headerJSON()+`{}`, claims, key), wantBearerInvalid},
		{"json/payload array", jws(headerJSON(), `[`+claims+`]`, key), wantBearerInvalid},
		{"json/payload string", jws(headerJSON(), `"`+mary.UserID+`"`, key), wantBearerInvalid},
		{"json/payload null", jws(headerJSON(), `null`, key), wantBearerInvalid},
		{"json/payload true", jws(headerJSON(), `true`, key), wantBearerInvalid},
		{"json/payload empty object", jws(headerJSON(), `{}`, key), wantBearerInvalid},
		{"json/payload not JSON", jws(headerJSON(), `sub=`+mary.UserID, key), wantBearerInvalid},
		{"json/payload with trailing data", jws(headerJSON(), claims+`{}`, key), wantBearerInvalid},

		// Claims a genuine key holder could get wrong.
		{"claims/iss wrong", jws(headerJSON(), strings.Replace(claims, `"iss":"tidegate"`, `"iss":"evil"`, 1), key), wantBearerInvalid},
		{"claims/iss missing", jws(headerJSON(), claimsWithout(now, "iss"), key), wantBearerInvalid},
		{"claims/aud wrong", jws(headerJSON(), strings.Replace(claims, `"aud":["tidegate"]`, `"aud":["evil"]`, 1), key), wantBearerInvalid},
		{"claims/aud missing", jws(headerJSON(), claimsWithout(now, "aud"), key), wantBearerInvalid},
		{"claims/sub missing", jws(headerJSON(), claimsWithout(now, "sub"), key), wantBearerInvalid},
		{"claims/sub empty", jws(headerJSON(), strings.Replace(claims, `"sub":"`+mary.UserID+`"`, `"sub":""`, 1), key), wantBearerInvalid},
		{"claims/sub a number", jws(headerJSON(), strings.Replace(claims, `"sub":"`+mary.UserID+`"`, `"sub":88144`, 1), key), wantBearerInvalid},
		{"claims/exp missing", jws(headerJSON(), claimsWithout(now, "exp"), key), wantBearerInvalid},
		{"claims/exp a string", jws(headerJSON(), claimsWithout(now, "exp")[:1]+`"exp":"tomorrow",`+claimsWithout(now, "exp")[1:], key), wantBearerInvalid},
		{"claims/iat missing", jws(headerJSON(), claimsWithout(now, "iat"), key), wantBearerInvalid},
		{"claims/nbf beyond int64 (1e19)", jws(headerJSON(), claimsAt(now, `"nbf":1e19`), key), wantBearerInvalid},
		{"claims/jti missing", jws(headerJSON(), claimsWithout(now, "jti"), key), wantBearerInvalid},
		{"claims/roles a string", jws(headerJSON(), strings.Replace(claims, `"roles":["user"]`, `"roles":"admin"`, 1), key), wantBearerInvalid},

		// Deep nesting and size: bounded before decoding; within the
		// bound, decoding is linear and a genuine token with an unknown
		// deep claim is still just a genuine token.
		{"nesting/2,500 levels in a claim, genuine", jws(headerJSON(), claimsAt(now, `"deep":`+nested(2500)), key), ok},
		{"nesting/2,500 levels in a claim, forged", jws(headerJSON(), claimsAt(now, `"deep":`+nested(2500)), wrongKey), wantBearerInvalid},
		{"nesting/2,500 levels in the header, genuine", jws(headerJSON("deep", nested(2500)), claims, key), ok},
		{"nesting/10,000 levels in a claim", jws(headerJSON(), claimsAt(now, `"deep":`+nested(10000)), key), wantBearerMalformed},
		{"nesting/10,000 levels of objects in the header", jws(`{"alg":"HS256","deep":`+strings.Repeat(`{"a":`, 10000)+"1"+strings.Repeat("}", 10000)+`}`, claims, key), wantBearerMalformed},
		{"size/genuine token over 8 KiB", tooBig, wantBearerMalformed},
		{"size/100 KiB of dots and letters", strings.Repeat("A", 50<<10) + "." + strings.Repeat("B", 50<<10) + ".C", wantBearerMalformed},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			header := []string{"Authorization", "Bearer " + c.token}
			start := time.Now()
			s.check(t, s.get(t, "/whoami", header...), c.want, "whoami")
			pingWant := c.want
			if c.want.status == http.StatusOK {
				pingWant = wantPing
			}
			s.check(t, s.get(t, "/api/v1/ping", header...), pingWant, "ping")
			// Generous: the point is that no token makes the server work
			// for long (a decoding blow-up would take seconds).
			assert.Less(t, time.Since(start), 5*time.Second)
		})
	}
	assert.Zero(t, fetches.Load(), "a key URL named by a token was fetched")
}

// paddedSegment encodes s in padded base64url, with white space appended
// until the encoding does end in padding.
func paddedSegment(s string) string {
	for len(s)%3 == 0 {
		s += " "
	}
	return base64.URLEncoding.EncodeToString([]byte(s))
}

// nonCanonical changes the last character of an unpadded base64url
// segment so that it decodes to the same bytes with non-zero trailing bits.
func nonCanonical(s string) string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	last := strings.IndexByte(alphabet, s[len(s)-1])
	return s[:len(s)-1] + string(alphabet[last|1])
}

func mustRawURL(s string) []byte {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		panic(err)
	}
	return b
}

// TestJWKSPublishesNoSecret: the JWKS document of an HS256 server lists no
// key at all: an HMAC secret is never published, in any encoding.
func TestJWKSPublishesNoSecret(t *testing.T) {
	t.Parallel()
	s := newServer(t, setup{})
	got := s.get(t, "/.well-known/jwks.json")
	assert.Equal(t, http.StatusOK, got.status)
	assert.Equal(t, `{"keys":[]}`+"\n", got.body)
	assertNoSecret(t, got)
}
