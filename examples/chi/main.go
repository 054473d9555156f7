// Command chi is tidegate in a chi router: public routes, the login
// endpoints of every credential kind, a route for session tokens only,
// routes for any kind and a route for admins, on in-memory stores with
// demo users. It prints curl lines that try every route.
//
//	cd examples/chi && go run .            # listens on 127.0.0.1:8081
//	cd examples/chi && go run . -addr 127.0.0.1:9000
//
// The demo's secrets are public, and Basic app credentials are accepted over
// plain HTTP from loopback: try it on your own machine only.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "chi:", err)
		os.Exit(1)
	}
}

// run serves until ctx is done, then shuts down gracefully. It prints the
// address and the curl walkthrough to out, and logs to logs.
func run(ctx context.Context, args []string, out, logs io.Writer) error {
	flags := flag.NewFlagSet("chi", flag.ContinueOnError)
	flags.SetOutput(logs)
	addr := flags.String("addr", "127.0.0.1:8081", "address to listen on")
	if err := flags.Parse(args); err != nil {
		return err
	}
	logger := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelInfo}))
	handler, closeAll, err := newRouter(config{
		Users: demoUsers, Apps: demoApps, Logger: logger, InsecureBasic: true,
	})
	if err != nil {
		return err
	}
	defer closeAll()

	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	where := dialAddr(ln.Addr())
	fmt.Fprintf(out, "tidegate chi example listening on http://%s (Ctrl-C to stop)\n", where)
	fmt.Fprintf(out, "demo users: %s / %q (roles %v), %s / %q (roles %v); app %q\n\n",
		mary.Username, mary.Password, mary.Roles, admin.Username, admin.Password, admin.Roles, demo.ID)
	for _, line := range curlLines(where) {
		fmt.Fprintln(out, line)
	}
	srv := &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	return serve(ctx, srv, ln)
}

// serve runs srv on ln until ctx is done, then lets requests in flight
// finish (at most 10 s).
func serve(ctx context.Context, srv *http.Server, ln net.Listener) error {
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	shutdown, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdown); err != nil {
		return err
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// dialAddr is where a client on this machine reaches a listener: its own
// address, or loopback when it listens on every address.
func dialAddr(a net.Addr) string {
	tcp, ok := a.(*net.TCPAddr)
	if !ok || !tcp.IP.IsUnspecified() {
		return a.String()
	}
	loopback := net.IPv4(127, 0, 0, 1)
	if tcp.IP.To4() == nil {
		loopback = net.IPv6loopback
	}
	return net.JoinHostPort(loopback.String(), fmt.Sprint(tcp.Port))
}
