package middleware_test

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/tidegate/tidegate/middleware"
)

// TestOneEventPerOutcome: every request through Require, Optional or Any
// writes exactly one log event and makes exactly one ObserveAuth call, with
// the kind, the outcome, the reason of a failure and the subject of a
// success; a credential appears as its fingerprint only.
func TestOneEventPerOutcome(t *testing.T) {
	fp := func(tok string) string { return "fp=" + bearerCred(tok).Fingerprint() }
	cases := []struct {
		name     string
		mw       string // "require", "optional", "any" or "cached"
		headers  [][2]string
		level    string
		attrs    []string // fragments the one log line must hold
		absent   []string // fragments it must not hold
		observed string   // the one ObserveAuth call, kind/outcome/reason
	}{
		{"authenticated", "require", [][2]string{{"Authorization", "Bearer " + tokGood}}, "DEBUG",
			[]string{"kind=bearer", "outcome=authenticated", "subject=" + subjGood, fp(tokGood)}, []string{"reason=", tokGood},
			"bearer/authenticated/"},
		{"authenticated from the cache", "cached", [][2]string{{"Authorization", "Bearer " + tokGood}}, "DEBUG",
			[]string{"kind=bearer", "outcome=authenticated", "subject=" + subjGood, fp(tokGood)}, []string{"reason=", tokGood},
			"bearer/authenticated/"},
		{"anonymous", "optional", nil, "DEBUG",
			[]string{"kind=bearer", "outcome=anonymous"}, []string{"reason=", "subject=", "fp="},
			"bearer/anonymous/"},
		{"missing", "require", nil, "INFO",
			[]string{"kind=bearer", "outcome=rejected", "reason=missing", "status=401"}, []string{"subject=", "fp="},
			"bearer/rejected/missing"},
		{"malformed", "require", [][2]string{{"Authorization", "Bearer\t" + tokGood}}, "INFO",
			[]string{"kind=bearer", "outcome=rejected", "reason=spacing", "status=400"}, []string{"subject=", "fp=", tokGood},
			"bearer/rejected/spacing"},
		{"revoked", "require", [][2]string{{"Authorization", "Bearer " + tokRevoked}}, "INFO",
			[]string{"kind=bearer", "outcome=rejected", "reason=revoked", "status=401", fp(tokRevoked)}, []string{"subject=", tokRevoked},
			"bearer/rejected/revoked"},
		{"backend down", "require", [][2]string{{"Authorization", "Bearer " + tokDown}}, "WARN",
			[]string{"kind=bearer", "outcome=error", "reason=backend", "status=503", "cause=*errors.errorString"},
			[]string{"10.0.0.7", "connection refused", tokDown}, "bearer/error/backend"},
		{"backend timeout through the cache", "cached", [][2]string{{"Authorization", "Bearer " + tokSlow}}, "WARN",
			[]string{"kind=bearer", "outcome=error", "reason=timeout", "status=503"}, []string{tokSlow},
			"bearer/error/timeout"},
		{"rate limited", "require", [][2]string{{"Authorization", "Bearer " + tokLimited}}, "INFO",
			[]string{"kind=bearer", "outcome=rejected", `reason="too many attempts"`, "status=429"}, []string{tokLimited},
			"bearer/rejected/too many attempts"},
		{"verifier panic", "require", [][2]string{{"Authorization", "Bearer " + tokPanic}}, "ERROR",
			[]string{"kind=bearer", "outcome=error", "reason=panic", "status=500", "panic_type=string"}, []string{"verifier bug", tokPanic},
			"bearer/error/panic"},
		{"Any, none: one event, not one per scheme", "any", nil, "INFO",
			[]string{"kind=session", "outcome=rejected", "reason=missing", "status=401"}, []string{"kind=bearer"},
			"session/rejected/missing"},
		{"Any, two kinds", "any", [][2]string{{sessionHeader, tokGood}, {"Authorization", "Bearer " + tokGood}}, "INFO",
			[]string{"kind=session", "outcome=rejected", "reason=ambiguous", "status=400"}, []string{"subject=", tokGood},
			"session/rejected/ambiguous"},
		{"Any, bearer", "any", [][2]string{{"Authorization", "Bearer " + tokAdmin}}, "DEBUG",
			[]string{"kind=bearer", "outcome=authenticated", "subject=" + subjAdmin, fp(tokAdmin)}, []string{tokAdmin},
			"bearer/authenticated/"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			logger, buf := debugLogger()
			obs := &reasonRecorder{}
			opts := []middleware.SchemeOption{middleware.WithLogger(logger), middleware.WithObserver(obs)}
			var mw func(http.Handler) http.Handler
			switch tc.mw {
			case "require":
				mw = middleware.Require(newScheme(t, bearerSpec, &testVerifier{}, opts...))
			case "optional":
				mw = middleware.Optional(newScheme(t, bearerSpec, &testVerifier{}, opts...))
			case "cached":
				cache := newTestCache(t, &testVerifier{}, time.Minute, middleware.WithVerifyTimeout(verifyTimeout))
				mw = middleware.Require(newScheme(t, bearerSpec, cache, opts...))
			case "any":
				var err error
				mw, err = middleware.Any(newScheme(t, sessionSpec, &testVerifier{}, opts...), newScheme(t, bearerSpec, &testVerifier{}, opts...))
				require.NoError(t, err)
			}
			h := mw(principalHandler(&seen{}))

			// Twice, so that the cached case answers the second from the cache.
			for round := range 2 {
				req := newRequest()
				for _, kv := range tc.headers {
					req.Header.Add(kv[0], kv[1])
				}
				serve(h, req)

				lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
				require.Len(t, lines, round+1, "one event per request: %q", buf.String())
				line := lines[round]
				require.Contains(t, line, "level="+tc.level)
				require.Contains(t, line, `msg="tidegate auth"`)
				for _, a := range tc.attrs {
					require.Contains(t, line, a)
				}
				for _, a := range tc.absent {
					require.NotContains(t, line, a)
				}
				obs.mu.Lock()
				require.Len(t, obs.reasons, round+1, "one observation per request")
				require.Equal(t, tc.observed, obs.reasons[round])
				obs.mu.Unlock()
			}
		})
	}
}

