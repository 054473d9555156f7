package middleware_test

import (
	"encoding/base64"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/tidegate/tidegate/middleware"
)

func argonTestHasher(t testing.TB) *middleware.Argon2idHasher {
	t.Helper()
	h, err := middleware.NewArgon2idHasher(middleware.TestArgon2Params)
	require.NoError(t, err)
	return h
}

// phc builds an argon2id PHC string from parts, for tampering tests.
func argonPHC(version, params string, salt, key []byte) string {
	return fmt.Sprintf("$argon2id$%s$%s$%s$%s", version, params,
		base64.RawStdEncoding.EncodeToString(salt), base64.RawStdEncoding.EncodeToString(key))
}

func TestDefaultArgon2ParamsAreOWASPs(t *testing.T) {
	// OWASP Password Storage Cheat Sheet, argon2id: m=19456 (19 MiB), t=2, p=1.
	p := middleware.DefaultArgon2Params
	assert.Equal(t, uint32(19456), p.MemoryKiB)
	assert.Equal(t, uint32(2), p.Iterations)
	assert.Equal(t, uint8(1), p.Parallelism)
	assert.GreaterOrEqual(t, p.SaltBytes, uint32(16))
	assert.GreaterOrEqual(t, p.KeyBytes, uint32(32))
	_, err := middleware.NewArgon2idHasher(p)
	require.NoError(t, err)
}

func TestArgon2idRoundTrip(t *testing.T) {
	h := argonTestHasher(t)
	for _, pw := range []string{
		"correct horse battery staple",
		"x",
		"pässwörd ✓ with unicode",
		"with\x00nul",
		strings.Repeat("p", middleware.MaxPasswordBytes),
	} {
		enc, err := h.Hash(pw)
		require.NoError(t, err)
		require.True(t, strings.HasPrefix(enc, "$argon2id$v=19$m=64,t=1,p=1$"), enc)
		if len(pw) >= 8 { // a one-letter password may occur in base64 by chance
			assert.NotContains(t, enc, pw)
		}

		ok, err := h.Verify(enc, pw)
		require.NoError(t, err)
		assert.True(t, ok, "the right password verifies")
	}
}

func TestArgon2idHashesAreSalted(t *testing.T) {
	h := argonTestHasher(t)
	a, err := h.Hash("same password")
	require.NoError(t, err)
	b, err := h.Hash("same password")
	require.NoError(t, err)
	assert.NotEqual(t, a, b)
}

func TestArgon2idWrongPasswords(t *testing.T) {
	h := argonTestHasher(t)
	const right = "Correct Horse"
	enc, err := h.Hash(right)
	require.NoError(t, err)
	for _, wrong := range []string{
		"",
		"correct horse",  // case only
		"CORRECT HORSE",  // case only
		"Correct Horse ", // trailing byte
		"Correct Horse\x00",
		"Correct Hors",
		" Correct Horse",
		"Correct Horse" + strings.Repeat("!", middleware.MaxPasswordBytes), // over the limit
	} {
		ok, err := h.Verify(enc, wrong)
		require.NoError(t, err, "%q", wrong)
		assert.False(t, ok, "%q must not verify", wrong)
	}
}

func TestArgon2idRefusesOversizedPassword(t *testing.T) {
	h := argonTestHasher(t)
	_, err := h.Hash(strings.Repeat("a", middleware.MaxPasswordBytes+1))
	require.Error(t, err)
	assert.NotContains(t, err.Error(), "aaaa")
}

