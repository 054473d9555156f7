// Command loadtest is the loopback load test of examples/server (issue 8,
// and the soak test of issue 9). It builds the example server, starts it on
// a free 127.0.0.1 port with a seed file of its own, mints distinct valid
// credentials of every kind through the server's own login endpoints, then
// drives GET /whoami (valid credentials of all three kinds, with invalid
// ones mixed in) and afterwards GET /healthz, each with the same number of
// keep-alive connections for the same time, and prints a markdown report:
// requests per second, p50/p99 latency, errors, and the server's memory.
//
//	go run ./cmd/loadtest                      # 30 s per phase, report on stdout
//	go run ./cmd/loadtest -duration 10m -healthz-duration 30s -out soak.md
//
// It only ever connects to the server it started, on 127.0.0.1, and every
// phase is bounded in time and in requests.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"
)

// config is the command line.
type config struct {
	repo            string
	duration        time.Duration
	healthzDuration time.Duration
	warmup          time.Duration
	conns           int
	credentials     int
	invalidShare    float64
	users           int
	mintWorkers     int
	maxRequests     int64
	sampleEvery     time.Duration
	slice           time.Duration
	out             string
}

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "loadtest:", err)
		os.Exit(1)
	}
}

func parseFlags(args []string) (config, error) {
	var c config
	fs := flag.NewFlagSet("loadtest", flag.ContinueOnError)
	fs.StringVar(&c.repo, "repo", "", "the tidegate repository (default: found upward from the working directory)")
	fs.DurationVar(&c.duration, "duration", 30*time.Second, "how long to drive GET /whoami")
	fs.DurationVar(&c.healthzDuration, "healthz-duration", 0, "how long to drive GET /healthz (default: -duration)")
	fs.DurationVar(&c.warmup, "warmup", 3*time.Second, "unmeasured /whoami traffic before the measured phase")
	fs.IntVar(&c.conns, "conns", 16, "concurrent keep-alive connections")
	fs.IntVar(&c.credentials, "credentials", 1000, "distinct valid credentials per kind")
	fs.Float64Var(&c.invalidShare, "invalid", 0.10, "share of invalid credentials in the /whoami mix")
	fs.IntVar(&c.users, "users", 50, "users in the seed file (credentials are spread over them)")
	fs.IntVar(&c.mintWorkers, "mint-workers", 0, "concurrent logins while minting (default: the number of CPUs)")
	fs.Int64Var(&c.maxRequests, "max-requests", 100_000_000, "stop a phase after this many requests, whatever its duration")
	fs.DurationVar(&c.sampleEvery, "sample", 10*time.Second, "how often to record the server's RSS (it is read every second)")
	fs.DurationVar(&c.slice, "slice", 5*time.Second, "/whoami and /healthz alternate in slices this long")
	fs.StringVar(&c.out, "out", "", "write the markdown report to this file (default: stdout)")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if c.healthzDuration == 0 {
		c.healthzDuration = c.duration
	}
	switch {
	case c.duration <= 0 || c.healthzDuration <= 0 || c.warmup < 0:
		return c, errors.New("durations must be positive")
	case c.duration > 2*time.Hour || c.healthzDuration > 2*time.Hour:
		return c, errors.New("a phase is limited to 2h")
	case c.conns < 1 || c.conns > 1024:
		return c, errors.New("-conns must be 1..1024")
	case c.credentials < 1 || c.credentials > 100_000:
		return c, errors.New("-credentials must be 1..100000")
	case c.invalidShare < 0 || c.invalidShare >= 1:
		return c, errors.New("-invalid must be in [0, 1)")
	case c.users < 1 || c.users > 10_000:
		return c, errors.New("-users must be 1..10000")
	case c.maxRequests < 1:
		return c, errors.New("-max-requests must be positive")
	case c.sampleEvery < 100*time.Millisecond:
		return c, errors.New("-sample must be at least 100ms")
	case c.slice < time.Second:
		return c, errors.New("-slice must be at least 1s")
	}
	return c, nil
}

