package redisstore

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/tidegate/tidegate/middleware"
)

func TestTimeEncoding(t *testing.T) {
	cases := map[string]time.Time{
		"":                       {},
		"0.000000000":            time.Unix(0, 0),
		"1935817629.123456789":   time.Unix(1935817629, 123456789),
		"-1.500000000":           time.Unix(-1, 500000000),
		"-62135596800.000000001": time.Unix(-62135596800, 1),
		"253402300799.999999999": time.Unix(253402300799, 999999999),
	}
	for enc, tm := range cases {
		assert.Equal(t, enc, encodeTime(tm))
		got, err := decodeTime(enc)
		require.NoError(t, err, enc)
		assert.True(t, tm.Equal(got), enc)
		assert.Equal(t, tm.IsZero(), got.IsZero(), enc)
	}
	for _, bad := range []string{".", "1", "1.", ".000000000", "1.5", "1.0000000000", "x.000000000", "1.00000000x", "1.-00000001", "1.+00000001"} {
		_, err := decodeTime(bad)
		assert.Error(t, err, bad)
	}
}

func TestRolesEncoding(t *testing.T) {
	cases := map[string][]string{
		"":           {},
		"5:admin":    {"admin"},
		"0:":         {""},
		"3:a:b1:,0:": {"a:b", ",", ""},
		"2:ø":        {"ø"},
		"4:1:ab":     {"1:ab"},
	}
	for enc, roles := range cases {
		assert.Equal(t, enc, encodeRoles(roles))
		got, ok := decodeRoles(enc)
		require.True(t, ok, enc)
		assert.Equal(t, len(roles), len(got))
		for i := range roles {
			assert.Equal(t, roles[i], got[i])
		}
	}
	for _, bad := range []string{":", "5:abc", "x:a", "-1:", "1", "1:ab", ":a", "99999999999:a", "01:a", "+1:a", "-0:"} {
		_, ok := decodeRoles(bad)
		assert.False(t, ok, bad)
	}
}

func TestTTLMillisRoundsUp(t *testing.T) {
	assert.Zero(t, ttlMillis(0))
	assert.Zero(t, ttlMillis(-time.Second))
	assert.EqualValues(t, 1, ttlMillis(time.Nanosecond))
	assert.EqualValues(t, 1000, ttlMillis(time.Second))
	assert.EqualValues(t, 1001, ttlMillis(time.Second+1))
	assert.EqualValues(t, 1500, ceilMillis(time.Unix(1, 499_000_001)))
	assert.EqualValues(t, 1499, ceilMillis(time.Unix(1, 499_000_000)))
}

// FuzzDecodeRoles: records in Redis are decoded without panicking, and
// whatever decodes re-encodes to the same bytes (the encoding has one form).
func FuzzDecodeRoles(f *testing.F) {
	for _, s := range []string{"", "5:admin", "0:", "3:a:b1:,0:", "1:", "x", "2:ø"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		roles, ok := decodeRoles(s)
		if !ok {
			return
		}
		if enc := encodeRoles(roles); enc != s {
			t.Fatalf("decode(%q) = %q, encodes to %q", s, roles, enc)
		}
	})
}

// FuzzDecodeTime: times in Redis are decoded without panicking, and
// whatever decodes re-encodes to the same bytes.
func FuzzDecodeTime(f *testing.F) {
	for _, s := range []string{"", "0.000000000", "1935817629.123456789", "-1.500000000", "1.5"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		tm, err := decodeTime(s)
		if err != nil {
			return
		}
		if enc := encodeTime(tm); enc != s {
			t.Fatalf("decode(%q) = %v, encodes to %q", s, tm, enc)
		}
	})
}

// TestSessionRecordPredecessor: a record keeps its predecessor's digest as
// hex; a record written before the field existed has none (HMGET answers
// nil) and decodes with a zero Predecessor; anything but 64 hex digits is a
// corrupt record, never a digest made up of it.
func TestSessionRecordPredecessor(t *testing.T) {
	record := func(prev any) []any {
		return []any{"u1", "user", "", "", encodeTime(time.Unix(1, 0)), encodeTime(time.Unix(2, 0)), "", prev}
	}
	d := middleware.DigestToken("token")
	sess, found, err := decodeSession(record(encodePredecessor(d)))
	require.NoError(t, err)
	require.True(t, found)
	assert.Equal(t, d, sess.Predecessor)
	for name, prev := range map[string]any{"older record": nil, "none": encodePredecessor(middleware.TokenDigest{})} {
		sess, found, err = decodeSession(record(prev))
		require.NoError(t, err, name)
		require.True(t, found, name)
		assert.Zero(t, sess.Predecessor, name)
	}
	for _, bad := range []string{"abc", hexDigest(d)[:62], hexDigest(d) + "00", "zz" + hexDigest(d)[2:]} {
		_, _, err = decodeSession(record(bad))
		assert.ErrorIs(t, err, errCorrupt, bad)
	}
}
