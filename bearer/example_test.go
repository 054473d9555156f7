package bearer_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/tidegate/tidegate/bearer"
	"github.com/tidegate/tidegate/middleware"
)

// Example mounts the Tidal-style endpoints under /api/v1, logs in, calls
// /ping with the access token, and logs out.
func Example() {
	// Accounts and password checking are shared by every credential kind.
	// (Cheap hashing parameters keep the example fast; use the defaults.)
	hasher, _ := middleware.NewArgon2idHasher(middleware.TestArgon2Params)
	accounts := middleware.NewMemoryAccounts()
	hash, _ := hasher.Hash("correct horse battery staple")
	_ = accounts.Create(context.Background(), middleware.Account{
		UserID: "88144f5ea3", Username: "mary@example.com", PasswordHash: hash, Roles: []string{"user"},
	})
	login, _ := middleware.NewPasswordLogin(accounts, middleware.WithHasher(hasher))

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
