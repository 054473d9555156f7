package bearer_test

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/tidegate/tidegate/bearer"
)

// publicKeyEncodings are the spellings of a public key an attacker would
// try as an HS256 secret: the raw bytes, DER and PEM.
func publicKeyEncodings(t *testing.T, pub any) map[string][]byte {
	t.Helper()
	var raw []byte
	switch pub := pub.(type) {
	case ed25519.PublicKey:
		raw = pub
	case *ecdsa.PublicKey:
		var err error
		raw, err = pub.Bytes()
		require.NoError(t, err)
	default:
		t.Fatalf("unexpected public key %T", pub)
	}
	der, err := x509.MarshalPKIXPublicKey(pub)
	require.NoError(t, err)
	return map[string][]byte{
		"raw": raw,
		"DER": der,
		"PEM": pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}),
	}
}

// TestServiceSignsWithEveryAlgorithm: a Service signing with each supported
// algorithm issues tokens with typ at+jwt and the key's kid that it accepts,
// refreshes them, publishes the key when it is asymmetric (never an HS256
// secret), and refuses HS256 keyed with the public key's bytes.
func TestServiceSignsWithEveryAlgorithm(t *testing.T) {
	for _, alg := range []string{bearer.HS256, bearer.EdDSA, bearer.ES256} {
		t.Run(alg, func(t *testing.T) {
			signing, err := bearer.GenerateKey("k-"+strings.ToLower(alg), alg)
			require.NoError(t, err)
			set, err := bearer.NewKeySet(signing)
			require.NoError(t, err)
			e := newEnvWithKeys(t, set)

			tok := e.authenticate(t, "mary@example.com")
			h, c := decodeJWT(t, tok.AccessToken)
			assert.Equal(t, map[string]any{"alg": alg, "kid": signing.ID(), "typ": "at+jwt"}, h)
			assert.Equal(t, "u-mary", c["sub"])
			require.Equal(t, http.StatusOK, e.whoami(tok.AccessToken).Code)
			rec := e.refresh(tok.AccessToken, *tok.RefreshToken)
			require.Equal(t, http.StatusOK, rec.Code)
			assert.Equal(t, http.StatusOK, e.whoami(decodeTokens(t, rec).AccessToken).Code)

			var doc struct {
				Keys []map[string]any `json:"keys"`
			}
			require.NoError(t, json.Unmarshal(e.call("GET", "/.well-known/jwks.json", "").Body.Bytes(), &doc))
			if alg == bearer.HS256 {
				assert.Empty(t, doc.Keys, "an HS256 secret is never published")
				return
			}
			require.Len(t, doc.Keys, 1)
			assert.Equal(t, signing.ID(), doc.Keys[0]["kid"])
			assert.Equal(t, alg, doc.Keys[0]["alg"])
			assert.NotContains(t, doc.Keys[0], "d", "no private material")

			// Another service verifies the token with the published key.
			srv := newJWKSServer(t, e.svc.JWKSHandler())
			_, remote := newJWKSVerifier(t, e, srv.URL)
			assert.Equal(t, http.StatusOK, get(remote, tok.AccessToken).Code)

			for name, secret := range publicKeyEncodings(t, signing.Public()) {
				forged := forge(t, jwt.SigningMethodHS256, secret, map[string]any{"kid": signing.ID()}, validClaims(e.clock.Now()))
				assert.Equal(t, http.StatusUnauthorized, e.whoami(forged).Code, "HS256 keyed with the %s public key", name)
				assert.Equal(t, http.StatusUnauthorized, get(remote, forged).Code, "HS256 keyed with the %s public key, remote", name)
			}
		})
	}
}

// TestDefaultLifetimes: without options, access and refresh tokens live 8
// hours, and a login ends after 30 days however often it is refreshed.
func TestDefaultLifetimes(t *testing.T) {
	t.Run("access token: 8 hours", func(t *testing.T) {
		e := newEnv(t)
		tok := e.authenticate(t, "mary@example.com")
		assert.Equal(t, 28800, tok.ExpiresIn)
		e.clock.Advance(8*time.Hour - time.Second)
		assert.Equal(t, http.StatusOK, e.whoami(tok.AccessToken).Code)
		e.clock.Advance(time.Second + bearer.DefaultLeeway)
		assert.Equal(t, http.StatusUnauthorized, e.whoami(tok.AccessToken).Code)
	})
	t.Run("refresh token: 8 hours", func(t *testing.T) {
		for _, tc := range []struct {
			after  time.Duration
			status int
		}{
			{8*time.Hour - time.Second, http.StatusOK},
			{8 * time.Hour, http.StatusUnauthorized},
		} {
			e := newEnv(t)
			tok := e.authenticate(t, "mary@example.com")
			e.clock.Advance(tc.after)
			assert.Equal(t, tc.status, e.refresh(tok.AccessToken, *tok.RefreshToken).Code, tc.after)
		}
	})
	t.Run("login: 30 days", func(t *testing.T) {
		e := newEnv(t)
		tok := e.authenticate(t, "mary@example.com")
		const lifetime = 30 * 24 * time.Hour
		refresh := func() {
			t.Helper()
			rec := e.refresh(tok.AccessToken, *tok.RefreshToken)
			require.Equal(t, http.StatusOK, rec.Code, "at %v", e.clock.Now().Sub(t0))
			tok = decodeTokens(t, rec)
		}
		for e.clock.Now().Add(7 * time.Hour).Before(t0.Add(lifetime)) {
			e.clock.Advance(7 * time.Hour)
			refresh()
		}
		e.clock.Advance(t0.Add(lifetime - time.Second).Sub(e.clock.Now()))
		refresh() // a second before the end: a new refresh token, capped at the end
		e.clock.Advance(time.Second)
		assert.Equal(t, http.StatusUnauthorized, e.refresh(tok.AccessToken, *tok.RefreshToken).Code,
			"the newest refresh token is one second old, but the login has ended")
	})
}
