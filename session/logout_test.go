package session_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
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

func TestLogoutRevokesAtOnceThroughTheCache(t *testing.T) {
	f := newFixture(t)
	token := f.login(maryLogin, maryPassword)
	other := f.login(maryLogin, maryPassword)
	require.Equal(t, http.StatusOK, f.whoamiStatus(token), "now cached")
	require.Equal(t, http.StatusOK, f.whoamiStatus(other), "now cached")

	rec := f.do(http.MethodPost, "/auth/logout", session.HeaderToken, token)
	require.Equal(t, http.StatusOK, rec.Code)
	assert.Empty(t, rec.Body.String())

	requireTokenRequired(t, f.do(http.MethodGet, "/whoami", session.HeaderToken, token))
	requireTokenRequired(t, f.do(http.MethodGet, "/auth/login", session.HeaderToken, token))
	assert.Equal(t, http.StatusOK, f.whoamiStatus(other), "other sessions of the user live on")

	creds, subjects := f.inv.snapshot()
	assert.Equal(t, []string{middleware.Credential{Kind: session.Kind, Token: token}.Fingerprint()}, creds)
	assert.Equal(t, []string{maryID}, subjects, "other replicas hear the subject, never the credential")
}

// TestLogoutEndsTheTokensItWasRefreshedFrom: a token refreshed shortly
// before the logout is still in its grace window, and could refresh the
// login back to life: a new token, outliving the logout by an hour and
// renewable up to the absolute lifetime. Logout revokes it too, cache
// included; another login of the same user lives on.
func TestLogoutEndsTheTokensItWasRefreshedFrom(t *testing.T) {
	f := newFixture(t)
	other := f.login(maryLogin, maryPassword)
	first := f.login(maryLogin, maryPassword)
	second := f.refresh(first)
	current := f.refresh(second) // first and second are in their grace windows
	for _, token := range []string{first, second, current, other} {
		require.Equal(t, http.StatusOK, f.whoamiStatus(token), "now cached")
	}

	require.Equal(t, http.StatusOK, f.do(http.MethodPost, "/auth/logout", session.HeaderToken, current).Code)
	f.clock.Advance(time.Second) // well within the grace window
	for name, token := range map[string]string{"the token logged out with": current, "its predecessor": second, "the first token": first} {
		requireTokenRequired(t, f.do(http.MethodGet, "/whoami", session.HeaderToken, token))
		rec := f.do(http.MethodGet, "/auth/login", session.HeaderToken, token)
		assert.Equal(t, http.StatusUnauthorized, rec.Code, "%s cannot refresh the login", name)
		assert.Empty(t, rec.Header().Get(session.HeaderToken), name)
	}
	assert.Equal(t, http.StatusOK, f.whoamiStatus(other), "the user's other login lives on")
}

// TestLogoutWithAReplacedTokenLeavesItsSuccessor pins a known limitation
// (SECURITY.md, "Session logout ends a chain of tokens"): a logout sent
// with a token that was refreshed meanwhile (the refresh answer was still
// in flight) ends that token, not the one it was refreshed into, which
// stores do not record. If this ever fails, the limitation is gone:
// update SECURITY.md.
func TestLogoutWithAReplacedTokenLeavesItsSuccessor(t *testing.T) {
	f := newFixture(t)
	first := f.login(maryLogin, maryPassword)
	second := f.refresh(first) // first is in its grace window
	require.Equal(t, http.StatusOK, f.whoamiStatus(second), "now cached")

	require.Equal(t, http.StatusOK, f.do(http.MethodPost, "/auth/logout", session.HeaderToken, first).Code)
	requireTokenRequired(t, f.do(http.MethodGet, "/whoami", session.HeaderToken, first))
	f.clock.Advance(time.Second)
	assert.Equal(t, http.StatusOK, f.whoamiStatus(second), "the successor lives on")
}

