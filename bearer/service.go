package bearer

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/tidegate/tidegate/internal/contain"
	"github.com/tidegate/tidegate/internal/withheld"
	"github.com/tidegate/tidegate/middleware"
)

// typAccessToken is the JOSE typ of tidegate access tokens (RFC 9068 §2.1).
const typAccessToken = "at+jwt"

// revocationMargin is added to how long a login or subject revocation is
// kept, to cover an access token minted by a refresh that was already
// under way when the revocation happened.
const revocationMargin = time.Minute

// Service issues and verifies bearer JWTs for the Tidal-style endpoints:
// POST /authenticate, POST /refresh, GET /ping and POST /logout (see
// Handler), and authenticates requests through Scheme.
//
// It is safe for concurrent use. Close stops its cache's background
// goroutine.
type Service struct {
	withheld.Contents[Service] // prints as its name alone: no secret in a log

	cfg      serviceConfig
	login    *middleware.PasswordLogin
	keys     *KeySet
	verifier *tokenVerifier
	cache    *middleware.Cache
	scheme   *middleware.Scheme
	jwks     []byte
	handler  http.Handler
	// mintedUpTo is the latest issue time of an access token this service
	// minted, in Unix nanoseconds (see revocationNow).
	mintedUpTo atomic.Int64
}

// New returns a Service that checks passwords with login (share one
// PasswordLogin between all kinds, so that throttling counts every
// endpoint's attempts together) and signs with keys.Signing().
func New(login *middleware.PasswordLogin, keys *KeySet, opts ...ServiceOption) (*Service, error) {
	if login == nil || login.Accounts() == nil || keys == nil {
		return nil, errors.New("bearer: New needs a password login made by middleware.NewPasswordLogin and a key set")
	}
	if keys.signing == nil {
		return nil, errors.New("bearer: key set not built by NewKeySet")
	}
	cfg := serviceConfig{
		common:         defaultCommon(),
		accessTTL:      DefaultAccessTTL,
		refreshTTL:     DefaultRefreshTTL,
		familyLifetime: DefaultFamilyLifetime,
	}
	for _, opt := range opts {
		if opt == nil {
			return nil, errors.New("bearer: nil option")
		}
		if err := opt.applyService(&cfg); err != nil {
			return nil, err
		}
	}
	if cfg.refreshTTL > cfg.familyLifetime {
		return nil, errors.New("bearer: refresh token lifetime exceeds the family lifetime")
	}
	if err := cfg.defaultStores(); err != nil {
		return nil, err
	}
	s := &Service{cfg: cfg, login: login, keys: keys}
	s.verifier = newTokenVerifier(&cfg.common, keys, nil)
	var err error
	s.cache, s.scheme, err = newScheme(&cfg.common, s.verifier, cfg.cacheTTL)
	if err != nil {
		return nil, err
	}
	if s.jwks, err = encodeJWKS(keys); err != nil {
		_ = s.cache.Close()
		return nil, err
	}
	s.handler = contain.Endpoints(s.routes(), s.scheme)
	return s, nil
}

// defaultStores fills in the in-memory stores, on the service's clock.
func (c *serviceConfig) defaultStores() error {
	var err error
	if c.refreshStore == nil {
		if c.refreshStore, err = NewMemoryRefreshStore(WithStoreClock(c.now)); err != nil {
			return err
		}
	}
	if c.revocations == nil {
		if c.revocations, err = NewMemoryRevocationList(WithStoreClock(c.now)); err != nil {
			return err
		}
	}
	return nil
}

// NewScheme returns the bearer scheme around any Verifier, as Service and
// NewJWKSVerifier build it around theirs: the Authorization: Bearer
// extractor (scheme word in any case, RFC 6750 §2.1; the token bounded by
// DefaultMaxTokenBytes and an RFC 6750 b64token, else 400), the RFC 6750
// challenge with realm DefaultRealm, and the bearer renderer. It is for a
// Verifier of your own, such as tidegatetest.NewStaticVerifier in tests;
// put a middleware.Cache in front of one that is costly. Your Verifier sees
// every b64token, JWS or not, and answers middleware.Invalid for one it
// does not know (401 invalid_token). opts apply after those.
func NewScheme(v middleware.Verifier, opts ...middleware.SchemeOption) (*middleware.Scheme, error) {
	c := defaultCommon()
	return schemeAround(&c, v, opts)
}

