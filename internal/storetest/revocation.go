package storetest

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tidegate/tidegate/bearer"
)

// NewRevocationList builds an empty revocation list for one test, whose
// expiry decisions follow now. Lists that share a backend must not see
// each other's entries.
type NewRevocationList func(t *testing.T, now func() time.Time) bearer.RevocationList

// RevocationList runs the conformance suite of bearer.RevocationList
// against the lists newList builds. The interface lets a list drop an entry
// once its until has passed, or keep it longer, so the suite checks that no
// entry is lost before its until, never that one is gone after it.
func RevocationList(t *testing.T, newList NewRevocationList) {
	cases := []struct {
		name string
		run  func(t *testing.T, x *revocationFixture)
	}{
		{"revoke_token", testRevokeToken},
		{"revoke_login", testRevokeLogin},
		{"revoke_subject_before", testRevokeSubjectBefore},
		{"subject_before_never_shortened", testSubjectBeforeNeverShortened},
		{"kinds_are_separate", testRevocationKindsSeparate},
		{"entries_kept_until_until", testRevocationKeptUntil},
		{"until_never_shortened", testRevocationUntilNeverShortened},
		{"zero_ref", testRevocationZeroRef},
		{"odd_strings", testRevocationOddStrings},
		{"concurrent", testRevocationConcurrent},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := NewClock(Start)
			l := newList(t, c.Now)
			require.NotNil(t, l)
			tc.run(t, &revocationFixture{t: t, l: l, c: c})
		})
	}
}

// revocationFixture is a list under test with its clock.
type revocationFixture struct {
	t *testing.T
	l bearer.RevocationList
	c *Clock
}

// revoked reports whether the list revokes ref.
func (x *revocationFixture) revoked(ref bearer.TokenRef) bool {
	x.t.Helper()
	got, err := x.l.Revoked(ctx, ref)
	require.NoError(x.t, err)
	return got
}

// ref returns a token of subject alice issued a minute ago.
func (x *revocationFixture) ref(id, login string) bearer.TokenRef {
	return bearer.TokenRef{ID: id, Login: login, Subject: "alice", IssuedAt: x.c.Now().Add(-time.Minute)}
}

// churn records n unrelated revocations, so that a list that sweeps or
// evicts on writes gets the chance to.
func (x *revocationFixture) churn(n int) {
	x.t.Helper()
	for i := range n {
		require.NoError(x.t, x.l.RevokeToken(ctx, fmt.Sprint("churn-", x.c.Now().UnixNano(), "-", i), x.c.Now().Add(time.Second)))
	}
}

func testRevokeToken(t *testing.T, x *revocationFixture) {
	require.NoError(t, x.l.RevokeToken(ctx, "jti-1", x.c.Now().Add(time.Hour)))
	assert.True(t, x.revoked(x.ref("jti-1", "")), "the token")
	assert.True(t, x.revoked(x.ref("jti-1", "sid-1")), "the token, whatever its login")
	assert.True(t, x.revoked(bearer.TokenRef{ID: "jti-1", Subject: "bob"}), "the token, whatever its subject")
	for _, other := range []string{"jti-2", "jti-", "jti-1x", "JTI-1", ""} {
		assert.False(t, x.revoked(x.ref(other, "")), "token %q", other)
	}
}

func testRevokeLogin(t *testing.T, x *revocationFixture) {
	require.NoError(t, x.l.RevokeLogin(ctx, "sid-1", x.c.Now().Add(time.Hour)))
	assert.True(t, x.revoked(x.ref("jti-1", "sid-1")), "a token of the login")
	assert.True(t, x.revoked(x.ref("jti-2", "sid-1")), "every token of the login")
	for _, other := range []string{"sid-2", "sid-", "sid-10", ""} {
		assert.False(t, x.revoked(x.ref("jti-1", other)), "login %q", other)
	}
}

