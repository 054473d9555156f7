package main

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/tidegate/tidegate/internal/seed"
)

// TestDemoDataMatchesTheServerSeed keeps this example's demo data the same
// as examples/server's built-in set, so that the same users, passwords and
// app tokens work against every example. (Test files of this module may
// import the root module's internal packages: its import path lies under
// github.com/tidegate/tidegate.)
func TestDemoDataMatchesTheServerSeed(t *testing.T) {
	want := seed.Demo()
	require.Len(t, demoUsers, len(want.Users))
	for i, u := range want.Users {
		got := demoUsers[i]
		assert.Equal(t, []string{u.UserID, u.Username, u.Password}, []string{got.UserID, got.Username, got.Password})
		assert.Equal(t, u.Roles, got.Roles)
		assert.Equal(t, []string{u.Username}, u.Emails, "the example logs users in by the email that is their username")
	}
	require.Len(t, demoApps, len(want.Apps))
	for i, a := range want.Apps {
		got := demoApps[i]
		assert.Equal(t, []string{a.Name, a.AppToken, a.BackendToken}, []string{got.ID, got.AppToken, got.BackendToken})
	}
}
