package middleware_test

import (
	"crypto/tls"
	"net/http"
	"net/netip"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/tidegate/tidegate/middleware"
)

func TestNewTrustedProxyRanges(t *testing.T) {
	for _, tc := range []struct {
		in      string
		trusts  []string
		refuses []string
	}{
		{"10.0.0.0/8", []string{"10.0.0.1", "10.255.255.255", "::ffff:10.1.2.3"}, []string{"11.0.0.1", "9.255.255.255"}},
		{"10.1.2.3/8", []string{"10.200.0.1"}, []string{"11.0.0.0"}}, // host bits masked off
		{"192.0.2.7", []string{"192.0.2.7", "::ffff:192.0.2.7"}, []string{"192.0.2.8", "192.0.2.6"}},
		{" 192.0.2.7 ", []string{"192.0.2.7"}, nil},
		{"2001:db8::/32", []string{"2001:db8::1", "2001:db8:ffff::1"}, []string{"2001:db9::1", "10.0.0.1"}},
		{"::1", []string{"::1"}, []string{"::2", "127.0.0.1"}},
		{"::ffff:192.0.2.7", []string{"192.0.2.7"}, []string{"192.0.2.8"}},
		{"::ffff:10.0.0.0/104", []string{"10.1.2.3", "::ffff:10.1.2.3"}, []string{"11.0.0.1"}}, // mapped range, unmapped
		{"0.0.0.0/0", []string{"1.2.3.4", "255.255.255.255"}, []string{"2001:db8::1"}},
	} {
		t.Run(tc.in, func(t *testing.T) {
			tp, err := middleware.NewTrustedProxies(tc.in)
			require.NoError(t, err)
			for _, a := range tc.trusts {
				assert.True(t, tp.Trusts(netip.MustParseAddr(a)), a)
			}
			for _, a := range tc.refuses {
				assert.False(t, tp.Trusts(netip.MustParseAddr(a)), a)
			}
			assert.False(t, tp.Trusts(netip.Addr{}))
		})
	}
	for _, bad := range []string{"", " ", "10.0.0.0/33", "::/129", "300.1.1.1", "10.0.0.0/8/8", "proxy.internal",
		"10.0.0.1:80", "[::1]", "10.0.0.0/-1", "fe80::1%eth0", "fe80::1%eth0/64", strings.Repeat("9", 1000)} {
		t.Run("invalid "+bad, func(t *testing.T) {
			tp, err := middleware.NewTrustedProxies("10.0.0.0/8", bad)
			require.Error(t, err)
			assert.Nil(t, tp)
			assert.Less(t, len(err.Error()), 200, "a bad value is quoted, bounded")
		})
	}
	t.Run("several ranges", func(t *testing.T) {
		tp, err := middleware.NewTrustedProxies("10.0.0.0/8", "192.0.2.1", "2001:db8::/48")
		require.NoError(t, err)
		for _, a := range []string{"10.9.9.9", "192.0.2.1", "2001:db8::5"} {
			assert.True(t, tp.Trusts(netip.MustParseAddr(a)), a)
		}
	})
	t.Run("no ranges trusts nobody", func(t *testing.T) {
		tp, err := middleware.NewTrustedProxies()
		require.NoError(t, err)
		assert.False(t, tp.Trusts(netip.MustParseAddr("127.0.0.1")))
	})
}

func TestProxyRemoteAddr(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"192.0.2.1:1234", "192.0.2.1"},
		{"[2001:db8::1]:443", "2001:db8::1"},
		{"[::ffff:192.0.2.1]:80", "192.0.2.1"},
		{"192.0.2.1", "192.0.2.1"},
		{"2001:db8::1", "2001:db8::1"},
		{"", ""},
		{"@", ""}, // a unix socket peer
		{"garbage:80", ""},
		{"[::1]", ""},
		{"192.0.2.1:80:80", ""},
	} {
		t.Run(tc.in, func(t *testing.T) {
			got := middleware.RemoteAddr(&http.Request{RemoteAddr: tc.in})
			if tc.want == "" {
				assert.False(t, got.IsValid(), "%v", got)
				return
			}
			assert.Equal(t, netip.MustParseAddr(tc.want), got)
		})
	}
}

