package bearer_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"encoding/base64"
	"fmt"
	"log/slog"
	"math/big"
	"net/http"
	"strings"
	"testing"
	"time"
	"unicode/utf16"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/require"
	"github.com/tidegate/tidegate/bearer"
	"github.com/tidegate/tidegate/middleware"
)

// A JWKS document that publishes a key's private part ("d"): whoever reads
// it can sign with that key, so a JWKSVerifier must stop trusting it at
// once and for good (see bearer/leaked.go).

// leakFixture is an issuer signing with ed1, and a JWKSVerifier reading
// its document (refetched at most once a second) that has verified and
// cached one of its tokens.
type leakFixture struct {
	t       *testing.T
	issuer  *env
	es1     *ecdsa.PrivateKey // the issuer's P-256 key, published too
	srv     *jwksServer
	v       *bearer.JWKSVerifier
	h       http.Handler
	earlier string // verified and cached before any leak
}

func newLeakFixture(t *testing.T, opts ...bearer.JWKSOption) *leakFixture {
	issuer, es1 := asymmetricEnv(t)
	srv := newJWKSServer(t, issuer.svc.JWKSHandler())
	v, h := newJWKSVerifier(t, issuer, srv.URL, append([]bearer.JWKSOption{bearer.WithRefetchInterval(time.Second)}, opts...)...)
	f := &leakFixture{t: t, issuer: issuer, es1: es1, srv: srv, v: v, h: h}
	f.earlier = issuer.authenticate(t, "mary@example.com").AccessToken
	require.Equal(t, http.StatusOK, get(h, f.earlier).Code)
	require.Equal(t, http.StatusOK, get(h, f.earlier).Code, "cached")
	return f
}

// publish makes the issuer serve doc, and the verifier fetch it.
func (f *leakFixture) publish(doc string) {
	f.srv.set(serveString(http.StatusOK, doc))
	f.refetch()
}

// republishOwnKeys makes the issuer serve its own document again (ed1
// listed without "d"), and the verifier fetch it.
func (f *leakFixture) republishOwnKeys() {
	f.srv.set(f.issuer.svc.JWKSHandler())
	f.refetch()
}

// refetch makes the verifier fetch the document, as anybody can: past the
// refetch interval, with a token naming a kid it does not know.
func (f *leakFixture) refetch() {
	before := f.srv.fetches.Load()
	f.issuer.clock.Advance(2 * time.Second)
	_, _ = f.v.Verify(f.t.Context(), middleware.Credential{Kind: bearer.Kind, Token: f.unknownKid()})
	require.Equal(f.t, before+1, f.srv.fetches.Load(), "the document was fetched")
}

func (f *leakFixture) unknownKid() string {
	return forge(f.t, jwt.SigningMethodEdDSA, edPrivate, map[string]any{"kid": "unknown"}, validClaims(f.issuer.clock.Now()))
}

// forgedAdmin is a token for u-admin signed with ed1's private key, as
// anybody who read a leaking document can make.
func (f *leakFixture) forgedAdmin() string {
	return f.forgedAdminWith(jwt.SigningMethodEdDSA, edPrivate, edKID)
}

// forgedAdminWith is forgedAdmin with another of the issuer's keys.
func (f *leakFixture) forgedAdminWith(method jwt.SigningMethod, key any, kid string) string {
	claims := validClaims(f.issuer.clock.Now())
	claims["sub"], claims["roles"], claims["jti"] = "u-admin", []string{"admin"}, "attacker"
	return forge(f.t, method, key, map[string]any{"kid": kid}, claims)
}

// requireEd1Distrusted fails unless ed1 is no longer trusted: neither a
// token forged with it nor one verified and cached before.
func (f *leakFixture) requireEd1Distrusted() {
	f.t.Helper()
	require.NotEqual(f.t, http.StatusOK, get(f.h, f.forgedAdmin()).Code, "a token forged with the published private key")
	require.NotEqual(f.t, http.StatusOK, get(f.h, f.earlier).Code, "a token verified with the leaked key, cached before the leak")
}

