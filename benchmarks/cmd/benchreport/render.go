package main

import (
	"fmt"
	"sort"
	"strings"
	"time"
)

// Targets of issue 8, as ratios in the same run.
const (
	cachedMaxRatio       = 1.25 // cached path ns/op ÷ floor ns/op
	cachedMaxExtraAllocs = 1    // cached path allocs/op − floor allocs/op
	cachedMinSpeedup     = 10   // fastest peer JWT ns/op ÷ cached bearer ns/op
	firstSightMaxRatio   = 1.0  // first-sight bearer ÷ fastest peer JWT
	invalidMaxRatio      = 1.0  // invalid ÷ valid first sight, same kind
	anyMaxRatio          = 1.1  // Any ÷ the single kind it resolves to
)

var modes = []string{"serial", "parallel"}

// jwtPeers are the peers' valid-token benchmarks, with a label.
var jwtPeers = []struct{ name, label string }{
	{"PeerAuth0", "auth0/go-jwt-middleware v2"},
	{"PeerJWTAuth", "go-chi/jwtauth v5"},
	{"PeerEchoJWT", "labstack/echo-jwt v4 (echo)"},
	{"PeerGinJWT", "appleboy/gin-jwt v2 (gin)"},
}

// order is the order of the results table; names not listed follow.
var order = []string{
	"Baseline", "Floor",
	"SessionCached", "SessionUncached", "SessionInvalid",
	"BearerHS256Cached", "BearerHS256FirstSight", "BearerHS256InvalidSignature", "BearerHS256InvalidRepeated",
	"BearerEdDSACached", "BearerEdDSAFirstSight", "BearerEdDSAInvalidSignature",
	"BasicCached", "BasicCachedSchemeOnly", "BasicFirstSight", "BasicUnknownApp",
	"AnySession", "AnyBearer", "AnyBasic",
	"PeerAuth0Valid", "PeerAuth0Invalid", "PeerJWTAuthValid", "PeerJWTAuthInvalid",
	"PeerEchoJWTValid", "PeerEchoJWTInvalid", "PeerGinJWTValid", "PeerGinJWTInvalid",
	"PeerEchoBasicValid", "PeerEchoBasicInvalid", "PeerEchoBaseline", "PeerGinBaseline",
}

func (r results) get(name, mode string) (stats, bool) {
	s, ok := r[name+"/"+mode]
	return s, ok && s.ns > 0
}

// check is one target in one mode.
type check struct {
	group, what, mode, value string
	met                      bool
}

// fastestPeer returns the fastest valid-token JWT peer in mode.
func (r results) fastestPeer(mode string) (label string, s stats, ok bool) {
	for _, p := range jwtPeers {
		if v, found := r.get(p.name+"Valid", mode); found && (!ok || v.ns < s.ns) {
			label, s, ok = p.label, v, true
		}
	}
	return label, s, ok
}

// checks evaluates every target that the results allow.
func (r results) checks() []check {
	var out []check
	for _, mode := range modes {
		floor, haveFloor := r.get("Floor", mode)
		for _, name := range []string{"SessionCached", "BearerHS256Cached", "BearerEdDSACached", "BasicCached", "BasicCachedSchemeOnly"} {
			s, ok := r.get(name, mode)
			if !ok || !haveFloor {
				continue
			}
			ratio, extra := s.ns/floor.ns, s.allocs-floor.allocs
			out = append(out, check{"cached ≤ 1.25× floor, ≤ +1 alloc", name, mode,
				fmt.Sprintf("%.2f×, %+.0f allocs", ratio, extra), ratio <= cachedMaxRatio && extra <= cachedMaxExtraAllocs})
		}
		label, peer, havePeer := r.fastestPeer(mode)
		// The peers verify HS256 tokens, so tidegate's HS256 paths are the
		// ones compared with them, cached and first sight alike: comparing
		// EdDSA (an asymmetric signature, 50 µs to verify) only where it
		// wins would be choosing the checks by their outcome.
		for _, name := range []string{"BearerHS256Cached"} {
			if s, ok := r.get(name, mode); ok && havePeer {
				speedup := peer.ns / s.ns
				out = append(out, check{"cached bearer ≥ 10× faster than the fastest peer", name + " vs " + label, mode,
					fmt.Sprintf("%.1f× faster", speedup), speedup >= cachedMinSpeedup})
			}
		}
		if s, ok := r.get("BearerHS256FirstSight", mode); ok && havePeer {
			ratio := s.ns / peer.ns
			out = append(out, check{"first-sight bearer no slower than the fastest peer", "BearerHS256FirstSight vs " + label, mode,
				fmt.Sprintf("%.2f×", ratio), ratio <= firstSightMaxRatio})
		}
		for _, pair := range [][2]string{
			{"SessionInvalid", "SessionUncached"},
			{"BearerHS256InvalidSignature", "BearerHS256FirstSight"},
			{"BearerEdDSAInvalidSignature", "BearerEdDSAFirstSight"},
			{"BasicUnknownApp", "BasicFirstSight"},
		} {
			bad, ok1 := r.get(pair[0], mode)
			good, ok2 := r.get(pair[1], mode)
			if ok1 && ok2 {
				ratio := bad.ns / good.ns
				out = append(out, check{"invalid no slower than a valid first sight", pair[0] + " ÷ " + pair[1], mode,
					fmt.Sprintf("%.2f×", ratio), ratio <= invalidMaxRatio})
			}
		}
		for _, pair := range [][2]string{
			{"AnySession", "SessionCached"}, {"AnyBearer", "BearerHS256Cached"}, {"AnyBasic", "BasicCached"},
		} {
			a, ok1 := r.get(pair[0], mode)
			single, ok2 := r.get(pair[1], mode)
			if ok1 && ok2 {
				ratio := a.ns / single.ns
				out = append(out, check{"Any ≤ 1.1× the single kind", pair[0] + " ÷ " + pair[1], mode,
					fmt.Sprintf("%.2f×", ratio), ratio <= anyMaxRatio})
			}
		}
	}
	return out
}

