package basicauth

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"reflect"
	"time"

	"github.com/tidegate/tidegate/internal/contain"
	"github.com/tidegate/tidegate/internal/nilness"
	"github.com/tidegate/tidegate/internal/withheld"
	"github.com/tidegate/tidegate/middleware"
)

// Service authenticates Basic app credentials and serves the Tapglue-style
// endpoints. Build it with New; it is safe for concurrent use. Close it to
// stop its caches' background goroutines.
type Service struct {
	withheld.Contents[Service] // prints as its name alone: no secret in a log

	apps       AppRegistry
	accounts   middleware.AccountWriter
	login      *middleware.PasswordLogin
	sessions   middleware.SessionStore
	proxies    *middleware.TrustedProxies
	transport  *transport
	now        func() time.Time
	sessionTTL time.Duration
	logger     *slog.Logger

	userCache, appCache   *middleware.Cache
	userScheme, appScheme *middleware.Scheme
	invalidator           middleware.Invalidator // optional, after the caches
	handler               http.Handler
}

// New returns a Service that checks app and backend tokens against apps,
// creates users in accounts and checks passwords with login, which must be
// the PasswordLogin shared by every credential kind (so that throttling
// counts attempts on all login endpoints together) and use the same
// accounts.
func New(apps AppRegistry, accounts middleware.AccountWriter, login *middleware.PasswordLogin, opts ...Option) (*Service, error) {
	if nilness.Is(apps) || nilness.Is(accounts) || login == nil {
		return nil, errors.New("basicauth: New needs an app registry, accounts and a password login")
	}
	if !sameAccounts(accounts, login.Accounts()) {
		return nil, errors.New("basicauth: the password login must check the same accounts that POST /users writes")
	}
	cfg, err := newConfig(opts)
	if err != nil {
		return nil, err
	}
	if cfg.sessions == nil {
		store, err := middleware.NewMemorySessionStore(middleware.WithStoreClock(cfg.now))
		if err != nil {
			return nil, err
		}
		cfg.sessions = store
	}
	s := &Service{
		apps:        apps,
		accounts:    accounts,
		login:       login,
		sessions:    cfg.sessions,
		proxies:     cfg.proxies,
		now:         cfg.now,
		sessionTTL:  cfg.sessionTTL,
		logger:      cfg.logger,
		invalidator: cfg.invalidator,
		transport: &transport{
			proxies:          cfg.proxies,
			insecureLoopback: cfg.insecureLoopback,
			hsts:             []string{cfg.hstsValue()}, // len == cap: see setHSTS
		},
	}
	if err := s.buildSchemes(&cfg); err != nil {
		_ = s.Close()
		return nil, err
	}
	s.handler = contain.Endpoints(s.routes(), s.userScheme)
	if cfg.insecureLoopback {
		cfg.logger.Warn("basicauth: WithInsecureLoopback is set: app credentials are accepted over plain HTTP " +
			"from loopback peers; this is for local development only and must never reach production")
	}
	return s, nil
}

// sameAccounts reports whether a and b are the same store, without
// panicking on incomparable implementations.
func sameAccounts(a middleware.AccountWriter, b middleware.Accounts) bool {
	ta, tb := reflect.TypeOf(a), reflect.TypeOf(b)
	if ta != tb {
		return false
	}
	if !ta.Comparable() {
		return true // cannot tell: trust the caller
	}
	return middleware.Accounts(a) == b
}

// buildSchemes makes the two schemes, each over its own cache: a
// credential the app scheme accepts (an app token alone) must never be a
// cache hit for the user scheme, which refuses it.
func (s *Service) buildSchemes(cfg *config) error {
	cacheOpts := []middleware.CacheOption{middleware.WithMaxEntries(cfg.cacheMaxEntries)}
	if cfg.customClock {
		// Only then: with the real clock the core reads the monotonic
		// clock once per cache hit instead of twice.
		cacheOpts = append(cacheOpts, middleware.WithClock(cfg.now))
	}
	cacheOpts = append(cacheOpts, cfg.cacheOpts...)
	build := func(needUser bool) (*middleware.Cache, *middleware.Scheme, error) {
		cache, err := middleware.NewCache(verifier{s: s, needUser: needUser}, cfg.cacheTTL, cacheOpts...)
		if err != nil {
			return nil, nil, err
		}
		scheme, err := schemeAround(cfg, s.transport, cache)
		if err != nil {
			_ = cache.Close()
			return nil, nil, err
		}
		return cache, scheme, nil
	}
	var err error
	if s.userCache, s.userScheme, err = build(true); err != nil {
		return err
	}
	s.appCache, s.appScheme, err = build(false)
	return err
}

