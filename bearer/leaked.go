package bearer

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"math/big"
	"strings"
	"unicode/utf16"
)

// Keys whose private part an issuer published.
//
// A JWKS document that carries a key's private part ("d") is refused, but
// refusing the document is not enough: the verifier keeps its known keys
// while the issuer serves an unusable document, and the leaked key may be
// one of them, or come back later in a document without its "d". Whoever
// read the document can sign with that key, so a JWKSVerifier remembers
// every public key it has seen leaked and never trusts it again.
//
// A leaked key is recognised by its public key, never by its kid: the
// entry carrying "d" may have no kid, or another one. The public key is
// derived from "d" itself (an Ed25519 seed and a P-256 scalar are both 32
// bytes, and the entry's crv may be wrong or missing, so every reading is
// taken). The entry's "x" and "y" are not taken on trust: a "d" that is no
// private key of theirs leaks nothing, and must not make a good key
// untrusted for ever.

// maxLeakedKeys bounds the public keys a JWKSVerifier remembers as leaked:
// a hostile issuer could otherwise grow the set with every fetch. Past it,
// the verifier trusts no key at all (see JWKSVerifier.trusted).
const maxLeakedKeys = 1024

// maxLeakedPerDocument bounds the private parts read from one document, so
// that deriving public keys costs a bounded time; a document publishing
// more is reported as too many, which distrusts every key.
const maxLeakedPerDocument = 64

// leakedPublicKeys returns the public keys, by publicKeyID, of the objects
// of a JWKS document that carry a private part ("d").
//
// It must see every "d" that any reader of the document could, so it reads
// more widely than decodeJWKS and encoding/json: token by token, every
// object at any depth (wherever "keys" is and whatever its type), every
// repeated member, names compared case-insensitively, numbers of any size,
// base64 as leniently as any decoder (see decodeLenientBase64), and
// everything read before a syntax error, in the objects it closed and in
// those still open (a trailing comma, a truncated document), in UTF-16
// or UTF-32 as well as UTF-8, with or without a byte order mark, and with
// the NaN and Infinity that Python's json reads. Past
// maxLeakedPerDocument private parts it stops at once, before deriving
// any key from them, and reports too many, so that no key is trusted.
func leakedPublicKeys(data []byte) (ids []string, tooMany bool) {
	dec := json.NewDecoder(bytes.NewReader(withoutNonFinite(asUTF8(data))))
	dec.UseNumber() // 1e400 is a number to other readers, not an error
	var (
		stack   []*jwkParts // the objects open around the current token
		private int
	)
	for {
		tok, err := dec.Token()
		if err != nil {
			// The end, or a syntax error: what was read counts, in the
			// objects left open too.
			for _, open := range stack {
				ids = append(ids, open.publicKeys()...)
			}
			return ids, false
		}
		var top *jwkParts
		if len(stack) > 0 {
			top = stack[len(stack)-1]
		}
		switch tok {
		case json.Delim('{'):
			if top != nil {
				top.skipValue() // the nested object is its member's value
			}
			stack = append(stack, &jwkParts{})
		case json.Delim('}'):
			stack = stack[:len(stack)-1]
			ids = append(ids, top.publicKeys()...)
		default:
			if top != nil && top.read(tok) {
				if private++; private > maxLeakedPerDocument {
					return nil, true
				}
			}
		}
	}
}

// jwkParts is what leakedPublicKeys gathers from one JSON object: every
// value of its "d" members, base64-decoded.
type jwkParts struct {
	d [][]byte
	// name is the member whose value comes next; inValue says a value
	// comes next rather than a member name (json.Decoder.Token reads both
	// as strings). depth counts the arrays open inside that value.
	name    string
	inValue bool
	depth   int
}

// read takes a token of the object that is not an object's brace: a member
// name, a value, or an array's bracket (an array's elements are no
// member's value of this object). It reports whether the token was a
// private part.
func (p *jwkParts) read(tok json.Token) bool {
	switch {
	case tok == json.Delim('['):
		p.depth++
		return false
	case tok == json.Delim(']'):
		p.depth--
		if p.depth == 0 {
			p.inValue = false
		}
		return false
	case p.depth > 0:
		return false
	case !p.inValue:
		if name, ok := tok.(string); ok {
			p.name, p.inValue = strings.ToLower(name), true
		}
		return false
	}
	p.inValue = false
	value, ok := tok.(string)
	if !ok {
		return false
	}
	// Only a value that decodes counts: a "d" that is no private key
	// leaks nothing, and must not make every key untrusted by its number.
	if p.name != "d" {
		return false
	}
	d := decodeLenientBase64(value)
	if len(d) == 0 {
		return false
	}
	p.d = append(p.d, d)
	return true
}

// skipValue records that the member's value is a nested object (or one
// inside an array), which leakedPublicKeys reads as an object of its own.
func (p *jwkParts) skipValue() {
	if p.depth == 0 {
		p.inValue = false
	}
}

// publicKeys returns the public keys derived from the object's private
// parts.
func (p *jwkParts) publicKeys() []string {
	var ids []string
	for _, d := range p.d {
		ids = append(ids, publicKeysOfPrivate(d)...)
	}
	return ids
}

