package basicauth_test

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/tidegate/tidegate/basicauth"
	"github.com/tidegate/tidegate/middleware"
	"github.com/tidegate/tidegate/tidegatetest"
)

func TestNewAppTokens(t *testing.T) {
	seen := map[string]bool{}
	for range 100 {
		tok := basicauth.NewAppTokens()
		require.Regexp(t, `^[0-9a-f]{32}$`, tok.AppToken)
		require.Regexp(t, `^[0-9a-f]{44}$`, tok.BackendToken)
		require.False(t, strings.HasPrefix(tok.BackendToken, tok.AppToken), "drawn independently")
		require.False(t, seen[tok.AppToken] || seen[tok.BackendToken])
		seen[tok.AppToken], seen[tok.BackendToken] = true, true
	}
	reg, err := basicauth.NewMemoryRegistry()
	require.NoError(t, err)
	tok := basicauth.NewAppTokens()
	require.NoError(t, reg.Register(t.Context(), basicauth.AppSpec{Name: "fresh", AppToken: tok.AppToken, BackendToken: tok.BackendToken}))
}

func TestRegistryRegister(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name string
		spec basicauth.AppSpec
	}{
		{"no id or name", basicauth.AppSpec{AppToken: appA, BackendToken: backendA}},
		{"short app token", basicauth.AppSpec{Name: "x", AppToken: appA[1:], BackendToken: backendA}},
		{"upper-case app token", basicauth.AppSpec{Name: "x", AppToken: strings.ToUpper(appA), BackendToken: backendA}},
		{"non-hex app token", basicauth.AppSpec{Name: "x", AppToken: "g" + appA[1:], BackendToken: backendA}},
		{"long backend token", basicauth.AppSpec{Name: "x", AppToken: appA, BackendToken: backendA + "00"}},
		{"backend token derived from app token", basicauth.AppSpec{Name: "x", AppToken: appA, BackendToken: appA + "000000000000"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			reg, err := basicauth.NewMemoryRegistry()
			require.NoError(t, err)
			assert.Error(t, reg.Register(ctx, tc.spec))
			assert.Zero(t, reg.Len())
			_, err = basicauth.NewMemoryRegistry(tc.spec)
			assert.Error(t, err)
		})
	}

	reg, err := basicauth.NewMemoryRegistry(basicauth.AppSpec{Name: "A", AppToken: appA, BackendToken: backendA})
	require.NoError(t, err)
	for name, spec := range map[string]basicauth.AppSpec{
		"same id":            {Name: "A", AppToken: appB, BackendToken: backendB},
		"same app token":     {Name: "B", AppToken: appA, BackendToken: backendB},
		"same backend token": {Name: "B", AppToken: appB, BackendToken: backendA},
	} {
		assert.ErrorIs(t, reg.Register(ctx, spec), basicauth.ErrAppExists, name)
	}
	assert.Equal(t, 1, reg.Len())
}

func TestRegistryLookupRotateRevoke(t *testing.T) {
	ctx := context.Background()
	reg, err := basicauth.NewMemoryRegistry(basicauth.AppSpec{ID: "a", Name: "App A", AppToken: appA, BackendToken: backendA})
	require.NoError(t, err)
	want := basicauth.App{ID: "a", Name: "App A"}
	lookup := func(typ basicauth.TokenType, token string) (basicauth.App, error) {
		return reg.Lookup(ctx, typ, middleware.DigestToken(token))
	}

	got, err := lookup(basicauth.AppToken, appA)
	require.NoError(t, err)
	assert.Equal(t, want, got)
	got, err = lookup(basicauth.BackendToken, backendA)
	require.NoError(t, err)
	assert.Equal(t, want, got)
	for name, tc := range map[string]struct {
		typ   basicauth.TokenType
		token string
	}{
		"app token as backend token": {basicauth.BackendToken, appA},
		"backend token as app token": {basicauth.AppToken, backendA},
		"unknown":                    {basicauth.AppToken, appB},
		"bad type":                   {basicauth.TokenType(0), appA},
	} {
		_, err := lookup(tc.typ, tc.token)
		assert.ErrorIs(t, err, basicauth.ErrAppNotFound, name)
	}

	require.NoError(t, reg.Rotate(ctx, "a", basicauth.AppToken, middleware.DigestToken(appB)))
	_, err = lookup(basicauth.AppToken, appA)
	assert.ErrorIs(t, err, basicauth.ErrAppNotFound, "the old token stops at once")
	got, err = lookup(basicauth.AppToken, appB)
	require.NoError(t, err)
	assert.Equal(t, want, got)
	assert.ErrorIs(t, reg.Rotate(ctx, "a", basicauth.AppToken, middleware.DigestToken(backendA)), basicauth.ErrAppExists)
	assert.ErrorIs(t, reg.Rotate(ctx, "zz", basicauth.AppToken, middleware.DigestToken(appA)), basicauth.ErrAppNotFound)
	assert.Error(t, reg.Rotate(ctx, "a", basicauth.TokenType(7), middleware.DigestToken(appA)))

	require.NoError(t, reg.Revoke(ctx, "a"))
	_, err = lookup(basicauth.AppToken, appB)
	assert.ErrorIs(t, err, basicauth.ErrAppNotFound)
	_, err = lookup(basicauth.BackendToken, backendA)
	assert.ErrorIs(t, err, basicauth.ErrAppNotFound)
	assert.NoError(t, reg.Revoke(ctx, "a"))
	assert.Zero(t, reg.Len())
}

