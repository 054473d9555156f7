package session

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"time"

	"github.com/tidegate/tidegate/internal/contain"
	"github.com/tidegate/tidegate/internal/withheld"
	"github.com/tidegate/tidegate/middleware"
)

// Service issues, verifies, refreshes and revokes session tokens. Build it
// with New; mount Handler; protect routes with Scheme. It is safe for
// concurrent use. Close stops the cache's background goroutine.
type Service struct {
	withheld.Contents[Service] // prints as its name alone: no secret in a log

	login         *middleware.PasswordLogin
	store         middleware.SessionStore
	cache         *middleware.Cache
	scheme        *middleware.Scheme
	extra         middleware.Invalidator // nil when not configured
	servers       serverSecrets
	serverLimiter middleware.LoginLimiter // nil: server logins not throttled
	proxies       *middleware.TrustedProxies
	logger        *slog.Logger
	now           func() time.Time

	lifetime       time.Duration
	absolute       time.Duration
	grace          time.Duration
	serverLifetime time.Duration

	handler http.Handler
}

// New returns a Service that checks passwords with login. Pass the same
// *middleware.PasswordLogin to every kind's service, so that throttling
// counts are shared by all login endpoints.
func New(login *middleware.PasswordLogin, opts ...Option) (*Service, error) {
	if login == nil || login.Accounts() == nil {
		return nil, errors.New("session: New needs a password login made by middleware.NewPasswordLogin")
	}
	cfg, err := newConfig(opts)
	if err != nil {
		return nil, err
	}
	if cfg.store == nil {
		if cfg.store, err = middleware.NewMemorySessionStore(middleware.WithStoreClock(cfg.now)); err != nil {
			return nil, err
		}
	}
	s := &Service{
		login:          login,
		store:          cfg.store,
		extra:          cfg.invalidator,
		servers:        newServerSecrets(cfg.servers),
		serverLimiter:  cfg.serverLimiter,
		proxies:        cfg.proxies,
		logger:         cfg.logger,
		now:            cfg.now,
		lifetime:       cfg.lifetime,
		absolute:       cfg.absolute,
		grace:          cfg.grace,
		serverLifetime: cfg.serverLifetime,
	}
	if err := s.buildScheme(cfg); err != nil {
		return nil, err
	}
	s.handler = contain.Endpoints(s.routes(), s.scheme)
	return s, nil
}

// buildScheme wraps the store verifier in the cache and the scheme.
func (s *Service) buildScheme(cfg config) error {
	v, err := NewStoreVerifier(s.store)
	if err != nil {
		return err
	}
	v = ownSessions{next: v, servers: s.servers}
	// The service's clock goes to the cache and the scheme only when WithClock
	// gave one: on the real clock they take a faster path (a cache hit reads
	// only the monotonic clock, and the scheme no clock at all).
	var cacheOpts []middleware.CacheOption
	schemeOpts := []middleware.SchemeOption{middleware.WithLogger(s.logger)}
	if cfg.clockSet {
		cacheOpts = append(cacheOpts, middleware.WithClock(s.now))
		schemeOpts = append(schemeOpts, middleware.WithClock(s.now))
	}
	cacheOpts = append(cacheOpts, cfg.cacheOpts...)
	if s.cache, err = middleware.NewCache(v, cfg.cacheTTL, cacheOpts...); err != nil {
		return err
	}
	schemeOpts = append(schemeOpts, cfg.schemeOpts...)
	if s.scheme, err = NewScheme(s.cache, schemeOpts...); err != nil {
		_ = s.cache.Close()
		return err
	}
	return nil
}

// ownSessions refuses the token of a server this Service no longer lists
// (WithServers): a server is removed when its secret leaks, and its token,
// minted with that secret, lived on for its whole lifetime (24 hours) in a
// store that outlives the process (Redis). (App sessions, which a store
// shared with basicauth holds too, NewStoreVerifier refuses itself:
// examples/server/adversarial, TestSharedSessionStore.)
type ownSessions struct {
	next    middleware.Verifier
	servers serverSecrets
}

// Verify implements middleware.Verifier.
func (v ownSessions) Verify(ctx context.Context, c middleware.Credential) (middleware.Principal, error) {
	p, err := v.next.Verify(ctx, c)
	switch {
	case err != nil:
		return p, err
	case p.ActingAs() == middleware.ActorServer && !v.servers.has(p.Subject):
		return middleware.Principal{}, middleware.Invalid("server removed").WithSubject(p.Subject)
	}
	return p, nil
}

// Scheme returns the scheme to protect routes with, through
// middleware.Require, Optional or Any. Its Verifier is the service's cache.
// On a nil or zero Service it is nil, which Require refuses at wiring time.
func (s *Service) Scheme() *middleware.Scheme {
	if s == nil {
		return nil
	}
	return s.scheme
}

// Cache returns the verification cache in front of the store, for an
// invalidation broadcast to evict from when another replica revokes. On a
// nil or zero Service it is nil (whose methods do nothing or answer
// ErrInternal).
func (s *Service) Cache() *middleware.Cache {
	if s == nil {
		return nil
	}
	return s.cache
}

// Store returns the session store (nil on a nil or zero Service).
func (s *Service) Store() middleware.SessionStore {
	if s == nil {
		return nil
	}
	return s.store
}