// TestALeakedKeyIsDistrusted: each document publishes ed1's private part,
// in a spelling decodeJWKS refuses, with or without a kid that names it,
// beside a mistake of another entry, or read by any JSON reader's rules
// (repeated or differently cased members, a syntax error after the entry,
// a byte order mark, "keys" as an object, padded base64, a 64-byte d).
func TestALeakedKeyIsDistrusted(t *testing.T) {
	x, d := b64.EncodeToString(edPublic), b64.EncodeToString(edSeed)
	padded := base64.URLEncoding.EncodeToString
	entry := `{"kty":"OKP","crv":"Ed25519","kid":"ed1","alg":"EdDSA","use":"sig","x":"` + x + `","d":"` + d + `"}`
	for name, doc := range map[string]string{
		"as published":              `{"keys":[` + entry + `]}`,
		"no kid":                    `{"keys":[{"kty":"OKP","crv":"Ed25519","x":"` + x + `","d":"` + d + `"}]}`,
		"another kid":               `{"keys":[{"kty":"OKP","crv":"Ed25519","kid":"ed1-backup","x":"` + x + `","d":"` + d + `"}]}`,
		"another entry malformed":   `{"keys":[` + entry + `,{"kty":"OKP","crv":"Ed25519","kid":"ed2","key_ops":"verify","x":"` + x + `"}]}`,
		"keys repeated, last empty": `{"keys":[` + entry + `],"keys":[]}`,
		"Keys after keys":           `{"keys":[` + entry + `],"Keys":[]}`,
		"trailing comma":            `{"keys":[` + entry + `,]}`,
		"text after the document":   `{"keys":[` + entry + `]}` + "\n}",
		"byte order mark":           "\ufeff" + `{"keys":[` + entry + `]}`,
		"keys is an object":         `{"keys":{"ed1":` + entry + `}}`,
		"padded base64":             `{"keys":[{"kty":"OKP","crv":"Ed25519","kid":"ed1","x":"` + padded(edPublic) + `","d":"` + padded(edSeed) + `"}]}`,
		"d repeated, last empty":    `{"keys":[{"kty":"OKP","crv":"Ed25519","kid":"ed1","x":"` + x + `","d":"` + d + `","x":"","d":""}]}`,
		"d is seed and public key":  `{"keys":[{"kty":"OKP","crv":"Ed25519","kid":"ed1","d":"` + b64.EncodeToString(edPrivate) + `"}]}`,
		// A number out of float64's range is Infinity to JSON.parse and
		// inf to Python, which read on; so does the scan.
		"a huge number before keys":  `{"exp":1e400,"keys":[` + entry + `]}`,
		"a huge number in the entry": `{"keys":[{"n":-1e999,` + entry[1:] + `]}`,
		// Python's json (PyJWT's JWKS client) reads NaN and Infinity.
		"NaN before d":       `{"keys":[{"n":NaN,` + entry[1:] + `]}`,
		"-Infinity before d": `{"keys":[{"n":-Infinity,` + entry[1:] + `]}`,
		// An entry never closed still published its d.
		"trailing comma inside the entry": `{"keys":[` + strings.TrimSuffix(entry, "}") + `,}]}`,
		"truncated document":              `{"keys":[` + strings.TrimSuffix(entry, "}"),
		// Node's Buffer.from and Python's b64decode skip spaces (and take
		// both alphabets: TestDecodeLenientBase64).
		"a space inside d": `{"keys":[{"kid":"ed1","d":"` + d[:20] + " " + d[20:] + `"}]}`,
		// Python's json reads UTF-16 and UTF-32 too, told by a byte order
		// mark or by the zero bytes.
		"UTF-16LE":            utf16LE(`{"keys":[`+entry+`]}`, false),
		"UTF-16LE with a BOM": utf16LE(`{"keys":[`+entry+`]}`, true),
	} {
		t.Run(name, func(t *testing.T) {
			f := newLeakFixture(t)
			f.publish(doc)
			f.requireEd1Distrusted()
		})
	}
}

