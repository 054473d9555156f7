package redisstore

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tidegate/tidegate/basicauth"
	"github.com/tidegate/tidegate/bearer"
	"github.com/tidegate/tidegate/middleware"
)

// The targets below fuzz what the Redis stores read back from Redis: data
// another replica (perhaps an older or a buggy one), an operator or an
// attacker with write access to Redis may have left there. None of them
// talks to Redis: the decoders are called directly, and where the decoding
// sits inside a store method (Revoked, AppRegistry.Lookup) a replyClient
// hands the method the reply under test.

// fuzzTime maps a fuzzed int64 to a time the stores may write: 0 is the
// zero time, anything else Unix nanoseconds.
func fuzzTime(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n)
}

// isHexDigest is an oracle for decodeDigest: exactly 64 hex digits, of
// either case.
func isHexDigest(s string) bool {
	if len(s) != 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') && (c < 'A' || c > 'F') {
			return false
		}
	}
	return true
}

// requireSameSession fails unless got holds want's values (times as
// instants, nil and empty roles alike).
func requireSameSession(t *testing.T, want, got middleware.Session) {
	t.Helper()
	require.Equal(t, want.Subject, got.Subject)
	require.Equal(t, want.Actor, got.Actor)
	require.Equal(t, want.App, got.App)
	require.Equal(t, len(want.Roles), len(got.Roles))
	for i := range want.Roles {
		require.Equal(t, want.Roles[i], got.Roles[i])
	}
	for _, tm := range [][2]time.Time{
		{want.IssuedAt, got.IssuedAt},
		{want.ExpiresAt, got.ExpiresAt},
		{want.AbsoluteExpiresAt, got.AbsoluteExpiresAt},
	} {
		require.True(t, tm[0].Equal(tm[1]), "%v != %v", tm[0], tm[1])
		require.Equal(t, tm[0].IsZero(), tm[1].IsZero())
	}
	require.Equal(t, want.Predecessor, got.Predecessor)
}

// recordFields returns the hash fields the session scripts store for sess
// (the put arguments from "sub" to "prev", in hmgetFields order).
func recordFields(sess middleware.Session) []any {
	args := (&SessionStore{}).putArgs(hexDigest(middleware.TokenDigest{1}), sess, time.Unix(0, 0))
	return args[5 : 5+len(hmgetFields)]
}

// FuzzDecodeSession: a session hash read back with HMGET (any strings, any
// field missing, a reply of the wrong length or with a value of the wrong
// type) is decoded without panicking into exactly one of: not found (when
// "exp" is missing: no such key), errCorrupt with a zero session (any other
// field missing but "prev", which older records lack), or a session
// whose every field is what the record holds in its one canonical form:
// encoding the session again gives back the record's strings (the
// predecessor up to hex case). A corrupt record is never half read.
func FuzzDecodeSession(f *testing.F) {
	d := hexDigest(middleware.DigestToken("token"))
	f.Add("u1", "user", "", "5:admin", "1.000000000", "2.000000000", "", d, uint8(0), uint8(0))
	f.Add("u1", "user", "app", "", "", "", "", "", uint8(1<<expField), uint8(0))
	f.Add("u1", "user", "", "", "1.5", "2.000000000", "", "", uint8(0), uint8(0))
	f.Add("u1", "user", "", "9:a", "1.000000000", "2.000000000", "", "", uint8(0), uint8(0))
	f.Add("u1", "user", "", "", "1.000000000", "2.000000000", "", d[:63], uint8(0), uint8(0))
	f.Add("u1", "user", "", "", "1.000000000", "2.000000000", "", "", uint8(1<<7), uint8(1))
	f.Add("u1", "user", "", "", "1.000000000", "2.000000000", "", "", uint8(0), uint8(3))
	f.Add("u1", "user", "app-1", "", "1.000000000", "2.000000000", "", "", uint8(1<<2), uint8(0)) // no "app"
	f.Add("u1", "user", "", "", "1.000000000", "2.000000000", "", "", uint8(1<<7), uint8(0))      // no "prev": an older record
	f.Fuzz(func(t *testing.T, sub, act, app, roles, iat, exp, abs, prev string, nils, shape uint8) {
		strs := []string{sub, act, app, roles, iat, exp, abs, prev}
		vals := make([]any, len(strs))
		for i, s := range strs {
			if nils&(1<<i) != 0 {
				vals[i] = nil
			} else {
				vals[i] = s
			}
		}
		switch shape % 4 {
		case 1: // a field short
			vals = vals[:len(vals)-1]
		case 2: // a field too many
			vals = append(vals, "x")
		case 3: // a value no HMGET answers
			vals[int(shape/4)%len(vals)] = int64(1)
		}

		sess, found, err := decodeSession(vals)

		// The expected outcome, from the reply's shape alone.
		want := "found"
		switch {
		case len(vals) != len(hmgetFields):
			want = "corrupt"
		case vals[expField] == nil: // HMGET of a key that does not exist
			want = "missing"
		default:
			for i, v := range vals {
				if _, ok := v.(int64); ok || (v == nil && i != prevField) {
					want = "corrupt" // only "prev" may be missing: older records lack it
				}
			}
		}
		str := func(i int) string { s, _ := vals[i].(string); return s }
		if want == "found" {
			_, rolesOK := decodeRoles(str(3))
			_, err4 := decodeTime(str(4))
			_, err5 := decodeTime(str(5))
			_, err6 := decodeTime(str(6))
			prevOK := str(7) == "" || isHexDigest(str(7))
			if !rolesOK || err4 != nil || err5 != nil || err6 != nil || !prevOK {
				want = "corrupt"
			}
		}

		switch want {
		case "corrupt":
			require.ErrorIs(t, err, errCorrupt)
			require.False(t, found)
			require.Zero(t, sess)
			return
		case "missing":
			require.NoError(t, err)
			require.False(t, found)
			require.Zero(t, sess)
			return
		}
		require.NoError(t, err)
		require.True(t, found)

		// Every field is the record's, in its canonical form: written back
		// by the store's own encoder, the record is unchanged.
		fields := recordFields(sess)
		for i := 0; i < 7; i++ {
			require.Equal(t, str(i), fields[i], "field %s", hmgetFields[i])
		}
		var wantPrev middleware.TokenDigest
		if str(7) != "" {
			b, err := hex.DecodeString(str(7))
			require.NoError(t, err)
			copy(wantPrev[:], b)
		}
		require.Equal(t, wantPrev, sess.Predecessor)
		again, found, err := decodeSession(fields)
		require.NoError(t, err)
		require.True(t, found)
		requireSameSession(t, sess, again)
	})
}

