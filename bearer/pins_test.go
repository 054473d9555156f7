package bearer_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"fmt"
	"github.com/golang-jwt/jwt/v5"
	"github.com/tidegate/tidegate/middleware"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/tidegate/tidegate/bearer"
)

// TestNotYetValidRefusalIsNotRemembered: a token whose iat is just beyond
// the leeway is refused, but the refusal is Transient, so that the cache
// does not remember it: once the clock catches up (well within the cache's
// refusal TTL) the same token is accepted.
func TestNotYetValidRefusalIsNotRemembered(t *testing.T) {
	e := newEnv(t)
	claims := validClaims(t0.Add(bearer.DefaultLeeway + 2*time.Second))
	token := forgeHS(t, claims, nil)

	require.Equal(t, http.StatusUnauthorized, e.whoami(token).Code, "iat beyond the leeway")
	e.clock.Advance(3 * time.Second) // iat now 29s ahead: within the leeway
	rec := e.whoami(token)
	require.Equal(t, http.StatusOK, rec.Code, "a not-yet-valid refusal must not be remembered: %s", rec.Body)
}

// TestMemoryRefreshStoreFamilyEndsAtItsExpiresAt: at the very instant of the
// family's ExpiresAt no token of it rotates, and the family is forgotten as
// a whole (its used tokens too), not just the presented token.
func TestMemoryRefreshStoreFamilyEndsAtItsExpiresAt(t *testing.T) {
	ctx := context.Background()
	c := newClock()
	s := newRefreshStore(t, c)
	f := bearer.Family{ID: "f", Subject: "u", CreatedAt: c.Now(), ExpiresAt: c.Now().Add(time.Hour)}
	require.NoError(t, s.Create(ctx, f, digest("f-0"), c.Now().Add(8*time.Hour)))
	_, err := s.Rotate(ctx, rotation(c, "f", "u", "f-0", "f-1"))
	require.NoError(t, err)
	require.Equal(t, 2, s.Len(), "the used token is kept to detect its reuse")

	c.Advance(time.Hour) // exactly the family's ExpiresAt
	_, err = s.Rotate(ctx, rotation(c, "f", "u", "f-1", "f-2"))
	require.ErrorIs(t, err, bearer.ErrRefreshInvalid)
	require.Zero(t, s.Len(), "an ended family is forgotten with all its tokens")
}

// untilRecorder is a RevocationList that records the until of every
// revocation it is asked for.
type untilRecorder struct {
	bearer.RevocationList
	mu     sync.Mutex
	logins map[string]time.Time
	tokens map[string]time.Time
	subs   map[string]time.Time
}

func newUntilRecorder(t *testing.T, c *clock) *untilRecorder {
	l, err := bearer.NewMemoryRevocationList(bearer.WithStoreClock(c.Now))
	require.NoError(t, err)
	return &untilRecorder{RevocationList: l, logins: map[string]time.Time{}, tokens: map[string]time.Time{}, subs: map[string]time.Time{}}
}

func (r *untilRecorder) RevokeToken(ctx context.Context, id string, until time.Time) error {
	r.mu.Lock()
	r.tokens[id] = until
	r.mu.Unlock()
	return r.RevocationList.RevokeToken(ctx, id, until)
}

func (r *untilRecorder) RevokeLogin(ctx context.Context, login string, until time.Time) error {
	r.mu.Lock()
	r.logins[login] = until
	r.mu.Unlock()
	return r.RevocationList.RevokeLogin(ctx, login, until)
}

func (r *untilRecorder) RevokeSubject(ctx context.Context, subject string, before, until time.Time) error {
	r.mu.Lock()
	r.subs[subject] = until
	r.mu.Unlock()
	return r.RevocationList.RevokeSubject(ctx, subject, before, until)
}

