package middleware

import (
	"log/slog"
	"net/http"
)

// RequireRole returns middleware that lets through only principals holding
// role; others get 403 (for bearer schemes with
// WWW-Authenticate: Bearer error="insufficient_scope"). It must sit behind
// Require, Optional or Any: an anonymous request gets 401 with the scheme's
// challenge, and a request that no tidegate middleware saw gets 500, since
// that is a wiring mistake that must not let anyone through.
//
// A guard's refusal is an outcome of its own, of the authorization: the
// request's log events and Observer calls are the authentication's
// (authenticated, or anonymous under Optional), then the guard's
// (rejected, with the reason "missing role", "missing scope" or
// "missing"). Count 403s by the guard's event, not by request.
//
// RequireRole panics if role is empty (a guard no one can pass), and the
// middleware it returns panics if given a nil next handler: wiring
// mistakes, found at start-up.
func RequireRole(role string) func(http.Handler) http.Handler {
	if role == "" {
		panic("tidegate: RequireRole given an empty role")
	}
	return guard("role", role, false, (*Principal).HasRole)
}

// RequireScope is RequireRole for Principal.Scopes; the 403 challenge of a
// bearer scheme names the missing scope (RFC 6750 §3.1). It panics if scope
// is empty, as RequireRole does if role is.
func RequireScope(scope string) func(http.Handler) http.Handler {
	if scope == "" {
		panic("tidegate: RequireScope given an empty scope")
	}
	return guard("scope", scope, true, (*Principal).HasScope)
}

// guard builds RequireRole and RequireScope. named says whether a 403
// challenge may name want in its scope attribute: only a scope may be
// (RFC 6750 §3); a role is not an OAuth scope a client could ask for.
func guard(what, want string, named bool, has func(*Principal, string) bool) func(http.Handler) http.Handler {
	scope := ""
	if named {
		scope = want
	}
	return func(next http.Handler) http.Handler {
		mustNext(next)
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			a := authFrom(r.Context())
			switch {
			case a == nil:
				slog.Default().LogAttrs(r.Context(), slog.LevelError,
					"tidegate guard without authentication middleware", slog.String(what, want))
				e := Internal("guard without authentication")
				setFailureHeaders(w, e)
				JSONRenderer(w, r, e)
			case a.principal == nil:
				rejectGuard(w, r, a, Missing())
			case !has(a.principal, want):
				rejectGuard(w, r, a, Forbidden("missing "+what, scope))
			default:
				next.ServeHTTP(w, r)
			}
		})
	}
}

// rejectGuard renders a guard failure with the authenticating scheme, or
// with the defaults when the principal came from NewContext. The log event
// names the refused principal's subject, when there is one.
func rejectGuard(w http.ResponseWriter, r *http.Request, a *authContext, e *Error) {
	if a.scheme == nil {
		rejectPlain(w, r, e)
		return
	}
	a.scheme.failKnown(w, r, e, nil, a.principal)
}

// rejectPlain answers e with no scheme: no challenge, JSONRenderer's body.
func rejectPlain(w http.ResponseWriter, r *http.Request, e *Error) {
	setFailureHeaders(w, e)
	JSONRenderer(w, r, e)
}
