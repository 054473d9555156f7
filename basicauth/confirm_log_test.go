package basicauth_test

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/tidegate/tidegate/basicauth"
	"github.com/tidegate/tidegate/middleware"
)

// confirmAccounts answers FindByID as told once a login's password was
// checked: the account disabled meanwhile, or the accounts down.
type confirmAccounts struct {
	*middleware.MemoryAccounts
	mode atomic.Int32 // 0 normal, 1 disabled, 2 down
}

func (a *confirmAccounts) FindByID(ctx context.Context, id string) (middleware.Account, error) {
	acc, err := a.MemoryAccounts.FindByID(ctx, id)
	switch a.mode.Load() {
	case 1:
		acc.Disabled = true
	case 2:
		return middleware.Account{}, errors.New("database down")
	}
	return acc, err
}

type recordHandler struct {
	mu   sync.Mutex
	recs []slog.Record
}

func (h *recordHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h *recordHandler) Handle(_ context.Context, r slog.Record) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.recs = append(h.recs, r)
	return nil
}
func (h *recordHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *recordHandler) WithGroup(string) slog.Handler      { return h }

// TestRefusedLoginsAreLogged: a login refused by Confirm (account
// disabled meanwhile: 401; accounts down: 503) is an authentication
// outcome, and is logged like a login refused by Login ("one event per
// authentication outcome", ASVS 7.2.1 in SECURITY.md), as the session and
// bearer kinds log theirs: it left no event.
func TestRefusedLoginsAreLogged(t *testing.T) {
	hasher, err := middleware.NewArgon2idHasher(middleware.TestArgon2Params)
	require.NoError(t, err)
	hash, err := hasher.Hash(maryPassword)
	require.NoError(t, err)
	accounts := &confirmAccounts{MemoryAccounts: middleware.NewMemoryAccounts()}
	require.NoError(t, accounts.Create(context.Background(), middleware.Account{
		UserID: maryID, Username: maryName, Emails: []string{maryEmail}, Roles: []string{"user"}, PasswordHash: hash,
	}))
	login, err := middleware.NewPasswordLogin(accounts, middleware.WithHasher(hasher))
	require.NoError(t, err)
	reg, err := basicauth.NewMemoryRegistry(basicauth.AppSpec{ID: "a", Name: "App A", AppToken: appA, BackendToken: backendA})
	require.NoError(t, err)
	for _, tc := range []struct {
		name     string
		mode     int32
		status   int
		password string
	}{{"control: wrong password", 0, http.StatusUnauthorized, "wrong"},
		{"disabled meanwhile", 1, http.StatusUnauthorized, maryPassword},
		{"accounts down", 2, http.StatusServiceUnavailable, maryPassword}} {
		t.Run(tc.name, func(t *testing.T) {
			rec := &recordHandler{}
			svc, err := basicauth.New(reg, accounts, login, basicauth.WithLogger(slog.New(rec)))
			require.NoError(t, err)
			t.Cleanup(func() { _ = svc.Close() })
			srv := httptest.NewTLSServer(http.StripPrefix("/0.4", svc.Handler()))
			t.Cleanup(srv.Close)

			accounts.mode.Store(tc.mode)
			t.Cleanup(func() { accounts.mode.Store(0) })
			req, err := http.NewRequest(http.MethodPost, srv.URL+"/0.4/me/login",
				strings.NewReader(`{"user_name":"mary","password":"`+tc.password+`"}`))
			require.NoError(t, err)
			req.Header.Set("Authorization", basic(appA+":"))
			req.Header.Set("Content-Type", "application/json")
			res, err := srv.Client().Do(req)
			require.NoError(t, err)
			res.Body.Close()
			require.Equal(t, tc.status, res.StatusCode)

			rec.mu.Lock()
			defer rec.mu.Unlock()
			var logged []string
			for _, r := range rec.recs {
				r.Attrs(func(a slog.Attr) bool {
					if r.Level >= slog.LevelInfo && a.Key == "endpoint" && a.Value.String() == "login" {
						logged = append(logged, r.Level.String()+" "+r.Message)
					}
					return true
				})
			}
			assert.Len(t, logged, 1, "a refused login (%d) has one event of the login endpoint", tc.status)
		})
	}
}
