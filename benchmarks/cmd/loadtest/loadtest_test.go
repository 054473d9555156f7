package main

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestBucketsRoundTrip(t *testing.T) {
	for _, v := range []int64{0, 1, 63, 64, 65, 100, 1000, 12345, 999_999, 1 << 40} {
		low := valueOf(bucketOf(v))
		assert.LessOrEqual(t, low, v, "v=%d", v)
		assert.Greater(t, float64(low), float64(v)*(1-1.0/32)-1, "v=%d", v)
	}
}

func TestHistogramQuantiles(t *testing.T) {
	var h histogram
	for i := 1; i <= 1000; i++ {
		h.add(time.Duration(i) * time.Microsecond)
	}
	assert.InEpsilon(t, float64(500*time.Microsecond), float64(h.quantile(0.5)), 0.04)
	assert.InEpsilon(t, float64(990*time.Microsecond), float64(h.quantile(0.99)), 0.04)
	var other histogram
	other.add(time.Second)
	h.merge(&other)
	assert.EqualValues(t, 1001, h.n)
	assert.InEpsilon(t, float64(time.Second), float64(h.quantile(1)), 0.04)
}

// The raw client speaks keep-alive HTTP/1.1 to a real net/http server and
// reads status, headers and body.
func TestRoundTripAgainstNetHTTP(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer ok" {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		w.Header().Set("X-Tidepool-Session-Token", "tok")
		_, _ = w.Write([]byte(`{"hello":"world"}`))
	}))
	defer srv.Close()
	addr := strings.TrimPrefix(srv.URL, "http://")
	conn, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	defer conn.Close()
	c := newClientConn(conn)
	c.header = map[string]string{}
	for range 3 { // the same connection, kept alive
		status, err := c.roundTrip(rawGET(addr, "/whoami", "Authorization", "Bearer ok"))
		require.NoError(t, err)
		assert.Equal(t, 200, status)
		assert.JSONEq(t, `{"hello":"world"}`, string(c.body))
		assert.Equal(t, "tok", c.header["x-tidepool-session-token"])
		status, err = c.roundTrip(rawPOST(addr, "/whoami", `{}`, "Authorization", "Bearer no"))
		require.NoError(t, err)
		assert.Equal(t, 401, status)
	}
	assert.False(t, c.closed)
}

func TestDriveCountsErrorsAndStatuses(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/ok" {
			w.WriteHeader(http.StatusOK)
			return
		}
		w.WriteHeader(http.StatusUnauthorized)
	}))
	defer srv.Close()
	addr := strings.TrimPrefix(srv.URL, "http://")
	reqs := []request{
		{raw: rawGET(addr, "/ok", "", ""), want: 200},
		{raw: rawGET(addr, "/no", "", ""), want: 401},
		{raw: rawGET(addr, "/no", "", ""), want: 200}, // counted as an error
	}
	res, err := drive(context.Background(), addr, reqs, 1, time.Minute, 300)
	require.NoError(t, err)
	assert.EqualValues(t, 300, res.requests, "bounded by maxRequests")
	assert.EqualValues(t, 100, res.byStatus[200])
	assert.EqualValues(t, 200, res.byStatus[401])
	assert.EqualValues(t, 100, res.errors)

	total := newResult(1)
	total.merge(res)
	total.merge(res)
	assert.EqualValues(t, 600, total.requests)
	assert.EqualValues(t, 200, total.errors)
	assert.EqualValues(t, 400, total.byStatus[401])
	assert.EqualValues(t, 600, total.latency.n)
	assert.Equal(t, 2*res.duration, total.duration)
}

func TestForgeKeepsHeaderAndClaims(t *testing.T) {
	v := "Bearer aGVhZA.Y2xhaW1z.c2lnbmF0dXJlc2lnbmF0dXJlc2lnbmF0dXJlMTI"
	f := forge(v)
	assert.NotEqual(t, v, f)
	assert.True(t, strings.HasPrefix(f, "Bearer aGVhZA.Y2xhaW1z."))
	assert.Len(t, f, len(v))
}

func TestFlagsAreValidated(t *testing.T) {
	for _, args := range [][]string{
		{"-duration", "0s"}, {"-duration", "3h"}, {"-conns", "0"}, {"-credentials", "0"},
		{"-invalid", "1"}, {"-users", "0"}, {"-max-requests", "0"}, {"-sample", "1ms"},
	} {
		_, err := parseFlags(args)
		assert.Error(t, err, "%v", args)
	}
	cfg, err := parseFlags([]string{"-duration", "10m"})
	require.NoError(t, err)
	assert.Equal(t, 10*time.Minute, cfg.healthzDuration, "/healthz defaults to -duration")
}
