package middleware

import (
	"context"
	"fmt"
	"log/slog"
)

// Outcome classifies how an authentication ended, for logs and metrics.
type Outcome string

// The outcomes reported to an Observer and in log events.
const (
	// OutcomeAuthenticated: a credential was verified.
	OutcomeAuthenticated Outcome = "authenticated"
	// OutcomeAnonymous: Optional let a request without credential through.
	OutcomeAnonymous Outcome = "anonymous"
	// OutcomeRejected: the client's fault (400, 401, 403, 429).
	OutcomeRejected Outcome = "rejected"
	// OutcomeError: the server's fault (500, 503).
	OutcomeError Outcome = "error"
)

// Observer receives authentication outcomes and cache lookups, for a
// metrics library to count. Calls happen on the request path: keep them
// cheap and non-blocking. reason is one of the short, fixed strings of
// Error.Reason, never request data. A panic in an Observer is recovered and
// logged by its type; the request goes on.
//
// Each authentication is observed once: the middleware's, a guard's
// (RequireRole, RequireScope: see there) and an issuing endpoint's (a
// login, refresh or logout, through Scheme.Observe) are each an outcome,
// so a request that meets two of them (a guard's 403 after a valid
// credential, a login endpoint behind the middleware) is observed twice.
type Observer interface {
	ObserveAuth(kind Kind, outcome Outcome, reason string)
	ObserveCache(kind Kind, hit bool)
}

// NopObserver is an Observer that does nothing; it is the default.
type NopObserver struct{}

// ObserveAuth does nothing.
func (NopObserver) ObserveAuth(Kind, Outcome, string) {}

// ObserveCache does nothing.
func (NopObserver) ObserveCache(Kind, bool) {}

// outcomeOf classifies a failure by its status.
func outcomeOf(e *Error) Outcome {
	if e.Status >= 500 {
		return OutcomeError
	}
	return OutcomeRejected
}

// levelOf picks the log level of an outcome: successes are routine (Debug),
// client failures are notable (Info), an unavailable backend is a Warn and a
// bug is an Error. A refusal a Cache remembered is logged at Debug: its
// first refusal was logged at Info when it was verified, and a client
// replaying a bad credential must not be able to flood the log at Info.
func levelOf(outcome Outcome, e *Error) slog.Level {
	switch {
	case e == nil, e.remembered:
		return slog.LevelDebug
	case e.Kind == ErrInternal:
		return slog.LevelError
	case outcome == OutcomeError:
		return slog.LevelWarn
	default:
		return slog.LevelInfo
	}
}

// LogLevel is the level the middleware logs a failure e at, for the
// kinds' own events: Error for ErrInternal (a bug, a contained panic), Warn
// for the server's other failures, Info for the client's, and Debug for a
// refusal a Cache remembered (its first was logged at Info; a client
// replaying a bad credential must not flood the log) and for nil, a
// success.
func LogLevel(e *Error) slog.Level { return levelOf(OutcomeOf(e), e) }

// AppendErrorAttrs appends to attrs what the middleware logs of e beyond
// its reason and status: whether the cache remembered it, its cause's type
// (never its text), and for a contained panic where it happened, the
// panic's type and the stack (never its value). The kinds' own events use
// it, so that a panic in a login's accounts is as findable as one in a
// Verifier. A nil e adds nothing.
func AppendErrorAttrs(attrs []slog.Attr, e *Error) []slog.Attr {
	if e == nil {
		return attrs
	}
	if e.remembered {
		attrs = append(attrs, slog.Bool("remembered", true))
	}
	if e.Err != nil {
		attrs = append(attrs, slog.String("cause", fmt.Sprintf("%T", e.Err)))
	}
	if vp, ok := e.Err.(*codePanic); ok {
		attrs = append(attrs, slog.String("panic_in", vp.what), slog.String("panic_type", vp.valueType),
			slog.String("stack", string(vp.stack)))
	}
	return attrs
}

// logOutcome writes the one log event of an authentication. It never logs a
// secret: the credential appears as a fingerprint, a cause by its type only.
// cred and p may be nil.
func logOutcome(ctx context.Context, logger *slog.Logger, kind Kind, outcome Outcome, e *Error, cred *Credential, p *Principal) {
	level := levelOf(outcome, e)
	if !logger.Enabled(ctx, level) {
		return
	}
	attrs := make([]slog.Attr, 0, 10)
	attrs = append(attrs, slog.String("kind", string(kind)), slog.String("outcome", string(outcome)))
	if e != nil {
		attrs = append(attrs, slog.String("reason", e.Reason), slog.Int("status", e.Status))
		attrs = AppendErrorAttrs(attrs, e)
	}
	switch {
	case p != nil:
		attrs = append(attrs, slog.String("subject", p.Subject))
	case e != nil && e.Subject != "":
		attrs = append(attrs, slog.String("subject", e.Subject))
	}
	if cred != nil && !cred.IsZero() {
		attrs = append(attrs, slog.String("fp", cred.Fingerprint()))
	}
	logger.LogAttrs(ctx, level, "tidegate auth", attrs...)
}
