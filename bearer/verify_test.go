package bearer_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/tidegate/tidegate/bearer"
	"github.com/tidegate/tidegate/middleware"
)

const (
	challengeMissing = `Bearer realm="tidegate"`
	challengeInvalid = `Bearer realm="tidegate", error="invalid_token"`
	challengeRequest = `Bearer realm="tidegate", error="invalid_request"`
	genericBody      = `{"error":"invalid_token","error_description":"a valid bearer token or valid credentials are required"}` + "\n"
)

var b64 = base64.RawURLEncoding

// rawToken builds a token from raw JSON header and payload text, HS256
// signed with the test secret.
func rawToken(header, payload string) string {
	input := b64.EncodeToString([]byte(header)) + "." + b64.EncodeToString([]byte(payload))
	return input + "." + b64.EncodeToString(hmacSign(testSecret, input))
}

func hmacSign(secret []byte, input string) []byte {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(input))
	return m.Sum(nil)
}

// with returns a copy of claims with the given members changed (nil
// deletes).
func with(claims jwt.MapClaims, kv ...any) jwt.MapClaims {
	out := jwt.MapClaims{}
	for k, v := range claims {
		out[k] = v
	}
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] == nil {
			delete(out, kv[i].(string))
		} else {
			out[kv[i].(string)] = kv[i+1]
		}
	}
	return out
}

func payloadOf(t *testing.T, claims jwt.MapClaims) string {
	b, err := json.Marshal(claims)
	require.NoError(t, err)
	return string(b)
}