// Handler returns the Tidepool endpoints, with paths relative to where it
// is mounted: POST and GET /login, POST /logout, POST /serverlogin and GET
// /token/{token}. Mount it under a prefix with http.StripPrefix.
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

// RevokeSubject ends every session of a user (or server) at once: in the
// store, then in the cache and the extra Invalidator. Call it after a
// password change or when disabling an account.
func (s *Service) RevokeSubject(ctx context.Context, subject string) error {
	if !s.built() {
		return notBuilt("Service")
	}
	err := s.store.RevokeSubject(ctx, subject)
	// The caches forget the subject even on an error, which may come after
	// the store did the work (a late answer from Redis): a cached token must
	// not outlive its revocation.
	s.forgetSubject(subject)
	if err != nil {
		return middleware.Unavailable("store", err)
	}
	return nil
}

// revoke ends one token in the store, then in the caches (on a store error
// too, as RevokeSubject does).
func (s *Service) revoke(ctx context.Context, cred middleware.Credential, subject string) error {
	err := s.store.Revoke(ctx, middleware.DigestToken(cred.Token))
	s.invalidate(cred, subject)
	if err != nil {
		return middleware.Unavailable("store", err)
	}
	return nil
}

// maxPredecessors bounds how far logout follows a token's predecessors:
// only those still in their grace window are live, so a longer chain means
// refreshes less than 30 ms apart. Logout then answers 503 and revokes
// nothing, rather than leave one alive or end sessions that are not the
// chain's (RevokeSubject would also end the app sessions of a store shared
// with basicauth); the chain shrinks as grace windows end.
const maxPredecessors = 1024

// logout revokes cred, whose session is sess, and the tokens it was
// refreshed from that are still in their grace window. Without that, a
// token refreshed less than a grace window before the logout could
// refresh the login back to life, with a new token outliving the logout.
//
// The chain is read first and revoked oldest first, cred last: each
// revoked token's record is the only link to the one before it, so a
// failure half-way (503) must leave the rest of the chain reachable from
// cred for the client's retry. The predecessors' token strings are not
// known here, only their digests, so they leave the cache through the
// subject: the subject's other cached tokens are verified once more.
func (s *Service) logout(ctx context.Context, cred middleware.Credential, sess middleware.Session) error {
	chain, complete, err := s.predecessors(ctx, sess)
	if err != nil {
		return err
	}
	if !complete {
		return middleware.Unavailable("refresh chain", errLongChain)
	}
	for i := len(chain) - 1; i >= 0; i-- {
		if err := s.store.Revoke(ctx, chain[i]); err != nil {
			s.forgetSubject(sess.Subject) // it may be revoked all the same
			return middleware.Unavailable("store", err)
		}
	}
	err = s.revoke(ctx, cred, sess.Subject)
	if len(chain) > 0 {
		// The predecessors leave the cache, on revoke's error too (they are
		// revoked); revoke told the extra Invalidator the subject already.
		s.cache.InvalidateSubject(sess.Subject)
	}
	return err
}

var errLongChain = errors.New("session: more live predecessors than logout follows")

// predecessors returns the digests of sess's live predecessors, newest
// first; complete is false when there are more than maxPredecessors.
func (s *Service) predecessors(ctx context.Context, sess middleware.Session) (chain []middleware.TokenDigest, complete bool, err error) {
	for pred := sess.Predecessor; pred != (middleware.TokenDigest{}); {
		p, err := s.store.Lookup(ctx, pred)
		if errors.Is(err, middleware.ErrSessionNotFound) {
			break // its grace window is over, and so is its predecessor's
		}
		if err != nil {
			return nil, false, middleware.Unavailable("store", err)
		}
		if len(chain) == maxPredecessors {
			return nil, false, nil // a live one past the bound
		}
		chain = append(chain, pred)
		pred = p.Predecessor
	}
	return chain, true, nil
}

// forgetSubject evicts the subject's credentials from the cache and the
// extra Invalidator.
func (s *Service) forgetSubject(subject string) {
	s.cache.InvalidateSubject(subject)
	if s.extra != nil {
		s.extra.InvalidateSubject(subject)
	}
}

// invalidate evicts one credential from the cache and the extra Invalidator.
func (s *Service) invalidate(cred middleware.Credential, subject string) {
	s.cache.Invalidate(cred)
	if s.extra != nil {
		// The extra Invalidator may speak for other replicas, which cannot be
		// told a credential: they hear the subject and verify its cached
		// credentials again against the shared store.
		s.extra.Invalidate(cred)
		s.extra.InvalidateSubject(subject)
	}
}

// Close stops the cache's background goroutine. The service keeps
// answering afterwards. Close is idempotent, and does nothing on a nil or
// zero Service (so that a deferred Close after a failed New is harmless).
func (s *Service) Close() error {
	if !s.built() {
		return nil // no cache, no goroutine
	}
	return s.cache.Close()
}

// built reports whether s was made by New. Its methods fail safe on a nil
// or zero Service: they answer ErrInternal (Handler a 500), answer nil (the
// getters), or do nothing.
func (s *Service) built() bool { return s != nil && s.store != nil && s.cache != nil }

// notBuilt is the error of a method called on a value its constructor did
// not make (a zero value of typ): a 500, never a panic at request time.
func notBuilt(typ string) error {
	return middleware.Internal(typ + " not built by its constructor")
}
