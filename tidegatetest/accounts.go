package tidegatetest

import (
	"context"
	"testing"

	"github.com/tidegate/tidegate/middleware"
)

// User is an account to create, with its password in plain text.
type User struct {
	// UserID becomes Principal.Subject; empty means Username.
	UserID string
	// Username is the login name (matched case-insensitively).
	Username string
	// Password is hashed with middleware.TestArgon2Params.
	Password string
	// Emails also serve as login names.
	Emails []string
	// Roles are copied into every credential issued to the user.
	Roles []string
	// Disabled accounts cannot log in.
	Disabled bool
}

// Accounts are test accounts and the password login over them, to pass to
// session.New(a.Login), bearer.New(a.Login, keys) and
// basicauth.New(apps, a.Store, a.Login).
type Accounts struct {
	// Store holds the accounts.
	Store *middleware.MemoryAccounts
	// Login checks passwords against Store with Hasher, throttled by a
	// middleware.MemoryLimiter with the default policy.
	Login *middleware.PasswordLogin
	// Hasher hashes with middleware.TestArgon2Params: cheap, for tests
	// only.
	Hasher *middleware.Argon2idHasher
}

// NewAccounts returns accounts holding users, hashed with cheap argon2id
// parameters so that a race-enabled test suite stays fast. It stops the
// test if a user cannot be created.
func NewAccounts(t testing.TB, users ...User) *Accounts {
	t.Helper()
	hasher, err := middleware.NewArgon2idHasher(middleware.TestArgon2Params)
	if err != nil {
		t.Fatalf("tidegatetest: hasher: %v", err)
	}
	store := middleware.NewMemoryAccounts()
	login, err := middleware.NewPasswordLogin(store, middleware.WithHasher(hasher))
	if err != nil {
		t.Fatalf("tidegatetest: password login: %v", err)
	}
	a := &Accounts{Store: store, Login: login, Hasher: hasher}
	for _, u := range users {
		a.Add(t, u)
	}
	return a
}

// Add creates one more account and returns it. It stops the test if the
// user has no username or password, or if the user id, username or an
// email is taken.
func (a *Accounts) Add(t testing.TB, u User) middleware.Account {
	t.Helper()
	if u.UserID == "" {
		u.UserID = u.Username
	}
	if u.Password == "" {
		t.Fatalf("tidegatetest: user %q needs a password", u.Username)
	}
	hash, err := a.Hasher.Hash(u.Password)
	if err != nil {
		t.Fatalf("tidegatetest: hash the password of user %q: %v", u.Username, err)
	}
	account := middleware.Account{
		UserID: u.UserID, Username: u.Username, Emails: u.Emails, Roles: u.Roles,
		PasswordHash: hash, Disabled: u.Disabled,
	}
	if err := a.Store.Create(context.Background(), account); err != nil {
		t.Fatalf("tidegatetest: create user %q: %v", u.Username, err)
	}
	return account
}
