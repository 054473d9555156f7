package middleware

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"time"
)

// The kinds of authentication failure. Every *Error matches exactly one of
// them with errors.Is, and each maps to one HTTP status.
var (
	// ErrNoCredential: the request carries no credential of the kind (401).
	ErrNoCredential = errors.New("tidegate: no credential")
	// ErrMalformed: a credential of the kind is present but unreadable,
	// oversized, doubled or ambiguous (400, RFC 6750 invalid_request).
	ErrMalformed = errors.New("tidegate: malformed credential")
	// ErrInvalidCredential: the credential is wrong, expired, revoked or
	// forged (401, RFC 6750 invalid_token).
	ErrInvalidCredential = errors.New("tidegate: invalid credential")
	// ErrForbidden: the credential is valid but not allowed here (403,
	// RFC 6750 insufficient_scope).
	ErrForbidden = errors.New("tidegate: forbidden")
	// ErrRateLimited: too many attempts; retry later (429 with Retry-After).
	ErrRateLimited = errors.New("tidegate: rate limited")
	// ErrUnavailable: the verifier's backend failed or timed out (503 with
	// Retry-After). Never cached, never reported as a bad credential.
	ErrUnavailable = errors.New("tidegate: verifier unavailable")
	// ErrInternal: a bug, such as a Verifier that panicked (500).
	ErrInternal = errors.New("tidegate: internal error")
)

// The error codes of RFC 6750 §3.1.
const (
	CodeInvalidRequest    = "invalid_request"
	CodeInvalidToken      = "invalid_token"
	CodeInsufficientScope = "insufficient_scope"
)

// DefaultRetryAfter is the Retry-After given with 503 when the error names
// no delay of its own.
const DefaultRetryAfter = 5 * time.Second

// Error is an authentication failure. Its fields are for the middleware, the
// renderer and the logs; none of them is ever a secret, and only Status,
// Code, Scope and RetryAfter reach the client by default.
type Error struct {
	// Kind is one of the sentinel errors above.
	Kind error
	// Status is the HTTP status the failure is answered with.
	Status int
	// Code is the RFC 6750 error code ("" when none applies, for example
	// when no credential was sent).
	Code string
	// Reason is a short machine-readable cause for logs and metrics
	// ("missing", "expired", "revoked", "timeout", ...). Kind-specific
	// renderers may map it to their API's error codes.
	Reason string
	// Scope is the scope that was missing, for insufficient_scope.
	Scope string
	// RetryAfter is how long the client should wait (429 and 503).
	RetryAfter time.Duration
	// Transient marks a refusal that may not hold for long, such as a token
	// that is not valid yet: a Cache does not remember it (WithRefusals).
	Transient bool
	// Subject is the user the refused credential was verified to belong
	// to, when that is known: a token whose signature (or a session whose
	// stored record) proves whose it is, refused as expired, revoked or
	// out of scope. The failure's log event names it, as a success's does
	// ("subject when known", issue 2). Never set it from a credential that
	// was not verified: its claims are anybody's.
	Subject string

	// remembered marks a refusal a Cache answered from memory (see
	// WithRefusals): it is logged at Debug, see levelOf.
	remembered bool
	// Err is the underlying cause. It is logged by type only and never
	// written to a response.
	Err error
}

// Error describes the failure without revealing the cause's text, which may
// come from a library and may quote a secret.
func (e *Error) Error() string {
	if e.Reason == "" {
		return e.Kind.Error()
	}
	return e.Kind.Error() + ": " + e.Reason
}

// Is reports whether target is e's kind, so errors.Is(err, ErrInvalidCredential) works.
// A nil *Error, which a buggy Extractor or Verifier may return in a
// non-nil error, is of no kind: errors.Is must not panic on it.
func (e *Error) Is(target error) bool { return e != nil && target == e.Kind }

// Unwrap returns the underlying cause (nil for a nil *Error).
func (e *Error) Unwrap() error {
	if e == nil {
		return nil
	}
	return e.Err
}

// newError builds an *Error of the given kind with its standard status and code.
func newError(kind error, reason string) *Error {
	e := &Error{Kind: kind, Reason: reason}
	switch kind {
	case ErrNoCredential:
		e.Status = http.StatusUnauthorized
	case ErrMalformed:
		e.Status, e.Code = http.StatusBadRequest, CodeInvalidRequest
	case ErrInvalidCredential:
		e.Status, e.Code = http.StatusUnauthorized, CodeInvalidToken
	case ErrForbidden:
		e.Status, e.Code = http.StatusForbidden, CodeInsufficientScope
	case ErrRateLimited:
		e.Status = http.StatusTooManyRequests
	case ErrUnavailable:
		e.Status, e.RetryAfter = http.StatusServiceUnavailable, DefaultRetryAfter
	default:
		e.Kind, e.Status = ErrInternal, http.StatusInternalServerError
	}
	return e
}