func fmtNs(ns float64) string {
	switch {
	case ns >= 10000:
		return fmt.Sprintf("%.1f µs", ns/1000)
	case ns >= 1000:
		return fmt.Sprintf("%.2f µs", ns/1000)
	default:
		return fmt.Sprintf("%.0f ns", ns)
	}
}

func mark(ok bool) string {
	if ok {
		return "met"
	}
	return "**missed**"
}

// render writes the whole document.
func render(o options, r results, table, load string, m machineInfo, now time.Time) string {
	var b strings.Builder
	w := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	w("# Benchmarks\n\n")
	w("Generated by `scripts/bench.sh` on %s. Re-run it to refresh every figure on this page.\n\n", now.Format("2006-01-02 15:04 MST"))
	w("**Machine:** %d CPUs (%s), %s memory, Linux %s, %s/%s, %s.\n\n", m.cpus, m.model, m.memory, m.kernel, m.goos, m.goarch, m.goVersion)
	if o.command != "" {
		w("**Command:** `%s` in `benchmarks/` (a module of its own, so that the peers never enter tidegate's dependencies).\n\n", o.command)
	}
	w("Every benchmark serves pre-built requests through the middleware's (or the framework's) `ServeHTTP` into a fresh " +
		"`httptest.ResponseRecorder` per iteration, ending in a handler that answers 200 with no body, serially (`/serial`) " +
		"and with `b.RunParallel` (`/parallel`). `Baseline` is that handler alone; `Floor` is a middleware that only attaches " +
		"a constant principal with `context.WithValue`, the least any auth middleware can cost. *Cached* paths send 64 " +
		"distinct credentials verified before; *first sight* (`Uncached`, `FirstSight`) sends a credential never verified " +
		"before on every request; invalid credentials are well-formed but unknown (session, app token) or carry a forged " +
		"signature (bearer). The peers verify the very HS256 tokens tidegate issues, each configured as its documentation " +
		"recommends (iss/aud checked where the peer can); none of them caches. Each benchmark runs in a test process of " +
		"its own, so that none inherits the heap another grew (a first-sight benchmark keeps every credential it mints). " +
		"Figures are medians of the runs.\n\n")

	w("## Targets\n\n")
	checks := r.checks()
	met := 0
	for _, c := range checks {
		if c.met {
			met++
		}
	}
	w("%d of %d checks met.\n\n", met, len(checks))
	w("| target | benchmarks | mode | measured | |\n|---|---|---|---:|---|\n")
	for _, c := range checks {
		w("| %s | %s | %s | %s | %s |\n", c.group, c.what, c.mode, c.value, mark(c.met))
	}
	w("\n## What the numbers mean\n\n%s\n\n", meaning(r, checks, load))

	w("## Results (medians)\n\n")
	w("| benchmark | serial ns/op | B/op | allocs/op | ÷ floor | parallel ns/op | B/op | allocs/op | ÷ floor |\n")
	w("|---|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, name := range names(r) {
		w("| %s |", name)
		for _, mode := range modes {
			s, ok := r.get(name, mode)
			floor, okFloor := r.get("Floor", mode)
			if !ok {
				w(" – | – | – | – |")
				continue
			}
			ratio := "–"
			if okFloor {
				ratio = fmt.Sprintf("%.2f×", s.ns/floor.ns)
			}
			w(" %s | %.0f | %.0f | %s |", fmtNs(s.ns), s.bytes, s.allocs, ratio)
		}
		w("\n")
	}
	if table != "" {
		w("\n<details><summary>benchstat</summary>\n\n```\n%s\n```\n\n</details>\n", strings.TrimRight(table, "\n"))
	}
	if load != "" {
		w("\n%s", load)
	}
	return b.String()
}

