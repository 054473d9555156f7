package basicauth_test

import (
	"bytes"
	"compress/gzip"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/tidegate/tidegate/middleware"
)

// TestContentEncodedBodiesAre415: a body declared with a content coding
// (Content-Encoding: gzip) is not the JSON text its bytes spell: its
// representation is what gunzip makes of them (RFC 9110 §8.4), and a
// server that does not decode the coding answers 415 (RFC 9110 §15.5.16:
// "the request's indicated Content-Type or Content-Encoding"). Sign-up and
// login ignore the field: a plain JSON body labelled gzip logs in and signs
// up, while a proxy or WAF honouring the coding reads something else (or
// nothing: it cannot gunzip it), the very desynchronisation the two
// Content-Type lines were made 415 for; and a client that really gzips
// (OkHttp's gzip interceptor) is told 400 "bad body" instead of 415.
func TestContentEncodedBodiesAre415(t *testing.T) {
	f := newFixture(t, fixtureConfig{})
	login := `{"user_name":"mary","password":"` + maryPassword + `"}`
	signup := `{"user_name":"eve","email":"eve@example.com","password":"a long passphrase for eve"}`
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	_, err := zw.Write([]byte(login))
	require.NoError(t, err)
	require.NoError(t, zw.Close())
	for _, tc := range []struct{ name, path, body string }{
		{"login, plain JSON labelled gzip", "/0.4/me/login", login},
		{"sign-up, plain JSON labelled gzip", "/0.4/users", signup},
		{"login, really gzipped", "/0.4/me/login", gz.String()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := f.do(t, http.MethodPost, tc.path, basic(appA+":"), tc.body, "Content-Encoding", "gzip")
			assert.Equal(t, http.StatusUnsupportedMediaType, res.status, res.body)
			assert.Equal(t, "identity", res.header.Get("Accept-Encoding"), "RFC 9110 §12.5.3")
		})
	}
	_, err = f.accounts.FindByLogin(t.Context(), "eve")
	assert.ErrorIs(t, err, middleware.ErrAccountNotFound, "no account was created")
}
