package middleware

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"

	"golang.org/x/crypto/argon2"
)

// MaxPasswordBytes is the longest password accepted anywhere. Longer ones
// are refused before hashing, so a huge password cannot buy CPU time; 1 KiB
// is far beyond any passphrase (OWASP ASVS 2.1.2 asks for at least 128).
const MaxPasswordBytes = 1024

// PasswordHasher turns passwords into self-describing hashes and checks them.
type PasswordHasher interface {
	// Hash returns an encoded hash of password with a fresh salt.
	Hash(password string) (string, error)
	// Verify reports whether password matches the encoded hash. It returns
	// an error only for a hash it cannot read.
	Verify(encoded, password string) (bool, error)
}

// Argon2Params are the argon2id cost parameters (RFC 9106).
type Argon2Params struct {
	MemoryKiB   uint32
	Iterations  uint32
	Parallelism uint8
	SaltBytes   uint32
	KeyBytes    uint32
}

// DefaultArgon2Params follow the OWASP Password Storage Cheat Sheet's first
// argon2id configuration: 19 MiB of memory, 2 iterations, 1 lane.
var DefaultArgon2Params = Argon2Params{MemoryKiB: 19 * 1024, Iterations: 2, Parallelism: 1, SaltBytes: 16, KeyBytes: 32}

// TestArgon2Params are deliberately cheap parameters for test suites, where
// thousands of hashes under the race detector would otherwise take minutes.
// Never use them in production.
var TestArgon2Params = Argon2Params{MemoryKiB: 64, Iterations: 1, Parallelism: 1, SaltBytes: 16, KeyBytes: 32}

// Argon2idHasher is a PasswordHasher using argon2id and the PHC string
// format: $argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>.
type Argon2idHasher struct {
	params Argon2Params
}

// NewArgon2idHasher returns a hasher with the given parameters.
func NewArgon2idHasher(p Argon2Params) (*Argon2idHasher, error) {
	switch {
	case p.MemoryKiB < 8*uint32(p.Parallelism) || p.MemoryKiB > 4<<20:
		return nil, errors.New("tidegate: argon2 memory must be between 8 KiB per lane and 4 GiB")
	case p.Iterations < 1 || p.Iterations > 64:
		return nil, errors.New("tidegate: argon2 iterations must be between 1 and 64")
	case p.Parallelism < 1:
		return nil, errors.New("tidegate: argon2 parallelism must be at least 1")
	case p.SaltBytes < 16 || p.SaltBytes > 64:
		return nil, errors.New("tidegate: argon2 salt must be 16 to 64 bytes")
	case p.KeyBytes < 16 || p.KeyBytes > 64:
		return nil, errors.New("tidegate: argon2 key must be 16 to 64 bytes")
	}
	return &Argon2idHasher{params: p}, nil
}

// built reports whether h was made by NewArgon2idHasher: a zero one has no
// parameters, which argon2 answers with a panic.
func (h *Argon2idHasher) built() bool { return h != nil && h.params.Iterations != 0 }

// Hash implements PasswordHasher. A zero Argon2idHasher (not made by
// NewArgon2idHasher) answers ErrInternal.
func (h *Argon2idHasher) Hash(password string) (string, error) {
	if !h.built() {
		return "", notBuilt("Argon2idHasher")
	}
	if len(password) > MaxPasswordBytes {
		return "", errors.New("tidegate: password longer than MaxPasswordBytes")
	}
	salt := make([]byte, h.params.SaltBytes)
	_, _ = rand.Read(salt)
	p := h.params
	key := argon2.IDKey([]byte(password), salt, p.Iterations, p.MemoryKiB, p.Parallelism, p.KeyBytes)
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, p.MemoryKiB, p.Iterations,
		p.Parallelism, base64.RawStdEncoding.EncodeToString(salt), base64.RawStdEncoding.EncodeToString(key)), nil
}

// Verify implements PasswordHasher. The comparison is constant-time. The
// parameters are read from the hash, within the bounds NewArgon2idHasher
// enforces, so a tampered hash cannot ask for unbounded work.
func (h *Argon2idHasher) Verify(encoded, password string) (bool, error) {
	p, salt, key, err := parseArgon2id(encoded)
	if err != nil {
		return false, err
	}
	if len(password) > MaxPasswordBytes {
		return false, nil
	}
	got := argon2.IDKey([]byte(password), salt, p.Iterations, p.MemoryKiB, p.Parallelism, uint32(len(key)))
	return subtle.ConstantTimeCompare(got, key) == 1, nil
}

var errBadHash = errors.New("tidegate: unreadable password hash")

func parseArgon2id(encoded string) (Argon2Params, []byte, []byte, error) {
	parts := strings.Split(encoded, "$")
	if len(parts) != 6 || parts[0] != "" || parts[1] != "argon2id" || parts[2] != fmt.Sprintf("v=%d", argon2.Version) {
		return Argon2Params{}, nil, nil, errBadHash
	}
	var p Argon2Params
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &p.MemoryKiB, &p.Iterations, &p.Parallelism); err != nil {
		return Argon2Params{}, nil, nil, errBadHash
	}
	// Sscanf stops where the format ends and tolerates signs and leading
	// zeros ("m=064,t=1,p=1junk"): insist on the canonical form Hash writes,
	// so a tampered parameter field is refused instead of half-read.
	if parts[3] != fmt.Sprintf("m=%d,t=%d,p=%d", p.MemoryKiB, p.Iterations, p.Parallelism) {
		return Argon2Params{}, nil, nil, errBadHash
	}
	salt, err1 := base64.RawStdEncoding.Strict().DecodeString(parts[4])
	key, err2 := base64.RawStdEncoding.Strict().DecodeString(parts[5])
	if err1 != nil || err2 != nil {
		return Argon2Params{}, nil, nil, errBadHash
	}
	p.SaltBytes, p.KeyBytes = uint32(len(salt)), uint32(len(key))
	if _, err := NewArgon2idHasher(p); err != nil {
		return Argon2Params{}, nil, nil, errBadHash
	}
	return p, salt, key, nil
}
