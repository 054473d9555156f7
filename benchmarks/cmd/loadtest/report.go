package main

import (
	"fmt"
	"runtime"
	"sort"
	"strings"
	"time"
)

// throughputTarget: authenticated throughput at least this share of
// /healthz's (issue 8).
const throughputTarget = 0.80

// flatTarget: in a soak, the RSS at the end at most this much above the
// first sample of the measured /whoami phase (issue 9's "memory flat").
const flatTarget = 0.10

// report is what the command prints.
type report struct {
	cfg             config
	mintTime        time.Duration
	mix             string
	before, after   memory
	mintPeak        memory // before the peak was reset
	peakReset       bool
	whoami, healthz *result
	sampled         samplerResult
}

func mib(kib int64) string { return fmt.Sprintf("%.1f MiB", float64(kib)/1024) }

func ms(d time.Duration) string {
	return fmt.Sprintf("%.3f ms", float64(d)/float64(time.Millisecond))
}

func metOrMissed(ok bool) string {
	if ok {
		return "**met**"
	}
	return "**missed**"
}

func statuses(r *result) string {
	keys := make([]int, 0, len(r.byStatus))
	for k := range r.byStatus {
		keys = append(keys, k)
	}
	sort.Ints(keys)
	var parts []string
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%d×%d", r.byStatus[k], k))
	}
	return strings.Join(parts, ", ")
}

// markdown renders the report as a section of BENCHMARKS.md.
func (r *report) markdown() string {
	var b strings.Builder
	w := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	w("## Load test: examples/server on loopback\n\n")
	w("`go run ./cmd/loadtest -duration %s -healthz-duration %s -conns %d -credentials %d` (in `benchmarks/`): the example server built from this tree, "+
		"started on 127.0.0.1 with `-insecure-basic` and a seed file of %d users, argon2id at its default cost; "+
		"the load generator on the same machine (GOMAXPROCS %d) over %d keep-alive HTTP/1.1 connections. "+
		"The `/whoami` mix (`middleware.Any` over the three kinds) is %s, shuffled and sent round robin after a %s unmeasured warm-up; "+
		"then `/whoami` and `/healthz` alternate in %s slices (so that drift in the machine's speed hits both alike) until each has had its time; "+
		"minting them through the login endpoints took %s. An error is a valid credential not answered 200, "+
		"an invalid one not answered 401, or a failed exchange. The warm-up sends the whole mix many times over, so the measured "+
		"phases are the steady state: every valid credential is a cache hit and every invalid one a remembered refusal "+
		"(a credential never seen before costs what BENCHMARKS.md's first-sight rows show).\n\n",
		r.cfg.duration, r.cfg.healthzDuration, r.cfg.conns, r.cfg.credentials, r.cfg.users, runtime.GOMAXPROCS(0), r.cfg.conns, r.mix, r.cfg.warmup, r.cfg.slice, r.mintTime.Round(time.Second))
	w("| endpoint | duration | requests | requests/s | p50 | p99 | peak RSS (largest sampled) | errors | responses |\n")
	w("|---|---:|---:|---:|---:|---:|---:|---:|---|\n")
	for _, row := range []struct {
		name, phase string
		res         *result
	}{{"GET /whoami (authenticated)", "/whoami", r.whoami}, {"GET /healthz (no auth)", "/healthz", r.healthz}} {
		w("| %s | %s | %d | %.0f | %s | %s | %s | %d | %s |\n", row.name, row.res.duration.Round(time.Millisecond),
			row.res.requests, row.res.rate(), ms(row.res.latency.quantile(0.50)), ms(row.res.latency.quantile(0.99)),
			mib(r.sampled.maxRSS[row.phase]), row.res.errors, statuses(row.res))
	}
	ratio := r.whoami.rate() / r.healthz.rate()
	w("\nAuthenticated throughput is **%.1f%%** of `/healthz`'s (target ≥ %.0f%%: %s).\n\n",
		100*ratio, 100*throughputTarget, metOrMissed(ratio >= throughputTarget))
	w("Server memory, from `/proc/<pid>/status`, and its goroutines, from net/http/pprof on the server's `-debug-addr` (loopback). ")
	w("The logins' argon2id hashing (19 MiB per hash) peaked at %s before the load; ", mib(r.mintPeak.peakKiB))
	if r.peakReset {
		w("VmHWM was reset after the warm-up (`/proc/<pid>/clear_refs`), so its peak below covers the measured phases, " +
			"but starts from the RSS the runtime still held then. The largest RSS sampled each second is the closer figure.\n\n")
	} else {
		w("VmHWM could not be reset, so its peak includes the logins; the largest RSS sampled each second is the figure to read.\n\n")
	}
	w("| phase | RSS at its end | VmHWM at its end | largest RSS sampled during it | OS threads at its end | goroutines at its end |\n|---|---:|---:|---:|---:|---:|\n")
	for _, row := range []struct {
		name, phase string
		m           memory
	}{{"minting and warm-up (memory read at the end of the warm-up)", "warm-up", r.before}, {"measured load (both endpoints)", "load", r.after}} {
		largest := r.sampled.maxRSS[row.phase]
		if row.phase == "load" { // its slices were sampled per endpoint
			largest = max(largest, r.sampled.maxRSS["/whoami"], r.sampled.maxRSS["/healthz"])
		}
		w("| %s | %s | %s | %s | %d | %d |\n", row.name, mib(row.m.rssKiB), mib(row.m.peakKiB), mib(largest), row.m.threads, row.m.goroutines)
	}
	if r.cfg.duration >= time.Minute {
		r.soak(w)
	}
	w("\n")
	return b.String()
}

