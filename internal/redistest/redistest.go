// Package redistest runs the Redis tests of tidegate against a real
// redis-server, never a mock.
//
// Two ways to get a Redis:
//
//   - Start launches a private redis-server for one test, on a free loopback
//     port with its data in t.TempDir(), and stops it when the test ends.
//     Tests that stop or restart Redis (fault tests) must use it.
//   - Shared hands a test a client and a key prefix of its own on a server
//     shared by many tests: the one named by TIDEGATE_REDIS_ADDR (how
//     ./scripts/test.sh and CI run it), else the one Main started for the
//     test binary, else a private one from Start.
//
// The redis-server binary is the one named by TIDEGATE_REDIS_SERVER, else
// redis-server on PATH, else /usr/bin/redis-server. When there is none,
// tests fail (never skip) with a message saying to run ./scripts/test.sh,
// which installs it.
package redistest

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Environment variables the harness reads.
const (
	// EnvAddr names a running Redis (host:port) that Shared and Main use
	// instead of starting one.
	EnvAddr = "TIDEGATE_REDIS_ADDR"
	// EnvServer is the path of the redis-server binary to start.
	EnvServer = "TIDEGATE_REDIS_SERVER"
)

// Bounds of starting and stopping a server.
const (
	startTimeout = 10 * time.Second
	stopTimeout  = 10 * time.Second
	pollInterval = 5 * time.Millisecond
	startTries   = 3
	logLimit     = 64 << 10
)

// Option configures a server started by Start or Launch.
type Option func(*config)

type config struct {
	appendOnly bool
	cluster    bool
}

// WithAppendOnly turns on Redis persistence: appendonly yes with
// appendfsync always, so that every write acknowledged before Stop (even a
// hard kill) is there again after Restart.
func WithAppendOnly() Option { return func(c *config) { c.appendOnly = true } }

// WithCluster starts the server in cluster mode, a cluster of one node
// that owns no hash slot yet: the test assigns them (CLUSTER ADDSLOTSRANGE).
func WithCluster() Option { return func(c *config) { c.cluster = true } }

// Server is a redis-server process owned by a test.
type Server struct {
	t    testing.TB // nil for Launch
	bin  string
	port int
	dir  string
	cfg  config

	mu   sync.Mutex
	proc *process
}

// process is one run of redis-server.
type process struct {
	cmd    *exec.Cmd
	log    *limitedBuffer
	exited chan struct{} // closed when the process has exited
}

// Start launches a private redis-server for t on a free loopback port, waits
// until it answers PING, and stops it when t ends. It fails t when
// redis-server is not installed or does not come up.
func Start(t testing.TB, opts ...Option) *Server {
	t.Helper()
	dir := t.TempDir() // before Cleanup(Stop): cleanups run last-in first-out
	s, err := launch(dir, opts)
	if err != nil {
		t.Fatalf("redistest: %v", err)
	}
	s.t = t
	t.Cleanup(s.Stop)
	return s
}

// Launch is Start for code without a testing.TB (TestMain): the caller must
// Stop the server and remove dir.
func Launch(dir string, opts ...Option) (*Server, error) { return launch(dir, opts) }

func launch(dir string, opts []Option) (*Server, error) {
	bin, err := FindServer()
	if err != nil {
		return nil, err
	}
	s := &Server{bin: bin, dir: dir}
	for _, opt := range opts {
		opt(&s.cfg)
	}
	// A free port can be taken by someone else between our probe and
	// redis-server's bind: try a few ports before giving up.
	for try := 1; ; try++ {
		if s.port, err = freePort(); err != nil {
			return nil, err
		}
		if err = s.run(); err == nil || try == startTries {
			return s, err
		}
	}
}

// FindServer returns the path of the redis-server binary, or an error that
// says how to get one.
func FindServer() (string, error) {
	if p := os.Getenv(EnvServer); p != "" {
		if _, err := os.Stat(p); err != nil {
			return "", fmt.Errorf("%s=%q: %w", EnvServer, p, err)
		}
		return p, nil
	}
	if p, err := exec.LookPath("redis-server"); err == nil {
		return p, nil
	}
	if _, err := os.Stat("/usr/bin/redis-server"); err == nil {
		return "/usr/bin/redis-server", nil
	}
	return "", errors.New("redis-server not found: the Redis tests run against a real redis-server; " +
		"run ./scripts/test.sh (it installs redis-server and starts it), install it " +
		"(apt-get install redis-server), or set " + EnvServer + " to its path or " +
		EnvAddr + " to a running server")
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("finding a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// Addr returns the server's host:port.
func (s *Server) Addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(s.port)) }

