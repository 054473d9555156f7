package basicauth

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"

	"github.com/tidegate/tidegate/internal/withheld"
)

// Token formats.
const (
	// AppTokenLen is the length of an app token: 32 lowercase hex
	// characters, 128 bits from crypto/rand.
	AppTokenLen = 32
	// BackendTokenLen is the length of a backend token: 44 lowercase hex
	// characters, 176 bits from crypto/rand, drawn independently of the app
	// token (app tokens ship inside client apps, so nothing may be derived
	// from them).
	BackendTokenLen = 44
	// MaxUserIDBytes bounds the user-id part of backend credentials; a
	// longer one is refused as an unknown user without any lookup.
	MaxUserIDBytes = 256
)

// AppTokens are an app's two tokens in plain text. They are shown once, when
// made; registries keep their digests only.
type AppTokens struct {
	AppToken     string
	BackendToken string
}

// String shows which tokens are set, never the tokens: whoever holds the
// backend token acts as any user of the app.
func (t AppTokens) String() string {
	return "basicauth.AppTokens{AppToken:" + withheld.Secret(t.AppToken) +
		" BackendToken:" + withheld.Secret(t.BackendToken) + "}"
}

// Format implements fmt.Formatter so that every verb, %#v included, prints
// String.
func (t AppTokens) Format(f fmt.State, _ rune) { _, _ = io.WriteString(f, t.String()) }

// LogValue implements slog.LogValuer: never the tokens. Its receiver is a
// value, as for Tokens in package bearer, with the same limits:
// encoding/json still encodes every field, for your own responses, and
// slog's JSON handler uses encoding/json, not LogValue, for AppTokens held
// in a slice, map or struct: log them on their own.
func (t AppTokens) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("app_token", withheld.Secret(t.AppToken)),
		slog.String("backend_token", withheld.Secret(t.BackendToken)),
	)
}

// NewAppTokens draws a fresh, independent pair of app and backend tokens.
func NewAppTokens() AppTokens {
	return AppTokens{AppToken: newHexToken(AppTokenLen), BackendToken: newHexToken(BackendTokenLen)}
}

// newToken returns a fresh token of type t.
func newToken(t TokenType) string {
	if t == BackendToken {
		return newHexToken(BackendTokenLen)
	}
	return newHexToken(AppTokenLen)
}

// newHexToken returns n lowercase hex characters (n even) from crypto/rand,
// which never fails on supported platforms (it stops the program rather
// than return a guessable token).
func newHexToken(n int) string {
	b := make([]byte, n/2)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// newUserID returns a fresh 128-bit user id in lowercase hex.
func newUserID() string { return newHexToken(32) }

// isLowerHex reports whether s is exactly n lowercase hex characters. It
// looks at every character (no early exit), so its time depends on len(s)
// only.
func isLowerHex(s string, n int) bool {
	if len(s) != n {
		return false
	}
	ok := true
	for i := 0; i < len(s); i++ {
		c := s[i]
		hexDigit := '0' <= c && c <= '9' || 'a' <= c && c <= 'f'
		ok = ok && hexDigit
	}
	return ok
}
