// Package app assembles the tidegate example server: every credential kind
// on in-memory stores seeded from a seed file, /healthz, and /whoami behind
// middleware.Any. It is a package of its own so that tests can run the whole
// server in-process with httptest.
package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/tidegate/tidegate/basicauth"
	"github.com/tidegate/tidegate/bearer"
	"github.com/tidegate/tidegate/internal/seed"
	"github.com/tidegate/tidegate/middleware"
	"github.com/tidegate/tidegate/session"
)

// Config is what the example server is built from.
type Config struct {
	// Seed fills the stores; nil means seed.Demo().
	Seed *seed.File
	// Logger receives the server's and the middleware's events; nil means
	// a logger that discards everything.
	Logger *slog.Logger
	// Hasher hashes the seeded passwords and checks logins; nil means
	// argon2id with middleware.DefaultArgon2Params. Tests pass cheap
	// parameters.
	Hasher middleware.PasswordHasher
	// Clock is the time source of every store and token; nil means the
	// real clock (tidegate's caches then take their faster real-clock path).
	Clock func() time.Time
	// JWTKey is the HS256 signing key for bearer tokens (raw or base64, at
	// least 32 bytes); nil means a random key made at start, which other
	// replicas will not accept.
	JWTKey []byte
	// TrustedProxies may set X-Forwarded-For and X-Forwarded-Proto; nil
	// trusts nobody.
	TrustedProxies *middleware.TrustedProxies
	// InsecureBasic lets Basic app credentials through over plain HTTP on
	// loopback, for local development only.
	InsecureBasic bool
	// Redis, when set, holds everything replicas must share (sessions,
	// refresh tokens, revocations, app sessions, throttling) and carries
	// revocations to the other replicas' caches. nil means in-memory.
	Redis redis.UniversalClient
	// RedisPrefix prefixes every key (default "tidegate:").
	RedisPrefix string
	// FallbackTTL caps cached credentials while the revocation channel is
	// down (default DefaultFallbackTTL).
	FallbackTTL time.Duration
}

// App is the assembled example server.
type App struct {
	handler http.Handler
	closers []io.Closer
}

// New builds the example server from cfg.
func New(cfg Config) (*App, error) {
	if cfg.Seed == nil {
		cfg.Seed = seed.Demo()
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Hasher == nil {
		h, err := middleware.NewArgon2idHasher(middleware.DefaultArgon2Params)
		if err != nil {
			return nil, err
		}
		cfg.Hasher = h
	}
	accounts, err := seedAccounts(cfg.Seed, cfg.Hasher)
	if err != nil {
		return nil, err
	}
	if cfg.FallbackTTL == 0 {
		cfg.FallbackTTL = DefaultFallbackTTL
	}
	st, err := newStores(cfg)
	if err != nil {
		return nil, err
	}
	// One PasswordLogin for every kind: the same accounts, password rules
	// and throttling counters whichever login endpoint a client uses.
	login, err := middleware.NewPasswordLogin(accounts, middleware.WithHasher(cfg.Hasher), middleware.WithLimiter(st.limiter))
	if err != nil {
		st.Close()
		return nil, err
	}

	a := &App{closers: []io.Closer{st}}
	sessions, err := newSessions(cfg, st, login)
	if err != nil {
		a.Close()
		return nil, err
	}
	a.closers = append(a.closers, sessions)
	jwts, err := newBearer(cfg, st, login)
	if err != nil {
		a.Close()
		return nil, err
	}
	a.closers = append(a.closers, jwts)
	apps, err := newBasic(cfg, st, accounts, login)
	if err != nil {
		a.Close()
		return nil, err
	}
	a.closers = append(a.closers, apps)
	if err := st.register(sessions.Scheme(), jwts.Scheme(), apps.Scheme(), apps.AppScheme()); err != nil {
		a.Close()
		return nil, err
	}
	anyKind, err := middleware.Any(sessions.Scheme(), jwts.Scheme(), apps.Scheme())
	if err != nil {
		a.Close()
		return nil, err
	}

	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		middleware.WriteJSON(w, http.StatusOK, []byte(`{"status":"ok"}`+"\n"))
	})
	mux.Handle("GET /whoami", anyKind(http.HandlerFunc(whoami)))
	mux.Handle("/auth/", http.StripPrefix("/auth", sessions.Handler()))
	mux.Handle("/api/v1/", http.StripPrefix("/api/v1", jwts.Handler()))
	// Every method, not "GET ...": the JWKS handler answers the others 405
	// in JSON itself, where under a method pattern ServeMux would answer
	// them in text/plain.
	mux.Handle("/.well-known/jwks.json", jwts.JWKSHandler())
	mux.Handle("/0.4/", http.StripPrefix("/0.4", apps.Handler()))
	// HSTS on every response to an HTTPS request (basicauth's policy).
	a.handler = apps.HSTS(mux)
	return a, nil
}

