package middleware

import (
	"context"
	"net/http"
)

// authContext carries the principal and the scheme that authenticated it
// in one context node, so attaching both costs the same single allocation as
// one context.WithValue. principal is nil for an anonymous request let
// through by Optional.
type authContext struct {
	context.Context
	principal *Principal
	scheme    *Scheme
}

type authKey struct{}

// Value returns the authContext itself for authKey and defers every other
// key to the parent.
func (c *authContext) Value(key any) any {
	if _, ok := key.(authKey); ok {
		return c
	}
	return c.Context.Value(key)
}

func authFrom(ctx context.Context) *authContext {
	a, _ := ctx.Value(authKey{}).(*authContext)
	return a
}

// FromContext returns the principal the middleware attached to ctx, as a
// deep copy the caller may change freely. ok is false for a request that was
// not authenticated (or was let through anonymously by Optional).
func FromContext(ctx context.Context) (p Principal, ok bool) {
	a := authFrom(ctx)
	if a == nil || a.principal == nil {
		return Principal{}, false
	}
	return a.principal.Clone(), true
}

// FromRequest returns the principal of r; see FromContext.
func FromRequest(r *http.Request) (Principal, bool) { return FromContext(r.Context()) }

// SubjectFromContext returns just the principal's subject, without copying
// the principal: the cheapest way for a hot handler to know who is calling.
func SubjectFromContext(ctx context.Context) (string, bool) {
	a := authFrom(ctx)
	if a == nil || a.principal == nil {
		return "", false
	}
	return a.principal.Subject, true
}

// NewContext returns a copy of ctx carrying p, as if the middleware had
// authenticated it. It is meant for tests of handlers that sit behind the
// middleware; RequireRole and RequireScope answer failures on such a
// context with the default JSON renderer and no challenge.
func NewContext(ctx context.Context, p Principal) context.Context {
	p = p.Clone()
	return &authContext{Context: ctx, principal: &p}
}
