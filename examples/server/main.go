// Command server is the tidegate demo: every credential kind on in-memory
// stores, seeded with demo accounts unless -seed names a seed file.
//
//	go run ./examples/server
package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/tidegate/tidegate/bearer"
	"github.com/tidegate/tidegate/examples/server/app"
	"github.com/tidegate/tidegate/internal/demoserver"
	"github.com/tidegate/tidegate/internal/seed"
	"github.com/tidegate/tidegate/middleware"
	"github.com/tidegate/tidegate/redisstore"
)

func main() {
	err := run(os.Args[1:])
	switch {
	case errors.Is(err, flag.ErrHelp):
		return // -h: the usage is printed, and asking for it is no failure
	case err != nil:
		fmt.Fprintln(os.Stderr, "server:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	flags := flag.NewFlagSet("server", flag.ContinueOnError)
	addr := flags.String("addr", "127.0.0.1:8080", "address to listen on")
	seedPath := flags.String("seed", "", "seed file (JSON); without it a built-in demo set is used")
	jwtKeyFile := flags.String("jwt-key-file", "", "HS256 signing key for bearer tokens (raw or base64, at least 32 bytes); without it a random key is made")
	tlsCert := flags.String("tls-cert", "", "serve HTTPS with this certificate (PEM); needs -tls-key")
	tlsKey := flags.String("tls-key", "", "the private key (PEM) of -tls-cert")
	insecureBasic := flags.Bool("insecure-basic", false, "accept Basic app credentials over plain HTTP on loopback (development only)")
	proxies := flags.String("trusted-proxies", "", "comma-separated CIDR ranges whose X-Forwarded-For/-Proto are believed")
	redisAddr := flags.String("redis", "", "run on Redis at this address (host:port) instead of memory, so that replicas share state")
	debugAddr := flags.String("debug-addr", "", "serve net/http/pprof on this loopback address (host:port), for load tests; never on a public address")
	if err := flags.Parse(args); err != nil {
		return err
	}
	if flags.NArg() > 0 {
		// flag stops at the first argument that is not a flag, and would
		// silently ignore every flag after it ("-insecure-basic false
		// -redis ..." ran in memory).
		return fmt.Errorf("unexpected argument %q (a boolean flag is written -flag=false)", flags.Arg(0))
	}
	if (*tlsCert == "") != (*tlsKey == "") {
		return errors.New("-tls-cert and -tls-key go together")
	}
	if *seedPath == "" {
		if err := demoserver.RequireLoopback(*addr); err != nil {
			return fmt.Errorf("-addr: the built-in demo set has public secrets, so without -seed it %w", err)
		}
	}
	if *debugAddr != "" {
		stopDebug, err := serveDebug(*debugAddr)
		if err != nil {
			return fmt.Errorf("-debug-addr: %w", err)
		}
		defer stopDebug()
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))

	data := seed.Demo()
	if *seedPath != "" {
		var err error
		if data, err = seed.Load(*seedPath); err != nil {
			return err
		}
	}
	cfg := app.Config{Seed: data, Logger: logger, InsecureBasic: *insecureBasic}
	if *jwtKeyFile != "" {
		key, err := readJWTKey(*jwtKeyFile)
		if err != nil {
			return err
		}
		cfg.JWTKey = key
	}
	if *proxies != "" {
		trusted, err := middleware.NewTrustedProxies(strings.Split(*proxies, ",")...)
		if err != nil {
			return fmt.Errorf("-trusted-proxies: %w", err)
		}
		cfg.TrustedProxies = trusted
	}
	if *redisAddr != "" {
		if err := checkRedisAddr(*redisAddr); err != nil {
			return err
		}
		client := redis.NewClient(&redis.Options{
			Addr: *redisAddr,
			// Fail fast: a request that needs Redis answers 503 rather than hang.
			DialTimeout: time.Second, ReadTimeout: time.Second, WriteTimeout: time.Second, MaxRetries: 1,
		})
		defer client.Close()
		if err := checkRedis(client, logger); err != nil {
			return fmt.Errorf("-redis %s: %w", *redisAddr, err)
		}
		cfg.Redis, cfg.RedisPrefix = client, redisPrefix(*seedPath)
	}
	var tlsConfig *tls.Config
	if *tlsCert != "" { // before anything is printed or listened on
		cert, err := tls.LoadX509KeyPair(*tlsCert, *tlsKey)
		if err != nil {
			return fmt.Errorf("-tls-cert/-tls-key: %w", err)
		}
		tlsConfig = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	}
	a, err := app.New(cfg)
	if err != nil {
		if *seedPath != "" { // the seed may be what it refused: name the file
			return fmt.Errorf("starting with seed file %s: %w", *seedPath, err)
		}
		return err
	}
	defer a.Close()

	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	scheme := "http"
	if tlsConfig != nil {
		scheme = "https"
	}
	printWelcome(scheme+"://"+ln.Addr().String(), data, *seedPath == "")
	if *redisAddr != "" {
		fmt.Printf("state is shared through Redis at %s", *redisAddr)
		if cfg.RedisPrefix == demoRedisPrefix {
			fmt.Printf(", under the demo set's own keys (%s*)", demoRedisPrefix)
		}
		fmt.Println()
	} else {
		fmt.Println("state is in memory: this process only, gone when it stops")
	}
	srv := demoserver.New(a.Handler(), slog.NewLogLogger(logger.Handler(), slog.LevelWarn))
	if tlsConfig != nil {
		srv.TLSConfig = tlsConfig
		ln = tls.NewListener(ln, srv.TLSConfig)
	}
	return serve(srv, ln)
}

// redisCheckTimeout bounds the start-up check of Redis's configuration.
const redisCheckTimeout = 3 * time.Second

// checkRedis refuses a Redis that may evict keys (see
// redisstore.CheckEvictionPolicy: an eviction can bring a revoked
// credential back). A Redis that cannot say (unreachable yet, or CONFIG
// denied, as on managed services) is only warned about: the server starts,
// answers 503 while Redis is away, and the operator checks the policy.
func checkRedis(client redis.UniversalClient, logger *slog.Logger) error {
	ctx, cancel := context.WithTimeout(context.Background(), redisCheckTimeout)
	defer cancel()
	err := redisstore.CheckEvictionPolicy(ctx, client)
	if errors.Is(err, redisstore.ErrEvictingPolicy) {
		return err
	}
	if err != nil {
		logger.Warn("could not check Redis's maxmemory-policy; it must be noeviction", "error", err)
	}
	return nil
}

// serve runs srv until SIGINT or SIGTERM, then shuts down gracefully.
func serve(srv *http.Server, ln net.Listener) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return demoserver.Serve(ctx, srv, ln)
}

