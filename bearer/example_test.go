package bearer_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/tidegate/tidegate/bearer"
	"github.com/tidegate/tidegate/middleware"
)

// Example mounts the Tidal-style endpoints under /api/v1, logs in, calls
// /ping with the access token, and logs out.
func Example() {
	// Accounts and password checking are shared by every credential kind.
	// (Cheap hashing parameters keep the example fast; use the defaults.)
	hasher, err := middleware.NewArgon2idHasher(middleware.TestArgon2Params)
	if err != nil {
		log.Fatal(err)
	}
	accounts := middleware.NewMemoryAccounts()
	hash, err := hasher.Hash("correct horse battery staple")
	if err != nil {
		log.Fatal(err)
	}
	err = accounts.Create(context.Background(), middleware.Account{
		UserID: "88144f5ea3", Username: "mary@example.com", PasswordHash: hash, Roles: []string{"user"},
	})
	if err != nil {
		log.Fatal(err) // the user name or an email is taken
	}
	login, err := middleware.NewPasswordLogin(accounts, middleware.WithHasher(hasher))
	if err != nil {
		log.Fatal(err)
	}

	// One HS256 key from crypto/rand; load it from a file to share it
	// between replicas (bearer.ParseHMACKey).
	key, _ := bearer.GenerateKey("", bearer.HS256)
	keys, _ := bearer.NewKeySet(key)
	svc, err := bearer.New(login, keys)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer svc.Close()

	mux := http.NewServeMux()
	mux.Handle("/api/v1/", http.StripPrefix("/api/v1", svc.Handler()))
	mux.Handle("/.well-known/jwks.json", svc.JWKSHandler())
	mux.Handle("/whoami", middleware.Require(svc.Scheme())(http.HandlerFunc(
		func(w http.ResponseWriter, r *http.Request) {
			p, _ := middleware.FromRequest(r)
			fmt.Fprintln(w, p.Subject, p.Roles)
		})))

	do := func(method, path, token, body string) *httptest.ResponseRecorder {
		req := httptest.NewRequest(method, path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		if token != "" {
			req.Header.Set("Authorization", "bearer "+token)
		}
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, req)
		return rec
	}

	rec := do("POST", "/api/v1/authenticate", "", `{"username":"mary@example.com","password":"correct horse battery staple"}`)
	var tokens struct {
		AccessToken string `json:"access_token"`
		ExpiresIn   int    `json:"expires_in"`
		TokenType   string `json:"token_type"`
	}
	_ = json.Unmarshal(rec.Body.Bytes(), &tokens)
	fmt.Println("authenticate:", rec.Code, tokens.TokenType, tokens.ExpiresIn)

	rec = do("GET", "/api/v1/ping", tokens.AccessToken, "")
	fmt.Print("ping: ", rec.Code, " ", rec.Body.String())
	rec = do("GET", "/whoami", tokens.AccessToken, "")
	fmt.Print("whoami: ", rec.Body.String())

	rec = do("POST", "/api/v1/logout", tokens.AccessToken, "")
	fmt.Println("logout:", rec.Code)
	rec = do("GET", "/api/v1/ping", tokens.AccessToken, "")
	fmt.Println("ping after logout:", rec.Code, rec.Header().Get("WWW-Authenticate"))

	// Output:
	// authenticate: 200 Bearer 28800
	// ping: 200 {"authenticated":true}
	// whoami: 88144f5ea3 [user]
	// logout: 200
	// ping after logout: 401 Bearer realm="tidegate", error="invalid_token"
}

// ExampleNewScheme puts the bearer scheme, with its real extractor,
// challenge and error body, in front of a Verifier of your own: here one
// that knows a single opaque token.
func ExampleNewScheme() {
	verifier := middleware.VerifierFunc(func(_ context.Context, c middleware.Credential) (middleware.Principal, error) {
		if c.Token != "ada.access.token" {
			return middleware.Principal{}, middleware.Invalid("unknown token")
		}
		return middleware.Principal{Subject: "ada"}, nil
	})
	scheme, _ := bearer.NewScheme(verifier, middleware.WithLogger(slog.New(slog.DiscardHandler)))
	handler := middleware.Require(scheme)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		subject, _ := middleware.SubjectFromContext(r.Context())
		fmt.Fprintln(w, "hello", subject)
	}))
	for _, token := range []string{"ada.access.token", "forged.access.token"} {
		req := httptest.NewRequest(http.MethodGet, "/", nil)
		req.Header.Set("Authorization", "Bearer "+token)
		rec := httptest.NewRecorder()
		handler.ServeHTTP(rec, req)
		fmt.Print(rec.Code, " ", rec.Header().Get("WWW-Authenticate"), " ", rec.Body.String())
	}
	// Output:
	// 200  hello ada
	// 401 Bearer realm="tidegate", error="invalid_token" {"error":"invalid_token","error_description":"a valid bearer token or valid credentials are required"}
}

