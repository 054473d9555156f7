package redisstore_test

import (
	"os"
	"testing"

	"github.com/tidegate/tidegate/internal/redistest"
)

// TestMain gives the tests one redis-server (or the one named by
// TIDEGATE_REDIS_ADDR); fault tests start private servers of their own.
func TestMain(m *testing.M) { os.Exit(redistest.Main(m)) }
