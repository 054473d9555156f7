package session_test

import (
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/tidegate/tidegate/middleware"
	"github.com/tidegate/tidegate/session"
)

// Example mounts the Tidepool endpoints at /auth, protects /whoami with
// session tokens, and walks through login, an authenticated request,
// logout, and the same request again.
func Example() {
	// Accounts and password checking, shared with every credential kind.
	hasher, _ := middleware.NewArgon2idHasher(middleware.TestArgon2Params) // production: DefaultArgon2Params
	hash, _ := hasher.Hash("correct horse battery staple")
	accounts := middleware.NewMemoryAccounts()
	_ = accounts.Create(context.Background(), middleware.Account{
		UserID: "88144f5ea3", Username: "mary@example.com", Emails: []string{"mary@example.com"},
		PasswordHash: hash,
	})
	login, err := middleware.NewPasswordLogin(accounts, middleware.WithHasher(hasher))
	if err != nil {
		log.Fatal(err)
	}

	svc, err := session.New(login, session.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		log.Fatal(err)
	}
	defer svc.Close()

	mux := http.NewServeMux()
	mux.Handle("/auth/", http.StripPrefix("/auth", svc.Handler()))
	mux.Handle("/whoami", middleware.Require(svc.Scheme())(http.HandlerFunc(
		func(w http.ResponseWriter, r *http.Request) {
			p, _ := middleware.FromRequest(r)
			fmt.Fprintf(w, "hello %s", p.Subject)
		})))
	srv := httptest.NewServer(mux)
	defer srv.Close()

	call := func(method, path string, header ...string) *http.Response {
		req, _ := http.NewRequest(method, srv.URL+path, http.NoBody)
		for i := 0; i+1 < len(header); i += 2 {
			req.Header.Set(header[i], header[i+1])
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			log.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		fmt.Println(strings.TrimSpace(fmt.Sprintf("%s %s %d %s", method, path, resp.StatusCode, body)))
		return resp
	}

	creds := base64.StdEncoding.EncodeToString([]byte("Mary@Example.com:correct horse battery staple"))
	resp := call("POST", "/auth/login", "Authorization", "Basic "+creds)
	token := resp.Header.Get(session.HeaderToken)

	call("GET", "/whoami", session.HeaderToken, token)
	call("POST", "/auth/logout", session.HeaderToken, token)
	call("GET", "/whoami", session.HeaderToken, token)

	// Output:
	// POST /auth/login 200 {"userid":"88144f5ea3","username":"mary@example.com","emails":["mary@example.com"]}
	// GET /whoami 200 hello 88144f5ea3
	// POST /auth/logout 200
	// GET /whoami 401 "Session token required"
}
