package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"

	"github.com/gin-gonic/gin"
	"github.com/tidegate/tidegate/basicauth"
	"github.com/tidegate/tidegate/bearer"
	"github.com/tidegate/tidegate/middleware"
	"github.com/tidegate/tidegate/session"

	tidegin "github.com/tidegate/tidegate/adapters/gin"
)

// config is what the router is built from.
type config struct {
	// Users and Apps fill the in-memory stores.
	Users []demoUser
	Apps  []demoApp
	// Hasher hashes the users' passwords and checks logins; nil means
	// argon2id with middleware.DefaultArgon2Params. Tests pass cheap ones.
	Hasher middleware.PasswordHasher
	// Logger receives tidegate's events; nil discards them.
	Logger *slog.Logger
	// InsecureBasic accepts Basic app credentials over plain HTTP from a
	// loopback peer (basicauth.WithInsecureLoopback): for trying the demo
	// with curl on this machine only.
	InsecureBasic bool
}

// services are the three credential kinds over one set of accounts.
type services struct {
	sessions *session.Service
	jwts     *bearer.Service
	apps     *basicauth.Service
}

// Close stops every service's background goroutines.
func (s *services) Close() error {
	var errs []error
	if s.sessions != nil {
		errs = append(errs, s.sessions.Close())
	}
	if s.jwts != nil {
		errs = append(errs, s.jwts.Close())
	}
	if s.apps != nil {
		errs = append(errs, s.apps.Close())
	}
	return errors.Join(errs...)
}

// newRouter builds the router: the login endpoints of every kind in an
// http.ServeMux, in front of a gin engine with public routes, a route for
// session tokens only, routes for any kind and a route for admins. Every
// tidegate middleware goes through tidegin.Wrap, which aborts the gin chain
// with tidegate's own response on failure. The returned func stops the
// services' background goroutines.
func newRouter(cfg config) (http.Handler, func() error, error) {
	svc, err := newServices(cfg)
	if err != nil {
		return nil, nil, err
	}
	anyKind, err := middleware.Any(svc.sessions.Scheme(), svc.jwts.Scheme(), svc.apps.Scheme())
	if err != nil {
		_ = svc.Close()
		return nil, nil, err
	}

	r := gin.New()
	r.HandleMethodNotAllowed = true
	r.Use(gin.Recovery())

	// Public routes. /hello greets a session user by name and anyone else
	// as anonymous: Optional lets a request without a token through, but
	// never one with a bad token.
	r.Match(getHead, "/healthz", healthz)
	r.Match(getHead, "/hello", tidegin.Wrap(middleware.Optional(svc.sessions.Scheme())), hello)

	// One kind only: session tokens.
	r.Match(getHead, "/session/whoami", tidegin.Wrap(middleware.Require(svc.sessions.Scheme())), whoami)

	// Any kind, and any kind with the admin role.
	authed := r.Group("/", tidegin.Wrap(anyKind))
	authed.Match(getHead, "/whoami", whoami)
	authed.Match(getHead, "/admin/stats", tidegin.Wrap(middleware.RequireRole("admin")), adminStats)

	// The login endpoints of each kind, mounted where their APIs live, and
	// the JWKS document, routed before gin by their paths alone, so that
	// every method reaches them and they answer those they do not serve
	// themselves: 405 in JSON, with an Allow listing what the resource
	// serves (RFC 9110 §10.2.1, §15.5.6). gin routes only the methods it
	// was given (Any: nine), and answers any other, WebDAV's PROPFIND say,
	// itself: text/plain, with an Allow of all nine. Every other path goes
	// to the gin engine.
	front := http.NewServeMux()
	mount(front, "/auth", svc.sessions.Handler())
	mount(front, "/api/v1", svc.jwts.Handler())
	front.Handle("/.well-known/jwks.json", svc.jwts.JWKSHandler())
	mount(front, "/0.4", svc.apps.Handler())
	front.Handle("/", r)
	// Strict-Transport-Security on every response to an HTTPS request, as
	// basicauth requires of routes that accept its credentials: around the
	// mux and the engine, not in them, since they answer their redirects (a
	// path to clean, a trailing slash) before any of their handlers runs.
	return svc.apps.HSTS(front), svc.Close, nil
}

// getHead are the methods of a read-only route: HEAD wherever GET is
// served, as net/http's ServeMux does (RFC 9110 §9.1: every
// general-purpose server supports GET and HEAD).
var getHead = []string{http.MethodGet, http.MethodHead}

