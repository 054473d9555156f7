package basicauth

import (
	"errors"
	"log/slog"
	"strconv"
	"time"

	"github.com/tidegate/tidegate/internal/nilness"
	"github.com/tidegate/tidegate/middleware"
)

// Defaults of a Service.
const (
	// DefaultSessionTTL is how long an app session lives. Mobile app
	// sessions are long-lived; 30 days is the re-authentication period
	// OWASP ASVS 3.3.2 sets for level 1. Logout and RevokeSubject end a
	// session earlier, at once.
	DefaultSessionTTL = 30 * 24 * time.Hour
	// DefaultCacheTTL is how long a verified credential is trusted without
	// asking the registry and stores again (never past a session's expiry).
	DefaultCacheTTL = time.Minute
	// DefaultHSTSMaxAge is the max-age of Strict-Transport-Security: one
	// year, as RFC 6797 §11.2 suggests for a site committed to HTTPS.
	DefaultHSTSMaxAge = 365 * 24 * time.Hour
	// DefaultRealm is the realm of the WWW-Authenticate challenge.
	DefaultRealm = "tapglue"
	// MaxHeaderBytes bounds the Authorization header. The longest valid
	// credential (backend token, colon, MaxUserIDBytes) encodes to fewer
	// than 420 bytes.
	MaxHeaderBytes = 1024
	// MaxBodyBytes bounds the JSON body of POST /users and POST /me/login.
	MaxBodyBytes = 64 << 10
)

// Option configures New.
type Option func(*config) error

type config struct {
	sessions         middleware.SessionStore
	now              func() time.Time
	customClock      bool // WithClock was given
	sessionTTL       time.Duration
	cacheTTL         time.Duration
	cacheMaxEntries  int
	realm            string
	proxies          *middleware.TrustedProxies
	insecureLoopback bool
	hstsMaxAge       time.Duration
	hstsSubdomains   bool
	invalidator      middleware.Invalidator
	logger           *slog.Logger
	cacheOpts        []middleware.CacheOption
	schemeOpts       []middleware.SchemeOption
}

func newConfig(opts []Option) (config, error) {
	c := config{
		now:             time.Now,
		sessionTTL:      DefaultSessionTTL,
		cacheTTL:        DefaultCacheTTL,
		cacheMaxEntries: middleware.DefaultMaxEntries,
		realm:           DefaultRealm,
		hstsMaxAge:      DefaultHSTSMaxAge,
		logger:          slog.Default(),
	}
	for _, opt := range opts {
		if opt == nil {
			return c, errors.New("basicauth: nil option")
		}
		if err := opt(&c); err != nil {
			return c, err
		}
	}
	return c, nil
}

// hstsValue renders the Strict-Transport-Security value (RFC 6797 §6.1).
func (c *config) hstsValue() string {
	v := "max-age=" + strconv.FormatInt(int64(c.hstsMaxAge/time.Second), 10)
	if c.hstsSubdomains {
		v += "; includeSubDomains"
	}
	return v
}

// WithSessionStore sets where app sessions are kept (default a
// middleware.MemorySessionStore using the Service's clock). Session.App
// holds the app id. Share it with nothing that issues sessions without an
// App: those are refused here anyway.
func WithSessionStore(s middleware.SessionStore) Option {
	return func(c *config) error {
		if nilness.Is(s) {
			return errors.New("basicauth: session store must not be nil")
		}
		c.sessions = s
		return nil
	}
}

// WithSessionTTL sets how long an app session lives (default
// DefaultSessionTTL). It must be positive.
func WithSessionTTL(d time.Duration) Option {
	return func(c *config) error {
		if d <= 0 {
			return errors.New("basicauth: session TTL must be positive")
		}
		c.sessionTTL = d
		return nil
	}
}

// WithCacheTTL sets how long a verified credential is cached (default
// DefaultCacheTTL). It must be positive.
func WithCacheTTL(d time.Duration) Option {
	return func(c *config) error {
		if d <= 0 {
			return errors.New("basicauth: cache TTL must be positive")
		}
		c.cacheTTL = d
		return nil
	}
}

// WithCacheMaxEntries bounds each of the Service's two verification caches
// (default middleware.DefaultMaxEntries). It must be positive.
func WithCacheMaxEntries(n int) Option {
	return func(c *config) error {
		if n <= 0 {
			return errors.New("basicauth: cache max entries must be positive")
		}
		c.cacheMaxEntries = n
		return nil
	}
}

