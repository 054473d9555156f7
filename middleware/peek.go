package middleware

import (
	"fmt"
	"io"
	"net/http"
	"strings"
)

// Peeker is implemented by Extractors that can tell, from a glance at a
// request, what Extract would make of it, without the syntax checks and
// decoding Extract does. The extractors of this package implement it, and a
// wrapping Extractor may implement it by asking the one it wraps.
//
// A Scheme whose Verifier is a *Cache uses it to serve a request whose
// credential is cached straight from the cache: a hit on the exact key of
// a credential proves everything Extract checks of it, since only
// credentials that were extracted, checked and verified are ever cached,
// and the key names the credential exactly (the kind, the form of the key
// and the key itself must all match). A miss, or anything the glance
// cannot decide, takes the full path: Extract, then the Verifier. Under Any,
// the cache is asked only when exactly one scheme finds a credential and
// every other one is sure there is none.
//
// This keeps repeated parsing off the hot path: a JWT's syntax check reads
// every byte of a token of hundreds of bytes, and Basic credentials would
// be decoded on every request.
type Peeker interface {
	// Peek returns PeekNone when Extract would return ErrNoCredential, a
	// Peek from the wrapped Peeker when r carries a credential the cache
	// may know, and the zero Peek (unsure) otherwise.
	Peek(r *http.Request) Peek
}

// Peek is what a Peeker saw. Its zero value means "unsure: extract".
type Peek struct {
	state peekState
	form  keyForm
	key   string
}

type peekState uint8

const (
	peekUnsure peekState = iota
	peekNone
	peekFound
)

// PeekNone is the Peek of a request without a credential of the kind.
var PeekNone = Peek{state: peekNone}

// None reports whether the request carries no credential of the kind.
func (p Peek) None() bool { return p.state == peekNone }

// Found reports whether the request carries a credential the cache may
// know.
func (p Peek) Found() bool { return p.state == peekFound }

// String shows what the Peeker saw ("found", "none" or "unsure"), never
// the credential it holds for the cache's lookup.
func (p Peek) String() string {
	switch p.state {
	case peekFound:
		return "middleware.Peek{found}"
	case peekNone:
		return "middleware.Peek{none}"
	}
	return "middleware.Peek{unsure}"
}

// Format implements fmt.Formatter so that every verb prints String, and
// slog's text handler with them. (Its JSON handler encodes a Peek as {}: it
// has no exported field. It has no LogValue method, which slog would call
// on a nil *Peek too, and log a panic.)
func (p Peek) Format(f fmt.State, _ rune) { _, _ = io.WriteString(f, p.String()) }

// credential is the Credential a cache hit on p stands for, for the log
// line of the outcome: Extract's own for a token, and for Basic
// credentials one that holds only their key (so that it fingerprints as
// the extracted one does).
func (p Peek) credential(kind Kind) Credential {
	if p.form == basicKey {
		return Credential{Kind: kind, key: p.key, form: basicKey}
	}
	return Credential{Kind: kind, Token: p.key}
}

// Peek implements Peeker: the header once, non-empty and within the size
// bound; its value is the token's cache key (tokenKey).
func (x *headerExtractor) Peek(r *http.Request) Peek {
	values := r.Header[x.name]
	switch {
	case len(values) == 0:
		return PeekNone
	case len(values) == 1 && values[0] != "" && len(values[0]) <= x.cfg.maxBytes && !hasOuterOWS(values[0]):
		return Peek{state: peekFound, form: tokenKey, key: values[0]}
	}
	return Peek{}
}

// Peek implements Peeker, as headerExtractor's does, for "Authorization:
// <scheme> <token>".
func (x *authorizationExtractor) Peek(r *http.Request) Peek {
	p := peekAuthorization(r.Header, x.scheme, x.cfg.maxBytes, true)
	p.form = tokenKey
	return p
}

// Peek implements Peeker: the token68 of Basic credentials is their cache
// key (basicKey), so a cached one is found without decoding it.
func (x *basicExtractor) Peek(r *http.Request) Peek {
	p := peekAuthorization(r.Header, "Basic", x.cfg.maxBytes, false)
	p.form = basicKey
	return p
}

// peekAuthorization glances at the Authorization header for scheme. It is
// sure there is no credential only when AuthorizationCredentials would
// return ErrNoCredential for a single header value: absent, or naming
// another scheme (a different or longer scheme word, whatever its length),
// with no space or tab around the value. It finds the credential when the
// one value is this scheme, one space (or, with spaces set, one or more)
// and a rest within the bound. Everything else (doubled headers, spaces
// around the value, whatever scheme it names, bad spacing, an empty value,
// an oversized one) is unsure, for Extract to judge.
func peekAuthorization(h http.Header, scheme string, maxBytes int, spaces bool) Peek {
	values := h["Authorization"]
	if len(values) == 0 {
		return PeekNone
	}
	if len(values) != 1 || values[0] == "" || hasOuterOWS(values[0]) {
		return Peek{} // whitespace around the value (HTTP/2): for Extract to refuse
	}
	v, n := values[0], len(scheme)
	if len(v) < n || !strings.EqualFold(v[:n], scheme) {
		return PeekNone
	}
	switch {
	case len(v) == n:
		return Peek{}
	case v[n] == ' ':
		if len(v) > boundWithSpaces(maxBytes) {
			return Peek{} // before reading the spaces
		}
		rest, reason := credentialAfter(v, n, maxBytes, spaces)
		if reason != "" {
			return Peek{}
		}
		return Peek{state: peekFound, key: rest}
	case tchar[v[n]]:
		return PeekNone // a longer scheme word, such as "Bearerish"
	}
	return Peek{}
}