// FuzzSessionRecordRoundTrip: any session the store writes (any subject,
// actor, app and roles bytes, any times from the zero time to year 2262,
// any predecessor) is stored as fields that decodeSession reads back to the
// same values: the encoder and the decoder agree on the order of the hash
// fields and on every field's form.
func FuzzSessionRecordRoundTrip(f *testing.F) {
	f.Add("u1", "user", "", "admin", int64(1_700_000_000_000_000_000), int64(1_700_000_003_600_000_000), int64(0), []byte(nil))
	f.Add("srv", "server", "app-1", "a\nb\n", int64(1), int64(2), int64(3), []byte("0123456789abcdef0123456789abcdef"))
	f.Add("", "", "", "", int64(0), int64(0), int64(0), []byte{0xff})
	f.Add("3:a:b", "x\x00y", "ø", "1:x\n0:", int64(-1), int64(-9_223_372_036_854_775_808), int64(9_223_372_036_854_775_807), []byte("prev"))
	f.Fuzz(func(t *testing.T, subject, actor, app, roles string, iat, exp, abs int64, prev []byte) {
		sess := middleware.Session{
			Subject:           subject,
			Actor:             middleware.Actor(actor),
			App:               app,
			IssuedAt:          fuzzTime(iat),
			ExpiresAt:         fuzzTime(exp),
			AbsoluteExpiresAt: fuzzTime(abs),
		}
		if roles != "" {
			sess.Roles = strings.Split(roles, "\n")
		}
		copy(sess.Predecessor[:], prev)

		got, found, err := decodeSession(recordFields(sess))
		require.NoError(t, err)
		require.True(t, found)
		requireSameSession(t, sess, got)
	})
}

// FuzzDecodeDigest: a digest read back as hex (a predecessor, an app's
// stored token digest) is accepted exactly when it is 64 hex digits, then
// holds the bytes those digits spell; and every digest survives
// hexDigest/decodeDigest unchanged.
func FuzzDecodeDigest(f *testing.F) {
	for _, s := range []string{
		hexDigest(middleware.DigestToken("token")),
		strings.Repeat("0", 64),
		strings.Repeat("F", 64),
		strings.Repeat("0", 63),
		strings.Repeat("0", 66),
		strings.Repeat("0", 62) + "0g",
		"",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, ok := decodeDigest(s)
		require.Equal(t, isHexDigest(s), ok, "%q", s)
		if ok {
			require.Equal(t, strings.ToLower(s), hexDigest(d))
		}

		want := sha256.Sum256([]byte(s))
		got, ok := decodeDigest(hexDigest(want))
		require.True(t, ok)
		require.Equal(t, middleware.TokenDigest(want), got)
		var raw middleware.TokenDigest
		copy(raw[:], s)
		got, ok = decodeDigest(hexDigest(raw))
		require.True(t, ok)
		require.Equal(t, raw, got)
	})
}

