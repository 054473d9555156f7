package storetest

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tidegate/tidegate/bearer"
	"github.com/tidegate/tidegate/middleware"
)

// NewRefreshStore builds an empty refresh store for one test, whose own
// expiry decisions (sweeping, key TTLs) follow now. Rotations carry their
// time in Rotation.Now, which the suite takes from the same clock. Stores
// that share a backend must not see each other's families.
type NewRefreshStore func(t *testing.T, now func() time.Time) bearer.RefreshStore

// Lifetimes of the suite's families and tokens.
const (
	familyLife = 24 * time.Hour
	refreshTTL = time.Hour
)

// RefreshStore runs the conformance suite of bearer.RefreshStore against
// the stores newStore builds. Every case follows the interface's doc
// comments (and those of Family, Rotation and the Err* values).
func RefreshStore(t *testing.T, newStore NewRefreshStore) {
	cases := []struct {
		name string
		run  func(t *testing.T, x *refreshFixture)
	}{
		{"create_rotate_chain", testRefreshChain},
		{"check_without_rotation", testRefreshCheckOnly},
		{"reuse_revokes_family", testRefreshReuse},
		{"reuse_of_checked_token", testRefreshReuseWhenChecking},
		{"reuse_spares_other_families", testRefreshReuseSparesOthers},
		{"reuse_reported_until_revoked_or_expired", testRefreshReuseReportedAgain},
		{"rotation_run_again", testRefreshRotationRunAgain},
		{"unknown_token", testRefreshUnknown},
		{"wrong_family_or_subject", testRefreshWrongFamilyOrSubject},
		{"used_token_wrong_family_revokes_nothing", testRefreshUsedWrongFamily},
		{"token_expiry", testRefreshTokenExpiry},
		{"next_expiry", testRefreshNextExpiry},
		{"family_absolute_expiry", testRefreshFamilyExpiry},
		{"decided_at_rotation_now", testRefreshDecidedAtNow},
		{"first_token_capped_by_family", testRefreshFirstCapped},
		{"create_rejects_bad_and_duplicate", testRefreshCreateRejects},
		{"rotate_into_taken_digest", testRefreshRotateIntoTaken},
		{"revoke_family", testRefreshRevokeFamily},
		{"revoked_family_id_reused", testRefreshRevokedIDReused},
		{"revoke_subject", testRefreshRevokeSubject},
		{"odd_strings", testRefreshOddStrings},
		{"concurrent_rotation", testRefreshConcurrentRotation},
		{"concurrent_checks", testRefreshConcurrentChecks},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := NewClock(Start)
			s := newStore(t, c.Now)
			require.NotNil(t, s)
			tc.run(t, &refreshFixture{t: t, s: s, c: c})
		})
	}
}

// refreshFixture is a store under test with its clock.
type refreshFixture struct {
	t *testing.T
	s bearer.RefreshStore
	c *Clock
}

// refreshDigest returns the digest of the refresh token named name.
func refreshDigest(name string) middleware.TokenDigest {
	return middleware.DigestToken("refresh-" + name)
}

// family returns a family of subject created now, ending after life.
func (x *refreshFixture) family(id, subject string, life time.Duration) bearer.Family {
	now := x.c.Now()
	return bearer.Family{ID: id, Subject: subject, CreatedAt: now.Add(-time.Second), ExpiresAt: now.Add(life)}
}

// create stores f with its first token, living refreshTTL.
func (x *refreshFixture) create(f bearer.Family, first string) {
	x.t.Helper()
	require.NoError(x.t, x.s.Create(ctx, f, refreshDigest(first), x.c.Now().Add(refreshTTL)))
}

// rotation asks to exchange presented for next ("" checks only) in f, the
// next token living ttl.
func (x *refreshFixture) rotation(f bearer.Family, presented, next string, ttl time.Duration) bearer.Rotation {
	now := x.c.Now()
	r := bearer.Rotation{Presented: refreshDigest(presented), Family: f.ID, Subject: f.Subject, Now: now}
	if next != "" {
		r.Next, r.NextExpiresAt = refreshDigest(next), now.Add(ttl)
	}
	return r
}

