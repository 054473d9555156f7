package redisstore_test

import (
	"github.com/tidegate/tidegate/middleware"
	"github.com/tidegate/tidegate/redisstore"
)

// The core's cache is what replicas register with a Broadcaster.
var _ redisstore.LocalCache = (*middleware.Cache)(nil)