// Missing returns the error for "no credential of this kind" (401).
func Missing() *Error { return newError(ErrNoCredential, "missing") }

// Malformed returns a 400 invalid_request error with the given reason.
func Malformed(reason string) *Error { return newError(ErrMalformed, reason) }

// Invalid returns a 401 invalid_token error with the given reason, for a
// Verifier to report a wrong, expired, revoked or forged credential.
func Invalid(reason string) *Error { return newError(ErrInvalidCredential, reason) }

// Forbidden returns a 403 insufficient_scope error naming the missing scope
// or role (which may be empty).
func Forbidden(reason, scope string) *Error {
	e := newError(ErrForbidden, reason)
	e.Scope = scope
	return e
}

// RateLimited returns a 429 error asking the client to wait retryAfter.
func RateLimited(reason string, retryAfter time.Duration) *Error {
	e := newError(ErrRateLimited, reason)
	e.RetryAfter = retryAfter
	return e
}

// Unavailable returns a 503 error for a backend that failed or timed out.
// cause is kept for errors.Is/As and logged by type only.
func Unavailable(reason string, cause error) *Error {
	e := newError(ErrUnavailable, reason)
	e.Err = cause
	return e
}

// Internal returns a 500 error, for bugs such as a panicking Verifier.
func Internal(reason string) *Error { return newError(ErrInternal, reason) }

// notBuilt is the error of a method called on a value its constructor did
// not make (a zero value of typ): a 500, never a panic at request time.
func notBuilt(typ string) *Error { return Internal(typ + " not built by its constructor") }

// AsError classifies any error into an *Error:
//   - an *Error anywhere in the chain is returned as is, unless it lacks a
//     sentinel kind or an error status (a hand-built literal), in which case
//     a copy with its kind's standard status and code is returned (kind
//     ErrInternal when it has none);
//   - a typed nil *Error is ErrInternal, never a success;
//   - an error matching one of the sentinel kinds gets that kind;
//   - anything else, context errors included, is ErrUnavailable (503),
//     because tidegate cannot tell an outage from a bad credential.
//
// AsError(nil) returns nil.
func AsError(err error) *Error {
	if err == nil {
		return nil
	}
	if e, ok := errors.AsType[*Error](err); ok {
		switch {
		case e == nil:
			// A typed nil *Error in a non-nil error interface (the classic
			// `var e *Error; ...; return p, e`). Returning nil here made
			// callVerifier read the failure as a success with an empty
			// Principal: fail closed instead.
			return Internal("nil *Error")
		case !e.wellFormed():
			return e.normalised()
		}
		return e
	}
	for _, kind := range kinds {
		if errors.Is(err, kind) {
			e := newError(kind, "")
			e.Err = err
			return e
		}
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return Unavailable("timeout", err)
	}
	return Unavailable("backend", err)
}

// wellFormed reports whether e has what the constructors give every Error:
// one of the sentinel kinds and an error status. A hand-built
// &Error{Kind: ErrInvalidCredential} has Status 0, which would make
// w.WriteHeader panic at request time, and an Error without a Kind would
// make Error() panic.
func (e *Error) wellFormed() bool {
	return isKind(e.Kind) && e.Status >= 400 && e.Status <= 599
}

// normalised rebuilds a hand-built Error with the standard status and code
// of its kind (ErrInternal when the kind is not one of the sentinels),
// keeping its reason, scope, delay, cause, Transient mark and subject.
func (e *Error) normalised() *Error {
	n := newError(e.Kind, e.Reason)
	n.Scope = e.Scope
	n.Transient = e.Transient
	n.Subject = e.Subject
	if e.RetryAfter > 0 {
		n.RetryAfter = e.RetryAfter
	}
	n.Err = e.Err
	return n
}

// WithSubject returns a copy of e naming subject as the user the refused
// credential was verified to belong to (see Subject): a signature or a
// stored record must prove it.
func (e *Error) WithSubject(subject string) *Error {
	c := *e
	c.Subject = subject
	return &c
}

// expiredPrincipal is the refusal of a verified principal that has
// expired: whose it is is known.
func expiredPrincipal(p *Principal) *Error { return Invalid("expired").WithSubject(p.Subject) }

// kinds are the sentinel kinds of an Error.
var kinds = []error{ErrNoCredential, ErrMalformed, ErrInvalidCredential,
	ErrForbidden, ErrRateLimited, ErrUnavailable, ErrInternal}

// isKind reports whether kind is one of the sentinel kinds.
func isKind(kind error) bool { return slices.Contains(kinds, kind) }

// hasKind reports whether err is an *Error or matches one of the sentinel
// kinds: whether it says what went wrong in tidegate's terms.
func hasKind(err error) bool {
	if _, ok := errors.AsType[*Error](err); ok {
		return true
	}
	for _, kind := range kinds {
		if errors.Is(err, kind) {
			return true
		}
	}
	return false
}
