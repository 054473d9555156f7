package bearer_test

import (
	"context"
	"crypto/ed25519"
	"encoding/hex"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/require"
	"github.com/tidegate/tidegate/bearer"
	"github.com/tidegate/tidegate/middleware"
)

// Fixed test key material: random bytes, so that tokens minted in tests
// and in the fuzz corpus are reproducible.
var (
	testSecret, _  = hex.DecodeString("05bfeb324608579b74fc4cd0ed63d49e11fc9655e37d80c2e0b7dd5ca8107718")
	otherSecret, _ = hex.DecodeString("782cd30ae9f58632d9ea95af87d3046e5c96c0ad1f84b2583ad97db88431b911")
	edSeed, _      = hex.DecodeString("882071071196d08e0a3ea527f22878ed8e03ebf133cde3d103cfe1416139efd9")
	edPrivate      = ed25519.NewKeyFromSeed(edSeed)
	edPublic       = edPrivate.Public().(ed25519.PublicKey)
	// otherEd is an Ed25519 key no test service knows.
	otherEd = ed25519.NewKeyFromSeed(otherSecret)
	// t0 is the fake clock's start.
	t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
)

const (
	hsKID   = "hs1"
	edKID   = "ed1"
	issuer  = "https://auth.example.test"
	audient = "tidal-api"
)

// clock is a fake clock for WithClock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: t0} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// env is a service under test with its collaborators.
type env struct {
	svc      *bearer.Service
	clock    *clock
	accounts *middleware.MemoryAccounts
	login    *middleware.PasswordLogin
	server   http.Handler // /api/v1/..., /.well-known/jwks.json, /whoami
}

var quiet = slog.New(slog.DiscardHandler)

// testKeySet returns the HS256 signing key plus the Ed25519 key for
// verification, so that cross-key confusion is testable.
func testKeySet(t testing.TB) *bearer.KeySet {
	t.Helper()
	hs, err := bearer.NewHMACKey(hsKID, testSecret)
	require.NoError(t, err)
	ed, err := bearer.NewEd25519Key(edKID, edPrivate)
	require.NoError(t, err)
	set, err := bearer.NewKeySet(hs, ed)
	require.NoError(t, err)
	return set
}

// newEnv builds a service with two users (mary, admin) on a fake clock.
func newEnv(t testing.TB, opts ...bearer.ServiceOption) *env {
	return newEnvWithKeys(t, testKeySet(t), opts...)
}

func newEnvWithKeys(t testing.TB, keys *bearer.KeySet, opts ...bearer.ServiceOption) *env {
	t.Helper()
	e := &env{clock: newClock(), accounts: middleware.NewMemoryAccounts()}
	hasher, err := middleware.NewArgon2idHasher(middleware.TestArgon2Params)
	require.NoError(t, err)
	limiter, err := middleware.NewMemoryLimiter(middleware.LimiterPolicy{AccountAttempts: 5}, middleware.WithStoreClock(e.clock.Now))
	require.NoError(t, err)
	e.login, err = middleware.NewPasswordLogin(e.accounts, middleware.WithHasher(hasher), middleware.WithLimiter(limiter))
	require.NoError(t, err)
	for _, u := range []middleware.Account{
		{UserID: "u-mary", Username: "mary@example.com", Roles: []string{"user"}},
		{UserID: "u-admin", Username: "admin@example.com", Roles: []string{"user", "admin"}},
	} {
		u.PasswordHash, err = hasher.Hash("password of " + u.Username)
		require.NoError(t, err)
		require.NoError(t, e.accounts.Create(context.Background(), u))
	}
	base := []bearer.ServiceOption{bearer.WithClock(e.clock.Now), bearer.WithIssuer(issuer),
		bearer.WithAudience(audient), bearer.WithLogger(quiet)}
	e.svc, err = bearer.New(e.login, keys, append(base, opts...)...)
	require.NoError(t, err)
	t.Cleanup(func() { _ = e.svc.Close() })
	mux := http.NewServeMux()
	mux.Handle("/api/v1/", http.StripPrefix("/api/v1", e.svc.Handler()))
	mux.Handle("/.well-known/jwks.json", e.svc.JWKSHandler())
	mux.Handle("/whoami", middleware.Require(e.svc.Scheme())(http.HandlerFunc(whoami)))
	e.server = mux
	return e
}

