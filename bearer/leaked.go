package bearer

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"encoding/base64"
	"encoding/json"
	"math/big"
	"strings"
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
// those still open (a trailing comma, a truncated document), or after a
// byte order mark. Past maxLeakedPerDocument private parts it stops and
// reports too many, so that no key is trusted.
func leakedPublicKeys(data []byte) (ids []string, tooMany bool) {
	dec := json.NewDecoder(bytes.NewReader(bytes.TrimPrefix(data, []byte("\ufeff"))))
	dec.UseNumber() // 1e400 is a number to other readers, not an error
	var (
		stack   []*jwkParts // the objects open around the current token
		private int
	)
	// closeObject gathers what an object holds, when it closes or when the
	// document ends with it open. It reports false past the bound.
	closeObject := func(p *jwkParts) bool {
		private += len(p.d)
		ids = append(ids, p.publicKeys()...)
		return private <= maxLeakedPerDocument
	}
	for {
		tok, err := dec.Token()
		if err != nil {
			// The end, or a syntax error: what was read counts, in the
			// objects left open too.
			for _, open := range stack {
				if !closeObject(open) {
					return nil, true
				}
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
			if !closeObject(top) {
				return nil, true
			}
		default:
			if top != nil {
				top.read(tok)
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
// member's value of this object).
func (p *jwkParts) read(tok json.Token) {
	switch {
	case tok == json.Delim('['):
		p.depth++
		return
	case tok == json.Delim(']'):
		p.depth--
		if p.depth == 0 {
			p.inValue = false
		}
		return
	case p.depth > 0:
		return
	case !p.inValue:
		if name, ok := tok.(string); ok {
			p.name, p.inValue = strings.ToLower(name), true
		}
		return
	}
	p.inValue = false
	value, ok := tok.(string)
	if !ok {
		return
	}
	// Only a value that decodes counts: a "d" that is no private key
	// leaks nothing, and must not make every key untrusted by its number.
	if p.name == "d" {
		if d := decodeLenientBase64(value); len(d) > 0 {
			p.d = append(p.d, d)
		}
	}
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
