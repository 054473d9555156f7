package middleware

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"
	"time"

	"github.com/tidegate/tidegate/internal/nilness"
)

// Scheme is one credential kind, ready to authenticate requests: how to find
// the credential (Extractor), how to check it (Verifier), how to challenge
// (WWW-Authenticate) and how to write a failure (Renderer).
//
// Schemes are built by NewScheme, usually through a kind's package (for
// example session, bearer, basicauth), and are safe for concurrent use.
type Scheme struct {
	kind      Kind
	extractor Extractor
	peeker    Peeker // extractor, when it is a Peeker and verifier a *Cache
	verifier  Verifier
	cache     *Cache // verifier, when it is a *Cache: lets hits skip a copy
	challenge challenge
	render    Renderer
	logger    *slog.Logger
	observer  Observer
	observed  bool // observer is not a NopObserver
	identity  IdentityHeaders
	setsIDs   bool // identity names at least one header
	now       func() time.Time
	// customClock is set by WithClock (see verify).
	customClock bool
}

// built reports whether s was made by NewScheme: a zero Scheme has no
// extractor and no verifier.
func (s *Scheme) built() bool { return s.extractor != nil && s.verifier != nil }

// NewScheme validates its arguments and returns a Scheme.
func NewScheme(kind Kind, ex Extractor, v Verifier, ch Challenge, opts ...SchemeOption) (*Scheme, error) {
	if kind == "" {
		return nil, errors.New("tidegate: scheme kind must not be empty")
	}
	if nilness.Is(ex) || nilness.Is(v) {
		return nil, errors.New("tidegate: scheme needs an extractor and a verifier")
	}
	if c, ok := v.(*Cache); ok && (c == nil || !c.built()) {
		return nil, errors.New("tidegate: scheme given a cache not built by NewCache")
	}
	compiled, err := ch.compile()
	if err != nil {
		return nil, err
	}
	s := &Scheme{
		kind:      kind,
		extractor: ex,
		verifier:  v,
		challenge: compiled,
		render:    JSONRenderer,
		logger:    slog.Default(),
		observer:  NopObserver{},
		now:       time.Now,
	}
	s.cache, _ = v.(*Cache)
	if p, ok := ex.(Peeker); ok && s.cache != nil {
		s.peeker = p
	}
	for _, opt := range opts {
		if opt == nil {
			return nil, errors.New("tidegate: nil scheme option")
		}
		if err := opt.applyScheme(s); err != nil {
			return nil, err
		}
	}
	s.setsIDs = s.identity.any()
	_, nop := s.observer.(NopObserver)
	s.observed = !nop
	return s, nil
}

// Kind returns the credential kind the scheme handles.
func (s *Scheme) Kind() Kind { return s.kind }

// Verifier returns the scheme's Verifier (often a *Cache).
func (s *Scheme) Verifier() Verifier { return s.verifier }

// Extract runs the scheme's extractor on r. Its error is the extractor's
// own when that says what went wrong in tidegate's terms (an *Error, or a
// sentinel, perhaps wrapped in the application's own error type); a
// request without a credential gives ErrNoCredential itself, and an error
// outside the Extractor contract the generic ErrInternal *Error.
// A zero Scheme (not built by NewScheme) answers ErrInternal.
func (s *Scheme) Extract(r *http.Request) (Credential, error) {
	if !s.built() {
		return Credential{}, notBuilt("Scheme")
	}
	cred, err, raw := s.extractBoth(r)
	if err == nil || err == ErrNoCredential || err.(*Error).Kind == ErrInternal {
		return cred, err
	}
	return cred, raw
}

// Reject answers a failed request the way the scheme's middleware does: the
// challenge, Retry-After and Cache-Control headers, then the renderer's body.
// err is classified with AsError. Kind packages use it so that their own
// endpoints fail exactly like their middleware. A zero Scheme answers with
// the defaults: no challenge, JSONRenderer's body.
func (s *Scheme) Reject(w http.ResponseWriter, r *http.Request, err error) {
	e := AsError(err)
	if e == nil {
		e = Internal("reject without error")
	}
	if !s.built() {
		rejectPlain(w, r, e)
		return
	}
	setFailureHeaders(w, e, s.challenge.value(e))
	s.respond(w, r, e)
}

// Logger returns the logger the scheme writes its events to (WithLogger;
// slog.Default() unless set). A kind's endpoints write theirs to it too, so
// that a logger given to the scheme gets every event of the kind.
func (s *Scheme) Logger() *slog.Logger {
	if s == nil || s.logger == nil {
		return slog.Default()
	}
	return s.logger
}

