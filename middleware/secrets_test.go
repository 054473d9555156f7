package middleware_test

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/tidegate/tidegate/middleware"
)

// secret is a credential no output may ever contain. It is valid token68,
// so it gets past the extractors to the verifier and the logs.
const secret = "s3cr3tHunter2TOKENzz"

// leakyVerifier quotes the credential everywhere a careless backend might:
// in its error text, wrapped errors, and its panic value.
var leakyVerifier = middleware.VerifierFunc(func(ctx context.Context, c middleware.Credential) (middleware.Principal, error) {
	switch strings.TrimPrefix(c.Token, secret) {
	case "":
		return middleware.Principal{Subject: "u1", Attributes: map[string]string{"sid": "s1"}}, nil
	case "-panic":
		panic("cannot parse token " + c.Token + " with password " + c.Secret)
	case "-panicerr":
		panic(fmt.Errorf("token %s: %w", c.Token, errors.New("boom")))
	case "-invalid":
		return middleware.Principal{}, fmt.Errorf("no session for %q: %w", c.Token, middleware.ErrInvalidCredential)
	case "-wrapped":
		return middleware.Principal{}, fmt.Errorf("token %s: %w", c.Token, middleware.Invalid("revoked"))
	case "-down":
		return middleware.Principal{}, fmt.Errorf("redis GET session:%s: connection reset", c.Token)
	case "-slow":
		<-ctx.Done()
		return middleware.Principal{}, fmt.Errorf("waiting for %s: %w", c.Token, ctx.Err())
	case "-limited":
		return middleware.Principal{}, middleware.RateLimited("login throttled", time.Second)
	case "-forbidden":
		return middleware.Principal{}, fmt.Errorf("token %s: %w", c.Token, middleware.ErrForbidden)
	}
	return middleware.Principal{}, fmt.Errorf("unknown token %s", c.Token)
})

// reasonRecorder is an Observer that keeps every reason it is given.
type reasonRecorder struct {
	mu      sync.Mutex
	reasons []string
	hits    map[bool]int
}

func (o *reasonRecorder) ObserveAuth(kind middleware.Kind, outcome middleware.Outcome, reason string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.reasons = append(o.reasons, string(kind)+"/"+string(outcome)+"/"+reason)
}

func (o *reasonRecorder) ObserveCache(kind middleware.Kind, hit bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.hits == nil {
		o.hits = map[bool]int{}
	}
	o.hits[hit]++
}

// captureDefaultLogger points slog.Default at a Debug-level buffer for the
// rest of the test. Tests using it must not run in parallel.
func captureDefaultLogger(t *testing.T) *syncBuffer {
	logger, buf := debugLogger()
	old := slog.Default()
	slog.SetDefault(logger)
	t.Cleanup(func() { slog.SetDefault(old) })
	return buf
}

func TestNoSecretsInLogsOrResponses(t *testing.T) {
	defaultLog := captureDefaultLogger(t)
	logger, schemeLog := debugLogger()
	obs := &reasonRecorder{}
	opts := []middleware.SchemeOption{middleware.WithLogger(logger), middleware.WithObserver(obs)}

	// Every credential kind, directly and through a cache; every failure.
	type setup struct {
		name string
		h    http.Handler
		spec kindSpec
	}
	var setups []setup
	for _, spec := range allSpecs {
		direct := newScheme(t, spec, leakyVerifier, opts...)
		cache := newTestCache(t, leakyVerifier, time.Minute, middleware.WithVerifyTimeout(verifyTimeout))
		cached := newScheme(t, spec, cache, opts...)
		guarded := middleware.RequireRole("admin")(principalHandler(&seen{}))
		setups = append(setups,
			setup{"direct/" + string(spec.kind), middleware.Require(direct)(guarded), spec},
			setup{"cached/" + string(spec.kind), middleware.Require(cached)(guarded), spec},
		)
	}
	anyMW, err := middleware.Any(newScheme(t, sessionSpec, leakyVerifier, opts...), newScheme(t, bearerSpec, leakyVerifier, opts...))
	require.NoError(t, err)

	suffixes := []string{"", "-panic", "-panicerr", "-invalid", "-wrapped", "-down", "-slow", "-limited", "-forbidden", "-other"}
	var outputs []string // every body and header value written
	record := func(rec interface {
		Header() http.Header
	}, body string) {
		outputs = append(outputs, body)
		for name, values := range rec.Header() {
			outputs = append(outputs, name+": "+strings.Join(values, ", "))
		}
	}
	for _, s := range setups {
		for _, suffix := range suffixes {
			ctx, cancel := context.WithTimeout(context.Background(), verifyTimeout)
			req := newRequest().WithContext(ctx)
			s.spec.set(req.Header, secret+suffix)
			rec := serve(s.h, req)
			cancel()
			record(rec, rec.Body.String())
			require.NotEqual(t, http.StatusOK, rec.Code, "%s %s", s.name, suffix)
		}
		// Malformed, oversized and doubled credentials quoting the secret.
		name, _ := s.spec.raw("x")
		for _, values := range [][]string{
			{secret + " !"},
			{strings.Repeat(secret, 500)},
			{secret + "1", secret + "2"},
			{"Bearer " + secret + "=x"},
			{"Basic " + secret},
		} {
			req := newRequest()
			req.Header[name] = values
			rec := serve(s.h, req)
			record(rec, rec.Body.String())
		}
	}
	// Two kinds at once, each quoting the secret.
	req := newRequest()
	sessionSpec.set(req.Header, secret)
	bearerSpec.set(req.Header, secret)
	rec := serve(anyMW(principalHandler(&seen{})), req)
	require.Equal(t, http.StatusBadRequest, rec.Code)
	record(rec, rec.Body.String())

	logged := schemeLog.String() + defaultLog.String()
	require.Contains(t, logged, "outcome=error", "the failures were logged")
	require.Contains(t, logged, "reason=panic")
	require.Contains(t, logged, "outcome=authenticated")
	for _, out := range append(outputs, logged, strings.Join(obs.reasons, "\n")) {
		require.NotContains(t, out, secret)
		require.NotContains(t, out, hex.EncodeToString([]byte(secret)))
	}
}

