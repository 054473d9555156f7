package basicauth

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"

	"github.com/tidegate/tidegate/internal/withheld"
	"github.com/tidegate/tidegate/middleware"
)

// Errors of app registries.
var (
	// ErrAppNotFound: no app has that id or token.
	ErrAppNotFound = errors.New("basicauth: app not found")
	// ErrAppExists: the app id or one of the tokens is already registered.
	ErrAppExists = errors.New("basicauth: app or token already registered")
	// ErrRegistryFull: a bounded registry has no room for another app.
	ErrRegistryFull = errors.New("basicauth: app registry full")
)

// TokenType names one of an app's two tokens.
type TokenType int

const (
	// AppToken is the token shipped inside client apps: AppTokenLen
	// lowercase hex characters.
	AppToken TokenType = iota + 1
	// BackendToken is the token kept on the app's own servers:
	// BackendTokenLen lowercase hex characters.
	BackendToken
)

// String returns "app" or "backend", and "unknown" for any other value.
func (t TokenType) String() string {
	switch t {
	case AppToken:
		return "app"
	case BackendToken:
		return "backend"
	}
	return "unknown"
}

// valid reports whether t is AppToken or BackendToken.
func (t TokenType) valid() bool { return t == AppToken || t == BackendToken }

// App is an application registered to use the API.
type App struct {
	// ID is the app's stable id; it becomes Principal.App. It must not be
	// empty: sessions with no app are the session kind's, so an app without
	// an id would make the two kinds' sessions interchangeable in a shared
	// store. An AppRegistry answering a lookup with one is broken, and
	// every request with that app's tokens is answered 500.
	ID string
	// Name is a human-readable name.
	Name string
}

// AppRegistry finds apps by the digest of one of their tokens. Tokens are
// never stored in plain text: only middleware.DigestToken of them.
//
// Every method is atomic on its own, so that several replicas sharing a
// registry agree; all must be safe for concurrent use.
type AppRegistry interface {
	// Lookup returns the app whose token of type t has digest d, or
	// ErrAppNotFound. Any other error is read as "the registry is
	// unavailable" (503). Implementations find d by an exact match (a map
	// or key lookup, never a scan comparing prefixes) and compare the
	// stored digest with crypto/subtle.
	Lookup(ctx context.Context, t TokenType, d middleware.TokenDigest) (App, error)
	// Rotate replaces the app's token of type t by the token of digest d.
	// The old token stops matching at once. It returns ErrAppNotFound for
	// an unknown app and ErrAppExists when d is already in use.
	Rotate(ctx context.Context, appID string, t TokenType, d middleware.TokenDigest) error
	// Revoke removes the app: neither of its tokens matches any more.
	// Revoking an unknown app is not an error.
	Revoke(ctx context.Context, appID string) error
}

// AppSpec is an app with its tokens in plain text, as a seed file lists
// them. ID defaults to Name.
type AppSpec struct {
	ID           string
	Name         string
	AppToken     string
	BackendToken string
}

// String shows the app's id and name, never its tokens.
func (a AppSpec) String() string {
	return fmt.Sprintf("basicauth.AppSpec{ID:%q Name:%q AppToken:%s BackendToken:%s}",
		a.ID, a.Name, withheld.Secret(a.AppToken), withheld.Secret(a.BackendToken))
}

// Format implements fmt.Formatter so that every verb, %#v included, prints
// String.
func (a AppSpec) Format(f fmt.State, _ rune) { _, _ = io.WriteString(f, a.String()) }

// LogValue implements slog.LogValuer: the id and name, never the tokens.
// encoding/json still encodes every field, and slog's JSON handler uses
// encoding/json, not LogValue, for an AppSpec held in a slice, map or
// struct: log specs one by one.
func (a AppSpec) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("id", a.ID),
		slog.String("name", a.Name),
		slog.String("app_token", withheld.Secret(a.AppToken)),
		slog.String("backend_token", withheld.Secret(a.BackendToken)),
	)
}

// MaxMemoryApps bounds a MemoryRegistry.
const MaxMemoryApps = 10_000

// MemoryRegistry is an in-memory AppRegistry for a single process, holding
// at most MaxMemoryApps apps. It is safe for concurrent use.
type MemoryRegistry struct {
	withheld.Contents[MemoryRegistry] // prints as its name alone: no secret in a log

	mu      sync.RWMutex
	byID    map[string]*registeredApp
	byToken [2]map[middleware.TokenDigest]*registeredApp // indexed by TokenType-1
}

type registeredApp struct {
	app     App
	digests [2]middleware.TokenDigest // indexed by TokenType-1
}