// newScheme builds the bearer scheme of a service around v, behind a cache
// keyed by the exact token.
func newScheme(c *common, v middleware.Verifier, ttl time.Duration) (*middleware.Cache, *middleware.Scheme, error) {
	cacheOpts := []middleware.CacheOption{middleware.WithMaxEntries(c.cacheEntries)}
	if c.clockSet {
		cacheOpts = append(cacheOpts, middleware.WithClock(c.now))
	}
	cache, err := middleware.NewCache(v, ttl, append(cacheOpts, c.cacheOpts...)...)
	if err != nil {
		return nil, nil, err
	}
	scheme, err := schemeAround(c, cache, c.schemeOpts)
	if err != nil {
		_ = cache.Close()
		return nil, nil, err
	}
	return cache, scheme, nil
}

// schemeAround builds the bearer extractor, challenge and renderer of c
// around v; extra options apply last.
func schemeAround(c *common, v middleware.Verifier, extra []middleware.SchemeOption) (*middleware.Scheme, error) {
	// The extractor checks the RFC 6750 §2.1 grammar only (a b64token, the
	// core's default): a request that breaks it is malformed, 400
	// invalid_request. A b64token that is not a JWS (two segments, an opaque
	// refresh token sent by mistake) is a malformed token, which RFC 6750
	// §3.1 names invalid_token, 401, so that the client drops it and logs in
	// again: the Verifier refuses it (isCompactJWS) before golang-jwt sees it.
	ex, err := middleware.NewAuthorizationExtractor(Kind, "Bearer",
		middleware.WithMaxHeaderBytes(len("Bearer ")+c.maxTokenBytes))
	if err != nil {
		return nil, err
	}
	opts := []middleware.SchemeOption{middleware.WithRenderer(render), middleware.WithLogger(c.logger)}
	if c.clockSet {
		opts = append(opts, middleware.WithClock(c.now))
	}
	challenge := middleware.Challenge{Scheme: "Bearer", Realm: c.realm, RFC6750: true}
	return middleware.NewScheme(Kind, ex, v, challenge, append(opts, extra...)...)
}

// Scheme returns the bearer scheme, for middleware.Require, Optional and
// Any. Its verifier is a cache in front of the JWT check. On a nil or zero
// Service it is nil, which Require refuses at wiring time.
func (s *Service) Scheme() *middleware.Scheme {
	if s == nil {
		return nil
	}
	return s.scheme
}

// Handler returns the endpoints, relative to where they are mounted:
//
//	POST /authenticate  {"username","password"} -> access and refresh token
//	POST /refresh       Bearer access token (may be expired) + {"refresh_token"}
//	GET  /ping          Bearer access token -> {"authenticated":true}
//	POST /logout        Bearer access token -> revokes its login; 200 whatever the
//	                    token, 503 when the revocation cannot be recorded
//
// Mount it with http.StripPrefix, for example under /api/v1.
//
// On a nil or zero Service (not made by New) it answers every request 500,
// so that the mistake shows on the first request instead of a panic.
func (s *Service) Handler() http.Handler {
	if !s.built() {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			render(w, r, middleware.AsError(notBuilt("Service")))
		})
	}
	return s.handler
}

// Cache returns the cache of verified tokens behind Scheme: register it with
// a redisstore.Broadcaster so that other replicas' revocations evict from
// it at once. On a nil or zero Service it is nil (whose methods do nothing
// or answer ErrInternal).
func (s *Service) Cache() *middleware.Cache {
	if s == nil {
		return nil
	}
	return s.cache
}

