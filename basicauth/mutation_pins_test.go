package basicauth_test

import (
	"context"
	"crypto/tls"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/tidegate/tidegate/basicauth"
	"github.com/tidegate/tidegate/middleware"
)

// foldingAccounts is an account store whose FindByID ignores case, as a
// case-insensitive database column would, and counts its calls.
type foldingAccounts struct {
	*middleware.MemoryAccounts
	finds atomic.Int64
}

func (a *foldingAccounts) FindByID(ctx context.Context, id string) (middleware.Account, error) {
	a.finds.Add(1)
	return a.MemoryAccounts.FindByID(ctx, strings.ToLower(id))
}

// newFoldingService serves a Service over foldingAccounts holding mary.
func newFoldingService(t *testing.T) (*foldingAccounts, http.Handler) {
	t.Helper()
	accounts := &foldingAccounts{MemoryAccounts: middleware.NewMemoryAccounts()}
	hasher, err := middleware.NewArgon2idHasher(middleware.TestArgon2Params)
	require.NoError(t, err)
	hash, err := hasher.Hash(maryPassword)
	require.NoError(t, err)
	require.NoError(t, accounts.Create(t.Context(), middleware.Account{
		UserID: maryID, Username: maryName, Emails: []string{maryEmail}, Roles: []string{"user"}, PasswordHash: hash,
	}))
	login, err := middleware.NewPasswordLogin(accounts, middleware.WithHasher(hasher))
	require.NoError(t, err)
	reg, err := basicauth.NewMemoryRegistry(basicauth.AppSpec{ID: "a", Name: "App A", AppToken: appA, BackendToken: backendA})
	require.NoError(t, err)
	svc, err := basicauth.New(reg, accounts, login, basicauth.WithLogger(discard))
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, svc.Close()) })
	return accounts, svc.RequireUser()(http.HandlerFunc(echoPrincipal))
}

func serveTLS(h http.Handler, auth string) *http.Response {
	req := httptest.NewRequest(http.MethodGet, "https://api.example.test/whoami", nil)
	req.TLS = &tls.ConnectionState{}
	req.Header.Set("Authorization", auth)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec.Result()
}

// TestBackendUserIDIsBoundedBeforeTheAccountLookup: a backend credential's
// user id longer than MaxUserIDBytes is refused before the accounts are
// asked (a size limit checked before work). The existing row in
// TestUserCredentialErrors only sees the 401, which an unknown id gets too.
func TestBackendUserIDIsBoundedBeforeTheAccountLookup(t *testing.T) {
	accounts, h := newFoldingService(t)
	for _, n := range []int{basicauth.MaxUserIDBytes + 1, 2 * basicauth.MaxUserIDBytes} {
		before := accounts.finds.Load()
		res := serveTLS(h, basic(backendA+":"+strings.Repeat("u", n)))
		res.Body.Close()
		assert.Equal(t, http.StatusUnauthorized, res.StatusCode)
		assert.Equal(t, before, accounts.finds.Load(), "a %d-byte user id reached the accounts", n)
	}
	// At the bound the accounts are asked.
	before := accounts.finds.Load()
	res := serveTLS(h, basic(backendA+":"+strings.Repeat("u", basicauth.MaxUserIDBytes)))
	res.Body.Close()
	assert.Equal(t, http.StatusUnauthorized, res.StatusCode)
	assert.Equal(t, before+1, accounts.finds.Load())
}

// TestBackendUserIDMustMatchTheAccountExactly: an account store that
// answers FindByID for another spelling of the id (case-insensitive
// collation) does not make that spelling a user id: the principal would
// carry the account's id while the credential names another.
func TestBackendUserIDMustMatchTheAccountExactly(t *testing.T) {
	_, h := newFoldingService(t)
	res := serveTLS(h, basic(backendA+":"+maryID))
	res.Body.Close()
	require.Equal(t, http.StatusOK, res.StatusCode, "the exact id is accepted")

	res = serveTLS(h, basic(backendA+":"+strings.ToUpper(maryID)))
	defer res.Body.Close()
	assert.Equal(t, http.StatusUnauthorized, res.StatusCode)
}

// TestMemoryRegistryForgetsARotatedToken: Rotate drops the old token from
// the registry's index, so the index does not grow with every rotation
// and the old token is free again (registering it for another app works
// and then names that app).
func TestMemoryRegistryForgetsARotatedToken(t *testing.T) {
	reg, err := basicauth.NewMemoryRegistry(basicauth.AppSpec{ID: "a", Name: "App A", AppToken: appA, BackendToken: backendA})
	require.NoError(t, err)
	ctx := t.Context()
	fresh := basicauth.NewAppTokens()
	for _, tc := range []struct {
		typ      basicauth.TokenType
		old, new string
	}{
		{basicauth.AppToken, appA, fresh.AppToken},
		{basicauth.BackendToken, backendA, fresh.BackendToken},
	} {
		require.NoError(t, reg.Rotate(ctx, "a", tc.typ, middleware.DigestToken(tc.new)))
		_, err := reg.Lookup(ctx, tc.typ, middleware.DigestToken(tc.old))
		require.ErrorIs(t, err, basicauth.ErrAppNotFound)
	}
	require.NoError(t, reg.Register(ctx, basicauth.AppSpec{ID: "b", Name: "App B", AppToken: appA, BackendToken: backendA}),
		"the retired tokens are no longer in use")
	app, err := reg.Lookup(ctx, basicauth.AppToken, middleware.DigestToken(appA))
	require.NoError(t, err)
	assert.Equal(t, "b", app.ID)
}
