package tidegatetest_test

import (
	"context"
	"net/netip"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/tidegate/tidegate/middleware"
	"github.com/tidegate/tidegate/tidegatetest"
)

var client = netip.MustParseAddr("192.0.2.1")

func TestNewAccountsLogsUsersIn(t *testing.T) {
	a := tidegatetest.NewAccounts(t, mary, ada, gone)
	ctx := context.Background()
	cases := []struct {
		name, login, password string
		userID                string // "" when the login must fail
	}{
		{"username", "mary", maryPassword, "u-mary"},
		{"email, any case", "Mary@Example.com", maryPassword, "u-mary"},
		{"second user", "ada", adaPassword, "u-ada"},
		{"wrong password", "mary", adaPassword, ""},
		{"disabled", "gone", "a disabled account", ""},
		{"unknown", "nobody", maryPassword, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			account, err := a.Login.Login(ctx, client, c.login, c.password)
			if c.userID == "" {
				require.ErrorIs(t, err, middleware.ErrInvalidCredential)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, c.userID, account.UserID)
		})
	}
	assert.Same(t, a.Store, a.Login.Accounts(), "Login must check the accounts in Store")
}

func TestNewAccountsHashesCheaply(t *testing.T) {
	a := tidegatetest.NewAccounts(t, mary)
	account, err := a.Store.FindByID(context.Background(), "u-mary")
	require.NoError(t, err)
	p := middleware.TestArgon2Params
	assert.True(t, strings.HasPrefix(account.PasswordHash, "$argon2id$v=19$m=64,t=1,p=1$"),
		"hash %q must use TestArgon2Params %+v", account.PasswordHash, p)
	assert.NotContains(t, account.PasswordHash, maryPassword)
	assert.Equal(t, []string{"user"}, account.Roles)
	assert.Equal(t, []string{"mary@example.com"}, account.Emails)
}

func TestAccountsAdd(t *testing.T) {
	a := tidegatetest.NewAccounts(t)
	got := a.Add(t, tidegatetest.User{Username: "zoe", Password: "zoe's passphrase"})
	assert.Equal(t, "zoe", got.UserID, "an empty UserID defaults to the username")
	_, err := a.Login.Login(context.Background(), client, "zoe", "zoe's passphrase")
	require.NoError(t, err)

	cases := []struct {
		name string
		user tidegatetest.User
		msg  string
	}{
		{"no password", tidegatetest.User{Username: "kim"}, `tidegatetest: user "kim" needs a password`},
		{"taken username", tidegatetest.User{UserID: "other", Username: "ZOE", Password: "x"},
			`tidegatetest: create user "ZOE": tidegate: account already exists`},
		{"no username", tidegatetest.User{UserID: "id", Password: "x"},
			`tidegatetest: create user "": tidegate: account needs a user id, a username and a password hash`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			msg := fatalOf(t, func(tb testing.TB) { a.Add(tb, c.user) })
			assert.Equal(t, c.msg, msg)
		})
	}
}

func TestNewAccountsStopsOnABadUser(t *testing.T) {
	msg := fatalOf(t, func(tb testing.TB) { tidegatetest.NewAccounts(tb, mary, mary) })
	assert.Equal(t, `tidegatetest: create user "mary": tidegate: account already exists`, msg)
}
