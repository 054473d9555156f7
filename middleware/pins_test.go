package middleware_test

import (
	"context"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/tidegate/tidegate/middleware"
)

// TestFailuresAreNosniff pins X-Content-Type-Options: nosniff on every
// failure the middleware renders (and on WriteJSON, which the kind packages
// use for their own endpoints), whatever the status.
func TestFailuresAreNosniff(t *testing.T) {
	v := &testVerifier{}
	mw := middleware.Require(newScheme(t, sessionSpec, v))
	for name, token := range map[string]string{
		"missing":   "",
		"malformed": "not a token68!",
		"invalid":   tokUnknown,
		"forbidden": tokForbidden,
		"limited":   tokLimited,
		"down":      tokDown,
		"panic":     tokPanic,
	} {
		t.Run(name, func(t *testing.T) {
			req := newRequest()
			if token != "" {
				req.Header.Set(sessionHeader, token)
			}
			rec := serve(mw(principalHandler(&seen{})), req)
			require.NotEqual(t, http.StatusOK, rec.Code)
			assert.Equal(t, "nosniff", rec.Header().Get("X-Content-Type-Options"))
		})
	}
	t.Run("WriteJSON", func(t *testing.T) {
		rec := serve(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			middleware.WriteJSON(w, http.StatusTeapot, []byte(`{}`))
		}), newRequest())
		assert.Equal(t, "nosniff", rec.Header().Get("X-Content-Type-Options"))
		assert.Equal(t, "application/json", rec.Header().Get("Content-Type"))
	})
}

// TestAnyMalformedAnswerPrefersAFoundRFC6750Scheme: under Any, a request
// with a valid credential of an RFC 6750 scheme and a malformed one of a
// scheme without RFC 6750 is 400 invalid_request, answered by the RFC 6750
// scheme (the only one whose challenge can say invalid_request), in either
// order of the schemes.
func TestAnyMalformedAnswerPrefersAFoundRFC6750Scheme(t *testing.T) {
	v := &testVerifier{}
	sess, basic := newScheme(t, sessionSpec, v), newScheme(t, basicSpec, v)
	for name, schemes := range map[string][]*middleware.Scheme{
		"rfc6750 scheme first": {sess, basic},
		"basic first":          {basic, sess},
	} {
		t.Run(name, func(t *testing.T) {
			anyMW, err := middleware.Any(schemes...)
			require.NoError(t, err)
			req := newRequest()
			req.Header.Set(sessionHeader, tokGood)
			req.Header.Set("Authorization", "Basic YQ==") // Basic, malformed (no colon)
			var got seen
			rec := serve(anyMW(principalHandler(&got)), req)
			require.False(t, got.called)
			assertResponse(t, expectation{status: http.StatusBadRequest,
				challenges: one(sessionChallenges.invalidRequest), body: bodyUnauthorized}, rec)
		})
	}
}

// TestSchemeClockJudgesExpiryBehindARealClockCache: a Scheme given WithClock
// judges a principal's expiry on its own clock even when its Cache runs on
// the real clock, on the miss and on the hit.
func TestSchemeClockJudgesExpiryBehindARealClockCache(t *testing.T) {
	clock := newFakeClock()
	clock.Advance(2 * time.Minute) // tokExpiring ends at t0+1m; t0 is years ahead of the real clock
	v := &testVerifier{}
	cache := newTestCache(t, v, time.Hour) // real clock: the principal is live to it
	mw := middleware.Require(newScheme(t, sessionSpec, cache, middleware.WithClock(clock.Now)))
	for _, pass := range []string{"miss", "hit"} {
		req := newRequest()
		req.Header.Set(sessionHeader, tokExpiring)
		var got seen
		rec := serve(mw(principalHandler(&got)), req)
		require.False(t, got.called, pass)
		assertResponse(t, expectation{status: http.StatusUnauthorized,
			challenges: one(sessionChallenges.invalidToken), body: bodyUnauthorized}, rec)
	}
}

