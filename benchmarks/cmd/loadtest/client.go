package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"math/bits"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// The load generator speaks HTTP/1.1 over raw keep-alive connections with
// pre-serialised requests and a minimal response reader, so that as much of
// the two shared CPUs as possible goes to the server, and the comparison of
// /whoami with /healthz measures the server, not the client.

// request is one pre-serialised request and the status it must get.
type request struct {
	raw  []byte
	want int
}

// rawGET serialises a GET with at most one extra header.
func rawGET(addr, path, header, value string) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "GET %s HTTP/1.1\r\nHost: %s\r\n", path, addr)
	if header != "" {
		fmt.Fprintf(&b, "%s: %s\r\n", header, value)
	}
	b.WriteString("\r\n")
	return b.Bytes()
}

// rawPOST serialises a POST with a body and header pairs.
func rawPOST(addr, path, body string, headerPairs ...string) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "POST %s HTTP/1.1\r\nHost: %s\r\nContent-Length: %d\r\n", path, addr, len(body))
	for i := 0; i+1 < len(headerPairs); i += 2 {
		fmt.Fprintf(&b, "%s: %s\r\n", headerPairs[i], headerPairs[i+1])
	}
	b.WriteString("\r\n")
	b.WriteString(body)
	return b.Bytes()
}

// clientConn is one keep-alive connection.
type clientConn struct {
	conn   net.Conn
	r      *bufio.Reader
	body   []byte // the last response's body, valid until the next call
	header map[string]string
	closed bool // the server asked to close
}

func newClientConn(c net.Conn) *clientConn {
	return &clientConn{conn: c, r: bufio.NewReaderSize(c, 16<<10)}
}

var errMalformed = errors.New("malformed response")

// roundTrip writes raw and reads one response, returning its status. The
// body is in c.body; headers are kept only when c.header is non-nil.
func (c *clientConn) roundTrip(raw []byte) (int, error) {
	if _, err := c.conn.Write(raw); err != nil {
		return 0, err
	}
	line, err := c.r.ReadSlice('\n')
	if err != nil {
		return 0, err
	}
	// "HTTP/1.1 200 OK\r\n"
	if len(line) < 12 || !bytes.HasPrefix(line, []byte("HTTP/1.")) {
		return 0, errMalformed
	}
	status, err := strconv.Atoi(string(line[9:12]))
	if err != nil {
		return 0, errMalformed
	}
	length := -1
	for {
		line, err = c.r.ReadSlice('\n')
		if err != nil {
			return 0, err
		}
		line = bytes.TrimRight(line, "\r\n")
		if len(line) == 0 {
			break
		}
		name, value, ok := bytes.Cut(line, []byte(":"))
		if !ok {
			return 0, errMalformed
		}
		value = bytes.TrimSpace(value)
		switch {
		case asciiEqualFold(name, "Content-Length"):
			if length, err = strconv.Atoi(string(value)); err != nil || length < 0 {
				return 0, errMalformed
			}
		case asciiEqualFold(name, "Transfer-Encoding"):
			return 0, errors.New("chunked responses are not supported")
		case asciiEqualFold(name, "Connection") && asciiEqualFold(value, "close"):
			c.closed = true
		}
		if c.header != nil {
			c.header[string(bytes.ToLower(name))] = string(value)
		}
	}
	if length < 0 {
		return 0, errors.New("response without Content-Length")
	}
	if cap(c.body) < length {
		c.body = make([]byte, length)
	}
	c.body = c.body[:length]
	if _, err := io.ReadFull(c.r, c.body); err != nil {
		return 0, err
	}
	return status, nil
}

func asciiEqualFold(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := range b {
		x, y := b[i]|0x20, s[i]|0x20
		if x != y {
			return false
		}
	}
	return true
}

// histogram records latencies with about 3% precision: 32 sub-buckets per
// power of two of nanoseconds (exact below 64 ns).
type histogram struct {
	counts [64 * 32]int64
	n      int64
}

