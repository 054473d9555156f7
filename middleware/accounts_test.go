package middleware_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/tidegate/tidegate/middleware"
)

// mary is the account most account tests start from.
func maryAccount() middleware.Account {
	return middleware.Account{
		UserID:       "u-mary",
		Username:     "Mary",
		Emails:       []string{"mary@example.com", "M.Smith@Example.org"},
		Roles:        []string{"user"},
		PasswordHash: "hash-of-mary",
	}
}

func newAccountsWith(t *testing.T, accounts ...middleware.Account) *middleware.MemoryAccounts {
	t.Helper()
	m := middleware.NewMemoryAccounts()
	for _, a := range accounts {
		require.NoError(t, m.Create(context.Background(), a))
	}
	return m
}

func TestMemoryAccountsFindByLogin(t *testing.T) {
	m := newAccountsWith(t, maryAccount(), middleware.Account{UserID: "u-bob", Username: "bob", PasswordHash: "h"})
	for _, tc := range []struct {
		login  string
		wantID string
	}{
		{"Mary", "u-mary"},
		{"mary", "u-mary"},
		{"MARY", "u-mary"},
		{"  mary\t", "u-mary"}, // surrounding space is not part of a login
		{"mary@example.com", "u-mary"},
		{"MARY@EXAMPLE.COM", "u-mary"},
		{"m.smith@example.org", "u-mary"},
		{"M.Smith@Example.org", "u-mary"},
		{"bob", "u-bob"},
		{"BOB", "u-bob"},
		{"mar", ""},
		{"mary@example", ""},
		{"u-mary", ""}, // an id is not a login
		{"", ""},
		{"   ", ""},
	} {
		t.Run(fmt.Sprintf("%q", tc.login), func(t *testing.T) {
			a, err := m.FindByLogin(context.Background(), tc.login)
			if tc.wantID == "" {
				require.ErrorIs(t, err, middleware.ErrAccountNotFound)
				assert.Zero(t, a)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.wantID, a.UserID)
		})
	}
}

func TestMemoryAccountsFindByID(t *testing.T) {
	m := newAccountsWith(t, maryAccount())
	a, err := m.FindByID(context.Background(), "u-mary")
	require.NoError(t, err)
	assert.Equal(t, maryAccount(), a)

	for _, id := range []string{"U-MARY", "u-mar", "", "Mary"} {
		_, err := m.FindByID(context.Background(), id)
		assert.ErrorIs(t, err, middleware.ErrAccountNotFound, "id %q (ids match exactly)", id)
	}
}

func TestMemoryAccountsCreateConflicts(t *testing.T) {
	for _, tc := range []struct {
		name string
		a    middleware.Account
	}{
		{"same id", middleware.Account{UserID: "u-mary", Username: "other", PasswordHash: "h"}},
		{"same username", middleware.Account{UserID: "u2", Username: "Mary", PasswordHash: "h"}},
		{"username other case", middleware.Account{UserID: "u2", Username: "mARY", PasswordHash: "h"}},
		{"username is her email", middleware.Account{UserID: "u2", Username: "MARY@example.com", PasswordHash: "h"}},
		{"email is her username", middleware.Account{UserID: "u2", Username: "x", Emails: []string{"mary"}, PasswordHash: "h"}},
		{"second email taken", middleware.Account{UserID: "u2", Username: "x", Emails: []string{"new@example.com", "m.smith@EXAMPLE.org"}, PasswordHash: "h"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := newAccountsWith(t, maryAccount())
			err := m.Create(context.Background(), tc.a)
			require.ErrorIs(t, err, middleware.ErrAccountExists)
			// Nothing of the refused account was stored.
			_, err = m.FindByLogin(context.Background(), "x")
			assert.ErrorIs(t, err, middleware.ErrAccountNotFound)
			_, err = m.FindByLogin(context.Background(), "new@example.com")
			assert.ErrorIs(t, err, middleware.ErrAccountNotFound)
			got, err := m.FindByID(context.Background(), "u-mary")
			require.NoError(t, err)
			assert.Equal(t, maryAccount(), got)
		})
	}
}

func TestMemoryAccountsCreateRequiresFields(t *testing.T) {
	for _, tc := range []struct {
		name string
		a    middleware.Account
	}{
		{"no id", middleware.Account{Username: "x", PasswordHash: "h"}},
		{"no username", middleware.Account{UserID: "u", PasswordHash: "h"}},
		{"blank username", middleware.Account{UserID: "u", Username: " \t ", PasswordHash: "h"}},
		{"no hash", middleware.Account{UserID: "u", Username: "x"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := middleware.NewMemoryAccounts()
			err := m.Create(context.Background(), tc.a)
			require.Error(t, err)
			assert.NotErrorIs(t, err, middleware.ErrAccountExists)
			_, err = m.FindByID(context.Background(), "u")
			assert.ErrorIs(t, err, middleware.ErrAccountNotFound)
			// A blank username must not become the login "".
			_, err = m.FindByLogin(context.Background(), " ")
			assert.ErrorIs(t, err, middleware.ErrAccountNotFound)
		})
	}
}