var _ AppRegistry = (*MemoryRegistry)(nil)

// NewMemoryRegistry returns a registry holding the given apps. Each spec is
// checked as Register checks it.
func NewMemoryRegistry(apps ...AppSpec) (*MemoryRegistry, error) {
	m := &MemoryRegistry{
		byID: map[string]*registeredApp{},
		byToken: [2]map[middleware.TokenDigest]*registeredApp{
			{}, {},
		},
	}
	for i, spec := range apps {
		if err := m.Register(context.Background(), spec); err != nil {
			return nil, fmt.Errorf("basicauth: app #%d: %w", i, err) // one line, naming the app
		}
	}
	return m, nil
}

// Register adds an app. Its app token must be AppTokenLen lowercase hex
// characters, its backend token BackendTokenLen, and the two independent
// (the app token is not the start of the backend token). Only the tokens'
// digests are kept. It returns ErrAppExists when the id or a token is taken
// and ErrRegistryFull past MaxMemoryApps.
func (m *MemoryRegistry) Register(_ context.Context, spec AppSpec) error {
	if m.byID == nil {
		return notBuilt("MemoryRegistry")
	}
	if spec.ID == "" {
		spec.ID = spec.Name
	}
	switch {
	case spec.ID == "":
		return errors.New("basicauth: app needs an id or a name")
	case !isLowerHex(spec.AppToken, AppTokenLen):
		return errors.New("basicauth: app token must be 32 lowercase hex characters")
	case !isLowerHex(spec.BackendToken, BackendTokenLen):
		return errors.New("basicauth: backend token must be 44 lowercase hex characters")
	case spec.BackendToken[:AppTokenLen] == spec.AppToken:
		return errors.New("basicauth: backend token must be drawn independently of the app token")
	}
	e := &registeredApp{app: App{ID: spec.ID, Name: spec.Name}}
	e.digests[AppToken-1] = middleware.DigestToken(spec.AppToken)
	e.digests[BackendToken-1] = middleware.DigestToken(spec.BackendToken)
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, taken := m.byID[e.app.ID]; taken || m.inUse(e.digests[0]) || m.inUse(e.digests[1]) {
		return ErrAppExists
	}
	if len(m.byID) >= MaxMemoryApps {
		return ErrRegistryFull
	}
	m.byID[e.app.ID] = e
	m.byToken[0][e.digests[0]] = e
	m.byToken[1][e.digests[1]] = e
	return nil
}

// inUse reports whether d is any app's token of either type. m.mu is held.
func (m *MemoryRegistry) inUse(d middleware.TokenDigest) bool {
	_, a := m.byToken[0][d]
	_, b := m.byToken[1][d]
	return a || b
}

// Lookup implements AppRegistry.
func (m *MemoryRegistry) Lookup(_ context.Context, t TokenType, d middleware.TokenDigest) (App, error) {
	if !t.valid() {
		return App{}, ErrAppNotFound
	}
	m.mu.RLock()
	defer m.mu.RUnlock()
	e, ok := m.byToken[t-1][d]
	// The map matched the whole digest; comparing again in constant time
	// keeps the guarantee independent of how the map compares keys.
	if !ok || subtle.ConstantTimeCompare(e.digests[t-1][:], d[:]) != 1 {
		return App{}, ErrAppNotFound
	}
	return e.app, nil
}

// Rotate implements AppRegistry.
func (m *MemoryRegistry) Rotate(_ context.Context, appID string, t TokenType, d middleware.TokenDigest) error {
	if !t.valid() {
		return errors.New("basicauth: unknown token type")
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	e, ok := m.byID[appID]
	if !ok {
		return ErrAppNotFound
	}
	if m.inUse(d) {
		return ErrAppExists
	}
	delete(m.byToken[t-1], e.digests[t-1])
	e.digests[t-1] = d
	m.byToken[t-1][d] = e
	return nil
}

// Revoke implements AppRegistry.
func (m *MemoryRegistry) Revoke(_ context.Context, appID string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	e, ok := m.byID[appID]
	if !ok {
		return nil
	}
	delete(m.byID, appID)
	delete(m.byToken[0], e.digests[0])
	delete(m.byToken[1], e.digests[1])
	return nil
}

// Len returns the number of apps held.
func (m *MemoryRegistry) Len() int {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return len(m.byID)
}

// notBuilt is the error of a method called on a value its constructor did
// not make (a zero value of typ): a 500, never a panic at request time.
func notBuilt(typ string) error {
	return middleware.Internal(typ + " not built by its constructor")
}