// FuzzDecodePredecessor: a session's "prev" field is "" (no predecessor,
// the zero digest) or a digest as decodeDigest reads it, nothing else; and
// every predecessor, the zero digest included, survives
// encodePredecessor/decodePredecessor unchanged.
func FuzzDecodePredecessor(f *testing.F) {
	for _, s := range []string{
		"",
		hexDigest(middleware.DigestToken("token")),
		strings.Repeat("0", 64),
		"abc",
		hexDigest(middleware.DigestToken("token")) + "00",
		"zz" + hexDigest(middleware.DigestToken("token"))[2:],
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, ok := decodePredecessor(s)
		if s == "" {
			require.True(t, ok)
			require.Zero(t, d)
		} else {
			dd, dok := decodeDigest(s)
			require.Equal(t, dok, ok)
			require.Equal(t, isHexDigest(s), ok)
			if ok {
				require.Equal(t, dd, d)
			}
		}
		if ok && d != (middleware.TokenDigest{}) {
			require.Equal(t, strings.ToLower(s), encodePredecessor(d))
		}

		var raw middleware.TokenDigest
		copy(raw[:], s)
		got, ok := decodePredecessor(encodePredecessor(raw))
		require.True(t, ok)
		require.Equal(t, raw, got)
	})
}

// FuzzDecodeRotation: whatever the rotation script answers (any code, as
// an integer or not, any length, any CreatedAt and ExpiresAt, missing or
// not), decodeRotation answers exactly one of: the bearer sentinel of a
// failure code, errDuplicateToken, errCorruptRefresh, each with a zero
// Family; or, only for {1, iat, exp} with both times in canonical form,
// the rotation's family with those times. A family encoded by the store
// (Create writes the times the script returns) decodes to the same times.
func FuzzDecodeRotation(f *testing.F) {
	ok := []string{"1700000000.000000000", "1702592000.000000000"}
	f.Add(int64(1), uint8(3), uint8(0), ok[0], ok[1], int64(1), int64(2))
	f.Add(int64(0), uint8(1), uint8(0), "", "", int64(0), int64(1))
	f.Add(int64(-1), uint8(1), uint8(0), "", "", int64(-1), int64(0))
	f.Add(int64(-2), uint8(1), uint8(0), "", "", int64(1), int64(1))
	f.Add(int64(1), uint8(3), uint8(2), ok[0], ok[1], int64(0), int64(5))
	f.Add(int64(1), uint8(3), uint8(0), ok[0], "1.5", int64(0), int64(5))
	f.Add(int64(1), uint8(3), uint8(1), ok[0], ok[1], int64(0), int64(5))
	f.Add(int64(1), uint8(2), uint8(0), ok[0], ok[1], int64(0), int64(5))
	f.Add(int64(2), uint8(3), uint8(0), ok[0], ok[1], int64(0), int64(5))
	f.Add(int64(1), uint8(0), uint8(0), ok[0], ok[1], int64(0), int64(5)) // an empty reply
	f.Fuzz(func(t *testing.T, code int64, length, kinds uint8, iat, exp string, created, expires int64) {
		r := bearer.Rotation{Family: "fam-1", Subject: "u1"}
		full := []any{code, iat, exp, "extra"}
		if kinds&1 != 0 {
			full[0] = strconv.FormatInt(code, 10) // not an integer reply
		}
		if kinds&2 != 0 {
			full[1] = nil
		}
		if kinds&4 != 0 {
			full[2] = nil
		}
		res := full[:int(length)%(len(full)+1)]

		fam, err := decodeRotation(r, res)

		var want error
		switch {
		case len(res) == 0 || kinds&1 != 0:
			want = errCorruptRefresh
		case code == rotateInvalid:
			want = bearer.ErrRefreshInvalid
		case code == rotateReused:
			want = bearer.ErrRefreshReused
		case code == rotateTaken:
			want = errDuplicateToken
		case code != rotated || len(res) != 3:
			want = errCorruptRefresh
		}
		str := func(i int) string { s, _ := res[i].(string); return s }
		if want == nil {
			_, err1 := decodeTime(str(1))
			_, err2 := decodeTime(str(2))
			if err1 != nil || err2 != nil {
				want = errCorruptRefresh
			}
		}
		if want != nil {
			require.ErrorIs(t, err, want)
			for _, other := range []error{bearer.ErrRefreshInvalid, bearer.ErrRefreshReused, errDuplicateToken, errCorruptRefresh} {
				if other != want {
					require.NotErrorIs(t, err, other)
				}
			}
			require.Zero(t, fam)
		} else {
			require.NoError(t, err)
			require.Equal(t, r.Family, fam.ID)
			require.Equal(t, r.Subject, fam.Subject)
			require.Equal(t, str(1), encodeTime(fam.CreatedAt))
			require.Equal(t, str(2), encodeTime(fam.ExpiresAt))
		}

		// Round trip: the times Create stored come back as they were.
		c, e := fuzzTime(created), fuzzTime(expires)
		fam, err = decodeRotation(r, []any{int64(rotated), encodeTime(c), encodeTime(e)})
		require.NoError(t, err)
		require.Equal(t, bearer.Family{ID: r.Family, Subject: r.Subject, CreatedAt: fam.CreatedAt, ExpiresAt: fam.ExpiresAt}, fam)
		require.True(t, c.Equal(fam.CreatedAt))
		require.True(t, e.Equal(fam.ExpiresAt))
		require.Equal(t, e.IsZero(), fam.ExpiresAt.IsZero())
	})
}

