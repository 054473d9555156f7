package basicauth_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/tidegate/tidegate/basicauth"
	"github.com/tidegate/tidegate/middleware"
)

// Example serves the Tapglue-style endpoints over HTTPS under /0.4: an app
// signs a user up and logs her in; the user, then the app's backend, read
// her profile; she logs out.
func Example() {
	accounts := middleware.NewMemoryAccounts()
	hasher, err := middleware.NewArgon2idHasher(middleware.TestArgon2Params) // cheap: tests and examples only
	if err != nil {
		log.Fatal(err)
	}
	login, err := middleware.NewPasswordLogin(accounts, middleware.WithHasher(hasher))
	if err != nil {
		log.Fatal(err)
	}
	tokens := basicauth.NewAppTokens()
	apps, err := basicauth.NewMemoryRegistry(basicauth.AppSpec{
		ID: "demo", Name: "Demo", AppToken: tokens.AppToken, BackendToken: tokens.BackendToken,
	})
	if err != nil {
		log.Fatal(err)
	}
	svc, err := basicauth.New(apps, accounts, login, basicauth.WithLogger(discard))
	if err != nil {
		log.Fatal(err)
	}
	defer svc.Close()

	mux := http.NewServeMux()
	mux.Handle("/0.4/", http.StripPrefix("/0.4", svc.Handler()))
	srv := httptest.NewTLSServer(mux)
	defer srv.Close()

	// call sends Basic user:password and returns the status and JSON body.
	call := func(method, path, user, password, body string) (int, map[string]any) {
		req, _ := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
		req.SetBasicAuth(user, password)
		req.Header.Set("Content-Type", "application/json")
		res, err := srv.Client().Do(req)
		if err != nil {
			log.Fatal(err)
		}
		defer res.Body.Close()
		var out map[string]any
		_ = json.NewDecoder(res.Body).Decode(&out)
		return res.StatusCode, out
	}

	status, _ := call("POST", "/0.4/users", tokens.AppToken, "",
		`{"user_name":"zoe","email":"zoe@example.com","password":"a long passphrase"}`)
	fmt.Println("sign up:", status)
	status, me := call("POST", "/0.4/me/login", tokens.AppToken, "",
		`{"email":"zoe@example.com","password":"a long passphrase"}`)
	fmt.Println("log in:", status)
	userID, session := me["id"].(string), me["session_token"].(string)

	status, me = call("GET", "/0.4/me", tokens.AppToken, session, "")
	fmt.Println("as the user:", status, me["user_name"])
	status, me = call("GET", "/0.4/me", tokens.BackendToken, userID, "")
	fmt.Println("as the backend:", status, me["user_name"])
	status, me = call("GET", "/0.4/me", tokens.AppToken, "", "")
	fmt.Println("as the app alone:", status, me["errors"])
	status, _ = call("DELETE", "/0.4/me/logout", tokens.AppToken, session, "")
	fmt.Println("log out:", status)
	status, me = call("GET", "/0.4/me", tokens.AppToken, session, "")
	fmt.Println("after logout:", status, me["errors"])
	// Output:
	// sign up: 201
	// log in: 201
	// as the user: 200 zoe
	// as the backend: 200 zoe
	// as the app alone: 401 [map[code:4013 message:session token required]]
	// log out: 204
	// after logout: 401 [map[code:4007 message:session token or user id invalid]]
}

// ExampleNewScheme puts the Basic scheme, with its HTTPS rule, challenge
// and error bodies, in front of a Verifier of your own: here one that knows
// a single app token and session. InvalidSession gives Tapglue's 4007 for
// a known app with a wrong session; any other refusal is 1001.
func ExampleNewScheme() {
	verifier := middleware.VerifierFunc(func(_ context.Context, c middleware.Credential) (middleware.Principal, error) {
		switch {
		case c.Token != "app-token":
			return middleware.Principal{}, middleware.Invalid("unknown app")
		case c.Secret != "session-token":
			return middleware.Principal{}, basicauth.InvalidSession()
		}
		return middleware.Principal{Subject: "mary"}, nil
	})
	scheme, _ := basicauth.NewScheme(verifier, basicauth.WithLogger(slog.New(slog.DiscardHandler)))
	handler := middleware.Require(scheme)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		subject, _ := middleware.SubjectFromContext(r.Context())
		fmt.Fprintln(w, "hello", subject)
	}))
	for _, try := range []struct{ target, app, session string }{
		{"https://api.example.com/me", "app-token", "session-token"},
		{"https://api.example.com/me", "app-token", "old-session"},
		{"https://api.example.com/me", "other-app", "session-token"},
		{"http://api.example.com/me", "app-token", "session-token"},
	} {
		req := httptest.NewRequest(http.MethodGet, try.target, nil)
		req.SetBasicAuth(try.app, try.session)
		rec := httptest.NewRecorder()
		handler.ServeHTTP(rec, req)
		fmt.Print(rec.Code, " ", rec.Body.String())
	}
	// Output:
	// 200 hello mary
	// 401 {"errors":[{"code":4007,"message":"session token or user id invalid"}]}
	// 401 {"errors":[{"code":1001,"message":"app token missing or invalid"}]}
	// 403 {"errors":[{"code":4030,"message":"HTTPS is required for these credentials"}]}
}
