package middleware

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"

	"github.com/tidegate/tidegate/internal/withheld"
)

// Errors of account stores.
var (
	// ErrAccountNotFound: no account has that login or id.
	ErrAccountNotFound = errors.New("tidegate: account not found")
	// ErrAccountExists: the username or an email is already taken.
	ErrAccountExists = errors.New("tidegate: account already exists")
)

// Account is a user as the login endpoints of every kind see it.
type Account struct {
	// UserID is the stable id that becomes Principal.Subject.
	UserID string
	// Username is the login name; it matches case-insensitively.
	Username string
	// Emails also serve as login names, case-insensitively.
	Emails []string
	// Roles are copied into the principal of every credential issued.
	Roles []string
	// PasswordHash is a PasswordHasher's encoding of the password. It is
	// never logged or returned by any endpoint. An account of your own
	// Accounts may have none (invited, single sign-on): a password login
	// to it fails as a wrong password does, after the same hashing work.
	PasswordHash string
	// Disabled accounts cannot log in; their credentials are revoked.
	Disabled bool
}

// String shows the account as fmt's %+v would, but for its password hash,
// which is withheld: a hash in a log can be attacked offline (OWASP ASVS
// V7.1.1, no credentials in logs).
func (a Account) String() string {
	return fmt.Sprintf("middleware.Account{UserID:%q Username:%q Emails:%q Roles:%q PasswordHash:%s Disabled:%t}",
		a.UserID, a.Username, a.Emails, a.Roles, withheld.Secret(a.PasswordHash), a.Disabled)
}

// Format implements fmt.Formatter so that every verb, %#v included, prints
// String.
func (a Account) Format(f fmt.State, _ rune) { _, _ = io.WriteString(f, a.String()) }

// LogValue implements slog.LogValuer: the fields but the password hash.
// Its receiver is a value, so that an Account logged as a value is
// covered; slog calls it on a nil *Account too, and logs that it panicked.
// encoding/json still encodes every field, so that a store can keep
// accounts as JSON, and slog's JSON handler uses encoding/json, not
// LogValue, for accounts held in a slice, map or struct: log them one by
// one.
func (a Account) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("user_id", a.UserID),
		slog.String("username", a.Username),
		slog.Any("emails", a.Emails),
		slog.Any("roles", a.Roles),
		slog.String("password_hash", withheld.Secret(a.PasswordHash)),
		slog.Bool("disabled", a.Disabled),
	)
}

// Accounts looks accounts up for the login endpoints. All three kinds share
// one Accounts, so a user logs in with the same name and password everywhere.
type Accounts interface {
	// FindByLogin returns the account whose Username or any of whose Emails
	// equals login, ignoring case, or ErrAccountNotFound.
	FindByLogin(ctx context.Context, login string) (Account, error)
	// FindByID returns the account with that UserID, or ErrAccountNotFound.
	FindByID(ctx context.Context, userID string) (Account, error)
}

// AccountWriter is implemented by account stores that can add accounts, for
// sign-up endpoints such as Tapglue's POST /users.
type AccountWriter interface {
	Accounts
	// Create stores a new account. It returns ErrAccountExists when the
	// username or an email is taken by another account (ignoring case).
	Create(ctx context.Context, a Account) error
}

// MemoryAccounts is an in-memory AccountWriter, for examples, tests and
// small deployments. It is safe for concurrent use.
type MemoryAccounts struct {
	withheld.Contents[MemoryAccounts] // prints as its name alone: no secret in a log

	mu      sync.RWMutex
	byID    map[string]Account
	byLogin map[string]string // folded login -> user id
}

// NewMemoryAccounts returns an empty account store.
func NewMemoryAccounts() *MemoryAccounts {
	return &MemoryAccounts{byID: map[string]Account{}, byLogin: map[string]string{}}
}

