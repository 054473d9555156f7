package redisstore

import (
	"errors"
	"fmt"
	"log/slog"
	"time"
)

// Defaults of the options.
const (
	// DefaultPrefix starts every key and the channel name.
	DefaultPrefix = "tidegate:"
	// DefaultFallbackTTL caps the age of local cache entries while a
	// Broadcaster is not subscribed (see WithFallbackTTL).
	DefaultFallbackTTL = 2 * time.Second
	// DefaultHealthInterval is how long a quiet subscription waits before
	// it pings Redis, and how long it then waits for the answer.
	DefaultHealthInterval = time.Second
	// DefaultPublishTimeout bounds one PUBLISH of a revocation.
	DefaultPublishTimeout = time.Second
	// DefaultMinBackoff and DefaultMaxBackoff bound the wait between two
	// attempts to resubscribe.
	DefaultMinBackoff = 50 * time.Millisecond
	DefaultMaxBackoff = 2 * time.Second
	// DefaultAppIdleTTL is how long an AppRegistry keeps an app whose
	// tokens are not used (see WithAppIdleTTL).
	DefaultAppIdleTTL = 365 * 24 * time.Hour
	// DefaultMaxApps bounds an AppRegistry (see WithMaxApps), as
	// basicauth.MaxMemoryApps bounds the in-memory one.
	DefaultMaxApps = 10_000
)

// maxPrefix bounds the prefix: it is repeated in every key.
const maxPrefix = 128

// Option configures NewSessionStore, NewLoginLimiter, NewRefreshStore,
// NewRevocationList, NewAppRegistry or NewBroadcaster.
// Options are validated when applied; an option that does not concern the
// constructor it is given to is an error, not silently ignored.
type Option func(*config) error

// optionKind records which options were given, to reject misplaced ones.
type optionKind uint

const (
	optPrefix optionKind = 1 << iota
	optClock
	optChannel
	optFallbackTTL
	optHealth
	optBackoff
	optPublishTimeout
	optLogger
	optAppIdleTTL
	optMaxApps
)

// What each constructor accepts.
const (
	storeOptions       = optPrefix | optClock
	registryOptions    = storeOptions | optAppIdleTTL | optMaxApps
	broadcasterOptions = optPrefix | optChannel | optFallbackTTL | optHealth | optBackoff | optPublishTimeout | optLogger
)

type config struct {
	prefix         string
	now            func() time.Time
	channel        string
	fallbackTTL    time.Duration
	health         time.Duration
	minBackoff     time.Duration
	maxBackoff     time.Duration
	publishTimeout time.Duration
	logger         *slog.Logger
	appIdleTTL     time.Duration
	maxApps        int
	given          optionKind
	names          map[optionKind]string
}

func newConfig(constructor string, accepted optionKind, opts []Option) (config, error) {
	c := config{
		prefix:         DefaultPrefix,
		now:            time.Now,
		fallbackTTL:    DefaultFallbackTTL,
		health:         DefaultHealthInterval,
		minBackoff:     DefaultMinBackoff,
		maxBackoff:     DefaultMaxBackoff,
		publishTimeout: DefaultPublishTimeout,
		logger:         slog.Default(),
		appIdleTTL:     DefaultAppIdleTTL,
		maxApps:        DefaultMaxApps,
	}
	for _, opt := range opts {
		if opt == nil {
			return c, errors.New("redisstore: nil option")
		}
		if err := opt(&c); err != nil {
			return c, err
		}
	}
	if extra := c.given &^ accepted; extra != 0 {
		for kind, name := range c.names {
			if extra&kind != 0 {
				return c, fmt.Errorf("redisstore: %s does not apply to %s", name, constructor)
			}
		}
	}
	if c.channel == "" {
		c.channel = c.prefix + "revocations"
	}
	return c, nil
}

func (c *config) mark(kind optionKind, name string) {
	c.given |= kind
	if c.names == nil {
		c.names = map[optionKind]string{}
	}
	c.names[kind] = name
}

// WithPrefix sets the prefix of every key (and of the default channel
// name), default "tidegate:". Give each application sharing a Redis its
// own prefix; replicas of one application must use the same.
func WithPrefix(prefix string) Option {
	return func(c *config) error {
		if prefix == "" || len(prefix) > maxPrefix {
			return fmt.Errorf("redisstore: prefix must be 1 to %d bytes", maxPrefix)
		}
		c.prefix = prefix
		c.mark(optPrefix, "WithPrefix")
		return nil
	}
}