// NewScheme returns the Basic scheme around any Verifier, as Service builds
// it around its own: the strict Basic extractor behind the HTTPS rule
// (credentials over plain HTTP are refused with 403 before v is asked; see
// WithTrustedProxies and WithInsecureLoopback), the challenge
// Basic realm="...", charset="UTF-8", and Tapglue's error bodies. It is for
// a Verifier of your own, such as tidegatetest.NewStaticVerifier in tests;
// put a middleware.Cache in front of one that is costly. Of opts, those
// about transport, realm, logging, the clock and the scheme
// (WithSchemeOptions) apply; the others are accepted and have nothing to
// act on. The scheme sets no
// Strict-Transport-Security header (a Service's HSTS and RequireUser do):
// set it as your server does.
func NewScheme(v middleware.Verifier, opts ...Option) (*middleware.Scheme, error) {
	if nilness.Is(v) {
		return nil, errors.New("basicauth: NewScheme needs a verifier")
	}
	cfg, err := newConfig(opts)
	if err != nil {
		return nil, err
	}
	t := &transport{proxies: cfg.proxies, insecureLoopback: cfg.insecureLoopback, hsts: []string{cfg.hstsValue()}}
	return schemeAround(&cfg, t, v)
}

// schemeAround builds the Basic extractor (behind the HTTPS rule of t),
// challenge and renderer of cfg around v.
func schemeAround(cfg *config, t *transport, v middleware.Verifier) (*middleware.Scheme, error) {
	basic, err := middleware.NewBasicExtractor(Kind, middleware.WithMaxHeaderBytes(MaxHeaderBytes))
	if err != nil {
		return nil, err
	}
	ex := &httpsExtractor{inner: basic, peeker: basic.(middleware.Peeker), transport: t}
	challenge := middleware.Challenge{Scheme: "Basic", Realm: cfg.realm, Charset: true}
	opts := []middleware.SchemeOption{middleware.WithRenderer(render), middleware.WithLogger(cfg.logger)}
	if cfg.customClock {
		opts = append(opts, middleware.WithClock(cfg.now))
	}
	opts = append(opts, cfg.schemeOpts...)
	return middleware.NewScheme(Kind, ex, v, challenge, opts...)
}

// built reports whether s was made by New. Its methods fail safe on a nil
// or zero Service: they answer ErrInternal (Handler and HSTS a 500), answer
// nil (the schemes; RequireUser and RequireApp then panic at wiring time,
// as middleware.Require does on a nil Scheme), or do nothing.
func (s *Service) built() bool {
	return s != nil && s.apps != nil && s.sessions != nil && s.transport != nil
}

// Scheme returns the user scheme: app token with a session token, or
// backend token with a user id. Use it with middleware.Require, Optional or
// Any; wrap the result with HSTS, or use RequireUser, which does. On a nil
// or zero Service it is nil, which Require refuses at wiring time.
func (s *Service) Scheme() *middleware.Scheme {
	if s == nil {
		return nil
	}
	return s.userScheme
}

// AppScheme returns the app scheme: it also accepts an app (or backend)
// token with an empty password, authenticating the app alone (Actor
// ActorApp). Credentials with a password part are verified in full, as by
// Scheme: a bad session is never ignored. Scheme and AppScheme share the
// kind "basic", so at most one of them can be given to middleware.Any. On
// a nil or zero Service it is nil, as Scheme is.
func (s *Service) AppScheme() *middleware.Scheme {
	if s == nil {
		return nil
	}
	return s.appScheme
}

// RequireUser returns middleware that lets through requests acting as a
// user: app token with a live session of that app, or backend token with
// an existing user id. Responses to HTTPS requests carry
// Strict-Transport-Security.
func (s *Service) RequireUser() func(http.Handler) http.Handler {
	return s.require(s.Scheme())
}

// RequireApp returns middleware for routes that need only the app, such as
// sign-up and login: it accepts whatever RequireUser accepts and an app (or
// backend) token with an empty password.
func (s *Service) RequireApp() func(http.Handler) http.Handler {
	return s.require(s.AppScheme())
}

