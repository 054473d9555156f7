package basicauth_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/tidegate/tidegate/basicauth"
	"github.com/tidegate/tidegate/middleware"
)

// TestSessionExpiredOnThisReplicasClockIs4007: a session the store still
// reports live (its clock runs behind this replica's) but whose ExpiresAt
// has passed on the service's clock is refused by the middleware core as
// "expired"; that is an invalid session (4007), not an unknown app token
// (1001).
func TestSessionExpiredOnThisReplicasClockIs4007(t *testing.T) {
	var f *fixture
	behind := func() time.Time { return f.clock.Now().Add(-2 * basicauth.DefaultSessionTTL) }
	store, err := middleware.NewMemorySessionStore(middleware.WithStoreClock(behind))
	require.NoError(t, err)
	f = newFixture(t, fixtureConfig{opts: []basicauth.Option{basicauth.WithSessionStore(store)}})

	session := f.logIn(t, appA)
	require.Equal(t, http.StatusOK, f.do(t, http.MethodGet, "/whoami", basic(appA+":"+session), "").status)
	f.clock.Advance(basicauth.DefaultSessionTTL + time.Second)
	requireError(t, f.do(t, http.MethodGet, "/whoami", basic(appA+":"+session), ""), http.StatusUnauthorized, bodyInvalidSession)
}

// TestMeOfDisabledAccountIs4007: GET /me answers 401 (4007) for a live
// session whose account has been disabled since, never the account.
func TestMeOfDisabledAccountIs4007(t *testing.T) {
	f := newFixture(t, fixtureConfig{})
	ctx := context.Background()
	session := f.logIn(t, appA)
	require.Equal(t, http.StatusOK, f.do(t, http.MethodGet, "/0.4/me", basic(appA+":"+session), "").status)

	mary, err := f.accounts.FindByID(ctx, maryID)
	require.NoError(t, err)
	mary.Disabled = true
	require.NoError(t, f.accounts.Update(ctx, mary))
	requireError(t, f.do(t, http.MethodGet, "/0.4/me", basic(appA+":"+session), ""), http.StatusUnauthorized, bodyInvalidSession)
}

// TestLoginBodyWithRepeatedMemberIs400: a login body naming a member twice
// has no single meaning and is refused (400), whichever copy would log in.
func TestLoginBodyWithRepeatedMemberIs400(t *testing.T) {
	f := newFixture(t, fixtureConfig{})
	for name, body := range map[string]string{
		"user_name": `{"user_name":"nobody","user_name":"mary","password":"` + maryPassword + `"}`,
		"password":  `{"user_name":"mary","password":"wrong","password":"` + maryPassword + `"}`,
	} {
		t.Run(name, func(t *testing.T) {
			requireError(t, f.do(t, http.MethodPost, "/0.4/me/login", basic(appA+":"), body), http.StatusBadRequest, bodyBadRequest)
		})
	}
}

// disablingAccounts reports every account as disabled when found by id, as
// if an operator disabled it while its password was being checked.
type disablingAccounts struct{ *middleware.MemoryAccounts }

func (a disablingAccounts) FindByID(ctx context.Context, id string) (middleware.Account, error) {
	acc, err := a.MemoryAccounts.FindByID(ctx, id)
	acc.Disabled = true
	return acc, err
}

// TestLoginRevokesTheSessionItCouldNotConfirm: when the account changed
// while its password was checked (PasswordLogin.Confirm fails), the login is
// refused and the session it created is revoked, not left in the store.
func TestLoginRevokesTheSessionItCouldNotConfirm(t *testing.T) {
	mem := middleware.NewMemoryAccounts()
	hasher, err := middleware.NewArgon2idHasher(middleware.TestArgon2Params)
	require.NoError(t, err)
	hash, err := hasher.Hash(maryPassword)
	require.NoError(t, err)
	require.NoError(t, mem.Create(context.Background(), middleware.Account{UserID: maryID, Username: maryName, PasswordHash: hash}))
	accounts := disablingAccounts{mem}
	login, err := middleware.NewPasswordLogin(accounts, middleware.WithHasher(hasher))
	require.NoError(t, err)
	reg, err := basicauth.NewMemoryRegistry(basicauth.AppSpec{ID: "a", AppToken: appA, BackendToken: backendA})
	require.NoError(t, err)
	sessions, err := middleware.NewMemorySessionStore()
	require.NoError(t, err)
	svc, err := basicauth.New(reg, accounts, login, basicauth.WithSessionStore(sessions), basicauth.WithLogger(discard))
	require.NoError(t, err)
	t.Cleanup(func() { _ = svc.Close() })
	f := &fixture{svc: svc}
	mux := http.NewServeMux()
	mux.Handle("/0.4/", http.StripPrefix("/0.4", svc.Handler()))
	f.srv = newTLSServer(t, mux)

	res := f.do(t, http.MethodPost, "/0.4/me/login", basic(appA+":"), `{"user_name":"mary","password":"`+maryPassword+`"}`)
	requireError(t, res, http.StatusUnauthorized, bodyLoginFailed)
	require.Zero(t, sessions.Len(), "the unconfirmed session is revoked")
}

func newTLSServer(t *testing.T, h http.Handler) *httptest.Server {
	s := httptest.NewTLSServer(h)
	t.Cleanup(s.Close)
	return s
}

// TestRevokeSubjectEvictsCachedBackendPrincipals: backend credentials on an
// app route (RequireApp) authenticate the user they act for; RevokeSubject of
// that user (a disabled account) ends them at once, cached or not.
func TestRevokeSubjectEvictsCachedBackendPrincipals(t *testing.T) {
	f := newFixture(t, fixtureConfig{})
	ctx := context.Background()
	creds := basic(backendA + ":" + maryID)
	require.Equal(t, http.StatusOK, f.do(t, http.MethodGet, "/app/whoami", creds, "").status, "verified and cached")

	mary, err := f.accounts.FindByID(ctx, maryID)
	require.NoError(t, err)
	mary.Disabled = true
	require.NoError(t, f.accounts.Update(ctx, mary))
	require.NoError(t, f.svc.RevokeSubject(ctx, maryID))
	requireError(t, f.do(t, http.MethodGet, "/app/whoami", creds, ""), http.StatusUnauthorized, bodyInvalidSession)
}
