package storetest

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tidegate/tidegate/middleware"
)

// NewSessionStore builds an empty store for one test, whose expiry decisions
// follow now. Stores that share a backend must not see each other's
// sessions (give each a key prefix of its own).
type NewSessionStore func(t *testing.T, now func() time.Time) middleware.SessionStore

// sessionCase is one behaviour of the SessionStore contract.
type sessionCase struct {
	name string
	run  func(t *testing.T, s middleware.SessionStore, c *Clock)
}

// SessionStore runs the conformance suite of middleware.SessionStore
// against the stores newStore builds.
func SessionStore(t *testing.T, newStore NewSessionStore) {
	cases := []sessionCase{
		{"create_lookup", testCreateLookup},
		{"lookup_unknown", testLookupUnknown},
		{"zero_fields", testZeroFields},
		{"odd_strings", testOddStrings},
		{"expiry_boundary", testExpiryBoundary},
		{"create_expired", testCreateExpired},
		{"copies", testCopies},
		{"create_replaces", testCreateReplaces},
		{"rotate_grace", testRotateGrace},
		{"rotate_grace_beyond_expiry", testRotateGraceBeyondExpiry},
		{"rotate_grace_zero", testRotateGraceZero},
		{"rotate_dead", testRotateDead},
		{"rotate_within_grace_again", testRotateWithinGraceAgain},
		{"rotate_into_itself", testRotateIntoItself},
		{"revoke", testRevoke},
		{"revoke_subject", testRevokeSubject},
		{"revoke_subject_then_create", testRevokeSubjectThenCreate},
		{"concurrent_rotate_grace_zero", testConcurrentRotateGraceZero},
		{"concurrent_rotate_with_grace", testConcurrentRotateWithGrace},
		{"concurrent_create_lookup", testConcurrentCreateLookup},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := NewClock(Start)
			s := newStore(t, c.Now)
			require.NotNil(t, s)
			tc.run(t, s, c)
		})
	}
}

var ctx = context.Background()

// digest returns the digest of a token named name.
func digest(name string) middleware.TokenDigest { return middleware.DigestToken("token-" + name) }

// userSession returns a full session of subject, issued now, living ttl.
func userSession(subject string, now time.Time, ttl time.Duration) middleware.Session {
	return middleware.Session{
		Subject:           subject,
		Actor:             middleware.ActorUser,
		App:               "app-1",
		Roles:             []string{"admin", "ops"},
		IssuedAt:          now,
		ExpiresAt:         now.Add(ttl),
		AbsoluteExpiresAt: now.Add(24 * time.Hour),
	}
}

// assertSession checks that got is want: times compare with Equal (a store
// may change the location), and nil and empty Roles are the same.
func assertSession(t *testing.T, want, got middleware.Session) {
	t.Helper()
	assert.Equal(t, want.Subject, got.Subject, "Subject")
	assert.Equal(t, want.Actor, got.Actor, "Actor")
	assert.Equal(t, want.App, got.App, "App")
	if len(want.Roles) == 0 {
		assert.Empty(t, got.Roles, "Roles")
	} else {
		assert.Equal(t, want.Roles, got.Roles, "Roles")
	}
	assertTime(t, want.IssuedAt, got.IssuedAt, "IssuedAt")
	assertTime(t, want.ExpiresAt, got.ExpiresAt, "ExpiresAt")
	assertTime(t, want.AbsoluteExpiresAt, got.AbsoluteExpiresAt, "AbsoluteExpiresAt")
	assert.Equal(t, want.Predecessor, got.Predecessor, "Predecessor")
}

func assertTime(t *testing.T, want, got time.Time, field string) {
	t.Helper()
	if want.IsZero() {
		assert.True(t, got.IsZero(), "%s: got %v, want the zero time", field, got)
		return
	}
	assert.True(t, want.Equal(got), "%s: got %v, want %v", field, got, want)
}

// requireLive checks that d holds a live session equal to want.
func requireLive(t *testing.T, s middleware.SessionStore, d middleware.TokenDigest, want middleware.Session) {
	t.Helper()
	got, err := s.Lookup(ctx, d)
	require.NoError(t, err)
	assertSession(t, want, got)
}