// replyClient stands in for Redis in the store methods whose decoding is
// inline: it answers every command (Process) or script (EvalSha) with the
// reply under test, and records what was asked. Any other method panics
// (the embedded interface is nil): the methods fuzzed here make no other
// call.
type replyClient struct {
	redis.UniversalClient
	calls int
	args  []any    // of the last command
	keys  []string // of the last script
	reply any      // []any for a SliceCmd
	err   error
}

func (c *replyClient) Process(ctx context.Context, cmd redis.Cmder) error {
	c.calls++
	c.args = cmd.Args()
	sc := cmd.(*redis.SliceCmd)
	if c.err != nil {
		sc.SetErr(c.err)
		return c.err
	}
	vals, _ := c.reply.([]any)
	sc.SetVal(vals)
	return nil
}

func (c *replyClient) EvalSha(ctx context.Context, _ string, keys []string, args ...any) *redis.Cmd {
	c.calls++
	c.keys, c.args = keys, args
	cmd := redis.NewCmd(ctx)
	if c.err != nil {
		cmd.SetErr(c.err)
	} else {
		cmd.SetVal(c.reply)
	}
	return cmd
}

// FuzzRevokedReply: RevocationList.Revoked decodes its MGET reply (the
// token's, the login's and the subject's entries, each a string or nil,
// in any number) without panicking and fails closed: a reply of the wrong
// length, or a subject entry that is not a canonical non-zero time, is
// errCorruptRevoked and never "not revoked"; otherwise the token is
// revoked exactly when its jti or login has an entry or it was issued
// before the subject's. Entries as the list itself writes them ("1", and
// encodeTime of a before) decode to what was revoked.
func FuzzRevokedReply(f *testing.F) {
	before := "1700000000.000000000"
	f.Add(uint8(7), uint8(0), uint8(1), "1", "1", before, int64(1_600_000_000_000_000_000), int64(1_700_000_000_000_000_000))
	f.Add(uint8(7), uint8(3), uint8(1), "1", "1", before, int64(1_800_000_000_000_000_000), int64(1))
	f.Add(uint8(4), uint8(0), uint8(1), "", "", "", int64(1), int64(2))
	f.Add(uint8(4), uint8(0), uint8(1), "", "", "1.5", int64(1), int64(2))
	f.Add(uint8(4), uint8(0), uint8(1), "", "", "-62135596800.000000000", int64(1), int64(2))
	f.Add(uint8(3), uint8(1), uint8(1), "1", "1", "", int64(1), int64(2))
	f.Add(uint8(7), uint8(0), uint8(0), "1", "1", before, int64(1), int64(2))
	f.Add(uint8(7), uint8(0), uint8(2), "1", "1", before, int64(1), int64(2))
	f.Add(uint8(0), uint8(0), uint8(1), "", "", "", int64(1), int64(2))
	f.Fuzz(func(t *testing.T, asked, nils, length uint8, jti, login, subject string, issued, revokedBefore int64) {
		ctx := context.Background()
		client := &replyClient{}
		l, err := NewRevocationList(client, WithPrefix("p:"))
		require.NoError(t, err)
		ref := bearer.TokenRef{IssuedAt: fuzzTime(issued)}
		var keys []any
		var vals []any
		for i, k := range []struct {
			field *string
			id    string
			key   string
			val   string
		}{
			{&ref.ID, "j", "p:revoked:token:j", jti},
			{&ref.Login, "l", "p:revoked:login:l", login},
			{&ref.Subject, "s", "p:revoked:subject:s", subject},
		} {
			if asked&(1<<i) == 0 {
				continue
			}
			*k.field = k.id
			keys = append(keys, k.key)
			if nils&(1<<i) != 0 {
				vals = append(vals, nil)
			} else {
				vals = append(vals, k.val)
			}
		}
		switch length % 3 { // 1 is the right length
		case 0:
			if len(vals) > 0 {
				vals = vals[:len(vals)-1]
			}
		case 2:
			vals = append(vals, "1")
		}
		client.reply = vals

		revoked, err := l.Revoked(ctx, ref)

		if len(keys) == 0 {
			require.Zero(t, client.calls, "nothing to ask")
			require.NoError(t, err)
			require.False(t, revoked)
			return
		}
		require.Equal(t, 1, client.calls)
		require.Equal(t, append([]any{"mget"}, keys...), client.args)

		want, corrupt := false, len(vals) != len(keys)
		if !corrupt {
			last := len(vals)
			if ref.Subject != "" {
				last--
				if s, ok := vals[last].(string); ok {
					b, err := decodeTime(s)
					corrupt = err != nil || b.IsZero()
					want = !corrupt && ref.IssuedAt.Before(b)
				}
			}
			for _, v := range vals[:last] {
				want = want || v != nil
			}
		}
		if corrupt {
			require.ErrorIs(t, err, errCorruptRevoked)
			require.False(t, revoked)
			return
		}
		require.NoError(t, err)
		require.Equal(t, want, revoked)

		// Round trip: entries as RevokeToken, RevokeLogin and RevokeSubject
		// write them (a zero before is never written).
		ref = bearer.TokenRef{ID: "j", Login: "l", Subject: "s", IssuedAt: fuzzTime(issued)}
		b := fuzzTime(revokedBefore)
		entry := func(present bool) any {
			if present {
				return "1"
			}
			return nil
		}
		honest := []any{entry(nils&1 != 0), entry(nils&2 != 0), nil}
		if !b.IsZero() {
			honest[2] = encodeTime(b)
		}
		client.reply = honest
		revoked, err = l.Revoked(ctx, ref)
		require.NoError(t, err)
		require.Equal(t, nils&3 != 0 || (!b.IsZero() && ref.IssuedAt.Before(b)), revoked)
	})
}