// TestVerificationRules runs every access-token rule through the bearer
// middleware (GET /whoami), black-box: tokens are forged with the test keys.
func TestVerificationRules(t *testing.T) {
	logs := &reasonLog{}
	e := newEnv(t, bearer.WithLogger(slog.New(logs)))
	now := e.clock.Now()
	good := validClaims(now)
	goodPayload := payloadOf(t, good)
	hsHeader := `{"alg":"HS256","kid":"hs1","typ":"at+jwt"}`
	valid := forgeHS(t, good, nil)
	dot := strings.LastIndexByte(valid, '.')

	noneToken := func(alg string) string {
		return b64.EncodeToString([]byte(`{"alg":"`+alg+`","kid":"hs1","typ":"at+jwt"}`)) + "." +
			b64.EncodeToString([]byte(goodPayload)) + "."
	}
	// The last character of a 32-byte signature carries 2 data bits and
	// 4 bits that must be zero; setting one makes a non-canonical spelling
	// of the same bytes, which lenient base64 decoders accept.
	nonCanonical := func(tok string) string {
		last := tok[len(tok)-1]
		i := strings.IndexByte("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_", last)
		return tok[:len(tok)-1] + string("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"[i|1])
	}

	tests := []struct {
		name   string
		token  string
		status int
		reason string // logged, never sent
	}{
		{"valid HS256", valid, 200, ""},
		{"valid EdDSA with a verification key", forge(t, jwt.SigningMethodEdDSA, edPrivate, map[string]any{"kid": edKID}, good), 200, ""},
		{"typ with application/ prefix", forgeHS(t, good, map[string]any{"typ": "application/at+jwt"}), 200, ""},
		{"typ in upper case", forgeHS(t, good, map[string]any{"typ": "AT+JWT"}), 200, ""},
		{"unknown header member ignored", forgeHS(t, good, map[string]any{"cty": "x", "n": 1.5}), 200, ""},
		{"expired within leeway", forgeHS(t, with(good, "exp", now.Add(-10*time.Second).Unix()), nil), 200, ""},
		{"iat within leeway", forgeHS(t, with(good, "iat", now.Add(10*time.Second).Unix()), nil), 200, ""},
		{"nbf within leeway", forgeHS(t, with(good, "nbf", now.Add(10*time.Second).Unix()), nil), 200, ""},
		{"nbf passed", forgeHS(t, with(good, "nbf", now.Add(-time.Minute).Unix()), nil), 200, ""},
		{"aud as a string", forgeHS(t, with(good, "aud", audient), nil), 200, ""},
		{"aud among several", forgeHS(t, with(good, "aud", []string{"other", audient}), nil), 200, ""},
		{"exp one second inside the leeway", forgeHS(t, with(good, "exp", now.Add(-29*time.Second).Unix()), nil), 200, ""},
		{"iat at the leeway's end", forgeHS(t, with(good, "iat", now.Add(30*time.Second).Unix()), nil), 200, ""},
		{"nbf at the leeway's end", forgeHS(t, with(good, "nbf", now.Add(30*time.Second).Unix()), nil), 200, ""},
		{"fractional exp", forgeHS(t, with(good, "exp", float64(now.Add(time.Hour).Unix())+0.5), nil), 200, ""},
		{"escaped subject", rawToken(hsHeader, strings.Replace(goodPayload, `"u-mary"`, `"u-m\u0061ry"`, 1)), 200, ""},
		{"unknown claim", forgeHS(t, with(good, "extra", map[string]any{"a": 1}), nil), 200, ""},
		// RFC 7515 §4: unknown header members are ignored, whatever their
		// value; JSON escapes are JSON.
		{"object-valued unknown header member", forgeHS(t, good, map[string]any{"ext": map[string]any{}}), 200, ""},
		{"escaped header", rawToken(`{"alg":"HS\u0032\u0035\u0036","kid":"hs1","typ":"at+jwt"}`, goodPayload), 200, ""},
		// A header that repeats a member name is refused, as RFC 7515 §4
		// allows: golang-jwt's encoding/json kept the lexically last, but
		// no reader of the token must read it otherwise.
		{"repeated alg, the last HS256", rawToken(`{"alg":"none","alg":"HS256","kid":"hs1","typ":"at+jwt"}`, goodPayload), 401, "malformed"},
		{"repeated alg, the same", rawToken(`{"alg":"HS256","alg":"HS256","kid":"hs1","typ":"at+jwt"}`, goodPayload), 401, "malformed"},
		{"repeated kid, the last right", rawToken(`{"alg":"HS256","kid":"other","kid":"hs1","typ":"at+jwt"}`, goodPayload), 401, "malformed"},
		{"repeated typ, the last right", rawToken(`{"alg":"HS256","kid":"hs1","typ":"JWT","typ":"at+jwt"}`, goodPayload), 401, "malformed"},
		{"repeated kid, one escaped", rawToken(`{"alg":"HS256","kid":"other","\u006bid":"hs1","typ":"at+jwt"}`, goodPayload), 401, "malformed"},
		{"repeated unknown member", rawToken(`{"alg":"HS256","kid":"hs1","typ":"at+jwt","ext":1,"ext":1}`, goodPayload), 401, "malformed"},

		{"alg none", noneToken("none"), 401, "algorithm"},
		{"alg None", noneToken("None"), 401, "algorithm"},
		{"alg NONE", noneToken("NONE"), 401, "algorithm"},
		{"alg nOnE", noneToken("nOnE"), 401, "algorithm"},
		{"alg none with a signature", rawToken(`{"alg":"none","kid":"hs1","typ":"at+jwt"}`, goodPayload), 401, "algorithm"},
		{"repeated alg, the last none", rawToken(`{"alg":"HS256","alg":"none","kid":"hs1","typ":"at+jwt"}`, goodPayload), 401, "algorithm"},
		{"no alg", rawToken(`{"kid":"hs1","typ":"at+jwt"}`, goodPayload), 401, "algorithm"},
		{"alg not a string", rawToken(`{"alg":["HS256"],"kid":"hs1","typ":"at+jwt"}`, goodPayload), 401, "algorithm"},
		{"alg hs256 (case)", rawToken(`{"alg":"hs256","kid":"hs1","typ":"at+jwt"}`, goodPayload), 401, "algorithm"},
		{"HS256 keyed with the Ed25519 public key", forge(t, jwt.SigningMethodHS256, []byte(edPublic), map[string]any{"kid": edKID}, good), 401, "algorithm"},
		{"EdDSA naming the HS256 kid", forge(t, jwt.SigningMethodEdDSA, edPrivate, map[string]any{"kid": hsKID}, good), 401, "algorithm"},
		{"HS384 with the right secret", forge(t, jwt.SigningMethodHS384, testSecret, nil, good), 401, "algorithm"},
		{"wrong secret", forge(t, jwt.SigningMethodHS256, otherSecret, nil, good), 401, "signature"},
		{"HS256 keyed with the Ed25519 public key, HS256 kid", forge(t, jwt.SigningMethodHS256, []byte(edPublic), nil, good), 401, "signature"},
		{"EdDSA by another Ed25519 key", forge(t, jwt.SigningMethodEdDSA, otherEd, map[string]any{"kid": edKID}, good), 401, "signature"},
		{"unknown kid", forgeHS(t, good, map[string]any{"kid": "nope"}), 401, "unknown key"},
		{"no kid", forgeHS(t, good, map[string]any{"kid": nil}), 401, "header"},
		{"kid not a string", forgeHS(t, good, map[string]any{"kid": 1}), 401, "header"},
		{"signature flipped", valid[:dot+1] + flip(valid[dot+1:]), 401, "signature"},
		{"payload of another token", valid[:strings.IndexByte(valid, '.')+1] + b64.EncodeToString([]byte(payloadOf(t, with(good, "sub", "u-admin")))) + valid[dot:], 401, "signature"},
		{"wrong aud", forgeHS(t, with(good, "aud", []string{"other"}), nil), 401, "audience"},
		{"empty aud", forgeHS(t, with(good, "aud", []string{}), nil), 401, "claims"},
		{"no aud", forgeHS(t, with(good, "aud", nil), nil), 401, "claims"},
		{"wrong iss", forgeHS(t, with(good, "iss", "https://evil.example"), nil), 401, "issuer"},
		{"no iss", forgeHS(t, with(good, "iss", nil), nil), 401, "claims"},
		{"no exp", forgeHS(t, with(good, "exp", nil), nil), 401, "claims"},
		{"exp 0", forgeHS(t, with(good, "exp", 0), nil), 401, "expired"},
		{"exp null", rawToken(hsHeader, payloadOf(t, with(good, "exp", json.RawMessage("null")))), 401, "claims"},
		{"exp not a number", forgeHS(t, with(good, "exp", "tomorrow"), nil), 401, "malformed"},
		{"exp an array", forgeHS(t, with(good, "exp", []int64{now.Add(time.Hour).Unix()}), nil), 401, "malformed"},
		{"expired and forged: the signature is checked first", forge(t, jwt.SigningMethodHS256, otherSecret, nil, with(good, "exp", now.Add(-time.Hour).Unix())), 401, "signature"},
		{"expired beyond leeway", forgeHS(t, with(good, "exp", now.Add(-31*time.Second).Unix()), nil), 401, "expired"},
		{"expired at the leeway's end", forgeHS(t, with(good, "exp", now.Add(-30*time.Second).Unix()), nil), 401, "expired"},
		{"no iat", forgeHS(t, with(good, "iat", nil), nil), 401, "claims"},
		{"iat in the future", forgeHS(t, with(good, "iat", now.Add(31*time.Second).Unix()), nil), 401, "not yet valid"},
		{"nbf in the future", forgeHS(t, with(good, "nbf", now.Add(31*time.Second).Unix()), nil), 401, "not yet valid"},
		{"no sub", forgeHS(t, with(good, "sub", nil), nil), 401, "claims"},
		{"no jti", forgeHS(t, with(good, "jti", nil), nil), 401, "claims"},
		{"typ JWT", forgeHS(t, good, map[string]any{"typ": "JWT"}), 401, "typ"},
		{"typ of a refresh token", forgeHS(t, good, map[string]any{"typ": "rt+jwt"}), 401, "typ"},
		{"no typ", forgeHS(t, good, map[string]any{"typ": nil}), 401, "typ"},
		{"typ not a string", forgeHS(t, good, map[string]any{"typ": []string{"at+jwt"}}), 401, "typ"},
		{"crit", forgeHS(t, good, map[string]any{"crit": []string{"exp"}, "exp": 1}), 401, "crit"},
		{"crit empty", forgeHS(t, good, map[string]any{"crit": []string{}}), 401, "crit"},
		{"crit b64", forgeHS(t, good, map[string]any{"crit": []string{"b64"}, "b64": false}), 401, "crit"},
		{"jku", forgeHS(t, good, map[string]any{"jku": "https://evil.example/jwks"}), 401, "key param"},
		{"jwk", forgeHS(t, good, map[string]any{"jwk": map[string]any{"kty": "oct", "k": "AAAA"}}), 401, "key param"},
		{"x5u", forgeHS(t, good, map[string]any{"x5u": "https://evil.example/cert"}), 401, "key param"},
		{"x5c", forgeHS(t, good, map[string]any{"x5c": []string{"MIIB"}}), 401, "key param"},
		{"x5t", forgeHS(t, good, map[string]any{"x5t": "abc"}), 401, "key param"},
		{"x5t#S256", forgeHS(t, good, map[string]any{"x5t#S256": "abc"}), 401, "key param"},
		{"header not an object", rawToken(`["HS256"]`, goodPayload), 401, "malformed"},
		{"payload not an object", rawToken(hsHeader, `"u-mary"`), 401, "malformed"},
		{"payload not JSON", rawToken(hsHeader, `{"sub":`), 401, "malformed"},
		{"padded signature", valid + "=", 401, "malformed"},
		{"padded header", b64.EncodeToString([]byte(hsHeader)) + "==" + valid[strings.IndexByte(valid, '.'):], 400, "syntax"}, // '=' before a dot: not a b64token
		{"standard base64 alphabet", strings.NewReplacer("-", "+", "_", "/").Replace(valid), 401, "malformed"},
		{"non-canonical signature", nonCanonical(valid), 401, "malformed"},
		{"signature too long", valid + "AAAA", 401, "signature"},
		{"empty signature", valid[:dot+1], 401, "signature"},
		{"space inside", valid[:10] + " " + valid[10:], 400, "syntax"},
		{"another header over a token's payload and signature", b64.EncodeToString([]byte(`{"alg":"HS256","kid":"hs1","typ":"at+jwt","x":"`+strings.Repeat("a", 800)+`"}`)) + valid[strings.IndexByte(valid, '.'):], 401, "signature"},

		{"two segments", valid[:dot], 401, "malformed"},
		{"four segments", valid + ".x", 401, "malformed"},
		{"an opaque refresh token", "p6iW0uD1jQm7n0cGsBeCkNU2y8fYyX5kWc3hQ0t7g7U", 401, "malformed"},
		{"oversized", forgeHS(t, with(good, "roles", []string{strings.Repeat("r", 9000)}), nil), 400, "oversized"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec := e.whoami(tc.token)
			require.Equal(t, tc.status, rec.Code, rec.Body.String())
			if tc.status == http.StatusOK {
				assert.Equal(t, "u-mary user", rec.Body.String())
				return
			}
			assert.Equal(t, tc.reason, logs.lastReason(), "the rule that refused it")
			challenge := challengeInvalid
			if tc.status == http.StatusBadRequest {
				challenge = challengeRequest
			}
			assert.Equal(t, challenge, rec.Header().Get("WWW-Authenticate"))
			assert.Equal(t, genericBody, rec.Body.String())
			assert.Equal(t, "no-store", rec.Header().Get("Cache-Control"))
		})
	}
}