// requireGone checks that d has no live session.
func requireGone(t *testing.T, s middleware.SessionStore, d middleware.TokenDigest) {
	t.Helper()
	got, err := s.Lookup(ctx, d)
	require.ErrorIs(t, err, middleware.ErrSessionNotFound)
	assert.Equal(t, middleware.Session{}, got, "a failed Lookup returns the zero Session")
}

func testCreateLookup(t *testing.T, s middleware.SessionStore, c *Clock) {
	a := userSession("alice", c.Now(), time.Hour)
	b := userSession("bob", c.Now(), 2*time.Hour)
	b.Actor, b.App, b.Roles = middleware.ActorServer, "", []string{"svc"}
	require.NoError(t, s.Create(ctx, digest("a"), a))
	require.NoError(t, s.Create(ctx, digest("b"), b))
	requireLive(t, s, digest("a"), a)
	requireLive(t, s, digest("b"), b)
}

func testLookupUnknown(t *testing.T, s middleware.SessionStore, c *Clock) {
	requireGone(t, s, digest("nobody"))
	require.NoError(t, s.Create(ctx, digest("a"), userSession("alice", c.Now(), time.Hour)))
	requireGone(t, s, digest("nobody"))
	requireGone(t, s, middleware.TokenDigest{})
}

func testZeroFields(t *testing.T, s middleware.SessionStore, c *Clock) {
	minimal := middleware.Session{Subject: "alice", ExpiresAt: c.Now().Add(time.Minute)}
	require.NoError(t, s.Create(ctx, digest("a"), minimal))
	got, err := s.Lookup(ctx, digest("a"))
	require.NoError(t, err)
	assertSession(t, minimal, got)
	assert.Empty(t, got.Actor, "a zero Actor stays zero")
	assert.True(t, got.IssuedAt.IsZero(), "IssuedAt stays zero")
	assert.True(t, got.AbsoluteExpiresAt.IsZero(), "AbsoluteExpiresAt stays zero")
}

func testOddStrings(t *testing.T, s middleware.SessionStore, c *Clock) {
	odd := middleware.Session{
		Subject:   "ünï:cøde \x00 \"quoted\" {x} *",
		Actor:     middleware.ActorBackend,
		App:       "app with spaces:and:colons",
		Roles:     []string{"a,b", "", `"q"`, "\n", "ø"},
		ExpiresAt: c.Now().Add(time.Minute),
	}
	require.NoError(t, s.Create(ctx, digest("odd"), odd))
	requireLive(t, s, digest("odd"), odd)
	require.NoError(t, s.RevokeSubject(ctx, "ünï:cøde"), "a prefix of the subject is another subject")
	requireLive(t, s, digest("odd"), odd)
	require.NoError(t, s.RevokeSubject(ctx, odd.Subject))
	requireGone(t, s, digest("odd"))
}

func testExpiryBoundary(t *testing.T, s middleware.SessionStore, c *Clock) {
	a := userSession("alice", c.Now(), time.Hour)
	require.NoError(t, s.Create(ctx, digest("a"), a))
	c.Advance(time.Hour - time.Nanosecond)
	requireLive(t, s, digest("a"), a)
	c.Advance(time.Nanosecond)
	requireGone(t, s, digest("a"))
	err := s.Rotate(ctx, digest("a"), c.Now().Add(time.Minute), digest("next"), userSession("alice", c.Now(), time.Hour))
	require.ErrorIs(t, err, middleware.ErrSessionNotFound, "an expired session cannot be rotated")
	requireGone(t, s, digest("next"))
}

func testCreateExpired(t *testing.T, s middleware.SessionStore, c *Clock) {
	for name, expires := range map[string]time.Time{
		"now":  c.Now(),
		"past": c.Now().Add(-time.Hour),
		"zero": {},
	} {
		sess := userSession("alice", c.Now(), 0)
		sess.ExpiresAt = expires
		require.NoError(t, s.Create(ctx, digest(name), sess), name)
		requireGone(t, s, digest(name))
	}
}

