package middleware

import (
	"crypto/sha256"
	"encoding/hex"
	"testing"

	"github.com/stretchr/testify/assert"
)

// TestFingerprintNeedsTheProcessKey: a fingerprint cannot be computed from
// the credential alone. An unkeyed SHA-256 of "alice:sunshine42" let whoever
// read the log line find the password in a dictionary offline.
func TestFingerprintNeedsTheProcessKey(t *testing.T) {
	c := Credential{Kind: "basic", Token: "alice", Secret: "sunshine42"}
	fp := c.Fingerprint()
	unkeyed := sha256.Sum256([]byte(encodeKey(c.Token, c.Secret)))
	assert.NotEqual(t, hex.EncodeToString(unkeyed[:4]), fp, "the fingerprint is a plain hash of the parts")
	assert.Equal(t, fp, Credential{Kind: "session", Token: "alice", Secret: "sunshine42"}.Fingerprint(),
		"stable within the process, whatever the kind")
	other := [32]byte{1}
	assert.NotEqual(t, fp, fingerprint(&other, c.Token, c.Secret), "another process's key gives another fingerprint")
	assert.Len(t, fp, 8)
}
