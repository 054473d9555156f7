package bearer

import (
	"crypto/ed25519"
	"encoding/base64"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestLeakedPublicKeysReadsEveryObject: a private part is found in any
// object at any depth, not in the strings of an array, and a document
// publishing too many makes the caller trust no key.
func TestLeakedPublicKeysReadsEveryObject(t *testing.T) {
	seed := func(b byte) []byte { return []byte(strings.Repeat(string(rune(b)), ed25519.SeedSize)) }
	id := func(s []byte) string { return publicKeyID(ed25519.NewKeyFromSeed(s).Public()) }
	enc := base64.RawURLEncoding.EncodeToString

	doc := `{"keys":[{"kid":"a","D":"` + enc(seed('a')) + `"}],` +
		`"other":{"nested":{"d":"` + enc(seed('b')) + `"},"after":"x"},` +
		`"arr":[["d","` + enc(seed('c')) + `"]],"d2":"` + enc(seed('c')) + `"}`
	ids, tooMany := leakedPublicKeys([]byte(doc))
	require.False(t, tooMany)
	require.Contains(t, ids, id(seed('a')), "a member name in another case")
	require.Contains(t, ids, id(seed('b')), "a nested object")
	require.NotContains(t, ids, id(seed('c')), "strings of an array, or another member, are no private part")

	var many strings.Builder
	many.WriteString(`{"keys":[`)
	for i := range maxLeakedPerDocument + 1 {
		if i > 0 {
			many.WriteString(",")
		}
		many.WriteString(`{"d":"` + enc(seed('a')) + `"}`)
	}
	many.WriteString(`]}`)
	_, tooMany = leakedPublicKeys([]byte(many.String()))
	require.True(t, tooMany)
}

// TestDecodeLenientBase64 reads base64 as the most lenient decoders do.
func TestDecodeLenientBase64(t *testing.T) {
	want := []byte{0xfb, 0xff, 0xbf, 0xfb, 0xff, 0xbf}
	for _, s := range []string{"+/+/+/+/", "-_-_-_-_", "+_-/+_-/", "+/+/ +/+/", "+/+/\n+/+/", "+/+/+/+/==", "+/+/+/+/="} {
		require.Equal(t, want, decodeLenientBase64(s), "%q", s)
	}
	require.Nil(t, decodeLenientBase64("a"), "one character is no base64")
}

// TestWithoutNonFinite replaces NaN and Infinity outside strings only.
func TestWithoutNonFinite(t *testing.T) {
	for in, want := range map[string]string{
		`{"a":NaN,"b":-Infinity,"c":Infinity}`: `{"a":0,"b":0,"c":0}`,
		`{"a":"NaN","b":"x\"NaN","c":"\\"}`:    `{"a":"NaN","b":"x\"NaN","c":"\\"}`,
		`{"a":"\\",NaN:1}`:                     `{"a":"\\",0:1}`,
	} {
		require.Equal(t, want, string(withoutNonFinite([]byte(in))), in)
	}
}

// TestAsUTF8 reads UTF-16 and UTF-32 in either byte order, with or
// without a byte order mark, as Python's json does.
func TestAsUTF8(t *testing.T) {
	const doc = `{"d":"é"}`
	runes := []rune(doc)
	encode := func(width int, big, bom bool) []byte {
		rs := runes
		if bom {
			rs = append([]rune{0xfeff}, runes...)
		}
		return encodeRunes(rs, width, big)
	}
	for _, width := range []int{2, 4} {
		for _, big := range []bool{false, true} {
			for _, bom := range []bool{false, true} {
				require.Equal(t, doc, string(asUTF8(encode(width, big, bom))), "width %d, big endian %v, BOM %v", width, big, bom)
			}
		}
	}
	require.Equal(t, doc, string(asUTF8([]byte("\ufeff"+doc))))
	require.Equal(t, doc, string(asUTF8([]byte(doc))))
}

// encodeRunes encodes runes in UTF-32 (width 4) or UCS-2 (width 2).
func encodeRunes(runes []rune, width int, big bool) []byte {
	var out []byte
	for _, r := range runes {
		for i := range width {
			shift := 8 * i
			if big {
				shift = 8 * (width - 1 - i)
			}
			out = append(out, byte(uint32(r)>>shift))
		}
	}
	return out
}
