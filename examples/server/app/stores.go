package app

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/tidegate/tidegate/basicauth"
	"github.com/tidegate/tidegate/bearer"
	"github.com/tidegate/tidegate/internal/seed"
	"github.com/tidegate/tidegate/middleware"
	"github.com/tidegate/tidegate/redisstore"
)

// stores are the state every replica must share when there are several:
// sessions, app sessions, refresh-token families, revocations of access
// tokens, the app registry, login throttling, and the channel on which
// revocations reach the other replicas' caches. Without Redis they are
// in-memory and there is no broadcaster.
//
// Accounts are not among them: the example server seeds its accounts into
// each replica's memory from the same seed file, as a real server would
// read them from its own user database.
type stores struct {
	limiter     middleware.LoginLimiter
	sessions    middleware.SessionStore // Tidepool-style session and server tokens
	appSessions middleware.SessionStore // Tapglue-style app sessions, kept apart
	refresh     bearer.RefreshStore     // nil: bearer's in-memory default
	revocations bearer.RevocationList   // nil: bearer's in-memory default
	apps        basicauth.AppRegistry
	broadcaster *redisstore.Broadcaster // nil without Redis
}

func newStores(cfg Config) (*stores, error) {
	if cfg.Redis == nil {
		return newMemoryStores(cfg)
	}
	prefix := cfg.RedisPrefix
	if prefix == "" {
		prefix = "tidegate:"
	}
	var clock []redisstore.Option
	if cfg.Clock != nil {
		clock = append(clock, redisstore.WithClock(cfg.Clock))
	}
	opts := func(sub string) []redisstore.Option {
		return append([]redisstore.Option{redisstore.WithPrefix(prefix + sub)}, clock...)
	}
	limiter, err := redisstore.NewLoginLimiter(cfg.Redis, middleware.LimiterPolicy{}, opts("")...)
	if err != nil {
		return nil, fmt.Errorf("redis login limiter: %w", err)
	}
	sessions, err := redisstore.NewSessionStore(cfg.Redis, opts("session:")...)
	if err != nil {
		return nil, fmt.Errorf("redis session store: %w", err)
	}
	appSessions, err := redisstore.NewSessionStore(cfg.Redis, opts("app:")...)
	if err != nil {
		return nil, fmt.Errorf("redis app session store: %w", err)
	}
	refresh, err := redisstore.NewRefreshStore(cfg.Redis, opts("")...)
	if err != nil {
		return nil, fmt.Errorf("redis refresh store: %w", err)
	}
	revocations, err := redisstore.NewRevocationList(cfg.Redis, opts("")...)
	if err != nil {
		return nil, fmt.Errorf("redis revocation list: %w", err)
	}
	apps, err := redisstore.NewAppRegistry(cfg.Redis, opts("")...)
	if err != nil {
		return nil, fmt.Errorf("redis app registry: %w", err)
	}
	broadcaster, err := redisstore.NewBroadcaster(cfg.Redis,
		redisstore.WithPrefix(prefix), redisstore.WithFallbackTTL(cfg.FallbackTTL), redisstore.WithLogger(cfg.Logger))
	if err != nil {
		return nil, fmt.Errorf("redis broadcaster: %w", err)
	}
	changed, err := registerApps(apps, cfg.Seed.Apps)
	if changed {
		// Replicas already running hold the old tokens in their caches
		// (even when a later step failed): an app's entries cannot be
		// picked out by subject, so they purge, as
		// basicauth.Service.RotateToken and RevokeApp make them do.
		broadcaster.Purge()
	}
	if err != nil {
		_ = broadcaster.Close()
		return nil, err
	}
	return &stores{
		limiter: limiter, sessions: sessions, appSessions: appSessions,
		refresh: refresh, revocations: revocations, apps: apps, broadcaster: broadcaster,
	}, nil
}

// appSpecs are the seed file's apps as basicauth registers them.
func appSpecs(apps []seed.App) []basicauth.AppSpec {
	specs := make([]basicauth.AppSpec, 0, len(apps))
	for _, ap := range apps {
		specs = append(specs, basicauth.AppSpec{ID: ap.Name, Name: ap.Name, AppToken: ap.AppToken, BackendToken: ap.BackendToken})
	}
	return specs
}