// TestRevocationsOutliveEveryVerifiersLeeway: a verifier sharing the
// revocation list (a JWKSVerifier) may accept a token up to MaxLeeway past
// its exp, so every revocation the service records (the token's own, its
// login's, its subject's) must be kept at least until then.
func TestRevocationsOutliveEveryVerifiersLeeway(t *testing.T) {
	c := newClock()
	rec := newUntilRecorder(t, c)
	e := newEnv(t, bearer.WithClock(c.Now), bearer.WithRevocationList(rec))
	e.clock = c

	tok := e.authenticate(t, "mary@example.com")
	claims := jwt.MapClaims{}
	_, _, err := jwt.NewParser().ParseUnverified(tok.AccessToken, claims)
	require.NoError(t, err)
	exp := time.Unix(int64(claims["exp"].(float64)), 0)
	lastAccepted := exp.Add(bearer.MaxLeeway)

	require.Equal(t, http.StatusOK, e.call("POST", "/api/v1/logout", "", "Authorization", "Bearer "+tok.AccessToken).Code)
	require.Contains(t, rec.logins, claims["sid"])
	require.False(t, rec.logins[claims["sid"].(string)].Before(lastAccepted), "login revocation kept past exp + MaxLeeway")
	require.Contains(t, rec.tokens, claims["jti"])
	require.False(t, rec.tokens[claims["jti"].(string)].Before(lastAccepted), "token revocation kept past exp + MaxLeeway")

	require.NoError(t, e.svc.RevokeSubject(context.Background(), "u-mary"))
	require.False(t, rec.subs["u-mary"].Before(c.Now().Add(bearer.DefaultAccessTTL+bearer.MaxLeeway)),
		"subject revocation kept past the last exp + MaxLeeway of a token issued before it")
}

// countingRefreshStore counts the rotations it is asked for.
type countingRefreshStore struct {
	bearer.RefreshStore
	mu      sync.Mutex
	rotates int
}

func (s *countingRefreshStore) Rotate(ctx context.Context, r bearer.Rotation) (bearer.Family, error) {
	s.mu.Lock()
	s.rotates++
	s.mu.Unlock()
	return s.RefreshStore.Rotate(ctx, r)
}

// TestRefreshWithAccessTokenWithoutLoginNeverReachesTheStore: a genuine
// access token without sid names no login, so POST /refresh refuses it
// (401) without asking the refresh store anything.
func TestRefreshWithAccessTokenWithoutLoginNeverReachesTheStore(t *testing.T) {
	c := newClock()
	mem, err := bearer.NewMemoryRefreshStore(bearer.WithStoreClock(c.Now))
	require.NoError(t, err)
	store := &countingRefreshStore{RefreshStore: mem}
	e := newEnv(t, bearer.WithClock(c.Now), bearer.WithRefreshStore(store))
	e.clock = c

	tok := e.authenticate(t, "mary@example.com")
	claims := validClaims(c.Now())
	delete(claims, "sid")
	noLogin := forgeHS(t, claims, nil)
	require.Equal(t, http.StatusOK, e.whoami(noLogin).Code, "the token itself is genuine")

	rec := e.refresh(noLogin, *tok.RefreshToken)
	require.Equal(t, http.StatusUnauthorized, rec.Code, rec.Body.String())
	require.Zero(t, store.rotates, "no rotation is asked for a token of no login")
}

// TestRefreshOfDisabledAccountEndsTheLogin: a refresh for a disabled account
// is refused and revokes the refresh-token family, so the refresh token does
// not work again once the account is enabled again.
func TestRefreshOfDisabledAccountEndsTheLogin(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	tok := e.authenticate(t, "mary@example.com")

	mary, err := e.accounts.FindByID(ctx, "u-mary")
	require.NoError(t, err)
	mary.Disabled = true
	require.NoError(t, e.accounts.Update(ctx, mary))
	require.Equal(t, http.StatusUnauthorized, e.refresh(tok.AccessToken, *tok.RefreshToken).Code)

	mary.Disabled = false
	require.NoError(t, e.accounts.Update(ctx, mary))
	rec := e.refresh(tok.AccessToken, *tok.RefreshToken)
	require.Equal(t, http.StatusUnauthorized, rec.Code, "the family was revoked when the disabled account refreshed")
}

// disablingAccounts reports every account as disabled when found by id, as
// if an operator disabled it while its password was being checked.
type disablingAccounts struct{ *middleware.MemoryAccounts }

func (a disablingAccounts) FindByID(ctx context.Context, id string) (middleware.Account, error) {
	acc, err := a.MemoryAccounts.FindByID(ctx, id)
	acc.Disabled = true
	return acc, err
}