func TestRegistryBounded(t *testing.T) {
	reg, err := basicauth.NewMemoryRegistry()
	require.NoError(t, err)
	for i := range basicauth.MaxMemoryApps {
		tok := basicauth.NewAppTokens()
		require.NoError(t, reg.Register(t.Context(), basicauth.AppSpec{ID: "app" + strconv.Itoa(i), AppToken: tok.AppToken, BackendToken: tok.BackendToken}))
	}
	tok := basicauth.NewAppTokens()
	assert.ErrorIs(t, reg.Register(t.Context(), basicauth.AppSpec{ID: "one too many", AppToken: tok.AppToken, BackendToken: tok.BackendToken}), basicauth.ErrRegistryFull)
}

func TestTokenTypeString(t *testing.T) {
	assert.Equal(t, "app", basicauth.AppToken.String())
	assert.Equal(t, "backend", basicauth.BackendToken.String())
	assert.Equal(t, "unknown", basicauth.TokenType(0).String())
}

func TestNewValidates(t *testing.T) {
	reg, err := basicauth.NewMemoryRegistry()
	require.NoError(t, err)
	accounts := middleware.NewMemoryAccounts()
	hasher, err := middleware.NewArgon2idHasher(middleware.TestArgon2Params)
	require.NoError(t, err)
	login, err := middleware.NewPasswordLogin(accounts, middleware.WithHasher(hasher))
	require.NoError(t, err)
	otherLogin, err := middleware.NewPasswordLogin(middleware.NewMemoryAccounts(), middleware.WithHasher(hasher))
	require.NoError(t, err)

	_, err = basicauth.New(nil, accounts, login)
	assert.Error(t, err)
	_, err = basicauth.New(reg, nil, login)
	assert.Error(t, err)
	_, err = basicauth.New((*basicauth.MemoryRegistry)(nil), accounts, login)
	assert.Error(t, err, "a nil registry pointer (a constructor's error ignored)")
	_, err = basicauth.New(reg, accounts, nil)
	assert.Error(t, err)
	_, err = basicauth.New(reg, accounts, otherLogin)
	assert.ErrorContains(t, err, "same accounts")

	for name, opt := range map[string]basicauth.Option{
		"nil option":         nil,
		"nil store":          basicauth.WithSessionStore(nil),
		"nil store pointer":  basicauth.WithSessionStore((*middleware.MemorySessionStore)(nil)),
		"zero session TTL":   basicauth.WithSessionTTL(0),
		"negative cache TTL": basicauth.WithCacheTTL(-time.Second),
		"zero cache entries": basicauth.WithCacheMaxEntries(0),
		"nil clock":          basicauth.WithClock(nil),
		"empty realm":        basicauth.WithRealm(""),
		"realm with a quote": basicauth.WithRealm(`a"b`),
		"negative HSTS":      basicauth.WithHSTS(-time.Second, false),
		"nil invalidator":    basicauth.WithInvalidator(nil),
		"nil logger":         basicauth.WithLogger(nil),
		"nil cache option":   basicauth.WithCacheOptions(nil),
		"bad cache option":   basicauth.WithCacheOptions(middleware.WithMaxEntries(0)),
		"nil scheme option":  basicauth.WithSchemeOptions(nil),
	} {
		_, err := basicauth.New(reg, accounts, login, opt)
		assert.Error(t, err, name)
	}

	svc, err := basicauth.New(reg, accounts, login, basicauth.WithRealm("my app"), basicauth.WithLogger(discard))
	require.NoError(t, err)
	assert.Equal(t, basicauth.Kind, svc.Scheme().Kind())
	assert.Equal(t, basicauth.Kind, svc.AppScheme().Kind())
	require.NoError(t, svc.Close())
	require.NoError(t, svc.Close(), "Close is idempotent")
}

// TestWithTrustedProxiesAcceptsNil: see bearer's test of that name. A nil
// *middleware.TrustedProxies is the documented default, trusting nobody,
// and basicauth.New accepts it as session.New does.
func TestWithTrustedProxiesAcceptsNil(t *testing.T) {
	var proxies *middleware.TrustedProxies
	acc := tidegatetest.NewAccounts(t)
	apps, err := basicauth.NewMemoryRegistry()
	if err != nil {
		t.Fatal(err)
	}
	svc, err := basicauth.New(apps, acc.Store, acc.Login, basicauth.WithTrustedProxies(proxies))
	if err != nil {
		t.Fatalf("basicauth.WithTrustedProxies(nil) refused, session's same option accepts it: %v", err)
	}
	svc.Close()
}
