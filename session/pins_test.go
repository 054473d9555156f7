package session_test

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/tidegate/tidegate/middleware"
	"github.com/tidegate/tidegate/session"
)

// sharedStoreFixture is a fixture whose Service uses a store the test
// holds, as basicauth.WithSessionStore shares one, with an app session
// (Tapglue style) of mary stored in it. It returns the app session's token.
func sharedStoreFixture(t *testing.T) (*fixture, middleware.SessionStore, string) {
	t.Helper()
	clock := newFakeClock()
	store, err := middleware.NewMemorySessionStore(middleware.WithStoreClock(clock.Now))
	require.NoError(t, err)
	f := newFixture(t, withClock(clock), withService(session.WithStore(store)))
	token := middleware.NewToken()
	now := clock.Now()
	require.NoError(t, store.Create(context.Background(), middleware.DigestToken(token), middleware.Session{
		Subject: maryID, Actor: middleware.ActorUser, App: "app-1",
		IssuedAt: now, ExpiresAt: now.Add(time.Hour), AbsoluteExpiresAt: now.Add(time.Hour),
	}))
	return f, store, token
}

// TestAppSessionIsNoSessionToken: an app-scoped session found in a shared
// store is refused as a session token on a protected route (401 "Session
// token required"), and is not something GET /login refreshes: no new
// token is issued and the app session is left as it was.
func TestAppSessionIsNoSessionToken(t *testing.T) {
	t.Run("protected route", func(t *testing.T) {
		f, _, token := sharedStoreFixture(t)
		rec := f.do(http.MethodGet, "/whoami", session.HeaderToken, token)
		requireTokenRequired(t, rec)
	})
	t.Run("refresh", func(t *testing.T) {
		f, store, token := sharedStoreFixture(t)
		before, err := store.Lookup(context.Background(), middleware.DigestToken(token))
		require.NoError(t, err)
		rec := f.do(http.MethodGet, "/auth/login", session.HeaderToken, token)
		requireTokenRequired(t, rec)
		after, err := store.Lookup(context.Background(), middleware.DigestToken(token))
		require.NoError(t, err, "the app session is not rotated away")
		assert.Equal(t, before.ExpiresAt, after.ExpiresAt, "nor put on a grace window")
	})
}

// TestRefreshOfARemovedServersTokenIsRefused: GET /login does not renew
// the token of a server that this Service no longer lists (its secret
// leaked), found in a store it shares.
func TestRefreshOfARemovedServersTokenIsRefused(t *testing.T) {
	f, store, _ := sharedStoreFixture(t)
	token := middleware.NewToken()
	now := f.clock.Now()
	require.NoError(t, store.Create(context.Background(), middleware.DigestToken(token), middleware.Session{
		Subject: "removed-server", Actor: middleware.ActorServer,
		IssuedAt: now, ExpiresAt: now.Add(time.Hour), AbsoluteExpiresAt: now.Add(24 * time.Hour),
	}))
	rec := f.do(http.MethodGet, "/auth/login", session.HeaderToken, token)
	requireTokenRequired(t, rec)
}

// TestLogoutLeavesAnAppSessionAlone: POST /logout with an app session
// found in a shared store answers 200, as for any token, but does not end
// it: its own kind ends it, through its own caches.
func TestLogoutLeavesAnAppSessionAlone(t *testing.T) {
	f, store, token := sharedStoreFixture(t)
	rec := f.do(http.MethodPost, "/auth/logout", session.HeaderToken, token)
	require.Equal(t, http.StatusOK, rec.Code)
	_, err := store.Lookup(context.Background(), middleware.DigestToken(token))
	require.NoError(t, err, "the app session lives on")
	_, subjects := f.inv.snapshot()
	assert.NotContains(t, subjects, maryID, "and nobody was told to forget mary")
}

// disabledMeanwhile is an account store in which an account is disabled
// between the login's lookup and its confirmation: FindByLogin sees it
// enabled, FindByID disabled.
type disabledMeanwhile struct{ *middleware.MemoryAccounts }

func (a disabledMeanwhile) FindByID(ctx context.Context, id string) (middleware.Account, error) {
	acc, err := a.MemoryAccounts.FindByID(ctx, id)
	acc.Disabled = true
	return acc, err
}

// TestLoginConfirmsTheAccountBeforeHandingOutTheToken: an account disabled
// while its password was checked gets the login's generic 401 and no
// token, and the session issued meanwhile is revoked, not left in the store.
func TestLoginConfirmsTheAccountBeforeHandingOutTheToken(t *testing.T) {
	clock := newFakeClock()
	store, err := middleware.NewMemorySessionStore(middleware.WithStoreClock(clock.Now))
	require.NoError(t, err)
	login, err := middleware.NewPasswordLogin(disabledMeanwhile{newAccounts(t)}, middleware.WithHasher(hasher(t)))
	require.NoError(t, err)
	svc, err := session.New(login, session.WithClock(clock.Now), session.WithStore(store), session.WithLogger(quiet))
	require.NoError(t, err)
	t.Cleanup(func() { _ = svc.Close() })

	req := httptestRequest(http.MethodPost, "/login", "Authorization", basic(maryLogin, maryPassword))
	rec := recorder(svc.Handler(), req)
	require.Equal(t, http.StatusUnauthorized, rec.Code)
	assert.Equal(t, `"login failed"`, rec.Body.String())
	assert.Equal(t, `Basic realm="tidepool", charset="UTF-8"`, rec.Header().Get("WWW-Authenticate"))
	assert.Empty(t, rec.Header().Get(session.HeaderToken))
	assert.Zero(t, store.Len(), "the session issued before the confirmation was revoked")
}

// countingStore counts the lookups of a session store.
type countingStore struct {
	middleware.SessionStore
	mu      sync.Mutex
	lookups int
}

func (s *countingStore) Lookup(ctx context.Context, d middleware.TokenDigest) (middleware.Session, error) {
	s.mu.Lock()
	s.lookups++
	s.mu.Unlock()
	return s.SessionStore.Lookup(ctx, d)
}

func (s *countingStore) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.lookups
}

// TestTokenEndpointBoundsTheTargetBeforeAnyLookup: GET /token/{token}
// refuses a target over MaxTokenBytes as an invalid token before it
// reaches the cache or the store.
func TestTokenEndpointBoundsTheTargetBeforeAnyLookup(t *testing.T) {
	clock := newFakeClock()
	mem, err := middleware.NewMemorySessionStore(middleware.WithStoreClock(clock.Now))
	require.NoError(t, err)
	store := &countingStore{SessionStore: mem}
	f := newFixture(t, withClock(clock), withService(session.WithStore(store)))
	server := f.serverLogin(serverName, serverSecret)

	// The server token is verified (and cached) on the first call.
	rec := f.do(http.MethodGet, "/auth/token/"+middleware.NewToken(), session.HeaderToken, server)
	require.Equal(t, http.StatusUnauthorized, rec.Code)
	require.Equal(t, `"Invalid session token"`, rec.Body.String())

	before := store.count()
	rec = f.do(http.MethodGet, "/auth/token/"+strings.Repeat("a", session.MaxTokenBytes+1), session.HeaderToken, server)
	require.Equal(t, http.StatusUnauthorized, rec.Code)
	assert.Equal(t, `"Invalid session token"`, rec.Body.String())
	assert.Equal(t, before, store.count(), "an oversized target costs no store lookup")
}
