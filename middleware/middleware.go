package middleware

import (
	"errors"
	"net/http"

	"github.com/tidegate/tidegate/internal/nilness"
)

// Require returns middleware that lets a request through only with a valid
// credential of s's kind. No credential is 401 with s's challenge; a
// malformed one is 400; a wrong one 401; a backend failure 503.
//
// Require panics if s is nil or was not built by NewScheme (a zero
// Scheme), and the middleware it returns panics if given a nil next
// handler, as http.Handle does with a nil handler: each is a wiring mistake
// found at start-up, never at request time.
func Require(s *Scheme) func(http.Handler) http.Handler {
	mustScheme(s)
	names := s.identity.names()
	return func(next http.Handler) http.Handler {
		mustNext(next)
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if names != nil {
				r = stripIdentity(r, names)
			}
			serveOne(s, w, r, next, false)
		})
	}
}

// Optional returns middleware that lets a request without a credential of
// s's kind through anonymously (FromRequest then reports false). A credential
// that is present but malformed or invalid is still rejected: it is never
// downgraded to anonymous.
//
// Optional panics if s is nil or was not built by NewScheme, and the
// middleware it returns panics if given a nil next handler.
func Optional(s *Scheme) func(http.Handler) http.Handler {
	mustScheme(s)
	names := s.identity.names()
	return func(next http.Handler) http.Handler {
		mustNext(next)
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if names != nil {
				r = stripIdentity(r, names)
			}
			serveOne(s, w, r, next, true)
		})
	}
}

func mustScheme(s *Scheme) {
	if s == nil {
		panic("tidegate: nil *middleware.Scheme")
	}
	if !s.built() {
		panic("tidegate: *middleware.Scheme not built by NewScheme")
	}
}

// mustNext panics on a nil next handler: the middleware would otherwise
// panic at the first request it lets through, and net/http answers that by
// dropping the connection.
func mustNext(next http.Handler) {
	if nilness.Is(next) { // a nil http.HandlerFunc too
		panic("tidegate: nil next http.Handler")
	}
}

// serveOne authenticates r with a single scheme.
func serveOne(s *Scheme, w http.ResponseWriter, r *http.Request, next http.Handler, optional bool) {
	missed := false
	if s.peeker != nil {
		if peek := s.peek(r); peek.Found() {
			if s.serveCached(w, r, next, peek) {
				return
			}
			missed = true
		}
	}
	cred, err := s.extract(r)
	if noCredential(err) {
		if optional {
			if s.observed {
				s.observe(r.Context(), OutcomeAnonymous, "")
			}
			logOutcome(r.Context(), s.logger, s.kind, OutcomeAnonymous, nil, nil, nil)
			next.ServeHTTP(w, r.WithContext(&authContext{Context: r.Context(), scheme: s}))
			return
		}
		s.fail(w, r, Missing(), nil)
		return
	}
	if err != nil {
		s.fail(w, r, AsError(err), nil)
		return
	}
	p, e := s.verify(r.Context(), cred, missed)
	if e != nil {
		s.fail(w, r, e, &cred)
		return
	}
	s.succeed(w, r, next, p, &cred)
}

// noCredential reports whether Scheme.extract found no credential of its
// kind. The Extractor contract asks for ErrNoCredential itself, but a
// custom extractor may well return Missing() (an *Error of that kind) or a
// wrapped ErrNoCredential: extract reads every form as ErrNoCredential
// itself (see classifyExtraction), so that the comparison here runs none
// of the application's error methods, outside extract's recover.
func noCredential(err error) bool { return err == ErrNoCredential }

// Any returns middleware that accepts a valid credential of any of the given
// schemes' kinds. Every scheme's extractor runs once on each request, so
// that the answer's status never depends on the order the schemes are
// given in:
//
//   - None present: 401 with one WWW-Authenticate challenge per scheme, in
//     the order given, and the first scheme's body; the outcome is logged
//     and observed once, as the first scheme's.
//   - Something of two kinds (credentials, or one header doubled with
//     different values), whether well formed, malformed or refused for its
//     form (Basic over plain HTTP): 400 invalid_request, reason
//     "ambiguous"; tidegate never guesses which one counts. The first of
//     the schemes involved with an RFC 6750 challenge answers, which can
//     say invalid_request, or else the first of them.
//   - An extractor that panicked, or returned an error outside the
//     Extractor contract: 500, from its scheme.
//   - Exactly one: verified by its scheme, failures rendered by it.
//
// It returns an error when no scheme is given, one is nil, two share a kind,
// or one's identity header is another's credential header. The middleware
// it returns panics if given a nil next handler, as Require's does.
func Any(schemes ...*Scheme) (func(http.Handler) http.Handler, error) {
	if len(schemes) == 0 {
		return nil, errors.New("tidegate: Any needs at least one scheme")
	}
	seen := map[Kind]bool{}
	var names []string
	for _, s := range schemes {
		if s == nil {
			return nil, errors.New("tidegate: Any given a nil scheme")
		}
		if !s.built() {
			return nil, errors.New("tidegate: Any given a scheme not built by NewScheme")
		}
		if seen[s.kind] {
			return nil, errors.New("tidegate: Any given two schemes of kind " + quoteForError(string(s.kind)))
		}
		seen[s.kind] = true
		names = append(names, s.identity.names()...)
	}
	for _, n := range names {
		for _, s := range schemes {
			if s.extractorReads(n) {
				return nil, errors.New("tidegate: Any given an identity header " + quoteForError(n) +
					" that another scheme reads its credential from")
			}
		}
	}
	schemes = append([]*Scheme(nil), schemes...) // the caller may reuse its slice
	return func(next http.Handler) http.Handler {
		mustNext(next)
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if names != nil {
				r = stripIdentity(r, names)
			}
			serveAny(schemes, w, r, next)
		})
	}, nil
}