// TestRememberedRefusalIsLoggedAtDebug: the first refusal of a credential
// is logged at Info; its repeats, answered from the cache's memory, at
// Debug with remembered=true, so that a client replaying it cannot flood
// the log. Each is still one event and one observation.
func TestRememberedRefusalIsLoggedAtDebug(t *testing.T) {
	logger, buf := debugLogger()
	obs := &reasonRecorder{}
	cache := newTestCache(t, &testVerifier{}, time.Minute)
	h := middleware.Require(newScheme(t, bearerSpec, cache, middleware.WithLogger(logger), middleware.WithObserver(obs)))(principalHandler(&seen{}))
	for range 3 {
		req := newRequest()
		req.Header.Set("Authorization", "Bearer "+tokRevoked)
		serve(h, req)
	}
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	require.Len(t, lines, 3)
	require.Contains(t, lines[0], "level=INFO")
	require.NotContains(t, lines[0], "remembered")
	for _, line := range lines[1:] {
		require.Contains(t, line, "level=DEBUG")
		require.Contains(t, line, "remembered=true")
		require.Contains(t, line, "reason=revoked")
		require.Contains(t, line, "status=401")
	}
	obs.mu.Lock()
	defer obs.mu.Unlock()
	require.Equal(t, []string{"bearer/rejected/revoked", "bearer/rejected/revoked", "bearer/rejected/revoked"}, obs.reasons)
}

// TestGuardRefusalLogsTheSubject: a guard's 403 refuses a known principal,
// so its event names the subject (issue 2: "subject when known"); it did
// not, so the log could not tell who was refused.
func TestGuardRefusalLogsTheSubject(t *testing.T) {
	logger, buf := debugLogger()
	s := newScheme(t, bearerSpec, &testVerifier{}, middleware.WithLogger(logger))
	h := middleware.Require(s)(middleware.RequireRole("admin")(principalHandler(&seen{})))
	req := newRequest()
	req.Header.Set("Authorization", "Bearer "+tokGood)
	rec := serve(h, req)
	require.Equal(t, http.StatusForbidden, rec.Code)
	var refusal string
	for _, line := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
		if strings.Contains(line, "status=403") {
			refusal = line
		}
	}
	require.NotEmpty(t, refusal, "the 403 is logged: %s", buf.String())
	require.Contains(t, refusal, "subject="+subjGood)
	require.Contains(t, refusal, `reason="missing role"`)
}

// TestSchemeObserveReportsEndpointOutcomes: Observe is how a kind's issuing
// endpoints (login, refresh, logout) count their outcomes with the scheme's
// Observer; a panicking Observer is contained, a zero Scheme observes
// nothing.
func TestSchemeObserveReportsEndpointOutcomes(t *testing.T) {
	ex, err := middleware.NewHeaderExtractor("session", "X-Token")
	require.NoError(t, err)
	rec := &reasonRecorder{}
	s, err := middleware.NewScheme("session", ex, trivialVerifier, middleware.Challenge{Scheme: "Token", Realm: "api"},
		middleware.WithObserver(rec))
	require.NoError(t, err)
	s.Observe(context.Background(), middleware.OutcomeOf(nil), "")
	s.Observe(context.Background(), middleware.OutcomeOf(middleware.Invalid("login failed")), "login failed")
	s.Observe(context.Background(), middleware.OutcomeOf(middleware.Unavailable("store", nil)), "store")
	assert.Equal(t, []string{"session/authenticated/", "session/rejected/login failed", "session/error/store"}, rec.reasons)

	panicky, err := middleware.NewScheme("session", ex, trivialVerifier, middleware.Challenge{Scheme: "Token", Realm: "api"},
		middleware.WithObserver(panickingObserver{}), middleware.WithLogger(slog.New(slog.DiscardHandler)))
	require.NoError(t, err)
	assert.NotPanics(t, func() { panicky.Observe(context.Background(), middleware.OutcomeRejected, "x") })
	assert.NotPanics(t, func() { new(middleware.Scheme).Observe(context.Background(), middleware.OutcomeRejected, "x") })
}

// TestErrorAttrsAndLevelForTheKindsEvents: what the kinds' endpoint events
// take from the middleware: its level rule and its error attributes, a
// cause by its type only; nil is a success and adds nothing.
func TestErrorAttrsAndLevelForTheKindsEvents(t *testing.T) {
	assert.Equal(t, slog.LevelDebug, middleware.LogLevel(nil))
	assert.Equal(t, slog.LevelInfo, middleware.LogLevel(middleware.Invalid("x")))
	assert.Equal(t, slog.LevelWarn, middleware.LogLevel(middleware.Unavailable("store", nil)))
	assert.Equal(t, slog.LevelError, middleware.LogLevel(middleware.Internal("bug")))
	assert.Empty(t, middleware.AppendErrorAttrs(nil, nil))
	attrs := middleware.AppendErrorAttrs(nil, middleware.Unavailable("store", errors.New("dial tcp: secret-host")))
	require.Len(t, attrs, 1)
	assert.Equal(t, "cause", attrs[0].Key)
	assert.Equal(t, "*errors.errorString", attrs[0].Value.String(), "the cause's type, never its text")
}
