package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// server is the examples/server process this command started.
type server struct {
	cmd      *exec.Cmd
	addr     string // 127.0.0.1:port
	debug    string // its -debug-addr, for the goroutine count
	logPath  string
	users    []seedUser
	appToken string
	exited   chan struct{}
}

type seedUser struct {
	UserID   string   `json:"userid"`
	Username string   `json:"username"`
	Password string   `json:"password"`
	Emails   []string `json:"emails"`
	Roles    []string `json:"roles"`
}

type seedApp struct {
	Name         string `json:"name"`
	AppToken     string `json:"app_token"`
	BackendToken string `json:"backend_token"`
}

type seedFile struct {
	Users   []seedUser `json:"users"`
	Servers []struct{} `json:"servers"`
	Apps    []seedApp  `json:"apps"`
}

func randomHex(n int) string {
	b := make([]byte, (n+1)/2)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)[:n]
}

// writeSeed writes the seed file (users with random passwords, one app) and
// an HS256 key file into dir.
func writeSeed(dir string, users int) (seed seedFile, seedPath, keyPath string, err error) {
	seed.Servers = []struct{}{}
	for i := range users {
		email := fmt.Sprintf("load%d@example.com", i)
		seed.Users = append(seed.Users, seedUser{
			UserID: fmt.Sprintf("load%06d", i), Username: email, Password: "pw-" + randomHex(24),
			Emails: []string{email}, Roles: []string{"user"},
		})
	}
	seed.Apps = []seedApp{{Name: "load", AppToken: randomHex(32), BackendToken: randomHex(44)}}
	data, err := json.MarshalIndent(seed, "", "  ")
	if err != nil {
		return seed, "", "", err
	}
	seedPath, keyPath = filepath.Join(dir, "seed.json"), filepath.Join(dir, "jwt.key")
	if err := os.WriteFile(seedPath, data, 0o600); err != nil {
		return seed, "", "", err
	}
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	if err := os.WriteFile(keyPath, []byte(base64.StdEncoding.EncodeToString(key)), 0o600); err != nil {
		return seed, "", "", err
	}
	return seed, seedPath, keyPath, nil
}

