package bearer

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"encoding/base64"
	"encoding/json"
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
// A leaked key is recognised by its public key, never by its kid alone: the
// entry carrying "d" may have no kid, or another one. The public key is
// derived from "d" itself (an Ed25519 seed and a P-256 scalar are both 32
// bytes, and the entry's crv may be wrong or missing, so both readings are
// taken), and the entry's "x" and "y" are taken as well. Each entry is read
// on its own, so that a mistake elsewhere in the document does not hide it.

// maxLeakedKeys bounds the public keys a JWKSVerifier remembers as leaked:
// a hostile issuer could otherwise grow the set with every fetch. Past it,
// the verifier trusts no key at all (see JWKSVerifier.distrusts).
const maxLeakedKeys = 1024

// leakedPublicKeys returns the public keys, by publicKeyID, of the entries
// of a JWKS document that carry private or symmetric material.
func leakedPublicKeys(data []byte) []string {
	var doc struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if json.Unmarshal(data, &doc) != nil {
		return nil
	}
	var ids []string
	for _, raw := range doc.Keys {
		var entry map[string]json.RawMessage
		if json.Unmarshal(raw, &entry) != nil {
			continue
		}
		d, hasD := entryMember(entry, "d")
		if !hasD {
			continue
		}
		ids = append(ids, publicKeysOfPrivate(d)...)
		x, _ := entryMember(entry, "x")
		y, _ := entryMember(entry, "y")
		ids = append(ids, publicKeysOfParts(x, y)...)
	}
	return ids
}

// entryMember returns entry's member name decoded from base64url, and whether
// the entry has it at all (whatever its type).
func entryMember(entry map[string]json.RawMessage, name string) ([]byte, bool) {
	raw, ok := entry[name]
	if !ok {
		return nil, false
	}
	var s string
	if json.Unmarshal(raw, &s) != nil {
		return nil, true
	}
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return nil, true
	}
	return b, true
}

// publicKeysOfPrivate returns the public keys that d is the private part
// of, read as an Ed25519 seed and as a P-256 scalar.
func publicKeysOfPrivate(d []byte) []string {
	if len(d) != ed25519.SeedSize {
		return nil
	}
	ids := []string{publicKeyID(ed25519.NewKeyFromSeed(d).Public())}
	if priv, err := ecdsa.ParseRawPrivateKey(elliptic.P256(), d); err == nil {
		ids = append(ids, publicKeyID(&priv.PublicKey))
	}
	return ids
}

// publicKeysOfParts returns the public keys an entry's x (and y) name.
func publicKeysOfParts(x, y []byte) []string {
	switch {
	case len(x) == ed25519.PublicKeySize && y == nil:
		return []string{publicKeyID(ed25519.PublicKey(x))}
	case len(x) == 32 && len(y) == 32:
		pub, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), append(append([]byte{4}, x...), y...))
		if err == nil {
			return []string{publicKeyID(pub)}
		}
	}
	return nil
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
