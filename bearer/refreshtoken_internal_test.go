package bearer

import (
	"encoding/base64"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"github.com/tidegate/tidegate/middleware"
)

// base64URLAlphabet is RFC 4648 §5's alphabet, in value order.
const base64URLAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"

// newTokenShape is the fuzz oracle of validRefreshToken, written without
// encoding/base64: what middleware.NewToken produces is exactly
// middleware.TokenBytes (32) bytes in unpadded base64url, that is 43
// characters of the alphabet, the last of which carries 2 bits of the
// final byte and 4 zero bits (so its value is a multiple of 4).
func newTokenShape(s string) bool {
	if len(s) != 43 {
		return false
	}
	for i := range len(s) {
		v := strings.IndexByte(base64URLAlphabet, s[i])
		if v < 0 || i == len(s)-1 && v%4 != 0 {
			return false
		}
	}
	return true
}

// FuzzValidRefreshToken fuzzes the refresh endpoint's shape check of the
// refresh_token member (validRefreshToken, run before the token is hashed
// and looked up). It must accept exactly the strings middleware.NewToken
// can produce: 43 characters of canonical base64url, checked against an
// oracle that does not use encoding/base64; an accepted string decodes to
// middleware.TokenBytes bytes that encode back to it; and the encoding of
// any 32 bytes (the fuzz input's, zero-padded) is accepted, so no token
// NewToken issues is ever refused.
func FuzzValidRefreshToken(f *testing.F) {
	f.Add(middleware.NewToken())
	f.Fuzz(func(t *testing.T, s string) {
		got := validRefreshToken(s)
		require.Equal(t, newTokenShape(s), got, "%q", s)
		if got {
			raw, err := base64.RawURLEncoding.DecodeString(s)
			require.NoError(t, err)
			require.Len(t, raw, middleware.TokenBytes)
			require.Equal(t, s, base64.RawURLEncoding.EncodeToString(raw))
		}
		var b [middleware.TokenBytes]byte
		copy(b[:], s)
		issued := base64.RawURLEncoding.EncodeToString(b[:])
		require.True(t, validRefreshToken(issued), "a token NewToken could issue is refused: %q", issued)
	})
}
