package session_test

import (
	"bytes"
	"fmt"
	"log/slog"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// serverTokenField matches the verifier's server token field as fmt prints
// it: a 43-character token of middleware.NewToken.
var serverTokenField = regexp.MustCompile(`token:"?[A-Za-z0-9_-]{43}`)

// TestRemoteVerifierNeverPrintsItsSecrets: a *session.RemoteVerifier
// is configuration a program holds and may well log ("verifier", v) or
// print with %+v while debugging. It must not show the server secret it
// logs in with, nor the server token it got (either lets anyone log in as
// that server, or ask about any user's token).
func TestRemoteVerifierNeverPrintsItsSecrets(t *testing.T) {
	a := newAuthServer(t)
	v := a.remote(t)
	user := a.login(maryLogin, maryPassword)
	_, err := v.Verify(t.Context(), cred(user)) // logs in: v now holds a server token
	require.NoError(t, err)

	var outs []string
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%d"} {
		out := fmt.Sprintf(verb, v)
		if out != v.String() {
			t.Errorf("%s prints %q, not the verifier's description %q", verb, out, v.String())
		}
		outs = append(outs, out)
	}
	var buf bytes.Buffer
	slog.New(slog.NewTextHandler(&buf, nil)).Info("remote verifier", "verifier", v)
	outs = append(outs, buf.String())
	for _, out := range outs {
		if strings.Contains(out, serverSecret) {
			t.Errorf("printing the verifier shows the server secret: %.200q", out)
		}
		if m := serverTokenField.FindString(out); m != "" {
			t.Errorf("printing the verifier shows its server token: %q", m)
		}
	}
}
