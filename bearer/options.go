package bearer

import (
	"errors"
	"log/slog"
	"net/http"
	"time"

	"github.com/tidegate/tidegate/internal/nilness"
	"github.com/tidegate/tidegate/middleware"
)

// Defaults of New and NewJWKSVerifier.
const (
	// DefaultIssuer is the iss claim of tokens issued and expected when
	// WithIssuer is not given.
	DefaultIssuer = "tidegate"
	// DefaultAudience is the aud claim of tokens issued and expected when
	// WithAudience is not given.
	DefaultAudience = "tidegate"
	// DefaultRealm is the realm of the WWW-Authenticate challenge.
	DefaultRealm = "tidegate"
	// DefaultAccessTTL is the lifetime of an access token: 8 hours, the
	// expires_in of 28800 the Tidal API documents.
	DefaultAccessTTL = 8 * time.Hour
	// DefaultRefreshTTL is the lifetime of each refresh token (8 hours, as
	// documented by the Tidal API). A rotated refresh token gets a fresh
	// lifetime, bounded by the login's DefaultFamilyLifetime.
	DefaultRefreshTTL = 8 * time.Hour
	// DefaultFamilyLifetime bounds a login: however often its refresh
	// tokens rotate, none works after this long (RFC 9700 §4.14.2).
	DefaultFamilyLifetime = 30 * 24 * time.Hour
	// DefaultLeeway is the clock skew allowed on exp, nbf and iat.
	DefaultLeeway = 30 * time.Second
	// MaxLeeway is the largest leeway accepted: RFC 7519 §4.1.4 speaks of
	// "a few minutes" at most.
	MaxLeeway = 5 * time.Minute
	// DefaultMaxTokenBytes bounds an access token. Longer ones are refused
	// before any decoding.
	DefaultMaxTokenBytes = 8 << 10
	// MaxBodyBytes bounds the JSON body of authenticate and refresh.
	MaxBodyBytes = 64 << 10
	// DefaultCacheTTL is how long a verified token is trusted without being
	// verified again (and its revocation looked up again), unless its exp
	// comes first. Revocations made through a Service evict at once, on
	// every replica whose cache hears them (WithInvalidator); this bounds
	// the others: one written into a shared RevocationList by another
	// process, or heard by a JWKSVerifier that nobody tells.
	DefaultCacheTTL = time.Minute
	// maxAccessTTL bounds WithAccessTTL: an access token cannot be taken
	// back without a revocation list, so it must stay short-lived.
	maxAccessTTL = 24 * time.Hour
	// minTokenBytes is the smallest WithMaxTokenBytes accepted: below it no
	// token tidegate issues would fit.
	minTokenBytes = 512
)

// ServiceOption configures New.
type ServiceOption interface{ applyService(*serviceConfig) error }

// JWKSOption configures NewJWKSVerifier.
type JWKSOption interface{ applyJWKS(*jwksConfig) error }

// Option configures both New and NewJWKSVerifier.
type Option interface {
	ServiceOption
	JWKSOption
}

// common is the configuration New and NewJWKSVerifier share.
type common struct {
	issuer        string
	audience      string
	leeway        time.Duration
	now           func() time.Time
	clockSet      bool
	revocations   RevocationList
	maxTokenBytes int
	logger        *slog.Logger
	realm         string
	cacheEntries  int
	cacheTTL      time.Duration
	cacheOpts     []middleware.CacheOption
	schemeOpts    []middleware.SchemeOption
}

func defaultCommon() common {
	return common{
		issuer:        DefaultIssuer,
		audience:      DefaultAudience,
		leeway:        DefaultLeeway,
		now:           time.Now,
		maxTokenBytes: DefaultMaxTokenBytes,
		logger:        slog.Default(),
		realm:         DefaultRealm,
		cacheEntries:  middleware.DefaultMaxEntries,
		cacheTTL:      DefaultCacheTTL,
	}
}

type serviceConfig struct {
	common
	accessTTL      time.Duration
	refreshTTL     time.Duration
	familyLifetime time.Duration
	noRotation     bool
	refreshStore   RefreshStore
	invalidator    middleware.Invalidator
	proxies        *middleware.TrustedProxies
}

type jwksConfig struct {
	common
	client      *http.Client
	minInterval time.Duration
	maxAge      time.Duration
	maxBytes    int64
}

// commonOption is an Option that sets a shared setting.
type commonOption func(*common) error

func (f commonOption) applyService(c *serviceConfig) error { return f(&c.common) }
func (f commonOption) applyJWKS(c *jwksConfig) error       { return f(&c.common) }

type serviceOption func(*serviceConfig) error

func (f serviceOption) applyService(c *serviceConfig) error { return f(c) }

type jwksOption func(*jwksConfig) error

func (f jwksOption) applyJWKS(c *jwksConfig) error { return f(c) }

