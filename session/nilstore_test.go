package session_test

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/tidegate/tidegate/middleware"
	"github.com/tidegate/tidegate/redisstore"
	"github.com/tidegate/tidegate/session"
	"github.com/tidegate/tidegate/tidegatetest"
)

// TestNilStoreIsRefusedAtConstruction: a nil store pointer (what
// redisstore.NewSessionStore returns with its error, when the error is
// ignored) must be refused by New, as middleware.WithLimiter refuses a nil
// *MemoryLimiter; README:
// "Every constructor validates its options and returns an error; nothing
// panics at request time."
func TestNilStoreIsRefusedAtConstruction(t *testing.T) {
	acc := tidegatetest.NewAccounts(t, tidegatetest.User{Username: "mary", Password: "a long passphrase for mary"})
	for name, store := range map[string]middleware.SessionStore{
		"nil *middleware.MemorySessionStore": (*middleware.MemorySessionStore)(nil),
		"nil *redisstore.SessionStore":       (*redisstore.SessionStore)(nil),
	} {
		t.Run(name, func(t *testing.T) {
			svc, err := session.New(acc.Login, session.WithStore(store), session.WithLogger(slog.New(slog.DiscardHandler)))
			if err == nil {
				defer svc.Close()
				req := httptest.NewRequest(http.MethodPost, "/login", nil)
				req.SetBasicAuth("mary", "a long passphrase for mary")
				rec := httptest.NewRecorder()
				assert.NotPanics(t, func() { svc.Handler().ServeHTTP(rec, req) }, "POST /login")
				req = httptest.NewRequest(http.MethodPost, "/logout", nil)
				req.Header.Set(session.HeaderToken, middleware.NewToken())
				assert.NotPanics(t, func() { svc.Handler().ServeHTTP(httptest.NewRecorder(), req) }, "POST /logout")
			}
			require.Error(t, err, "session.New accepted a nil store")
		})
	}
}