// names returns the benchmark names (without mode) in table order.
func names(r results) []string {
	seen := map[string]bool{}
	var out []string
	for _, n := range order {
		if _, ok := r[n+"/serial"]; ok {
			out, seen[n] = append(out, n), true
		}
	}
	var rest []string
	for key := range r {
		n, _, _ := strings.Cut(key, "/")
		if !seen[n] {
			rest, seen[n] = append(rest, n), true
		}
	}
	sort.Strings(rest)
	return append(out, rest...)
}

// meaning is the paragraph that reads the figures, written from them.
func meaning(r results, checks []check, load string) string {
	const mode = "serial"
	floor, okF := r.get("Floor", mode)
	base, okB := r.get("Baseline", mode)
	sess, ok1 := r.get("SessionCached", mode)
	hs, ok2 := r.get("BearerHS256Cached", mode)
	basic, ok3 := r.get("BasicCached", mode)
	first, ok4 := r.get("BearerHS256FirstSight", mode)
	label, peer, ok5 := r.fastestPeer(mode)
	if !(okF && okB && ok1 && ok2 && ok3 && ok4 && ok5) {
		return "Some benchmarks are missing from this run, so no reading of the figures is given."
	}
	var p []string
	p = append(p, fmt.Sprintf("Serially on this machine, a request that only passes through a bare handler costs %s and the floor "+
		"(one context value, one request copy) %s; a cache hit costs tidegate %s for a session token, %s for a bearer JWT and %s "+
		"for Basic app credentials (%.2f×, %.2f× and %.2f× the floor).",
		fmtNs(base.ns), fmtNs(floor.ns), fmtNs(sess.ns), fmtNs(hs.ns), fmtNs(basic.ns), sess.ns/floor.ns, hs.ns/floor.ns, basic.ns/floor.ns))
	if only, ok := r.get("BasicCachedSchemeOnly", mode); ok {
		p = append(p, fmt.Sprintf("The Basic figure is basicauth's RequireUser, which also sets Strict-Transport-Security on every "+
			"HTTPS response (issue 5): the header map entry and the recorder's snapshot of it cost %+.0f allocations; the "+
			"authentication alone (middleware.Require over the same scheme, BasicCachedSchemeOnly) costs %s, %.2f× the floor.",
			basic.allocs-only.allocs, fmtNs(only.ns), only.ns/floor.ns))
	}
	p = append(p, fmt.Sprintf("None of the peers caches, so each pays a full JWT verification on every request: the fastest, %s, "+
		"takes %s, which makes a cached tidegate bearer token %.0f× faster, while a token tidegate has never seen (signature, claims, "+
		"revocation check and cache insert) takes %s, %.2f× the fastest peer.",
		label, fmtNs(peer.ns), peer.ns/hs.ns, fmtNs(first.ns), first.ns/peer.ns))
	if bad, ok := r.get("BearerHS256InvalidSignature", mode); ok {
		p = append(p, fmt.Sprintf("A forged HS256 token never seen before is rejected in %s (%.2f× a valid first sight): "+
			"that is the price of each new forgery an attacker can send.", fmtNs(bad.ns), bad.ns/first.ns))
		if again, ok := r.get("BearerHS256InvalidRepeated", mode); ok {
			p = append(p, fmt.Sprintf("The cache remembers a refusal for a few seconds, within its own bound, so the same "+
				"forgery sent again is rejected in %s (%.2f× the floor).", fmtNs(again.ns), again.ns/floor.ns))
		}
	}
	var missed []string
	for _, c := range checks {
		if !c.met {
			missed = append(missed, c.what+" ("+c.mode+", "+c.value+")")
		}
	}
	if len(missed) == 0 {
		p = append(p, "Every target of issue 8 holds in this run.")
	} else {
		p = append(p, fmt.Sprintf("%d of %d checks miss their target in this run: %s.", len(missed), len(checks), strings.Join(missed, "; ")))
	}
	p = append(p, "Ratios within a few percent of a threshold are within this machine's run-to-run noise; "+
		"the benchstat table below gives each figure's spread.")
	if load != "" {
		p = append(p, "The load test below measures the whole example server over loopback, where the HTTP stack, "+
			"not the middleware, dominates.")
	}
	return strings.Join(p, " ")
}