// Observe tells the scheme's Observer (WithObserver) of an outcome that
// happened outside its middleware: the login, refresh or logout of one of
// the kind's issuing endpoints, which authenticate a password or a token
// themselves. A success is OutcomeAuthenticated, a failure OutcomeOf its
// Error (OutcomeRejected, OutcomeError), with the Error's Reason. The
// Observer is contained as the middleware contains it. A zero Scheme
// observes nothing.
func (s *Scheme) Observe(ctx context.Context, outcome Outcome, reason string) {
	if s.built() && s.observed {
		s.observe(ctx, outcome, reason)
	}
}

// OutcomeOf returns the outcome of an endpoint's failure e for Observe and
// log events: OutcomeError for a 5xx status, OutcomeRejected otherwise, as
// the middleware classifies its own; OutcomeAuthenticated for nil.
func OutcomeOf(e *Error) Outcome {
	if e == nil {
		return OutcomeAuthenticated
	}
	return outcomeOf(e)
}

// observe tells the observer of an outcome. Observers and renderers are
// the application's code, like Verifiers, and are contained like them: a
// panic in a metrics hook must not take a request down (a refused one
// would get no response at all, a valid one would never reach its
// handler), and is logged through the scheme's logger by its type only.
// Callers check s.observed first: a NopObserver costs nothing.
func (s *Scheme) observe(ctx context.Context, outcome Outcome, reason string) {
	defer s.contain(ctx, "observer")
	s.observer.ObserveAuth(s.kind, outcome, reason)
}

// respond writes e through the renderer. A renderer that panics is
// contained as observe explains, and the answer becomes the generic 500
// (if the renderer had written nothing yet, that is what the client gets).
//
// The renderer gets a copy of its own: a renderer may change what it is
// given, and e may be shared, by every request with the same credential (a
// Verifier's or an Extractor's package-level value, a singleflight) or
// with the caller of Reject.
func (s *Scheme) respond(w http.ResponseWriter, r *http.Request, e *Error) {
	defer func() {
		if v := recover(); v != nil {
			s.logPanic(r.Context(), "renderer", v)
			JSONRenderer(w, r, Internal("renderer panicked"))
		}
	}()
	s.render(w, r, e.shared())
}

// contain recovers a panic of the application's code named what, and logs
// it. It must be deferred directly.
func (s *Scheme) contain(ctx context.Context, what string) {
	if v := recover(); v != nil {
		s.logPanic(ctx, what, v)
	}
}

// logPanic logs a contained panic by the type of its value, never the
// value, which may quote a credential.
func (s *Scheme) logPanic(ctx context.Context, what string, v any) {
	s.logger.LogAttrs(ctx, slog.LevelError, "tidegate "+what+" panicked",
		slog.String("kind", string(s.kind)), slog.String("panic_type", fmt.Sprintf("%T", v)))
}

// Authenticate extracts and verifies r's credential, as the middleware does,
// without writing a response. It returns ErrNoCredential when r carries
// none; any other failure is an *Error. The returned principal is the
// caller's own copy. A zero Scheme answers ErrInternal.
func (s *Scheme) Authenticate(r *http.Request) (Principal, error) {
	if !s.built() {
		return Principal{}, notBuilt("Scheme")
	}
	cred, err := s.extract(r)
	if err != nil {
		return Principal{}, err
	}
	p, e := s.verify(r.Context(), cred, false)
	if e != nil {
		return Principal{}, e
	}
	return p.Clone(), nil
}

// verify checks a credential and returns a principal that the caller must
// treat as read-only (it may be shared with the cache).
//
// missed says the cache-first path has just looked cred up and missed (see
// Cache.verifyShared).
func (s *Scheme) verify(ctx context.Context, cred Credential, missed bool) (*Principal, *Error) {
	var (
		p *Principal
		e *Error
	)
	if s.cache != nil {
		p, e = s.cache.verifyShared(ctx, cred, missed)
	} else {
		var got Principal
		got, e = callVerifier(ctx, s.verifier, cred)
		p = &got
	}
	if e != nil {
		return nil, e
	}
	if s.expired(p) {
		return nil, expiredPrincipal(p)
	}
	return p, nil
}

// expired reports whether p has expired on the scheme's clock. A principal
// without expiry needs no clock. A cache hit never outlives p.ExpiresAt on
// the cache's clock (measured on the monotonic clock from the verification
// on), and a miss is judged when the Verifier answers; when that and this
// are both the real clock, the cache has made this very check, so no clock
// is read here.
func (s *Scheme) expired(p *Principal) bool {
	return !p.ExpiresAt.IsZero() && (s.cache == nil || s.customClock || s.cache.customClock) &&
		!s.now().Before(p.ExpiresAt)
}

