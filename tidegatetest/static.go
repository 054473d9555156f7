package tidegatetest

import (
	"context"
	"fmt"
	"sync/atomic"

	"github.com/tidegate/tidegate/internal/withheld"
	"github.com/tidegate/tidegate/middleware"
)

// Pair is one row of a StaticVerifier's table: the credential and what
// verifying it answers.
type Pair struct {
	// Credential is matched on Token and Secret exactly, and on Kind unless
	// Kind is empty, which matches a credential of every kind.
	Credential middleware.Credential
	// Principal is returned (a copy of it) when Err is nil. Its Subject must
	// not be empty; an empty Kind is filled in by the scheme.
	Principal middleware.Principal
	// Err, when set, is returned instead of a principal: for example
	// middleware.Unavailable("down", nil) to test a backend outage (503),
	// middleware.Forbidden("suspended", "") for a 403, or, behind
	// basicauth.NewScheme, basicauth.InvalidSession() for Tapglue's 4007.
	Err error
}

// Token returns the Pair of a single-part credential (a session token, an
// API key, a JWT) of the given kind ("" for any kind).
func Token(kind middleware.Kind, token string, p middleware.Principal) Pair {
	return Pair{Credential: middleware.Credential{Kind: kind, Token: token}, Principal: p}
}

// StaticVerifier is a middleware.Verifier answering from a fixed table.
// A credential not in the table is middleware.Invalid("unknown
// credential"), a 401. It is safe for concurrent use.
type StaticVerifier struct {
	withheld.Contents[StaticVerifier] // prints as its name alone: no secret in a log

	table map[staticKey]Pair
	calls atomic.Int64
}

type staticKey struct {
	kind          middleware.Kind
	token, secret string
}

// NewStaticVerifier returns a StaticVerifier over pairs. It refuses a pair
// without a credential, a pair with neither a subject nor an error, and two
// pairs for the same credential and kind.
func NewStaticVerifier(pairs ...Pair) (*StaticVerifier, error) {
	v := &StaticVerifier{table: make(map[staticKey]Pair, len(pairs))}
	for i, p := range pairs {
		c := p.Credential
		switch {
		case c.IsZero():
			return nil, fmt.Errorf("tidegatetest: pair %d has no credential", i)
		case p.Err == nil && p.Principal.Subject == "":
			return nil, fmt.Errorf("tidegatetest: pair %d has neither a subject nor an error", i)
		}
		k := staticKey{kind: c.Kind, token: c.Token, secret: c.Secret}
		if _, dup := v.table[k]; dup {
			return nil, fmt.Errorf("tidegatetest: pair %d repeats the credential of an earlier pair", i)
		}
		p.Principal = p.Principal.Clone()
		v.table[k] = p
	}
	return v, nil
}

// Verify implements middleware.Verifier: a pair of c's own kind wins over a
// pair for any kind. A done ctx is an unavailable backend, as for a real
// verifier.
func (v *StaticVerifier) Verify(ctx context.Context, c middleware.Credential) (middleware.Principal, error) {
	v.calls.Add(1)
	if err := ctx.Err(); err != nil {
		return middleware.Principal{}, middleware.Unavailable("context", err)
	}
	p, ok := v.table[staticKey{kind: c.Kind, token: c.Token, secret: c.Secret}]
	if !ok {
		p, ok = v.table[staticKey{token: c.Token, secret: c.Secret}]
	}
	switch {
	case !ok:
		return middleware.Principal{}, middleware.Invalid("unknown credential")
	case p.Err != nil:
		return middleware.Principal{}, p.Err
	}
	return p.Principal.Clone(), nil
}

// Calls returns how many times Verify was called: with a middleware.Cache
// in front, it tells cache hits from verifications.
func (v *StaticVerifier) Calls() int64 { return v.calls.Load() }
