package session_test

import (
	"bytes"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/tidegate/tidegate/session"
)

// lockedBuffer is a bytes.Buffer safe for the handler's concurrent writes.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func TestLogsNeverContainSecrets(t *testing.T) {
	var out lockedBuffer
	logger := slog.New(slog.NewJSONHandler(&out, &slog.HandlerOptions{Level: slog.LevelDebug}))
	f := newFixture(t, withService(session.WithLogger(logger)))

	token := f.login(maryLogin, maryPassword)
	next := f.refresh(token)
	server := f.serverLogin(serverName, serverSecret)
	f.do(http.MethodGet, "/auth/token/"+next, session.HeaderToken, server)
	f.do(http.MethodGet, "/whoami", session.HeaderToken, next)
	f.do(http.MethodPost, "/auth/login", "Authorization", basic(maryLogin, "my typo'd passw0rd"))
	f.do(http.MethodPost, "/auth/login", "Authorization", basic("correct horse battery staple", "oops"))
	f.do(http.MethodPost, "/auth/serverlogin", session.HeaderServerName, serverName, session.HeaderServerSecret, otherSecret)
	f.do(http.MethodPost, "/auth/logout", session.HeaderToken, next)

	logs := out.String()
	require.NotEmpty(t, logs)
	assert.Equal(t, 9, strings.Count(logs, "\n"), "one event per request, the middleware's included")
	for _, secret := range []string{maryPassword, "my typo'd passw0rd", serverSecret, otherSecret, token, next, server} {
		assert.NotContains(t, logs, secret)
	}
	assert.Contains(t, logs, maryID, "successes name the subject")
}

func TestServiceAccessors(t *testing.T) {
	f := newFixture(t)
	assert.Same(t, f.svc.Cache(), f.svc.Scheme().Verifier())
	assert.NotNil(t, f.svc.Store())
}