func bucketOf(ns int64) int {
	if ns < 64 {
		return int(max(ns, 0))
	}
	e := bits.Len64(uint64(ns)) - 6 // ns >> e is in [32, 64)
	return e*32 + int(ns>>e)
}

// lower bound of a bucket, the inverse of bucketOf.
func valueOf(bucket int) int64 {
	if bucket < 64 {
		return int64(bucket)
	}
	e := bucket/32 - 1
	m := bucket - e*32
	return int64(m) << e
}

func (h *histogram) add(d time.Duration) {
	h.counts[bucketOf(int64(d))]++
	h.n++
}

func (h *histogram) merge(o *histogram) {
	for i, c := range o.counts {
		h.counts[i] += c
	}
	h.n += o.n
}

// quantile returns the latency at q (0..1).
func (h *histogram) quantile(q float64) time.Duration {
	if h.n == 0 {
		return 0
	}
	rank := int64(math.Ceil(q * float64(h.n)))
	var seen int64
	for i, c := range h.counts {
		seen += c
		if seen >= rank {
			return time.Duration(valueOf(i))
		}
	}
	return time.Duration(valueOf(len(h.counts) - 1))
}

// result is one phase's outcome.
type result struct {
	duration time.Duration
	requests int64
	errors   int64 // unexpected status or a failed exchange
	byStatus map[int]int64
	latency  histogram
	conns    int
}

func newResult(conns int) *result { return &result{byStatus: map[int]int64{}, conns: conns} }

func (r *result) rate() float64 { return float64(r.requests) / r.duration.Seconds() }

// merge adds o, a later slice of the same phase, to r.
func (r *result) merge(o *result) {
	r.duration += o.duration
	r.requests += o.requests
	r.errors += o.errors
	for s, n := range o.byStatus {
		r.byStatus[s] += n
	}
	r.latency.merge(&o.latency)
}

// drive sends reqs round robin over conns keep-alive connections for d (or
// until maxRequests), each connection starting at its own offset.
func drive(ctx context.Context, addr string, reqs []request, conns int, d time.Duration, maxRequests int64) (*result, error) {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	var sent atomic.Int64
	type workerResult struct {
		hist     histogram
		errors   int64
		byStatus map[int]int64
		err      error
	}
	results := make([]*workerResult, conns)
	var wg sync.WaitGroup
	start := time.Now()
	for w := range conns {
		wr := &workerResult{byStatus: map[int]int64{}}
		results[w] = wr
		wg.Go(func() {
			var c *clientConn
			defer func() {
				if c != nil {
					c.conn.Close()
				}
			}()
			i := w * (len(reqs)/conns + 7919)
			for ctx.Err() == nil && sent.Add(1) <= maxRequests {
				if c == nil || c.closed {
					if c != nil {
						c.conn.Close()
					}
					conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
					if err != nil {
						wr.err = err
						return
					}
					// A server that stops answering cannot hold the phase
					// past its end by more than this.
					_ = conn.SetDeadline(start.Add(d + 10*time.Second))
					c = newClientConn(conn)
				}
				req := reqs[i%len(reqs)]
				i++
				t0 := time.Now()
				status, err := c.roundTrip(req.raw)
				if err != nil {
					if ctx.Err() != nil {
						return
					}
					wr.errors++
					c.closed = true
					continue
				}
				wr.hist.add(time.Since(t0))
				wr.byStatus[status]++
				if status != req.want {
					wr.errors++
				}
			}
		})
	}
	wg.Wait()
	res := newResult(conns)
	res.duration = time.Since(start)
	for _, wr := range results {
		if wr.err != nil {
			return nil, wr.err
		}
		res.latency.merge(&wr.hist)
		res.errors += wr.errors
		for s, n := range wr.byStatus {
			res.byStatus[s] += n
		}
	}
	res.requests = res.latency.n
	return res, nil
}