// soak adds the RSS samples of the /whoami phase and whether memory stayed
// flat.
func (r *report) soak(w func(string, ...any)) {
	var phase []sample
	for _, s := range r.sampled.samples {
		if s.phase == "load" {
			phase = append(phase, s)
		}
	}
	if len(phase) < 2 {
		return
	}
	first, last := phase[0], phase[len(phase)-1]
	lo, hi := first.rssKiB, first.rssKiB
	for _, s := range phase {
		lo, hi = min(lo, s.rssKiB), max(hi, s.rssKiB)
	}
	growth := float64(last.rssKiB-first.rssKiB) / float64(first.rssKiB)
	w("\nSoak: RSS recorded every %s during the measured load (%s of `/whoami`, %d samples): first %s, last %s, min %s, max %s; "+
		"growth first→last **%+.1f%%** (flat within %.0f%%: %s).\n\n",
		r.cfg.sampleEvery, r.cfg.duration, len(phase), mib(first.rssKiB), mib(last.rssKiB), mib(lo), mib(hi),
		100*growth, 100*flatTarget, metOrMissed(growth <= flatTarget))
	// The phase's first sample is taken as it starts, before the load's
	// connections are all accepted; growth counts from the next one.
	settled := phase[min(1, len(phase)-1)]
	w("Goroutines: %d at the start, %d once the load's %d connections were open (one goroutine each), %d at the end, "+
		"at most %d (no growth: %s).\n\n",
		first.goroutines, settled.goroutines, r.cfg.conns, last.goroutines, maxGoroutines(phase),
		metOrMissed(last.goroutines <= settled.goroutines+2))
	w("| t | RSS | OS threads | goroutines |\n|---:|---:|---:|---:|\n")
	for _, s := range phase {
		w("| %s | %s | %d | %d |\n", s.at.Sub(first.at).Round(time.Second), mib(s.rssKiB), s.threads, s.goroutines)
	}
}

// maxGoroutines is the largest goroutine count among samples.
func maxGoroutines(samples []sample) int64 {
	var n int64
	for _, s := range samples {
		n = max(n, s.goroutines)
	}
	return n
}
