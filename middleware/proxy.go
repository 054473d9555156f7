package middleware

import (
	"errors"
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// TrustedProxies says which peers may speak for the client: only a request
// whose direct peer (RemoteAddr) lies in one of these ranges has its
// X-Forwarded-For and X-Forwarded-Proto headers believed. A nil
// *TrustedProxies trusts nobody: the client is RemoteAddr and HTTPS means TLS.
type TrustedProxies struct {
	prefixes []netip.Prefix
}

// NewTrustedProxies parses CIDR ranges ("10.0.0.0/8") or single addresses.
func NewTrustedProxies(ranges ...string) (*TrustedProxies, error) {
	t := &TrustedProxies{}
	for _, r := range ranges {
		r = strings.TrimSpace(r)
		if p, err := netip.ParsePrefix(r); err == nil {
			// Trusts unmaps the addresses it checks, so an IPv4-mapped
			// range ("::ffff:10.0.0.0/104") must be unmapped too, as single
			// addresses are below, or it would never match anything.
			if p.Addr().Is4In6() && p.Bits() >= 96 {
				p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
			}
			t.prefixes = append(t.prefixes, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(r)
		// A zone ("fe80::1%eth0", which also swallows "fe80::1%eth0/64")
		// would be dropped here, and Trusts never matches a zoned peer:
		// refuse it rather than trust something other than what was meant.
		if err != nil || a.Zone() != "" {
			return nil, errors.New("tidegate: invalid trusted proxy range " + quoteForError(r))
		}
		t.prefixes = append(t.prefixes, netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()))
	}
	return t, nil
}

// Trusts reports whether addr lies in a trusted range.
func (t *TrustedProxies) Trusts(addr netip.Addr) bool {
	if t == nil || !addr.IsValid() {
		return false
	}
	addr = addr.Unmap()
	for _, p := range t.prefixes {
		if p.Contains(addr) {
			return true
		}
	}
	return false
}

// RemoteAddr parses r.RemoteAddr ("host:port" or a bare address); the zero
// Addr when it cannot.
func RemoteAddr(r *http.Request) netip.Addr {
	host := r.RemoteAddr
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	a, err := netip.ParseAddr(host)
	if err != nil {
		return netip.Addr{}
	}
	return a.Unmap()
}

// ClientAddr returns the address of the client: RemoteAddr, unless the peer
// is a trusted proxy, in which case X-Forwarded-For is read from the right,
// skipping trusted hops, and the first untrusted address is the client. A
// client cannot forge its address by sending X-Forwarded-For itself: only
// the entries appended by trusted proxies are believed.
func (t *TrustedProxies) ClientAddr(r *http.Request) netip.Addr {
	peer := RemoteAddr(r)
	if !t.Trusts(peer) {
		return peer
	}
	hops := r.Header.Values("X-Forwarded-For")
	for i := len(hops) - 1; i >= 0; i-- {
		// Entries are read from the right, without splitting the value:
		// the client wrote everything left of its proxy's entry, up to
		// the header limit, and nothing left of the first untrusted
		// entry is ever used.
		for rest, more := hops[i], true; more; {
			var entry string
			if j := strings.LastIndexByte(rest, ','); j >= 0 {
				rest, entry = rest[:j], rest[j+1:]
			} else {
				entry, more = rest, false
			}
			a, err := hopAddr(entry)
			if err != nil {
				return peer // unreadable chain: fall back to what we know
			}
			a = a.Unmap()
			if !t.Trusts(a) {
				return a
			}
			peer = a
		}
	}
	return peer
}

// hopAddr reads one X-Forwarded-For entry: an address, or an address and
// a port ("203.0.113.7:51234", "[2001:db8::7]:443"), as some proxies
// append them. Refusing the port made every client behind such a proxy
// the proxy itself, one throttling counter for all of them, which any one
// client could use up.
func hopAddr(entry string) (netip.Addr, error) {
	entry = strings.TrimSpace(entry)
	if a, err := netip.ParseAddr(entry); err == nil {
		return a, nil
	}
	ap, err := netip.ParseAddrPort(entry)
	return ap.Addr(), err
}

// IsHTTPS reports whether r reached the server over TLS, or came from a
// trusted proxy that says (X-Forwarded-Proto: https) it did. The header from
// anyone else is ignored. A trusted proxy's word decides over TLS too: one
// that took the request in clear text and re-encrypts it to this server
// says "http", and the credentials crossed the network in clear.
//
// Proxies in a chain append their value: "http, https" says the request
// reached the edge in clear text and then travelled on over TLS. Every
// value must be https, so that no hop a trusted proxy reports as plain HTTP
// is taken for a secure one; a client can only add values in front, which
// can make the answer false, never true.
func (t *TrustedProxies) IsHTTPS(r *http.Request) bool {
	// The cheap checks first: this runs on every request behind
	// basicauth's HSTS wrapper, and parsing RemoteAddr is the dear one.
	if t == nil || len(t.prefixes) == 0 {
		return r.TLS != nil
	}
	protos := r.Header.Values("X-Forwarded-Proto")
	if len(protos) == 0 || !t.Trusts(RemoteAddr(r)) {
		return r.TLS != nil
	}
	if len(protos) != 1 {
		return false
	}
	for value := range strings.SplitSeq(protos[0], ",") {
		if !strings.EqualFold(strings.TrimSpace(value), "https") {
			return false
		}
	}
	return true
}