// Close stops the scheme cache's background goroutine. It is idempotent,
// and does nothing on a nil or zero Service (so that a deferred Close after
// a failed New is harmless).
func (s *Service) Close() error {
	if !s.built() {
		return nil // no cache, no goroutine
	}
	return s.cache.Close()
}

// built reports whether s was made by New. Its methods fail safe on a nil
// or zero Service: they answer ErrInternal (Handler and JWKSHandler a 500),
// answer nil (the getters), or do nothing.
func (s *Service) built() bool { return s != nil && s.keys != nil && s.cache != nil }

// Tokens are the tokens of a login or a refresh.
type Tokens struct {
	// AccessToken is the JWT.
	AccessToken string
	// RefreshToken is the opaque refresh token ("" when a refresh without
	// rotation keeps the old one).
	RefreshToken string
	// ExpiresIn is the access token's lifetime.
	ExpiresIn time.Duration
}

// String shows the tokens' lifetime, never the tokens: whoever holds them
// is the user until they expire.
func (t Tokens) String() string {
	return fmt.Sprintf("bearer.Tokens{AccessToken:%s RefreshToken:%s ExpiresIn:%s}",
		withheld.Secret(t.AccessToken), withheld.Secret(t.RefreshToken), t.ExpiresIn)
}

// Format implements fmt.Formatter so that every verb, %#v included, prints
// String.
func (t Tokens) Format(f fmt.State, _ rune) { _, _ = io.WriteString(f, t.String()) }

// LogValue implements slog.LogValuer: the lifetime, never the tokens. Its
// receiver is a value, so that Tokens logged as a value are covered; slog
// calls it on a nil *Tokens too, and logs that it panicked. encoding/json
// still encodes every field, for your own responses, and slog's JSON
// handler uses encoding/json, not LogValue, for Tokens held in a slice,
// map or struct: log Tokens on their own.
func (t Tokens) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("access_token", withheld.Secret(t.AccessToken)),
		slog.String("refresh_token", withheld.Secret(t.RefreshToken)),
		slog.Duration("expires_in", t.ExpiresIn),
	)
}

// Issue starts a login for account, as POST /authenticate does after
// checking the password: a new family with its first refresh token, and an
// access token. Use it for logins the password endpoint does not cover.
//
// Its errors are *middleware.Error values, ready for Scheme().Reject: a
// disabled account is refused with middleware.Invalid (ErrInvalidCredential,
// 401), an account without a UserID is the caller's bug (ErrInternal, 500),
// and only a refresh store that fails is ErrUnavailable (503).
func (s *Service) Issue(ctx context.Context, account middleware.Account) (Tokens, error) {
	if !s.built() {
		return Tokens{}, notBuilt("Service")
	}
	switch {
	case account.UserID == "":
		return Tokens{}, middleware.Internal("account without a user id")
	case account.Disabled:
		// A refusal, not an outage: a plain error would be read as 503
		// (middleware.AsError), telling the client to retry.
		return Tokens{}, middleware.Invalid("account")
	}
	now := s.cfg.now()
	fam := Family{ID: newID(), Subject: account.UserID, CreatedAt: now, ExpiresAt: now.Add(s.cfg.familyLifetime)}
	refresh := middleware.NewToken()
	if err := s.cfg.refreshStore.Create(ctx, fam, middleware.DigestToken(refresh), now.Add(s.cfg.refreshTTL)); err != nil {
		return Tokens{}, middleware.Unavailable("refresh store", err)
	}
	access, err := s.mint(account, fam.ID, now)
	if err != nil {
		return Tokens{}, err
	}
	return Tokens{AccessToken: access, RefreshToken: refresh, ExpiresIn: s.cfg.accessTTL}, nil
}

