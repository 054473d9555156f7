package basicauth

import (
	"net"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"github.com/tidegate/tidegate/middleware"
)

// loopbackText is the oracle's loopback test, written with net.ParseIP
// rather than net/netip: 127.0.0.0/8, ::1 and their IPv4-mapped forms, in
// any spelling net.ParseIP reads. An IPv6 zone ("::1%lo") does not change
// which address it is, so a non-empty one is set aside.
func loopbackText(s string) bool {
	if i := strings.IndexByte(s, '%'); i >= 0 && strings.Contains(s[:i], ":") && i+1 < len(s) {
		s = s[:i]
	}
	ip := net.ParseIP(s)
	return ip != nil && ip.IsLoopback()
}

// peerLoopback applies loopbackText to a RemoteAddr, "host:port" or bare.
func peerLoopback(remote string) bool {
	if host, _, err := net.SplitHostPort(remote); err == nil {
		remote = host
	}
	return loopbackText(remote)
}

// fuzzProxies are the trusted-proxy configurations FuzzLoopbackAllTheWay
// picks from: none, loopback only, loopback and a private range, and a
// private range only (so a loopback peer is not trusted).
func fuzzProxies(t testing.TB) []*middleware.TrustedProxies {
	var out []*middleware.TrustedProxies
	for _, ranges := range [][]string{nil, {"127.0.0.0/8", "::1"}, {"127.0.0.1/32", "::1/128", "10.0.0.0/8"}, {"10.0.0.0/8"}} {
		if ranges == nil {
			out = append(out, nil)
			continue
		}
		tp, err := middleware.NewTrustedProxies(ranges...)
		require.NoError(t, err)
		out = append(out, tp)
	}
	return out
}

// FuzzLoopbackAllTheWay fuzzes loopbackAllTheWay, which decides, under
// WithInsecureLoopback, whether Basic credentials over plain HTTP came from
// this host, from the peer address and the X-Forwarded-For lines. Nothing
// may panic, and its answer must equal an independent oracle's, built on
// net.ParseIP: the peer must be loopback; when the peer is a trusted proxy
// (and only then are its headers believed), there must be at least one
// X-Forwarded-For line and every comma-separated entry of every line must
// be a loopback address. In particular a remote client forwarded by a
// local proxy, or named anywhere in the chain, is never local, whatever a
// client puts in front of the chain. (The headers of an untrusted loopback
// peer are not read: the peer itself is the client, see
// WithInsecureLoopback.)
func FuzzLoopbackAllTheWay(f *testing.F) {
	f.Add("127.0.0.1:40000", "127.0.0.1", "", uint8(1))
	f.Add("[::1]:40000", "::1, 127.0.0.2", "::ffff:127.0.0.1", uint8(2))
	f.Add("127.0.0.1:40000", "127.0.0.1, 10.0.0.5", "", uint8(2))
	f.Add("127.0.0.1:40000", "203.0.113.7", "", uint8(3))
	proxies := fuzzProxies(f)
	f.Fuzz(func(t *testing.T, remote, xff1, xff2 string, which uint8) {
		tp := proxies[int(which)%len(proxies)]
		r := httptest.NewRequest("GET", "/", nil)
		r.RemoteAddr = remote
		var lines []string
		for _, v := range []string{xff1, xff2} {
			if v != "" {
				r.Header.Add("X-Forwarded-For", v)
				lines = append(lines, v)
			}
		}
		got := loopbackAllTheWay(r, tp)

		want := peerLoopback(remote)
		if want && tp.Trusts(middleware.RemoteAddr(r)) {
			want = len(lines) > 0
			for _, line := range lines {
				for _, entry := range strings.Split(line, ",") {
					want = want && loopbackText(strings.TrimSpace(entry))
				}
			}
		}
		require.Equal(t, want, got, "peer %q, X-Forwarded-For %q, proxies %d", remote, lines, int(which)%len(proxies))
		if got && len(lines) > 0 && tp.Trusts(middleware.RemoteAddr(r)) {
			// Whatever the client sent in front, the entry the local
			// proxy appended is loopback.
			last := strings.Split(lines[len(lines)-1], ",")
			require.True(t, loopbackText(strings.TrimSpace(last[len(last)-1])))
		}
	})
}
