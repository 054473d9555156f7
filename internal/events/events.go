// Package events writes the one log event of a request to a kind's issuing
// endpoints (login, refresh, logout, and the rest of each API), in the
// shape of the middleware's own events, and tells the scheme's Observer of
// its outcome: the endpoints check passwords and tokens themselves, outside
// the middleware.
package events

import (
	"context"
	"log/slog"

	"github.com/tidegate/tidegate/middleware"
)

// Event is what an endpoint answered one request.
type Event struct {
	// Endpoint names the endpoint ("login", "refresh", ...), or is ""
	// where it is not known (a panic contained around all of them).
	Endpoint string
	// Err is the failure answered, nil for a success.
	Err *middleware.Error
	// Status is the status answered with Err, when it is not Err's own
	// (a bearer logout answers 200 whatever the token).
	Status int
	// Subject is the account's user id, when known.
	Subject string
	// Warn logs a client's failure at Warn rather than Info, for one an
	// operator must hear of (a reused refresh token).
	Warn bool
	// Unobserved is set for a success that authenticated nobody the
	// middleware in front of the endpoint had not (GET /me behind the
	// user middleware): it is logged, but the Observer, which counts
	// authentications, heard of the request's from the middleware.
	Unobserved bool
}

// Log writes ev through the scheme's logger, as "tidegate endpoint" (the
// middleware's events are "tidegate auth"), and tells the scheme's
// Observer of its outcome (middleware.OutcomeOf) unless it is an
// Unobserved success. The attributes are the kind, the endpoint, the
// outcome and, for a failure, the reason and status, with the subject when
// known, and what middleware.AppendErrorAttrs adds (a cause's type, a
// contained panic's type and stack): never a token, a password, a login
// name (users sometimes type their password into the name field), a claim
// or an error's text. The level is the middleware's (middleware.LogLevel):
// Debug for a success (and a refusal a cache remembered), Info for a
// client's failure, Warn for the server's, Error for a bug.
func Log(ctx context.Context, scheme *middleware.Scheme, ev Event) {
	logger := scheme.Logger()
	outcome, reason := middleware.OutcomeOf(ev.Err), ""
	if ev.Err != nil {
		reason = ev.Err.Reason
	}
	if !ev.Unobserved || ev.Err != nil {
		scheme.Observe(ctx, outcome, reason)
	}
	level := levelOf(ev.Err, ev.Warn)
	if !logger.Enabled(ctx, level) {
		return
	}
	attrs := make([]slog.Attr, 0, 6)
	attrs = append(attrs, slog.String("kind", string(scheme.Kind())))
	if ev.Endpoint != "" {
		attrs = append(attrs, slog.String("endpoint", ev.Endpoint))
	}
	attrs = append(attrs, slog.String("outcome", string(outcome)))
	if ev.Err != nil {
		status := ev.Status
		if status == 0 {
			status = ev.Err.Status
		}
		attrs = append(attrs, slog.String("reason", reason), slog.Int("status", status))
		attrs = middleware.AppendErrorAttrs(attrs, ev.Err)
	}
	subject := ev.Subject
	if subject == "" && ev.Err != nil {
		subject = ev.Err.Subject // a refused credential verified to be this user's
	}
	if subject != "" {
		attrs = append(attrs, slog.String("subject", subject))
	}
	logger.LogAttrs(ctx, level, "tidegate endpoint", attrs...)
}

// levelOf is the level of an event of failure e (nil for a success): the
// middleware's (middleware.LogLevel), but Warn for a client's failure an
// operator must hear of.
func levelOf(e *middleware.Error, warn bool) slog.Level {
	level := middleware.LogLevel(e)
	if warn && e != nil && level < slog.LevelWarn {
		return slog.LevelWarn
	}
	return level
}
