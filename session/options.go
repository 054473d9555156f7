package session

import (
	"errors"
	"log/slog"
	"time"

	"github.com/tidegate/tidegate/internal/nilness"
	"github.com/tidegate/tidegate/middleware"
)

// Defaults of a Service.
const (
	// DefaultTokenLifetime is how long a user token lives.
	DefaultTokenLifetime = time.Hour
	// DefaultAbsoluteLifetime bounds a login however often it is refreshed
	// (OWASP ASVS 3.3.2: re-authentication after a fixed period).
	DefaultAbsoluteLifetime = 7 * 24 * time.Hour
	// DefaultRefreshGrace is how long a refreshed token keeps working, so
	// that requests already in flight with it do not fail.
	DefaultRefreshGrace = 30 * time.Second
	// DefaultServerTokenLifetime is how long a server token lives.
	DefaultServerTokenLifetime = 24 * time.Hour
	// DefaultCacheTTL is how long a verified token is trusted without
	// asking the store again (never past the token's own expiry).
	DefaultCacheTTL = time.Minute
)

// Option configures New.
type Option func(*config) error

type config struct {
	store          middleware.SessionStore
	now            func() time.Time
	clockSet       bool // WithClock was given
	lifetime       time.Duration
	absolute       time.Duration
	grace          time.Duration
	serverLifetime time.Duration
	cacheTTL       time.Duration
	servers        map[string]string
	serverLimiter  middleware.LoginLimiter
	proxies        *middleware.TrustedProxies
	invalidator    middleware.Invalidator
	logger         *slog.Logger
	cacheOpts      []middleware.CacheOption
	schemeOpts     []middleware.SchemeOption
}

func newConfig(opts []Option) (config, error) {
	c := config{
		now:            time.Now,
		lifetime:       DefaultTokenLifetime,
		absolute:       DefaultAbsoluteLifetime,
		grace:          DefaultRefreshGrace,
		serverLifetime: DefaultServerTokenLifetime,
		cacheTTL:       DefaultCacheTTL,
		logger:         slog.Default(),
	}
	for _, opt := range opts {
		if opt == nil {
			return c, errors.New("session: nil option")
		}
		if err := opt(&c); err != nil {
			return c, err
		}
	}
	switch {
	case c.absolute < c.lifetime:
		return c, errors.New("session: absolute lifetime must be at least the token lifetime")
	case c.grace > c.lifetime:
		return c, errors.New("session: refresh grace must not exceed the token lifetime")
	}
	return c, nil
}

func positive(d time.Duration, what string) error {
	if d <= 0 {
		return errors.New("session: " + what + " must be positive")
	}
	return nil
}

// WithStore sets the session store (default a middleware.MemorySessionStore
// on the service's clock). A store given here must use the same clock as
// WithClock, for example through middleware.WithStoreClock.
func WithStore(s middleware.SessionStore) Option {
	return func(c *config) error {
		if nilness.Is(s) {
			return errors.New("session: store must not be nil")
		}
		c.store = s
		return nil
	}
}

// WithClock sets the clock for issuing, expiry and the verification cache
// (default time.Now).
func WithClock(now func() time.Time) Option {
	return func(c *config) error {
		if now == nil {
			return errors.New("session: clock must not be nil")
		}
		c.now, c.clockSet = now, true
		return nil
	}
}

// WithTokenLifetime sets how long a user token lives (default
// DefaultTokenLifetime).
func WithTokenLifetime(d time.Duration) Option {
	return func(c *config) error { c.lifetime = d; return positive(d, "token lifetime") }
}

// WithAbsoluteLifetime sets how long a login may be kept alive by
// refreshing (default DefaultAbsoluteLifetime). It must be at least the
// token lifetime. A server login lasts at least one server token lifetime.
func WithAbsoluteLifetime(d time.Duration) Option {
	return func(c *config) error { c.absolute = d; return positive(d, "absolute lifetime") }
}

// WithRefreshGrace sets how long a token keeps working after it was
// refreshed (default DefaultRefreshGrace). Zero ends it at once; New
// refuses a grace longer than the token lifetime (WithTokenLifetime).
func WithRefreshGrace(d time.Duration) Option {
	return func(c *config) error {
		if d < 0 {
			return errors.New("session: refresh grace must not be negative")
		}
		c.grace = d
		return nil
	}
}

// WithServerTokenLifetime sets how long a server token lives (default
// DefaultServerTokenLifetime).
func WithServerTokenLifetime(d time.Duration) Option {
	return func(c *config) error { c.serverLifetime = d; return positive(d, "server token lifetime") }
}

// WithCacheTTL sets how long a verified token is served from the cache
// (default DefaultCacheTTL); an entry never outlives its token.
func WithCacheTTL(d time.Duration) Option {
	return func(c *config) error { c.cacheTTL = d; return positive(d, "cache TTL") }
}

