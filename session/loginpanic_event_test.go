package session_test

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tidegate/tidegate/middleware"
	"github.com/tidegate/tidegate/session"
)

// loginPanickyAccounts panics in FindByLogin, as a buggy accounts store
// would, quoting the login it was given.
type loginPanickyAccounts struct{ middleware.Accounts }

func (a loginPanickyAccounts) FindByLogin(_ context.Context, login string) (middleware.Account, error) {
	panic("accounts bug with " + login)
}

// TestLoginPanicIsLoggedLikeEveryOtherPanic: SECURITY.md says a login's
// accounts, limiter and hasher are contained "the same way" as a Verifier
// ("the log gets the panic's type and stack"). A panic in the accounts
// during POST /login is contained by PasswordLogin, and the endpoint's
// event was a Warn with reason "panic": no type, no stack, nowhere in the
// log. It is an Error with both, as the middleware logs one.
func TestLoginPanicIsLoggedLikeEveryOtherPanic(t *testing.T) {
	login, err := middleware.NewPasswordLogin(loginPanickyAccounts{newAccounts(t)}, middleware.WithHasher(hasher(t)))
	require.NoError(t, err)
	events := &eventRecorder{}
	svc, err := session.New(login, session.WithLogger(slog.New(events)))
	require.NoError(t, err)
	t.Cleanup(func() { _ = svc.Close() })

	rec := httptest.NewRecorder()
	svc.Handler().ServeHTTP(rec, httptestRequest(http.MethodPost, "/login", "Authorization", basic("jo", joPassword)))
	require.Equal(t, http.StatusInternalServerError, rec.Code)

	got := events.take()
	t.Logf("events: %v", got)
	var typed bool
	for _, e := range got {
		if e["panic_type"] != "" && e["stack"] != "" && e["level"] == slog.LevelError.String() {
			typed = true
		}
	}
	assert.True(t, typed, "the login's contained panic is logged at Error with its type and stack")
}
