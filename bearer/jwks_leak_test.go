package bearer_test

import (
	"context"
	"crypto/ed25519"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/require"
	"github.com/tidegate/tidegate/bearer"
	"github.com/tidegate/tidegate/middleware"
)

// gateHandler is a slog.Handler that blocks the record whose message
// contains match until released, after signalling that it was reached.
type gateHandler struct {
	match   string
	reached chan struct{}
	release chan struct{}
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

// TestDistrustPurgesBeforeTheLeakedKeyIsDropped: a token signed with a
// leaked key and verified while the leaking document is being read (the
// log handler holds the refresh there) may be answered, but is not served
// from the cache once the key is dropped: the new state is stored before
// the cache is purged, so nothing verified with the old state survives.
func TestDistrustPurgesBeforeTheLeakedKeyIsDropped(t *testing.T) {
	issuerEnv, _ := asymmetricEnv(t)
	srv := newJWKSServer(t, issuerEnv.svc.JWKSHandler())
	gate := &gateHandler{match: "private key material", reached: make(chan struct{}), release: make(chan struct{})}
	v, h := newJWKSVerifier(t, issuerEnv, srv.URL, bearer.WithRefetchInterval(time.Second),
		bearer.WithLogger(slog.New(gate)))
	earlier := issuerEnv.authenticate(t, "mary@example.com").AccessToken
	require.Equal(t, http.StatusOK, get(h, earlier).Code)

	leaked := `{"keys":[{"kty":"OKP","crv":"Ed25519","kid":"ed1","alg":"EdDSA","use":"sig","x":"` +
		b64.EncodeToString(edPublic) + `","d":"` + b64.EncodeToString(edSeed) + `"}]}`
	srv.set(serveString(http.StatusOK, leaked))
	issuerEnv.clock.Advance(2 * time.Second)

	// Anybody triggers the refresh with a token naming an unknown kid.
	unknown := forge(t, jwt.SigningMethodEdDSA, edPrivate, map[string]any{"kid": "ed9"}, validClaims(issuerEnv.clock.Now()))
	done := make(chan struct{})
	go func() {
		defer close(done)
		_, _ = v.Verify(context.Background(), middleware.Credential{Kind: bearer.Kind, Token: unknown})
	}()
	<-gate.reached // distrust has purged the cache; the old state is still current

	claims := validClaims(issuerEnv.clock.Now())
	claims["sub"], claims["roles"], claims["jti"] = "u-admin", []string{"admin"}, "attacker"
	forged := forge(t, jwt.SigningMethodEdDSA, edPrivate, map[string]any{"kid": edKID}, claims)
	first := get(h, forged).Code // verified with the old state, cached after the purge

	close(gate.release)
	<-done
	require.NotEqual(t, http.StatusOK, get(h, forged).Code,
		"a token signed with the published private key is served from the cache after the key was distrusted (first answer %d)", first)
}

// TestLeakedKeyMatchedByKidOnly: a document that publishes a trusted key's
// private part in an entry without a kid, or under another kid, still
// makes the key untrusted: leaked keys are recognised by their public key.
func TestLeakedKeyMatchedByKidOnly(t *testing.T) {
	for name, kid := range map[string]string{"no kid": "", "another kid": `"kid":"ed1-backup",`} {
		t.Run(name, func(t *testing.T) {
			issuerEnv, _ := asymmetricEnv(t)
			srv := newJWKSServer(t, issuerEnv.svc.JWKSHandler())
			v, h := newJWKSVerifier(t, issuerEnv, srv.URL, bearer.WithRefetchInterval(time.Second))
			earlier := issuerEnv.authenticate(t, "mary@example.com").AccessToken
			require.Equal(t, http.StatusOK, get(h, earlier).Code)

			leaked := `{"keys":[{"kty":"OKP","crv":"Ed25519",` + kid + `"alg":"EdDSA","use":"sig","x":"` +
				b64.EncodeToString(edPublic) + `","d":"` + b64.EncodeToString(edSeed) + `"}]}`
			srv.set(serveString(http.StatusOK, leaked))
			issuerEnv.clock.Advance(2 * time.Second)
			unknown := forge(t, jwt.SigningMethodEdDSA, edPrivate, map[string]any{"kid": "ed9"}, validClaims(issuerEnv.clock.Now()))
			_, err := v.Verify(t.Context(), middleware.Credential{Kind: bearer.Kind, Token: unknown})
			require.Error(t, err)
			require.EqualValues(t, 2, srv.fetches.Load(), "the leaking document was fetched")

			claims := validClaims(issuerEnv.clock.Now())
			claims["sub"], claims["roles"], claims["jti"] = "u-admin", []string{"admin"}, "attacker"
			forged := forge(t, jwt.SigningMethodEdDSA, edPrivate, map[string]any{"kid": edKID}, claims)
			p, err := v.Verify(t.Context(), middleware.Credential{Kind: bearer.Kind, Token: forged})
			require.Error(t, err, "a token signed with the published private key was accepted for %q", p.Subject)
		})
	}
}

// TestLeakedKeyInADocumentThatDoesNotDecode: a mistake in another entry
// (here a "key_ops" given as a string) does not hide a leaked key: each
// entry is read on its own.
func TestLeakedKeyInADocumentThatDoesNotDecode(t *testing.T) {
	issuerEnv, _ := asymmetricEnv(t)
	srv := newJWKSServer(t, issuerEnv.svc.JWKSHandler())
	v, h := newJWKSVerifier(t, issuerEnv, srv.URL, bearer.WithRefetchInterval(time.Second))
	earlier := issuerEnv.authenticate(t, "mary@example.com").AccessToken
	require.Equal(t, http.StatusOK, get(h, earlier).Code)

	leaked := `{"keys":[{"kty":"OKP","crv":"Ed25519","kid":"ed1","alg":"EdDSA","use":"sig","x":"` +
		b64.EncodeToString(edPublic) + `","d":"` + b64.EncodeToString(edSeed) + `"},` +
		`{"kty":"OKP","crv":"Ed25519","kid":"ed2","key_ops":"verify","x":"` + b64.EncodeToString(edPublic) + `"}]}`
	srv.set(serveString(http.StatusOK, leaked))
	issuerEnv.clock.Advance(2 * time.Second)
	unknown := forge(t, jwt.SigningMethodEdDSA, edPrivate, map[string]any{"kid": "ed9"}, validClaims(issuerEnv.clock.Now()))
	_, err := v.Verify(t.Context(), middleware.Credential{Kind: bearer.Kind, Token: unknown})
	require.Error(t, err)
	require.EqualValues(t, 2, srv.fetches.Load(), "the leaking document was fetched")

	claims := validClaims(issuerEnv.clock.Now())
	claims["sub"], claims["roles"], claims["jti"] = "u-admin", []string{"admin"}, "attacker"
	forged := forge(t, jwt.SigningMethodEdDSA, edPrivate, map[string]any{"kid": edKID}, claims)
	p, err := v.Verify(t.Context(), middleware.Credential{Kind: bearer.Kind, Token: forged})
	require.Error(t, err, "a token signed with the published private key was accepted for %q", p.Subject)
}

// TestALeakedKeyIsNeverTrustedAgain: once a document has published a
// key's private part, the key stays untrusted when the issuer serves a
// valid document listing it again without "d": whoever read the first
// document can still sign with it.
func TestALeakedKeyIsNeverTrustedAgain(t *testing.T) {
	issuerEnv, _ := asymmetricEnv(t)
	srv := newJWKSServer(t, issuerEnv.svc.JWKSHandler())
	v, h := newJWKSVerifier(t, issuerEnv, srv.URL, bearer.WithRefetchInterval(time.Second))
	require.Equal(t, http.StatusOK, get(h, issuerEnv.authenticate(t, "mary@example.com").AccessToken).Code)

	leaked := `{"keys":[{"kty":"OKP","crv":"Ed25519","kid":"other","x":"` +
		b64.EncodeToString(edPublic) + `","d":"` + b64.EncodeToString(edSeed) + `"}]}`
	refetch := func(kid string) {
		issuerEnv.clock.Advance(2 * time.Second)
		unknown := forge(t, jwt.SigningMethodEdDSA, edPrivate, map[string]any{"kid": kid}, validClaims(issuerEnv.clock.Now()))
		_, _ = v.Verify(t.Context(), middleware.Credential{Kind: bearer.Kind, Token: unknown})
	}
	srv.set(serveString(http.StatusOK, leaked))
	refetch("unknown-1")
	srv.set(issuerEnv.svc.JWKSHandler()) // ed1 listed again, without d
	refetch("unknown-2")
	require.EqualValues(t, 3, srv.fetches.Load())

	fresh := issuerEnv.authenticate(t, "mary@example.com").AccessToken // signed with ed1
	require.NotEqual(t, http.StatusOK, get(h, fresh).Code, "a token signed with a key whose private part was published")
}

// TestADocumentLeakingTooManyKeysDistrustsEveryKey: a document publishing
// more private parts than a verifier reads makes it trust no key at all,
// now or later, rather than remember an unbounded set.
func TestADocumentLeakingTooManyKeysDistrustsEveryKey(t *testing.T) {
	issuerEnv, _ := asymmetricEnv(t)
	srv := newJWKSServer(t, issuerEnv.svc.JWKSHandler())
	v, h := newJWKSVerifier(t, issuerEnv, srv.URL, bearer.WithRefetchInterval(time.Second))
	require.Equal(t, http.StatusOK, get(h, issuerEnv.authenticate(t, "mary@example.com").AccessToken).Code)

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
	refetch := func(kid string) {
		issuerEnv.clock.Advance(2 * time.Second)
		unknown := forge(t, jwt.SigningMethodEdDSA, edPrivate, map[string]any{"kid": kid}, validClaims(issuerEnv.clock.Now()))
		_, _ = v.Verify(t.Context(), middleware.Credential{Kind: bearer.Kind, Token: unknown})
	}
	srv.set(serveString(http.StatusOK, doc.String()))
	refetch("unknown-1")
	srv.set(issuerEnv.svc.JWKSHandler())
	refetch("unknown-2")
	require.EqualValues(t, 3, srv.fetches.Load())
	require.NotEqual(t, http.StatusOK, get(h, issuerEnv.authenticate(t, "mary@example.com").AccessToken).Code)
}