// WithIssuer sets the iss claim written into access tokens and required of
// every token verified (default DefaultIssuer). Use a URL you own.
func WithIssuer(iss string) Option {
	return commonOption(func(c *common) error {
		if !validClaimValue(iss) {
			return errors.New("bearer: issuer must be 1 to 256 printable characters")
		}
		c.issuer = iss
		return nil
	})
}

// WithAudience sets the aud claim written into access tokens and required of
// every token verified (default DefaultAudience).
func WithAudience(aud string) Option {
	return commonOption(func(c *common) error {
		if !validClaimValue(aud) {
			return errors.New("bearer: audience must be 1 to 256 printable characters")
		}
		c.audience = aud
		return nil
	})
}

// WithLeeway sets the clock skew allowed on exp, nbf and iat (default
// DefaultLeeway). It must be between 0 and MaxLeeway.
func WithLeeway(d time.Duration) Option {
	return commonOption(func(c *common) error {
		if d < 0 || d > MaxLeeway {
			return errors.New("bearer: leeway must be between 0 and 5 minutes")
		}
		c.leeway = d
		return nil
	})
}

// WithClock sets the clock used for issuing, expiry and revocation (default
// time.Now). Tests pass a fake clock to test expiry without sleeping.
func WithClock(now func() time.Time) Option {
	return commonOption(func(c *common) error {
		if now == nil {
			return errors.New("bearer: clock must not be nil")
		}
		c.now, c.clockSet = now, true
		return nil
	})
}

// WithRevocationList sets where revoked access tokens, logins and subjects
// are recorded and checked (default a MemoryRevocationList). Replicas must
// share one for a revocation to reach all of them.
func WithRevocationList(l RevocationList) Option {
	return commonOption(func(c *common) error {
		if nilness.Is(l) {
			return errors.New("bearer: revocation list must not be nil")
		}
		c.revocations = l
		return nil
	})
}

// WithMaxTokenBytes bounds an access token (default DefaultMaxTokenBytes):
// n must be at least 512 and at most 8192, the default, so the bound can
// be lowered, never raised. Longer tokens are refused before any decoding.
func WithMaxTokenBytes(n int) Option {
	return commonOption(func(c *common) error {
		if n < minTokenBytes || n > middleware.DefaultMaxHeaderBytes {
			return errors.New("bearer: max token bytes must be between 512 and 8192")
		}
		c.maxTokenBytes = n
		return nil
	})
}

// WithLogger sets the logger of the service and its scheme (default
// slog.Default()). Nothing secret is ever logged.
func WithLogger(l *slog.Logger) Option {
	return commonOption(func(c *common) error {
		if l == nil {
			return errors.New("bearer: logger must not be nil")
		}
		c.logger = l
		return nil
	})
}

// WithRealm sets the realm of the WWW-Authenticate challenge (default
// DefaultRealm). It must not contain a double quote or a backslash.
func WithRealm(realm string) Option {
	return commonOption(func(c *common) error {
		if realm == "" {
			return errors.New("bearer: realm must not be empty")
		}
		c.realm = realm // NewScheme validates the characters
		return nil
	})
}

// WithCacheMaxEntries bounds the number of verified tokens the scheme's
// cache holds (default middleware.DefaultMaxEntries).
func WithCacheMaxEntries(n int) Option {
	return commonOption(func(c *common) error {
		if n <= 0 {
			return errors.New("bearer: cache max entries must be positive")
		}
		c.cacheEntries = n
		return nil
	})
}

// WithCacheTTL sets how long a verified token is trusted without being
// verified again (default DefaultCacheTTL; at most a day, the longest an
// access token lives). A shorter TTL makes a revocation the cache does not
// hear of take effect sooner, at the cost of verifying each token in use
// once per TTL.
func WithCacheTTL(d time.Duration) Option {
	return commonOption(func(c *common) error {
		if d <= 0 || d > maxAccessTTL {
			return errors.New("bearer: cache TTL must be positive and at most 24h")
		}
		c.cacheTTL = d
		return nil
	})
}

// WithSchemeOptions passes options (an observer, identity headers) to the
// middleware.Scheme built for the bearer kind. An Observer given here hears
// of authentications only; give it to WithCacheOptions too for the cache's
// hits and misses.
func WithSchemeOptions(opts ...middleware.SchemeOption) Option {
	return commonOption(func(c *common) error {
		for _, o := range opts {
			if o == nil {
				return errors.New("bearer: nil scheme option")
			}
		}
		c.schemeOpts = append(c.schemeOpts, opts...)
		return nil
	})
}

// WithCacheOptions passes options to the cache of verified tokens behind
// the scheme, for example middleware.WithObserver, so that an Observer
// given to the scheme with WithSchemeOptions also counts the cache's hits
// and misses:
//
//	o := middleware.WithObserver(metrics)
//	bearer.New(login, keys, bearer.WithSchemeOptions(o), bearer.WithCacheOptions(o))
//
// They apply after the service's clock and WithCacheMaxEntries, so they may
// replace them.
func WithCacheOptions(opts ...middleware.CacheOption) Option {
	return commonOption(func(c *common) error {
		for _, o := range opts {
			if o == nil {
				return errors.New("bearer: nil cache option")
			}
		}
		c.cacheOpts = append(c.cacheOpts, opts...)
		return nil
	})
}

