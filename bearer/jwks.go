package bearer

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strings"

	"github.com/tidegate/tidegate/middleware"
)

// jwk is one JSON Web Key (RFC 7517 §4) of the kinds tidegate publishes and
// reads: OKP/Ed25519 (RFC 8037 §2) and EC/P-256 (RFC 7518 §6.2).
type jwk struct {
	Kty string `json:"kty"`
	Crv string `json:"crv,omitempty"`
	X   string `json:"x,omitempty"`
	Y   string `json:"y,omitempty"`
	Kid string `json:"kid"`
	Alg string `json:"alg,omitempty"`
	Use string `json:"use,omitempty"`
	// KeyOps is read only: a key whose key_ops leave out "verify" is not a
	// verification key (RFC 7517 §4.3), whatever its use says.
	KeyOps []string `json:"key_ops,omitempty"`
	// Read only to refuse keys that carry private or symmetric material.
	D string `json:"d,omitempty"`
	K string `json:"k,omitempty"`
}

type jwkSet struct {
	Keys []jwk `json:"keys"`
}

// jwkNames and jwkSetNames are the JSON names of jwk's and jwkSet's members
// (TestExactNamesCoverTheStructs keeps them in step with the struct tags).
var (
	jwkNames    = []string{"kty", "crv", "x", "y", "kid", "alg", "use", "key_ops", "d", "k"}
	jwkSetNames = []string{"keys"}
)

// UnmarshalJSON decodes a JWK with exact member names (see unmarshalExact):
// a "USE":"sig" must not overrule "use":"enc", and an unknown member such as
// "D" is ignored (RFC 7517 §4), not read as private material.
func (j *jwk) UnmarshalJSON(data []byte) error {
	type plain jwk // without this method
	_, err := unmarshalExact(data, (*plain)(j), jwkNames)
	return err
}

// UnmarshalJSON decodes a JWK Set with exact member names.
func (s *jwkSet) UnmarshalJSON(data []byte) error {
	type plain jwkSet
	_, err := unmarshalExact(data, (*plain)(s), jwkSetNames)
	return err
}

// encodeJWKS returns the JWKS document of the public keys of set, sorted by
// kid. HS256 keys are never published; a set of HS256 keys only gives an
// empty document.
func encodeJWKS(set *KeySet) ([]byte, error) {
	doc := jwkSet{Keys: []jwk{}}
	for _, k := range set.byID {
		if j, ok := publicJWK(k); ok {
			doc.Keys = append(doc.Keys, j)
		}
	}
	slices.SortFunc(doc.Keys, func(a, b jwk) int { return strings.Compare(a.Kid, b.Kid) })
	body, err := json.Marshal(doc)
	if err != nil {
		return nil, err
	}
	return append(body, '\n'), nil
}

func publicJWK(k *Key) (jwk, bool) {
	enc := base64.RawURLEncoding.EncodeToString
	switch pub := k.public.(type) {
	case ed25519.PublicKey:
		return jwk{Kty: "OKP", Crv: "Ed25519", X: enc(pub), Kid: k.id, Alg: EdDSA, Use: "sig"}, true
	case *ecdsa.PublicKey:
		point, err := pub.Bytes() // 0x04 || X || Y, 32 bytes each on P-256
		if err != nil {
			return jwk{}, false
		}
		return jwk{Kty: "EC", Crv: "P-256", X: enc(point[1:33]), Y: enc(point[33:]), Kid: k.id, Alg: ES256, Use: "sig"}, true
	}
	return jwk{}, false
}

// JWKSHandler serves the JWKS document of the service's public keys, for
// GET /.well-known/jwks.json (RFC 7517 §5, RFC 8414 jwks_uri), so that other
// services can verify tokens with NewJWKSVerifier. Only EdDSA and ES256
// keys are published, never an HS256 secret; with HS256 keys only the
// document has no keys. Mount it for every method, not under a pattern
// such as "GET /.well-known/jwks.json": it answers the methods other than
// GET and HEAD 405 in JSON itself, where the router would answer them in
// its own shape.
func (s *Service) JWKSHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			writeMethodNotAllowed(w, "GET, HEAD") // as the endpoints answer it
			return
		}
		if !s.built() {
			// No keys to publish: an empty document, publicly cacheable,
			// would tell other services there are none for five minutes.
			w.Header().Set("Cache-Control", "no-store")
			middleware.JSONRenderer(w, r, middleware.AsError(notBuilt("Service")))
			return
		}
		w.Header().Set("Cache-Control", "public, max-age=300")
		w.Header().Set("Content-Type", "application/jwk-set+json")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		_, _ = w.Write(s.jwks)
	})
}

// maxJWKSKeys bounds the keys read from a JWKS document.
const maxJWKSKeys = 64

var errJWKS = errors.New("bearer: unusable JWKS document")

// decodeJWKS reads a JWKS document into keys by kid. Keys of other types,
// curves, algorithms or uses are skipped; a key that carries private or
// symmetric material, a duplicate kid, a kid tidegate would not issue, or a
// malformed or off-curve point makes the whole document unusable: it is the
// issuer's mistake, and guessing would be worse.
func decodeJWKS(data []byte) (map[string]*Key, error) {
	var doc jwkSet
	if err := json.Unmarshal(data, &doc); err != nil || doc.Keys == nil || len(doc.Keys) > maxJWKSKeys {
		return nil, errJWKS
	}
	keys := map[string]*Key{}
	for _, j := range doc.Keys {
		k, err := j.key()
		if err != nil {
			return nil, err
		}
		if k == nil {
			continue
		}
		if _, dup := keys[k.id]; dup {
			return nil, errJWKS
		}
		keys[k.id] = k
	}
	return keys, nil
}

// key returns the verification key of j, nil for a key tidegate does not
// use (another type, curve, algorithm, use or key_ops, or no kid to select
// it by), or
// an error for a key it must not use.
func (j *jwk) key() (*Key, error) {
	if j.D != "" || j.K != "" || j.Kty == "oct" {
		return nil, errJWKS // never accept secret material from a document
	}
	if j.Kid == "" || j.Use != "" && j.Use != "sig" || j.KeyOps != nil && !slices.Contains(j.KeyOps, "verify") {
		return nil, nil
	}
	dec := base64.RawURLEncoding.Strict().DecodeString
	switch {
	case j.Kty == "OKP" && j.Crv == "Ed25519" && (j.Alg == "" || j.Alg == EdDSA):
		x, err := dec(j.X)
		if err != nil || len(x) != ed25519.PublicKeySize {
			return nil, errJWKS
		}
		return checkedKey(NewEd25519VerificationKey(j.Kid, x))
	case j.Kty == "EC" && j.Crv == "P-256" && (j.Alg == "" || j.Alg == ES256):
		x, errX := dec(j.X)
		y, errY := dec(j.Y)
		if errX != nil || errY != nil || len(x) != 32 || len(y) != 32 {
			return nil, errJWKS
		}
		pub, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), append(append([]byte{4}, x...), y...))
		if err != nil {
			return nil, errJWKS // not a point on the curve
		}
		return checkedKey(NewES256VerificationKey(j.Kid, pub))
	}
	return nil, nil // RSA, other curves, mismatched alg: never used
}

// checkedKey turns a key constructor's error (such as a kid tidegate would
// not issue) into errJWKS.
func checkedKey(k *Key, err error) (*Key, error) {
	if err != nil {
		return nil, errJWKS
	}
	return k, nil
}