// mount serves h under prefix for every method, with the prefix stripped:
// tidegate's handlers route by their own paths and answer the methods they
// do not serve 405 themselves.
func mount(mux *http.ServeMux, prefix string, h http.Handler) {
	mux.Handle(prefix+"/", http.StripPrefix(prefix, h))
}

// newServices builds the three kinds over one PasswordLogin, so that the
// same users log in everywhere and throttling counts every login endpoint.
func newServices(cfg config) (*services, error) {
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
	accounts, err := newAccounts(cfg.Users, cfg.Hasher)
	if err != nil {
		return nil, err
	}
	login, err := middleware.NewPasswordLogin(accounts, middleware.WithHasher(cfg.Hasher))
	if err != nil {
		return nil, err
	}
	svc := &services{}
	if svc.sessions, err = session.New(login, session.WithLogger(cfg.Logger)); err != nil {
		return nil, err
	}
	if svc.jwts, err = newBearer(cfg, login); err != nil {
		_ = svc.Close()
		return nil, err
	}
	if svc.apps, err = newBasic(cfg, accounts, login); err != nil {
		_ = svc.Close()
		return nil, err
	}
	return svc, nil
}

// newBearer signs with a random HS256 key made at start: tokens die with
// the process. Load a key file with bearer.ParseHMACKey to share one
// between replicas.
func newBearer(cfg config, login *middleware.PasswordLogin) (*bearer.Service, error) {
	key, err := bearer.GenerateKey("", bearer.HS256)
	if err != nil {
		return nil, err
	}
	keys, err := bearer.NewKeySet(key)
	if err != nil {
		return nil, err
	}
	return bearer.New(login, keys, bearer.WithLogger(cfg.Logger))
}

func newBasic(cfg config, accounts *middleware.MemoryAccounts, login *middleware.PasswordLogin) (*basicauth.Service, error) {
	specs := make([]basicauth.AppSpec, 0, len(cfg.Apps))
	for _, a := range cfg.Apps {
		specs = append(specs, basicauth.AppSpec{ID: a.ID, Name: a.ID, AppToken: a.AppToken, BackendToken: a.BackendToken})
	}
	registry, err := basicauth.NewMemoryRegistry(specs...)
	if err != nil {
		return nil, err
	}
	opts := []basicauth.Option{basicauth.WithLogger(cfg.Logger)}
	if cfg.InsecureBasic {
		opts = append(opts, basicauth.WithInsecureLoopback())
	}
	return basicauth.New(registry, accounts, login, opts...)
}

func newAccounts(users []demoUser, hasher middleware.PasswordHasher) (*middleware.MemoryAccounts, error) {
	accounts := middleware.NewMemoryAccounts()
	for _, u := range users {
		hash, err := hasher.Hash(u.Password)
		if err != nil {
			return nil, fmt.Errorf("user %s: %w", u.Username, err)
		}
		err = accounts.Create(context.Background(), middleware.Account{
			UserID: u.UserID, Username: u.Username, Emails: []string{u.Username}, Roles: u.Roles, PasswordHash: hash,
		})
		if err != nil {
			return nil, fmt.Errorf("user %s: %w", u.Username, err)
		}
	}
	return accounts, nil
}

func healthz(c *gin.Context) {
	c.JSON(http.StatusOK, gin.H{"status": "ok"})
}

// hello greets the session user, or anonymous.
func hello(c *gin.Context) {
	name := "anonymous"
	if p, ok := tidegin.Principal(c); ok {
		name = p.Subject
	}
	c.JSON(http.StatusOK, gin.H{"hello": name})
}

// whoami answers the authenticated principal.
func whoami(c *gin.Context) {
	p, ok := tidegin.Principal(c)
	if !ok {
		// Unreachable behind Require or Any; never answer as nobody.
		c.AbortWithStatus(http.StatusInternalServerError)
		return
	}
	roles := p.Roles
	if roles == nil {
		roles = []string{}
	}
	c.JSON(http.StatusOK, struct {
		Subject string   `json:"subject"`
		Kind    string   `json:"kind"`
		Actor   string   `json:"actor"`
		App     string   `json:"app,omitempty"`
		Roles   []string `json:"roles"`
	}{p.Subject, string(p.Kind), string(p.ActingAs()), p.App, roles})
}

// adminStats is the admin-only route.
func adminStats(c *gin.Context) {
	p, _ := tidegin.Principal(c)
	c.JSON(http.StatusOK, gin.H{"admin": p.Subject, "stats": "all systems nominal"})
}