// asUTF8 returns data in UTF-8: as it is, or converted from UTF-32 or
// UTF-16 (big or little endian, told by a byte order mark or, as Python's
// json.detect_encoding does, by where the zero bytes of the first
// character are), without a byte order mark.
func asUTF8(data []byte) []byte {
	data = bytes.TrimPrefix(data, []byte("\ufeff"))
	var order binary.ByteOrder = binary.LittleEndian
	width := 0
	switch {
	case bytes.HasPrefix(data, []byte{0xff, 0xfe, 0, 0}):
		data, width = data[4:], 4
	case bytes.HasPrefix(data, []byte{0, 0, 0xfe, 0xff}):
		data, width, order = data[4:], 4, binary.BigEndian
	case bytes.HasPrefix(data, []byte{0xff, 0xfe}):
		data, width = data[2:], 2
	case bytes.HasPrefix(data, []byte{0xfe, 0xff}):
		data, width, order = data[2:], 2, binary.BigEndian
	case len(data) >= 4 && data[0] == 0 && data[1] == 0:
		width, order = 4, binary.BigEndian
	case len(data) >= 4 && data[1] == 0 && data[2] == 0 && data[3] == 0:
		width = 4
	case len(data) >= 2 && data[0] == 0:
		width, order = 2, binary.BigEndian
	case len(data) >= 2 && data[1] == 0:
		width = 2
	}
	if width == 0 {
		return data
	}
	var runes []rune
	if width == 4 {
		for ; len(data) >= 4; data = data[4:] {
			runes = append(runes, rune(order.Uint32(data)))
		}
	} else {
		var units []uint16
		for ; len(data) >= 2; data = data[2:] {
			units = append(units, order.Uint16(data))
		}
		runes = utf16.Decode(units)
	}
	return []byte(string(runes))
}

// withoutNonFinite returns data with the bare literals NaN, Infinity and
// -Infinity outside strings replaced by 0, as Python's json reads them as
// numbers where encoding/json stops at them.
func withoutNonFinite(data []byte) []byte {
	out := make([]byte, 0, len(data))
	inString, escaped := false, false
	for i := 0; i < len(data); i++ {
		c := data[i]
		switch {
		case inString:
			inString = escaped || c != '"'
			escaped = !escaped && c == '\\'
		case c == '"':
			inString = true
		default:
			if n := nonFiniteAt(data[i:]); n > 0 {
				out = append(out, '0')
				i += n - 1
				continue
			}
		}
		out = append(out, c)
	}
	return out
}

// nonFiniteAt returns the length of the literal NaN, Infinity or -Infinity
// that b starts with, or 0.
func nonFiniteAt(b []byte) int {
	for _, lit := range []string{"NaN", "Infinity", "-Infinity"} {
		if bytes.HasPrefix(b, []byte(lit)) {
			return len(lit)
		}
	}
	return 0
}

// decodeLenientBase64 decodes s as the most lenient base64 decoders do
// (Node's Buffer.from, Python's b64decode without validation): characters
// outside both alphabets, padding and whitespace included, are dropped, and
// the two alphabets may be mixed. nil if what is left is no base64.
func decodeLenientBase64(s string) []byte {
	kept := make([]byte, 0, len(s))
	for i := range len(s) {
		switch c := s[i]; {
		case 'A' <= c && c <= 'Z', 'a' <= c && c <= 'z', '0' <= c && c <= '9', c == '+', c == '/':
			kept = append(kept, c)
		case c == '-':
			kept = append(kept, '+')
		case c == '_':
			kept = append(kept, '/')
		}
	}
	b, err := base64.RawStdEncoding.DecodeString(string(kept))
	if err != nil {
		return nil
	}
	return b
}

// p256Order is n, the order of P-256's base point.
var p256Order = elliptic.P256().Params().N

// publicKeysOfPrivate returns the public keys that d may be the private
// part of: read as an Ed25519 seed (or as the seed half of a 64-byte seed
// and public key, as some libraries spell it: the public half is not taken
// on trust), and as a P-256 scalar, as an integer of any length reduced
// mod n (an encoder may drop leading zeros, or add one, as Java's
// BigInteger does; a library that reduces d signs with d mod n).
func publicKeysOfPrivate(d []byte) []string {
	var ids []string
	switch len(d) {
	case ed25519.SeedSize, ed25519.PrivateKeySize:
		ids = append(ids, publicKeyID(ed25519.NewKeyFromSeed(d[:ed25519.SeedSize]).Public()))
	}
	if len(d) <= 2*32 {
		scalar := new(big.Int).Mod(new(big.Int).SetBytes(d), p256Order)
		if priv, err := ecdsa.ParseRawPrivateKey(elliptic.P256(), scalar.FillBytes(make([]byte, 32))); err == nil {
			ids = append(ids, publicKeyID(&priv.PublicKey))
		}
	}
	return ids
}

// publicKeyID identifies a public key by its type and encoding; "" for a
// key that is neither Ed25519 nor ECDSA.
func publicKeyID(pub any) string {
	switch k := pub.(type) {
	case ed25519.PublicKey:
		return "ed25519:" + string(k)
	case *ecdsa.PublicKey:
		raw, err := k.Bytes()
		if err != nil {
			return ""
		}
		return "ecdsa:" + string(raw)
	}
	return ""
}