// rotate exchanges presented for next in f and returns the error.
func (x *refreshFixture) rotate(f bearer.Family, presented, next string) error {
	got, err := x.s.Rotate(ctx, x.rotation(f, presented, next, refreshTTL))
	if err == nil {
		assertFamily(x.t, f, got)
	} else {
		assert.Equal(x.t, bearer.Family{}, got, "a failed Rotate returns the zero Family")
	}
	return err
}

// works requires that presented can be exchanged for next ("" checks
// only) in f.
func (x *refreshFixture) works(f bearer.Family, presented, next string) {
	x.t.Helper()
	require.NoError(x.t, x.rotate(f, presented, next), "rotating %q into %q", presented, next)
}

// invalid requires that presented is refused as ErrRefreshInvalid in f.
func (x *refreshFixture) invalid(f bearer.Family, presented string, msg string) {
	x.t.Helper()
	require.ErrorIs(x.t, x.rotate(f, presented, ""), bearer.ErrRefreshInvalid, msg)
	require.ErrorIs(x.t, x.rotate(f, presented, presented+"-next"), bearer.ErrRefreshInvalid, msg)
}

// reused requires that presented is refused as ErrRefreshReused in f,
// whether checked or rotated.
func (x *refreshFixture) reused(f bearer.Family, presented string, msg string) {
	x.t.Helper()
	require.ErrorIs(x.t, x.rotate(f, presented, ""), bearer.ErrRefreshReused, msg)
	require.ErrorIs(x.t, x.rotate(f, presented, presented+"-next"), bearer.ErrRefreshReused, msg)
}

// assertFamily checks that got is want: times compare with Equal (a store
// may change the location but must not round).
func assertFamily(t *testing.T, want, got bearer.Family) {
	t.Helper()
	assert.Equal(t, want.ID, got.ID, "ID")
	assert.Equal(t, want.Subject, got.Subject, "Subject")
	assertTime(t, want.CreatedAt, got.CreatedAt, "CreatedAt")
	assertTime(t, want.ExpiresAt, got.ExpiresAt, "ExpiresAt")
}

func testRefreshChain(t *testing.T, x *refreshFixture) {
	f := x.family("fam-1", "alice", familyLife)
	x.create(f, "t0")
	x.c.Advance(10 * time.Minute)
	x.works(f, "t0", "t1")
	x.c.Advance(10 * time.Minute)
	x.works(f, "t1", "t2")
	x.works(f, "t2", "") // the newest token is the live one
}

func testRefreshCheckOnly(t *testing.T, x *refreshFixture) {
	f := x.family("fam-1", "alice", familyLife)
	x.create(f, "t0")
	for range 3 {
		x.works(f, "t0", "") // a zero Next only checks: the token stays usable
	}
	x.works(f, "t0", "t1")
	x.works(f, "t1", "")
}

func testRefreshReuse(t *testing.T, x *refreshFixture) {
	f := x.family("fam-1", "alice", familyLife)
	x.create(f, "t0")
	x.works(f, "t0", "t1")
	x.works(f, "t1", "t2")
	x.c.Advance(time.Minute)
	require.ErrorIs(t, x.rotate(f, "t0", "stolen"), bearer.ErrRefreshReused, "a used token is detected")
	// The whole family is revoked: its live token and its used ones no
	// longer rotate, and each is a reuse again, so that a caller who could
	// not act on the first report (revoke the login) is told again.
	x.reused(f, "t2", "the family's live token died with it")
	x.reused(f, "t1", "a used token of the family")
	x.reused(f, "t0", "the reused token itself")
	x.invalid(f, "stolen", "the reuse stored nothing")
}

func testRefreshReuseWhenChecking(t *testing.T, x *refreshFixture) {
	f := x.family("fam-1", "alice", familyLife)
	x.create(f, "t0")
	x.works(f, "t0", "t1")
	require.ErrorIs(t, x.rotate(f, "t0", ""), bearer.ErrRefreshReused, "checking a used token is a reuse too")
	x.reused(f, "t1", "the family is revoked")
}

