package middleware

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
)

// TokenBytes is the entropy of tokens made by NewToken: 256 bits, well above
// the 128 bits OWASP ASVS 3.2.2 asks of session tokens.
const TokenBytes = 32

// NewToken returns a fresh opaque token: TokenBytes from crypto/rand,
// base64url without padding (43 characters, URL-safe and a valid token68).
// crypto/rand.Read never fails on supported platforms; if it did, the
// program stops rather than issue a guessable token.
func NewToken() string {
	var b [TokenBytes]byte
	_, _ = rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// TokenDigest is the SHA-256 of a token. Stores keep digests only, so a copy
// of a store cannot be replayed as credentials.
type TokenDigest [sha256.Size]byte

// DigestToken returns the digest under which a token is stored.
func DigestToken(token string) TokenDigest { return sha256.Sum256([]byte(token)) }

// String returns the digest in lowercase hex.
func (d TokenDigest) String() string { return hex.EncodeToString(d[:]) }
