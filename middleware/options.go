package middleware

import (
	"errors"
	"log/slog"
	"strconv"
	"time"

	"github.com/tidegate/tidegate/internal/nilness"
)

// SchemeOption configures NewScheme.
type SchemeOption interface{ applyScheme(*Scheme) error }

// CacheOption configures NewCache.
type CacheOption interface{ applyCache(*Cache) error }

// Option configures both NewScheme and NewCache.
type Option interface {
	SchemeOption
	CacheOption
}

type schemeOption func(*Scheme) error

func (f schemeOption) applyScheme(s *Scheme) error { return f(s) }

type cacheOption func(*Cache) error

func (f cacheOption) applyCache(c *Cache) error { return f(c) }

type sharedOption struct {
	scheme schemeOption
	cache  cacheOption
}

func (o sharedOption) applyScheme(s *Scheme) error { return o.scheme(s) }
func (o sharedOption) applyCache(c *Cache) error   { return o.cache(c) }

// WithClock sets the clock used for expiry decisions (default time.Now).
// Tests inject a fake clock to test expiry without sleeping.
func WithClock(now func() time.Time) Option {
	check := func() error {
		if now == nil {
			return errors.New("tidegate: clock must not be nil")
		}
		return nil
	}
	return sharedOption{
		scheme: func(s *Scheme) error { s.now, s.customClock = now, true; return check() },
		cache:  func(c *Cache) error { c.now, c.customClock = now, true; return check() },
	}
}

// WithObserver sets the Observer that counts outcomes and cache lookups
// (default NopObserver).
func WithObserver(o Observer) Option {
	check := func() error {
		if nilness.Is(o) {
			return errors.New("tidegate: observer must not be nil")
		}
		return nil
	}
	return sharedOption{
		scheme: func(s *Scheme) error { s.observer = o; return check() },
		cache:  func(c *Cache) error { c.observer = o; return check() },
	}
}

// WithLogger sets the logger of a Scheme (default slog.Default()). Each
// authentication writes one event: successes at Debug, client failures at
// Info, an unavailable backend at Warn, a panicking Verifier at Error.
func WithLogger(l *slog.Logger) SchemeOption {
	return schemeOption(func(s *Scheme) error {
		if l == nil {
			return errors.New("tidegate: logger must not be nil")
		}
		s.logger = l
		return nil
	})
}

// WithRenderer sets how a Scheme writes failure bodies (default
// JSONRenderer), so each kind can answer in the style of the API it models.
func WithRenderer(r Renderer) SchemeOption {
	return schemeOption(func(s *Scheme) error {
		if r == nil {
			return errors.New("tidegate: renderer must not be nil")
		}
		s.render = r
		return nil
	})
}

// WithIdentityHeaders makes a Scheme pass the principal to downstream
// handlers in request headers as well as in the context (useful in front of
// a reverse proxy). Whatever a client sent under these names, in any
// spelling, is removed first, so the headers cannot be forged. The names
// must differ, and none may be a header that carries credentials
// (Authorization, Proxy-Authorization, Cookie, the scheme's own header),
// which would be removed before it is read. It may be given once per
// Scheme: a second set replaced the first, whose names were then neither
// set nor stripped, and a client's own value under them reached the handler.
func WithIdentityHeaders(h IdentityHeaders) SchemeOption {
	return schemeOption(func(s *Scheme) error {
		if s.identity.any() {
			return errors.New("tidegate: identity headers given twice; give every name in one IdentityHeaders")
		}
		names := h.names()
		if len(names) == 0 {
			return errors.New("tidegate: identity headers name no header")
		}
		// Names are compared as stripIdentity matches them: in any case,
		// '_' as '-' (what CGI and many proxies do).
		seen := map[string]bool{}
		for _, n := range names {
			if !validHeaderName(n) {
				return errors.New("tidegate: invalid identity header name " + quoteForError(n))
			}
			folded := foldHeaderName(n)
			if seen[folded] {
				return errors.New("tidegate: identity header " + quoteForError(n) + " named twice")
			}
			seen[folded] = true
			// Identity headers are stripped from every request before it is
			// read: one named like a credential header removed every
			// credential, and every request was refused.
			if carriesCredentials(folded) || s.extractorReads(n) {
				return errors.New("tidegate: identity header " + quoteForError(n) + " would strip the credentials")
			}
		}
		s.identity = h.canonical()
		return nil
	})
}

