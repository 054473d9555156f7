package bearer_test

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/tidegate/tidegate/bearer"
	"github.com/tidegate/tidegate/redisstore"
	"github.com/tidegate/tidegate/tidegatetest"
)

// TestNilRefreshStoreIsRefusedAtConstruction: WithRefreshStore refuses
// nil but accepts a nil store pointer (what redisstore.NewRefreshStore
// returns with its error); POST /authenticate then panics at request time.
func TestNilRefreshStoreIsRefusedAtConstruction(t *testing.T) {
	acc := tidegatetest.NewAccounts(t, tidegatetest.User{Username: "mary", Password: "a long passphrase for mary"})
	key, err := bearer.GenerateKey("", bearer.HS256)
	require.NoError(t, err)
	keys, err := bearer.NewKeySet(key)
	require.NoError(t, err)
	for name, store := range map[string]bearer.RefreshStore{
		"nil *bearer.MemoryRefreshStore": (*bearer.MemoryRefreshStore)(nil),
		"nil *redisstore.RefreshStore":   (*redisstore.RefreshStore)(nil),
	} {
		t.Run(name, func(t *testing.T) {
			svc, err := bearer.New(acc.Login, keys, bearer.WithRefreshStore(store), bearer.WithLogger(slog.New(slog.DiscardHandler)))
			if err == nil {
				defer svc.Close()
				req := httptest.NewRequest(http.MethodPost, "/authenticate",
					strings.NewReader(`{"username":"mary","password":"a long passphrase for mary"}`))
				req.Header.Set("Content-Type", "application/json")
				assert.NotPanics(t, func() { svc.Handler().ServeHTTP(httptest.NewRecorder(), req) }, "POST /authenticate")
			}
			require.Error(t, err, "bearer.New accepted a nil refresh store")
		})
	}
}
