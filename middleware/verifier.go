package middleware

import "context"

// Verifier decides whether a credential is valid and who it belongs to.
//
// Return the principal on success. Return an error that matches
// ErrInvalidCredential (errors.Is) when the credential is wrong, expired or
// revoked; ErrForbidden when it is valid but not allowed; ErrRateLimited when
// the caller must slow down. Any other error, including a context error, is
// read as "the backend could not decide" and answered with 503: tidegate
// cannot tell an outage from a bad credential, so it never guesses.
//
// The returned Principal is handed over: a Cache keeps it as it is and
// shares it with every request that hits, so its Roles, Scopes and
// Attributes must be the Verifier's to give away (fresh, or cloned from a
// table with Principal.Clone), never changed afterwards.
//
// Verify must be safe for concurrent use and should honour ctx. A Verifier
// wrapped in a Cache must not verify the credential it is verifying
// through that Cache (see NewCache); other credentials it may.
type Verifier interface {
	Verify(ctx context.Context, c Credential) (Principal, error)
}

// VerifierFunc adapts a function to the Verifier interface.
type VerifierFunc func(ctx context.Context, c Credential) (Principal, error)

// Verify calls f(ctx, c).
func (f VerifierFunc) Verify(ctx context.Context, c Credential) (Principal, error) {
	return f(ctx, c)
}
