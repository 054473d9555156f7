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
	"time"

	"github.com/tidegate/tidegate/middleware"
	"github.com/tidegate/tidegate/session"
)

// Example mounts the Tidepool endpoints at /auth, protects /whoami with
// session tokens, and walks through login, an authenticated request,
// logout, and the same request again.
func Example() {
	// Accounts and password checking, shared with every credential kind.
	hasher, err := middleware.NewArgon2idHasher(middleware.TestArgon2Params) // production: DefaultArgon2Params
	if err != nil {
		log.Fatal(err)
	}
	hash, err := hasher.Hash("correct horse battery staple")
	if err != nil {
		log.Fatal(err)
	}
	accounts := middleware.NewMemoryAccounts()
	err = accounts.Create(context.Background(), middleware.Account{
		UserID: "88144f5ea3", Username: "mary@example.com", Emails: []string{"mary@example.com"},
		PasswordHash: hash,
	})
	if err != nil {
		log.Fatal(err) // the user name or an email is taken
	}
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

// hello answers with the subject the middleware authenticated.
var hello = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	p, _ := middleware.FromRequest(r)
	fmt.Fprintf(w, "hello %s (%s)", p.Subject, p.Actor)
})

// getWith sends GET /whoami with a session token to h and prints the answer.
func getWith(h http.Handler, token string) {
	req := httptest.NewRequest(http.MethodGet, "/whoami", nil)
	req.Header.Set(session.HeaderToken, token)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	fmt.Println(rec.Code, strings.TrimSpace(rec.Body.String()))
}

// NewStoreVerifier lets a service accept the session tokens another
// service issues into a store they share (in production a
// redisstore.SessionStore; here an in-memory one), without mounting the
// login handlers itself.
func ExampleNewStoreVerifier() {
	store, err := middleware.NewMemorySessionStore()
	if err != nil {
		log.Fatal(err)
	}
	// Elsewhere, a session.Service with session.WithStore(store) logs Mary in.
	token, now := middleware.NewToken(), time.Now()
	err = store.Create(context.Background(), middleware.DigestToken(token), middleware.Session{
		Subject: "88144f5ea3", Actor: middleware.ActorUser, IssuedAt: now, ExpiresAt: now.Add(time.Hour),
	})
	if err != nil {
		log.Fatal(err)
	}

	verifier, err := session.NewStoreVerifier(store)
	if err != nil {
		log.Fatal(err)
	}
	cache, _ := middleware.NewCache(verifier, time.Minute)
	defer cache.Close()
	scheme, _ := session.NewScheme(cache, middleware.WithLogger(slog.New(slog.DiscardHandler)))
	h := middleware.Require(scheme)(hello)

	getWith(h, token)
	getWith(h, middleware.NewToken())
	// Output:
	// 200 hello 88144f5ea3 (user)
	// 401 "Session token required"
}

// NewRemoteVerifier lets a service accept session tokens without sharing
// the auth server's store: it asks the auth server, logged in as a server
// of its own. An httptest server running a session.Service stands in for
// the auth server; an auth server that cannot answer is a 503, never a 401.
func ExampleNewRemoteVerifier() {
	quiet := slog.New(slog.DiscardHandler)
	const secret = "read-me-from-a-secret-store" // the records-api entry of the auth server's WithServers
	hasher, _ := middleware.NewArgon2idHasher(middleware.TestArgon2Params)
	login, _ := middleware.NewPasswordLogin(middleware.NewMemoryAccounts(), middleware.WithHasher(hasher))
	auth, _ := session.New(login, session.WithLogger(quiet), session.WithServers(map[string]string{"records-api": secret}))
	defer auth.Close()
	authServer := httptest.NewServer(http.StripPrefix("/auth", auth.Handler()))
	defer authServer.Close()
	token, now := middleware.NewToken(), time.Now() // Mary's token, as POST /auth/login issues it
	err := auth.Store().Create(context.Background(), middleware.DigestToken(token), middleware.Session{
		Subject: "88144f5ea3", Actor: middleware.ActorUser, IssuedAt: now, ExpiresAt: now.Add(time.Hour),
	})
	if err != nil {
		log.Fatal(err)
	}

	// The records-api service.
	remote, err := session.NewRemoteVerifier(authServer.URL+"/auth", "records-api", secret,
		session.WithRemoteLogger(quiet))
	if err != nil {
		log.Fatal(err)
	}
	defer remote.Close()
	cache, _ := middleware.NewCache(remote, time.Minute)
	defer cache.Close()
	scheme, _ := session.NewScheme(cache, middleware.WithLogger(quiet))
	h := middleware.Require(scheme)(hello)

	getWith(h, token)
	getWith(h, middleware.NewToken())
	authServer.Close()
	getWith(h, middleware.NewToken())
	// Output:
	// 200 hello 88144f5ea3 (user)
	// 401 "Session token required"
	// 503 "Service unavailable"
}
