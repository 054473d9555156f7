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

// edwardsPoint is a point of edwards25519 in affine coordinates, for the
// test's own arithmetic, independent of smallOrderY.
type edwardsPoint struct{ x, y *big.Int }

var (
	testP = new(big.Int).Sub(new(big.Int).Lsh(big.NewInt(1), 255), big.NewInt(19))
	// curveD = -121665 / 121666 mod p (RFC 8032 §5.1).
	curveD = new(big.Int).Mod(new(big.Int).Mul(big.NewInt(-121665),
		new(big.Int).ModInverse(big.NewInt(121666), testP)), testP)
)

func mod(v *big.Int) *big.Int { return v.Mod(v, testP) }

// add is the twisted Edwards addition law (a = -1) of RFC 8032 §5.1.4.
func (p edwardsPoint) add(q edwardsPoint) edwardsPoint {
	xx := mod(new(big.Int).Mul(p.x, q.x))
	yy := mod(new(big.Int).Mul(p.y, q.y))
	dxxyy := mod(new(big.Int).Mul(curveD, new(big.Int).Mul(xx, yy)))
	x := mod(new(big.Int).Add(new(big.Int).Mul(p.x, q.y), new(big.Int).Mul(q.x, p.y)))
	y := mod(new(big.Int).Add(yy, xx))
	x.Mul(x, new(big.Int).ModInverse(mod(new(big.Int).Add(big.NewInt(1), dxxyy)), testP))
	y.Mul(y, new(big.Int).ModInverse(mod(new(big.Int).Sub(big.NewInt(1), dxxyy)), testP))
	return edwardsPoint{mod(x), mod(y)}
}

// pointsWithY returns the points of the curve whose y is y (none, one or
// two), solving x^2 = (y^2 - 1) / (d y^2 + 1) mod p.
func pointsWithY(y *big.Int) []edwardsPoint {
	yy := new(big.Int).Mul(y, y)
	num := mod(new(big.Int).Sub(yy, big.NewInt(1)))
	den := mod(new(big.Int).Add(new(big.Int).Mul(curveD, yy), big.NewInt(1)))
	x := new(big.Int).ModSqrt(mod(new(big.Int).Mul(num, new(big.Int).ModInverse(den, testP))), testP)
	switch {
	case x == nil:
		return nil
	case x.Sign() == 0:
		return []edwardsPoint{{x, y}}
	}
	return []edwardsPoint{{x, y}, {new(big.Int).Sub(testP, x), y}}
}

// TestSmallOrderYAreExactlyTheTorsionPoints checks the constants with the
// test's own arithmetic: the five y give eight distinct points, each on
// the curve with [8]P the identity, which are all the points of small
// order there are (edwards25519's torsion subgroup has eight).
func TestSmallOrderYAreExactlyTheTorsionPoints(t *testing.T) {
	identity := edwardsPoint{big.NewInt(0), big.NewInt(1)}
	seen := map[string]bool{}
	for _, y := range smallOrderY {
		points := pointsWithY(new(big.Int).Set(y))
		require.NotEmpty(t, points, "y = %v is on the curve", y)
		for _, p := range points {
			q := p
			for range 3 { // [8]P by three doublings
				q = q.add(q)
			}
			require.Zero(t, q.x.Cmp(identity.x), "[8]P = O for y = %v", y)
			require.Zero(t, q.y.Cmp(identity.y), "[8]P = O for y = %v", y)
			seen[p.x.String()+","+p.y.String()] = true
		}
	}
	require.Len(t, seen, 8)
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
