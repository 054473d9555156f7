package redisstore

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/tidegate/tidegate/middleware"
)

// Times are stored as "<unix seconds>.<nanoseconds, 9 digits>": exact to
// the nanosecond (a store must not round expiry), and exactly comparable in
// Lua, whose numbers are doubles (Unix nanoseconds would lose precision
// above 2^53). The zero time is the empty string.

// appendTime appends the encoding of t to b.
func appendTime(b []byte, t time.Time) []byte {
	if t.IsZero() {
		return b
	}
	b = strconv.AppendInt(b, t.Unix(), 10)
	b = append(b, '.')
	ns := t.Nanosecond()
	for div := 100_000_000; div > 0; div /= 10 {
		b = append(b, byte('0'+ns/div%10))
	}
	return b
}

func encodeTime(t time.Time) string { return string(appendTime(make([]byte, 0, 24), t)) }

var errBadTime = errors.New("redisstore: malformed time")

// The seconds decodeTime accepts: year 1 to year 9999, as time.Time and
// encoding/json handle them.
const (
	minUnix = -62135596800
	maxUnix = 253402300799
)

// decodeTime reverses encodeTime, strictly: only what encodeTime writes is
// accepted, so every record has one form.
func decodeTime(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	dot := strings.IndexByte(s, '.')
	if dot < 0 || len(s)-dot-1 != 9 || !canonicalInt(s[:dot]) || !allDigits(s[dot+1:]) {
		return time.Time{}, errBadTime
	}
	sec, err := strconv.ParseInt(s[:dot], 10, 64)
	if err != nil || sec < minUnix || sec > maxUnix {
		return time.Time{}, errBadTime
	}
	ns, _ := strconv.Atoi(s[dot+1:])
	t := time.Unix(sec, int64(ns))
	if t.IsZero() {
		return time.Time{}, errBadTime // the zero time is ""
	}
	return t, nil
}

// canonicalInt reports whether s is an integer as strconv.FormatInt writes
// it: an optional '-', then digits without a leading zero ("0" alone).
func canonicalInt(s string) bool {
	digits := strings.TrimPrefix(s, "-")
	if !allDigits(digits) || (len(digits) > 1 && digits[0] == '0') {
		return false
	}
	return digits != "0" || len(s) == 1
}

func allDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// Roles are stored as "<length>:<role>" for each role, one after the
// other: exact for any string, and decoded without copying the roles.

// encodeRoles returns the encoding of roles ("" for none).
func encodeRoles(roles []string) string {
	var b []byte
	for _, r := range roles {
		b = strconv.AppendInt(b, int64(len(r)), 10)
		b = append(b, ':')
		b = append(b, r...)
	}
	return string(b)
}

// decodeRoles reverses encodeRoles; the roles share s's memory.
func decodeRoles(s string) ([]string, bool) {
	if s == "" {
		return nil, true
	}
	n := 0
	for rest := s; rest != ""; n++ {
		role, next, ok := cutRole(rest)
		if !ok {
			return nil, false
		}
		_, rest = role, next
	}
	roles := make([]string, 0, n)
	for rest := s; rest != ""; {
		var role string
		role, rest, _ = cutRole(rest)
		roles = append(roles, role)
	}
	return roles, true
}

// cutRole splits the first "<length>:<role>" off s.
func cutRole(s string) (role, rest string, ok bool) {
	colon := strings.IndexByte(s, ':')
	if colon < 1 || colon > 10 || s[0] == '-' || !canonicalInt(s[:colon]) {
		return "", "", false
	}
	n, err := strconv.Atoi(s[:colon])
	if err != nil || n > len(s)-colon-1 {
		return "", "", false
	}
	end := colon + 1 + n
	return s[colon+1 : end], s[end:], true
}

// maxKeyTTL is the longest TTL any key gets: a session or revocation "for
// ever" (until the year 9999, say) is kept this long. time.Duration
// saturates at 292 years, and adding the clock slack to a saturated
// duration wrapped it negative: nothing was stored, and nil returned.
const maxKeyTTL = 100 * 365 * 24 * time.Hour

// ttlMillis returns d in whole milliseconds, rounded up, for PEXPIRE: a
// key never expires in Redis before its session does. d is capped at
// maxKeyTTL, so that no arithmetic on it overflows.
func ttlMillis(d time.Duration) int64 {
	if d <= 0 {
		return 0
	}
	d = min(d, maxKeyTTL)
	return int64((d + time.Millisecond - 1) / time.Millisecond)
}

// ceilMillis returns t in Unix milliseconds, rounded up.
func ceilMillis(t time.Time) int64 {
	ms := t.UnixMilli()
	if t.Sub(time.UnixMilli(ms)) > 0 {
		ms++
	}
	return ms
}

// hexDigest returns the digest in lowercase hex without allocating more
// than the result.
func hexDigest(d middleware.TokenDigest) string { return hex.EncodeToString(d[:]) }

// decodeDigest reverses hexDigest. It refuses anything but exactly 64 hex
// digits before decoding: hex.Decode writes past a destination too short
// for its input.
func decodeDigest(s string) (middleware.TokenDigest, bool) {
	var d middleware.TokenDigest
	if len(s) != hex.EncodedLen(len(d)) {
		return d, false
	}
	_, err := hex.Decode(d[:], []byte(s))
	return d, err == nil
}

// counterKey returns the Redis key of a limiter counter: the SHA-256 of the
// middleware.LimiterKeys key, so that no account name as typed (perhaps a
// password typed in the wrong field) and no client address is stored.
func counterKey(prefix, key string) string {
	sum := sha256.Sum256([]byte(key))
	return prefix + "limit:" + hex.EncodeToString(sum[:])
}

// checkClient rejects clients the stores cannot work with.
func checkClient(client redis.UniversalClient) error {
	switch c := client.(type) {
	case nil:
		return errors.New("redisstore: nil client")
	case *redis.Client:
		if c == nil {
			return errors.New("redisstore: nil client")
		}
	case *redis.ClusterClient, *redis.Ring:
		// The scripts touch keys that live in different hash slots (a
		// session, its subject index, the sessions in that index).
		return fmt.Errorf("redisstore: %T is not supported: use a single Redis (a *redis.Client, or a failover client with Sentinel)", client)
	}
	return nil
}

// wrap marks a Redis failure with the operation that met it. The kinds map
// any error but ErrSessionNotFound to middleware.Unavailable (503).
func wrap(op string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("redisstore: %s: %w", op, err)
}

// notBuilt is the error of a method called on a value its constructor did
// not make (a zero value of typ, or nil): a 500, never a panic at request
// time.
func notBuilt(typ string) error {
	return middleware.Internal(typ + " not built by its constructor")
}
