package bearer_test

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"github.com/tidegate/tidegate/bearer"
)

// TestKeyNeverPrintsItsSecret: a *bearer.Key (and a KeySet's signing
// key) printed with fmt or logged through slog's text handler must not show
// the HMAC secret or the Ed25519 private key, as a middleware.Credential
// does not show its parts. fmt prints unexported fields, so without a
// String/Format/LogValue method the key's bytes come out as "[12 34 ...]".
func TestKeyNeverPrintsItsSecret(t *testing.T) {
	hmacSecret := make([]byte, 32)
	_, _ = rand.Read(hmacSecret)
	hmacKey, err := bearer.NewHMACKey("k1", hmacSecret)
	require.NoError(t, err)
	_, edPriv, err := ed25519.GenerateKey(rand.Reader)
	require.NoError(t, err)
	edKey, err := bearer.NewEd25519Key("k2", edPriv)
	require.NoError(t, err)
	set, err := bearer.NewKeySet(hmacKey, edKey)
	require.NoError(t, err)

	// The forms in which fmt and slog print a []byte: %v ("[1 2 3]"), %x,
	// %s and base64 (JSON).
	forms := func(b []byte) []string {
		return []string{
			strings.Trim(fmt.Sprint(b), "[]"), fmt.Sprintf("%x", b), string(b),
			base64.StdEncoding.EncodeToString(b),
			strings.TrimSuffix(strings.TrimPrefix(fmt.Sprintf("%#v", b), "[]byte{"), "}"),
		}
	}
	for name, c := range map[string]struct {
		key    *bearer.Key
		secret []byte
	}{
		"HS256": {hmacKey, hmacSecret}, "EdDSA": {edKey, edPriv.Seed()},
		"KeySet.Signing": {set.Signing(), hmacSecret},
	} {
		var outs []string
		for _, verb := range []string{"%v", "%+v", "%#v", "%s"} {
			// By value too: *key has no String method of its own unless
			// a method has a value receiver, and fmt then printed fields.
			outs = append(outs, fmt.Sprintf(verb, c.key), fmt.Sprintf(verb, *c.key))
		}
		var buf bytes.Buffer
		slog.New(slog.NewTextHandler(&buf, nil)).Info("bearer key loaded", "key", c.key, "by_value", *c.key)
		slog.New(slog.NewJSONHandler(&buf, nil)).Info("bearer key loaded", "key", c.key, "by_value", *c.key)
		outs = append(outs, buf.String())
		for _, out := range outs {
			if !strings.Contains(out, c.key.ID()) {
				t.Errorf("%s: printing the key does not name its kid %q: %.90q", name, c.key.ID(), out)
			}
			for _, form := range forms(c.secret) {
				if strings.Contains(out, form) {
					t.Errorf("%s: printing the key shows its secret: %.90q...", name, out)
					break
				}
			}
		}
	}
}

// TestKeyHeldByValueInAStructShowsNoSecret: fmt prints the unexported
// fields of the application's own struct raw, without calling their
// methods, so a Key held there by value was printed field by field, HMAC
// secret included. The material sits behind a pointer, which fmt prints as
// an address.
func TestKeyHeldByValueInAStructShowsNoSecret(t *testing.T) {
	secret := make([]byte, 32)
	_, _ = rand.Read(secret)
	k, err := bearer.NewHMACKey("k1", secret)
	require.NoError(t, err)
	type config struct {
		issuer string
		key    bearer.Key
	}
	for _, verb := range []string{"%v", "%+v", "%#v"} {
		out := fmt.Sprintf(verb, config{issuer: "https://issuer.example", key: *k})
		require.NotContains(t, out, strings.Trim(fmt.Sprint(secret), "[]"), verb)
		require.NotContains(t, out, fmt.Sprintf("%#v", secret)[len("[]byte{"):20], verb)
	}
}
