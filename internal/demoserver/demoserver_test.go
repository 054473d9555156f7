package demoserver_test

import (
	"context"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tidegate/tidegate/internal/demoserver"
)

func TestRequireLoopback(t *testing.T) {
	for addr, ok := range map[string]bool{
		"127.0.0.1:8080": true, "127.1.2.3:0": true, "[::1]:8080": true, "localhost:8080": true,
		"0.0.0.0:8080": false, ":8080": false, "[::]:0": false, "192.168.1.2:80": false,
		"example.com:80": false, "127.0.0.1": false, "": false,
	} {
		err := demoserver.RequireLoopback(addr)
		assert.Equal(t, ok, err == nil, "%q: %v", addr, err)
	}
}

// TestServeFinishesRequestsInFlight: when ctx ends, Serve stops accepting
// and returns nil once the request in flight has been answered.
func TestServeFinishesRequestsInFlight(t *testing.T) {
	entered, release := make(chan struct{}), make(chan struct{})
	srv := demoserver.New(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		close(entered)
		<-release
		w.WriteHeader(http.StatusTeapot)
	}), nil)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- demoserver.Serve(ctx, srv, ln) }()

	status := make(chan int, 1)
	go func() {
		res, err := http.Get("http://" + ln.Addr().String())
		if err != nil {
			status <- 0
			return
		}
		_ = res.Body.Close()
		status <- res.StatusCode
	}()
	<-entered
	cancel()
	close(release)
	assert.Equal(t, http.StatusTeapot, <-status, "the request in flight is answered, not cut")
	require.NoError(t, <-served)
}

// TestHTTPServerBoundsSlowAndIdleClients: the server sets a deadline on
// reading a whole request, on writing a response and between keep-alive
// requests, and bounds the request headers. net/http sets none of these
// by default (only ReadHeaderTimeout was set before), so a client sending
// a body one byte at a time, or an idle keep-alive connection, held a
// connection and its goroutine for ever.
func TestHTTPServerBoundsSlowAndIdleClients(t *testing.T) {
	srv := demoserver.New(http.NotFoundHandler(), nil)
	for name, d := range map[string]time.Duration{
		"ReadHeaderTimeout": srv.ReadHeaderTimeout, "ReadTimeout": srv.ReadTimeout,
		"WriteTimeout": srv.WriteTimeout, "IdleTimeout": srv.IdleTimeout,
	} {
		if d <= 0 || d > 5*time.Minute {
			t.Errorf("%s = %v, want a bound of at most 5 minutes", name, d)
		}
	}
	if srv.MaxHeaderBytes <= 8<<10 || srv.MaxHeaderBytes > 1<<20 {
		t.Errorf("MaxHeaderBytes = %d, want room for an 8 KiB credential and less than net/http's 1 MiB default", srv.MaxHeaderBytes)
	}
}
