package middleware

// Invalidator evicts revoked credentials from verification caches. *Cache
// implements it for one process; a broadcasting implementation (see the
// redisstore package) tells every replica. Kinds call it right after
// revoking in their store, so that revocation takes effect at once.
type Invalidator interface {
	// Invalidate evicts one credential.
	Invalidate(c Credential)
	// InvalidateSubject evicts every credential of a subject.
	InvalidateSubject(subject string)
}

var _ Invalidator = (*Cache)(nil)