func testRevokeSubjectBefore(t *testing.T, x *revocationFixture) {
	before := x.c.Now() // with nanoseconds: a store must not round it
	require.NoError(t, x.l.RevokeSubject(ctx, "alice", before, before.Add(time.Hour)))
	at := func(subject string, issued time.Time) bool {
		return x.revoked(bearer.TokenRef{ID: "jti", Login: "sid", Subject: subject, IssuedAt: issued})
	}
	assert.True(t, at("alice", before.Add(-time.Nanosecond)), "issued just before")
	assert.True(t, at("alice", before.Add(-48*time.Hour)), "issued long before")
	assert.True(t, at("alice", time.Time{}), "a token without iat counts as issued before")
	assert.False(t, at("alice", before), "issued at before is not before it")
	assert.False(t, at("alice", before.Add(time.Nanosecond)), "issued after")
	for _, other := range []string{"bob", "Alice", "alic", "alice:x", ""} {
		assert.False(t, at(other, before.Add(-time.Hour)), "subject %q", other)
	}
}

func testSubjectBeforeNeverShortened(t *testing.T, x *revocationFixture) {
	now := x.c.Now()
	until := now.Add(time.Hour)
	issued := func(d time.Duration) bearer.TokenRef {
		return bearer.TokenRef{ID: "jti", Subject: "alice", IssuedAt: now.Add(d)}
	}
	require.NoError(t, x.l.RevokeSubject(ctx, "alice", now, until))
	require.NoError(t, x.l.RevokeSubject(ctx, "alice", now.Add(-time.Minute), until))
	assert.True(t, x.revoked(issued(-time.Second)), "a later call with an earlier before does not shorten the revocation")
	require.NoError(t, x.l.RevokeSubject(ctx, "alice", now.Add(time.Minute), until))
	assert.True(t, x.revoked(issued(30*time.Second)), "a later before extends it")
	assert.False(t, x.revoked(issued(time.Minute)))
}

func testRevocationKindsSeparate(t *testing.T, x *revocationFixture) {
	until := x.c.Now().Add(time.Hour)
	require.NoError(t, x.l.RevokeToken(ctx, "x", until))
	require.NoError(t, x.l.RevokeLogin(ctx, "y", until))
	require.NoError(t, x.l.RevokeSubject(ctx, "z", x.c.Now().Add(time.Hour), until))
	long := x.c.Now().Add(-time.Hour)
	for name, ref := range map[string]bearer.TokenRef{
		"a login named like a revoked token":   {ID: "a", Login: "x", Subject: "s", IssuedAt: long},
		"a subject named like a revoked token": {ID: "a", Login: "b", Subject: "x", IssuedAt: long},
		"a token named like a revoked login":   {ID: "y", Login: "b", Subject: "s", IssuedAt: long},
		"a subject named like a revoked login": {ID: "a", Login: "b", Subject: "y", IssuedAt: long},
		"a token named like a revoked subject": {ID: "z", Login: "b", Subject: "s", IssuedAt: long},
		"a login named like a revoked subject": {ID: "a", Login: "z", Subject: "s", IssuedAt: long},
	} {
		assert.False(t, x.revoked(ref), name)
	}
}

func testRevocationKeptUntil(t *testing.T, x *revocationFixture) {
	start := x.c.Now()
	until := start.Add(time.Hour)
	require.NoError(t, x.l.RevokeToken(ctx, "jti-1", until))
	require.NoError(t, x.l.RevokeLogin(ctx, "sid-1", until))
	require.NoError(t, x.l.RevokeSubject(ctx, "alice", start, until))
	subjectRef := bearer.TokenRef{ID: "jti-9", Subject: "alice", IssuedAt: start.Add(-time.Second)}
	for _, step := range []time.Duration{time.Minute, 30 * time.Minute, 29*time.Minute - time.Nanosecond} {
		x.c.Advance(step)
		x.churn(20)
		assert.True(t, x.revoked(x.ref("jti-1", "")), "token entry at %v", x.c.Now().Sub(start))
		assert.True(t, x.revoked(x.ref("jti-2", "sid-1")), "login entry at %v", x.c.Now().Sub(start))
		assert.True(t, x.revoked(subjectRef), "subject entry at %v", x.c.Now().Sub(start))
	}
}

