package middleware

import (
	"net/http"
	"net/textproto"
	"strings"
)

// IdentityHeaders names the request headers a Scheme sets for downstream
// handlers after a successful authentication. Empty names are not set.
// Whatever the client sent under these names, in any spelling, is removed
// from every request that passes through the middleware.
type IdentityHeaders struct {
	Subject string // the principal's Subject
	Kind    string // the credential kind
	Actor   string // user, server or backend
	App     string // the app, where one applies
	Roles   string // roles, comma-separated
}

func (h IdentityHeaders) names() []string {
	var out []string
	for _, n := range []string{h.Subject, h.Kind, h.Actor, h.App, h.Roles} {
		if n != "" {
			out = append(out, n)
		}
	}
	return out
}

func (h IdentityHeaders) canonical() IdentityHeaders {
	c := func(s string) string {
		if s == "" {
			return ""
		}
		return textproto.CanonicalMIMEHeaderKey(s)
	}
	return IdentityHeaders{c(h.Subject), c(h.Kind), c(h.Actor), c(h.App), c(h.Roles)}
}

func (h IdentityHeaders) any() bool { return h != IdentityHeaders{} }

// stripIdentity returns a copy of r whose header map is its own, with every
// identity header removed. Header names are matched case-insensitively, so a
// name in a spelling net/http did not canonicalise (or one set directly on
// the map) is removed too, and with '_' read as '-': CGI and FastCGI
// (net/http/cgi included) and several proxies turn both "X-Auth-Subject" and
// "X_Auth_Subject" into HTTP_X_AUTH_SUBJECT, so the underscore spelling would
// forge the header downstream. The caller's request is not changed.
func stripIdentity(r *http.Request, names []string) *http.Request {
	h := make(http.Header, len(r.Header)+len(names))
	for k, v := range r.Header {
		if !matchesAny(k, names) {
			h[k] = v
		}
	}
	r2 := *r
	r2.Header = h
	return &r2
}

func matchesAny(key string, names []string) bool {
	for _, n := range names {
		if sameHeaderName(key, n) {
			return true
		}
	}
	return false
}

// sameHeaderName reports whether a and b name the same header once ASCII
// case is folded and '_' is read as '-'.
func sameHeaderName(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		if foldHeaderByte(a[i]) != foldHeaderByte(b[i]) {
			return false
		}
	}
	return true
}

func foldHeaderByte(c byte) byte {
	switch {
	case c == '_':
		return '-'
	case 'A' <= c && c <= 'Z':
		return c + ('a' - 'A')
	}
	return c
}

// set writes p into the headers named by h. h is canonical and hdr belongs
// to the request copy stripIdentity made.
func (h IdentityHeaders) set(hdr http.Header, p *Principal) {
	put := func(name, value string) {
		if name != "" && value != "" {
			hdr[name] = []string{value}
		}
	}
	put(h.Subject, p.Subject)
	put(h.Kind, string(p.Kind))
	put(h.Actor, string(p.ActingAs()))
	put(h.App, p.App)
	put(h.Roles, strings.Join(p.Roles, ","))
}

// carriesCredentials reports whether the header named folded (see
// foldHeaderName) carries credentials of some scheme, and so must never be
// an identity header.
func carriesCredentials(folded string) bool {
	switch folded {
	case "authorization", "proxy-authorization", "cookie":
		return true
	default:
		return false
	}
}

// extractorReads reports whether the scheme's extractor reads its
// credential from a header that stripIdentity would take name for (a
// NewHeaderExtractor's).
func (s *Scheme) extractorReads(name string) bool {
	x, ok := s.extractor.(*headerExtractor)
	return ok && sameHeaderName(x.name, name)
}

// foldHeaderName returns name as sameHeaderName compares it: lower case,
// '_' as '-'.
func foldHeaderName(name string) string {
	b := []byte(name)
	for i, c := range b {
		b[i] = foldHeaderByte(c)
	}
	return string(b)
}
