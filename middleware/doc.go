// Package middleware is the scheme-agnostic core of tidegate: the types every
// credential kind shares and the net/http middleware that authenticates a
// request with them.
//
// A request flows through four steps:
//
//	request -> Extractor  (is there a credential of my kind? bounded, strict)
//	        -> Credential (its Kind and secret parts)
//	        -> Verifier   (usually a *Cache in front of a store, JWT check or remote call)
//	        -> Principal  (attached to the request context for the next handler)
//
// A Scheme bundles one kind's extractor, verifier, WWW-Authenticate challenge
// and error renderer. Require, Optional and Any turn schemes into
// func(http.Handler) http.Handler middleware; RequireRole and RequireScope guard
// routes by what the principal holds; FromRequest and FromContext read the
// principal back.
//
// Failures are *Error values whose kind is one of the sentinel errors
// (ErrNoCredential, ErrMalformed, ErrInvalidCredential, ErrForbidden,
// ErrRateLimited, ErrUnavailable, ErrInternal). Each maps to one status code.
// A Verifier reports a wrong credential with ErrInvalidCredential; any other
// error is read as "the backend could not decide" and answered with 503, so an
// outage is never mistaken for a bad password and never cached.
//
// The package also holds the contracts the credential kinds share: accounts
// and password checking, login throttling, the session token store and the
// trusted-proxy policy.
package middleware