func (s *Service) require(scheme *middleware.Scheme) func(http.Handler) http.Handler {
	auth := middleware.Require(scheme)
	return func(next http.Handler) http.Handler { return s.HSTS(auth(next)) }
}

// Handler returns the Tapglue-style endpoints, with paths relative to where
// it is mounted (the example server mounts it under /0.4):
//
//	POST   /users      app only      create a user: 201 {"id","user_name","email"}
//	POST   /me/login   app only      log in: 201 {"id","user_name","email","session_token"}
//	DELETE /me/logout  app+session   revoke this session: 204
//	GET    /me         user          the user: 200 {"id","user_name","email"}
//
// Any other method on these paths is answered 405 with Allow and code
// CodeMethodNotAllowed.
//
// On a nil or zero Service (not made by New) it answers every request 500,
// as HSTS does, so that the mistake shows on the first request instead of
// a panic.
func (s *Service) Handler() http.Handler {
	if !s.built() {
		return notBuiltHandler
	}
	return s.handler
}

// RevokeSubject ends every app session of a user and evicts every cached
// credential of the user (sessions and backend credentials alike). Call it
// after a password change and when disabling or deleting an account: a
// session is checked against the session store, not the account, so it
// outlives a disabled account until revoked. (Backend credentials do check
// the account, once per cache TTL.)
func (s *Service) RevokeSubject(ctx context.Context, userID string) error {
	if !s.built() {
		return notBuilt("Service")
	}
	err := s.sessions.RevokeSubject(ctx, userID)
	// The caches forget the user even on an error, which may come after the
	// store did the work (a late answer from Redis).
	s.userCache.InvalidateSubject(userID)
	s.appCache.InvalidateSubject(userID)
	if s.invalidator != nil {
		s.invalidator.InvalidateSubject(userID)
	}
	return err
}

// RotateToken replaces an app's token of type t by a fresh one, which it
// returns (the only time it is seen in plain text). The old token stops
// working at once; sessions of the app stay valid with the new app token.
// An unknown app is ErrAppNotFound; a t other than AppToken and
// BackendToken is the caller's bug, middleware.ErrInternal.
func (s *Service) RotateToken(ctx context.Context, appID string, t TokenType) (string, error) {
	if !s.built() {
		return "", notBuilt("Service")
	}
	if !t.valid() {
		// Not a plain error, which middleware.AsError would read as an
		// outage (503, retry later).
		return "", middleware.Internal("unknown token type")
	}
	token := newToken(t)
	err := s.apps.Rotate(ctx, appID, t, middleware.DigestToken(token))
	s.purge() // even on an error, which may come after the work was done
	if err != nil {
		return "", err
	}
	return token, nil
}

// RevokeApp removes an app: neither of its tokens works any more, at once.
// Its users' app sessions stay in the session store until they expire, and
// would work again with the tokens of an app registered later under the
// same id: give a new app a new id (or RevokeSubject its users first).
func (s *Service) RevokeApp(ctx context.Context, appID string) error {
	if !s.built() {
		return notBuilt("Service")
	}
	err := s.apps.Revoke(ctx, appID)
	s.purge() // even on an error, which may come after the work was done
	return err
}

// purge evicts every cached credential: the caches cannot tell which
// entries belong to an app. App changes are rare; the caches refill. A
// registry's error does not tell that nothing changed (Redis may answer
// late, after running the change), so changes purge whatever the outcome.
func (s *Service) purge() {
	s.userCache.Purge()
	s.appCache.Purge()
	if p, ok := s.invalidator.(interface{ Purge() }); ok {
		p.Purge()
	}
}

// invalidate evicts one credential everywhere, after its revocation.
func (s *Service) invalidate(c middleware.Credential, subject string) {
	s.userCache.Invalidate(c)
	s.appCache.Invalidate(c)
	if s.invalidator != nil {
		// The extra Invalidator may speak for other replicas, which cannot be
		// told a credential: they hear the subject and verify its cached
		// credentials again against the shared store.
		s.invalidator.Invalidate(c)
		s.invalidator.InvalidateSubject(subject)
	}
}

// Close stops the caches' background goroutines. It is idempotent, and
// does nothing on a nil Service (a deferred Close after a failed New).
func (s *Service) Close() error {
	if s == nil {
		return nil
	}
	for _, c := range []*middleware.Cache{s.userCache, s.appCache} {
		if c != nil {
			_ = c.Close()
		}
	}
	return nil
}