// WithClock sets the clock of expiry decisions (default time.Now). The
// stores send its time to Redis with every call and derive key TTLs from
// it as durations, so a fake clock in tests works against a real server.
func WithClock(now func() time.Time) Option {
	return func(c *config) error {
		if now == nil {
			return errors.New("redisstore: clock must not be nil")
		}
		c.now = now
		c.mark(optClock, "WithClock")
		return nil
	}
}

// WithChannel sets the Pub/Sub channel of revocations (default the prefix
// followed by "revocations"). Every replica must use the same.
func WithChannel(name string) Option {
	return func(c *config) error {
		if name == "" || len(name) > maxPrefix+32 {
			return fmt.Errorf("redisstore: channel name must be 1 to %d bytes", maxPrefix+32)
		}
		c.channel = name
		c.mark(optChannel, "WithChannel")
		return nil
	}
}

// WithFallbackTTL sets how old a local cache entry may be while the
// Broadcaster is not subscribed (default 2 s): the longest a revocation
// whose message was missed can stay cached on this replica. It also caps
// the wait between attempts to publish again a message whose PUBLISH
// failed (see Broadcaster). It must be positive.
func WithFallbackTTL(d time.Duration) Option {
	return func(c *config) error {
		if d <= 0 {
			return errors.New("redisstore: fallback TTL must be positive")
		}
		c.fallbackTTL = d
		c.mark(optFallbackTTL, "WithFallbackTTL")
		return nil
	}
}

// WithHealthInterval sets how long a quiet subscription waits before it
// pings Redis, and how long it then waits for the answer before it counts
// as lost (default 1 s). A dead connection is thus noticed within twice
// the interval even when no error reaches the socket.
func WithHealthInterval(d time.Duration) Option {
	return func(c *config) error {
		if d < 10*time.Millisecond {
			return errors.New("redisstore: health interval must be at least 10ms")
		}
		c.health = d
		c.mark(optHealth, "WithHealthInterval")
		return nil
	}
}

// WithReconnectBackoff bounds the wait between attempts to resubscribe, and
// between attempts to publish again a message whose PUBLISH failed: it
// starts at lo and doubles up to hi (defaults 50 ms and 2 s; the second
// also up to the fallback TTL).
func WithReconnectBackoff(lo, hi time.Duration) Option {
	return func(c *config) error {
		if lo <= 0 || hi < lo {
			return errors.New("redisstore: reconnect backoff needs 0 < min <= max")
		}
		c.minBackoff, c.maxBackoff = lo, hi
		c.mark(optBackoff, "WithReconnectBackoff")
		return nil
	}
}

// WithPublishTimeout bounds one PUBLISH of a revocation (default 1 s).
func WithPublishTimeout(d time.Duration) Option {
	return func(c *config) error {
		if d <= 0 {
			return errors.New("redisstore: publish timeout must be positive")
		}
		c.publishTimeout = d
		c.mark(optPublishTimeout, "WithPublishTimeout")
		return nil
	}
}

// WithLogger sets the logger of the Broadcaster's subscription events
// (lost, resubscribed, a failed publish), default slog.Default(). Log lines
// name subjects never, errors by type only.
func WithLogger(l *slog.Logger) Option {
	return func(c *config) error {
		if l == nil {
			return errors.New("redisstore: logger must not be nil")
		}
		c.logger = l
		c.mark(optLogger, "WithLogger")
		return nil
	}
}

// WithAppIdleTTL sets how long an AppRegistry keeps an app none of whose
// tokens is looked up (default 365 days): every key has a TTL, and an
// app's keys are given d again, at most once per d/2, when one of its
// tokens is used, and when it is registered or rotated. An app unused for
// d is forgotten, as a stale credential should be. It must be at least a
// minute.
func WithAppIdleTTL(d time.Duration) Option {
	return func(c *config) error {
		if d < time.Minute {
			return errors.New("redisstore: app idle TTL must be at least a minute")
		}
		c.appIdleTTL = d
		c.mark(optAppIdleTTL, "WithAppIdleTTL")
		return nil
	}
}

// WithMaxApps bounds how many apps an AppRegistry holds (default
// DefaultMaxApps); Register answers basicauth.ErrRegistryFull beyond it.
func WithMaxApps(n int) Option {
	return func(c *config) error {
		if n <= 0 {
			return errors.New("redisstore: max apps must be positive")
		}
		c.maxApps = n
		c.mark(optMaxApps, "WithMaxApps")
		return nil
	}
}