func whoami(w http.ResponseWriter, r *http.Request) {
	p, _ := middleware.FromRequest(r)
	_, _ = io.WriteString(w, p.Subject+" "+strings.Join(p.Roles, ","))
}

// call sends a request to the env's server. headers are name, value pairs.
func (e *env) call(method, path, body string, headers ...string) *httptest.ResponseRecorder {
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req := httptest.NewRequest(method, path, r)
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Add(headers[i], headers[i+1])
	}
	rec := httptest.NewRecorder()
	e.server.ServeHTTP(rec, req)
	return rec
}

// login authenticates a user and returns the decoded token response.
func (e *env) authenticate(t testing.TB, username string) tokenBody {
	t.Helper()
	rec := e.call("POST", "/api/v1/authenticate",
		`{"username":"`+username+`","password":"password of `+username+`"}`, "Content-Type", "application/json")
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	return decodeTokens(t, rec)
}

// refresh calls POST /refresh.
func (e *env) refresh(access, refresh string) *httptest.ResponseRecorder {
	return e.call("POST", "/api/v1/refresh", `{"refresh_token":"`+refresh+`"}`,
		"Content-Type", "application/json", "Authorization", "Bearer "+access)
}

// whoami calls GET /whoami with a bearer token.
func (e *env) whoami(token string) *httptest.ResponseRecorder {
	return e.call("GET", "/whoami", "", "Authorization", "Bearer "+token)
}

// tokenBody is a decoded token response.
type tokenBody struct {
	AccessToken  string  `json:"access_token"`
	RefreshToken *string `json:"refresh_token"`
	Scope        *string `json:"scope"`
	ExpiresIn    int     `json:"expires_in"`
	TokenType    string  `json:"token_type"`
}

func decodeTokens(t testing.TB, rec *httptest.ResponseRecorder) tokenBody {
	t.Helper()
	var b tokenBody
	dec := jsonDecoder(rec.Body)
	require.NoError(t, dec.Decode(&b))
	return b
}

// validClaims returns the claims of a genuine access token at now.
func validClaims(now time.Time) jwt.MapClaims {
	return jwt.MapClaims{
		"iss":   issuer,
		"sub":   "u-mary",
		"aud":   []string{audient},
		"exp":   now.Add(time.Hour).Unix(),
		"iat":   now.Unix(),
		"jti":   "jti-1",
		"sid":   "sid-1",
		"roles": []string{"user"},
	}
}

// forge signs claims with the given method and key, with the header
// members given (a nil value deletes the member).
func forge(t testing.TB, method jwt.SigningMethod, key any, header map[string]any, claims jwt.Claims) string {
	t.Helper()
	tok := jwt.NewWithClaims(method, claims)
	tok.Header["typ"] = "at+jwt"
	tok.Header["kid"] = hsKID
	for k, v := range header {
		if v == nil {
			delete(tok.Header, k)
		} else {
			tok.Header[k] = v
		}
	}
	s, err := tok.SignedString(key)
	require.NoError(t, err)
	return s
}

// forgeHS signs claims with the test HS256 secret and the hs1 kid.
func forgeHS(t testing.TB, claims jwt.Claims, header map[string]any) string {
	return forge(t, jwt.SigningMethodHS256, testSecret, header, claims)
}

// jsonDecoder decodes strictly: a response with members the test does not
// expect fails.
func jsonDecoder(r io.Reader) *json.Decoder {
	d := json.NewDecoder(r)
	d.DisallowUnknownFields()
	return d
}
