package tidegatetest_test

import (
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"runtime"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
	"github.com/tidegate/tidegate/basicauth"
	"github.com/tidegate/tidegate/bearer"
	"github.com/tidegate/tidegate/middleware"
	"github.com/tidegate/tidegate/session"
	"github.com/tidegate/tidegate/tidegatetest"
)

// fatalTB is a testing.TB whose Fatalf records its message and ends the
// goroutine, as the real one does, so that tests can see a helper stop a
// test. Everything else goes to the real test.
type fatalTB struct {
	testing.TB
	mu  sync.Mutex
	msg string
}

func (f *fatalTB) Helper() {}

func (f *fatalTB) Fatalf(format string, args ...any) {
	f.mu.Lock()
	f.msg = fmt.Sprintf(format, args...)
	f.mu.Unlock()
	runtime.Goexit()
}

// fatalOf runs fn with a fatalTB on a goroutine of its own and returns the
// message it stopped with ("" when it returned normally).
func fatalOf(t *testing.T, fn func(tb testing.TB)) string {
	t.Helper()
	f := &fatalTB{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		fn(f)
	}()
	<-done
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.msg
}

func discard() *slog.Logger { return slog.New(slog.DiscardHandler) }

// The test users.
const (
	maryPassword = "correct horse battery staple"
	adaPassword  = "ada's long admin passphrase"
	demoApp      = "demo"
)

var (
	mary = tidegatetest.User{UserID: "u-mary", Username: "mary", Password: maryPassword,
		Emails: []string{"mary@example.com"}, Roles: []string{"user"}}
	ada = tidegatetest.User{UserID: "u-ada", Username: "ada", Password: adaPassword,
		Roles: []string{"user", "admin"}}
	gone = tidegatetest.User{UserID: "u-gone", Username: "gone", Password: "a disabled account", Disabled: true}
)

// kit is one of each service over the same accounts, on a test clock.
type kit struct {
	clock    *tidegatetest.Clock
	accounts *tidegatetest.Accounts
	sessions *session.Service
	jwts     *bearer.Service
	apps     *basicauth.Service
	appStore *middleware.MemorySessionStore // basicauth's session store
	tokens   basicauth.AppTokens
}

func newKit(t *testing.T) *kit {
	t.Helper()
	k := &kit{clock: tidegatetest.NewClock(tidegatetest.ClockStart)}
	k.accounts = tidegatetest.NewAccounts(t, mary, ada, gone)
	var err error
	k.sessions, err = session.New(k.accounts.Login, session.WithClock(k.clock.Now), session.WithLogger(discard()))
	require.NoError(t, err)
	t.Cleanup(func() { _ = k.sessions.Close() })

	key, err := bearer.GenerateKey("", bearer.HS256)
	require.NoError(t, err)
	keys, err := bearer.NewKeySet(key)
	require.NoError(t, err)
	k.jwts, err = bearer.New(k.accounts.Login, keys, bearer.WithClock(k.clock.Now), bearer.WithLogger(discard()))
	require.NoError(t, err)
	t.Cleanup(func() { _ = k.jwts.Close() })

	k.tokens = basicauth.NewAppTokens()
	registry, err := basicauth.NewMemoryRegistry(basicauth.AppSpec{
		ID: demoApp, Name: "Demo", AppToken: k.tokens.AppToken, BackendToken: k.tokens.BackendToken,
	})
	require.NoError(t, err)
	k.appStore, err = middleware.NewMemorySessionStore(middleware.WithStoreClock(k.clock.Now))
	require.NoError(t, err)
	k.apps, err = basicauth.New(registry, k.accounts.Store, k.accounts.Login, basicauth.WithClock(k.clock.Now),
		basicauth.WithSessionStore(k.appStore), basicauth.WithLogger(discard()))
	require.NoError(t, err)
	t.Cleanup(func() { _ = k.apps.Close() })
	return k
}

// whoami answers "subject kind roles" of the request's principal.
var whoami = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	p, ok := middleware.FromRequest(r)
	if !ok {
		http.Error(w, "no principal", http.StatusInternalServerError)
		return
	}
	fmt.Fprintf(w, "%s %s %v", p.Subject, p.Kind, p.Roles)
})

// get sends GET target through h with the given headers (name, value, ...).
func get(h http.Handler, target string, header ...string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodGet, target, nil)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Add(header[i], header[i+1])
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}
