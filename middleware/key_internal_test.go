package middleware

import (
	"context"
	"encoding/base64"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"testing/quick"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// decodeKey inverts encodeKey. That it exists, and that
// decodeKey(encodeKey(t, s)) == (t, s) for every pair, is the proof that
// encodeKey is injective.
func decodeKey(key string) (token, secret string, ok bool) {
	if rest, found := strings.CutPrefix(key, "\x00"); found { // form 3
		lenText, body, found := strings.Cut(rest, ":")
		n, err := strconv.Atoi(lenText)
		if !found || err != nil || n < 0 || n > len(body) || strconv.Itoa(n) != lenText {
			return "", "", false
		}
		return body[:n], body[n:], true
	}
	if token, secret, found := strings.Cut(key, ":"); found { // form 2
		return token, secret, secret != ""
	}
	return key, "", true // form 1
}

func TestEncodeKeyForms(t *testing.T) {
	cases := []struct{ token, secret, key string }{
		{"abc", "", "abc"},
		{"", "", ""},
		{"ab", "c", "ab:c"},
		{"a", "b:c", "a:b:c"},
		{"", "a", ":a"},
		{"a:b", "", "\x003:a:b"},
		{"a:b", "c", "\x003:a:bc"},
		{"\x00", "", "\x001:\x00"},
		{"\x00x", "y", "\x002:\x00xy"},
		{":", ":", "\x001:::"},
	}
	for _, tc := range cases {
		require.Equal(t, tc.key, encodeKey(tc.token, tc.secret), "%q/%q", tc.token, tc.secret)
		token, secret, ok := decodeKey(tc.key)
		require.True(t, ok)
		require.Equal(t, tc.token, token)
		require.Equal(t, tc.secret, secret)
	}
}

// TestEncodeKeyInjective enumerates every pair of strings up to length 3
// over an alphabet holding every character the encoding treats specially,
// and checks that no two pairs share a key.
func TestEncodeKeyInjective(t *testing.T) {
	alphabet := []string{"a", ":", "\x00", "1", "3"}
	words := []string{""}
	for length := 1; length <= 3; length++ {
		for _, w := range words {
			if len(w) == length-1 {
				for _, c := range alphabet {
					words = append(words, w+c)
				}
			}
		}
	}
	seen := make(map[string][2]string, len(words)*len(words))
	for _, token := range words {
		for _, secret := range words {
			key := encodeKey(token, secret)
			if prev, dup := seen[key]; dup {
				t.Fatalf("(%q,%q) and (%q,%q) share key %q", prev[0], prev[1], token, secret, key)
			}
			seen[key] = [2]string{token, secret}
			gotToken, gotSecret, ok := decodeKey(key)
			require.True(t, ok && gotToken == token && gotSecret == secret, "(%q,%q) does not round-trip", token, secret)
		}
	}
	require.Len(t, seen, len(words)*len(words))
}

// TestEncodeKeyProperty: random pairs round-trip through decodeKey, and
// distinct pairs get distinct keys.
func TestEncodeKeyProperty(t *testing.T) {
	roundTrip := func(token, secret string) bool {
		gotToken, gotSecret, ok := decodeKey(encodeKey(token, secret))
		return ok && gotToken == token && gotSecret == secret
	}
	require.NoError(t, quick.Check(roundTrip, &quick.Config{MaxCount: 20_000}))
	// Random strings rarely contain ':' or NUL; splice them in.
	spliced := func(a, b, c, d string, i, j uint8) bool {
		ins := func(s string, at uint8, what string) string {
			k := int(at) % (len(s) + 1)
			return s[:k] + what + s[k:]
		}
		t1, s1 := ins(a, i, ":"), ins(b, j, "\x00")
		t2, s2 := ins(c, j, "\x00"), ins(d, i, ":")
		return (t1 == t2 && s1 == s2) == (encodeKey(t1, s1) == encodeKey(t2, s2)) && roundTrip(t1, s1) && roundTrip(t2, s2)
	}
	require.NoError(t, quick.Check(spliced, &quick.Config{MaxCount: 20_000}))
}

// TestBasicCredentialKey: a credential the Basic extractor builds is keyed
// by its token68 (form basicKey) while its parts are unchanged, and by its
// parts as soon as one changes (its Token, form tokenKey, when the Secret
// is empty; encodeKey of both, form partsKey, otherwise), so that a
// changed credential never finds the entry of the one extracted.
func TestBasicCredentialKey(t *testing.T) {
	for _, decoded := range []string{"a:b", "a:", "alice:b:c", "user:pass:", "u::"} {
		colon := strings.IndexByte(decoded, ':')
		token68 := base64.StdEncoding.EncodeToString([]byte(decoded))
		c := newBasicCredential("basic", token68, decoded, colon)
		key, form := c.cacheKey()
		require.Equal(t, token68, key, "%q", decoded)
		require.Equal(t, basicKey, form)

		for _, change := range []func(*Credential){
			func(c *Credential) { c.Secret += "x" },
			func(c *Credential) { c.Secret = "" },
			func(c *Credential) { c.Token += ":" },
			func(c *Credential) { c.Token = "\x00" + c.Token },
			func(c *Credential) { c.Token, c.Secret = c.Token+":"+c.Secret, "" },
			func(c *Credential) { c.Token, c.Secret = "", "" },
			func(c *Credential) {
				if c.Secret != "" {
					c.Token, c.Secret = c.Token+":"+c.Secret[:1], c.Secret[1:]
				}
			},
		} {
			changed := c
			change(&changed)
			if changed.Token == c.Token && changed.Secret == c.Secret {
				continue // no change (the secret was empty already)
			}
			key, form := changed.cacheKey()
			if changed.Secret == "" {
				require.Equal(t, changed.Token, key, "%q changed to %q/%q", decoded, changed.Token, changed.Secret)
				require.Equal(t, tokenKey, form)
				continue
			}
			require.Equal(t, encodeKey(changed.Token, changed.Secret), key, "%q changed to %q/%q", decoded, changed.Token, changed.Secret)
			require.Equal(t, partsKey, form)
		}
	}
}

// TestCacheKeyForms: a credential without a Secret is keyed by its Token
// as it stands, colons and NULs included, in a form of its own; one with a
// Secret by encodeKey. Two credentials share a key and a form only when
// both parts are equal, even where their key strings meet.
func TestCacheKeyForms(t *testing.T) {
	words := []string{"", "a", ":", "a:b", "\x00", "\x001:a", "ab:c"}
	type keyed struct {
		key  string
		form keyForm
	}
	seen := map[keyed][2]string{}
	for _, token := range words {
		for _, secret := range words {
			key, form := Credential{Kind: "k", Token: token, Secret: secret}.cacheKey()
			if secret == "" {
				require.Equal(t, tokenKey, form)
				require.Equal(t, token, key)
			} else {
				require.Equal(t, partsKey, form)
				require.Equal(t, encodeKey(token, secret), key)
			}
			k := keyed{key, form}
			prev, dup := seen[k]
			require.False(t, dup, "(%q,%q) and (%q,%q) share key %q and form %d", prev[0], prev[1], token, secret, key, form)
			seen[k] = [2]string{token, secret}
		}
	}
}

// FuzzEncodeKey: two distinct pairs never share a key, and every key
// decodes back to its pair.
func FuzzEncodeKey(f *testing.F) {
	f.Add("ab", "c", "a", "bc")
	f.Add("a:b", "", "a", "b")
	f.Add("\x001:a", "", "\x00", "a")
	f.Add("", ":", ":", "")
	f.Fuzz(func(t *testing.T, t1, s1, t2, s2 string) {
		k1, k2 := encodeKey(t1, s1), encodeKey(t2, s2)
		if (t1 == t2 && s1 == s2) != (k1 == k2) {
			t.Fatalf("(%q,%q) -> %q, (%q,%q) -> %q", t1, s1, k1, t2, s2, k2)
		}
		for _, p := range [][3]string{{t1, s1, k1}, {t2, s2, k2}} {
			token, secret, ok := decodeKey(p[2])
			if !ok || token != p[0] || secret != p[1] {
				t.Fatalf("(%q,%q) -> %q does not decode", p[0], p[1], p[2])
			}
		}
		// A Basic credential, built from a decoded "user:password", keys
		// as its token68, in a form of its own.
		if decoded := t1 + ":" + s1; !strings.Contains(t1, ":") {
			token68 := base64.StdEncoding.EncodeToString([]byte(decoded))
			c := newBasicCredential("basic", token68, decoded, len(t1))
			if key, form := c.cacheKey(); key != token68 || form != basicKey {
				t.Fatalf("basic %q keys as %q (form %d)", decoded, key, form)
			}
		}
	})
}

type ctxKey struct{}

// TestVerifyContext: the context a Cache gives its Verifier behaves as
// context.WithTimeout(context.WithoutCancel(parent)) would.
func TestVerifyContext(t *testing.T) {
	parent, cancelParent := context.WithCancel(context.WithValue(context.Background(), ctxKey{}, "v"))
	cancelParent()

	t.Run("running", func(t *testing.T) {
		var c verifyContext
		c.init(parent, time.Now().Add(time.Hour))
		require.NoError(t, c.Err(), "the parent's cancellation does not reach it")
		require.Equal(t, "v", c.Value(ctxKey{}))
		deadline, ok := c.Deadline()
		require.True(t, ok)
		require.WithinDuration(t, time.Now().Add(time.Hour), deadline, time.Minute)
		select {
		case <-c.Done():
			t.Fatal("done before its deadline")
		default:
		}
		child, cancelChild := context.WithCancel(&c)
		defer cancelChild()
		c.release()
		<-c.Done()
		<-child.Done()
		require.ErrorIs(t, c.Err(), context.Canceled)
		require.ErrorIs(t, child.Err(), context.Canceled)
		c.release() // idempotent
	})
	t.Run("past its deadline, Err first", func(t *testing.T) {
		var c verifyContext
		c.init(parent, time.Now().Add(-time.Second))
		require.ErrorIs(t, c.Err(), context.DeadlineExceeded)
		<-c.Done()
	})
	t.Run("past its deadline, Done first", func(t *testing.T) {
		var c verifyContext
		c.init(parent, time.Now().Add(-time.Second))
		<-c.Done()
		require.ErrorIs(t, c.Err(), context.DeadlineExceeded)
	})
	t.Run("the deadline passes", func(t *testing.T) {
		var c verifyContext
		c.init(parent, time.Now().Add(time.Millisecond))
		<-c.Done()
		require.ErrorIs(t, c.Err(), context.DeadlineExceeded)
		c.release()
		require.ErrorIs(t, c.Err(), context.DeadlineExceeded, "the first cause stays")
	})
	t.Run("Done after release", func(t *testing.T) {
		var c verifyContext
		c.init(parent, time.Now().Add(time.Hour))
		c.release()
		<-c.Done()
		require.ErrorIs(t, c.Err(), context.Canceled)
	})
}

// TestDisplacedEntryUnindexed is the white-box side of
// TestCacheDisplacedEntryLeavesSubjectIndex: after an entry is replaced by
// one of another subject, the subject index holds no trace of the old one.
func TestDisplacedEntryUnindexed(t *testing.T) {
	v := VerifierFunc(func(_ context.Context, c Credential) (Principal, error) {
		return Principal{Subject: "owner-" + string(c.Kind)}, nil
	})
	c, err := NewCache(v, time.Hour)
	require.NoError(t, err)
	defer c.Close()
	for _, kind := range []Kind{"a", "b", "a", "b"} {
		_, err := c.Verify(context.Background(), Credential{Kind: kind, Token: "shared"})
		require.NoError(t, err)
	}
	stored, ok := c.shard("shared").items.Get("shared")
	require.True(t, ok)
	sh := c.shard("shared")
	sh.mu.Lock()
	defer sh.mu.Unlock()
	require.Equal(t, map[string]*cacheEntry{"owner-b": stored.(*cacheEntry)}, sh.bySubject)
	e := stored.(*cacheEntry)
	require.True(t, e.indexed)
	require.Nil(t, e.prev)
	require.Nil(t, e.next)
	for i := range c.shards {
		require.Len(t, c.shards[i].flights, 0, "no flight is left behind")
	}
}

// TestShardCount: a cache has a power of two of shards, at most maxShards,
// each meant for at least minPerShard entries, so that its bound is close
// to the one asked for.
func TestShardCount(t *testing.T) {
	v := VerifierFunc(func(context.Context, Credential) (Principal, error) { return Principal{Subject: "u"}, nil })
	for _, tc := range []struct{ max, shards int }{
		{1, 1}, {15, 1}, {16, 2}, {100, 8}, {1000, 64}, {4096, 256}, {DefaultMaxEntries, 256},
	} {
		c, err := NewCache(v, time.Hour, WithMaxEntries(tc.max))
		require.NoError(t, err)
		assert.Len(t, c.shards, tc.shards, "max %d", tc.max)
		assert.Equal(t, uint32(tc.shards-1), c.mask)
		assert.GreaterOrEqual(t, c.perShard*len(c.shards), tc.max)
		assert.Less(t, (c.perShard-1)*len(c.shards), tc.max, "the bound is the one asked for, rounded up per shard")
		require.NoError(t, c.Close())
	}
}

// TestRingEvictsOnlyTheEntryItStored: a credential verified again after an
// invalidation has two slots in its shard's ring, the old entry's and the
// new one's. When the old slot comes round, the fresh entry must stay: the
// ring used to remember keys and deleted whatever the key held by then.
func TestRingEvictsOnlyTheEntryItStored(t *testing.T) {
	var calls atomic.Int64
	v := VerifierFunc(func(_ context.Context, c Credential) (Principal, error) {
		calls.Add(1)
		return Principal{Subject: "u-" + c.Token}, nil
	})
	c, err := NewCache(v, time.Hour, WithMaxEntries(2))
	require.NoError(t, err)
	defer c.Close()
	require.Len(t, c.shards, 1, "a small cache is one shard")
	require.Equal(t, 2, c.perShard)

	// Three keys of one shard.
	keys := []string{"k0"}
	for i := 1; len(keys) < 3; i++ {
		if k := "k" + strconv.Itoa(i); c.shard(k) == c.shard(keys[0]) {
			keys = append(keys, k)
		}
	}
	verify := func(key string) {
		t.Helper()
		p, err := c.Verify(context.Background(), Credential{Kind: "session", Token: key})
		require.NoError(t, err)
		require.Equal(t, "u-"+key, p.Subject)
	}
	cred := Credential{Kind: "session", Token: keys[0]}

	verify(keys[0])    // ring: [k0]
	c.Invalidate(cred) // k0's entry is gone; its slot stays
	verify(keys[0])    // ring: [k0 (dead), k0]
	require.EqualValues(t, 2, calls.Load())
	verify(keys[1]) // the dead slot comes round: ring [k1, k0]
	verify(keys[0]) // still a hit
	require.EqualValues(t, 3, calls.Load(), "the fresh entry survived the eviction of the dead one")

	verify(keys[2]) // now the live k0 is the oldest: ring [k1, k2]
	require.Equal(t, 2, c.shard(keys[0]).items.ItemCount(), "the shard stays within its bound")
	verify(keys[0])
	require.EqualValues(t, 5, calls.Load(), "k0 was evicted in its turn")
}
