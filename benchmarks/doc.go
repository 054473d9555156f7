// Package benchmarks measures tidegate side by side with the Go
// authentication middlewares a user would pick instead, in one
// `go test -bench . -benchmem` run (issue 8). It is a module of its own so
// that the peers (echo, gin, auth0, chi's jwtauth) never enter tidegate's
// dependencies.
//
// Every benchmark serves pre-built requests through the middleware's (or
// the framework's) ServeHTTP into a fresh httptest.ResponseRecorder per
// iteration, serially ("/serial") and with b.RunParallel ("/parallel"),
// ending in a handler that answers 200 with no body. BenchmarkBaseline is
// that handler alone and BenchmarkFloor the least any auth middleware can
// cost (one context value attached), so that ratios compare middlewares
// and nothing else. scripts/bench.sh runs each benchmark in a test process
// of its own (so that none inherits the heap another grew), compares the
// runs with benchstat and writes BENCHMARKS.md (see cmd/benchreport); the
// load test of examples/server is cmd/loadtest.
package benchmarks