// freeLoopbackAddr returns a 127.0.0.1 address with a port that was free a
// moment ago.
func freeLoopbackAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// startServer builds examples/server into work, writes its seed and starts
// it on a free loopback port with -insecure-basic (Basic app credentials
// over plain HTTP on loopback), then waits until /healthz answers.
func startServer(ctx context.Context, cfg config, work string) (*server, error) {
	bin := filepath.Join(work, "server")
	build := exec.CommandContext(ctx, "go", "build", "-o", bin, "./examples/server")
	build.Dir = cfg.repo
	if out, err := build.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("go build ./examples/server: %w\n%s", err, out)
	}
	seed, seedPath, keyPath, err := writeSeed(work, cfg.users)
	if err != nil {
		return nil, err
	}
	addr, err := freeLoopbackAddr()
	if err != nil {
		return nil, err
	}
	debug, err := freeLoopbackAddr()
	if err != nil {
		return nil, err
	}
	logPath := filepath.Join(work, "server.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	defer logFile.Close() // the child keeps its own descriptor
	cmd := exec.Command(bin, "-addr", addr, "-seed", seedPath, "-jwt-key-file", keyPath, "-insecure-basic", "-debug-addr", debug)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	s := &server{cmd: cmd, addr: addr, debug: debug, logPath: logPath, users: seed.Users, appToken: seed.Apps[0].AppToken, exited: make(chan struct{})}
	go func() { _ = cmd.Wait(); close(s.exited) }()
	// Seeding hashes every password at the default argon2id cost first.
	deadline := time.Now().Add(2 * time.Minute)
	for time.Now().Before(deadline) {
		if s.healthy() {
			return s, nil
		}
		select {
		case <-s.exited:
			return nil, fmt.Errorf("the server exited at start: %s", s.logTail())
		case <-ctx.Done():
			s.stop()
			return nil, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
	s.stop()
	return nil, fmt.Errorf("the server did not answer /healthz within 2 minutes: %s", s.logTail())
}

// healthy reports whether GET /healthz answers 200.
func (s *server) healthy() bool {
	conn, err := net.DialTimeout("tcp", s.addr, time.Second)
	if err != nil {
		return false
	}
	defer conn.Close()
	c := newClientConn(conn)
	status, err := c.roundTrip(rawGET(s.addr, "/healthz", "", ""))
	return err == nil && status == 200
}

func (s *server) pid() int { return s.cmd.Process.Pid }

// stop sends SIGTERM (graceful shutdown), then SIGKILL after 15 s, to the
// process this command started, and waits for it.
func (s *server) stop() {
	select {
	case <-s.exited:
		return
	default:
	}
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.exited:
	case <-time.After(15 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.exited
	}
}

// logTail returns the last lines of the server's log, for error messages.
func (s *server) logTail() string {
	data, err := os.ReadFile(s.logPath)
	if err != nil {
		return "(no log)"
	}
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")
	return strings.Join(lines[max(len(lines)-5, 0):], " | ")
}

// resetPeak resets the server's VmHWM to its current RSS (Linux 4.0+:
// "5" written to /proc/<pid>/clear_refs), so that the peak reported covers
// the load and not the argon2id hashing of the logins before it. It
// reports whether the kernel took it.
func (s *server) resetPeak() bool {
	err := os.WriteFile(fmt.Sprintf("/proc/%d/clear_refs", s.pid()), []byte("5"), 0)
	return err == nil
}

// memory is the server's memory as /proc/<pid>/status reports it.
type memory struct {
	at      time.Time
	rssKiB  int64 // VmRSS
	peakKiB int64 // VmHWM, the peak resident set
	threads int64 // OS threads
	// goroutines, from the server's -debug-addr (net/http/pprof); -1 when
	// it could not be read.
	goroutines int64
}

// memory reads /proc/<pid>/status and the goroutine count; zero fields
// when it cannot.
func (s *server) memory() memory {
	m := memory{at: time.Now(), goroutines: s.goroutines()}
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", s.pid()))
	if err != nil {
		return m
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		name, value, found := strings.Cut(sc.Text(), ":")
		if !found {
			continue
		}
		fields := strings.Fields(value)
		if len(fields) == 0 {
			continue
		}
		n, err := strconv.ParseInt(fields[0], 10, 64)
		if err != nil {
			continue
		}
		switch name {
		case "VmRSS":
			m.rssKiB = n
		case "VmHWM":
			m.peakKiB = n
		case "Threads":
			m.threads = n
		}
	}
	return m
}

// goroutines reads "goroutine profile: total N" from the server's
// net/http/pprof, or -1.
func (s *server) goroutines() int64 {
	conn, err := net.DialTimeout("tcp", s.debug, time.Second)
	if err != nil {
		return -1
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := fmt.Fprintf(conn, "GET /debug/pprof/goroutine?debug=1 HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n", s.debug); err != nil {
		return -1
	}
	sc := bufio.NewScanner(conn)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "goroutine profile: total "); ok {
			n, err := strconv.ParseInt(strings.TrimSpace(rest), 10, 64)
			if err != nil {
				return -1
			}
			return n
		}
	}
	return -1
}

// sampler reads the server's memory every second, keeping the largest RSS
// seen in each phase, and records a sample every interval (and at each
// phase change) for the soak table.
type sampler struct {
	done    chan struct{}
	result  chan samplerResult
	marks   chan string
	stopped bool
	res     samplerResult
}

type samplerResult struct {
	samples []sample
	maxRSS  map[string]int64 // KiB, per phase
}

type sample struct {
	memory
	phase string
}

func startSampler(s *server, every time.Duration) *sampler {
	sp := &sampler{done: make(chan struct{}), result: make(chan samplerResult, 1), marks: make(chan string, 4)}
	go func() {
		res := samplerResult{maxRSS: map[string]int64{}}
		phase := "setup"
		record := func(m memory) {
			res.samples = append(res.samples, sample{m, phase})
		}
		observe := func() memory {
			m := s.memory()
			res.maxRSS[phase] = max(res.maxRSS[phase], m.rssKiB)
			return m
		}
		tick := time.NewTicker(min(every, time.Second))
		defer tick.Stop()
		record(observe())
		last := time.Now()
		for {
			select {
			case p := <-sp.marks:
				phase = p
				record(observe())
				last = time.Now()
			case now := <-tick.C:
				m := observe()
				if now.Sub(last) >= every-50*time.Millisecond {
					record(m)
					last = now
				}
			case <-sp.done:
				m := observe()
				if time.Since(last) >= time.Second { // not a copy of a sample just taken
					record(m)
				}
				sp.result <- res
				return
			}
		}
	}()
	return sp
}

// mark starts a phase and takes a sample.
func (sp *sampler) mark(phase string) { sp.marks <- phase }

// stop ends sampling and returns what it saw; later calls return the same.
func (sp *sampler) stop() samplerResult {
	if !sp.stopped {
		sp.stopped = true
		close(sp.done)
		sp.res = <-sp.result
	}
	return sp.res
}