// TestPanicLoggedOnce: a verifier's panic is one Error-level event through
// the scheme's logger, with the panic value's type and the stack but never
// the value; nothing goes to slog.Default behind WithLogger's back.
func TestPanicLoggedOnce(t *testing.T) {
	for _, mode := range contractModes {
		t.Run(mode.name, func(t *testing.T) {
			defaultLog := captureDefaultLogger(t)
			logger, schemeLog := debugLogger()
			var v middleware.Verifier = leakyVerifier
			if mode.cached {
				v = newTestCache(t, leakyVerifier, time.Minute)
			}
			s := newScheme(t, bearerSpec, v, middleware.WithLogger(logger))
			req := newRequest()
			bearerSpec.set(req.Header, secret+"-panic")
			rec := serve(middleware.Require(s)(principalHandler(&seen{})), req)
			assertResponse(t, wantInternal(bearerSpec), rec)

			lines := strings.Split(strings.TrimSpace(schemeLog.String()), "\n")
			require.Len(t, lines, 1, "one event per authentication")
			require.Contains(t, lines[0], "level=ERROR")
			require.Contains(t, lines[0], "reason=panic")
			require.Contains(t, lines[0], "panic_type=string")
			require.Contains(t, lines[0], "stack=")
			require.NotContains(t, lines[0], secret)
			require.Empty(t, defaultLog.String())
		})
	}
}

// panickingObserver panics on every call, quoting a secret.
type panickingObserver struct{}

func (panickingObserver) ObserveAuth(middleware.Kind, middleware.Outcome, string) {
	panic("observer bug with " + secret)
}
func (panickingObserver) ObserveCache(middleware.Kind, bool) {
	panic("cache observer bug with " + secret)
}

// TestObserverAndRendererPanicsAreContained: observers and renderers are
// the application's code, like Verifiers, and are contained like them. A
// panicking observer used to take every request down (a valid one never
// reached its handler; net/http dropped the connection and logged the
// panic's value), and a panicking renderer left a refused request without
// any response. Now the request goes on, a refusal is the generic 500, and
// the panic is logged through the scheme's logger by its type only.
func TestObserverAndRendererPanicsAreContained(t *testing.T) {
	serveNoPanic := func(t *testing.T, h http.Handler, token string) *httptest.ResponseRecorder {
		t.Helper()
		req := newRequest()
		if token != "" {
			bearerSpec.set(req.Header, token)
		}
		var rec *httptest.ResponseRecorder
		require.NotPanics(t, func() { rec = serve(h, req) })
		return rec
	}
	t.Run("observer", func(t *testing.T) {
		defaultLog := captureDefaultLogger(t)
		logger, schemeLog := debugLogger()
		cache := newTestCache(t, &testVerifier{}, time.Minute, middleware.WithObserver(panickingObserver{}))
		s := newScheme(t, bearerSpec, cache, middleware.WithObserver(panickingObserver{}), middleware.WithLogger(logger))
		seen := &seen{}
		h := middleware.Require(s)(principalHandler(seen))
		for range 2 { // a miss, then a hit
			assert.Equal(t, http.StatusOK, serveNoPanic(t, h, tokGood).Code)
		}
		assert.Equal(t, http.StatusUnauthorized, serveNoPanic(t, h, tokUnknown).Code)
		assert.Equal(t, http.StatusUnauthorized, serveNoPanic(t, h, "").Code)
		anonymous := serveNoPanic(t, middleware.Optional(s)(principalHandler(seen)), "")
		assert.Equal(t, http.StatusOK, anonymous.Code)
		assert.Contains(t, schemeLog.String(), "tidegate observer panicked")
		assert.Contains(t, schemeLog.String(), "panic_type=string")
		assert.Contains(t, defaultLog.String(), "tidegate cache observer panicked")
		assert.NotContains(t, schemeLog.String()+defaultLog.String(), secret)
	})
	t.Run("renderer", func(t *testing.T) {
		logger, schemeLog := debugLogger()
		render := func(http.ResponseWriter, *http.Request, *middleware.Error) { panic("renderer bug with " + secret) }
		s := newScheme(t, bearerSpec, &testVerifier{}, middleware.WithRenderer(render), middleware.WithLogger(logger))
		anyKind, err := middleware.Any(s)
		require.NoError(t, err)
		for name, h := range map[string]http.Handler{
			"Require": middleware.Require(s)(principalHandler(&seen{})), "Any": anyKind(principalHandler(&seen{})),
		} {
			for _, token := range []string{tokUnknown, ""} {
				rec := serveNoPanic(t, h, token)
				assert.Equal(t, http.StatusInternalServerError, rec.Code, "%s, token %q", name, token)
				assert.Equal(t, bodyInternal, rec.Body.String(), "%s, token %q", name, token)
			}
		}
		assert.Contains(t, schemeLog.String(), "tidegate renderer panicked")
		assert.NotContains(t, schemeLog.String(), secret)
	})
}

