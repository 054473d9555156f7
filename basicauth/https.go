package basicauth

import (
	"net/http"
	"net/netip"
	"strings"

	"github.com/tidegate/tidegate/internal/nilness"
	"github.com/tidegate/tidegate/middleware"
)

// transport decides whether a request may carry these credentials.
type transport struct {
	proxies          *middleware.TrustedProxies // nil trusts nobody
	insecureLoopback bool
	hsts             []string // the Strict-Transport-Security header value
}

// secure reports whether r reached us over HTTPS: over TLS, or through a
// trusted proxy that says so with X-Forwarded-Proto: https (from anyone
// else the header is ignored).
func (t *transport) secure(r *http.Request) bool { return t.proxies.IsHTTPS(r) }

// allowed reports whether r may carry credentials: over HTTPS, or, with the
// development option, over plain HTTP from loopback all the way (see
// loopbackAllTheWay).
func (t *transport) allowed(r *http.Request) bool {
	if t.secure(r) {
		return true
	}
	return t.insecureLoopback && loopbackAllTheWay(r, t.proxies)
}

// loopbackAllTheWay reports whether r never left this host: its peer is a
// loopback address and, when that peer is a trusted proxy, it names the
// hops before it in X-Forwarded-For, each of them loopback too. A proxy on
// loopback forwarding a remote client does not make the request local; nor
// does one that forwards for a proxy on another host naming 127.0.0.1 (its
// own loopback), one whose X-Forwarded-For cannot be read ("unknown"), or
// one that names no client at all. (TrustedProxies.ClientAddr falls back
// to the peer in those last cases, which suits the login throttle but would
// call them local here.) An entry with a port, which ClientAddr reads, is
// not read here: plain HTTP is then refused, which fails safe.
func loopbackAllTheWay(r *http.Request, proxies *middleware.TrustedProxies) bool {
	peer := middleware.RemoteAddr(r)
	if !peer.IsLoopback() {
		return false
	}
	if !proxies.Trusts(peer) {
		return true
	}
	hops := r.Header.Values("X-Forwarded-For")
	if len(hops) == 0 {
		return false
	}
	for _, h := range hops {
		for _, part := range strings.Split(h, ",") {
			a, err := netip.ParseAddr(strings.TrimSpace(part))
			if err != nil || !a.Unmap().IsLoopback() {
				return false
			}
		}
	}
	return true
}

// setHSTS adds Strict-Transport-Security to the response of an HTTPS
// request (RFC 6797 §7.1), never to one over plain HTTP (§7.2).
//
// The header map gets the shared, pre-built value slice so that the hot
// path allocates nothing here. Its length equals its capacity, so a later
// Header().Add appends to a copy and never writes into the shared array.
func (t *transport) setHSTS(w http.ResponseWriter, r *http.Request) {
	if t.secure(r) {
		w.Header()["Strict-Transport-Security"] = t.hsts
	}
}

// httpsExtractor refuses Basic credentials over plain HTTP. It wraps the
// scheme's extractor, so the refusal happens before the cache and the
// Verifier: a token sent in clear text is never looked up (and so never
// confirmed to an eavesdropper as valid).
type httpsExtractor struct {
	inner     middleware.Extractor
	peeker    middleware.Peeker // inner's, for the cache-first path
	transport *transport
}

// Peek implements middleware.Peeker: what the inner extractor sees, except
// that Basic credentials over plain HTTP are left to Extract, which refuses
// them (so a cached credential sent in clear text is refused too). A
// doubled Authorization header is never found by the inner Peek.
func (x *httpsExtractor) Peek(r *http.Request) middleware.Peek {
	p := x.peeker.Peek(r)
	if p.Found() && !x.transport.allowed(r) {
		return middleware.Peek{}
	}
	return p
}

// Extract implements middleware.Extractor. A request without Basic
// credentials passes through as ErrNoCredential, so other schemes combined
// with middleware.Any are unaffected; one with Basic credentials over plain
// HTTP, well-formed or not, is 403, unless Authorization also carries
// another value, which is 400 whatever the transport (issue 2).
//
// Authorization is a singleton field (RFC 9110 §11.6.2): Basic credentials
// in two Authorization headers are 400 even when the two are identical,
// which the core's extractor would count as one. A client or proxy that
// doubles the header is broken, and the two copies may not have been read
// alike by everything in front of this server.
func (x *httpsExtractor) Extract(r *http.Request) (middleware.Credential, error) {
	c, err := x.inner.Extract(r)
	if err == middleware.ErrNoCredential {
		return c, err
	}
	if err != nil && len(r.Header["Authorization"]) > 1 {
		// Doubled with different values: issue 2's 400, which every scheme
		// reading Authorization answers alike, so that middleware.Any's
		// answer does not depend on the order of its schemes. Nothing is
		// looked up either way.
		return c, err
	}
	if err == nil && len(r.Header["Authorization"]) > 1 {
		c, err = middleware.Credential{}, middleware.Malformed("duplicate")
	}
	if (err == nil || carriesBasic(r.Header)) && !x.transport.allowed(r) {
		return middleware.Credential{}, middleware.Forbidden(reasonHTTPSRequired, "")
	}
	return c, err
}

// carriesBasic reports whether any Authorization value is of the Basic
// scheme, well or badly spaced (middleware.NamesScheme, the core's rule),
// so that a malformed header of another scheme (say, an empty one) stays a
// 400 over plain HTTP. Whitespace before the word (HTTP/2 keeps it) does
// not hide it.
func carriesBasic(h http.Header) bool {
	for _, v := range h["Authorization"] {
		if middleware.NamesScheme(strings.TrimLeft(v, " \t"), "Basic") {
			return true
		}
	}
	return false
}

// HSTS wraps next so that every response to an HTTPS request carries
// Strict-Transport-Security. RequireApp, RequireUser and Handler include
// it; wrap with it yourself when you use Scheme or AppScheme with
// middleware.Any.
//
// On a nil or zero Service (not made by New) it answers every request 500
// and never calls next: such a Service knows no HSTS policy, and serving
// without the header would quietly drop it. HSTS panics if next is nil, as
// http.Handle does: a wiring mistake, found at start-up.
func (s *Service) HSTS(next http.Handler) http.Handler {
	if nilness.Is(next) {
		panic("tidegate: basicauth HSTS given a nil http.Handler")
	}
	if !s.built() {
		return notBuiltHandler
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.transport.setHSTS(w, r)
		next.ServeHTTP(w, r)
	})
}

// notBuiltHandler answers every request 500 (CodeInternal): it is what HSTS
// and Handler serve on a Service New did not make.
var notBuiltHandler = http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
	writeError(w, http.StatusInternalServerError, CodeInternal)
})