// TestVerifierSuccessWithoutSubjectIsInternal: a Verifier that answers
// success with a Principal that has no Subject is a bug; the request is
// refused with the generic 500, never let through anonymously, with or
// without a Cache in front.
func TestVerifierSuccessWithoutSubjectIsInternal(t *testing.T) {
	noSubject := middleware.VerifierFunc(func(context.Context, middleware.Credential) (middleware.Principal, error) {
		return middleware.Principal{Roles: []string{"admin"}}, nil
	})
	for name, v := range map[string]middleware.Verifier{
		"bare":   noSubject,
		"cached": newTestCache(t, noSubject, time.Minute),
	} {
		t.Run(name, func(t *testing.T) {
			mw := middleware.Require(newScheme(t, sessionSpec, v))
			for range 2 { // a refused success is not cached either
				req := newRequest()
				req.Header.Set(sessionHeader, tokGood)
				var got seen
				rec := serve(mw(principalHandler(&got)), req)
				require.False(t, got.called)
				assertResponse(t, expectation{status: http.StatusInternalServerError, body: bodyInternal}, rec)
			}
		})
	}
}

// dummyPassword is the password PasswordLogin hashes for its dummy hash
// (login.go): the one password the dummy hash accepts.
const dummyPassword = "tidegate dummy password for unknown accounts"

// TestThrottledAccountRefusesTheDummyPassword: an account over its
// AccountLimiter limit has its password checked against the dummy hash and
// must be refused whatever the password, the dummy hash's own included.
// Without the throttled check at the end, the dummy's password logged into
// any throttled account.
func TestThrottledAccountRefusesTheDummyPassword(t *testing.T) {
	policy := middleware.LimiterPolicy{AccountAttempts: 3, AddressAttempts: 1000, Window: 15 * time.Minute}
	f := newLoginFixture(t, policy)
	ctx := context.Background()
	for _, name := range []string{"mary", "mary@example.com", "MARY"} { // no name reaches 3, the account does
		_, err := f.login.Login(ctx, clientA, name, "wrong")
		requireLoginFailed(t, err)
	}
	for _, password := range []string{dummyPassword, rightPassword} {
		a, err := f.login.Login(ctx, clientB, "Mary@Example.com", password)
		requireLoginFailed(t, err)
		assert.Empty(t, a.UserID)
	}
}

// TestNULNameNeverLogsIntoTheReplacementCharacterAccount: a login name
// holding a NUL names no account, not even the one whose name is that
// login with U+FFFD where the NULs were (the spelling the limiter counts
// it under).
func TestNULNameNeverLogsIntoTheReplacementCharacterAccount(t *testing.T) {
	f := newLoginFixture(t, generous)
	ctx := context.Background()
	hash, err := f.hasher.Hash(rightPassword)
	require.NoError(t, err)
	require.NoError(t, f.accounts.Create(ctx, middleware.Account{
		UserID: "u-rc", Username: "a\uFFFDb", PasswordHash: hash,
	}))
	a, err := f.login.Login(ctx, clientA, "a\uFFFDb", rightPassword)
	require.NoError(t, err, "the account itself logs in")
	require.Equal(t, "u-rc", a.UserID)

	a, err = f.login.Login(ctx, clientA, "a\x00b", rightPassword)
	requireLoginFailed(t, err)
	assert.Empty(t, a.UserID)
}