func testRevocationUntilNeverShortened(t *testing.T, x *revocationFixture) {
	start := x.c.Now()
	require.NoError(t, x.l.RevokeToken(ctx, "jti-1", start.Add(time.Hour)))
	require.NoError(t, x.l.RevokeToken(ctx, "jti-1", start.Add(time.Minute)))
	require.NoError(t, x.l.RevokeLogin(ctx, "sid-1", start.Add(time.Hour)))
	require.NoError(t, x.l.RevokeLogin(ctx, "sid-1", start.Add(time.Minute)))
	require.NoError(t, x.l.RevokeSubject(ctx, "alice", start, start.Add(time.Hour)))
	require.NoError(t, x.l.RevokeSubject(ctx, "alice", start, start.Add(time.Minute)))
	x.c.Advance(30 * time.Minute)
	x.churn(20)
	assert.True(t, x.revoked(x.ref("jti-1", "")), "a later, earlier until does not shorten a token entry")
	assert.True(t, x.revoked(x.ref("jti-2", "sid-1")), "nor a login entry")
	assert.True(t, x.revoked(bearer.TokenRef{ID: "jti-3", Subject: "alice", IssuedAt: start.Add(-time.Second)}), "nor a subject entry")
}

func testRevocationZeroRef(t *testing.T, x *revocationFixture) {
	assert.False(t, x.revoked(bearer.TokenRef{}), "an empty list")
	until := x.c.Now().Add(time.Hour)
	require.NoError(t, x.l.RevokeToken(ctx, "jti-1", until))
	require.NoError(t, x.l.RevokeLogin(ctx, "sid-1", until))
	require.NoError(t, x.l.RevokeSubject(ctx, "alice", x.c.Now(), until))
	assert.False(t, x.revoked(bearer.TokenRef{}), "the zero ref matches no entry")
}

func testRevocationOddStrings(t *testing.T, x *revocationFixture) {
	until := x.c.Now().Add(time.Hour)
	odd := "ïd:with {braces} *and* \x00 \"quotes\"\n"
	require.NoError(t, x.l.RevokeToken(ctx, odd, until))
	require.NoError(t, x.l.RevokeLogin(ctx, odd, until))
	require.NoError(t, x.l.RevokeSubject(ctx, odd, x.c.Now(), until))
	assert.True(t, x.revoked(bearer.TokenRef{ID: odd}))
	assert.True(t, x.revoked(bearer.TokenRef{ID: "a", Login: odd}))
	assert.True(t, x.revoked(bearer.TokenRef{ID: "a", Subject: odd, IssuedAt: x.c.Now().Add(-time.Second)}))
	prefix := "ïd:with {braces}"
	assert.False(t, x.revoked(bearer.TokenRef{ID: prefix, Login: prefix, Subject: prefix, IssuedAt: x.c.Now().Add(-time.Second)}),
		"a prefix of a revoked id is another id")
}

func testRevocationConcurrent(t *testing.T, x *revocationFixture) {
	const workers, each = 8, 20
	until := x.c.Now().Add(time.Hour)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := range each {
				id := fmt.Sprint("jti-", w, "-", i)
				if !assert.NoError(t, x.l.RevokeToken(ctx, id, until)) {
					return
				}
				got, err := x.l.Revoked(ctx, bearer.TokenRef{ID: id})
				assert.NoError(t, err)
				assert.True(t, got, "%s is revoked at once", id)
				assert.NoError(t, x.l.RevokeSubject(ctx, "alice", x.c.Now().Add(time.Duration(w*each+i)), until))
			}
		})
	}
	wg.Wait()
	for w := range workers {
		for i := range each {
			assert.True(t, x.revoked(bearer.TokenRef{ID: fmt.Sprint("jti-", w, "-", i)}))
		}
	}
	last := x.c.Now().Add(workers*each - 1)
	assert.True(t, x.revoked(bearer.TokenRef{ID: "a", Subject: "alice", IssuedAt: last.Add(-1)}),
		"concurrent subject revocations keep the latest before")
	assert.False(t, x.revoked(bearer.TokenRef{ID: "a", Subject: "alice", IssuedAt: last}))
}