// registerApps puts the seed file's apps in the shared registry, with the
// tokens the file gives them. Every replica seeds the same apps, so an app
// another replica registered first (ErrAppExists) is not an error; but its
// tokens are brought to the file's, so that a token changed in the seed
// file (a leaked one rotated) takes effect, and the old one stops working,
// when a replica starts with it.
// The file is the list of apps: an app registered earlier that it no longer
// lists is revoked. (The demo set, run without a seed file, keeps to Redis
// keys of its own: see the example server's redisPrefix.) Registering is
// bounded so that a replica started while Redis is down says so instead of
// hanging. changed reports a token rotated or an app revoked, or an
// attempt to (whose error may come after Redis ran it): replicas already
// running must then be told (see newStores).
func registerApps(r *redisstore.AppRegistry, apps []seed.App) (changed bool, err error) {
	listed := map[string]bool{}
	for _, spec := range appSpecs(apps) {
		listed[spec.ID] = true
		err := bounded(func(ctx context.Context) error {
			err := r.Register(ctx, spec)
			if errors.Is(err, basicauth.ErrAppExists) {
				var rotated bool
				rotated, err = adoptTokens(ctx, r, spec)
				changed = changed || rotated
			}
			return err
		})
		if err != nil {
			return changed, fmt.Errorf("redis app registry: app %s: %w", spec.ID, err)
		}
	}
	var ids []string
	err = bounded(func(ctx context.Context) (err error) { ids, err = r.IDs(ctx); return err })
	if err != nil {
		return changed, fmt.Errorf("redis app registry: %w", err)
	}
	for _, id := range ids {
		if listed[id] {
			continue
		}
		changed = true // before: a revocation that failed may have run in Redis all the same
		if err := bounded(func(ctx context.Context) error { return r.Revoke(ctx, id) }); err != nil {
			return changed, fmt.Errorf("redis app registry: revoking app %s, which the seed file does not list: %w", id, err)
		}
	}
	return changed, nil
}

// bounded runs f with a context that ends after 5 seconds.
func bounded(f func(ctx context.Context) error) error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return f(ctx)
}

// adoptTokens makes the registered app spec.ID hold spec's tokens. A token
// that already belongs to another app is an error (the file and the
// registry disagree about who owns it), never a silent move.
func adoptTokens(ctx context.Context, r *redisstore.AppRegistry, spec basicauth.AppSpec) (rotated bool, err error) {
	for _, tok := range []struct {
		kind  basicauth.TokenType
		value string
	}{{basicauth.AppToken, spec.AppToken}, {basicauth.BackendToken, spec.BackendToken}} {
		d := middleware.DigestToken(tok.value)
		owner, err := r.Lookup(ctx, tok.kind, d)
		switch {
		case err == nil && owner.ID == spec.ID:
			continue // already the file's token
		case err == nil:
			return rotated, fmt.Errorf("a token of the seed file is registered to app %s", owner.ID)
		case !errors.Is(err, basicauth.ErrAppNotFound):
			return rotated, err
		}
		rotated = true // before: a rotation that failed may have run in Redis all the same
		if err := r.Rotate(ctx, spec.ID, tok.kind, d); err != nil {
			return rotated, err
		}
	}
	return rotated, nil
}

func newMemoryStores(cfg Config) (*stores, error) {
	var opts []middleware.StoreOption
	if cfg.Clock != nil {
		opts = append(opts, middleware.WithStoreClock(cfg.Clock))
	}
	limiter, err := middleware.NewMemoryLimiter(middleware.LimiterPolicy{}, opts...)
	if err != nil {
		return nil, err
	}
	sessions, err := middleware.NewMemorySessionStore(opts...)
	if err != nil {
		return nil, err
	}
	appSessions, err := middleware.NewMemorySessionStore(opts...)
	if err != nil {
		return nil, err
	}
	apps, err := basicauth.NewMemoryRegistry(appSpecs(cfg.Seed.Apps)...)
	if err != nil {
		return nil, err
	}
	return &stores{limiter: limiter, sessions: sessions, appSessions: appSessions, apps: apps}, nil
}

// register makes the broadcaster evict from the schemes' caches when another
// replica revokes something, and cap their entries' life while it cannot
// hear the other replicas.
func (s *stores) register(schemes ...*middleware.Scheme) error {
	if s.broadcaster == nil {
		return nil
	}
	for _, scheme := range schemes {
		cache, ok := scheme.Verifier().(*middleware.Cache)
		if !ok {
			return fmt.Errorf("scheme %s has no cache to register", scheme.Kind())
		}
		if err := s.broadcaster.Register(cache); err != nil {
			return err
		}
	}
	return nil
}

// invalidator is what the services tell of their revocations, beyond their
// own caches: the broadcaster, or nothing.
func (s *stores) invalidator() middleware.Invalidator {
	if s.broadcaster == nil {
		return nil
	}
	return s.broadcaster
}

// Close stops the broadcaster's subscription.
func (s *stores) Close() error {
	if s.broadcaster == nil {
		return nil
	}
	return s.broadcaster.Close()
}

// DefaultFallbackTTL is how long a replica keeps cached credentials while it
// cannot hear revocations from the others (see redisstore.WithFallbackTTL).
const DefaultFallbackTTL = 2 * time.Second
