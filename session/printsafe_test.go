package session_test

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/tidegate/tidegate/internal/withheld/withheldtest"
)

// TestServicePrintsNoServerSecret: a Service prints as its name alone. It
// printed the plain SHA-256 of every server secret, which lets whoever
// reads the line test a dictionary of secrets offline (the reason
// fingerprints are keyed HMACs, see SECURITY.md).
func TestServicePrintsNoServerSecret(t *testing.T) {
	f := newFixture(t)
	var secrets []string
	for _, secret := range []string{serverSecret, otherSecret} {
		d := sha256.Sum256([]byte(secret))
		secrets = append(secrets, secret, hex.EncodeToString(d[:]), strings.Trim(fmt.Sprint(d), "[]"))
	}
	for _, out := range withheldtest.Printings(f.svc) {
		for _, s := range secrets {
			assert.NotContains(t, out, s)
		}
	}
	assert.Equal(t, "session.Service{…}", fmt.Sprint(f.svc))
}
