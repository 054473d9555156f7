package main

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const sample = `goos: linux
BenchmarkFloor/serial-2         	  959641	       200.0 ns/op	     576 B/op	       6 allocs/op
BenchmarkFloor/serial-2         	  959641	       300.0 ns/op	     576 B/op	       6 allocs/op
BenchmarkFloor/serial-2         	  959641	       250.0 ns/op	     576 B/op	       6 allocs/op
BenchmarkBaseline/serial-2      	 2016579	       100.0 ns/op	     208 B/op	       4 allocs/op
BenchmarkSessionCached/serial-2 	  599954	       300.0 ns/op	     560 B/op	       6 allocs/op
BenchmarkBasicCached/serial-2   	  270176	      1129 ns/op	    1360 B/op	      10 allocs/op
BenchmarkBearerHS256Cached/serial-2 	  640224	       260.0 ns/op	     560 B/op	       7 allocs/op
BenchmarkBearerHS256FirstSight/serial-2 	   23610	     10000 ns/op	    5429 B/op	      77 allocs/op
BenchmarkBearerHS256InvalidSignature/serial-2 	   23610	     9000 ns/op	    5429 B/op	      77 allocs/op
BenchmarkPeerEchoJWTValid/serial-2 	   39048	      5000 ns/op	    4200 B/op	      86 allocs/op
BenchmarkPeerGinJWTValid/serial-2 	   39048	      7000 ns/op	    4200 B/op	      86 allocs/op
BenchmarkAnySession/serial-2    	  585678	       320.0 ns/op	     560 B/op	       6 allocs/op
PASS
`

func TestParseKeepsMedians(t *testing.T) {
	r, err := parse(strings.NewReader(sample))
	require.NoError(t, err)
	floor := r["Floor/serial"]
	assert.Equal(t, 250.0, floor.ns)
	assert.Equal(t, 3, floor.runs)
	assert.Equal(t, 6.0, floor.allocs)
	assert.Equal(t, 1129.0, r["BasicCached/serial"].ns)
	_, err = parse(strings.NewReader("PASS\n"))
	assert.Error(t, err)
}

func TestChecksMarkMetAndMissed(t *testing.T) {
	r, err := parse(strings.NewReader(sample))
	require.NoError(t, err)
	got := map[string]check{}
	for _, c := range r.checks() {
		got[c.what] = c
	}
	assert.True(t, got["SessionCached"].met, "1.20x, +0 allocs")
	assert.False(t, got["BasicCached"].met, "4.5x, +4 allocs")
	assert.True(t, got["BearerHS256Cached"].met, "1.04x and one allocation more: within both limits")
	assert.Equal(t, "1.04×, +1 allocs", got["BearerHS256Cached"].value)
	speed := got["BearerHS256Cached vs labstack/echo-jwt v4 (echo)"]
	assert.True(t, speed.met, "5000/260 = 19x")
	first := got["BearerHS256FirstSight vs labstack/echo-jwt v4 (echo)"]
	assert.False(t, first.met, "2x the fastest peer")
	assert.True(t, got["BearerHS256InvalidSignature ÷ BearerHS256FirstSight"].met)
	assert.True(t, got["AnySession ÷ SessionCached"].met, "1.07x")
}

func TestRenderWritesEverySection(t *testing.T) {
	r, err := parse(strings.NewReader(sample))
	require.NoError(t, err)
	doc := render(options{command: "go test -bench ."}, r, "benchstat table", "## Load test\n", machine("go1.26"), time.Unix(0, 0))
	for _, want := range []string{"# Benchmarks", "**Machine:**", "1970-01-01", "## Targets", "## What the numbers mean",
		"## Results (medians)", "| SessionCached |", "benchstat table", "## Load test", "**missed**"} {
		assert.Contains(t, doc, want)
	}
}