// flip changes the first character of s to another alphabet character.
func flip(s string) string {
	if s[0] == 'A' {
		return "B" + s[1:]
	}
	return "A" + s[1:]
}

func TestRequestWithoutBearerToken(t *testing.T) {
	e := newEnv(t)
	tests := []struct {
		name      string
		headers   []string
		status    int
		challenge string
	}{
		{"no header", nil, 401, challengeMissing},
		{"another scheme", []string{"Authorization", "Basic dXNlcjpwYXNz"}, 401, challengeMissing},
		{"scheme word only", []string{"Authorization", "Bearer"}, 400, challengeRequest},
		{"a tab after the scheme word", []string{"Authorization", "Bearer\ta.b.c"}, 400, challengeRequest},
		{"two different headers", []string{"Authorization", "Bearer a.b.c", "Authorization", "Bearer d.e.f"}, 400, challengeRequest},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec := e.call("GET", "/whoami", "", tc.headers...)
			assert.Equal(t, tc.status, rec.Code)
			assert.Equal(t, tc.challenge, rec.Header().Get("WWW-Authenticate"))
			assert.Equal(t, genericBody, rec.Body.String())
		})
	}
}

func TestSchemeWordIsCaseInsensitive(t *testing.T) {
	e := newEnv(t)
	tok := e.authenticate(t, "mary@example.com").AccessToken
	for _, word := range []string{"Bearer", "bearer", "BEARER"} {
		rec := e.call("GET", "/whoami", "", "Authorization", word+" "+tok)
		assert.Equal(t, http.StatusOK, rec.Code, word)
	}
}