// serveCached serves r with the principal of the cached credential peek
// found, or refuses it when the cache remembers its refusal, and reports
// true; it reports false when the cache has neither (or the principal
// expired on the scheme's own clock): the caller then extracts and
// verifies as usual.
func (s *Scheme) serveCached(w http.ResponseWriter, r *http.Request, next http.Handler, peek Peek) bool {
	e, refused := s.cache.hit(s.kind, peek.form, peek.key)
	if refused != nil {
		cred := peek.credential(s.kind)
		s.fail(w, r, refused, &cred)
		return true
	}
	if e == nil || s.expired(&e.principal) {
		return false
	}
	cred := peek.credential(s.kind)
	s.succeed(w, r, next, &e.principal, &cred)
	return true
}

// callVerifier calls v, turning a panic into a 500 and a Principal without a
// subject into a 500 too: both are bugs in the Verifier, never a reason to
// let the request through.
func callVerifier(ctx context.Context, v Verifier, cred Credential) (p Principal, e *Error) {
	defer func() {
		if r := recover(); r != nil {
			// The panic value may quote the credential: keep only its type
			// and where it happened. The Scheme logs both, through its own
			// logger, in the one event of this authentication (logOutcome);
			// logging here went to slog.Default instead of WithLogger's
			// logger, as a second event.
			p, e = Principal{}, Panicked("verifier", r)
		}
	}()
	got, err := v.Verify(ctx, cred)
	if err != nil {
		return Principal{}, AsError(err) // may be shared: respond renders a copy
	}
	if got.Subject == "" {
		return Principal{}, Internal("principal without subject")
	}
	if got.Kind == "" {
		got.Kind = cred.Kind
	}
	return got, nil
}

// codePanic is the cause of the ErrInternal error of the application's code
// that panicked (a Verifier, an Extractor, a login's accounts, limiter or
// hasher). It holds what panicked, the
// panic value's type and the stack, never the value, which may quote the
// credential.
type codePanic struct {
	what      string
	valueType string
	stack     []byte
}

func (p *codePanic) Error() string { return "tidegate: " + p.what + " panicked with a " + p.valueType }

// Panicked returns the 500 of a contained panic of what (a name such as
// "endpoint"), with value v: the request gets the generic body, and a log
// event written with AppendErrorAttrs names v's type and the stack, never
// v, which may quote a credential or a password. Kind packages use it for
// the panics their endpoints contain.
func Panicked(what string, v any) *Error {
	e := Internal("panic")
	e.Err = &codePanic{what: what, valueType: fmt.Sprintf("%T", v), stack: debug.Stack()}
	return e
}

// extract runs the scheme's Extractor, which may be the application's code,
// as a Verifier may: a panic is the generic 500, logged by its type. Left
// to net/http, it dropped the connection without an answer and logged the
// panic's value, which may quote the credential, in the server's ErrorLog.
// Its error is read here, once, under the same recover (see
// classifyExtraction): what extract returns is nil, ErrNoCredential
// itself, or an *Error, so that nothing after it runs the application's
// error methods again.
func (s *Scheme) extract(r *http.Request) (Credential, error) {
	cred, err, _ := s.extractBoth(r)
	return cred, err
}

// extractBoth is extract, returning also the extractor's own error (raw),
// for Extract.
func (s *Scheme) extractBoth(r *http.Request) (cred Credential, err, raw error) {
	defer func() {
		if v := recover(); v != nil {
			if v == http.ErrAbortHandler { // an abort on purpose, for net/http
				panic(v)
			}
			cred, err, raw = Credential{}, Panicked("extractor", v), nil
		}
	}()
	cred, raw = s.extractor.Extract(r)
	if raw == nil || raw == ErrNoCredential { // the common answers, at no cost
		return cred, raw, raw
	}
	return Credential{}, classifyExtraction(raw), raw
}

// maxErrorNodes bounds the errors classifyExtraction looks at in an
// Extractor's error tree. Within the contract an error is a sentinel, an
// *Error, or either wrapped a few times.
const maxErrorNodes = 256

