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