// Limits on configured server credentials.
const (
	maxServerNameBytes   = 256
	minServerSecretBytes = 16
	maxServerSecretBytes = 1024
)

// WithServers sets the services allowed to get server tokens from POST
// /serverlogin, as name -> secret. Names must be printable ASCII without
// spaces; secrets 16 to 1024 bytes. Only digests of the secrets are kept.
// Calling it again adds to the servers already given. The Service's Scheme
// accepts a server token only while its server is listed (a verifier built
// with NewStoreVerifier on the same store does not know the list). A token
// does not record which secret it was got with, though: after a secret
// leaks, call Service.RevokeSubject with the server's name (its tokens are
// sessions of that subject) before listing it again or giving it a new
// secret, or the tokens got with the leaked secret work again for the rest
// of their lifetime.
func WithServers(servers map[string]string) Option {
	return func(c *config) error {
		if c.servers == nil {
			c.servers = map[string]string{}
		}
		for name, secret := range servers {
			if err := CheckServer(name, secret); err != nil {
				return err
			}
			c.servers[name] = secret
		}
		return nil
	}
}

// CheckServer reports whether WithServers (and NewRemoteVerifier) accept a
// server's name and secret: a name of 1 to 256 printable ASCII characters
// without spaces, a secret of 16 to 1024 bytes without control characters.
// A configuration loader can call it to refuse a bad entry with its own
// message, naming where the entry came from.
func CheckServer(name, secret string) error {
	if name == "" || len(name) > maxServerNameBytes || !visibleASCII(name) {
		return errors.New("session: server names must be 1 to 256 printable ASCII characters without spaces")
	}
	if len(secret) < minServerSecretBytes || len(secret) > maxServerSecretBytes || !headerSafe(secret) {
		return errors.New("session: server secrets must be 16 to 1024 bytes without control characters")
	}
	return nil
}

// WithServerLoginLimiter throttles POST /serverlogin per client address,
// and per server name from each address, so that wrong secrets sent from
// elsewhere never lock a server out (default: not throttled; server
// secrets are long random strings). Passing the limiter of the password
// logins shares their address counts.
func WithServerLoginLimiter(l middleware.LoginLimiter) Option {
	return func(c *config) error {
		if nilness.Is(l) {
			return errors.New("session: server login limiter must not be nil")
		}
		c.serverLimiter = l
		return nil
	}
}

// WithTrustedProxies sets the proxies whose X-Forwarded-For is believed when
// finding the client address that logins are throttled by. A nil value (the
// default) trusts nobody: the client is the TCP peer (RemoteAddr).
func WithTrustedProxies(t *middleware.TrustedProxies) Option {
	return func(c *config) error { c.proxies = t; return nil }
}

// WithInvalidator adds an Invalidator told about every revocation, after the
// service's own cache: for example one that broadcasts to other replicas.
// After revoking one token (logout, refresh) the service calls both
// Invalidate(credential) and InvalidateSubject(its subject), so that an
// Invalidator that cannot carry credentials to other replicas can still
// make them verify that subject's cached credentials again.
func WithInvalidator(inv middleware.Invalidator) Option {
	return func(c *config) error {
		if nilness.Is(inv) {
			return errors.New("session: invalidator must not be nil")
		}
		c.invalidator = inv
		return nil
	}
}

// WithLogger sets the logger of the handlers and of the scheme (default
// slog.Default()). Events never contain a token, a password or a secret.
func WithLogger(l *slog.Logger) Option {
	return func(c *config) error {
		if l == nil {
			return errors.New("session: logger must not be nil")
		}
		c.logger = l
		return nil
	}
}

// WithCacheOptions passes options to the verification cache (for example
// middleware.WithMaxEntries or middleware.WithObserver). They apply after
// the service's clock.
func WithCacheOptions(opts ...middleware.CacheOption) Option {
	return func(c *config) error {
		c.cacheOpts = append(c.cacheOpts, opts...)
		return nil
	}
}

// WithSchemeOptions passes options to the scheme (for example
// middleware.WithObserver or middleware.WithIdentityHeaders). They apply
// after the service's clock, logger and renderer, so they may replace them.
// An Observer given here also hears, once, the outcome of every request to
// Handler's endpoints (a login, refresh, logout or token check).
func WithSchemeOptions(opts ...middleware.SchemeOption) Option {
	return func(c *config) error {
		c.schemeOpts = append(c.schemeOpts, opts...)
		return nil
	}
}

// visibleASCII reports whether s is only printable ASCII without space.
func visibleASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] >= 0x7f {
			return false
		}
	}
	return true
}

// headerSafe reports whether s can be sent as a header value: no control
// characters, no leading or trailing space (which HTTP would strip).
func headerSafe(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < ' ' || c == 0x7f {
			return false
		}
	}
	return s == "" || (s[0] != ' ' && s[len(s)-1] != ' ')
}