func TestMemoryAccountsSameUserMayRepeatALogin(t *testing.T) {
	// Tidepool accounts commonly have the email as the username too.
	m := newAccountsWith(t, middleware.Account{
		UserID: "u1", Username: "a@example.com", Emails: []string{"A@example.com", "b@example.com", ""}, PasswordHash: "h",
	})
	for _, login := range []string{"a@example.com", "B@EXAMPLE.COM"} {
		a, err := m.FindByLogin(context.Background(), login)
		require.NoError(t, err)
		assert.Equal(t, "u1", a.UserID)
	}
	_, err := m.FindByLogin(context.Background(), "")
	assert.ErrorIs(t, err, middleware.ErrAccountNotFound, "an empty email is not a login")
}

func TestMemoryAccountsUpdate(t *testing.T) {
	ctx := context.Background()
	m := newAccountsWith(t, maryAccount(), middleware.Account{UserID: "u-bob", Username: "bob", Emails: []string{"bob@example.com"}, PasswordHash: "h"})

	next := maryAccount()
	next.Username = "marie"
	next.Emails = []string{"Marie@example.com", "m.smith@example.org"}
	next.PasswordHash = "new-hash"
	next.Disabled = true
	require.NoError(t, m.Update(ctx, next))

	for _, login := range []string{"marie", "marie@example.com", "M.SMITH@example.org"} {
		a, err := m.FindByLogin(ctx, login)
		require.NoError(t, err, login)
		assert.Equal(t, next, a)
	}
	for _, released := range []string{"mary", "mary@example.com"} {
		_, err := m.FindByLogin(ctx, released)
		require.ErrorIs(t, err, middleware.ErrAccountNotFound, released)
	}
	// A released login is free for someone else.
	require.NoError(t, m.Create(ctx, middleware.Account{UserID: "u3", Username: "MARY", PasswordHash: "h"}))
	a, err := m.FindByLogin(ctx, "mary")
	require.NoError(t, err)
	assert.Equal(t, "u3", a.UserID)

	t.Run("taking another account's login fails and changes nothing", func(t *testing.T) {
		steal := next
		steal.Emails = []string{"BOB@example.com"}
		require.ErrorIs(t, m.Update(ctx, steal), middleware.ErrAccountExists)
		a, err := m.FindByLogin(ctx, "bob@example.com")
		require.NoError(t, err)
		assert.Equal(t, "u-bob", a.UserID)
		a, err = m.FindByLogin(ctx, "m.smith@example.org")
		require.NoError(t, err)
		assert.Equal(t, next, a)
	})
	t.Run("unknown id", func(t *testing.T) {
		err := m.Update(ctx, middleware.Account{UserID: "nobody", Username: "nobody", PasswordHash: "h"})
		require.ErrorIs(t, err, middleware.ErrAccountNotFound)
		_, err = m.FindByLogin(ctx, "nobody")
		assert.ErrorIs(t, err, middleware.ErrAccountNotFound)
	})
	t.Run("cannot blank the username or the hash", func(t *testing.T) {
		for _, bad := range []middleware.Account{
			{UserID: "u-bob", Username: "", PasswordHash: "h"},
			{UserID: "u-bob", Username: "  ", PasswordHash: "h"},
			{UserID: "u-bob", Username: "bob", PasswordHash: ""},
		} {
			require.Error(t, m.Update(ctx, bad))
		}
		a, err := m.FindByID(ctx, "u-bob")
		require.NoError(t, err)
		assert.Equal(t, "bob", a.Username)
		assert.Equal(t, "h", a.PasswordHash)
	})
}

func TestMemoryAccountsReturnsCopies(t *testing.T) {
	ctx := context.Background()
	in := maryAccount()
	m := newAccountsWith(t, in)
	// The caller's slices are not kept.
	in.Emails[0] = "evil@example.com"
	in.Roles[0] = "admin"

	for name, find := range map[string]func() (middleware.Account, error){
		"FindByLogin": func() (middleware.Account, error) { return m.FindByLogin(ctx, "mary") },
		"FindByID":    func() (middleware.Account, error) { return m.FindByID(ctx, "u-mary") },
	} {
		t.Run(name, func(t *testing.T) {
			a, err := find()
			require.NoError(t, err)
			require.Equal(t, maryAccount(), a)
			a.Emails[0] = "evil@example.com"
			a.Roles[0] = "admin"
			a.Emails = append(a.Emails, "more@example.com")
			a.Roles = append(a.Roles, "root")

			again, err := find()
			require.NoError(t, err)
			assert.Equal(t, maryAccount(), again)
		})
	}
	_, err := m.FindByLogin(ctx, "evil@example.com")
	assert.ErrorIs(t, err, middleware.ErrAccountNotFound)
}

