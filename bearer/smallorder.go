package bearer

import (
	"math/big"
	"slices"
)

// Ed25519 public keys of small order.
//
// crypto/ed25519 verifies signatures without checking that the public key
// A has large order. A point of small order has no private key behind it,
// yet for such an A the signature R = identity, S = 0 passes the check
// [S]B = R + [k]A whenever [k]A is the identity: for every message when A
// is the identity, for one in two, four or eight otherwise. A key
// published with such an x (32 zero bytes, a zeroed buffer, is one) would
// let anybody sign tokens, so it is refused (RFC 8032 §5.1.7 leaves the
// check to the application; see also RFC 8725 §3.4 on key validation).
//
// The eight points of small order on edwards25519 are those whose y, mod
// p = 2^255 - 19, is 1 (order 1), p - 1 (order 2), 0 (order 4), or one of
// the two y of the points of order 8 below. Comparing y mod p covers the
// non-canonical encodings (y >= p) that crypto/ed25519 also accepts; the
// sign bit of x, the encoding's top bit, does not matter.

var (
	curveP = new(big.Int).Sub(new(big.Int).Lsh(big.NewInt(1), 255), big.NewInt(19))

	// smallOrderY are the y coordinates of the small-order points.
	smallOrderY = []*big.Int{
		big.NewInt(0),
		big.NewInt(1),
		new(big.Int).Sub(curveP, big.NewInt(1)),
		decimal("2707385501144840649318225287225658788936804267575313519463743609750303402022"),
		decimal("55188659117513257062467267217118295137698188065244968500265048394206261417927"),
	}
)

func decimal(s string) *big.Int {
	n, ok := new(big.Int).SetString(s, 10)
	if !ok {
		panic("bearer: bad constant " + s)
	}
	return n
}

// hasSmallOrder reports whether the 32-byte Ed25519 public key pub encodes
// a point of small order.
func hasSmallOrder(pub []byte) bool {
	le := slices.Clone(pub)
	le[31] &= 0x7f // the sign of x
	slices.Reverse(le)
	y := new(big.Int).SetBytes(le)
	y.Mod(y, curveP)
	for _, s := range smallOrderY {
		if y.Cmp(s) == 0 {
			return true
		}
	}
	return false
}