// NewJWKSVerifier lets a service accept the access tokens of an issuer it
// shares no secret with, by the public keys the issuer publishes. An
// httptest server serving the JWKS of a bearer.Service with an Ed25519 key
// stands in for the issuer.
func ExampleNewJWKSVerifier() {
	quiet := slog.New(slog.DiscardHandler)
	hasher, _ := middleware.NewArgon2idHasher(middleware.TestArgon2Params)
	login, _ := middleware.NewPasswordLogin(middleware.NewMemoryAccounts(), middleware.WithHasher(hasher))
	key, _ := bearer.GenerateKey("2030-01", bearer.EdDSA)
	keys, _ := bearer.NewKeySet(key)
	issuer, _ := bearer.New(login, keys, bearer.WithIssuer("https://auth.example.com"), bearer.WithLogger(quiet))
	defer issuer.Close()
	jwks := httptest.NewServer(issuer.JWKSHandler())
	defer jwks.Close()
	tokens, _ := issuer.Issue(context.Background(), middleware.Account{UserID: "88144f5ea3", Roles: []string{"user"}})

	// The service that accepts the tokens.
	verifier, err := bearer.NewJWKSVerifier(jwks.URL+"/.well-known/jwks.json",
		bearer.WithIssuer("https://auth.example.com"), bearer.WithLogger(quiet))
	if err != nil {
		log.Fatal(err)
	}
	defer verifier.Close()
	h := middleware.Require(verifier.Scheme())(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, _ := middleware.FromRequest(r)
		fmt.Fprintln(w, "hello", p.Subject, p.Roles)
	}))
	// Mary edits her token's claims to become another user: the signature no longer matches.
	parts := strings.Split(tokens.AccessToken, ".")
	parts[1] = base64.RawURLEncoding.EncodeToString([]byte(`{"sub":"1dd5a6e3b1","roles":["admin"]}`))
	for _, token := range []string{tokens.AccessToken, strings.Join(parts, ".")} {
		req := httptest.NewRequest(http.MethodGet, "/records", nil)
		req.Header.Set("Authorization", "Bearer "+token)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		fmt.Print(rec.Code, " ", rec.Header().Get("WWW-Authenticate"), " ", rec.Body.String())
	}
	// Output:
	// 200  hello 88144f5ea3 [user]
	// 401 Bearer realm="tidegate", error="invalid_token" {"error":"invalid_token","error_description":"a valid bearer token or valid credentials are required"}
}

// NewEd25519Key wraps an Ed25519 private key for signing. Services that
// only verify need the public half alone, and rotating keys means a new
// signing key with the old one kept for the tokens it signed.
func ExampleNewEd25519Key() {
	// In production, load the key (x509.ParsePKCS8PrivateKey of a PEM file).
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	key, err := bearer.NewEd25519Key("2030-01", priv)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(key.ID(), key.Algorithm(), key.CanSign())

	public, _ := bearer.NewEd25519VerificationKey("2030-01", priv.Public().(ed25519.PublicKey))
	fmt.Println(public.ID(), public.Algorithm(), public.CanSign())

	_, next, _ := ed25519.GenerateKey(rand.Reader)
	nextKey, _ := bearer.NewEd25519Key("2030-07", next)
	keys, _ := bearer.NewKeySet(nextKey, key)
	_, stillVerifies := keys.Lookup("2030-01")
	fmt.Println(keys.Signing().ID(), stillVerifies)

	_, err = bearer.NewEd25519Key("", priv[:16])
	fmt.Println(err)
	// Output:
	// 2030-01 EdDSA true
	// 2030-01 EdDSA false
	// 2030-07 true
	// bearer: invalid Ed25519 private key
}

// NewHMACKey makes an HS256 key from a shared secret: 32 random bytes or
// more. A secret that looks like a password is refused, since anyone
// holding one token could guess it offline and forge others.
func ExampleNewHMACKey() {
	// In production, read the secret from a secret store (or a file, with
	// bearer.ParseHMACKey); every replica needs the same one.
	secret := make([]byte, 32)
	_, _ = rand.Read(secret)
	key, err := bearer.NewHMACKey("2030-01", secret)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(key.ID(), key.Algorithm(), key.CanSign(), key.Public() == nil)

	for _, weak := range []string{"too short", "ThisIsMySuperSecretKeyForJWTTokens2024"} {
		_, err := bearer.NewHMACKey("", []byte(weak))
		fmt.Println(errors.Is(err, bearer.ErrShortSecret), errors.Is(err, bearer.ErrWeakSecret), err)
	}
	// Output:
	// 2030-01 HS256 true true
	// true false bearer: HS256 secret must be 32 to 1024 bytes
	// false true bearer: HS256 secret looks like a password or a pattern; use 32 random bytes (bearer.GenerateKey, or openssl rand -base64 32)
}

