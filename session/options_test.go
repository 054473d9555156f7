package session_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/tidegate/tidegate/middleware"
	"github.com/tidegate/tidegate/session"
)

func TestNewValidatesOptions(t *testing.T) {
	login, err := middleware.NewPasswordLogin(newAccounts(t), middleware.WithHasher(hasher(t)))
	require.NoError(t, err)
	tests := []struct {
		name string
		opts []session.Option
	}{
		{"nil option", []session.Option{nil}},
		{"nil store", []session.Option{session.WithStore(nil)}},
		{"nil clock", []session.Option{session.WithClock(nil)}},
		{"zero token lifetime", []session.Option{session.WithTokenLifetime(0)}},
		{"negative absolute lifetime", []session.Option{session.WithAbsoluteLifetime(-time.Hour)}},
		{"absolute shorter than a token", []session.Option{session.WithTokenLifetime(2 * time.Hour), session.WithAbsoluteLifetime(time.Hour)}},
		{"negative grace", []session.Option{session.WithRefreshGrace(-time.Second)}},
		{"grace longer than a token", []session.Option{session.WithTokenLifetime(time.Minute), session.WithRefreshGrace(2 * time.Minute)}},
		{"zero server lifetime", []session.Option{session.WithServerTokenLifetime(0)}},
		{"zero cache TTL", []session.Option{session.WithCacheTTL(0)}},
		{"empty server name", []session.Option{session.WithServers(map[string]string{"": serverSecret})}},
		{"server name with a space", []session.Option{session.WithServers(map[string]string{"a b": serverSecret})}},
		{"server name too long", []session.Option{session.WithServers(map[string]string{strings.Repeat("n", 257): serverSecret})}},
		{"short server secret", []session.Option{session.WithServers(map[string]string{"a": "fifteen bytes.."})}},
		{"server secret too long", []session.Option{session.WithServers(map[string]string{"a": strings.Repeat("s", 1025)})}},
		{"server secret with a newline", []session.Option{session.WithServers(map[string]string{"a": "sixteen bytes..\n"})}},
		{"server secret with a trailing space", []session.Option{session.WithServers(map[string]string{"a": "sixteen bytes.. "})}},
		{"nil server limiter", []session.Option{session.WithServerLoginLimiter(nil)}},
		{"nil invalidator", []session.Option{session.WithInvalidator(nil)}},
		{"nil logger", []session.Option{session.WithLogger(nil)}},
		{"nil cache option", []session.Option{session.WithCacheOptions(nil)}},
		{"bad cache option", []session.Option{session.WithCacheOptions(middleware.WithMaxEntries(0))}},
		{"nil scheme option", []session.Option{session.WithSchemeOptions(nil)}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			svc, err := session.New(login, tc.opts...)
			assert.Error(t, err)
			assert.Nil(t, svc)
		})
	}
	t.Run("nil login", func(t *testing.T) {
		_, err := session.New(nil)
		assert.Error(t, err)
	})
	t.Run("limits accepted", func(t *testing.T) {
		svc, err := session.New(login,
			session.WithRefreshGrace(0),
			session.WithTokenLifetime(time.Minute), session.WithAbsoluteLifetime(time.Minute),
			session.WithServers(map[string]string{strings.Repeat("n", 256): strings.Repeat("s", 1024)}),
			session.WithServers(map[string]string{"x": "sixteen bytes..."}),
			session.WithTrustedProxies(nil))
		require.NoError(t, err)
		require.NoError(t, svc.Close())
		require.NoError(t, svc.Close(), "Close is idempotent")
	})
}

func TestSchemeOptionsApply(t *testing.T) {
	var observed []middleware.Outcome
	f := newFixture(t, withService(session.WithSchemeOptions(
		middleware.WithIdentityHeaders(middleware.IdentityHeaders{Subject: "X-User-Id"}),
		middleware.WithObserver(observerFunc(func(o middleware.Outcome) { observed = append(observed, o) })),
	)))
	h := middleware.Require(f.svc.Scheme())(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte(r.Header.Get("X-User-Id")))
	}))
	rec := recorder(h, httptestRequest(http.MethodGet, "/", session.HeaderToken, f.login(maryLogin, maryPassword),
		"X-User-Id", "forged"))
	assert.Equal(t, maryID, rec.Body.String())
	assert.Equal(t, []middleware.Outcome{middleware.OutcomeAuthenticated, middleware.OutcomeAuthenticated}, observed,
		"the login, then the request")
}

type observerFunc func(middleware.Outcome)

func (f observerFunc) ObserveAuth(_ middleware.Kind, o middleware.Outcome, _ string) { f(o) }
func (f observerFunc) ObserveCache(middleware.Kind, bool)                            {}
