//go:build race

package middleware_test

// raceEnabled reports whether the race detector is on, for the few tests
// that scale their load down under it.
const raceEnabled = true
