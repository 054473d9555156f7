package events_test

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tidegate/tidegate/internal/events"
	"github.com/tidegate/tidegate/middleware"
)

// observed records what an Observer hears.
type observed struct{ auth []string }

func (o *observed) ObserveAuth(kind middleware.Kind, outcome middleware.Outcome, reason string) {
	o.auth = append(o.auth, string(kind)+"/"+string(outcome)+"/"+reason)
}
func (o *observed) ObserveCache(middleware.Kind, bool) {}

// TestLog: one event and one observation per call, with the level, the
// status and the attributes the kinds' endpoints document.
func TestLog(t *testing.T) {
	ex, err := middleware.NewHeaderExtractor("session", "X-Token")
	require.NoError(t, err)
	obs := &observed{}
	var buf bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug,
		ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey {
				return slog.Attr{}
			}
			return a
		}}))
	scheme, err := middleware.NewScheme("session", ex, middleware.VerifierFunc(
		func(context.Context, middleware.Credential) (middleware.Principal, error) {
			return middleware.Principal{}, nil
		}),
		middleware.Challenge{Scheme: "Token", Realm: "api"}, middleware.WithObserver(obs), middleware.WithLogger(logger))
	require.NoError(t, err)
	for _, c := range []struct {
		name       string
		ev         events.Event
		want       string
		unobserved bool
	}{
		{"success", events.Event{Endpoint: "login", Subject: "u1"},
			`level=DEBUG msg="tidegate endpoint" kind=session endpoint=login outcome=authenticated subject=u1`, false},
		{"refusal", events.Event{Endpoint: "login", Err: middleware.Invalid("login failed")},
			`level=INFO msg="tidegate endpoint" kind=session endpoint=login outcome=rejected reason="login failed" status=401`, false},
		{"outage", events.Event{Endpoint: "logout", Err: middleware.Unavailable("store", nil), Subject: "u1"},
			`level=WARN msg="tidegate endpoint" kind=session endpoint=logout outcome=error reason=store status=503 subject=u1`, false},
		{"a status of its own", events.Event{Endpoint: "logout", Err: middleware.Malformed("malformed"), Status: 200},
			`level=INFO msg="tidegate endpoint" kind=session endpoint=logout outcome=rejected reason=malformed status=200`, false},
		{"a refusal to warn of", events.Event{Endpoint: "refresh", Err: middleware.Invalid("reused"), Warn: true},
			`level=WARN msg="tidegate endpoint" kind=session endpoint=refresh outcome=rejected reason=reused status=401`, false},
		{"a bug", events.Event{Endpoint: "login", Err: middleware.Internal("encode")},
			`level=ERROR msg="tidegate endpoint" kind=session endpoint=login outcome=error reason=encode status=500`, false},
		{"a success that authenticated nobody", events.Event{Endpoint: "me", Subject: "u1", Unobserved: true},
			`level=DEBUG msg="tidegate endpoint" kind=session endpoint=me outcome=authenticated subject=u1`, true},
		{"a refusal is observed all the same", events.Event{Endpoint: "me", Err: middleware.Invalid("gone"), Unobserved: true},
			`level=INFO msg="tidegate endpoint" kind=session endpoint=me outcome=rejected reason=gone status=401`, false},
	} {
		buf.Reset()
		obs.auth = nil
		events.Log(context.Background(), scheme, c.ev)
		assert.Equal(t, c.want, strings.TrimSpace(buf.String()), c.name)
		if c.unobserved {
			assert.Empty(t, obs.auth, c.name)
		} else {
			assert.Len(t, obs.auth, 1, c.name)
		}
	}
}