// proxyRequest builds a request from remote carrying the given
// X-Forwarded-For header lines.
func proxyRequest(remote string, xff ...string) *http.Request {
	r := &http.Request{RemoteAddr: remote, Header: http.Header{}}
	for _, v := range xff {
		r.Header.Add("X-Forwarded-For", v)
	}
	return r
}

func TestTrustedProxiesClientAddr(t *testing.T) {
	tp, err := middleware.NewTrustedProxies("10.0.0.0/8", "2001:db8:ffff::/48")
	require.NoError(t, err)
	const proxy = "10.0.0.1:4000"
	for _, tc := range []struct {
		name   string
		remote string
		xff    []string
		want   string
	}{
		{"untrusted peer ignores the header", "203.0.113.5:1", []string{"198.51.100.1"}, "203.0.113.5"},
		{"untrusted peer that looks like a hop", "203.0.113.5:1", []string{"10.0.0.2"}, "203.0.113.5"},
		{"untrusted IPv6 peer", "[2001:db8:1::1]:1", []string{"198.51.100.1"}, "2001:db8:1::1"},
		{"trusted peer without header", proxy, nil, "10.0.0.1"},
		{"trusted peer", proxy, []string{"198.51.100.1"}, "198.51.100.1"},
		{"trusted mapped peer", "[::ffff:10.0.0.1]:4000", []string{"198.51.100.1"}, "198.51.100.1"},
		{"trusted IPv6 peer", "[2001:db8:ffff::1]:443", []string{"2001:db8:1::9"}, "2001:db8:1::9"},
		{"trusted hops are skipped", proxy, []string{"198.51.100.1, 10.0.0.2, 10.0.0.3"}, "198.51.100.1"},
		{"mapped hop skipped, client unmapped", proxy, []string{"::ffff:198.51.100.1, ::ffff:10.0.0.2"}, "198.51.100.1"},
		{"no spaces", proxy, []string{"198.51.100.1,10.0.0.2"}, "198.51.100.1"},
		{"spoofed leftmost entries lose", proxy, []string{"1.1.1.1, 2.2.2.2, 198.51.100.1"}, "198.51.100.1"},
		{"spoofed trusted-looking entry loses", proxy, []string{"10.9.9.9, 198.51.100.1, 10.0.0.2"}, "198.51.100.1"},
		{"spoofed first header loses", proxy, []string{"1.1.1.1", "198.51.100.1"}, "198.51.100.1"},
		{"headers are read last first", proxy, []string{"198.51.100.1", "10.0.0.2, 10.0.0.3"}, "198.51.100.1"},
		{"headers are read last first, spoofed", proxy, []string{"1.1.1.1, 198.51.100.1", "10.0.0.3"}, "198.51.100.1"},
		{"every hop trusted: the farthest", proxy, []string{"10.0.0.5, 10.0.0.6"}, "10.0.0.5"},
		{"garbage in the last place: the peer", proxy, []string{"198.51.100.1, garbage"}, "10.0.0.1"},
		{"garbage behind a trusted hop: that hop", proxy, []string{"garbage, 10.0.0.2"}, "10.0.0.2"},
		{"garbage left of the client is never read", proxy, []string{"garbage, 198.51.100.1"}, "198.51.100.1"},
		{"port in an entry: its address", proxy, []string{"198.51.100.1:5555"}, "198.51.100.1"},
		{"bracketed IPv6 and port: its address", proxy, []string{"[2001:db8:1::9]:443"}, "2001:db8:1::9"},
		{"a trusted hop with a port is skipped", proxy, []string{"198.51.100.1, 10.0.0.2:8080"}, "198.51.100.1"},
		{"bracketed IPv6 without a port: the peer", proxy, []string{"[2001:db8:1::9]"}, "10.0.0.1"},
		{"a port out of range: the peer", proxy, []string{"198.51.100.1:99999"}, "10.0.0.1"},
		{"empty entry: the peer", proxy, []string{"198.51.100.1, "}, "10.0.0.1"},
		{"empty header: the peer", proxy, []string{""}, "10.0.0.1"},
		{"obfuscated identifier: the peer", proxy, []string{"unknown"}, "10.0.0.1"},
		{"unreadable RemoteAddr", "@", []string{"198.51.100.1"}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := tp.ClientAddr(proxyRequest(tc.remote, tc.xff...))
			if tc.want == "" {
				assert.False(t, got.IsValid())
				return
			}
			assert.Equal(t, netip.MustParseAddr(tc.want), got)
		})
	}
}

