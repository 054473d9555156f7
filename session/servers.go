package session

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
)

// serverSecrets holds the SHA-256 digest of each server's secret, never the
// secret itself.
type serverSecrets struct {
	digests map[string][sha256.Size]byte
	dummy   [sha256.Size]byte // compared against for unknown names
}

func newServerSecrets(servers map[string]string) serverSecrets {
	s := serverSecrets{digests: make(map[string][sha256.Size]byte, len(servers))}
	for name, secret := range servers {
		s.digests[name] = sha256.Sum256([]byte(secret))
	}
	_, _ = rand.Read(s.dummy[:])
	return s
}

// check reports whether secret is the secret of server name.
//
// Both sides are fixed-length SHA-256 digests compared with crypto/subtle,
// so the time taken tells nothing about how much of the secret matched nor
// how long it is; an unknown name is compared against a random digest, so
// it does the same work as a wrong secret (OWASP ASVS 2.9.x / 6.2.x).
// Server names are not secrets: looking them up in a map is fine.
func (s *serverSecrets) check(name, secret string) bool {
	got := sha256.Sum256([]byte(secret))
	want, known := s.digests[name]
	if !known {
		want = s.dummy
	}
	equal := subtle.ConstantTimeCompare(got[:], want[:]) == 1
	return equal && known
}

// has reports whether the server name is configured.
func (s serverSecrets) has(name string) bool {
	_, ok := s.digests[name]
	return ok
}
