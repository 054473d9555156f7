package session

import (
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/tidegate/tidegate/middleware"
)

// TestRetryAfter: whole seconds rounded up, at least 1, the default for no
// delay, and no overflow near the largest Duration (d + time.Second - 1
// wrapped negative there and read as "1").
func TestRetryAfter(t *testing.T) {
	for d, want := range map[time.Duration]string{
		time.Nanosecond:              "1",
		time.Second:                  "1",
		1500 * time.Millisecond:      "2",
		15 * time.Minute:             "900",
		math.MaxInt64:                "9223372037",
		math.MaxInt64 - 999_999_999:  "9223372036",
		0:                            retryAfter(middleware.DefaultRetryAfter),
		-time.Second:                 retryAfter(middleware.DefaultRetryAfter),
		middleware.DefaultRetryAfter: "5",
	} {
		assert.Equal(t, want, retryAfter(d), "%v", d)
	}
}