// classifyExtraction reads an Extractor's error: the failure it holds, an
// *Error; ErrNoCredential itself when it says only "no credential", in any
// form (Missing(), a wrapped ErrNoCredential); or the 500 of an error
// outside the contract.
//
// The tree is walked through Unwrap (not into an *Error's cause, which is
// its own), at most maxErrorNodes errors: a tree that shares its parts
// would take exponential time. A failure of another kind anywhere in it
// wins over a Missing() beside it (an extractor that looked in two
// places), in either order. A nil *Error in it, a tree too large to
// search, or an error of no tidegate kind (which AsError would read as a
// backend's 503) is outside the contract: beside a Missing(), a nil *Error
// read as "no credential", and Optional passed the request through
// anonymously. When the walk finds no failure, AsError decides, as it
// does for a Verifier's error: the error's own Is and As methods run
// here, under extract's recover, and like the Extractor they must be
// cheap.
func classifyExtraction(err error) error {
	w := errorWalk{budget: maxErrorNodes}
	switch w.walk(err) {
	case treeHoldsNil:
		return Internal("nil *Error") // as AsError reads one
	case treeTooLarge:
		return Internal("extractor_error")
	}
	if w.failure != nil {
		return w.failure
	}
	if !hasKind(err) {
		e := Internal("extractor_error")
		e.Err = err
		return e
	}
	e := AsError(err) // an As method may yield a nil *Error: "nil *Error"
	if e.Kind == ErrNoCredential {
		return ErrNoCredential
	}
	return e
}

// treeVerdict is what errorWalk found in an error tree.
type treeVerdict uint8

const (
	treeClean treeVerdict = iota
	treeHoldsNil
	treeTooLarge
)

// errorWalk walks an error tree, depth first, through Unwrap but not into
// an *Error's cause, spending one of budget per error. It keeps the first
// failure of a kind other than ErrNoCredential it meets (an *Error, or a
// sentinel itself).
type errorWalk struct {
	budget  int
	failure *Error
}

func (w *errorWalk) walk(err error) treeVerdict {
	if w.budget == 0 {
		return treeTooLarge
	}
	w.budget--
	var inner []error
	switch u := err.(type) {
	case *Error:
		if u == nil {
			return treeHoldsNil
		}
		w.note(AsError(u))
		return treeClean
	case interface{ Unwrap() error }:
		inner = []error{u.Unwrap()}
	case interface{ Unwrap() []error }:
		inner = u.Unwrap()
	default:
		if isKind(err) {
			w.note(AsError(err))
		}
	}
	for _, e := range inner {
		if e == nil {
			continue
		}
		if v := w.walk(e); v != treeClean {
			return v
		}
	}
	return treeClean
}

// note records failure e, of a kind found in the tree, unless it is "no
// credential" or a failure was found before.
func (w *errorWalk) note(e *Error) {
	if e.Kind != ErrNoCredential && w.failure == nil {
		w.failure = e
	}
}

// peek runs the scheme's Peeker, containing its panic as extract does. A
// Peek only spares work, so a panicking one counts as unsure (the zero
// Peek): it is logged by its type, and Extract decides.
func (s *Scheme) peek(r *http.Request) (p Peek) {
	defer func() {
		if v := recover(); v != nil {
			if v == http.ErrAbortHandler { // an abort on purpose, for net/http
				panic(v)
			}
			s.logPanic(r.Context(), "peeker", v)
			p = Peek{}
		}
	}()
	return s.peeker.Peek(r)
}

// fail renders a failure with this scheme's challenge and logs it.
func (s *Scheme) fail(w http.ResponseWriter, r *http.Request, e *Error, cred *Credential) {
	s.failKnown(w, r, e, cred, nil)
}

// failKnown is fail for a refusal whose principal is known (a guard's
// 403): the log event names its subject.
func (s *Scheme) failKnown(w http.ResponseWriter, r *http.Request, e *Error, cred *Credential, p *Principal) {
	if s.observed {
		s.observe(r.Context(), outcomeOf(e), e.Reason)
	}
	logOutcome(r.Context(), s.logger, s.kind, outcomeOf(e), e, cred, p)
	setFailureHeaders(w, e, s.challenge.value(e))
	s.respond(w, r, e)
}

// succeed logs a success and calls next with the principal attached.
func (s *Scheme) succeed(w http.ResponseWriter, r *http.Request, next http.Handler, p *Principal, cred *Credential) {
	if s.observed {
		s.observe(r.Context(), OutcomeAuthenticated, "")
	}
	logOutcome(r.Context(), s.logger, s.kind, OutcomeAuthenticated, nil, cred, p)
	r = r.WithContext(&authContext{Context: r.Context(), principal: p, scheme: s})
	if s.setsIDs {
		s.identity.set(r.Header, p)
	}
	next.ServeHTTP(w, r)
}
