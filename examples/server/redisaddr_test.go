package main

import "testing"

// TestRedisAddrForms: -redis takes every host:port form go-redis dials (an
// IPv6 literal with a zone, a bare :port for the local host); only URLs and
// passwords are refused (TestRedisURLIsRefusedWithoutEchoingItsPassword).
func TestRedisAddrForms(t *testing.T) {
	for _, a := range []string{"127.0.0.1:6379", "[::1]:6379", "localhost:6379", "[fe80::1%eth0]:6379", "redis.internal:6379", ":6379"} {
		if err := checkRedisAddr(a); err != nil {
			t.Errorf("checkRedisAddr(%q) = %v", a, err)
		}
	}
}