// WithAccessTTL sets the lifetime of access tokens (default
// DefaultAccessTTL): at least one second and at most 24 hours. It is also
// the expires_in of every token response.
func WithAccessTTL(d time.Duration) ServiceOption {
	return serviceOption(func(c *serviceConfig) error {
		if d < time.Second || d > maxAccessTTL {
			return errors.New("bearer: access token lifetime must be between 1 second and 24 hours")
		}
		c.accessTTL = d
		return nil
	})
}

// WithRefreshTTL sets the lifetime of each refresh token (default
// DefaultRefreshTTL). A rotated token gets a fresh lifetime; none outlives
// its login's family lifetime.
func WithRefreshTTL(d time.Duration) ServiceOption {
	return serviceOption(func(c *serviceConfig) error {
		if d < time.Second {
			return errors.New("bearer: refresh token lifetime must be at least 1 second")
		}
		c.refreshTTL = d
		return nil
	})
}

// WithFamilyLifetime sets the absolute lifetime of a login (default
// DefaultFamilyLifetime): after it, none of the login's refresh tokens
// works, however often they were rotated. It must be at least the refresh
// token lifetime.
func WithFamilyLifetime(d time.Duration) ServiceOption {
	return serviceOption(func(c *serviceConfig) error {
		if d < time.Second {
			return errors.New("bearer: family lifetime must be at least 1 second")
		}
		c.familyLifetime = d
		return nil
	})
}

// WithoutRotation turns refresh-token rotation off: POST /refresh accepts
// the same refresh token again and again until it expires, and its response
// carries no refresh_token. This suits clients written against the Tidal
// documentation that keep their first refresh token, at a price: a stolen
// refresh token can no longer be detected by its reuse (RFC 9700 §4.14.2),
// so it works for the thief until it expires or the user logs out.
func WithoutRotation() ServiceOption {
	return serviceOption(func(c *serviceConfig) error {
		c.noRotation = true
		return nil
	})
}

// WithRefreshStore sets where refresh-token families are kept (default a
// MemoryRefreshStore). Replicas must share one.
func WithRefreshStore(s RefreshStore) ServiceOption {
	return serviceOption(func(c *serviceConfig) error {
		if nilness.Is(s) {
			return errors.New("bearer: refresh store must not be nil")
		}
		c.refreshStore = s
		return nil
	})
}

// WithInvalidator adds an Invalidator told about every revocation after the
// service's own cache, for example one that broadcasts to other replicas.
func WithInvalidator(inv middleware.Invalidator) ServiceOption {
	return serviceOption(func(c *serviceConfig) error {
		if nilness.Is(inv) {
			return errors.New("bearer: invalidator must not be nil")
		}
		c.invalidator = inv
		return nil
	})
}

// WithTrustedProxies says which peers may name the client address in
// X-Forwarded-For, for login throttling. A nil value (the default) trusts
// nobody: the client is the TCP peer (RemoteAddr).
func WithTrustedProxies(t *middleware.TrustedProxies) ServiceOption {
	return serviceOption(func(c *serviceConfig) error { c.proxies = t; return nil })
}

// WithHTTPClient sets the client that fetches the JWKS document (default a
// client with a 5 second timeout). Whatever the client's own timeout, each
// fetch ends after 5 seconds, and redirects are followed only to URLs
// NewJWKSVerifier accepts.
func WithHTTPClient(client *http.Client) JWKSOption {
	return jwksOption(func(c *jwksConfig) error {
		if client == nil {
			return errors.New("bearer: http client must not be nil")
		}
		c.client = client
		return nil
	})
}

// WithRefetchInterval sets how often at most the JWKS document is fetched
// again because a token names an unknown kid (default
// DefaultRefetchInterval), so that tokens with made-up kids cannot make the
// verifier hammer the issuer.
func WithRefetchInterval(d time.Duration) JWKSOption {
	return jwksOption(func(c *jwksConfig) error {
		if d <= 0 {
			return errors.New("bearer: refetch interval must be positive")
		}
		c.minInterval = d
		return nil
	})
}

// WithJWKSMaxAge sets how long a fetched JWKS document is used before it is
// fetched again on the next verification (default DefaultJWKSMaxAge). When
// that fetch fails, the old keys keep working.
func WithJWKSMaxAge(d time.Duration) JWKSOption {
	return jwksOption(func(c *jwksConfig) error {
		if d <= 0 {
			return errors.New("bearer: JWKS max age must be positive")
		}
		c.maxAge = d
		return nil
	})
}

// validClaimValue reports whether s can be an iss or aud value: 1 to 256
// printable ASCII characters without quotes or backslashes, so that it is
// encoded in a token verbatim.
func validClaimValue(s string) bool {
	if s == "" || len(s) > 256 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c > 0x7e || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			return false
		}
	}
	return true
}
