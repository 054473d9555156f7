// Package demoserver is what the example programs (examples/server,
// examples/chi, examples/gin) share around their handlers: the HTTP
// server's limits, the graceful shutdown, and the rule that a demo set,
// whose secrets are public, is served on loopback only.
package demoserver

import (
	"context"
	"errors"
	"fmt"
	"log"
	"net"
	"net/http"
	"net/netip"
	"time"
)

// ShutdownGrace is how long Serve lets requests in flight finish.
const ShutdownGrace = 10 * time.Second

// RequireLoopback returns an error unless addr (host:port) is on a loopback
// address: a loopback IP or localhost. "", "0.0.0.0" and "::" (every
// interface) are not.
func RequireLoopback(addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("must be host:port on a loopback address: %w", err)
	}
	if ip, err := netip.ParseAddr(host); host != "localhost" && (err != nil || !ip.IsLoopback()) {
		return errors.New("must be on a loopback address")
	}
	return nil
}

// New returns a server for h with limits on every phase of a request, so
// that a slow or oversized client cannot hold a connection or memory.
func New(h http.Handler, errorLog *log.Logger) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          errorLog,
	}
}

// Serve runs srv on ln until ctx is done, then lets requests in flight
// finish (at most ShutdownGrace).
func Serve(ctx context.Context, srv *http.Server, ln net.Listener) error {
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	shutdown, cancel := context.WithTimeout(context.Background(), ShutdownGrace)
	defer cancel()
	if err := srv.Shutdown(shutdown); err != nil {
		return err
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
