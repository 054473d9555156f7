package bearer

import (
	"bytes"
	"encoding/json"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseFields(t *testing.T) {
	got, err := parseFields([]byte(` {"password":"p\u00e9","username":"u"} `), "username", "password")
	require.NoError(t, err)
	assert.Equal(t, []string{"u", "pé"}, got)
	for _, bad := range []string{``, `null`, `{}`, `[]`, `"x"`, `{"username":"u"}`, `{"username":"u","password":1}`,
		`{"username":"u","password":"p","x":"y"}`, `{"username":"u","username":"u","password":"p"}`,
		`{"username":"u","password":"p"}{}`, `{"username":"u","password":"p"`, `{"Username":"u","password":"p"}`,
		`{"username":["u"],"password":"p"}`, `{"username":"u","password":{"a":"b"}}`,
		// Not UTF-8, or a value encoding/json would turn into U+FFFD: as
		// many passwords as spellings would otherwise log in alike.
		"{\"username\":\"u\",\"password\":\"p\xff\"}", "{\"username\":\"u\xfe\",\"password\":\"p\"}",
		`{"username":"u","password":"p\ud800"}`, `{"username":"u","password":"p\udfff"}`,
		`{"username":"u","password":"\ufffd"}`, "{\"username\":\"u\",\"password\":\"\xef\xbf\xbd\"}"} {
		_, err := parseFields([]byte(bad), "username", "password")
		assert.ErrorIs(t, err, errBadBody, bad)
	}
	got, err = parseFields([]byte(`{"username":"u","password":"\ud83d\ude00"}`), "username", "password")
	require.NoError(t, err, "a surrogate pair is one character")
	assert.Equal(t, "\U0001F600", got[1])
}

// FuzzParseFields checks the login body parser: no panic, and whatever it
// accepts is an object of exactly those string members to encoding/json.
func FuzzParseFields(f *testing.F) {
	for _, s := range []string{`{"username":"u","password":"p"}`, `{"username":"u"}`, `{"username":1,"password":"p"}`,
		`{"username":"u","password":"p","x":1}`, `{"username":"u","password":"p"} []`, `{"username":"\ud800","password":"p"}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		got, err := parseFields(data, "username", "password")
		if err != nil {
			return
		}
		require.True(t, utf8.Valid(data), "%q", data)
		for _, v := range got {
			require.NotContains(t, v, string(utf8.RuneError), "%q", data)
		}
		var m map[string]any
		dec := json.NewDecoder(bytes.NewReader(data))
		require.NoError(t, dec.Decode(&m), "%q", data)
		require.Equal(t, map[string]any{"username": got[0], "password": got[1]}, m, "%q", data)
	})
}

// FuzzDecodeJWKS fuzzes the JWKS document reader: no panic, and every key
// it returns is a verification key of a supported algorithm under a valid
// kid.
func FuzzDecodeJWKS(f *testing.F) {
	for _, s := range []string{
		`{"keys":[{"kty":"OKP","crv":"Ed25519","kid":"ed1","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}]}`,
		`{"keys":[{"kty":"EC","crv":"P-256","kid":"es1","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}]}`,
		`{"keys":[{"kty":"oct","kid":"k","k":"AAAA"}]}`,
		`{"keys":[]}`,
		`{}`,
	} {
		f.Add([]byte(s))
	}
	f.Add([]byte(`{"keys":[{"kty":"OKP","crv":"Ed25519","kid":"ed1","d":"nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A"},]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		// Every document a JWKSVerifier fetches is scanned for leaked keys
		// too: no panic, and at most three public keys per private part.
		ids, tooMany := leakedPublicKeys(data)
		require.True(t, tooMany || len(ids) <= 3*maxLeakedPerDocument)
		keys, err := decodeJWKS(data)
		if err != nil {
			return
		}
		for kid, k := range keys {
			require.Equal(t, kid, k.ID())
			require.True(t, validKID(kid))
			require.Contains(t, []string{EdDSA, ES256}, k.Algorithm())
			require.False(t, k.CanSign())
		}
	})
}