func TestLogoutAlwaysAnswers200(t *testing.T) {
	f := newFixture(t)
	expired := f.login(maryLogin, maryPassword)
	f.clock.Advance(session.DefaultTokenLifetime)
	valid := f.login(maryLogin, maryPassword)
	tests := []struct {
		name    string
		headers []string
	}{
		{"valid", []string{session.HeaderToken, valid}},
		{"valid again (already revoked)", []string{session.HeaderToken, valid}},
		{"expired", []string{session.HeaderToken, expired}},
		{"unknown", []string{session.HeaderToken, "dGhpcyB0b2tlbiB3YXMgbmV2ZXIgaXNzdWVkIGF0IGFsbA"}},
		{"absent", nil},
		{"malformed", []string{session.HeaderToken, "not a token"}},
		{"oversized", []string{session.HeaderToken, strings.Repeat("a", 10_000)}},
		{"doubled", []string{session.HeaderToken, valid, session.HeaderToken, expired}},
		{"with a trace header", []string{session.HeaderToken, expired, "X-Tidepool-Trace-Session", "a1b2c3"}},
	}
	var first http.Header
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec := f.do(http.MethodPost, "/auth/logout", tc.headers...)
			require.Equal(t, http.StatusOK, rec.Code)
			assert.Empty(t, rec.Body.String())
			assert.Equal(t, "no-store", rec.Header().Get("Cache-Control"))
			if first == nil {
				first = rec.Header()
			}
			assert.Equal(t, first, rec.Header(), "nothing tells the cases apart")
		})
	}
	creds, _ := f.inv.snapshot()
	assert.Len(t, creds, 1, "only the live token was broadcast")
}

func TestLogoutWithAJSONBody(t *testing.T) {
	f := newFixture(t)
	token := f.login(maryLogin, maryPassword)
	req := httptestRequest(http.MethodPost, "/auth/logout", session.HeaderToken, token,
		"X-Tidepool-Trace-Session", "0c4b6d", "Content-Type", "application/json")
	req.Body = io.NopCloser(strings.NewReader(`{}`))
	req.ContentLength = 2
	rec := serve(f, req)
	require.Equal(t, http.StatusOK, rec.Code)
	requireTokenRequired(t, f.do(http.MethodGet, "/whoami", session.HeaderToken, token))
}

func TestRevokeSubject(t *testing.T) {
	f := newFixture(t)
	a, b := f.login(maryLogin, maryPassword), f.login(maryLogin, maryPassword)
	admin := f.login("admin@example.com", "admin demo password")
	for _, tok := range []string{a, b, admin} {
		require.Equal(t, http.StatusOK, f.whoamiStatus(tok), "cached")
	}
	require.NoError(t, f.svc.RevokeSubject(t.Context(), maryID))
	requireTokenRequired(t, f.do(http.MethodGet, "/whoami", session.HeaderToken, a))
	requireTokenRequired(t, f.do(http.MethodGet, "/whoami", session.HeaderToken, b))
	requireTokenRequired(t, f.do(http.MethodGet, "/auth/login", session.HeaderToken, b))
	assert.Equal(t, http.StatusOK, f.whoamiStatus(admin))
	_, subjects := f.inv.snapshot()
	assert.Equal(t, []string{maryID}, subjects)
}

// flakyLookupStore fails the next Lookup of one digest, as a store with a
// transient error would.
type flakyLookupStore struct {
	*middleware.MemorySessionStore
	mu   sync.Mutex
	fail *middleware.TokenDigest
}

func (s *flakyLookupStore) Lookup(ctx context.Context, d middleware.TokenDigest) (middleware.Session, error) {
	s.mu.Lock()
	if s.fail != nil && *s.fail == d {
		s.fail = nil
		s.mu.Unlock()
		return middleware.Session{}, errors.New("store briefly unavailable")
	}
	s.mu.Unlock()
	return s.MemorySessionStore.Lookup(ctx, d)
}

// TestLogoutRetriedAfterA503StillEndsThePredecessors: a logout whose walk
// of the predecessors fails answers 503 and leaves the chain reachable, so
// that the client's retry ends it. Revoking the token logged out with
// first lost the chain's only link: the retry answered 200, and the
// predecessor refreshed the login back to life.
func TestLogoutRetriedAfterA503StillEndsThePredecessors(t *testing.T) {
	clock := newFakeClock()
	mem, err := middleware.NewMemorySessionStore(middleware.WithStoreClock(clock.Now))
	require.NoError(t, err)
	store := &flakyLookupStore{MemorySessionStore: mem}
	f := newFixture(t, withClock(clock), withService(session.WithStore(store)))
	first := f.login(maryLogin, maryPassword)
	second := f.refresh(first)
	current := f.refresh(second)

	for _, failing := range []string{first, second} {
		d := middleware.DigestToken(failing)
		store.mu.Lock()
		store.fail = &d
		store.mu.Unlock()
		require.Equal(t, http.StatusServiceUnavailable, f.do(http.MethodPost, "/auth/logout", session.HeaderToken, current).Code,
			"the walk failed: logout says so")
	}
	require.Equal(t, http.StatusOK, f.do(http.MethodPost, "/auth/logout", session.HeaderToken, current).Code, "the retry")
	clock.Advance(time.Second) // well within the grace windows
	for _, token := range []string{first, second, current} {
		rec := f.do(http.MethodGet, "/auth/login", session.HeaderToken, token)
		assert.Equal(t, http.StatusUnauthorized, rec.Code, "no token of the chain refreshes the login after the logout")
		assert.Empty(t, rec.Header().Get(session.HeaderToken))
	}
}