func TestExpiryIsEnforcedAfterCaching(t *testing.T) {
	e := newEnv(t, bearer.WithAccessTTL(time.Hour))
	tok := e.authenticate(t, "mary@example.com").AccessToken
	require.Equal(t, http.StatusOK, e.whoami(tok).Code) // now cached
	e.clock.Advance(time.Hour + 29*time.Second)
	require.Equal(t, http.StatusOK, e.whoami(tok).Code, "within the leeway")
	e.clock.Advance(time.Second)
	rec := e.whoami(tok)
	assert.Equal(t, http.StatusUnauthorized, rec.Code)
	assert.Equal(t, challengeInvalid, rec.Header().Get("WWW-Authenticate"))
}

// reasonLog is a slog.Handler that keeps the reason of the last failed
// authentication the scheme logged.
type reasonLog struct {
	mu     sync.Mutex
	reason string
}

func (l *reasonLog) Enabled(context.Context, slog.Level) bool { return true }
func (l *reasonLog) WithAttrs([]slog.Attr) slog.Handler       { return l }
func (l *reasonLog) WithGroup(string) slog.Handler            { return l }

func (l *reasonLog) Handle(_ context.Context, r slog.Record) error {
	r.Attrs(func(a slog.Attr) bool {
		if a.Key == "reason" {
			l.mu.Lock()
			l.reason = a.Value.String()
			l.mu.Unlock()
		}
		return true
	})
	return nil
}