func TestObserverCounts(t *testing.T) {
	obs := &reasonRecorder{}
	v := &testVerifier{}
	cache := newTestCache(t, v, time.Minute, middleware.WithObserver(obs))
	s := newScheme(t, bearerSpec, cache, middleware.WithObserver(obs))
	h := middleware.Require(s)(principalHandler(&seen{}))
	for _, tok := range []string{tokGood, tokGood, tokRevoked, "", tokDown} {
		req := newRequest()
		if tok != "" {
			bearerSpec.set(req.Header, tok)
		}
		serve(h, req)
	}
	require.Equal(t, []string{
		"bearer/authenticated/", "bearer/authenticated/", "bearer/rejected/revoked",
		"bearer/rejected/missing", "bearer/error/backend",
	}, obs.reasons)
	require.Equal(t, map[bool]int{true: 1, false: 3}, obs.hits)
}

// TestCredentialNeverPrints: every fmt verb, and slog through both built-in
// handlers, show the kind and fingerprint only.
func TestCredentialNeverPrints(t *testing.T) {
	c := middleware.Credential{Kind: kindBasic, Token: secret, Secret: "pw-" + secret}
	desc := c.String()
	require.Equal(t, "basic credential "+c.Fingerprint(), desc)
	require.Len(t, c.Fingerprint(), 8)

	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d", "%t", "%o", "%10.3v", "%-20s"} {
		for _, arg := range []any{c, &c, []middleware.Credential{c}, map[string]middleware.Credential{"k": c},
			struct{ C middleware.Credential }{c}} {
			out := fmt.Sprintf(verb, arg)
			require.NotContains(t, out, secret, "%s of %T", verb, arg)
			require.NotContains(t, strings.ToLower(out), hex.EncodeToString([]byte(secret))[:16], "%s of %T", verb, arg)
		}
	}
	require.NotContains(t, fmt.Sprint(c), secret)
	require.NotContains(t, fmt.Sprintln(c), secret)

	var buf bytes.Buffer
	for _, h := range []slog.Handler{slog.NewTextHandler(&buf, nil), slog.NewJSONHandler(&buf, nil)} {
		l := slog.New(h)
		l.Info("login", "cred", c, "ptr", &c)
		l.Info("login", slog.Any("cred", c), slog.Group("g", "cred", c))
	}
	require.NotContains(t, buf.String(), secret)
	require.Contains(t, buf.String(), c.Fingerprint())

	// Error strings never quote a cause's text.
	e := middleware.AsError(fmt.Errorf("token %s: %w", secret, middleware.ErrInvalidCredential))
	require.NotContains(t, e.Error(), secret)
	e = middleware.AsError(errors.New("dial " + secret))
	require.NotContains(t, e.Error(), secret)
}

// panickyExtractor is application code with a bug: its Extract panics,
// quoting the credential, when told to, and so does its Peek (which
// otherwise delegates, as a Peeker must).
type panickyExtractor struct {
	inner        middleware.Extractor
	extractPanic bool
	peekPanic    bool
}

func (x *panickyExtractor) Extract(r *http.Request) (middleware.Credential, error) {
	if x.extractPanic {
		panic("extractor bug with " + r.Header.Get("Authorization"))
	}
	return x.inner.Extract(r)
}

