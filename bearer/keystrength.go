package bearer

import (
	"bytes"
	"errors"
	"math"
)

// Bounds of an HS256 secret.
const (
	// minSecretBytes is RFC 7518 §3.2: a key of the same size as the hash
	// output or larger.
	minSecretBytes = 32
	// maxSecretBytes bounds the secret, and the cost of checking it.
	maxSecretBytes = 1024
	// minSecretBits is the strength estimate an HS256 secret needs.
	minSecretBits = 128
)

// Errors of CheckHMACSecret.
var (
	// ErrShortSecret: the secret is under 32 bytes or over 1024.
	ErrShortSecret = errors.New("bearer: HS256 secret must be 32 to 1024 bytes")
	// ErrWeakSecret: the secret looks like a password or a pattern, not
	// like random bytes.
	ErrWeakSecret = errors.New("bearer: HS256 secret looks like a password or a pattern; use 32 random bytes (bearer.GenerateKey, or openssl rand -base64 32)")
)

// CheckHMACSecret tells whether secret is fit to sign HS256 tokens. A
// guessable HMAC secret lets anyone forge tokens offline from one token
// they hold, so the rule is deliberately strict (RFC 8725 §3.5, OWASP ASVS
// 6.2.x). The secret must be 32 to 1024 bytes long, and:
//
//  1. Its estimated strength must be at least 128 bits: its length times
//     log2 of the smallest alphabet that covers it, among decimal digits
//     (10), hex digits (16), base64 characters (64), printable ASCII (95)
//     and bytes (256). 32 random bytes or 32 hex digits pass; 32 decimal
//     digits do not.
//  2. It must use about as many distinct characters as a random string of
//     that alphabet and length would: more than the count that a random
//     secret shows with probability under one in ten million (computed
//     exactly). Words, names and repetitions fall short: a 37-character
//     lowercase passphrase shows some 16 distinct letters where random
//     base64 shows 28; at most one random secret in ten million is refused
//     (GenerateKey draws again when it happens).
//  3. It must not be a block repeated ("password1password1...").
//  4. At most three quarters of its neighbouring characters may step by
//     exactly one ("abcdefgh...", "12345678...") or be neighbours on a
//     keyboard row ("qwertyuiopasdfghjkl...").
//  5. It must not contain, in any case, a word that placeholder and
//     tutorial secrets are made of: "secret", "password", "changeme",
//     "example" ("ThisIsMySuperSecretKeyForJWTTokens2024"). The words are
//     six letters or more, so that chance rarely puts one in a random
//     secret: 44 random base64 characters (openssl rand -base64 32)
//     contain one with probability about 4 in 100 million.
//
// The rule catches passwords and patterns; it cannot prove a secret random.
// Generate secrets with crypto/rand.
func CheckHMACSecret(secret []byte) error {
	n := len(secret)
	if n < minSecretBytes || n > maxSecretBytes {
		return ErrShortSecret
	}
	alphabet := alphabetSize(secret)
	if float64(n)*math.Log2(float64(alphabet)) < minSecretBits {
		return ErrWeakSecret
	}
	if distinctBytes(secret) <= distinctThreshold(alphabet, n) {
		return ErrWeakSecret
	}
	if periodic(secret) || sequential(secret) || hasPlaceholderWord(secret) {
		return ErrWeakSecret
	}
	return nil
}

// alphabetSize returns the size of the smallest standard alphabet that
// covers every byte of b.
func alphabetSize(b []byte) int {
	decimal, hex, b64, printable := true, true, true, true
	for _, c := range b {
		isDigit := '0' <= c && c <= '9'
		isHexLetter := 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
		isLetter := 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z'
		decimal = decimal && isDigit
		hex = hex && (isDigit || isHexLetter)
		b64 = b64 && (isDigit || isLetter || c == '+' || c == '/' || c == '-' || c == '_' || c == '=')
		printable = printable && c >= 0x20 && c <= 0x7e
	}
	switch {
	case decimal:
		return 10
	case hex:
		return 16
	case b64:
		return 64
	case printable:
		return 95
	}
	return 256
}

// maxRefusalRate is the probability with which CheckHMACSecret may refuse a
// secret drawn uniformly from its alphabet.
const maxRefusalRate = 1e-7

// distinctThreshold returns the largest k such that n uniform draws from an
// alphabet of a symbols show at most k distinct symbols with probability
// under maxRefusalRate (-1 if there is none). The distribution of the
// distinct count is computed exactly: after each draw, the count stays
// (the symbol was seen: probability j/a) or grows by one.
func distinctThreshold(a, n int) int {
	p := make([]float64, a+1)
	p[0] = 1
	for i := 1; i <= n; i++ {
		for j := min(i, a); j >= 1; j-- {
			p[j] = p[j]*float64(j)/float64(a) + p[j-1]*float64(a-j+1)/float64(a)
		}
		p[0] = 0
	}
	k, cdf := -1, 0.0
	for j := 0; j <= a; j++ {
		if cdf += p[j]; cdf >= maxRefusalRate {
			break
		}
		k = j
	}
	return k
}

func distinctBytes(b []byte) int {
	var seen [256]bool
	n := 0
	for _, c := range b {
		if !seen[c] {
			seen[c] = true
			n++
		}
	}
	return n
}

// periodic reports whether b is one block repeated: b[p:] == b[:len-p] for
// some period p of at most half its length.
func periodic(b []byte) bool {
	for p := 1; p <= len(b)/2; p++ {
		if bytes.Equal(b[p:], b[:len(b)-p]) {
			return true
		}
	}
	return false
}

// sequential reports whether more than three quarters of b's neighbouring
// bytes differ by exactly one or are neighbours on a keyboard row.
func sequential(b []byte) bool {
	steps := 0
	for i := 1; i < len(b); i++ {
		if d := int(b[i]) - int(b[i-1]); d == 1 || d == -1 || keyboardNeighbours(b[i-1], b[i]) {
			steps++
		}
	}
	return 4*steps > 3*(len(b)-1)
}

// keyPosition is, for each letter and digit, 16 times its row on a QWERTY
// keyboard (from 1) plus its column; 0 for every other byte. Upper-case
// letters share their lower-case key.
var keyPosition = func() (pos [256]byte) {
	for row, keys := range []string{"1234567890", "qwertyuiop", "asdfghjkl", "zxcvbnm"} {
		for col, c := range []byte(keys) {
			pos[c] = byte(16*(row+1) + col)
			if 'a' <= c && c <= 'z' {
				pos[c-'a'+'A'] = pos[c]
			}
		}
	}
	return pos
}()

// keyboardNeighbours reports whether a and b are next to each other on a
// keyboard row.
func keyboardNeighbours(a, b byte) bool {
	pa, pb := int(keyPosition[a]), int(keyPosition[b])
	return pa != 0 && pb != 0 && (pa-pb == 1 || pb-pa == 1) && pa/16 == pb/16
}

// placeholderWords are what placeholder and tutorial secrets are made of;
// see CheckHMACSecret, rule 5, for why each has six letters or more.
var placeholderWords = [][]byte{[]byte("secret"), []byte("password"), []byte("changeme"), []byte("example")}

// hasPlaceholderWord reports whether b contains a placeholder word, in any
// case.
func hasPlaceholderWord(b []byte) bool {
	lower := bytes.ToLower(b)
	for _, w := range placeholderWords {
		if bytes.Contains(lower, w) {
			return true
		}
	}
	return false
}
