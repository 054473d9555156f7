package middleware_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/tidegate/tidegate/middleware"
)

// passwordlessAccounts is an Accounts of a user store whose accounts need
// not have a password (accounts created by an invitation or for single
// sign-on, or whose password an operator cleared when disabling them):
// the Accounts contract does not require a PasswordHash.
type passwordlessAccounts struct{ accounts map[string]middleware.Account }

func (p passwordlessAccounts) FindByLogin(_ context.Context, login string) (middleware.Account, error) {
	a, ok := p.accounts[middleware.FoldLogin(login)]
	if !ok {
		return middleware.Account{}, middleware.ErrAccountNotFound
	}
	return a, nil
}

func (p passwordlessAccounts) FindByID(_ context.Context, id string) (middleware.Account, error) {
	for _, a := range p.accounts {
		if a.UserID == id {
			return a, nil
		}
	}
	return middleware.Account{}, middleware.ErrAccountNotFound
}

// TestAnAccountWithoutAPasswordFailsLikeAnUnknownOne: a login for an
// existing account that has no password (or a disabled one whose hash was
// cleared) is answered as for an unknown account: the generic 401 after
// the same hashing work. It was answered 503 with Retry-After, at once and
// without hashing, which told that the account exists.
func TestAnAccountWithoutAPasswordFailsLikeAnUnknownOne(t *testing.T) {
	hasher := &countingHasher{PasswordHasher: argonTestHasher(t)}
	accounts := passwordlessAccounts{accounts: map[string]middleware.Account{
		"invited": {UserID: "u-invited", Username: "invited"},
		"gone":    {UserID: "u-gone", Username: "gone", Disabled: true},
	}}
	login, err := middleware.NewPasswordLogin(accounts, middleware.WithHasher(hasher))
	require.NoError(t, err)
	ctx := context.Background()

	_, unknownErr := login.Login(ctx, clientA, "nobody", "a guess")
	requireLoginFailed(t, unknownErr)
	unknownVerifies := hasher.verifies.Load()
	require.Equal(t, int64(1), unknownVerifies, "an unknown account is checked against the dummy hash")

	for _, name := range []string{"invited", "gone"} {
		t.Run(name, func(t *testing.T) {
			before := hasher.verifies.Load()
			_, err := login.Login(ctx, clientA, name, "a guess")
			var e *middleware.Error
			if assert.True(t, errors.As(err, &e)) {
				assert.Equal(t, 401, e.Status, "existing account without a password: got %d (%s), an unknown one gets 401", e.Status, e.Reason)
			}
			assert.ErrorIs(t, err, middleware.ErrInvalidCredential)
			// The same work as for an unknown account: one verification of
			// a real (dummy) hash, not a parse failure that costs nothing.
			assert.Equal(t, int64(1), hasher.verifies.Load()-before)
			assert.True(t, strings.HasPrefix(hasher.lastChecked(), "$argon2id$"),
				"the hash checked was %q, not a real argon2id hash: no hashing work was done", hasher.lastChecked())
		})
	}
}