func TestArgon2idTamperedHashes(t *testing.T) {
	h := argonTestHasher(t)
	const pw = "hunter2 hunter2"
	good, err := h.Hash(pw)
	require.NoError(t, err)
	parts := strings.Split(good, "$")
	salt, err := base64.RawStdEncoding.DecodeString(parts[4])
	require.NoError(t, err)
	key, err := base64.RawStdEncoding.DecodeString(parts[5])
	require.NoError(t, err)

	flipped := []byte(strings.Clone(parts[5]))
	if flipped[0] == 'A' {
		flipped[0] = 'B'
	} else {
		flipped[0] = 'A'
	}
	keyFlipped := strings.Join([]string{"", parts[1], parts[2], parts[3], parts[4], string(flipped)}, "$")

	t.Run("a changed key or salt verifies false", func(t *testing.T) {
		for _, enc := range []string{
			keyFlipped,
			argonPHC("v=19", "m=64,t=1,p=1", append([]byte{salt[0] ^ 1}, salt[1:]...), key), // always a different salt
			argonPHC("v=19", "m=64,t=2,p=1", salt, key),                                     // a changed cost is a different hash
			argonPHC("v=19", "m=72,t=1,p=1", salt, key),
		} {
			ok, err := h.Verify(enc, pw)
			require.NoError(t, err, enc)
			assert.False(t, ok, enc)
		}
	})

	// Every one of these holds the right salt and key for pw, so a parser
	// that half-read them would answer true: they must be errors.
	unreadable := map[string]string{
		"empty":                 "",
		"garbage":               "not a hash",
		"bcrypt":                "$2a$10$N9qo8uLOickgx2ZMRZoMyeIjZAgcfl7p92ldGxad68LJZdL17lhWy",
		"argon2i":               strings.Replace(good, "$argon2id$", "$argon2i$", 1),
		"argon2d":               strings.Replace(good, "$argon2id$", "$argon2d$", 1),
		"upper-case algorithm":  strings.Replace(good, "$argon2id$", "$ARGON2ID$", 1),
		"old version":           argonPHC("v=16", "m=64,t=1,p=1", salt, key),
		"no version":            fmt.Sprintf("$argon2id$m=64,t=1,p=1$%s$%s", parts[4], parts[5]),
		"no leading dollar":     strings.TrimPrefix(good, "$"),
		"extra field":           good + "$x",
		"trailing dollar":       good + "$",
		"params reordered":      argonPHC("v=19", "t=1,m=64,p=1", salt, key),
		"params junk after":     argonPHC("v=19", "m=64,t=1,p=1junk", salt, key),
		"params extra field":    argonPHC("v=19", "m=64,t=1,p=1,keyid=abc", salt, key),
		"params leading zero":   argonPHC("v=19", "m=064,t=1,p=1", salt, key),
		"params plus sign":      argonPHC("v=19", "m=+64,t=1,p=1", salt, key),
		"params negative":       argonPHC("v=19", "m=-64,t=1,p=1", salt, key),
		"params missing":        argonPHC("v=19", "m=64,t=1", salt, key),
		"params space":          argonPHC("v=19", "m=64, t=1,p=1", salt, key),
		"salt not base64":       strings.Replace(good, parts[4], "!!!!"+parts[4][4:], 1),
		"salt padded":           strings.Replace(good, parts[4], parts[4]+"==", 1),
		"key not base64":        strings.Replace(good, parts[5], parts[5][:10]+"*"+parts[5][11:], 1),
		"key padded":            good + "=",
		"key missing":           strings.Join(parts[:5], "$") + "$",
		"salt empty":            argonPHC("v=19", "m=64,t=1,p=1", nil, key),
		"salt too short (8)":    argonPHC("v=19", "m=64,t=1,p=1", salt[:8], key),
		"key too short (8)":     argonPHC("v=19", "m=64,t=1,p=1", salt, key[:8]),
		"salt std-base64 alpha": strings.Replace(good, parts[4], strings.NewReplacer("+", "-", "/", "_").Replace(parts[4])+"-_", 1),
	}
	for name, enc := range unreadable {
		t.Run(name, func(t *testing.T) {
			if enc == good {
				t.Fatalf("case %q does not tamper with the hash", name)
			}
			ok, err := h.Verify(enc, pw)
			require.Error(t, err, enc)
			assert.False(t, ok)
			assert.NotContains(t, err.Error(), pw)
		})
	}
}

