package redisstore_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tidegate/tidegate/bearer"
	"github.com/tidegate/tidegate/internal/redistest"
	"github.com/tidegate/tidegate/internal/storetest"
	"github.com/tidegate/tidegate/middleware"
	"github.com/tidegate/tidegate/redisstore"
)

// TestReuseMarkDoesNotOutliveTheFamily: a reuse repeated with the same Next
// (go-redis sending the script again) answers reused, but only while the
// token still counts: once its family is revoked (RevokeFamily,
// RevokeSubject), the token expired, or the rotation names another
// subject, it is ErrRefreshInvalid, as bearer.RefreshStore orders the
// checks and the memory store answers. The Redis script read the reuse
// mark first, and answered reused in all four cases.
func TestReuseMarkDoesNotOutliveTheFamily(t *testing.T) {
	cases := map[string]func(t *testing.T, s bearer.RefreshStore, clock *storetest.Clock, r *bearer.Rotation){
		"after RevokeFamily": func(t *testing.T, s bearer.RefreshStore, _ *storetest.Clock, r *bearer.Rotation) {
			require.NoError(t, s.RevokeFamily(ctx, "fam"))
		},
		"after RevokeSubject": func(t *testing.T, s bearer.RefreshStore, _ *storetest.Clock, r *bearer.Rotation) {
			require.NoError(t, s.RevokeSubject(ctx, "alice"))
		},
		"token expired": func(t *testing.T, s bearer.RefreshStore, clock *storetest.Clock, r *bearer.Rotation) {
			clock.Advance(2 * time.Hour) // past the token's end, before the family's
			r.Now = clock.Now()
		},
		"another subject": func(t *testing.T, s bearer.RefreshStore, _ *storetest.Clock, r *bearer.Rotation) {
			r.Subject = "mallory"
		},
	}
	stores := map[string]func(t *testing.T, now func() time.Time) bearer.RefreshStore{
		"memory": func(t *testing.T, now func() time.Time) bearer.RefreshStore {
			s, err := bearer.NewMemoryRefreshStore(bearer.WithStoreClock(now))
			require.NoError(t, err)
			return s
		},
		"redis": func(t *testing.T, now func() time.Time) bearer.RefreshStore {
			tg := redistest.Shared(t)
			s, err := redisstore.NewRefreshStore(tg.Client, redisstore.WithPrefix(tg.Prefix), redisstore.WithClock(now))
			require.NoError(t, err)
			return s
		},
	}
	for sname, newStore := range stores {
		for cname, between := range cases {
			t.Run(sname+"/"+cname, func(t *testing.T) {
				clock := storetest.NewClock(storetest.Start)
				s := newStore(t, clock.Now)
				now := clock.Now()
				a, b, c := middleware.DigestToken("a"), middleware.DigestToken("b"), middleware.DigestToken("c")
				fam := bearer.Family{ID: "fam", Subject: "alice", CreatedAt: now, ExpiresAt: now.Add(8 * time.Hour)}
				require.NoError(t, s.Create(ctx, fam, a, now.Add(time.Hour)))
				rot := bearer.Rotation{Presented: a, Family: "fam", Subject: "alice", Next: b, NextExpiresAt: now.Add(time.Hour), Now: now}
				_, err := s.Rotate(ctx, rot)
				require.NoError(t, err)
				rot.Next = c // a presented again: a reuse
				_, err = s.Rotate(ctx, rot)
				require.ErrorIs(t, err, bearer.ErrRefreshReused)

				between(t, s, clock, &rot)
				_, err = s.Rotate(ctx, rot)
				require.ErrorIs(t, err, bearer.ErrRefreshInvalid)
			})
		}
	}
}