func testRefreshReuseSparesOthers(t *testing.T, x *refreshFixture) {
	a1 := x.family("fam-a1", "alice", familyLife)
	a2 := x.family("fam-a2", "alice", familyLife)
	b := x.family("fam-b", "bob", familyLife)
	x.create(a1, "a1")
	x.create(a2, "a2")
	x.create(b, "b")
	x.works(a1, "a1", "a1-next")
	require.ErrorIs(t, x.rotate(a1, "a1", ""), bearer.ErrRefreshReused)
	x.works(a2, "a2", "a2-next") // another login of the same user
	x.works(b, "b", "b-next")
}

// testRefreshReuseReportedAgain: a family revoked by a reuse answers every
// later presentation of its tokens as a reuse, until they expire or the
// family is revoked outright (by logout or RevokeSubject, which revoke the
// login's access tokens themselves).
func testRefreshReuseReportedAgain(t *testing.T, x *refreshFixture) {
	f := x.family("fam-1", "alice", familyLife)
	g := x.family("fam-2", "alice", familyLife)
	h := x.family("fam-3", "alice", familyLife)
	for _, fam := range []bearer.Family{f, g, h} {
		x.create(fam, fam.ID+"-t0")
		x.works(fam, fam.ID+"-t0", fam.ID+"-t1")
		require.ErrorIs(t, x.rotate(fam, fam.ID+"-t0", ""), bearer.ErrRefreshReused)
	}
	for range 3 {
		x.reused(f, "fam-1-t1", "the live token, presented again and again")
	}
	require.NoError(t, x.s.RevokeFamily(ctx, g.ID))
	x.invalid(g, "fam-2-t1", "revoked outright: invalid")
	x.invalid(g, "fam-2-t0", "revoked outright: invalid")
	require.NoError(t, x.s.RevokeSubject(ctx, h.Subject))
	x.invalid(h, "fam-3-t1", "revoked with its subject: invalid")
	x.c.Advance(refreshTTL)
	x.invalid(f, "fam-1-t1", "expired: invalid, not a reuse")
	x.invalid(f, "fam-1-t0", "expired: invalid, not a reuse")
}

// testRefreshRotationRunAgain: the same Rotation (same Next) run again,
// after its answer was lost, is answered as its first run was, and is not a
// reuse; any other presentation of the used token still is.
func testRefreshRotationRunAgain(t *testing.T, x *refreshFixture) {
	f := x.family("fam-1", "alice", familyLife)
	x.create(f, "t0")
	r := x.rotation(f, "t0", "t1", refreshTTL)
	for i := range 2 {
		got, err := x.s.Rotate(ctx, r)
		require.NoError(t, err, "run %d", i+1)
		assertFamily(t, f, got)
	}
	x.works(f, "t1", "t2")
	got, err := x.s.Rotate(ctx, r)
	require.NoError(t, err, "run again after its successor rotated")
	assertFamily(t, f, got)
	require.ErrorIs(t, x.rotate(f, "t0", "t1-other"), bearer.ErrRefreshReused, "another Next is a reuse")
	_, err = x.s.Rotate(ctx, r)
	require.ErrorIs(t, err, bearer.ErrRefreshReused, "once a reuse revoked the family, so is the run again")
}

func testRefreshUnknown(t *testing.T, x *refreshFixture) {
	f := x.family("fam-1", "alice", familyLife)
	x.invalid(f, "never-issued", "no family at all")
	x.create(f, "t0")
	x.invalid(f, "never-issued", "an unknown token of a known family")
	_, err := x.s.Rotate(ctx, bearer.Rotation{Family: f.ID, Subject: f.Subject, Now: x.c.Now()})
	require.ErrorIs(t, err, bearer.ErrRefreshInvalid, "the zero digest")
	x.works(f, "t0", "t1") // none of that touched the family
}

func testRefreshWrongFamilyOrSubject(t *testing.T, x *refreshFixture) {
	f := x.family("fam-1", "alice", familyLife)
	other := x.family("fam-2", "bob", familyLife)
	x.create(f, "t0")
	x.create(other, "o0")
	for name, wrong := range map[string]bearer.Family{
		"another family":                  {ID: "fam-2", Subject: "alice"},
		"another subject":                 {ID: "fam-1", Subject: "bob"},
		"another family and subject":      other,
		"a family id that is a prefix":    {ID: "fam-", Subject: "alice"},
		"a subject differing in case":     {ID: "fam-1", Subject: "Alice"},
		"an empty family":                 {Subject: "alice"},
		"an empty subject":                {ID: "fam-1"},
		"a subject with a trailing space": {ID: "fam-1", Subject: "alice "},
	} {
		x.invalid(wrong, "t0", name)
	}
	x.works(f, "t0", "t1") // nothing changed: the token was not used up
	x.works(other, "o0", "o1")
}