// FuzzAppLookupReply: AppRegistry.Lookup decodes the lookup script's reply
// ({id, name, stored hex digest}, or nil) without panicking, and accepts
// an app only when the reply has exactly three fields and the stored
// digest is the presented token's: a digest of another token is
// ErrAppNotFound, a malformed reply an error that is not ErrAppNotFound
// (the kinds answer 503, not 401), each with a zero App. An unknown token
// type asks nothing. A record as Register writes it (the token's
// hexDigest) gives back the app's id and name.
func FuzzAppLookupReply(f *testing.F) {
	tok := "0123456789abcdef0123456789abcdef"
	good := hexDigest(middleware.DigestToken(tok))
	f.Add(uint8(1), uint8(1), false, "app-1", "demo", good, tok)
	f.Add(uint8(2), uint8(1), false, "app-1", "", strings.ToUpper(good), tok)
	f.Add(uint8(1), uint8(1), false, "app-1", "demo", hexDigest(middleware.DigestToken("other")), tok)
	f.Add(uint8(1), uint8(1), false, "app-1", "demo", good[:63], tok)
	f.Add(uint8(1), uint8(1), false, "app-1", "demo", good+"0", tok)
	f.Add(uint8(1), uint8(0), false, "app-1", "demo", good, tok)
	f.Add(uint8(1), uint8(2), false, "app-1", "demo", good, tok)
	f.Add(uint8(1), uint8(1), true, "", "", "", tok)
	f.Add(uint8(3), uint8(1), false, "app-1", "demo", good, tok)
	f.Fuzz(func(t *testing.T, typ, length uint8, missing bool, id, name, stored, token string) {
		ctx := context.Background()
		client := &replyClient{}
		reg, err := NewAppRegistry(client, WithPrefix("p:"))
		require.NoError(t, err)
		tt := basicauth.TokenType(typ % 4)
		d := middleware.DigestToken(token)
		reply := []any{id, name, stored}
		switch length % 3 { // 1 is the right length
		case 0:
			reply = reply[:2]
		case 2:
			reply = append(reply, "x")
		}
		client.reply = reply
		if missing {
			client.err = redis.Nil
		}

		app, err := reg.Lookup(ctx, tt, d)

		i, known := slot(tt)
		if !known {
			require.ErrorIs(t, err, basicauth.ErrAppNotFound)
			require.Zero(t, client.calls)
			require.Zero(t, app)
			return
		}
		require.Equal(t, 1, client.calls)
		require.Equal(t, []string{reg.tokPrefix[i] + hexDigest(d), reg.index}, client.keys)
		switch {
		case missing:
			require.ErrorIs(t, err, basicauth.ErrAppNotFound)
			require.Zero(t, app)
		case len(reply) != 3 || !isHexDigest(stored):
			require.Error(t, err)
			require.NotErrorIs(t, err, basicauth.ErrAppNotFound)
			require.Zero(t, app)
		case !strings.EqualFold(stored, hexDigest(d)):
			require.ErrorIs(t, err, basicauth.ErrAppNotFound)
			require.Zero(t, app)
		default:
			require.NoError(t, err)
			require.Equal(t, basicauth.App{ID: id, Name: name}, app)
		}

		// Round trip: the record Register wrote for this token, and for
		// another token.
		client.err = nil
		client.reply = []any{id, name, hexDigest(d)}
		app, err = reg.Lookup(ctx, basicauth.AppToken, d)
		require.NoError(t, err)
		require.Equal(t, basicauth.App{ID: id, Name: name}, app)
		other := d
		other[31] ^= 1
		client.reply = []any{id, name, hexDigest(other)}
		app, err = reg.Lookup(ctx, basicauth.BackendToken, d)
		require.ErrorIs(t, err, basicauth.ErrAppNotFound)
		require.Zero(t, app)
	})
}

