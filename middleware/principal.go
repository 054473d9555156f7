package middleware

import (
	"maps"
	"slices"
	"time"
)

// Actor says who stands behind an authenticated request.
type Actor string

// The actors tidegate knows. The zero value means ActorUser.
const (
	// ActorUser is a person using their own credential.
	ActorUser Actor = "user"
	// ActorServer is a service holding a server token.
	ActorServer Actor = "server"
	// ActorBackend is a trusted backend acting for the user named in Subject.
	ActorBackend Actor = "backend"
)

// Principal is who a request was authenticated as.
//
// The principal the middleware attaches to a request is shared with the
// verification cache. Handlers read it with FromRequest or FromContext,
// which hand out a deep copy: changing the copy's Roles, Scopes or
// Attributes never changes what the next request sees.
type Principal struct {
	// Subject is the user id (or server name) the credential belongs to.
	Subject string
	// Kind is the credential kind that authenticated the request.
	Kind Kind
	// Actor is who is acting; empty means ActorUser.
	Actor Actor
	// App is the application the credential is scoped to, where one applies.
	App string
	// Roles are coarse permissions, checked by RequireRole.
	Roles []string
	// Scopes are OAuth-style scopes, checked by RequireScope.
	Scopes []string
	// ExpiresAt is when the credential stops being valid; zero means the
	// credential carries no expiry of its own.
	ExpiresAt time.Time
	// Attributes holds kind-specific details (a JWT id, a session id).
	// Never put a secret here: attributes may be logged.
	Attributes map[string]string
}

// Clone returns a deep copy of p.
func (p Principal) Clone() Principal {
	p.Roles = slices.Clone(p.Roles)
	p.Scopes = slices.Clone(p.Scopes)
	p.Attributes = maps.Clone(p.Attributes)
	return p
}

// HasRole reports whether p holds role.
func (p *Principal) HasRole(role string) bool { return slices.Contains(p.Roles, role) }

// HasScope reports whether p holds scope.
func (p *Principal) HasScope(scope string) bool { return slices.Contains(p.Scopes, scope) }

// ActingAs returns p.Actor, with the zero value read as ActorUser.
func (p *Principal) ActingAs() Actor {
	if p.Actor == "" {
		return ActorUser
	}
	return p.Actor
}

// expired reports whether p has an expiry and now is at or past it.
func (p *Principal) expired(now time.Time) bool {
	return !p.ExpiresAt.IsZero() && !now.Before(p.ExpiresAt)
}