// utf16LE encodes s in UTF-16, little endian, with or without a byte
// order mark.
func utf16LE(s string, bom bool) string {
	var b []byte
	if bom {
		b = []byte{0xff, 0xfe}
	}
	for _, u := range utf16.Encode([]rune(s)) {
		b = append(b, byte(u), byte(u>>8))
	}
	return string(b)
}

// TestALeakBesideAValidDocumentPurgesTheCache: a document that decodeJWKS
// accepts (ed1 rotated out of "keys") while it publishes ed1's private part
// elsewhere leaves no key to drop, yet what ed1 verified leaves the cache.
func TestALeakBesideAValidDocumentPurgesTheCache(t *testing.T) {
	f := newLeakFixture(t)
	f.publish(`{"keys":[],"retired":[{"kty":"OKP","crv":"Ed25519","kid":"ed1","x":"` +
		b64.EncodeToString(edPublic) + `","d":"` + b64.EncodeToString(edSeed) + `"}]}`)
	f.requireEd1Distrusted()
}

// TestALeakedKeyIsNeverTrustedAgain: a valid document listing ed1 again
// without "d" does not restore it: whoever read the first can still sign.
func TestALeakedKeyIsNeverTrustedAgain(t *testing.T) {
	f := newLeakFixture(t)
	f.publish(`{"keys":[{"kty":"OKP","crv":"Ed25519","kid":"other","d":"` + b64.EncodeToString(edSeed) + `"}]}`)
	f.republishOwnKeys()
	fresh := f.issuer.authenticate(t, "mary@example.com").AccessToken // signed with ed1
	require.NotEqual(t, http.StatusOK, get(f.h, fresh).Code)
}

// TestADThatIsNoPrivateKeyLeaksNothing: a "d" that is no private key (here
// three bytes) beside ed1's x makes no key untrusted: the document is
// refused, and ed1 keeps working.
func TestADThatIsNoPrivateKeyLeaksNothing(t *testing.T) {
	f := newLeakFixture(t)
	f.publish(`{"keys":[{"kty":"OKP","crv":"Ed25519","kid":"ed1","x":"` + b64.EncodeToString(edPublic) + `","d":"AAAA"}]}`)
	require.Equal(t, http.StatusOK, get(f.h, f.issuer.authenticate(t, "mary@example.com").AccessToken).Code)
}

// TestADocumentLeakingTooManyKeysDistrustsEveryKey: a document publishing
// more private parts than a verifier reads makes it trust no key at all,
// now or later, rather than remember an unbounded set.
func TestADocumentLeakingTooManyKeysDistrustsEveryKey(t *testing.T) {
	f := newLeakFixture(t)
	var doc strings.Builder
	doc.WriteString(`{"keys":[`)
	for i := range 65 {
		if i > 0 {
			doc.WriteString(",")
		}
		seed := make([]byte, ed25519.SeedSize)
		seed[0], seed[1] = byte(i), 1
		fmt.Fprintf(&doc, `{"kty":"OKP","crv":"Ed25519","kid":"k%d","d":"%s"}`, i, b64.EncodeToString(seed))
	}
	doc.WriteString(`]}`)
	f.publish(doc.String())
	f.republishOwnKeys()
	require.NotEqual(t, http.StatusOK, get(f.h, f.issuer.authenticate(t, "mary@example.com").AccessToken).Code)
}

// gateHandler is a slog.Handler that holds the goroutine logging a message
// containing match until release is closed.
type gateHandler struct {
	match            string
	reached, release chan struct{}
}

func (g *gateHandler) Enabled(context.Context, slog.Level) bool { return true }
func (g *gateHandler) Handle(_ context.Context, r slog.Record) error {
	if strings.Contains(r.Message, g.match) {
		close(g.reached)
		<-g.release
	}
	return nil
}
func (g *gateHandler) WithAttrs([]slog.Attr) slog.Handler { return g }
func (g *gateHandler) WithGroup(string) slog.Handler      { return g }

