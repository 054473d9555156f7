package middleware_test

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/tidegate/tidegate/middleware"
)

func TestNewToken(t *testing.T) {
	const n = 10_000
	seen := make(map[string]struct{}, n)
	digests := make(map[middleware.TokenDigest]struct{}, n)
	for range n {
		tok := middleware.NewToken()
		require.Len(t, tok, 43)
		for _, c := range tok {
			require.True(t, c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_',
				"%q is not URL-safe base64", c)
		}
		require.True(t, middleware.IsToken68(tok))
		raw, err := base64.RawURLEncoding.Strict().DecodeString(tok)
		require.NoError(t, err)
		require.Len(t, raw, middleware.TokenBytes)
		seen[tok] = struct{}{}
		digests[middleware.DigestToken(tok)] = struct{}{}
	}
	assert.Len(t, seen, n, "all tokens distinct")
	assert.Len(t, digests, n, "all digests distinct")
	assert.Equal(t, 32, middleware.TokenBytes, "256 bits")
}

func TestDigestToken(t *testing.T) {
	// FIPS 180-2 test vector for "abc".
	const abc = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
	d := middleware.DigestToken("abc")
	assert.Equal(t, abc, d.String())
	assert.Equal(t, middleware.TokenDigest(sha256.Sum256([]byte("abc"))), d)
	assert.Equal(t, d, middleware.DigestToken("abc"), "deterministic")
	assert.NotEqual(t, d, middleware.DigestToken("abd"))
	assert.NotEqual(t, d, middleware.DigestToken("ABC"))

	tok := middleware.NewToken()
	s := middleware.DigestToken(tok).String()
	assert.Len(t, s, 64)
	assert.Equal(t, strings.ToLower(s), s)
	_, err := hex.DecodeString(s)
	require.NoError(t, err)
	assert.NotContains(t, s, tok)
	assert.Equal(t, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", middleware.DigestToken("").String())
}
