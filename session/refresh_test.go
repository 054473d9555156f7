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

// refresh calls GET /auth/login and returns the new token.
func (f *fixture) refresh(token string) string {
	f.t.Helper()
	rec := f.do(http.MethodGet, "/auth/login", session.HeaderToken, token)
	require.Equal(f.t, http.StatusOK, rec.Code, rec.Body.String())
	next := rec.Header().Get(session.HeaderToken)
	require.NotEmpty(f.t, next)
	return next
}

func TestRefreshIssuesANewToken(t *testing.T) {
	f := newFixture(t)
	old := f.login(maryLogin, maryPassword)
	rec := f.do(http.MethodGet, "/auth/login", session.HeaderToken, old)
	require.Equal(t, http.StatusOK, rec.Code)
	assert.Equal(t, `{"userid":"88144f5ea3"}`, rec.Body.String())
	assert.Equal(t, "no-store", rec.Header().Get("Cache-Control"))
	assert.Equal(t, "application/json", rec.Header().Get("Content-Type"))
	next := rec.Header().Get(session.HeaderToken)
	require.Len(t, next, 43)
	require.NotEqual(t, old, next)
	assert.Equal(t, http.StatusOK, f.whoamiStatus(next))
}

func TestRefreshGraceWindow(t *testing.T) {
	tests := []struct {
		name  string
		grace time.Duration
		opts  []session.Option
	}{
		{"default 30s", session.DefaultRefreshGrace, nil},
		{"configured 5s", 5 * time.Second, []session.Option{session.WithRefreshGrace(5 * time.Second)}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, withService(tc.opts...))
			old := f.login(maryLogin, maryPassword)
			require.Equal(t, http.StatusOK, f.whoamiStatus(old), "cached before the refresh")
			next := f.refresh(old)

			f.clock.Advance(tc.grace - time.Second)
			assert.Equal(t, http.StatusOK, f.whoamiStatus(old), "in flight during the grace window")
			f.clock.Advance(time.Second)
			requireTokenRequired(t, f.do(http.MethodGet, "/whoami", session.HeaderToken, old))
			requireTokenRequired(t, f.do(http.MethodGet, "/auth/login", session.HeaderToken, old))
			assert.Equal(t, http.StatusOK, f.whoamiStatus(next))
		})
	}
}

func TestRefreshWithoutGraceEndsTheOldTokenAtOnce(t *testing.T) {
	f := newFixture(t, withService(session.WithRefreshGrace(0)))
	old := f.login(maryLogin, maryPassword)
	require.Equal(t, http.StatusOK, f.whoamiStatus(old), "cached before the refresh")
	next := f.refresh(old)
	requireTokenRequired(t, f.do(http.MethodGet, "/whoami", session.HeaderToken, old))
	assert.Equal(t, http.StatusOK, f.whoamiStatus(next))
}

func TestRefreshEvictsTheOldTokenFromCaches(t *testing.T) {
	f := newFixture(t)
	old := f.login(maryLogin, maryPassword)
	f.refresh(old)
	creds, subjects := f.inv.snapshot()
	want := middleware.Credential{Kind: session.Kind, Token: old}.Fingerprint()
	assert.Equal(t, []string{want}, creds, "the extra invalidator hears of the rotation")
	assert.Equal(t, []string{maryID}, subjects, "and of its subject, for replicas that cannot be told a credential")
}

func TestTokenExpiresAfterItsLifetime(t *testing.T) {
	for _, lifetime := range []time.Duration{session.DefaultTokenLifetime, 10 * time.Minute} {
		t.Run(lifetime.String(), func(t *testing.T) {
			f := newFixture(t, withService(session.WithTokenLifetime(lifetime)))
			token := f.login(maryLogin, maryPassword)
			f.clock.Advance(lifetime - time.Second)
			require.Equal(t, http.StatusOK, f.whoamiStatus(token))
			f.clock.Advance(time.Second)
			requireTokenRequired(t, f.do(http.MethodGet, "/whoami", session.HeaderToken, token))
			requireTokenRequired(t, f.do(http.MethodGet, "/auth/login", session.HeaderToken, token))
		})
	}
}

func TestRefreshExtendsTheTokenButNotTheLogin(t *testing.T) {
	f := newFixture(t, withService(session.WithTokenLifetime(time.Hour), session.WithAbsoluteLifetime(2*time.Hour)))
	token := f.login(maryLogin, maryPassword) // at t0; the login ends at t0+2h

	f.clock.Advance(50 * time.Minute)
	token = f.refresh(token) // lives until t0+1h50m
	f.clock.Advance(30 * time.Minute)
	require.Equal(t, http.StatusOK, f.whoamiStatus(token), "t0+1h20m: past the first token's hour")

	token = f.refresh(token) // capped at t0+2h, not t0+2h20m
	f.clock.Advance(39 * time.Minute)
	require.Equal(t, http.StatusOK, f.whoamiStatus(token), "t0+1h59m")
	token = f.refresh(token) // still capped at t0+2h
	f.clock.Advance(59 * time.Second)
	require.Equal(t, http.StatusOK, f.whoamiStatus(token), "t0+2h-1s")
	f.clock.Advance(time.Second)
	requireTokenRequired(t, f.do(http.MethodGet, "/whoami", session.HeaderToken, token))
	requireTokenRequired(t, f.do(http.MethodGet, "/auth/login", session.HeaderToken, token))
}

