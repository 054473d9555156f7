// Command chi is tidegate in a chi router: public routes, a route for
// session tokens only, routes for any kind and a route for admins, behind
// an http.ServeMux that serves the login endpoints of every credential kind
// for every method. It runs on in-memory stores with demo users, and
// prints curl lines that try every route.
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
	"os"
	"os/signal"
	"syscall"

	"github.com/tidegate/tidegate/internal/demoserver"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	switch err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); {
	case errors.Is(err, flag.ErrHelp): // -h: the usage is printed
	case err != nil:
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
	if flags.NArg() > 0 {
		// flag stops at the first argument that is not a flag, and would
		// silently ignore every flag after it.
		return fmt.Errorf("unexpected argument %q", flags.Arg(0))
	}
	// The demo's passwords, the admin's included, are printed and in the
	// source: never on the network.
	if err := demoserver.RequireLoopback(*addr); err != nil {
		return fmt.Errorf("-addr: the demo set has public secrets, so it %w", err)
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
	where := ln.Addr().String()
	fmt.Fprintf(out, "tidegate chi example listening on http://%s (Ctrl-C to stop)\n", where)
	fmt.Fprintf(out, "demo users: %s / %q (roles %v), %s / %q (roles %v); app %q\n\n",
		mary.Username, mary.Password, mary.Roles, admin.Username, admin.Password, admin.Roles, demo.ID)
	for _, line := range curlLines(where) {
		fmt.Fprintln(out, line)
	}
	srv := demoserver.New(handler, slog.NewLogLogger(logger.Handler(), slog.LevelWarn))
	return demoserver.Serve(ctx, srv, ln)
}
