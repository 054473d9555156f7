// Command server is the tidegate demo: every credential kind on in-memory
// stores, seeded with demo accounts unless -seed names a seed file.
//
//	go run ./examples/server
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/tidegate/tidegate/examples/server/app"
	"github.com/tidegate/tidegate/internal/seed"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "server:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	flags := flag.NewFlagSet("server", flag.ContinueOnError)
	addr := flags.String("addr", "127.0.0.1:8080", "address to listen on")
	seedPath := flags.String("seed", "", "seed file (JSON); without it a built-in demo set is used")
	if err := flags.Parse(args); err != nil {
		return err
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))

	data := seed.Demo()
	if *seedPath != "" {
		var err error
		if data, err = seed.Load(*seedPath); err != nil {
			return err
		}
	}
	a, err := app.New(app.Config{Seed: data, Logger: logger})
	if err != nil {
		return err
	}
	defer a.Close()

	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	printWelcome(ln.Addr().String(), data, *seedPath == "")
	srv := &http.Server{Handler: a.Handler(), ReadHeaderTimeout: 10 * time.Second, ErrorLog: slog.NewLogLogger(logger.Handler(), slog.LevelWarn)}
	return serve(srv, ln)
}

// serve runs srv until SIGINT or SIGTERM, then shuts down gracefully.
func serve(srv *http.Server, ln net.Listener) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
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

func printWelcome(addr string, data *seed.File, demo bool) {
	fmt.Printf("tidegate example server listening on http://%s\n", addr)
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
	fmt.Printf("try: curl -i http://%s/healthz\n", addr)
}