func run(args []string) error {
	cfg, err := parseFlags(args)
	if err != nil {
		return err
	}
	if cfg.repo == "" {
		if cfg.repo, err = findRepo(); err != nil {
			return err
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	work, err := os.MkdirTemp("", "tidegate-loadtest-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)

	logf("building examples/server")
	srv, err := startServer(ctx, cfg, work)
	if err != nil {
		return err
	}
	defer srv.stop()
	logf("server pid %d on %s", srv.pid(), srv.addr)

	start := time.Now()
	creds, err := mintAll(ctx, cfg, srv)
	if err != nil {
		return fmt.Errorf("%w (server log: %s)", err, srv.logTail())
	}
	mintTime := time.Since(start)
	logf("minted %d credentials per kind in %s", cfg.credentials, mintTime.Round(time.Millisecond))

	rep := &report{cfg: cfg, mintTime: mintTime, mix: creds.describe()}
	if err := measure(ctx, cfg, srv, creds, rep); err != nil {
		return fmt.Errorf("%w (server log: %s)", err, srv.logTail())
	}
	var out io.Writer = os.Stdout
	if cfg.out != "" {
		f, err := os.Create(cfg.out)
		if err != nil {
			return err
		}
		defer f.Close()
		out = f
	}
	_, err = io.WriteString(out, rep.markdown())
	return err
}

// measure runs the phases and fills rep. After the warm-up, /whoami and
// /healthz alternate in slices of cfg.slice until each has had its
// duration, so that a machine whose speed drifts during the run (a shared
// or throttled CPU) affects both alike and their ratio stays meaningful.
func measure(ctx context.Context, cfg config, srv *server, creds *credentials, rep *report) error {
	rep.mintPeak = srv.memory()
	sampler := startSampler(srv, cfg.sampleEvery)
	defer sampler.stop()

	whoami := creds.requests(srv.addr)
	healthz := []request{{raw: rawGET(srv.addr, "/healthz", "", ""), want: 200}}
	sampler.mark("warm-up")
	if cfg.warmup > 0 {
		logf("warm-up: GET /whoami for %s", cfg.warmup)
		if _, err := drive(ctx, srv.addr, whoami, cfg.conns, cfg.warmup, cfg.maxRequests); err != nil {
			return fmt.Errorf("warm-up: %w", err)
		}
	}
	// The peak from here on covers the measured load, not the argon2id
	// hashing of the logins (whose memory the runtime may still hold).
	rep.peakReset = srv.resetPeak()
	rep.before = srv.memory()
	sampler.mark("load")
	logf("GET /whoami for %s and GET /healthz for %s, alternating every %s, %d connections",
		cfg.duration, cfg.healthzDuration, cfg.slice, cfg.conns)
	phases := []struct {
		name string
		reqs []request
		left time.Duration
		res  *result
	}{
		{"/whoami", whoami, cfg.duration, newResult(cfg.conns)},
		{"/healthz", healthz, cfg.healthzDuration, newResult(cfg.conns)},
	}
	for phases[0].left > 0 || phases[1].left > 0 {
		for i := range phases {
			p := &phases[i]
			if p.left <= 0 {
				continue
			}
			d := min(cfg.slice, p.left)
			p.left -= d
			budget := cfg.maxRequests - p.res.requests
			if budget <= 0 {
				p.left = 0
				continue
			}
			sampler.mark(p.name) // the largest RSS of each endpoint's slices, apart
			res, err := drive(ctx, srv.addr, p.reqs, cfg.conns, d, budget)
			if err != nil {
				return fmt.Errorf("%s: %w", p.name, err)
			}
			if err := ctx.Err(); err != nil {
				return err
			}
			p.res.merge(res)
		}
	}
	rep.whoami, rep.healthz = phases[0].res, phases[1].res
	rep.after = srv.memory()
	rep.sampled = sampler.stop()
	return nil
}

// findRepo walks up from the working directory to the tidegate module.
func findRepo() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		data, err := os.ReadFile(dir + "/go.mod")
		if err == nil && strings.HasPrefix(string(data), "module github.com/tidegate/tidegate\n") {
			return dir, nil
		}
		parent := dir[:max(strings.LastIndexByte(dir, '/'), 0)]
		if parent == dir || parent == "" {
			return "", errors.New("not inside the tidegate repository: pass -repo")
		}
		dir = parent
	}
}

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "loadtest: "+format+"\n", args...)
}