func testRefreshUsedWrongFamily(t *testing.T, x *refreshFixture) {
	f := x.family("fam-1", "alice", familyLife)
	x.create(f, "t0")
	x.works(f, "t0", "t1")
	// A used token presented under another login or user is invalid, and
	// nothing changes: it does not revoke the family it belongs to.
	x.invalid(bearer.Family{ID: "fam-2", Subject: "alice"}, "t0", "another family")
	x.invalid(bearer.Family{ID: "fam-1", Subject: "mallory"}, "t0", "another subject")
	x.works(f, "t1", "t2")
}

func testRefreshTokenExpiry(t *testing.T, x *refreshFixture) {
	f := x.family("fam-1", "alice", familyLife)
	x.create(f, "t0") // expires at Start + 1h
	x.c.Advance(30 * time.Minute)
	x.works(f, "t0", "t1") // t1 expires at Start + 1h30
	x.c.Advance(30*time.Minute - time.Nanosecond)
	require.ErrorIs(t, x.rotate(f, "t0", ""), bearer.ErrRefreshReused, "a used token is kept until it expires")
	// That reuse revoked the family; start again to see t0 expire.
	g := x.family("fam-2", "alice", familyLife)
	x.create(g, "g0") // expires at now + 1h
	x.works(g, "g0", "g1")
	x.c.Advance(refreshTTL - time.Nanosecond)
	x.works(g, "g1", "")
	x.c.Advance(time.Nanosecond)
	x.invalid(g, "g0", "an expired used token is invalid, not a reuse")
	x.invalid(g, "g1", "expired at its own expiry")
}

func testRefreshNextExpiry(t *testing.T, x *refreshFixture) {
	f := x.family("fam-1", "alice", familyLife)
	x.create(f, "t0")
	_, err := x.s.Rotate(ctx, x.rotation(f, "t0", "t1", 10*time.Minute))
	require.NoError(t, err)
	x.c.Advance(10*time.Minute - time.Nanosecond)
	x.works(f, "t1", "")
	x.c.Advance(time.Nanosecond)
	x.invalid(f, "t1", "Next expires at NextExpiresAt")
}

func testRefreshFamilyExpiry(t *testing.T, x *refreshFixture) {
	f := x.family("fam-1", "alice", 90*time.Minute)
	x.create(f, "t0")
	x.c.Advance(50 * time.Minute)
	// NextExpiresAt (now + 1h) is past the family's end: capped to it.
	x.works(f, "t0", "t1")
	x.c.Advance(40*time.Minute - time.Nanosecond)
	x.works(f, "t1", "")
	x.c.Advance(time.Nanosecond)
	x.invalid(f, "t1", "no token works from the family's ExpiresAt on")
	x.invalid(f, "t0", "nor a used one (no reuse after the end)")
}

func testRefreshDecidedAtNow(t *testing.T, x *refreshFixture) {
	f := x.family("fam-1", "alice", familyLife)
	x.create(f, "t0")
	// The request read its clock (Rotation.Now) just before t0 expired;
	// the store's own clock has moved past that since. The rotation is
	// decided at Rotation.Now, and what it stores is an ordinary member of
	// the family.
	asked := x.c.Now().Add(refreshTTL - time.Microsecond)
	x.c.Advance(refreshTTL)
	r := bearer.Rotation{Presented: refreshDigest("t0"), Family: f.ID, Subject: f.Subject, Now: asked,
		Next: refreshDigest("t1"), NextExpiresAt: asked.Add(refreshTTL)}
	got, err := x.s.Rotate(ctx, r)
	require.NoError(t, err, "t0 is live at Rotation.Now")
	assertFamily(t, f, got)
	x.works(f, "t1", "")
	require.NoError(t, x.s.RevokeFamily(ctx, f.ID))
	x.invalid(f, "t1", "the token of that rotation dies with its family")
}

