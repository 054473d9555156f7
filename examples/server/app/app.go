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

	"github.com/tidegate/tidegate/internal/seed"
	"github.com/tidegate/tidegate/middleware"
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
	// Clock is the time source of every store and token; nil means time.Now.
	Clock func() time.Time
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
	if cfg.Clock == nil {
		cfg.Clock = time.Now
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
	limiter, err := middleware.NewMemoryLimiter(middleware.LimiterPolicy{}, middleware.WithStoreClock(cfg.Clock))
	if err != nil {
		return nil, err
	}
	login, err := middleware.NewPasswordLogin(accounts, middleware.WithHasher(cfg.Hasher), middleware.WithLimiter(limiter))
	if err != nil {
		return nil, err
	}
	_ = login // the credential kinds are wired in as they land

	a := &App{}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		middleware.WriteJSON(w, http.StatusOK, []byte(`{"status":"ok"}`+"\n"))
	})
	mux.Handle("GET /whoami", http.HandlerFunc(notYet))
	a.handler = mux
	return a, nil
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

func notYet(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("WWW-Authenticate", `Bearer realm="tidegate"`)
	middleware.WriteJSON(w, http.StatusUnauthorized, []byte(`{"error":"unauthorized"}`))
}