func (l *reasonLog) lastReason() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.reason
}

func TestPrincipalOfAToken(t *testing.T) {
	e := newEnv(t)
	tok := e.authenticate(t, "admin@example.com").AccessToken
	_, claims := decodeJWT(t, tok)
	req := httptest.NewRequest("GET", "/", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	p, err := e.svc.Scheme().Authenticate(req)
	require.NoError(t, err)
	assert.True(t, p.ExpiresAt.Equal(t0.Add(8*time.Hour+bearer.DefaultLeeway)), "exp plus the leeway: %v", p.ExpiresAt)
	p.ExpiresAt = time.Time{}
	assert.Equal(t, middleware.Principal{
		Subject:    "u-admin",
		Kind:       bearer.Kind,
		Roles:      []string{"user", "admin"},
		Attributes: map[string]string{bearer.AttrTokenID: claims["jti"].(string), bearer.AttrLoginID: claims["sid"].(string)},
	}, p)
}

// TestEachRevocationIsChecked revokes by jti, by login and by subject
// separately, so that no check hides behind another.
func TestEachRevocationIsChecked(t *testing.T) {
	var e *env
	list, err := bearer.NewMemoryRevocationList(bearer.WithStoreClock(func() time.Time { return e.clock.Now() }))
	require.NoError(t, err)
	e = newEnv(t, bearer.WithRevocationList(list))
	ctx := context.Background()
	now := e.clock.Now()
	token := func(jti, sid, sub string) string {
		return forgeHS(t, with(validClaims(now), "jti", jti, "sid", sid, "sub", sub), nil)
	}
	byJTI, byLogin, bySubject, untouched := token("j1", "s1", "u1"), token("j2", "s2", "u2"), token("j3", "s3", "u3"), token("j4", "s4", "u4")
	for _, tok := range []string{byJTI, byLogin, bySubject, untouched} {
		require.Equal(t, http.StatusOK, e.whoami(tok).Code)
	}
	require.NoError(t, list.RevokeToken(ctx, "j1", now.Add(time.Hour)))
	require.NoError(t, list.RevokeLogin(ctx, "s2", now.Add(time.Hour)))
	require.NoError(t, list.RevokeSubject(ctx, "u3", now.Add(time.Second), now.Add(time.Hour)))
	// The list was changed behind the service's back: evict the cached
	// tokens as a broadcasting Invalidator would.
	e.svc.Scheme().Verifier().(*middleware.Cache).Purge()
	for _, tok := range []string{byJTI, byLogin, bySubject} {
		assert.Equal(t, http.StatusUnauthorized, e.whoami(tok).Code)
	}
	assert.Equal(t, http.StatusOK, e.whoami(untouched).Code)
}