// TestLogoutOfAVeryLongChain: a chain of live predecessors longer than
// logout follows (refreshes less than 30 ms apart) is answered 503 and
// nothing is revoked: neither one link left alive after a 200, nor the
// user's other sessions ended (in a store shared with basicauth, those
// include app sessions). A chain within the bound ends whole.
func TestLogoutOfAVeryLongChain(t *testing.T) {
	f := newFixture(t)
	other := f.login(maryLogin, maryPassword)
	first := f.login(maryLogin, maryPassword)
	current := first
	for range 1025 { // all within one grace window on the fake clock
		current = f.refresh(current)
	}
	rec := f.do(http.MethodPost, "/auth/logout", session.HeaderToken, current)
	require.Equal(t, http.StatusServiceUnavailable, rec.Code, "logout says it did not happen")
	assert.NotEmpty(t, rec.Header().Get("Retry-After"))
	for name, token := range map[string]string{"the first token": first, "the token logged out with": current, "another login": other} {
		assert.Equal(t, http.StatusOK, f.whoamiStatus(token), "%s: nothing was revoked", name)
	}

	f.clock.Advance(time.Minute) // every predecessor's grace is over
	require.Equal(t, http.StatusOK, f.do(http.MethodPost, "/auth/logout", session.HeaderToken, current).Code)
	assert.Equal(t, http.StatusUnauthorized, f.whoamiStatus(current))
	assert.Equal(t, http.StatusOK, f.whoamiStatus(other), "another login lives on")
}

// TestLogoutOfExactlyAsManyPredecessorsAsItFollowsSparesOtherLogins: a
// chain of exactly 64 live predecessors (as many as logout follows) is
// complete, whatever the oldest names: logout ends it and spares the
// user's other logins. The walk gave up at 64 without looking whether the
// next link was live, and logged the user out everywhere.
func TestLogoutOfExactlyAsManyPredecessorsAsItFollowsSparesOtherLogins(t *testing.T) {
	for name, refreshedOnce := range map[string]bool{"from a login": false, "from a token refreshed long ago": true} {
		t.Run(name, func(t *testing.T) {
			clock := newFakeClock()
			f := newFixture(t, withClock(clock))
			other := f.login(maryLogin, maryPassword)
			current := f.login(maryLogin, maryPassword)
			if refreshedOnce {
				current = f.refresh(current)
				clock.Advance(time.Minute) // the first token's grace is over
			}
			for range 64 {
				current = f.refresh(current)
			}
			require.Equal(t, http.StatusOK, f.do(http.MethodPost, "/auth/logout", session.HeaderToken, current).Code)
			assert.Equal(t, http.StatusUnauthorized, f.whoamiStatus(current), "the token logged out with")
			assert.Equal(t, http.StatusOK, f.whoamiStatus(other), "another login of the user lives on")
		})
	}
}

// lateRevokeStore is a session store whose revocations answer late: each is
// done, then reported as failed (a timeout after Redis ran the script).
type lateRevokeStore struct{ *middleware.MemorySessionStore }

func (s lateRevokeStore) Revoke(ctx context.Context, d middleware.TokenDigest) error {
	return errors.Join(s.MemorySessionStore.Revoke(ctx, d), context.DeadlineExceeded)
}

func (s lateRevokeStore) RevokeSubject(ctx context.Context, subject string) error {
	return errors.Join(s.MemorySessionStore.RevokeSubject(ctx, subject), context.DeadlineExceeded)
}