// NewMemoryRefreshStore keeps the refresh tokens of one process, bounded.
// Each refresh token works once: presenting a used one again ends the
// whole login (RFC 9700 reuse detection).
func ExampleNewMemoryRefreshStore() {
	store, err := bearer.NewMemoryRefreshStore(bearer.WithStoreMaxEntries(100_000))
	if err != nil {
		log.Fatal(err)
	}
	ctx := context.Background()
	hasher, err := middleware.NewArgon2idHasher(middleware.TestArgon2Params) // production: DefaultArgon2Params
	if err != nil {
		log.Fatal(err)
	}
	hash, err := hasher.Hash("correct horse battery staple")
	if err != nil {
		log.Fatal(err)
	}
	accounts := middleware.NewMemoryAccounts()
	mary := middleware.Account{UserID: "88144f5ea3", Username: "mary@example.com", PasswordHash: hash}
	if err := accounts.Create(ctx, mary); err != nil {
		log.Fatal(err)
	}
	login, err := middleware.NewPasswordLogin(accounts, middleware.WithHasher(hasher))
	if err != nil {
		log.Fatal(err)
	}
	key, err := bearer.GenerateKey("", bearer.HS256)
	if err != nil {
		log.Fatal(err)
	}
	keys, err := bearer.NewKeySet(key)
	if err != nil {
		log.Fatal(err)
	}
	svc, err := bearer.New(login, keys, bearer.WithRefreshStore(store), bearer.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		log.Fatal(err)
	}
	defer svc.Close()

	tokens, err := svc.Issue(ctx, mary) // as POST /authenticate does after checking the password
	if err != nil {
		log.Fatal(err)
	}
	refresh := func(t bearer.Tokens) int {
		req := httptest.NewRequest(http.MethodPost, "/refresh", strings.NewReader(`{"refresh_token":"`+t.RefreshToken+`"}`))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+t.AccessToken)
		rec := httptest.NewRecorder()
		svc.Handler().ServeHTTP(rec, req)
		return rec.Code
	}
	fmt.Println("refresh:", refresh(tokens), "tokens held:", store.Len())
	// The reuse ends the login, but its tokens are held until they expire,
	// so that presenting any of them is answered as a reuse again.
	fmt.Println("same token again:", refresh(tokens), "tokens held:", store.Len())
	// Output:
	// refresh: 200 tokens held: 2
	// same token again: 401 tokens held: 2
}

// NewMemoryRevocationList records revoked access tokens in one process.
// Pass it to bearer.New and bearer.NewJWKSVerifier with
// WithRevocationList to share it between an issuer and a verifier.
func ExampleNewMemoryRevocationList() {
	ctx := context.Background()
	now := time.Date(2030, time.January, 1, 9, 0, 0, 0, time.UTC)
	list, err := bearer.NewMemoryRevocationList(bearer.WithStoreMaxEntries(100_000),
		bearer.WithStoreClock(func() time.Time { return now }))
	if err != nil {
		log.Fatal(err)
	}
	// Mary changed her password: every token she got before now is revoked.
	// An entry is kept until every token it matches has expired.
	_ = list.RevokeSubject(ctx, "88144f5ea3", now, now.Add(bearer.DefaultAccessTTL))
	// Ada logged out of one login.
	_ = list.RevokeLogin(ctx, "login-7", now.Add(bearer.DefaultAccessTTL))

	for _, t := range []bearer.TokenRef{
		{ID: "jti-1", Login: "login-3", Subject: "88144f5ea3", IssuedAt: now.Add(-time.Hour)},
		{ID: "jti-2", Login: "login-4", Subject: "88144f5ea3", IssuedAt: now.Add(time.Minute)},
		{ID: "jti-3", Login: "login-7", Subject: "1dd5a6e3b1", IssuedAt: now.Add(-time.Hour)},
		{ID: "jti-4", Login: "login-8", Subject: "1dd5a6e3b1", IssuedAt: now.Add(-time.Hour)},
	} {
		revoked, _ := list.Revoked(ctx, t)
		fmt.Println(t.ID, revoked)
	}
	fmt.Println("entries:", list.Len())
	// Output:
	// jti-1 true
	// jti-2 false
	// jti-3 true
	// jti-4 false
	// entries: 2
}
