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

// noCredential reports whether an extractor found no credential of its kind.
// The Extractor contract asks for ErrNoCredential itself, but a custom
// extractor may well return Missing() (an *Error of that kind) or a wrapped
// ErrNoCredential: comparing with == made Optional reject such a request
// instead of letting it through anonymously, and made Any answer 401 even
// when another scheme held a valid credential.
func noCredential(err error) bool {
	return err != nil && (err == ErrNoCredential || errors.Is(err, ErrNoCredential))
}

// Any returns middleware that accepts a valid credential of any of the given
// schemes' kinds.
//
//   - None present: 401 with one WWW-Authenticate challenge per scheme, in
//     the order given, and the first scheme's body; the outcome is logged
//     and observed once, as the first scheme's.
//   - Credentials of two kinds (or one header doubled with different
//     values): 400 invalid_request; tidegate never guesses which one counts.
//     This holds whether either is well formed or not, and when one is
//     refused for its form with 403 (Basic over plain HTTP), so that the
//     answer does not depend on the schemes' order. The first of the two
//     schemes answers, unless only the other has an RFC 6750 challenge,
//     which can say invalid_request.
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
	var (
		found *Scheme
		cred  Credential
	)
	for i, s := range schemes {
		c, err := s.extract(r)
		if noCredential(err) {
			continue
		}
		if err != nil {
			answerExtractionFailure(w, r, s, AsError(err), found, schemes[i+1:])
			return
		}
		if found != nil {
			ambiguity(found, s).fail(w, r, Malformed("ambiguous"), nil)
			return
		}
		found, cred = s, c
	}
	if found == nil {
		rejectNone(schemes, w, r)
		return
	}
	p, e := found.verify(r.Context(), cred, found == peeked)
	if e != nil {
		found.fail(w, r, e, &cred)
		return
	}
	found.succeed(w, r, next, p, &cred)
}

// ambiguity returns the scheme that answers a request carrying credentials
// of both a's and b's kinds: the first found, unless only the other has an
// RFC 6750 challenge. RFC 6750 §3.1 names this very case (more than one
// method of sending a token) invalid_request, which only such a challenge
// can say.
func ambiguity(a, b *Scheme) *Scheme {
	if !a.challenge.rfc6750 && b.challenge.rfc6750 {
		return b
	}
	return a
}

// answerExtractionFailure answers a request whose extraction by scheme s
// failed with e. found is the scheme that found a credential before s (nil
// if none), rest the schemes after s. The answer does not depend on the
// order of Any's schemes:
//   - a malformed credential (400) is answered as malformedAnswer says;
//   - a refusal of the credential's form (403: Basic over plain HTTP)
//     beside a credential of another kind, well formed or not, is the 400
//     of two kinds (issue 2);
//   - an extractor that broke (it panicked, or returned an error tidegate
//     does not know: 500) is answered by its own scheme, as it is when it
//     comes first.
func answerExtractionFailure(w http.ResponseWriter, r *http.Request, s *Scheme, e *Error, found *Scheme, rest []*Scheme) {
	switch {
	case e.Status == http.StatusBadRequest:
		s, e = malformedAnswer(s, e, found, rest, r)
	case e.Kind == ErrForbidden && found != nil:
		s, e = ambiguity(found, s), Malformed("ambiguous")
	case e.Kind == ErrForbidden:
		if later, err := presentAmong(rest, r); broke(err) {
			s, e = later, AsError(err)
		} else if later != nil {
			s, e = ambiguity(s, later), Malformed("ambiguous")
		}
	}
	s.fail(w, r, e, nil)
}

// broke reports whether err is an extractor's own failure (ErrInternal:
// a panic, or an error tidegate does not know) rather than its verdict on
// the request.
func broke(err error) bool {
	return err != nil && !noCredential(err) && AsError(err).Kind == ErrInternal
}

// malformedAnswer returns the scheme that answers a malformed request which
// s refused with e, and what it answers, as ambiguity does for two
// credentials: s, unless only another scheme that sees a credential of its
// kind too has an RFC 6750 challenge (one found before s, or one after
// it). Basic and Bearer in one doubled Authorization header are refused by
// both extractors; whichever came first in Any answered, so that listing
// Basic first lost the invalid_request challenge. A scheme after s whose
// extractor broke answers its own failure, as it would if it came first.
func malformedAnswer(s *Scheme, e *Error, found *Scheme, rest []*Scheme, r *http.Request) (*Scheme, *Error) {
	if s.challenge.rfc6750 {
		return s, e
	}
	if found != nil && found.challenge.rfc6750 {
		return found, e
	}
	for _, other := range rest {
		if !other.challenge.rfc6750 {
			continue
		}
		if _, err := other.extract(r); broke(err) {
			return other, AsError(err)
		} else if !noCredential(err) {
			return other, e
		}
	}
	return s, e
}

// presentAmong returns the first of schemes that sees something of its
// kind in r (a credential, a malformed one, or a failure of its
// extractor) and what its extractor returned; nil if none does.
func presentAmong(schemes []*Scheme, r *http.Request) (*Scheme, error) {
	for _, s := range schemes {
		if _, err := s.extract(r); !noCredential(err) {
			return s, err
		}
	}
	return nil, nil
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