func serveAny(schemes []*Scheme, w http.ResponseWriter, r *http.Request, next http.Handler) {
	peeked, peek := peekAny(schemes, r)
	if peeked != nil && peeked.serveCached(w, r, next, peek) {
		return
	}
	var room [4]extraction // on the stack: Any rarely has more schemes
	seen, broken := extractAll(room[:0], schemes, r)
	switch {
	case broken:
		seen[0].scheme.fail(w, r, seen[0].err, nil)
	case len(seen) == 0:
		rejectNone(schemes, w, r)
	case len(seen) > 1:
		ambiguity(seen).fail(w, r, Malformed("ambiguous"), nil)
	case seen[0].err != nil:
		seen[0].scheme.fail(w, r, seen[0].err, nil)
	default:
		found, cred := seen[0].scheme, seen[0].cred
		p, e := found.verify(r.Context(), cred, found == peeked)
		if e != nil {
			found.fail(w, r, e, &cred)
			return
		}
		found.succeed(w, r, next, p, &cred)
	}
}

// extraction is what one of Any's schemes saw in a request: a credential,
// or (err) a malformed one or a form it refuses.
type extraction struct {
	scheme *Scheme
	cred   Credential
	err    *Error
}

// extractAll runs every scheme's extractor once, in Any's order, and
// appends to seen what those that saw something of their kind saw; or it
// returns the first whose extractor broke (it panicked, or returned an
// error outside its contract: 500) alone, and true. Every extractor runs,
// whatever the first ones saw, so that the answer's status does not depend
// on the schemes' order: a broken extractor is a 500, two kinds (whether
// well formed, malformed or refused) a 400, in any order.
func extractAll(seen []extraction, schemes []*Scheme, r *http.Request) ([]extraction, bool) {
	for _, s := range schemes {
		c, err := s.extract(r)
		if noCredential(err) {
			continue
		}
		x := extraction{scheme: s, cred: c, err: AsError(err)}
		if x.err != nil && x.err.Kind == ErrInternal {
			return append(seen[:0], x), true
		}
		seen = append(seen, x)
	}
	return seen, false
}

// ambiguity returns the scheme that answers a request in which several of
// Any's schemes saw something of their kind (seen, in Any's order): the
// first with an RFC 6750 challenge, or the first of all when none has one.
// RFC 6750 §3.1 names this very case (more than one method of sending a
// token) invalid_request, which only such a challenge can say; otherwise
// the answer's body is the first scheme's.
func ambiguity(seen []extraction) *Scheme {
	for _, x := range seen {
		if x.scheme.challenge.rfc6750 {
			return x.scheme
		}
	}
	return seen[0].scheme
}

// peekAny returns the one scheme whose Peeker found a credential, and what
// it saw, when every other scheme's Peeker is sure the request carries none
// of its kind; otherwise nil, and serveAny extracts as usual.
func peekAny(schemes []*Scheme, r *http.Request) (*Scheme, Peek) {
	var (
		found *Scheme
		seen  Peek
	)
	for _, s := range schemes {
		if s.peeker == nil {
			return nil, Peek{}
		}
		switch peek := s.peek(r); {
		case peek.None():
		case peek.Found() && found == nil:
			found, seen = s, peek
		default:
			return nil, Peek{}
		}
	}
	return found, seen
}

// rejectNone answers a request that carried no credential of any kind: one
// challenge per scheme (RFC 7235 §4.1 allows several), the first scheme's
// body, and one outcome, logged and observed as the first scheme's, like
// every other request (observing it once per scheme counted one request as
// several).
func rejectNone(schemes []*Scheme, w http.ResponseWriter, r *http.Request) {
	e := Missing()
	first := schemes[0]
	challenges := make([]string, len(schemes))
	for i, s := range schemes {
		challenges[i] = s.challenge.value(e)
	}
	if first.observed {
		first.observe(r.Context(), OutcomeRejected, e.Reason)
	}
	logOutcome(r.Context(), first.logger, first.kind, OutcomeRejected, e, nil, nil)
	setFailureHeaders(w, e, challenges...)
	first.respond(w, r, e)
}
