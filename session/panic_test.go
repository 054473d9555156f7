package session_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tidegate/tidegate/middleware"
	"github.com/tidegate/tidegate/session"
)

// panickyAccounts panics in FindByID once armed, as a buggy accounts
// store would, quoting what it was given.
type panickyAccounts struct {
	middleware.Accounts
	armed *atomic.Bool
}

func (a panickyAccounts) FindByID(ctx context.Context, id string) (middleware.Account, error) {
	if a.armed.Load() {
		panic("accounts bug with " + id)
	}
	return a.Accounts.FindByID(ctx, id)
}

// TestEndpointsContainPanickingAccounts: the service's endpoints call the
// application's accounts and stores directly too (a refresh re-reads the
// account), and are contained as the middleware is: the generic 500, not a
// panic that net/http answers by dropping the connection and logging the
// value (here, the user id).
func TestEndpointsContainPanickingAccounts(t *testing.T) {
	armed := &atomic.Bool{}
	accounts := panickyAccounts{Accounts: newAccounts(t), armed: armed}
	login, err := middleware.NewPasswordLogin(accounts, middleware.WithHasher(hasher(t)))
	require.NoError(t, err)
	svc, err := session.New(login, session.WithLogger(quiet))
	require.NoError(t, err)
	t.Cleanup(func() { _ = svc.Close() })
	h := svc.Handler()

	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptestRequest(http.MethodPost, "/login", "Authorization", basic("jo", joPassword)))
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	token := rec.Header().Get(session.HeaderToken)

	armed.Store(true)
	rec = httptest.NewRecorder()
	require.NotPanics(t, func() {
		h.ServeHTTP(rec, httptestRequest(http.MethodGet, "/login", session.HeaderToken, token))
	}, "a panicking accounts store is contained on refresh as on login")
	assert.Equal(t, http.StatusInternalServerError, rec.Code)
}