func testRefreshFirstCapped(t *testing.T, x *refreshFixture) {
	f := x.family("fam-1", "alice", 20*time.Minute)
	x.create(f, "t0") // asks for 1h, capped at 20 min
	x.c.Advance(20*time.Minute - time.Nanosecond)
	x.works(f, "t0", "")
	x.c.Advance(time.Nanosecond)
	x.invalid(f, "t0", "the first token expires with the family")
}

func testRefreshCreateRejects(t *testing.T, x *refreshFixture) {
	until := x.c.Now().Add(refreshTTL)
	require.Error(t, x.s.Create(ctx, x.family("", "alice", familyLife), refreshDigest("a"), until), "empty id")
	require.Error(t, x.s.Create(ctx, x.family("fam-1", "", familyLife), refreshDigest("a"), until), "empty subject")
	x.invalid(bearer.Family{ID: "", Subject: "alice"}, "a", "nothing was stored")

	f := x.family("fam-1", "alice", familyLife)
	x.create(f, "t0")
	// A live family's id or token cannot be taken over by another login.
	err := x.s.Create(ctx, x.family("fam-1", "mallory", familyLife), refreshDigest("m0"), until)
	require.Error(t, err, "duplicate family id")
	x.invalid(bearer.Family{ID: "fam-1", Subject: "mallory"}, "m0", "the duplicate stored nothing")
	err = x.s.Create(ctx, x.family("fam-2", "mallory", familyLife), refreshDigest("t0"), until)
	require.Error(t, err, "duplicate token")
	x.invalid(bearer.Family{ID: "fam-2", Subject: "mallory"}, "t0", "the token stays in its family")
	x.works(f, "t0", "t1")
}

func testRefreshRotateIntoTaken(t *testing.T, x *refreshFixture) {
	f := x.family("fam-1", "alice", familyLife)
	g := x.family("fam-2", "bob", familyLife)
	x.create(f, "t0")
	x.create(g, "g0")
	err := x.rotate(f, "t0", "g0")
	require.Error(t, err, "Next is another family's token")
	require.NotErrorIs(t, err, bearer.ErrRefreshReused)
	x.works(g, "g0", "") // g0 still belongs to bob's family alone
	x.invalid(f, "g0", "and not to alice's")
	require.Error(t, x.rotate(f, "t0", "t0"), "Next is the presented token")
	x.works(f, "t0", "t1") // a failed rotation does not use the token up
}

func testRefreshRevokeFamily(t *testing.T, x *refreshFixture) {
	f := x.family("fam-1", "alice", familyLife)
	g := x.family("fam-2", "alice", familyLife)
	x.create(f, "t0")
	x.create(g, "g0")
	x.works(f, "t0", "t1")
	require.NoError(t, x.s.RevokeFamily(ctx, f.ID))
	x.invalid(f, "t1", "the live token")
	x.invalid(f, "t0", "a used token: invalid, not a reuse")
	x.works(g, "g0", "g1") // the user's other login
	require.NoError(t, x.s.RevokeFamily(ctx, f.ID), "twice")
	require.NoError(t, x.s.RevokeFamily(ctx, "unknown"), "unknown id")
	require.NoError(t, x.s.RevokeFamily(ctx, ""), "empty id")
	x.works(g, "g1", "")
}

func testRefreshRevokedIDReused(t *testing.T, x *refreshFixture) {
	f := x.family("fam-1", "alice", familyLife)
	x.create(f, "t0")
	x.works(f, "t0", "t1")
	require.NoError(t, x.s.RevokeFamily(ctx, f.ID))
	// A new family under the revoked id does not bring its tokens back.
	again := x.family("fam-1", "alice", familyLife)
	x.create(again, "n0")
	x.invalid(again, "t1", "the revoked family's live token")
	x.invalid(again, "t0", "the revoked family's used token")
	x.works(again, "n0", "n1")
}

