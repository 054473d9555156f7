package bearer

import (
	"crypto/ed25519"
	"math/big"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"
)

// encodeY is the 32-byte little-endian Ed25519 encoding of y, with the
// sign bit of x set when negative.
func encodeY(y *big.Int, negative bool) []byte {
	be := y.FillBytes(make([]byte, 32))
	slices.Reverse(be)
	if negative {
		be[31] |= 0x80
	}
	return be
}

// TestSmallOrderEd25519KeysAreRefused: every encoding of each of the eight
// points of small order (both signs of x, and y's non-canonical encodings
// y + p where they fit in 255 bits) is refused as a verification key;
// real keys are not.
func TestSmallOrderEd25519KeysAreRefused(t *testing.T) {
	for _, y := range smallOrderY {
		for _, negative := range []bool{false, true} {
			encodings := [][]byte{encodeY(y, negative)}
			if nonCanonical := new(big.Int).Add(y, curveP); nonCanonical.BitLen() <= 255 {
				encodings = append(encodings, encodeY(nonCanonical, negative))
			}
			for _, pub := range encodings {
				_, err := NewEd25519VerificationKey("weak", pub)
				require.Error(t, err, "small-order key %x", pub)
			}
		}
	}
	for range 200 {
		pub, _, err := ed25519.GenerateKey(nil)
		require.NoError(t, err)
		_, err = NewEd25519VerificationKey("", pub)
		require.NoError(t, err, "a real key %x", pub)
	}
}