// demoRedisPrefix prefixes the Redis keys of a server running the demo set.
const demoRedisPrefix = "tidegate-demo:"

// redisPrefix returns the Redis key prefix of a server started with the seed
// file seedPath: app.Config's default, or for the demo set (no file) keys of
// its own. Its public tokens then never reach the apps, sessions and
// revocations of replicas started with a seed file on the same Redis, nor do
// demo replicas revoke those replicas' apps (the seed file is the list of
// apps).
func redisPrefix(seedPath string) string {
	if seedPath == "" {
		return demoRedisPrefix
	}
	return ""
}

// serveDebug serves net/http/pprof (goroutine counts, heap and CPU
// profiles) on addr, which must be a loopback address: the profiles show
// the program's internals, so they are never served beside the API.
func serveDebug(addr string) (stop func(), err error) {
	if err := demoserver.RequireLoopback(addr); err != nil {
		return nil, fmt.Errorf("%w, such as 127.0.0.1:6060", err)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	return func() { _ = srv.Close() }, nil
}

func printWelcome(base string, data *seed.File, demo bool) {
	fmt.Printf("tidegate example server listening on %s\n", base)
	if demo {
		fmt.Println("seeded the built-in demo set (public secrets: loopback only):")
	} else {
		fmt.Println("seeded from file:")
	}
	for _, u := range data.Users {
		if demo {
			fmt.Printf("  user   %-20s password %q  roles %v\n", u.Username, u.Password, u.Roles)
		} else {
			fmt.Printf("  user   %-20s roles %v\n", u.Username, u.Roles)
		}
	}
	for _, s := range data.Servers {
		fmt.Printf("  server %s\n", s.Name)
	}
	for _, ap := range data.Apps {
		if demo {
			fmt.Printf("  app    %-20s app_token %s backend_token %s\n", ap.Name, ap.AppToken, ap.BackendToken)
		} else {
			fmt.Printf("  app    %s\n", ap.Name)
		}
	}
	fmt.Printf("try: curl -i %s/healthz\n", base)
}

// maxJWTKeyFileBytes bounds the read of -jwt-key-file: a key is at most
// 1,024 bytes (base64 of it a little more). An endless file (/dev/urandom,
// a slip for "a random key") grew the server until it ran out of memory.
const maxJWTKeyFileBytes = 4096

// readJWTKey reads and checks the key of -jwt-key-file. Its errors name the
// flag but never echo its value: given the key itself instead of a path,
// the server would print the key.
func readJWTKey(path string) ([]byte, error) {
	f, err := os.Open(path)
	if pathErr := (*fs.PathError)(nil); errors.As(err, &pathErr) {
		return nil, fmt.Errorf("-jwt-key-file: cannot read the file: %w", pathErr.Err)
	}
	if err != nil {
		return nil, fmt.Errorf("-jwt-key-file: %w", err)
	}
	defer f.Close()
	key, err := io.ReadAll(io.LimitReader(f, maxJWTKeyFileBytes+1))
	switch {
	case err != nil:
		return nil, errors.New("-jwt-key-file: cannot read the file")
	case len(key) > maxJWTKeyFileBytes:
		return nil, fmt.Errorf("-jwt-key-file: larger than %d bytes", maxJWTKeyFileBytes)
	}
	if _, err := bearer.ParseHMACKey("", key); err != nil {
		return nil, fmt.Errorf("-jwt-key-file: %w", err)
	}
	return key, nil
}

// checkRedisAddr refuses a -redis that is not host:port, without echoing
// it: a Redis URL (redis://user:password@host) carries the password, which
// go-redis's dial errors printed.
func checkRedisAddr(addr string) error {
	_, port, err := net.SplitHostPort(addr)
	if err != nil || port == "" || strings.ContainsAny(addr, "@/") {
		return errors.New("-redis: want host:port (a URL, or a password in it, is not accepted)")
	}
	return nil
}