// TestDistrustPurgesAfterTheLeakedKeyIsDropped: a token signed with a
// leaked key and verified while the leaking document is being read (the
// log handler holds the refresh there) may be answered, but is not served
// from the cache once the key is dropped: the new state is stored before
// the cache is purged, so nothing verified with the old state survives.
func TestDistrustPurgesAfterTheLeakedKeyIsDropped(t *testing.T) {
	gate := &gateHandler{match: "private key material", reached: make(chan struct{}), release: make(chan struct{})}
	f := newLeakFixture(t, bearer.WithLogger(slog.New(gate)))
	f.srv.set(serveString(http.StatusOK, `{"keys":[{"kty":"OKP","crv":"Ed25519","kid":"ed1","x":"`+
		b64.EncodeToString(edPublic)+`","d":"`+b64.EncodeToString(edSeed)+`"}]}`))
	f.issuer.clock.Advance(2 * time.Second)
	unknown := f.unknownKid()
	done := make(chan struct{})
	go func() {
		defer close(done)
		_, _ = f.v.Verify(context.Background(), middleware.Credential{Kind: bearer.Kind, Token: unknown})
	}()
	<-gate.reached // the leak is seen; the old state is still current
	forged := f.forgedAdmin()
	first := get(f.h, forged).Code
	close(gate.release)
	<-done
	require.NotEqual(t, http.StatusOK, get(f.h, forged).Code, "served from the cache after the key was dropped (first answer %d)", first)
}

// TestALeakedP256ScalarIsDistrusted: a P-256 d is read as an integer, as
// any reader of it as one signs with it: with its leading zeros dropped or
// one added (Java's BigInteger), or plus the order n (a library reducing
// d mod n signs with d).
func TestALeakedP256ScalarIsDistrusted(t *testing.T) {
	for name, spell := range map[string]func(raw []byte) []byte{
		"32 bytes":             func(raw []byte) []byte { return raw },
		"a leading zero added": func(raw []byte) []byte { return append([]byte{0}, raw...) },
		"plus the order": func(raw []byte) []byte {
			return new(big.Int).Add(new(big.Int).SetBytes(raw), elliptic.P256().Params().N).Bytes()
		},
		"leading zeros dropped": func(raw []byte) []byte { return new(big.Int).SetBytes(raw).Bytes() },
	} {
		t.Run(name, func(t *testing.T) {
			f := newLeakFixture(t)
			es := f.forgedAdminWith(jwt.SigningMethodES256, f.es1, "es1")
			require.Equal(t, http.StatusOK, get(f.h, es).Code, "es1 is trusted before the leak")
			raw, err := f.es1.Bytes()
			require.NoError(t, err)
			f.publish(`{"keys":[{"kty":"EC","crv":"P-256","kid":"es1","d":"` + b64.EncodeToString(spell(raw)) + `"}]}`)
			require.NotEqual(t, http.StatusOK, get(f.h, f.forgedAdminWith(jwt.SigningMethodES256, f.es1, "es1")).Code)
		})
	}
}

// TestOnlyTheSeedHalfOfA64ByteDCounts: a 64-byte d is read as a seed and
// its public key; the public half is not taken on trust. Here it is ed1's
// public key beside another key's seed, which is no private part of ed1:
// ed1 keeps working once the issuer serves its own document again.
func TestOnlyTheSeedHalfOfA64ByteDCounts(t *testing.T) {
	f := newLeakFixture(t)
	other := make([]byte, ed25519.SeedSize)
	other[0] = 7
	f.publish(`{"keys":[{"kty":"OKP","crv":"Ed25519","kid":"x1","d":"` + b64.EncodeToString(append(other, edPublic...)) + `"}]}`)
	f.republishOwnKeys()
	require.Equal(t, http.StatusOK, get(f.h, f.issuer.authenticate(t, "mary@example.com").AccessToken).Code)
}
