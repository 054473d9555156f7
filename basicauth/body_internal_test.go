package basicauth

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// FuzzDecodeBody feeds arbitrary bodies to the JSON decoder of POST /users
// and POST /me/login and to the field checks. Whatever is accepted must be
// exactly one object whose known fields survive a round trip, and read
// exactly as encoding/json alone reads them (Tapglue's server, which
// ignores other members too): a body has one meaning only.
func FuzzDecodeBody(f *testing.F) {
	f.Add([]byte(`{"user_name":"bob","email":"bob@example.com","password":"pw"}`))
	f.Add([]byte(`{"user_name":"bob"} {}`))
	f.Add([]byte(`{"friend_count":0,"is_friend":false,"user_name":"bob","password":"pw"}`))
	f.Add([]byte(`{"user_name":"a","USER_NAME":"b"}`))
	f.Add([]byte("{\"pas\u017fword\":\"x\"}"))
	f.Fuzz(func(t *testing.T, body []byte) {
		in, err := decodeBody(bytes.NewReader(body))
		if err != nil {
			return
		}
		require.True(t, utf8.Valid(body), "%q", body)
		for _, v := range []string{in.UserName, in.Email, in.Password} {
			require.NotContains(t, v, string(utf8.RuneError), "%q", body)
		}
		trimmed := bytes.TrimSpace(body)
		if len(trimmed) == 0 || (trimmed[0] != '{' && string(trimmed) != "null") {
			t.Fatalf("accepted %q", body)
		}
		again, err := json.Marshal(in)
		require.NoError(t, err)
		back, err := decodeBody(bytes.NewReader(again))
		require.NoError(t, err)
		require.Equal(t, in, back)
		var plain bodyFields
		require.NoError(t, json.Unmarshal(body, &plain), "%q", body)
		require.Equal(t, plain, in, "encoding/json reads %q otherwise", body)
		_ = validUserName(in.UserName)
		_ = validEmail(in.Email)
	})
}

func TestDecodeBody(t *testing.T) {
	tests := []struct {
		body string
		ok   bool
	}{
		{`{"user_name":"a","email":"b","password":"c"}`, true},
		{` {"password":"c"} ` + "\n", true},
		{`{}`, true},
		{`{"user_name":"a"}{}`, false},
		{`{"user_name":"a"} x`, false},
		// Other members are ignored, whatever their JSON value, as
		// Tapglue's server ignores them (its Android SDK sends counters
		// and flags beside the three strings); repeated ones too.
		{`{"other":1}`, true},
		{`{"friend_count":0,"is_friend":false,"user_name":"a","enabled":true}`, true},
		{`{"other":null,"other":[{"x":1e400}],"deep":[[[]]],"s":"\ud800"}`, true},
		{`{"other":}`, false},
		{`{"other":1,}`, false},
		{`{"other":[1]`, false},
		// A name equal to a known one only case-insensitively is refused,
		// alone or beside the known one: encoding/json would fold it into
		// the field (Unicode simple folding: U+017F is an "s").
		{`{"USER_NAME":"a"}`, false},
		{`{"user_name":"a","USER_NAME":"b"}`, false},
		{`{"USER_NAME":"b","user_name":"a"}`, false},
		{`{"password":"x","Password":"y"}`, false},
		{`{"Email":"a@b"}`, false},
		{"{\"u\u017fer_name\":\"a\"}", false},
		{`{"pas\u017fword":"x"}`, false},
		{`{"user_name":"a","user_name":"a"}`, false},
		{`{"username":"a","userName":"b","e-mail":"c"}`, true},
		{`{"user_name":1}`, false},
		{`{"user_name":null}`, false},
		{`{"email":null,"user_name":"a"}`, false},
		{`{"password":{}}`, false},
		{`[]`, false},
		{`"x"`, false},
		{``, false},
		{`{"user_name":"a"`, false},
		// Not UTF-8, or a value encoding/json would turn into U+FFFD.
		{"{\"user_name\":\"bob\xff\"}", false},
		{"{\"password\":\"hunter2 \xfe\"}", false},
		{`{"password":"hunter2 \ud800"}`, false},
		{`{"password":"hunter2 \udfff"}`, false},
		{`{"password":"\ufffd"}`, false},
		{`{"password":"\ud83d\ude00"}`, true},
	}
	for _, tc := range tests {
		_, err := decodeBody(strings.NewReader(tc.body))
		assert.Equal(t, tc.ok, err == nil, "%q: %v", tc.body, err)
	}
}

// TestDecodeBodyReadsOnlyKnownMembers: the ignored members of a body
// (here, what Tapglue's Android SDK sends) change none of the three fields.
func TestDecodeBodyReadsOnlyKnownMembers(t *testing.T) {
	body := `{"friend_count":0,"is_friend":false,"user_name":"bob","enabled":true,` +
		`"email":"bob@example.com","about":{"password":"not this"},"password":"pw"}`
	in, err := decodeBody(strings.NewReader(body))
	require.NoError(t, err)
	assert.Equal(t, bodyFields{UserName: "bob", Email: "bob@example.com", Password: "pw"}, in)
}

func TestValidFields(t *testing.T) {
	for name, tc := range map[string]struct {
		check func(string) bool
		in    string
		want  bool
	}{
		"plain name":          {validUserName, "bob", true},
		"unicode name":        {validUserName, "Zoë Ångström", true},
		"empty name":          {validUserName, "", false},
		"name with space":     {validUserName, "bob ", false},
		"name with nbsp":      {validUserName, "\u00a0bob", false},
		"name with tab":       {validUserName, "b\tob", false},
		"name invalid UTF-8":  {validUserName, "b\xffob", false},
		"name too long":       {validUserName, strings.Repeat("b", MaxUserNameBytes+1), false},
		"name at limit":       {validUserName, strings.Repeat("b", MaxUserNameBytes), true},
		"email":               {validEmail, "bob@example.com", true},
		"email no at":         {validEmail, "bob.example.com", false},
		"email two at":        {validEmail, "bob@ex@ample.com", false},
		"email at start":      {validEmail, "@example.com", false},
		"email at end":        {validEmail, "bob@", false},
		"email with space":    {validEmail, "bob @example.com", false},
		"email with control":  {validEmail, "bob\x00@example.com", false},
		"email too long":      {validEmail, strings.Repeat("b", MaxEmailBytes) + "@x", false},
		"email invalid UTF-8": {validEmail, "b\xff@example.com", false},
	} {
		assert.Equal(t, tc.want, tc.check(tc.in), name)
	}
}

func TestIsLowerHex(t *testing.T) {
	assert.True(t, isLowerHex("0123456789abcdef", 16))
	assert.False(t, isLowerHex("0123456789abcdeF", 16))
	assert.False(t, isLowerHex("0123456789abcdeg", 16))
	assert.False(t, isLowerHex("0123456789abcde", 16))
	assert.False(t, isLowerHex("", 16))
	assert.True(t, isLowerHex("", 0))
}

func TestRenderCodes(t *testing.T) {
	// Every code has a body, and every body is valid JSON of the Tapglue shape.
	for code, body := range bodies {
		var out struct {
			Errors []struct {
				Code    int    `json:"code"`
				Message string `json:"message"`
			} `json:"errors"`
		}
		require.NoError(t, json.Unmarshal(body, &out), string(body))
		require.Len(t, out.Errors, 1)
		assert.Equal(t, code, out.Errors[0].Code)
		assert.Equal(t, messages[code], out.Errors[0].Message)
	}
}