// TestClientAddrReadsOnlyWhatItNeeds: the client writes everything left of
// what its proxy appends, as much as the header limit allows. Splitting the
// whole header first made 64 KiB of commas cost a slice of 64,000 strings
// (1 MiB) per request, though only the rightmost entries are ever read.
func TestClientAddrReadsOnlyWhatItNeeds(t *testing.T) {
	tp, err := middleware.NewTrustedProxies("10.0.0.0/8")
	require.NoError(t, err)
	r := proxyRequest("10.0.0.1:4000", strings.Repeat(",", 64<<10)+"198.51.100.1, 10.0.0.2")
	allocs := testing.AllocsPerRun(20, func() {
		if got := tp.ClientAddr(r); got != netip.MustParseAddr("198.51.100.1") {
			t.Fatalf("client %v", got)
		}
	})
	assert.Zero(t, allocs)
}

func TestTrustedProxiesIsHTTPS(t *testing.T) {
	tp, err := middleware.NewTrustedProxies("10.0.0.0/8")
	require.NoError(t, err)
	for _, tc := range []struct {
		name   string
		remote string
		tls    bool
		protos []string
		want   bool
	}{
		{"TLS", "203.0.113.5:1", true, nil, true},
		{"TLS whatever an untrusted peer's header says", "203.0.113.5:1", true, []string{"http"}, true},
		// A trusted proxy's word decides over TLS too: it took the request
		// in clear text and re-encrypted it to us.
		{"TLS from a trusted proxy that says http", "10.0.0.1:1", true, []string{"http"}, false},
		{"TLS from a trusted proxy: the edge in clear text", "10.0.0.1:1", true, []string{"http, https"}, false},
		{"TLS from a trusted proxy that says https", "10.0.0.1:1", true, []string{"https"}, true},
		{"TLS from a trusted proxy that says nothing", "10.0.0.1:1", true, nil, true},
		{"TLS from a trusted proxy, two headers", "10.0.0.1:1", true, []string{"https", "https"}, false},
		{"plain", "203.0.113.5:1", false, nil, false},
		{"untrusted peer's header ignored", "203.0.113.5:1", false, []string{"https"}, false},
		{"trusted https", "10.0.0.1:1", false, []string{"https"}, true},
		{"trusted HTTPS", "10.0.0.1:1", false, []string{"HTTPS"}, true},
		{"trusted padded", "10.0.0.1:1", false, []string{" https "}, true},
		{"trusted http", "10.0.0.1:1", false, []string{"http"}, false},
		{"trusted no header", "10.0.0.1:1", false, nil, false},
		{"trusted empty header", "10.0.0.1:1", false, []string{""}, false},
		{"chain: every hop over TLS", "10.0.0.1:1", false, []string{"https, https"}, true},
		{"chain: the edge in clear text", "10.0.0.1:1", false, []string{"http, https"}, false},
		{"chain: a client's value in front", "10.0.0.1:1", false, []string{"http, https, https"}, false},
		{"chain with an empty value", "10.0.0.1:1", false, []string{", https"}, false},
		{"chain ending in http", "10.0.0.1:1", false, []string{"https, http"}, false},
		{"chain with trailing comma", "10.0.0.1:1", false, []string{"https,"}, false},
		{"two headers are ambiguous", "10.0.0.1:1", false, []string{"https", "https"}, false},
		{"two headers, mixed", "10.0.0.1:1", false, []string{"http", "https"}, false},
		{"httpsx", "10.0.0.1:1", false, []string{"httpsx"}, false},
		{"wss is not https", "10.0.0.1:1", false, []string{"wss"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := &http.Request{RemoteAddr: tc.remote, Header: http.Header{}}
			if tc.tls {
				r.TLS = &tls.ConnectionState{}
			}
			for _, p := range tc.protos {
				r.Header.Add("X-Forwarded-Proto", p)
			}
			assert.Equal(t, tc.want, tp.IsHTTPS(r))
		})
	}
}