func (x *panickyExtractor) Peek(r *http.Request) middleware.Peek {
	if x.peekPanic {
		panic("peeker bug with " + r.Header.Get("Authorization"))
	}
	return x.inner.(middleware.Peeker).Peek(r)
}

// TestExtractorAndPeekerPanicsAreContained: an Extractor (and its Peeker)
// may be the application's code, like a Verifier, and is contained like
// one. A panicking Extractor used to reach net/http, which dropped the
// connection without an answer and logged the panic's value, credential
// included, in the server's ErrorLog. Now the request gets the generic 500
// and one log event naming the panic's type; a panicking Peeker only costs
// the cache-first path, and Extract decides.
func TestExtractorAndPeekerPanicsAreContained(t *testing.T) {
	build := func(t *testing.T, x *panickyExtractor, logger *slog.Logger) (*middleware.Scheme, map[string]http.Handler) {
		x.inner = bearerSpec.extractor(t)
		s, err := middleware.NewScheme(bearerSpec.kind, x, newTestCache(t, &testVerifier{}, time.Minute),
			bearerSpec.challenge, middleware.WithLogger(logger))
		require.NoError(t, err)
		anyKind, err := middleware.Any(s)
		require.NoError(t, err)
		ok := principalHandler(&seen{})
		return s, map[string]http.Handler{
			"Require": middleware.Require(s)(ok), "Optional": middleware.Optional(s)(ok), "Any": anyKind(ok),
		}
	}
	t.Run("extractor", func(t *testing.T) {
		defaultLog := captureDefaultLogger(t)
		logger, schemeLog := debugLogger()
		s, handlers := build(t, &panickyExtractor{extractPanic: true}, logger)
		for name, h := range handlers {
			t.Run(name, func(t *testing.T) {
				serverLog := &syncBuffer{}
				srv := httptest.NewUnstartedServer(h)
				srv.Config.ErrorLog = log.New(serverLog, "", 0)
				srv.Start()
				defer srv.Close()
				req, err := http.NewRequest(http.MethodGet, srv.URL, nil)
				require.NoError(t, err)
				bearerSpec.set(req.Header, secret)
				resp, err := srv.Client().Do(req)
				require.NoError(t, err, "the client got an answer")
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				assert.Equal(t, http.StatusInternalServerError, resp.StatusCode)
				assert.NotContains(t, string(body), secret)
				srv.Close()
				assert.Empty(t, serverLog.String(), "nothing reached net/http")
			})
		}
		_, err := s.Authenticate(requestWith(secret))
		assert.ErrorIs(t, err, middleware.ErrInternal, "Authenticate")
		_, err = s.Extract(requestWith(secret))
		assert.ErrorIs(t, err, middleware.ErrInternal, "Extract")
		assert.Contains(t, schemeLog.String(), "panic_in=extractor")
		assert.Contains(t, schemeLog.String(), "panic_type=string")
		assert.NotContains(t, schemeLog.String()+defaultLog.String(), secret)
	})
	t.Run("peeker", func(t *testing.T) {
		defaultLog := captureDefaultLogger(t)
		logger, schemeLog := debugLogger()
		_, handlers := build(t, &panickyExtractor{peekPanic: true}, logger)
		for name, h := range handlers {
			t.Run(name, func(t *testing.T) {
				for range 2 { // a miss, then what would be a hit
					var rec *httptest.ResponseRecorder
					require.NotPanics(t, func() { rec = serve(h, requestWith(tokGood)) })
					assert.Equal(t, http.StatusOK, rec.Code, "Extract decides")
				}
			})
		}
		assert.Contains(t, schemeLog.String(), "tidegate peeker panicked")
		assert.Contains(t, schemeLog.String(), "panic_type=string")
		assert.NotContains(t, schemeLog.String()+defaultLog.String(), tokGood)
	})
}

// requestWith returns a request carrying token as a bearer credential.
func requestWith(token string) *http.Request {
	req := newRequest()
	bearerSpec.set(req.Header, token)
	return req
}

// TestExtractorAbortGoesOn: an Extractor that panics with
// http.ErrAbortHandler aborts the response on purpose; it is not contained.
func TestExtractorAbortGoesOn(t *testing.T) {
	x := abortingExtractor{}
	s, err := middleware.NewScheme(bearerSpec.kind, x, &testVerifier{}, bearerSpec.challenge)
	require.NoError(t, err)
	require.PanicsWithValue(t, http.ErrAbortHandler, func() {
		serve(middleware.Require(s)(principalHandler(&seen{})), requestWith(tokGood))
	})
}

// abortingExtractor aborts every request.
type abortingExtractor struct{}

func (abortingExtractor) Extract(*http.Request) (middleware.Credential, error) {
	panic(http.ErrAbortHandler)
}
