package bearer_test

import (
	"encoding/base64"
	"net/http"
	"strings"
	"testing"
	"time"
	"unicode/utf16"

	"github.com/stretchr/testify/require"
)

// Review round 4 of leaked JWKS keys (bearer/leaked.go).

// TestReview4LeakAfterNaN: Python's json (json.load, as PyJWT's
// PyJWKClient reads a JWKS) takes NaN and Infinity as numbers, so the
// entry's d after them is published. The scan stops at the syntax error
// and never reads the d.
func TestReview4LeakAfterNaN(t *testing.T) {
	x, d := b64.EncodeToString(edPublic), b64.EncodeToString(edSeed)
	for name, lit := range map[string]string{"NaN": "NaN", "Infinity": "Infinity", "-Infinity": "-Infinity"} {
		t.Run(name, func(t *testing.T) {
			f := newLeakFixture(t)
			f.publish(`{"keys":[{"kty":"OKP","crv":"Ed25519","kid":"ed1","n":` + lit + `,"x":"` + x + `","d":"` + d + `"}]}`)
			f.requireEd1Distrusted()
		})
	}
}

// TestReview4LeakInUTF16: Python's json.load(s) of bytes detects UTF-16
// and UTF-32 (with or without a BOM) and reads the document, d included.
func TestReview4LeakInUTF16(t *testing.T) {
	x, d := b64.EncodeToString(edPublic), b64.EncodeToString(edSeed)
	doc := `{"keys":[{"kty":"OKP","crv":"Ed25519","kid":"ed1","x":"` + x + `","d":"` + d + `"}]}`
	var le []byte
	for _, u := range utf16.Encode([]rune(doc)) {
		le = append(le, byte(u), byte(u>>8))
	}
	for name, body := range map[string][]byte{
		"UTF-16LE":          le,
		"UTF-16LE with BOM": append([]byte{0xff, 0xfe}, le...),
	} {
		t.Run(name, func(t *testing.T) {
			f := newLeakFixture(t)
			f.publish(string(body))
			f.requireEd1Distrusted()
		})
	}
}

// TestReview4LeakWithRotationPurgesCache: the issuer rotates away from ed1
// and publishes ed1's private part beside the new, valid, document
// (decodeJWKS accepts it: the d is outside "keys"). ed1 is remembered as
// leaked, but no key is dropped from the new state, so the cache is not
// purged and a token ed1 verified before is still served from it.
func TestReview4LeakWithRotationPurgesCache(t *testing.T) {
	x, d := b64.EncodeToString(edPublic), b64.EncodeToString(edSeed)
	f := newLeakFixture(t)
	f.publish(`{"keys":[],"retired":[{"kty":"OKP","crv":"Ed25519","kid":"ed1","x":"` + x + `","d":"` + d + `"}]}`)
	f.requireEd1Distrusted()
}

// TestReview4CPUBoundBeforeWork: one object with many "d" members. The
// per-document bound (64) is checked only after every d of the object has
// been turned into public keys (a P-256 scalar multiplication each), so a
// 256 KiB document costs ~200 times what one just past the bound does.
func TestReview4CPUBoundBeforeWork(t *testing.T) {
	enc := base64.RawURLEncoding.EncodeToString
	doc := func(limit int) string {
		var b strings.Builder
		b.WriteString(`{"x":{`)
		for i := 0; b.Len() < 256<<10-100 && i < limit; i++ {
			if i > 0 {
				b.WriteString(",")
			}
			b.WriteString(`"d":"` + enc([]byte{byte(i>>8) | 1, byte(i)}) + `"`)
		}
		b.WriteString("}}")
		return b.String()
	}
	timed := func(body string) time.Duration {
		f := newLeakFixture(t)
		start := time.Now()
		f.publish(body)
		el := time.Since(start)
		require.NotEqual(t, http.StatusOK, get(f.h, f.earlier).Code, "too many: no key trusted")
		return el
	}
	atBound := timed(doc(65))
	hostile := timed(doc(1 << 30))
	t.Logf("65 d: %v; 256 KiB of d: %v", atBound, hostile)
	require.Less(t, hostile, 10*atBound+20*time.Millisecond,
		"the 64 bound must stop the work, not follow it")
}