func testCopies(t *testing.T, s middleware.SessionStore, c *Clock) {
	a := userSession("alice", c.Now(), time.Hour)
	roles := []string{"admin", "ops"}
	a.Roles = roles
	require.NoError(t, s.Create(ctx, digest("a"), a))
	roles[0] = "changed after Create"
	got, err := s.Lookup(ctx, digest("a"))
	require.NoError(t, err)
	assert.Equal(t, []string{"admin", "ops"}, got.Roles, "the store keeps its own copy")
	got.Roles[1] = "changed after Lookup"
	again, err := s.Lookup(ctx, digest("a"))
	require.NoError(t, err)
	assert.Equal(t, []string{"admin", "ops"}, again.Roles, "Lookup hands out a copy")

	next := userSession("alice", c.Now(), time.Hour)
	nextRoles := []string{"reader"}
	next.Roles = nextRoles
	require.NoError(t, s.Rotate(ctx, digest("a"), c.Now(), digest("next"), next))
	nextRoles[0] = "changed after Rotate"
	got, err = s.Lookup(ctx, digest("next"))
	require.NoError(t, err)
	assert.Equal(t, []string{"reader"}, got.Roles, "Rotate keeps its own copy")
}

func testCreateReplaces(t *testing.T, s middleware.SessionStore, c *Clock) {
	require.NoError(t, s.Create(ctx, digest("d"), userSession("alice", c.Now(), time.Hour)))
	bob := userSession("bob", c.Now(), 2*time.Hour)
	bob.Roles = nil
	require.NoError(t, s.Create(ctx, digest("d"), bob))
	requireLive(t, s, digest("d"), bob)
	require.NoError(t, s.RevokeSubject(ctx, "alice"), "the digest left alice's sessions")
	requireLive(t, s, digest("d"), bob)
	require.NoError(t, s.RevokeSubject(ctx, "bob"))
	requireGone(t, s, digest("d"))
}

func testRotateGrace(t *testing.T, s middleware.SessionStore, c *Clock) {
	old := userSession("alice", c.Now(), time.Hour)
	require.NoError(t, s.Create(ctx, digest("old"), old))
	c.Advance(10 * time.Minute)
	next := userSession("alice", c.Now(), time.Hour)
	next.Roles = []string{"rotated"}
	next.Predecessor = digest("old") // kept as given, for logout to follow
	grace := c.Now().Add(30 * time.Second)
	require.NoError(t, s.Rotate(ctx, digest("old"), grace, digest("next"), next))

	requireLive(t, s, digest("next"), next)
	shortened := old
	shortened.ExpiresAt = grace
	requireLive(t, s, digest("old"), shortened) // everything but ExpiresAt unchanged
	c.Advance(30*time.Second - time.Nanosecond)
	requireLive(t, s, digest("old"), shortened)
	c.Advance(time.Nanosecond)
	requireGone(t, s, digest("old"))
	requireLive(t, s, digest("next"), next)
	c.Advance(time.Hour - 30*time.Second - time.Nanosecond)
	requireLive(t, s, digest("next"), next)
	c.Advance(time.Nanosecond)
	requireGone(t, s, digest("next"))
}

func testRotateGraceBeyondExpiry(t *testing.T, s middleware.SessionStore, c *Clock) {
	old := userSession("alice", c.Now(), time.Minute)
	require.NoError(t, s.Create(ctx, digest("old"), old))
	next := userSession("alice", c.Now(), time.Hour)
	require.NoError(t, s.Rotate(ctx, digest("old"), c.Now().Add(time.Hour), digest("next"), next))
	requireLive(t, s, digest("old"), old) // min(ExpiresAt, oldUntil) keeps the earlier expiry
	c.Advance(time.Minute)
	requireGone(t, s, digest("old"))
	requireLive(t, s, digest("next"), next)
}

func testRotateGraceZero(t *testing.T, s middleware.SessionStore, c *Clock) {
	old := userSession("alice", c.Now(), time.Hour)
	require.NoError(t, s.Create(ctx, digest("old"), old))
	c.Advance(time.Second)
	next := userSession("alice", c.Now(), time.Hour)
	require.NoError(t, s.Rotate(ctx, digest("old"), c.Now(), digest("next"), next))
	requireGone(t, s, digest("old"))
	requireLive(t, s, digest("next"), next)
	err := s.Rotate(ctx, digest("old"), c.Now(), digest("again"), next)
	require.ErrorIs(t, err, middleware.ErrSessionNotFound, "a rotated-out token is dead")
	requireGone(t, s, digest("again"))
}

