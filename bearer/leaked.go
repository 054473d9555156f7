package bearer

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"encoding/base64"
	"encoding/json"
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
// repeated member, names compared case-insensitively, base64 with either
// alphabet and with or without padding, and everything read before a
// syntax error (a trailing comma, text after the document) or after a
// byte order mark. Past maxLeakedPerDocument private parts it stops and
// reports too many, so that no key is trusted.
func leakedPublicKeys(data []byte) (ids []string, tooMany bool) {
	dec := json.NewDecoder(bytes.NewReader(bytes.TrimPrefix(data, []byte("\ufeff"))))
	var (
		stack   []*jwkParts // the objects open around the current token
		private int
	)
	for {
		tok, err := dec.Token()
		if err != nil {
			return ids, false // the end, or a syntax error: what was read counts
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
			private += len(top.d)
			if private > maxLeakedPerDocument {
				return nil, true
			}
			ids = append(ids, top.publicKeys()...)
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
	if p.name == "d" {
		p.d = append(p.d, decodeAnyBase64(value))
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

// decodeAnyBase64 decodes s in the base64url or the standard alphabet,
// with or without padding; nil if it is neither.
func decodeAnyBase64(s string) []byte {
	for _, enc := range []*base64.Encoding{base64.RawURLEncoding, base64.URLEncoding, base64.RawStdEncoding, base64.StdEncoding} {
		if b, err := enc.DecodeString(s); err == nil {
			return b
		}
	}
	return nil
}

// publicKeysOfPrivate returns the public keys that d may be the private
// part of: read as an Ed25519 seed (or as a 64-byte seed and public key,
// as some libraries spell it) and as a P-256 scalar (left-padded, as a
// sloppy encoder may drop its leading zeros).
func publicKeysOfPrivate(d []byte) []string {
	var ids []string
	switch len(d) {
	case ed25519.SeedSize:
		ids = append(ids, publicKeyID(ed25519.NewKeyFromSeed(d).Public()))
	case ed25519.PrivateKeySize:
		ids = append(ids, publicKeyID(ed25519.NewKeyFromSeed(d[:ed25519.SeedSize]).Public()),
			publicKeyID(ed25519.PublicKey(d[ed25519.SeedSize:])))
	}
	if len(d) > 0 && len(d) <= 32 {
		scalar := make([]byte, 32)
		copy(scalar[32-len(d):], d)
		if priv, err := ecdsa.ParseRawPrivateKey(elliptic.P256(), scalar); err == nil {
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