func TestNilTrustedProxyTrustsNobody(t *testing.T) {
	var tp *middleware.TrustedProxies
	r := proxyRequest("10.0.0.1:80", "198.51.100.1")
	r.Header.Set("X-Forwarded-Proto", "https")
	assert.Equal(t, netip.MustParseAddr("10.0.0.1"), tp.ClientAddr(r))
	assert.False(t, tp.IsHTTPS(r))
	assert.False(t, tp.Trusts(netip.MustParseAddr("10.0.0.1")))
	r.TLS = &tls.ConnectionState{}
	assert.True(t, tp.IsHTTPS(r))
}

// FuzzTrustedProxiesClientAddr checks ClientAddr and IsHTTPS on arbitrary
// peers and headers: no panic; an untrusted peer's result is always its
// RemoteAddr and never HTTPS without TLS; a trusted peer's result is the
// peer or an address from the header; and what a client puts in front of
// the header (a spoofed first line) cannot change an answer that came from
// an untrusted entry appended by the proxies.
func FuzzTrustedProxiesClientAddr(f *testing.F) {
	f.Add("10.0.0.1:80", "", "198.51.100.1, 10.0.0.2", "1.1.1.1", "https")
	f.Add("203.0.113.5:1", "", "198.51.100.1", "", "https")
	f.Add("[::ffff:10.0.0.1]:1", "10.9.9.9", "garbage, 10.0.0.2", "", "http, https")
	f.Add("[2001:db8:ffff::1]:443", "::ffff:198.51.100.1", "2001:db8:ffff::2", "fe80::1%eth0", "HTTPS")
	f.Add("10.0.0.1", "unknown", "", "10.0.0.3,", "")
	tp, err := middleware.NewTrustedProxies("10.0.0.0/8", "2001:db8:ffff::/48", "192.0.2.1")
	require.NoError(f, err)
	f.Fuzz(func(t *testing.T, remote, xff1, xff2, spoof, proto string) {
		var lines []string
		for _, v := range []string{xff1, xff2} {
			if v != "" {
				lines = append(lines, v)
			}
		}
		r := proxyRequest(remote, lines...)
		if proto != "" {
			r.Header.Set("X-Forwarded-Proto", proto)
		}
		peer := middleware.RemoteAddr(r)
		got := tp.ClientAddr(r)
		https := tp.IsHTTPS(r)

		var nilTP *middleware.TrustedProxies
		if nilTP.ClientAddr(r) != peer || nilTP.IsHTTPS(r) {
			t.Fatalf("nil TrustedProxies trusted someone")
		}
		if !tp.Trusts(peer) {
			if got != peer {
				t.Fatalf("untrusted peer %v: ClientAddr %v", peer, got)
			}
			if https {
				t.Fatalf("untrusted peer %v: HTTPS without TLS", peer)
			}
			return
		}
		if got != peer && !inForwardedFor(got, lines) {
			t.Fatalf("ClientAddr %v is neither the peer %v nor in %q", got, peer, lines)
		}
		if !got.IsValid() {
			t.Fatalf("trusted peer %v gave an invalid client", peer)
		}
		if !tp.Trusts(got) {
			// An untrusted client found in the chain: nothing put in front
			// of the chain may change it.
			spoofed := proxyRequest(remote, append([]string{spoof}, lines...)...)
			if again := tp.ClientAddr(spoofed); again != got {
				t.Fatalf("a spoofed first line %q changed the client from %v to %v", spoof, got, again)
			}
		}
	})
}

// inForwardedFor reports whether a appears in the X-Forwarded-For lines.
func inForwardedFor(a netip.Addr, lines []string) bool {
	for _, line := range lines {
		for _, part := range strings.Split(line, ",") {
			part = strings.TrimSpace(part)
			if b, err := netip.ParseAddr(part); err == nil && b.Unmap() == a {
				return true
			}
			if b, err := netip.ParseAddrPort(part); err == nil && b.Addr().Unmap() == a {
				return true
			}
		}
	}
	return false
}