func testRotateDead(t *testing.T, s middleware.SessionStore, c *Clock) {
	next := userSession("alice", c.Now(), time.Hour)
	err := s.Rotate(ctx, digest("unknown"), c.Now().Add(time.Minute), digest("next1"), next)
	require.ErrorIs(t, err, middleware.ErrSessionNotFound, "unknown")
	requireGone(t, s, digest("next1"))

	require.NoError(t, s.Create(ctx, digest("revoked"), userSession("alice", c.Now(), time.Hour)))
	require.NoError(t, s.Revoke(ctx, digest("revoked")))
	err = s.Rotate(ctx, digest("revoked"), c.Now().Add(time.Minute), digest("next2"), next)
	require.ErrorIs(t, err, middleware.ErrSessionNotFound, "revoked")
	requireGone(t, s, digest("next2"))

	require.NoError(t, s.Create(ctx, digest("short"), userSession("alice", c.Now(), time.Second)))
	c.Advance(time.Second)
	err = s.Rotate(ctx, digest("short"), c.Now().Add(time.Minute), digest("next3"), userSession("alice", c.Now(), time.Hour))
	require.ErrorIs(t, err, middleware.ErrSessionNotFound, "expired")
	requireGone(t, s, digest("next3"))
	requireGone(t, s, digest("short"))
}

func testRotateWithinGraceAgain(t *testing.T, s middleware.SessionStore, c *Clock) {
	old := userSession("alice", c.Now(), time.Hour)
	require.NoError(t, s.Create(ctx, digest("old"), old))
	grace := c.Now().Add(time.Minute)
	require.NoError(t, s.Rotate(ctx, digest("old"), grace, digest("n1"), userSession("alice", c.Now(), time.Hour)))
	c.Advance(10 * time.Second)
	// A request in flight with the old token may refresh it again during
	// the grace window; the grace window does not grow.
	require.NoError(t, s.Rotate(ctx, digest("old"), c.Now().Add(time.Hour), digest("n2"), userSession("alice", c.Now(), time.Hour)))
	shortened := old
	shortened.ExpiresAt = grace
	requireLive(t, s, digest("old"), shortened)
	requireLive(t, s, digest("n1"), userSession("alice", Start, time.Hour))
	requireLive(t, s, digest("n2"), userSession("alice", c.Now(), time.Hour))
}

func testRotateIntoItself(t *testing.T, s middleware.SessionStore, c *Clock) {
	require.NoError(t, s.Create(ctx, digest("d"), userSession("alice", c.Now(), time.Hour)))
	c.Advance(time.Minute)
	next := userSession("alice", c.Now(), 2*time.Hour)
	next.App = "renewed"
	require.NoError(t, s.Rotate(ctx, digest("d"), c.Now(), digest("d"), next))
	requireLive(t, s, digest("d"), next) // the new session replaces the old one whole
}

func testRevoke(t *testing.T, s middleware.SessionStore, c *Clock) {
	a1 := userSession("alice", c.Now(), time.Hour)
	a2 := userSession("alice", c.Now(), 2*time.Hour)
	require.NoError(t, s.Create(ctx, digest("a1"), a1))
	require.NoError(t, s.Create(ctx, digest("a2"), a2))
	require.NoError(t, s.Revoke(ctx, digest("a1")))
	requireGone(t, s, digest("a1"))
	requireLive(t, s, digest("a2"), a2)
	require.NoError(t, s.Revoke(ctx, digest("a1")), "revoking twice")
	require.NoError(t, s.Revoke(ctx, digest("unknown")), "revoking an unknown digest")
	// The subject's other session is still revocable as a whole.
	require.NoError(t, s.RevokeSubject(ctx, "alice"))
	requireGone(t, s, digest("a2"))
}