// WithMaxEntries bounds the number of cached principals (default
// DefaultMaxEntries). It must be positive. The bound is kept per shard, so
// the cache may hold up to n rounded up to a multiple of its shard count (a
// power of two, up to 256, fewer for small bounds).
func WithMaxEntries(n int) CacheOption {
	return cacheOption(func(c *Cache) error {
		if n <= 0 {
			return errors.New("tidegate: cache max entries must be positive")
		}
		c.maxEntries = n
		return nil
	})
}

// WithCleanupInterval sets how often expired entries are swept from memory
// (default: the TTL, at least one second and at most one minute). It must
// be positive: go-cache would read zero as "never".
func WithCleanupInterval(d time.Duration) CacheOption {
	return cacheOption(func(c *Cache) error {
		if d <= 0 {
			return errors.New("tidegate: cache cleanup interval must be positive")
		}
		c.cleanup = d
		return nil
	})
}

// WithVerifyTimeout bounds each call to the wrapped Verifier (default
// DefaultVerifyTimeout). A call that takes longer answers 503.
//
// The Verifier's context carries the deadline. The Verifier runs on the
// goroutine of the request that found the credential uncached, so a
// Verifier that ignores its context holds that one request until it
// returns, and that request then gets its 503 too; concurrent requests for
// the same credential get theirs at the deadline. The late answer is not
// lost: a success is cached, and a refusal remembered, for the next request.
// (Running every Verifier call on a goroutine of its own would bound even
// that request, at the cost of a goroutine and a hand-off on every miss.)
func WithVerifyTimeout(d time.Duration) CacheOption {
	return cacheOption(func(c *Cache) error {
		if d <= 0 {
			return errors.New("tidegate: verify timeout must be positive")
		}
		c.timeout = d
		return nil
	})
}

// WithRefusals sets how long the cache remembers that the Verifier refused
// a credential, and how many refusals it can remember at once (defaults
// DefaultRefusalTTL and DefaultMaxRefusals). Only ErrInvalidCredential is
// remembered, that is a wrong, forged, expired or revoked credential, and
// not when the error is Transient: a client that repeats one then costs a
// verification per ttl instead of one per request. Backend errors (503),
// rate limits, panics and malformed requests are never remembered.
//
// Refusals live in a fixed table of maxEntries slots (rounded up to a power
// of two), apart from the cached successes: a flood of bad credentials only
// replaces refusals by other refusals, and memory stays fixed. Invalidate
// and Purge forget refusals too.
//
// The price of remembering is that a credential refused now is refused for
// up to ttl even if the backend starts accepting it meanwhile (an account
// created under an id that was tried before, a key that a JWKS adds). ttl
// may be at most MaxRefusalTTL; ttl 0 remembers no refusal, so every
// refused request calls the Verifier, and maxEntries is then ignored
// (whatever its value; no table is kept). maxEntries must be positive when
// ttl is, and at most MaxRefusals.
func WithRefusals(ttl time.Duration, maxEntries int) CacheOption {
	return cacheOption(func(c *Cache) error {
		switch {
		case ttl < 0 || ttl > MaxRefusalTTL:
			return errors.New("tidegate: refusal TTL must be between 0 and " + MaxRefusalTTL.String())
		case ttl > 0 && (maxEntries <= 0 || maxEntries > MaxRefusals):
			return errors.New("tidegate: max refusals must be between 1 and " + strconv.Itoa(MaxRefusals))
		}
		c.refusalTTL, c.maxRefused = ttl, maxEntries
		return nil
	})
}