// FoldLogin returns the form in which login names are compared: without
// surrounding white space, and with every rune replaced by one that stands
// for its whole case-folding orbit (unicode.SimpleFold, the folding
// strings.EqualFold uses). Two names fold alike exactly when EqualFold
// says they are equal. strings.ToLower is not that: it maps Σ to σ and
// never to the final ς, so "ΟΔΥΣΣΕΥΣ" could not log in as "οδυσσευς",
// and a second account could take the same name; and it maps İ to i,
// which EqualFold keeps apart. ASCII folds to lower case, as before.
// A loader of accounts can call it to find duplicate logins as
// MemoryAccounts does.
func FoldLogin(login string) string {
	login = strings.TrimSpace(login)
	ascii := true
	for i := 0; i < len(login); i++ {
		if login[i] >= utf8.RuneSelf {
			ascii = false
			break
		}
	}
	if ascii {
		return strings.ToLower(login)
	}
	return strings.Map(foldRune, login)
}

// foldRune returns the rune that stands for r's case-folding orbit: the
// lower case of the orbit's smallest member when that is in the orbit,
// else the smallest member itself.
func foldRune(r rune) rune {
	least, members := r, []rune{r}
	for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
		least = min(least, f)
		members = append(members, f)
	}
	if lower := unicode.ToLower(least); slices.Contains(members, lower) {
		return lower
	}
	return least
}

// FindByLogin implements Accounts.
func (m *MemoryAccounts) FindByLogin(_ context.Context, login string) (Account, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	id, ok := m.byLogin[FoldLogin(login)]
	if !ok {
		return Account{}, ErrAccountNotFound
	}
	return cloneAccount(m.byID[id]), nil
}

// FindByID implements Accounts.
func (m *MemoryAccounts) FindByID(_ context.Context, userID string) (Account, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	a, ok := m.byID[userID]
	if !ok {
		return Account{}, ErrAccountNotFound
	}
	return cloneAccount(a), nil
}

// Create implements AccountWriter. The account needs a UserID, a Username
// and a PasswordHash.
func (m *MemoryAccounts) Create(_ context.Context, a Account) error {
	if m.byID == nil {
		return notBuilt("MemoryAccounts")
	}
	if err := checkAccount(a); err != nil {
		return err
	}
	logins := accountLogins(a)
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, taken := m.byID[a.UserID]; taken {
		return ErrAccountExists
	}
	for _, l := range logins {
		if _, taken := m.byLogin[l]; taken {
			return ErrAccountExists
		}
	}
	m.byID[a.UserID] = cloneAccount(a)
	for _, l := range logins {
		m.byLogin[l] = a.UserID
	}
	return nil
}

// Update replaces an existing account (same UserID), for password changes
// and disabling. Logins it no longer has are released.
func (m *MemoryAccounts) Update(_ context.Context, a Account) error {
	if m.byID == nil {
		return notBuilt("MemoryAccounts")
	}
	if err := checkAccount(a); err != nil {
		return err
	}
	logins := accountLogins(a)
	m.mu.Lock()
	defer m.mu.Unlock()
	old, ok := m.byID[a.UserID]
	if !ok {
		return ErrAccountNotFound
	}
	for _, l := range logins {
		if id, taken := m.byLogin[l]; taken && id != a.UserID {
			return ErrAccountExists
		}
	}
	for _, l := range accountLogins(old) {
		delete(m.byLogin, l)
	}
	m.byID[a.UserID] = cloneAccount(a)
	for _, l := range logins {
		m.byLogin[l] = a.UserID
	}
	return nil
}

// checkAccount refuses an account Create or Update cannot store safely.
// The username is checked after folding: a blank one ("  ") would otherwise
// be stored under the login "" and match any blank login typed. Update
// checks too, so it cannot strip the username or the hash Create required.
func checkAccount(a Account) error {
	if a.UserID == "" || FoldLogin(a.Username) == "" || a.PasswordHash == "" {
		return errors.New("tidegate: account needs a user id, a username and a password hash")
	}
	return nil
}

func accountLogins(a Account) []string {
	logins := []string{FoldLogin(a.Username)}
	for _, e := range a.Emails {
		if f := FoldLogin(e); f != "" && !slices.Contains(logins, f) {
			logins = append(logins, f)
		}
	}
	return logins
}

func cloneAccount(a Account) Account {
	a.Emails = slices.Clone(a.Emails)
	a.Roles = slices.Clone(a.Roles)
	return a
}