func newSessions(cfg Config, st *stores, login *middleware.PasswordLogin) (*session.Service, error) {
	servers := map[string]string{}
	for _, s := range cfg.Seed.Servers {
		servers[s.Name] = s.Secret
	}
	// Server logins count against the same throttle as the password logins.
	opts := []session.Option{session.WithServers(servers), session.WithLogger(cfg.Logger), session.WithStore(st.sessions),
		session.WithServerLoginLimiter(st.limiter)}
	if inv := st.invalidator(); inv != nil {
		opts = append(opts, session.WithInvalidator(inv))
	}
	if cfg.TrustedProxies != nil {
		opts = append(opts, session.WithTrustedProxies(cfg.TrustedProxies))
	}
	if cfg.Clock != nil {
		opts = append(opts, session.WithClock(cfg.Clock))
	}
	return session.New(login, opts...)
}

func newBearer(cfg Config, st *stores, login *middleware.PasswordLogin) (*bearer.Service, error) {
	var key *bearer.Key
	var err error
	if cfg.JWTKey != nil {
		if key, err = bearer.ParseHMACKey("", cfg.JWTKey); err != nil {
			return nil, fmt.Errorf("JWT key: %w", err)
		}
	} else {
		if key, err = bearer.GenerateKey("", bearer.HS256); err != nil {
			return nil, err
		}
		cfg.Logger.Warn("no JWT key file: bearer tokens are signed with a random key; they die with this process and other replicas refuse them")
	}
	keys, err := bearer.NewKeySet(key)
	if err != nil {
		return nil, err
	}
	opts := []bearer.ServiceOption{bearer.WithLogger(cfg.Logger)}
	if st.refresh != nil {
		opts = append(opts, bearer.WithRefreshStore(st.refresh))
	}
	if st.revocations != nil {
		opts = append(opts, bearer.WithRevocationList(st.revocations))
	}
	if inv := st.invalidator(); inv != nil {
		opts = append(opts, bearer.WithInvalidator(inv))
	}
	if cfg.TrustedProxies != nil {
		opts = append(opts, bearer.WithTrustedProxies(cfg.TrustedProxies))
	}
	if cfg.Clock != nil {
		opts = append(opts, bearer.WithClock(cfg.Clock))
	}
	return bearer.New(login, keys, opts...)
}

func newBasic(cfg Config, st *stores, accounts middleware.AccountWriter, login *middleware.PasswordLogin) (*basicauth.Service, error) {
	opts := []basicauth.Option{basicauth.WithLogger(cfg.Logger), basicauth.WithSessionStore(st.appSessions)}
	if inv := st.invalidator(); inv != nil {
		opts = append(opts, basicauth.WithInvalidator(inv))
	}
	if cfg.TrustedProxies != nil {
		opts = append(opts, basicauth.WithTrustedProxies(cfg.TrustedProxies))
	}
	if cfg.InsecureBasic {
		opts = append(opts, basicauth.WithInsecureLoopback())
	}
	if cfg.Clock != nil {
		opts = append(opts, basicauth.WithClock(cfg.Clock))
	}
	return basicauth.New(st.apps, accounts, login, opts...)
}

// Handler returns the server's root handler.
func (a *App) Handler() http.Handler { return a.handler }

// Close releases every background resource.
func (a *App) Close() error {
	var errs []error
	for _, c := range a.closers {
		errs = append(errs, c.Close())
	}
	return errors.Join(errs...)
}

// seedAccounts hashes the seeded users' passwords into a MemoryAccounts.
func seedAccounts(f *seed.File, hasher middleware.PasswordHasher) (*middleware.MemoryAccounts, error) {
	accounts := middleware.NewMemoryAccounts()
	for _, u := range f.Users {
		hash, err := hasher.Hash(u.Password)
		if err != nil {
			return nil, fmt.Errorf("seed user %s: %w", u.UserID, err)
		}
		err = accounts.Create(context.Background(), middleware.Account{
			UserID: u.UserID, Username: u.Username, Emails: u.Emails, Roles: u.Roles, PasswordHash: hash,
		})
		if err != nil {
			return nil, fmt.Errorf("seed user %s: %w", u.UserID, err)
		}
	}
	return accounts, nil
}

// whoami answers the authenticated principal as JSON.
func whoami(w http.ResponseWriter, r *http.Request) {
	p, ok := middleware.FromRequest(r)
	if !ok {
		http.Error(w, "unauthenticated", http.StatusUnauthorized)
		return
	}
	roles := p.Roles
	if roles == nil {
		roles = []string{}
	}
	body, _ := json.Marshal(struct {
		Subject string   `json:"subject"`
		Kind    string   `json:"kind"`
		Actor   string   `json:"actor"`
		App     string   `json:"app"`
		Roles   []string `json:"roles"`
	}{p.Subject, string(p.Kind), string(p.ActingAs()), p.App, roles})
	middleware.WriteJSON(w, http.StatusOK, append(body, '\n'))
}
