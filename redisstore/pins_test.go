package redisstore_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tidegate/tidegate/bearer"
	"github.com/tidegate/tidegate/internal/redistest"
	"github.com/tidegate/tidegate/middleware"
	"github.com/tidegate/tidegate/redisstore"
)

// TestRotationRunAgainAfterItsTokenIsGoneIsAReuse: a rotation run again with
// the same Next answers as its first run only while the token it stored is
// still there. Once that token's key is gone (Redis expired it), the
// presented token is a used one like any other: a reuse.
func TestRotationRunAgainAfterItsTokenIsGoneIsAReuse(t *testing.T) {
	tg := redistest.Shared(t)
	now := time.Now()
	s := newRefreshStore(t, tg.Client, redisstore.WithPrefix(tg.Prefix), redisstore.WithClock(func() time.Time { return now }))
	f := bearer.Family{ID: "fam", Subject: "alice", CreatedAt: now, ExpiresAt: now.Add(24 * time.Hour)}
	t0, t1 := middleware.DigestToken("t0"), middleware.DigestToken("t1")
	require.NoError(t, s.Create(ctx, f, t0, now.Add(8*time.Hour)))
	rot := bearer.Rotation{Presented: t0, Family: "fam", Subject: "alice", Next: t1, NextExpiresAt: now.Add(8 * time.Hour), Now: now}
	_, err := s.Rotate(ctx, rot)
	require.NoError(t, err)
	_, err = s.Rotate(ctx, rot)
	require.NoError(t, err, "the same rotation run again answers as its first run")

	require.NoError(t, tg.Client.Del(ctx, tg.Prefix+"refresh:token:"+hexOf(t1)).Err())
	_, err = s.Rotate(ctx, rot)
	require.ErrorIs(t, err, bearer.ErrRefreshReused, "its token gone, the run again is a reuse")
}

func hexOf(d middleware.TokenDigest) string {
	const digits = "0123456789abcdef"
	b := make([]byte, 0, 2*len(d))
	for _, c := range d {
		b = append(b, digits[c>>4], digits[c&15])
	}
	return string(b)
}