// TestNULNameDoesNotReachTheNULPrefixedCounter is what
// TestPasswordLoginCountsANULNameApart means to check, with a policy under
// which it can fail: the account limit, not the address limit, is the one
// a NUL-prefixed counter would hit (there, 1000 account attempts per
// window and 3 per address let at most 7 reach the counter, and the
// assertion held whatever key the login counted under).
func TestNULNameDoesNotReachTheNULPrefixedCounter(t *testing.T) {
	ctx := context.Background()
	policy := middleware.LimiterPolicy{AccountAttempts: 2, AddressAttempts: 1000, Window: 15 * time.Minute}
	lim, err := middleware.NewMemoryLimiter(policy)
	require.NoError(t, err)
	f := newLoginFixture(t, generous)
	login, err := middleware.NewPasswordLogin(f.accounts, middleware.WithHasher(f.hasher), middleware.WithLimiter(lim))
	require.NoError(t, err)
	for range 2 { // the NUL name's own counter (under U+FFFD) reaches the limit, not over it
		_, err := login.Login(ctx, clientA, "\x00server:uploader", "wrong")
		requireLoginFailed(t, err)
	}
	for range 2 { // the NUL-prefixed counter was never reached: two attempts are within the limit
		wait, err := lim.Attempt(ctx, "\x00server:uploader", clientB)
		require.NoError(t, err)
		assert.Zero(t, wait, "the NUL-prefixed counter was never reached")
	}
}

// TestMemoryLimiterRatesAddressCountersAgainstTheAddressLimit: when the
// table is full, the counters that have used the smallest share of their
// limit go first, an address counter's share measured against
// AddressAttempts. An address at 15 of 100 goes before accounts at 5 of 10,
// which keep their counts.
func TestMemoryLimiterRatesAddressCountersAgainstTheAddressLimit(t *testing.T) {
	ctx := context.Background()
	policy := middleware.LimiterPolicy{AccountAttempts: 10, AddressAttempts: 100, Window: time.Hour}
	lim, err := middleware.NewMemoryLimiter(policy, middleware.WithStoreMaxEntries(4))
	require.NoError(t, err)
	names := []string{"a1", "a2", "a3"}
	for _, name := range names { // address:192.0.2.1 at 15, three accounts at 5
		for range 5 {
			wait, err := lim.Attempt(ctx, name, clientA)
			require.NoError(t, err)
			require.Zero(t, wait)
		}
	}
	require.Equal(t, 4, lim.Len())
	// A new name from a new address: two new counters, room made twice.
	wait, err := lim.Attempt(ctx, "newcomer", clientB)
	require.NoError(t, err)
	require.Zero(t, wait)
	for _, name := range names {
		key := "account:" + name
		for i := range 5 { // attempts 6 to 10: within the limit
			wait, err := lim.AttemptAccount(ctx, key)
			require.NoError(t, err)
			require.Zero(t, wait, "%s attempt %d", name, 6+i)
		}
		wait, err := lim.AttemptAccount(ctx, key)
		require.NoError(t, err)
		assert.Positive(t, wait, "%s kept its count: the 11th attempt is over the limit", name)
	}
}

// TestRefusalIsForgottenAfterItsTTLOnTheRealClock: on the real clock, a
// remembered refusal lasts its TTL and no longer: once it has passed, the
// Verifier is asked again, and a credential it now accepts is let through.
// (A TTL of a nanosecond has passed by the next call: no sleep needed.)
func TestRefusalIsForgottenAfterItsTTLOnTheRealClock(t *testing.T) {
	var calls atomic.Int64
	v := middleware.VerifierFunc(func(context.Context, middleware.Credential) (middleware.Principal, error) {
		if calls.Add(1) == 1 {
			return middleware.Principal{}, middleware.Invalid("not yet")
		}
		return middleware.Principal{Subject: subjGood}, nil
	})
	cache := newTestCache(t, v, time.Minute, middleware.WithRefusals(time.Nanosecond, 16))
	cred := middleware.Credential{Kind: kindSession, Token: tokGood}
	_, err := cache.Verify(context.Background(), cred)
	require.ErrorIs(t, err, middleware.ErrInvalidCredential)
	p, err := cache.Verify(context.Background(), cred)
	require.NoError(t, err, "the refusal's TTL has passed")
	assert.Equal(t, subjGood, p.Subject)
	assert.Equal(t, int64(2), calls.Load())
}
