package bearer

// decodeSegment decodes a JWS segment: base64url without padding (RFC 7515
// §2), strictly. It refuses '=' padding, characters outside the URL
// alphabet (white space included), a length that leaves a lone 6-bit group,
// and non-canonical encodings whose unused trailing bits are not zero, so
// that every byte string has exactly one accepted encoding. This is what
// base64.RawURLEncoding.Strict() (golang-jwt's WithStrictDecoding without
// WithPaddingAllowed) does; decodeSegment reads a string into a caller's
// buffer so that it allocates nothing. It returns the decoded length, or -1.
func decodeSegment(dst []byte, src string) int {
	if len(src)%4 == 1 || len(dst) < decodedLen(len(src)) {
		return -1
	}
	n := 0
	i := 0
	for ; i+4 <= len(src) && n+3 <= len(dst); i += 4 {
		q, out := src[i:i+4], dst[n:n+3] // one bounds check each
		a, b, c, d := b64[q[0]], b64[q[1]], b64[q[2]], b64[q[3]]
		if (a|b|c|d)&invalidBit != 0 {
			return -1
		}
		v := uint32(a)<<18 | uint32(b)<<12 | uint32(c)<<6 | uint32(d)
		out[0], out[1], out[2] = byte(v>>16), byte(v>>8), byte(v)
		n += 3
	}
	switch len(src) - i {
	case 2:
		a, b := b64[src[i]], b64[src[i+1]]
		if (a|b)&invalidBit != 0 || b&0x0f != 0 {
			return -1
		}
		dst[n] = a<<2 | b>>4
		n++
	case 3:
		a, b, c := b64[src[i]], b64[src[i+1]], b64[src[i+2]]
		if (a|b|c)&invalidBit != 0 || c&0x03 != 0 {
			return -1
		}
		v := uint32(a)<<12 | uint32(b)<<6 | uint32(c)
		dst[n], dst[n+1] = byte(v>>10), byte(v>>2)
		n += 2
	}
	return n
}

// decodedLen is the decoded size of n characters of unpadded base64.
func decodedLen(n int) int { return n * 6 / 8 }

// invalid marks a byte outside the alphabet in b64. Valid values are 0..63,
// so the OR of several values has invalidBit set exactly when one of them is
// invalid.
const (
	invalid    = 0xff
	invalidBit = 0x80
)

var b64 = func() (t [256]byte) {
	for i := range t {
		t[i] = invalid
	}
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	for i := 0; i < len(alphabet); i++ {
		t[alphabet[i]] = byte(i)
	}
	return t
}()
