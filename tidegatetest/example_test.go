package tidegatetest_test

import (
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/tidegate/tidegate/bearer"
	"github.com/tidegate/tidegate/middleware"
	"github.com/tidegate/tidegate/session"
	"github.com/tidegate/tidegate/tidegatetest"
)

// Example is a table-driven test of a handler behind middleware.Any over
// two credential kinds and middleware.RequireRole. A StaticVerifier stands
// in for the real stores, the schemes keep their real extractors,
// challenges and bodies, and a Clock makes a credential expire without
// sleeping. In a test, compare got with c.want through t.Errorf or testify.
func Example() {
	clock := tidegatetest.NewClock(time.Time{})
	mary := middleware.Principal{Subject: "mary", Roles: []string{"user"}}
	admin := middleware.Principal{Subject: "ada", Roles: []string{"user", "admin"},
		ExpiresAt: clock.Now().Add(time.Hour)}
	verifier, err := tidegatetest.NewStaticVerifier(
		tidegatetest.Token(session.Kind, "mary-session-token", mary),
		tidegatetest.Token(bearer.Kind, "ada.access.token", admin),
	)
	if err != nil {
		fmt.Println(err)
		return
	}

	// The schemes under test: Tidepool session tokens and Authorization: Bearer.
	quiet := middleware.WithLogger(slog.New(slog.DiscardHandler))
	sessions, _ := session.NewScheme(verifier, quiet, middleware.WithClock(clock.Now))
	jwts, _ := bearer.NewScheme(verifier, quiet, middleware.WithClock(clock.Now))
	anyKind, _ := middleware.Any(sessions, jwts)

	// The handler under test, wired as in production.
	stats := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, _ := middleware.FromRequest(r)
		fmt.Fprintf(w, "stats for %s", p.Subject)
	})
	handler := anyKind(middleware.RequireRole("admin")(stats))

	cases := []struct {
		name    string
		header  string // "Name: value", or "" for none
		advance time.Duration
		want    int
	}{
		{"no credential", "", 0, http.StatusUnauthorized},
		{"session without the role", "X-Tidepool-Session-Token: mary-session-token", 0, http.StatusForbidden},
		{"bearer with the role", "Authorization: " + tidegatetest.BearerHeader("ada.access.token"), 0, http.StatusOK},
		{"unknown bearer", "Authorization: " + tidegatetest.BearerHeader("forged.access.token"), 0, http.StatusUnauthorized},
		{"both kinds at once", "Authorization: Bearer ada.access.token|X-Tidepool-Session-Token: mary-session-token", 0, http.StatusBadRequest},
		{"bearer two hours later", "Authorization: " + tidegatetest.BearerHeader("ada.access.token"), 2 * time.Hour, http.StatusUnauthorized},
	}
	for _, c := range cases {
		clock.Advance(c.advance)
		req := httptest.NewRequest(http.MethodGet, "/admin/stats", nil)
		for _, h := range strings.Split(c.header, "|") {
			if name, value, ok := strings.Cut(h, ": "); ok {
				req.Header.Add(name, value)
			}
		}
		rec := httptest.NewRecorder()
		handler.ServeHTTP(rec, req)
		got := fmt.Sprintf("%-26s %d (want %d)", c.name, rec.Code, c.want)
		if challenges := rec.Header().Values("WWW-Authenticate"); len(challenges) > 0 {
			got += " " + strings.Join(challenges, " | ")
		}
		fmt.Println(got)
	}

	// The handler alone, with a principal and no credential at all.
	rec := httptest.NewRecorder()
	stats.ServeHTTP(rec, tidegatetest.WithPrincipal(httptest.NewRequest(http.MethodGet, "/admin/stats", nil), admin))
	fmt.Println(rec.Code, rec.Body.String())

	// Output:
	// no credential              401 (want 401) X-Tidepool-Session-Token realm="tidepool" | Bearer realm="tidegate"
	// session without the role   403 (want 403)
	// bearer with the role       200 (want 200)
	// unknown bearer             401 (want 401) Bearer realm="tidegate", error="invalid_token"
	// both kinds at once         400 (want 400) Bearer realm="tidegate", error="invalid_request"
	// bearer two hours later     401 (want 401) Bearer realm="tidegate", error="invalid_token"
	// 200 stats for ada
}

// exampleT stands in for the *testing.T that a test hands the helpers: an
// Example has none. Like the real one, it stops at the first failure.
type exampleT struct{ testing.TB }

func (exampleT) Helper() {}

func (exampleT) Fatalf(format string, args ...any) { panic(fmt.Sprintf(format, args...)) }

// LoginSession logs a test user in through a session.Service's own POST
// /login, so that a test sends a real session token to the handler under
// test, through the real middleware.
func ExampleLoginSession() {
	var t testing.TB = exampleT{} // in a test: the *testing.T
	accounts := tidegatetest.NewAccounts(t, tidegatetest.User{
		UserID: "88144f5ea3", Username: "mary", Password: "correct horse battery staple", Emails: []string{"mary@example.com"},
	})
	svc, err := session.New(accounts.Login, session.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatalf("session.New: %v", err)
	}
	defer svc.Close()
	handler := middleware.Require(svc.Scheme())(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		subject, _ := middleware.SubjectFromContext(r.Context())
		fmt.Fprintf(w, "records of %s", subject)
	}))

	token := tidegatetest.LoginSession(t, svc, "mary@example.com", "correct horse battery staple")
	req := httptest.NewRequest(http.MethodGet, "/records", nil)
	req.Header.Set(session.HeaderToken, token)
	rec := httptest.NewRecorder()
	handler.ServeHTTP(rec, req)
	fmt.Println(rec.Code, rec.Body.String())
	// Output:
	// 200 records of 88144f5ea3
}

// LoginBearer logs a test user in through a bearer.Service's own POST
// /authenticate and returns the access and refresh tokens, for a test of
// a handler behind the bearer middleware (or of the refresh flow).
func ExampleLoginBearer() {
	var t testing.TB = exampleT{} // in a test: the *testing.T
	accounts := tidegatetest.NewAccounts(t, tidegatetest.User{
		UserID: "1dd5a6e3b1", Username: "ada", Password: "ada's long admin passphrase", Roles: []string{"user", "admin"},
	})
	key, _ := bearer.GenerateKey("", bearer.HS256)
	keys, _ := bearer.NewKeySet(key)
	svc, err := bearer.New(accounts.Login, keys, bearer.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatalf("bearer.New: %v", err)
	}
	defer svc.Close()
	handler := middleware.Require(svc.Scheme())(middleware.RequireRole("admin")(http.HandlerFunc(
		func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "admin stats") })))

	tokens := tidegatetest.LoginBearer(t, svc, "ada", "ada's long admin passphrase")
	fmt.Println(tokens.ExpiresIn, tokens.RefreshToken != "")
	req := httptest.NewRequest(http.MethodGet, "/admin/stats", nil)
	req.Header.Set("Authorization", tidegatetest.BearerHeader(tokens.AccessToken))
	rec := httptest.NewRecorder()
	handler.ServeHTTP(rec, req)
	fmt.Println(rec.Code, rec.Body.String())
	// Output:
	// 8h0m0s true
	// 200 admin stats
}
