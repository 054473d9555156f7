package middleware

import (
	"encoding/base64"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/argon2"
)

// The bounds NewArgon2idHasher enforces, and so parseArgon2id: a stored
// hash can ask Verify for at most 4 GiB of memory and 64 passes.
const (
	maxStoredMemoryKiB  = 4 << 20
	maxStoredIterations = 64
	minStoredBytes      = 16 // salt and key
	maxStoredBytes      = 64
)

// canonicalArgon2id writes parsed parameters, salt and key back in the
// form Hash writes.
func canonicalArgon2id(p Argon2Params, salt, key []byte) string {
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, p.MemoryKiB, p.Iterations, p.Parallelism,
		base64.RawStdEncoding.EncodeToString(salt), base64.RawStdEncoding.EncodeToString(key))
}

// FuzzParseArgon2id fuzzes parseArgon2id, the reader of stored password
// hashes (from seed files and account stores, which a tampered or corrupt
// record can fill with anything). Nothing may panic, and an accepted hash
// must have parameters within the bounds NewArgon2idHasher enforces
// (memory from 8 KiB per lane to 4 GiB, 1 to 64 iterations, at least one
// lane, salt and key of 16 to 64 bytes, and the reported salt and key
// lengths those of the bytes returned), so that no stored hash can make
// Verify allocate or compute without bound. An accepted hash is the
// canonical form Hash writes, except for CR and LF inside the salt and key,
// which Go's base64 decoders skip even in strict mode. For cheap
// parameters, Verify reads it without error. Hashes made by Hash with a
// table of parameter sets parse back to the same parameters and verify.
func FuzzParseArgon2id(f *testing.F) {
	for _, p := range []Argon2Params{
		{MemoryKiB: 8, Iterations: 1, Parallelism: 1, SaltBytes: 16, KeyBytes: 16}, // every minimum
		TestArgon2Params,
		{MemoryKiB: 32, Iterations: 3, Parallelism: 4, SaltBytes: 64, KeyBytes: 64},
		{MemoryKiB: 8 * 255, Iterations: 1, Parallelism: 255, SaltBytes: 17, KeyBytes: 63},
		DefaultArgon2Params,
	} {
		h, err := NewArgon2idHasher(p)
		require.NoError(f, err)
		enc, err := h.Hash("correct horse")
		require.NoError(f, err)
		got, salt, key, err := parseArgon2id(enc)
		require.NoError(f, err, "%+v", p)
		require.Equal(f, p, got)
		require.Equal(f, enc, canonicalArgon2id(got, salt, key))
		ok, err := h.Verify(enc, "correct horse")
		require.NoError(f, err)
		require.True(f, ok, "%+v", p)
		f.Add(enc)
	}
	cheap := &Argon2idHasher{params: TestArgon2Params}
	f.Fuzz(func(t *testing.T, encoded string) {
		p, salt, key, err := parseArgon2id(encoded)
		if err != nil {
			require.Nil(t, salt)
			require.Nil(t, key)
			return
		}
		require.GreaterOrEqual(t, p.Parallelism, uint8(1), "%q", encoded)
		require.GreaterOrEqual(t, p.MemoryKiB, 8*uint32(p.Parallelism), "%q", encoded)
		require.LessOrEqual(t, p.MemoryKiB, uint32(maxStoredMemoryKiB), "%q", encoded)
		require.GreaterOrEqual(t, p.Iterations, uint32(1), "%q", encoded)
		require.LessOrEqual(t, p.Iterations, uint32(maxStoredIterations), "%q", encoded)
		for _, b := range [][]byte{salt, key} {
			require.GreaterOrEqual(t, len(b), minStoredBytes, "%q", encoded)
			require.LessOrEqual(t, len(b), maxStoredBytes, "%q", encoded)
		}
		require.EqualValues(t, len(salt), p.SaltBytes)
		require.EqualValues(t, len(key), p.KeyBytes)
		require.Equal(t, canonicalArgon2id(p, salt, key), strings.NewReplacer("\r", "", "\n", "").Replace(encoded))
		if p.MemoryKiB <= 64 && p.Iterations <= 2 {
			_, err := cheap.Verify(encoded, "password")
			require.NoError(t, err, "%q", encoded)
		}
	})
}