func testRefreshRevokeSubject(t *testing.T, x *refreshFixture) {
	families := map[string]bearer.Family{}
	for i, subject := range []string{"alice", "alice", "bob", "alice:x", "Alice", "alic"} {
		id := fmt.Sprint("fam-", i)
		families[id] = x.family(id, subject, familyLife)
		x.create(families[id], id)
	}
	x.works(families["fam-0"], "fam-0", "fam-0-next") // rotated tokens belong to the subject too
	require.NoError(t, x.s.RevokeSubject(ctx, "alice"))
	x.invalid(families["fam-0"], "fam-0-next", "alice's rotated login")
	x.invalid(families["fam-0"], "fam-0", "alice's used token")
	x.invalid(families["fam-1"], "fam-1", "alice's other login")
	for _, id := range []string{"fam-2", "fam-3", "fam-4", "fam-5"} {
		x.works(families[id], id, "") // other subjects, however alike
	}
	require.NoError(t, x.s.RevokeSubject(ctx, "alice"), "twice")
	require.NoError(t, x.s.RevokeSubject(ctx, "nobody"), "a subject without families")
	after := x.family("fam-after", "alice", familyLife)
	x.create(after, "after")
	x.works(after, "after", "after-next") // a new login works
}

func testRefreshOddStrings(t *testing.T, x *refreshFixture) {
	f := x.family("ïd:with {braces} *and* \x00 \"quotes\"", "sübject:x \n", familyLife)
	x.create(f, "t0")
	x.works(f, "t0", "t1")
	require.NoError(t, x.s.RevokeSubject(ctx, "sübject:x"), "a prefix of the subject is another subject")
	x.works(f, "t1", "")
	require.NoError(t, x.s.RevokeFamily(ctx, "ïd:with {braces}"), "a prefix of the id is another id")
	x.works(f, "t1", "")
	require.NoError(t, x.s.RevokeSubject(ctx, f.Subject))
	x.invalid(f, "t1", "revoked with its subject")
}

// rotateAll presents the same token from racers goroutines at once, each
// asking for a Next of its own ("" for none), and returns their errors.
func (x *refreshFixture) rotateAll(f bearer.Family, presented string, rotate bool) []error {
	errs := make([]error, racers)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range racers {
		r := x.rotation(f, presented, "", 0)
		if rotate {
			r = x.rotation(f, presented, fmt.Sprint("racer-", i), refreshTTL)
		}
		wg.Go(func() {
			<-start
			_, errs[i] = x.s.Rotate(ctx, r)
		})
	}
	close(start)
	wg.Wait()
	return errs
}

func testRefreshConcurrentRotation(t *testing.T, x *refreshFixture) {
	f := x.family("fam-1", "alice", familyLife)
	bystander := x.family("fam-2", "alice", familyLife)
	x.create(f, "t0")
	x.create(bystander, "b0")
	var won, reused, invalid int
	for _, err := range x.rotateAll(f, "t0", true) {
		switch {
		case err == nil:
			won++
		case errors.Is(err, bearer.ErrRefreshReused):
			reused++
		case errors.Is(err, bearer.ErrRefreshInvalid):
			invalid++
		default:
			t.Errorf("unexpected error %v", err)
		}
	}
	// One rotation wins; the first one after it finds the token used and
	// revokes the family; the rest find it revoked by a reuse, a reuse too.
	assert.Equal(t, 1, won, "exactly one rotation of the same token succeeds")
	assert.Equal(t, racers-1, reused, "every loser is a reuse")
	assert.Zero(t, invalid)
	reused, invalid = 0, 0
	for i := range racers {
		switch err := x.rotate(f, fmt.Sprint("racer-", i), ""); {
		case errors.Is(err, bearer.ErrRefreshReused):
			reused++
		case errors.Is(err, bearer.ErrRefreshInvalid):
			invalid++
		default:
			t.Errorf("racer %d's token: %v", i, err)
		}
	}
	assert.Equal(t, 1, reused, "the winner's token died with the family, a reuse")
	assert.Equal(t, racers-1, invalid, "the losers' tokens were never stored")
	x.works(bystander, "b0", "b1")
}

func testRefreshConcurrentChecks(t *testing.T, x *refreshFixture) {
	f := x.family("fam-1", "alice", familyLife)
	x.create(f, "t0")
	for i, err := range x.rotateAll(f, "t0", false) {
		require.NoError(t, err, "check %d: checking never uses a token up", i)
	}
	x.works(f, "t0", "t1")
}
