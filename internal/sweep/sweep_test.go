package sweep

import (
	"testing"
	"time"
)

func TestPacer(t *testing.T) {
	t0 := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	var p Pacer
	// Not full: after as many inserts as the last sweep left.
	p.Swept(3)
	for i := range 3 {
		if p.Due(10, 100, t0) {
			t.Fatalf("insert %d: swept before the last sweep's count of inserts", i+1)
		}
	}
	if !p.Due(10, 100, t0) {
		t.Fatal("the fourth insert after a sweep that left 3 did not sweep")
	}
	p.Swept(10)
	// Full: once, then not again within FullInterval, then again.
	if !p.Due(100, 100, t0) {
		t.Fatal("a full store did not sweep")
	}
	p.Swept(100)
	for _, d := range []time.Duration{0, time.Millisecond, FullInterval - 1} {
		if p.Due(100, 100, t0.Add(d)) {
			t.Fatalf("a full store swept again %v after its last sweep", d)
		}
	}
	if !p.Due(100, 100, t0.Add(FullInterval)) {
		t.Fatal("a full store did not sweep a whole interval later")
	}
	// A clock set back does not stop sweeps for good.
	if !p.Due(100, 100, t0.Add(-time.Hour)) {
		t.Fatal("a clock set back stopped the sweeps of a full store")
	}
}