func TestMemoryAccountsConcurrent(t *testing.T) {
	ctx := context.Background()
	m := newAccountsWith(t, maryAccount())
	const workers, each = 8, 50
	var wg sync.WaitGroup
	var created [workers]int
	for w := range workers {
		wg.Go(func() {
			for i := range each {
				// Every worker races for the same shared login too: exactly
				// one Create may win it.
				shared := middleware.Account{UserID: fmt.Sprintf("s-%d-%d", w, i), Username: fmt.Sprintf("shared-%d", i), PasswordHash: "h"}
				if err := m.Create(ctx, shared); err == nil {
					created[w]++
				} else {
					assert.ErrorIs(t, err, middleware.ErrAccountExists)
				}
				own := middleware.Account{UserID: fmt.Sprintf("w%d-%d", w, i), Username: fmt.Sprintf("user-%d-%d", w, i), PasswordHash: "h"}
				assert.NoError(t, m.Create(ctx, own))
				own.Emails = []string{fmt.Sprintf("user-%d-%d@example.com", w, i)}
				assert.NoError(t, m.Update(ctx, own))
				a, err := m.FindByLogin(ctx, own.Emails[0])
				if assert.NoError(t, err) {
					assert.Equal(t, own.UserID, a.UserID)
				}
				_, err = m.FindByLogin(ctx, "MARY@example.com")
				assert.NoError(t, err)
			}
		})
	}
	wg.Wait()
	total := 0
	for _, n := range created {
		total += n
	}
	assert.Equal(t, each, total, "each shared login went to exactly one account")
	for i := range each {
		a, err := m.FindByLogin(ctx, fmt.Sprintf("SHARED-%d", i))
		require.NoError(t, err)
		_, err = m.FindByID(ctx, a.UserID)
		require.NoError(t, err)
	}
}

// TestLoginNamesFoldLikeEqualFold: two login names are the same account
// exactly when strings.EqualFold says they are equal. strings.ToLower
// folded Σ to σ, never to the final ς, so an account named "ΟΔΥΣΣΕΥΣ"
// could not log in as "οδυσσευς", a second account could take that name,
// and "Οδυσσευς" then matched the second; and it folded İ to i, which
// EqualFold keeps apart.
func TestLoginNamesFoldLikeEqualFold(t *testing.T) {
	for _, pair := range [][2]string{
		{"ΟΔΥΣΣΕΥΣ", "οδυσσευς"}, {"Οδυσσευς", "ΟΔΥΣΣΕΥΣ"}, {"σ", "ς"}, {"Kelvin", "\u212Aelvin"},
		{"  Mary@Example.COM\t", "mary@example.com"}, {"ǅ", "ǆ"}, {"ß", "ß"},
		{"alİce", "alice"}, {"ß", "ss"}, {"mary", "marie"},
	} {
		assert.Equal(t, strings.EqualFold(strings.TrimSpace(pair[0]), strings.TrimSpace(pair[1])),
			middleware.FoldLogin(pair[0]) == middleware.FoldLogin(pair[1]), "%q and %q", pair[0], pair[1])
	}
	assert.Equal(t, "mary@example.com", middleware.FoldLogin("  Mary@Example.COM\t"), "ASCII folds to lower case")

	ctx := context.Background()
	m := middleware.NewMemoryAccounts()
	require.NoError(t, m.Create(ctx, middleware.Account{UserID: "u-1", Username: "ΟΔΥΣΣΕΥΣ", PasswordHash: "h1"}))
	for _, name := range []string{"οδυσσευς", "Οδυσσευς", "οδυσσευσ"} {
		a, err := m.FindByLogin(ctx, name)
		require.NoError(t, err, name)
		assert.Equal(t, "u-1", a.UserID, name)
	}
	err := m.Create(ctx, middleware.Account{UserID: "u-2", Username: "οδυσσευς", PasswordHash: "h2"})
	assert.ErrorIs(t, err, middleware.ErrAccountExists, "the same name, ignoring case")
	require.NoError(t, m.Create(ctx, middleware.Account{UserID: "u-3", Username: "alİce", PasswordHash: "h3"}))
	_, err = m.FindByLogin(ctx, "alice")
	assert.ErrorIs(t, err, middleware.ErrAccountNotFound, "İ is not i")
}