// TestAuthenticateRevokesTheLoginItCouldNotConfirm: when the account changed
// while its password was checked (PasswordLogin.Confirm fails), the answer
// is 401 and the login just created is revoked: its refresh family is gone
// and its sid is on the revocation list.
func TestAuthenticateRevokesTheLoginItCouldNotConfirm(t *testing.T) {
	c := newClock()
	accounts := middleware.NewMemoryAccounts()
	hasher, err := middleware.NewArgon2idHasher(middleware.TestArgon2Params)
	require.NoError(t, err)
	hash, err := hasher.Hash("pw")
	require.NoError(t, err)
	require.NoError(t, accounts.Create(context.Background(), middleware.Account{UserID: "u-mary", Username: "mary", PasswordHash: hash}))
	login, err := middleware.NewPasswordLogin(disablingAccounts{accounts}, middleware.WithHasher(hasher))
	require.NoError(t, err)
	store, err := bearer.NewMemoryRefreshStore(bearer.WithStoreClock(c.Now))
	require.NoError(t, err)
	revs := newUntilRecorder(t, c)
	svc, err := bearer.New(login, testKeySet(t), bearer.WithClock(c.Now), bearer.WithLogger(quiet),
		bearer.WithRefreshStore(store), bearer.WithRevocationList(revs))
	require.NoError(t, err)
	t.Cleanup(func() { _ = svc.Close() })

	req := httptest.NewRequest("POST", "/authenticate", strings.NewReader(`{"username":"mary","password":"pw"}`))
	req.Header.Set("Content-Type", "application/json")
	rec := httptest.NewRecorder()
	svc.Handler().ServeHTTP(rec, req)
	require.Equal(t, http.StatusUnauthorized, rec.Code, rec.Body.String())
	require.Zero(t, store.Len(), "the unconfirmed login's refresh family is revoked")
	require.Len(t, revs.logins, 1, "the unconfirmed login's access tokens are revoked")
}

// TestSignatureWithTrailingCharactersIsRefused: a token the service minted
// with an EdDSA or ES256 key (a 64-byte signature, 86 characters), with
// anything appended to its signature, is not the token that was signed and
// is refused. Such tokens have a minted header and minted claims, so the
// fast path (mintedHeaders) decides them, not golang-jwt.
func TestSignatureWithTrailingCharactersIsRefused(t *testing.T) {
	ed, err := bearer.NewEd25519Key(edKID, edPrivate)
	require.NoError(t, err)
	ecPriv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	es, err := bearer.NewES256Key("es1", ecPriv)
	require.NoError(t, err)
	for alg, signing := range map[string]*bearer.Key{"EdDSA": ed, "ES256": es} {
		set, err := bearer.NewKeySet(signing)
		require.NoError(t, err)
		e := newEnvWithKeys(t, set)
		token := e.authenticate(t, "mary@example.com").AccessToken
		require.Equal(t, http.StatusOK, e.whoami(token).Code, "%s: the genuine token works", alg)
		for _, suffix := range []string{"A", "AA", "AAAA", "Zm9v", strings.Repeat("A", 40)} {
			t.Run(alg+"/"+suffix, func(t *testing.T) {
				rec := e.whoami(token + suffix)
				require.Equal(t, http.StatusUnauthorized, rec.Code, "signature with %q appended", suffix)
			})
		}
	}
}

// TestMemoryRevocationListNeverShortensARevocation: revoking a token or a
// login again with an earlier until keeps the later one, so the sweep does
// not drop the entry while the token may still be accepted.
func TestMemoryRevocationListNeverShortensARevocation(t *testing.T) {
	ctx := context.Background()
	c := newClock()
	l, err := bearer.NewMemoryRevocationList(bearer.WithStoreClock(c.Now))
	require.NoError(t, err)
	require.NoError(t, l.RevokeToken(ctx, "j1", c.Now().Add(2*time.Hour)))
	require.NoError(t, l.RevokeToken(ctx, "j1", c.Now().Add(time.Minute)))
	require.NoError(t, l.RevokeLogin(ctx, "s1", c.Now().Add(2*time.Hour)))
	require.NoError(t, l.RevokeLogin(ctx, "s1", c.Now().Add(time.Minute)))

	c.Advance(time.Hour)
	for i := range 300 { // enough inserts for the list to sweep
		require.NoError(t, l.RevokeToken(ctx, fmt.Sprint("other-", i), c.Now().Add(time.Minute)))
	}
	for name, ref := range map[string]bearer.TokenRef{
		"token": {ID: "j1", Subject: "u", IssuedAt: t0},
		"login": {ID: "j2", Login: "s1", Subject: "u", IssuedAt: t0},
	} {
		revoked, err := l.Revoked(ctx, ref)
		require.NoError(t, err)
		require.True(t, revoked, "%s: still revoked until the later until", name)
	}
}