// recordingCache records every call a Broadcaster makes on a local cache.
type recordingCache struct{ calls []string }

func (c *recordingCache) Invalidate(middleware.Credential) { c.calls = append(c.calls, "invalidate") }
func (c *recordingCache) InvalidateSubject(s string)       { c.calls = append(c.calls, "subject:"+s) }
func (c *recordingCache) Purge()                           { c.calls = append(c.calls, "purge") }

func (c *recordingCache) AddTTLCap(d time.Duration) (remove func()) {
	c.calls = append(c.calls, "cap:"+d.String())
	return func() { c.calls = append(c.calls, "uncap") }
}

// FuzzBroadcastDeliver: a payload published on the revocation channel by
// another replica (or anyone who can publish there) reaches every
// registered cache as exactly one call: InvalidateSubject of the subject
// after "sub:" (any bytes, the empty subject included), and nothing else;
// any other payload, which may have named anything, is one Purge (the
// documented fail-safe: see deliver and purgeMessage). A payload never
// evicts a credential, never evicts a subject it does not name, and never
// touches the TTL cap. What InvalidateSubject and Purge publish is
// delivered as what they did.
func FuzzBroadcastDeliver(f *testing.F) {
	for _, s := range []string{"sub:u1", "sub:", "sub:sub:u1", "purge", "", "SUB:u1", "sub", "sub:\x00\xff\n", "unknown-v2:u1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, payload string) {
		caches := []*recordingCache{{}, {}}
		b := &Broadcaster{caches: []LocalCache{caches[0], caches[1]}}
		expect := func(payload string, want string) {
			t.Helper()
			for _, c := range caches {
				c.calls = nil
			}
			b.deliver(payload)
			for _, c := range caches {
				assert.Equal(t, []string{want}, c.calls, "payload %q", payload)
			}
		}

		if subject, ok := strings.CutPrefix(payload, subjectTag); ok {
			expect(payload, "subject:"+subject)
		} else {
			expect(payload, "purge")
		}

		// Round trip: the payloads the Broadcaster itself publishes.
		expect(subjectTag+payload, "subject:"+payload)
		expect(purgeMessage, "purge")
	})
}

// Compile-time checks of the stand-ins.
var (
	_ redis.UniversalClient = (*replyClient)(nil)
	_ LocalCache            = (*recordingCache)(nil)
)
