package middleware_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/tidegate/tidegate/internal/withheld/withheldtest"
	"github.com/tidegate/tidegate/middleware"
)

// assertPrintsNone fails unless every way v can reach a log (see
// withheldtest.Printings) leaves out each of secrets.
func assertPrintsNone(t *testing.T, v any, secrets ...string) {
	t.Helper()
	for _, out := range withheldtest.Printings(v) {
		for _, s := range secrets {
			assert.NotContains(t, out, s, "%T printed", v)
		}
	}
}

// TestCachePrintsNoCredentialInFlight: a Cache printed while a slow
// Verifier runs (when an operator is most likely to dump state) showed the
// credential being verified, password included: the key of its shard's
// flight is the raw credential.
func TestCachePrintsNoCredentialInFlight(t *testing.T) {
	const token, secret = "sess-TOKEN-4f1c9a77", "pa55word-XYZ-secret"
	entered, release := make(chan struct{}), make(chan struct{})
	v := middleware.VerifierFunc(func(context.Context, middleware.Credential) (middleware.Principal, error) {
		close(entered)
		<-release
		return middleware.Principal{Subject: "u-1"}, nil
	})
	c := newTestCache(t, v, time.Minute)
	done := make(chan struct{})
	go func() {
		defer close(done)
		_, _ = c.Verify(context.Background(), middleware.Credential{Kind: "basic", Token: token, Secret: secret})
	}()
	<-entered
	assertPrintsNone(t, c, token, secret)
	assert.Equal(t, "middleware.Cache{…}", fmt.Sprintf("%+v", c))
	close(release)
	<-done
}

// TestMemoryStoresPrintNoSecret: the in-memory limiter, accounts and
// session store print as their names alone. The limiter showed every
// attempted login name (sometimes a password typed in the wrong field),
// which the log events never name; the accounts their password hashes;
// the session store its token digests.
func TestMemoryStoresPrintNoSecret(t *testing.T) {
	const typed = "correct horse battery staple"
	limiter, err := middleware.NewMemoryLimiter(middleware.LimiterPolicy{})
	require.NoError(t, err)
	_, err = limiter.Attempt(t.Context(), typed, netip.MustParseAddr("192.0.2.7"))
	require.NoError(t, err)
	assertPrintsNone(t, limiter, typed)

	const hash = "$argon2id$v=19$m=65536,t=3,p=2$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNo"
	accounts := middleware.NewMemoryAccounts()
	require.NoError(t, accounts.Create(t.Context(), middleware.Account{UserID: "u-1", Username: "mary", PasswordHash: hash}))
	assertPrintsNone(t, accounts, hash, "c2FsdHNhbHRzYWx0")
	login, err := middleware.NewPasswordLogin(accounts)
	require.NoError(t, err)
	assertPrintsNone(t, login, hash, "c2FsdHNhbHRzYWx0")

	sessions, err := middleware.NewMemorySessionStore()
	require.NoError(t, err)
	digest := middleware.DigestToken("session-token")
	require.NoError(t, sessions.Create(t.Context(), digest, middleware.Session{Subject: "u-1", ExpiresAt: time.Now().Add(time.Hour)}))
	assertPrintsNone(t, sessions, hex.EncodeToString(digest[:]), strings.Trim(fmt.Sprint(digest), "[]"))
}

// TestAccountPrintsNoPasswordHash: an Account prints and logs its fields
// but its password hash, which its doc says is never logged.
func TestAccountPrintsNoPasswordHash(t *testing.T) {
	const hash = "$argon2id$v=19$m=65536,t=3,p=2$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNo"
	a := middleware.Account{UserID: "u-1", Username: "mary", Emails: []string{"m@example.com"}, PasswordHash: hash}
	assertPrintsNone(t, a, hash, "c2FsdHNhbHRzYWx0", "aGFzaGhhc2hoYXNo")
	assertPrintsNone(t, &a, hash, "c2FsdHNhbHRzYWx0", "aGFzaGhhc2hoYXNo")
	assert.Equal(t, `middleware.Account{UserID:"u-1" Username:"mary" Emails:["m@example.com"] Roles:[] PasswordHash:<withheld> Disabled:false}`,
		fmt.Sprintf("%+v", a))
	a.PasswordHash = ""
	assert.Contains(t, fmt.Sprint(a), `PasswordHash:""`, "an account without a hash says so")
}

// TestPeekPrintsNoCredential: a Peek, which every wrapping Peeker is
// handed, prints what its Peeker saw and not the credential it holds for
// the cache (for Basic, user:password in base64).
func TestPeekPrintsNoCredential(t *testing.T) {
	const user, password = "app-token-1234", "pa55word-XYZ-secret"
	ex, err := middleware.NewBasicExtractor("basic")
	require.NoError(t, err)
	req := newRequest()
	req.Header.Set("Authorization", basicValue(user, password))
	p := ex.(middleware.Peeker).Peek(req)
	require.True(t, p.Found())
	assertPrintsNone(t, p, base64.StdEncoding.EncodeToString([]byte(user+":"+password)))
	assert.Equal(t, "middleware.Peek{found}", fmt.Sprint(p))
	assert.Equal(t, "middleware.Peek{none}", fmt.Sprint(middleware.PeekNone))
	assert.Equal(t, "middleware.Peek{unsure}", fmt.Sprint(middleware.Peek{}))
}

// TestNilPeekLogsNil: a nil *Peek logs as <nil>. A LogValue method, which
// slog calls on a nil pointer too, made it log a panic's stack.
func TestNilPeekLogsNil(t *testing.T) {
	var buf bytes.Buffer
	slog.New(slog.NewTextHandler(&buf, nil)).Info("state", "peek", (*middleware.Peek)(nil))
	assert.Contains(t, buf.String(), "peek=<nil>")
	assert.NotContains(t, buf.String(), "panicked")
}