func TestRefreshDefaultAbsoluteLifetimeIsSevenDays(t *testing.T) {
	f := newFixture(t)
	token := f.login(maryLogin, maryPassword)
	elapsed := time.Duration(0)
	for elapsed < 7*24*time.Hour-time.Hour {
		f.clock.Advance(50 * time.Minute)
		elapsed += 50 * time.Minute
		token = f.refresh(token)
	}
	left := 7*24*time.Hour - elapsed
	require.Less(t, left, time.Hour, "the last refresh was capped by the absolute lifetime")
	f.clock.Advance(left - time.Second)
	require.Equal(t, http.StatusOK, f.whoamiStatus(token))
	f.clock.Advance(time.Second)
	requireTokenRequired(t, f.do(http.MethodGet, "/whoami", session.HeaderToken, token))
}

func TestRefreshFailures(t *testing.T) {
	f := newFixture(t)
	expired := f.login(maryLogin, maryPassword)
	f.clock.Advance(session.DefaultTokenLifetime)
	revoked := f.login(maryLogin, maryPassword)
	require.Equal(t, http.StatusOK, f.do(http.MethodPost, "/auth/logout", session.HeaderToken, revoked).Code)
	valid := f.login(maryLogin, maryPassword)

	tests := []struct {
		name    string
		headers []string
		status  int
	}{
		{"missing", nil, 401},
		{"unknown", []string{session.HeaderToken, "dGhpcyB0b2tlbiB3YXMgbmV2ZXIgaXNzdWVkIGF0IGFsbA"}, 401},
		{"expired", []string{session.HeaderToken, expired}, 401},
		{"revoked", []string{session.HeaderToken, revoked}, 401},
		{"in another header", []string{"Authorization", "Bearer " + valid}, 401},
		{"not a token68", []string{session.HeaderToken, "a b"}, 400},
		{"oversized", []string{session.HeaderToken, strings.Repeat("a", session.MaxTokenBytes+1)}, 400},
		{"doubled with different values", []string{session.HeaderToken, valid, session.HeaderToken, expired}, 400},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec := f.do(http.MethodGet, "/auth/login", tc.headers...)
			require.Equal(t, tc.status, rec.Code)
			assert.Equal(t, `"Session token required"`, rec.Body.String())
			assert.Equal(t, "no-store", rec.Header().Get("Cache-Control"))
			assert.Empty(t, rec.Header().Get(session.HeaderToken))
			if tc.status == http.StatusUnauthorized {
				assert.Equal(t, `X-Tidepool-Session-Token realm="tidepool"`, rec.Header().Get("WWW-Authenticate"))
			}
		})
	}
	assert.Equal(t, http.StatusOK, f.whoamiStatus(valid), "no failure touched the valid token")
}

func TestRefreshOfADisabledAccountRevokesItsSessions(t *testing.T) {
	f := newFixture(t)
	a := f.login(maryLogin, maryPassword)
	b := f.login(maryLogin, maryPassword)
	require.Equal(t, http.StatusOK, f.whoamiStatus(b), "cached")
	account, err := f.accounts.FindByID(t.Context(), maryID)
	require.NoError(t, err)
	account.Disabled = true
	require.NoError(t, f.accounts.Update(t.Context(), account))

	requireTokenRequired(t, f.do(http.MethodGet, "/auth/login", session.HeaderToken, a))
	requireTokenRequired(t, f.do(http.MethodGet, "/whoami", session.HeaderToken, b))
	_, subjects := f.inv.snapshot()
	assert.Equal(t, []string{maryID}, subjects)
}

func TestRefreshPicksUpRoleChanges(t *testing.T) {
	f := newFixture(t)
	token := f.login(maryLogin, maryPassword)
	account, err := f.accounts.FindByID(t.Context(), maryID)
	require.NoError(t, err)
	account.Roles = []string{"user", "clinician"}
	require.NoError(t, f.accounts.Update(t.Context(), account))
	token = f.refresh(token)
	rec := f.do(http.MethodGet, "/whoami", session.HeaderToken, token)
	require.Equal(t, http.StatusOK, rec.Code)
	assert.Equal(t, []any{"user", "clinician"}, decode(t, rec)["roles"])
}

func TestRefreshOfAServerToken(t *testing.T) {
	f := newFixture(t)
	token := f.serverLogin(serverName, serverSecret)
	f.clock.Advance(23 * time.Hour)
	token = f.refresh(token)
	f.clock.Advance(23 * time.Hour)
	rec := f.do(http.MethodGet, "/whoami", session.HeaderToken, token)
	require.Equal(t, http.StatusOK, rec.Code, "a refreshed server token lives another 24 hours")
	assert.Equal(t, map[string]any{"subject": serverName, "actor": "server", "roles": nil}, decode(t, rec))
}