func testRevokeSubject(t *testing.T, s middleware.SessionStore, c *Clock) {
	for i, subject := range []string{"alice", "alice", "bob", "alice:x", "Alice"} {
		require.NoError(t, s.Create(ctx, digest(fmt.Sprint(i)), userSession(subject, c.Now(), time.Hour)))
	}
	// A session made by rotation belongs to the subject too, as does the
	// old one in its grace window.
	require.NoError(t, s.Rotate(ctx, digest("0"), c.Now().Add(time.Minute), digest("rotated"), userSession("alice", c.Now(), 3*time.Hour)))
	require.NoError(t, s.RevokeSubject(ctx, "alice"))
	for _, gone := range []string{"0", "1", "rotated"} {
		requireGone(t, s, digest(gone))
	}
	requireLive(t, s, digest("2"), userSession("bob", c.Now(), time.Hour))
	requireLive(t, s, digest("3"), userSession("alice:x", c.Now(), time.Hour))
	requireLive(t, s, digest("4"), userSession("Alice", c.Now(), time.Hour))
	require.NoError(t, s.RevokeSubject(ctx, "alice"), "revoking a subject twice")
	require.NoError(t, s.RevokeSubject(ctx, "nobody"), "revoking a subject without sessions")
}

func testRevokeSubjectThenCreate(t *testing.T, s middleware.SessionStore, c *Clock) {
	require.NoError(t, s.Create(ctx, digest("before"), userSession("alice", c.Now(), time.Hour)))
	require.NoError(t, s.RevokeSubject(ctx, "alice"))
	after := userSession("alice", c.Now(), time.Hour)
	require.NoError(t, s.Create(ctx, digest("after"), after))
	requireLive(t, s, digest("after"), after)
	requireGone(t, s, digest("before"))
	require.NoError(t, s.RevokeSubject(ctx, "alice"))
	requireGone(t, s, digest("after"))
}

const racers = 16

// rotateConcurrently rotates old into racers different tokens at once and
// returns the error of each.
func rotateConcurrently(s middleware.SessionStore, old middleware.TokenDigest, oldUntil time.Time, next middleware.Session) []error {
	errs := make([]error, racers)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range racers {
		wg.Go(func() {
			<-start
			errs[i] = s.Rotate(ctx, old, oldUntil, digest(fmt.Sprint("next", i)), next)
		})
	}
	close(start)
	wg.Wait()
	return errs
}

func testConcurrentRotateGraceZero(t *testing.T, s middleware.SessionStore, c *Clock) {
	require.NoError(t, s.Create(ctx, digest("old"), userSession("alice", c.Now(), time.Hour)))
	next := userSession("alice", c.Now(), time.Hour)
	errs := rotateConcurrently(s, digest("old"), c.Now(), next)
	winners := 0
	for i, err := range errs {
		if err == nil {
			winners++
			requireLive(t, s, digest(fmt.Sprint("next", i)), next)
			continue
		}
		require.ErrorIs(t, err, middleware.ErrSessionNotFound)
		requireGone(t, s, digest(fmt.Sprint("next", i)))
	}
	assert.Equal(t, 1, winners, "without a grace window exactly one rotation wins")
	requireGone(t, s, digest("old"))
}

func testConcurrentRotateWithGrace(t *testing.T, s middleware.SessionStore, c *Clock) {
	old := userSession("alice", c.Now(), time.Hour)
	require.NoError(t, s.Create(ctx, digest("old"), old))
	next := userSession("alice", c.Now(), time.Hour)
	grace := c.Now().Add(time.Minute)
	for i, err := range rotateConcurrently(s, digest("old"), grace, next) {
		require.NoError(t, err, "the old token is live during its grace window")
		requireLive(t, s, digest(fmt.Sprint("next", i)), next)
	}
	old.ExpiresAt = grace
	requireLive(t, s, digest("old"), old)
	require.NoError(t, s.RevokeSubject(ctx, "alice"))
	for i := range racers {
		requireGone(t, s, digest(fmt.Sprint("next", i)))
	}
}

func testConcurrentCreateLookup(t *testing.T, s middleware.SessionStore, c *Clock) {
	const workers, each = 8, 20
	var wg sync.WaitGroup
	errs := make(chan error, workers*each*2)
	for w := range workers {
		wg.Go(func() {
			for i := range each {
				d := digest(fmt.Sprint(w, "-", i))
				sess := userSession(fmt.Sprint("user", w), c.Now(), time.Hour)
				if err := s.Create(ctx, d, sess); err != nil {
					errs <- err
					continue
				}
				if got, err := s.Lookup(ctx, d); err != nil || got.Subject != sess.Subject {
					errs <- fmt.Errorf("lookup %d-%d: %v %q", w, i, err, got.Subject)
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		assert.NoError(t, err)
	}
}
