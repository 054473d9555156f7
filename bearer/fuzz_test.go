package bearer_test

import (
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/require"
	"github.com/tidegate/tidegate/bearer"
	"github.com/tidegate/tidegate/middleware"
)

// fuzzTokens are the genuine tokens of the fuzz target: minted
// deterministically with the test keys at t0 (HS256 signatures and Ed25519
// signatures are deterministic), so the seed corpus in testdata holds the
// same strings. They cover both algorithms, both typ spellings, aud as a
// string and a payload with a JSON escape.
func fuzzTokens(t testing.TB) []string {
	claims := validClaims(t0)
	hsHeader := `{"alg":"HS256","kid":"hs1","typ":"at+jwt"}`
	return []string{
		forgeHS(t, claims, nil),
		forge(t, jwt.SigningMethodEdDSA, edPrivate, map[string]any{"kid": edKID}, claims),
		forgeHS(t, with(claims, "aud", audient, "roles", nil), map[string]any{"typ": "application/at+jwt"}),
		rawToken(hsHeader, `{"iss":"`+issuer+`","sub":"u-m\u0061ry","aud":"`+audient+`","exp":`+itoa(t0.Add(time.Hour).Unix())+`,"iat":`+itoa(t0.Unix())+`,"jti":"j","sid":"s"}`),
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// FuzzVerifyToken fuzzes the whole bearer path, extraction and verification
// (golang-jwt's parser and the Keyfunc's header rules), with the
// Authorization header as input. Whatever the input, nothing may panic, and
// a request may only succeed with a token that is exactly one of the
// genuine tokens: any other string, however close, must fail, since every
// byte of a token is covered by its signature or, for the signature itself,
// by strict decoding (one spelling per byte string). When it succeeds, a
// plain jwt.Parser with the strict options and a Keyfunc of its own must
// accept the token too, and the principal must carry its claims.
func FuzzVerifyToken(f *testing.F) {
	genuine := fuzzTokens(f)
	minted := map[string]bool{}
	for _, tok := range genuine {
		minted[tok] = true
		f.Add("Bearer " + tok)
		f.Add("bearer " + tok)
		f.Add("Bearer " + tok[:len(tok)-1] + "B")
		f.Add("Bearer " + strings.Replace(tok, ".", "=.", 1))
	}
	f.Add("Bearer a.b.c")
	f.Add("Basic dXNlcjpwYXNz")
	f.Add("Bearer eyJhbGciOiJub25lIiwia2lkIjoiaHMxIiwidHlwIjoiYXQrand0In0.e30.")

	e := newEnv(f)
	scheme := e.svc.Scheme()
	oracle := jwt.NewParser(
		jwt.WithValidMethods([]string{"HS256", "EdDSA"}),
		jwt.WithStrictDecoding(),
		jwt.WithIssuer(issuer),
		jwt.WithAudience(audient),
		jwt.WithLeeway(bearer.DefaultLeeway),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithTimeFunc(e.clock.Now),
	)
	keyFunc := func(t *jwt.Token) (any, error) {
		switch t.Header["kid"] {
		case hsKID:
			if t.Method.Alg() == "HS256" {
				return testSecret, nil
			}
		case edKID:
			if t.Method.Alg() == "EdDSA" {
				return edPublic, nil
			}
		}
		return nil, jwt.ErrTokenUnverifiable
	}
	f.Fuzz(func(t *testing.T, header string) {
		req := httptest.NewRequest("GET", "/", nil)
		req.Header["Authorization"] = []string{header}
		p, err := scheme.Authenticate(req)
		if err != nil {
			return
		}
		require.True(t, len(header) > 7 && strings.EqualFold(header[:7], "Bearer "), "%q", header)
		token := header[7:]
		require.True(t, minted[token], "accepted a token that was never minted: %q", token)
		var c bearer.Claims
		_, err = oracle.ParseWithClaims(token, &c, keyFunc)
		require.NoError(t, err, "golang-jwt refuses %q", token)
		require.Equal(t, c.Subject, p.Subject)
		require.Equal(t, c.ID, p.Attributes[bearer.AttrTokenID])
		require.Equal(t, middleware.Kind("bearer"), p.Kind)
	})
}

// TestFuzzTokensAreGenuine keeps FuzzVerifyToken meaningful: its seed
// tokens must pass, or the fuzzer would only ever see failures.
func TestFuzzTokensAreGenuine(t *testing.T) {
	e := newEnv(t)
	for _, tok := range fuzzTokens(t) {
		rec := e.whoami(tok)
		require.Equal(t, 200, rec.Code, tok)
		require.Equal(t, "u-mary ", rec.Body.String()[:7])
	}
}