// mint signs an access token for account under login sid.
func (s *Service) mint(account middleware.Account, sid string, now time.Time) (string, error) {
	s.noteMinted(now)
	key := s.keys.signing
	claims := Claims{
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer:    s.cfg.issuer,
			Subject:   account.UserID,
			Audience:  jwt.ClaimStrings{s.cfg.audience},
			ExpiresAt: jwt.NewNumericDate(now.Add(s.cfg.accessTTL)),
			IssuedAt:  jwt.NewNumericDate(now),
			ID:        newID(),
		},
		LoginID: sid,
		Roles:   account.Roles,
	}
	signed, err := newAccessToken(key, claims).SignedString(key.signingKey())
	if err != nil {
		return "", middleware.Internal("signing")
	}
	return signed, nil
}

// newID returns a random 128-bit id for jti and sid.
func newID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// RevokeSubject revokes everything a user holds, for a password change or a
// disabled account: every refresh-token family, and every access token
// issued before now. Tokens are issued with a precision of one second, so
// tokens issued within the current second are revoked too (fail safe); a
// new login a second later works. "Now" is this replica's clock and a
// token's iat its minting replica's: a token minted by a replica whose
// clock runs more than a second ahead escapes, and so does one minted
// before this replica's clock was set back (see SECURITY.md).
func (s *Service) RevokeSubject(ctx context.Context, subject string) error {
	if !s.built() {
		return notBuilt("Service")
	}
	if subject == "" {
		return errors.New("bearer: empty subject")
	}
	if err := s.cfg.refreshStore.RevokeSubject(ctx, subject); err != nil {
		return err
	}
	now := s.cfg.now()
	before := now.Truncate(time.Second).Add(time.Second)
	err := s.cfg.revocations.RevokeSubject(ctx, subject, before, s.revokedUntil(now, time.Time{}))
	s.invalidateSubject(subject) // even on an error, which may come after the work was done
	return err
}

// revokedUntil is how long a login or subject revocation must be kept once
// its refresh tokens are gone: no new access token can be minted, and every
// existing one expires within the access lifetime, plus the largest leeway
// any verifier sharing the revocation list may allow (a JWKSVerifier's
// WithLeeway goes up to MaxLeeway, beyond this service's own).
// It counts from the latest of now, the latest issue time this service
// minted (see revocationNow) and issued, the issue time of the token
// presented (zero for none): a login's tokens minted before the clock was
// set back expire after now plus the access lifetime. issued covers tokens
// that another replica, or this service before a restart, minted, which
// mintedUpTo does not know.
func (s *Service) revokedUntil(now, issued time.Time) time.Time {
	from := s.revocationNow(now)
	if issued.After(from) {
		from = issued
	}
	return from.Add(s.cfg.accessTTL + MaxLeeway + revocationMargin)
}

// noteMinted raises mintedUpTo to now, the issue time of a token being
// minted.
func (s *Service) noteMinted(now time.Time) {
	n := now.UnixNano()
	for {
		latest := s.mintedUpTo.Load()
		if n <= latest || s.mintedUpTo.CompareAndSwap(latest, n) {
			return
		}
	}
}

// revocationNow is the later of now and the latest issue time this service
// minted. They differ only after the wall clock was set back (an NTP step,
// a VM resumed): tokens minted before the step expire up to the step's
// size after now plus the access lifetime, so a logout's revocation
// counted from now would end before them and let them in again.
func (s *Service) revocationNow(now time.Time) time.Time {
	if latest := time.Unix(0, s.mintedUpTo.Load()); latest.After(now) {
		return latest
	}
	return now
}

// invalidateSubject evicts the subject's cached tokens here and, through
// the extra invalidator, elsewhere.
func (s *Service) invalidateSubject(subject string) {
	s.cache.InvalidateSubject(subject)
	if s.cfg.invalidator != nil {
		s.cfg.invalidator.InvalidateSubject(subject)
	}
}

// invalidate evicts one token here and elsewhere.
func (s *Service) invalidate(cred middleware.Credential) {
	s.cache.Invalidate(cred)
	if s.cfg.invalidator != nil {
		s.cfg.invalidator.Invalidate(cred)
	}
}
