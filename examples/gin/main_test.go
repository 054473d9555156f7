package main

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestRunServesAndShutsDown starts the program as main does (production
// hashing included), reads what it prints, calls it, and stops it the way
// SIGINT does: by ending its context.
func TestRunServesAndShutsDown(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	outR, outW := io.Pipe()
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"-addr", "127.0.0.1:0"}, outW, io.Discard)
		outW.Close()
	}()

	lines := bufio.NewScanner(outR)
	require.True(t, lines.Scan())
	first := lines.Text()
	const prefix = "tidegate gin example listening on http://"
	require.True(t, strings.HasPrefix(first, prefix), first)
	addr := strings.TrimSuffix(strings.TrimPrefix(first, prefix), " (Ctrl-C to stop)")
	var printed []string
	for lines.Scan() {
		printed = append(printed, lines.Text())
		if len(printed) == 2+len(curlLines(addr)) {
			break
		}
	}
	assert.Equal(t, curlLines(addr), printed[2:], "the printed walkthrough is curlLines")
	go func() { _, _ = io.Copy(io.Discard, outR) }()

	res, err := http.Get("http://" + addr + "/healthz")
	require.NoError(t, err)
	res.Body.Close()
	assert.Equal(t, http.StatusOK, res.StatusCode)

	cancel()
	select {
	case err := <-done:
		require.NoError(t, err, "a graceful shutdown is not an error")
	case <-time.After(20 * time.Second):
		t.Fatal("run did not return after its context ended")
	}
	_, err = net.DialTimeout("tcp", addr, time.Second)
	assert.Error(t, err, "the listener must be closed")
}

func TestRunRefusesBadArguments(t *testing.T) {
	cases := []struct {
		name string
		args []string
		err  string
	}{
		{"unknown flag", []string{"-nope"}, "flag provided but not defined: -nope"},
		{"bad address", []string{"-addr", "not an address"}, "-addr: the demo set has public secrets, so it must be host:port on a loopback address: address not an address: missing port in address"},
		{"every interface", []string{"-addr", "0.0.0.0:0"}, "-addr: the demo set has public secrets, so it must be on a loopback address"},
		{"every interface, no host", []string{"-addr", ":0"}, "-addr: the demo set has public secrets, so it must be on a loopback address"},
		{"every IPv6 interface", []string{"-addr", "[::]:0"}, "-addr: the demo set has public secrets, so it must be on a loopback address"},
		{"another interface", []string{"-addr", "192.0.2.7:80"}, "-addr: the demo set has public secrets, so it must be on a loopback address"},
		{"a stray argument", []string{"-addr", "127.0.0.1:0", "extra"}, `unexpected argument "extra"`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := run(context.Background(), c.args, io.Discard, io.Discard)
			require.EqualError(t, err, c.err)
		})
	}
}