// WithClock sets the clock for session expiry and caching (default
// time.Now). Tests move a fake clock instead of sleeping.
func WithClock(now func() time.Time) Option {
	return func(c *config) error {
		if now == nil {
			return errors.New("basicauth: clock must not be nil")
		}
		c.now, c.customClock = now, true
		return nil
	}
}

// WithRealm sets the realm of the WWW-Authenticate challenge (default
// DefaultRealm). It must be printable, without quotes or backslashes.
func WithRealm(realm string) Option {
	return func(c *config) error {
		if realm == "" {
			return errors.New("basicauth: realm must not be empty")
		}
		c.realm = realm // checked in full by middleware.NewScheme
		return nil
	}
}

// WithTrustedProxies names the reverse proxies whose X-Forwarded-Proto (and
// X-Forwarded-For, for login throttling) are believed. A nil value (the
// default) trusts nobody: a request is HTTPS only when it arrived over TLS,
// and the client is the TCP peer (RemoteAddr).
func WithTrustedProxies(p *middleware.TrustedProxies) Option {
	return func(c *config) error { c.proxies = p; return nil }
}

// WithInsecureLoopback accepts credentials over plain HTTP from loopback:
// the direct peer must be a loopback address, and, when it is a trusted
// proxy (WithTrustedProxies), its X-Forwarded-For must name only loopback
// addresses (a missing or unreadable one is not local). It is for local
// development only: behind a reverse proxy on the same host that is not
// configured as trusted, every request comes from loopback, and this option
// would accept credentials that crossed the network in clear text. New logs
// a warning when it is set.
func WithInsecureLoopback() Option {
	return func(c *config) error {
		c.insecureLoopback = true
		return nil
	}
}

// WithHSTS sets the Strict-Transport-Security header sent on responses to
// HTTPS requests (default max-age of DefaultHSTSMaxAge, without
// includeSubDomains). maxAge is rounded down to whole seconds; zero tells
// browsers to forget the policy (RFC 6797 §6.1.1). It must not be negative.
func WithHSTS(maxAge time.Duration, includeSubDomains bool) Option {
	return func(c *config) error {
		if maxAge < 0 {
			return errors.New("basicauth: HSTS max-age must not be negative")
		}
		c.hstsMaxAge, c.hstsSubdomains = maxAge, includeSubDomains
		return nil
	}
}

// WithInvalidator adds an Invalidator told of every revocation, after the
// Service's own caches (for example one that broadcasts to other replicas).
// After a logout it is called with both Invalidate(credential) and
// InvalidateSubject(user id), so that an Invalidator that cannot carry
// credentials to other replicas can still make them verify that user's
// cached credentials again.
// On RotateToken and RevokeApp, which affect every credential of an app, it
// is purged if it has a Purge() method; otherwise other replicas keep such
// credentials until their cache TTL runs out.
func WithInvalidator(inv middleware.Invalidator) Option {
	return func(c *config) error {
		if nilness.Is(inv) {
			return errors.New("basicauth: invalidator must not be nil")
		}
		c.invalidator = inv
		return nil
	}
}

// WithLogger sets the logger (default slog.Default()). Authentication
// outcomes are logged by the middleware schemes, the endpoints' answers by
// the handlers (see the package doc); no event carries a secret.
func WithLogger(l *slog.Logger) Option {
	return func(c *config) error {
		if l == nil {
			return errors.New("basicauth: logger must not be nil")
		}
		c.logger = l
		return nil
	}
}

// WithCacheOptions passes options to both of the Service's verification
// caches (for example middleware.WithObserver). They apply after the
// Service's clock and WithCacheMaxEntries, so they may replace them.
func WithCacheOptions(opts ...middleware.CacheOption) Option {
	return func(c *config) error {
		c.cacheOpts = append(c.cacheOpts, opts...)
		return nil
	}
}

// WithSchemeOptions passes options to both of the Service's schemes, the
// user and the app scheme, and to NewScheme's (for example
// middleware.WithObserver or middleware.WithIdentityHeaders). They apply
// after the Service's clock, logger and renderer, so they may replace them.
func WithSchemeOptions(opts ...middleware.SchemeOption) Option {
	return func(c *config) error {
		c.schemeOpts = append(c.schemeOpts, opts...)
		return nil
	}
}