// run starts redis-server on s.port and waits until it answers PING.
func (s *Server) run() error {
	appendOnly := "no"
	if s.cfg.appendOnly {
		appendOnly = "yes"
	}
	args := []string{
		"--port", strconv.Itoa(s.port),
		"--bind", "127.0.0.1",
		"--save", "",
		"--appendonly", appendOnly,
		"--appendfsync", "always",
		"--dir", s.dir,
		"--daemonize", "no",
		"--loglevel", "warning",
	}
	if s.cfg.cluster {
		args = append(args, "--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf")
	}
	p := &process{cmd: exec.Command(s.bin, args...), log: &limitedBuffer{max: logLimit}, exited: make(chan struct{})}
	p.cmd.Stdout, p.cmd.Stderr = p.log, p.log
	if err := p.cmd.Start(); err != nil {
		return fmt.Errorf("starting %s: %w", s.bin, err)
	}
	go func() {
		_ = p.cmd.Wait()
		close(p.exited)
	}()
	if err := waitReady(s.Addr(), p); err != nil {
		p.stop()
		return fmt.Errorf("redis-server on %s: %w\n%s", s.Addr(), err, p.log.String())
	}
	s.mu.Lock()
	s.proc = p
	s.mu.Unlock()
	return nil
}

// waitReady polls addr with PING until it answers PONG, the process exits,
// or startTimeout passes.
func waitReady(addr string, p *process) error {
	deadline := time.Now().Add(startTimeout)
	tick := time.NewTicker(pollInterval)
	defer tick.Stop()
	for {
		err := ping(addr)
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("no PONG within %s: %w", startTimeout, err)
		}
		select {
		case <-p.exited:
			return errors.New("exited before answering PING")
		case <-tick.C:
		}
	}
}

// ping sends one inline PING and expects +PONG.
func ping(addr string) error {
	conn, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return err
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(time.Second))
	if _, err := conn.Write([]byte("PING\r\n")); err != nil {
		return err
	}
	buf := make([]byte, 7)
	n, err := conn.Read(buf)
	if err != nil {
		return err
	}
	if string(buf[:n]) != "+PONG\r\n" {
		return fmt.Errorf("unexpected answer %q", buf[:n]) // e.g. -LOADING while reading the AOF
	}
	return nil
}

// Stop stops the server (SIGTERM, then SIGKILL after a bound) and waits for
// it to exit. Stopping a stopped server does nothing.
func (s *Server) Stop() {
	s.mu.Lock()
	p := s.proc
	s.proc = nil
	s.mu.Unlock()
	if p != nil {
		p.stop()
	}
}

// Restart stops the server if it runs and starts it again on the same port
// and directory: with WithAppendOnly, the data survives. It fails the test
// (call it from the test's goroutine) if the server does not come back; a
// server from Launch panics instead.
func (s *Server) Restart() {
	s.Stop()
	if err := s.run(); err != nil {
		if s.t != nil {
			s.t.Fatalf("redistest: restart: %v", err)
		}
		panic(fmt.Sprintf("redistest: restart: %v", err))
	}
}

// Running reports whether the server process is up.
func (s *Server) Running() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.proc != nil
}

func (p *process) stop() {
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
		return
	case <-time.After(stopTimeout):
	}
	_ = p.cmd.Process.Kill()
	<-p.exited
}

// limitedBuffer keeps the first max bytes written to it, for error messages.
type limitedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
	max int
}

func (b *limitedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if room := b.max - b.buf.Len(); room > 0 {
		b.buf.Write(p[:min(len(p), room)])
	}
	return len(p), nil
}

func (b *limitedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// UniquePrefix returns a key prefix no other test uses: name (reduced to
// letters, digits and '_'), then random hex, then ':'.
func UniquePrefix(name string) string {
	clean := make([]byte, 0, min(len(name), 40))
	for i := 0; i < len(name) && len(clean) < 40; i++ {
		c := name[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
			clean = append(clean, c)
		default:
			clean = append(clean, '_')
		}
	}
	var r [6]byte
	_, _ = rand.Read(r[:])
	return "t:" + string(clean) + ":" + hex.EncodeToString(r[:]) + ":"
}