func TestArgon2idAbsurdStoredParametersRefused(t *testing.T) {
	// A stored hash names its own cost. Parameters outside the bounds
	// NewArgon2idHasher accepts are refused before any hashing, so a
	// tampered or corrupt record cannot ask for unbounded work: each of
	// these would take minutes or gigabytes if it were run.
	h := argonTestHasher(t)
	salt, key := make([]byte, 16), make([]byte, 32)
	for _, params := range []string{
		"m=4194305,t=1,p=1",    // over 4 GiB
		"m=4294967295,t=1,p=1", // max uint32
		"m=4294967296,t=1,p=1", // overflows uint32
		"m=64,t=65,p=1",        // over 64 iterations
		"m=64,t=4294967295,p=1",
		"m=64,t=0,p=1",
		"m=64,t=1,p=0",
		"m=64,t=1,p=256", // overflows uint8
		"m=7,t=1,p=1",    // under 8 KiB per lane
		"m=64,t=1,p=9",   // 64 KiB < 8 KiB x 9 lanes
		"m=0,t=1,p=1",
	} {
		t.Run(params, func(t *testing.T) {
			ok, err := h.Verify(argonPHC("v=19", params, salt, key), "password")
			require.Error(t, err)
			assert.False(t, ok)
		})
	}
	t.Run("oversized salt and key", func(t *testing.T) {
		for _, enc := range []string{
			argonPHC("v=19", "m=64,t=1,p=1", make([]byte, 65), key),
			argonPHC("v=19", "m=64,t=1,p=1", salt, make([]byte, 65)),
			argonPHC("v=19", "m=64,t=1,p=1", make([]byte, 1<<20), key),
		} {
			_, err := h.Verify(enc, "password")
			require.Error(t, err)
		}
	})
	t.Run("other valid costs still verify", func(t *testing.T) {
		// Hashes made under earlier parameters keep working after the
		// configuration changes.
		other, err := middleware.NewArgon2idHasher(middleware.Argon2Params{MemoryKiB: 32, Iterations: 2, Parallelism: 2, SaltBytes: 24, KeyBytes: 16})
		require.NoError(t, err)
		enc, err := other.Hash("password")
		require.NoError(t, err)
		ok, err := h.Verify(enc, "password")
		require.NoError(t, err)
		assert.True(t, ok)
	})
}

func TestNewArgon2idHasherValidates(t *testing.T) {
	base := middleware.TestArgon2Params
	with := func(f func(*middleware.Argon2Params)) middleware.Argon2Params {
		p := base
		f(&p)
		return p
	}
	for _, tc := range []struct {
		name string
		p    middleware.Argon2Params
		ok   bool
	}{
		{"test params", base, true},
		{"defaults", middleware.DefaultArgon2Params, true},
		{"zero", middleware.Argon2Params{}, false},
		{"memory 8 KiB per lane", with(func(p *middleware.Argon2Params) { p.MemoryKiB, p.Parallelism = 16, 2 }), true},
		{"memory under 8 KiB per lane", with(func(p *middleware.Argon2Params) { p.MemoryKiB, p.Parallelism = 15, 2 }), false},
		{"memory 4 GiB", with(func(p *middleware.Argon2Params) { p.MemoryKiB = 4 << 20 }), true},
		{"memory over 4 GiB", with(func(p *middleware.Argon2Params) { p.MemoryKiB = 4<<20 + 1 }), false},
		{"iterations 0", with(func(p *middleware.Argon2Params) { p.Iterations = 0 }), false},
		{"iterations 64", with(func(p *middleware.Argon2Params) { p.Iterations = 64 }), true},
		{"iterations 65", with(func(p *middleware.Argon2Params) { p.Iterations = 65 }), false},
		{"parallelism 0", with(func(p *middleware.Argon2Params) { p.Parallelism = 0 }), false},
		{"salt 15", with(func(p *middleware.Argon2Params) { p.SaltBytes = 15 }), false},
		{"salt 16", with(func(p *middleware.Argon2Params) { p.SaltBytes = 16 }), true},
		{"salt 64", with(func(p *middleware.Argon2Params) { p.SaltBytes = 64 }), true},
		{"salt 65", with(func(p *middleware.Argon2Params) { p.SaltBytes = 65 }), false},
		{"key 15", with(func(p *middleware.Argon2Params) { p.KeyBytes = 15 }), false},
		{"key 64", with(func(p *middleware.Argon2Params) { p.KeyBytes = 64 }), true},
		{"key 65", with(func(p *middleware.Argon2Params) { p.KeyBytes = 65 }), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h, err := middleware.NewArgon2idHasher(tc.p)
			if tc.ok {
				require.NoError(t, err)
				require.NotNil(t, h)
				return
			}
			require.Error(t, err)
			assert.Nil(t, h)
		})
	}
}