// TestRevocationWithUnknownOutcomeForgetsTheCache: a store error does not
// say that nothing was revoked, so the cache forgets the token whatever the
// outcome; otherwise a token the store ended lived on in the cache.
func TestRevocationWithUnknownOutcomeForgetsTheCache(t *testing.T) {
	clock := newFakeClock()
	mem, err := middleware.NewMemorySessionStore(middleware.WithStoreClock(clock.Now))
	require.NoError(t, err)
	f := newFixture(t, withClock(clock), withService(session.WithStore(lateRevokeStore{mem})))
	loggedOut, revoked := f.login(maryLogin, maryPassword), f.login("jo", joPassword)
	require.Equal(t, http.StatusOK, f.whoamiStatus(loggedOut))
	require.Equal(t, http.StatusOK, f.whoamiStatus(revoked))

	require.Equal(t, http.StatusServiceUnavailable,
		f.do(http.MethodPost, "/auth/logout", session.HeaderToken, loggedOut).Code)
	assert.Equal(t, http.StatusUnauthorized, f.whoamiStatus(loggedOut), "logout failed late")

	require.ErrorIs(t, f.svc.RevokeSubject(t.Context(), joID), context.DeadlineExceeded)
	assert.Equal(t, http.StatusUnauthorized, f.whoamiStatus(revoked), "RevokeSubject failed late")
}

// lateRotateStore is a session store whose rotations answer late: each is
// done, then reported as failed.
type lateRotateStore struct{ *middleware.MemorySessionStore }

func (s lateRotateStore) Rotate(ctx context.Context, old middleware.TokenDigest, oldUntil time.Time, next middleware.TokenDigest, sess middleware.Session) error {
	return errors.Join(s.MemorySessionStore.Rotate(ctx, old, oldUntil, next, sess), context.DeadlineExceeded)
}

// TestRefreshWithUnknownOutcomeForgetsTheOldToken: as with revocations, a
// rotation that fails late may have ended the old token (grace 0 ends it
// at once), so the cache forgets it whatever the store answered.
func TestRefreshWithUnknownOutcomeForgetsTheOldToken(t *testing.T) {
	clock := newFakeClock()
	mem, err := middleware.NewMemorySessionStore(middleware.WithStoreClock(clock.Now))
	require.NoError(t, err)
	f := newFixture(t, withClock(clock), withService(session.WithStore(lateRotateStore{mem}), session.WithRefreshGrace(0)))
	old := f.login(maryLogin, maryPassword)
	require.Equal(t, http.StatusOK, f.whoamiStatus(old)) // cached now

	rec := f.do(http.MethodGet, "/auth/login", session.HeaderToken, old)
	require.Equal(t, http.StatusServiceUnavailable, rec.Code, rec.Body.String())
	_, err = mem.Lookup(t.Context(), middleware.DigestToken(old))
	require.ErrorIs(t, err, middleware.ErrSessionNotFound, "the store did end the old token")
	assert.Equal(t, http.StatusUnauthorized, f.whoamiStatus(old), "a token the store ended must not live on in the cache")
}

// TestLogoutThatEndsNothingIsARefusal: OutcomeAuthenticated means "a
// credential was verified". A logout with no token, a forged or a
// malformed one answers 200 like any other, but verified nothing: its
// event and its Observer call said "authenticated", so a flood of made-up
// logouts looked like success traffic. They are refusals (with the 200
// they got), as bearer's logout reports them.
func TestLogoutThatEndsNothingIsARefusal(t *testing.T) {
	events, observer := &eventRecorder{}, &outcomeRecorder{}
	f := newFixture(t, withService(session.WithLogger(slog.New(events)),
		session.WithSchemeOptions(middleware.WithObserver(observer))))
	for name, headers := range map[string][]string{
		"no token":     nil,
		"forged token": {session.HeaderToken, strings.Repeat("A", 43)},
		"malformed":    {session.HeaderToken, "not a token!"},
	} {
		events.take()
		observer.take()
		rec := f.do(http.MethodPost, "/auth/logout", headers...)
		require.Equal(t, http.StatusOK, rec.Code, name)
		for _, e := range events.take() {
			assert.NotEqual(t, string(middleware.OutcomeAuthenticated), e["outcome"], "%s: event %v", name, e)
		}
		assert.NotContains(t, observer.take(), string(session.Kind)+"/"+string(middleware.OutcomeAuthenticated)+"/",
			"%s: the Observer counts a logout that verified nothing as an authentication", name)
	}
}
