#!/usr/bin/env bash
# Issue 8's measurements, in one command, on a fresh machine with Go: the
# side-by-side benchmarks of tidegate and its peers (the benchmarks/ module),
# compared with benchstat, then the loopback load test of examples/server,
# and BENCHMARKS.md written at the repository root from both. It takes about
# 10 minutes with the defaults. The test suite (scripts/test.sh) does not run it.
#
#   ./scripts/bench.sh                               # -count=10, 30 s load phases
#   COUNT=3 LOAD_DURATION=10s ./scripts/bench.sh     # a quicker run
#   COUNT=1 ROUNDS=10 ./scripts/bench.sh             # 10 samples each, interleaved: every benchmark
#                                                    # sampled across the whole run (steadier ratios
#                                                    # on a noisy machine, at ~2 min more set-up)
#   BENCH='Bearer|Peer' SKIP_LOAD=1 ./scripts/bench.sh
#   ./scripts/bench.sh profile                       # CPU and allocation profiles of tidegate's
#                                                    # cached and first-sight paths, top costs printed
#   PROFILE_BENCH='BasicCached' ./scripts/bench.sh profile
#
# Environment: COUNT (10), ROUNDS (1: how many times the whole -count run is
# repeated; samples add up), BENCHTIME (500ms per run), BENCH (which benchmarks:
# NAME or NAME/SUB, NAME an extended regexp (grep -E) over the benchmarks'
# names, SUB the -test.bench pattern of their sub-benchmarks, such as serial;
# "."), LOAD_DURATION (30s per phase), LOAD_CONNS (16), LOAD_CREDENTIALS (1000 per
# kind), SKIP_LOAD=1 (no load test), OUT (BENCHMARKS.md), PROFILE_DIR (profile
# mode: where the profiles go; a temporary directory by default).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

COUNT="${COUNT:-10}"
ROUNDS="${ROUNDS:-1}"
BENCHTIME="${BENCHTIME:-500ms}"
BENCH="${BENCH:-.}"
LOAD_DURATION="${LOAD_DURATION:-30s}"
LOAD_CONNS="${LOAD_CONNS:-16}"
LOAD_CREDENTIALS="${LOAD_CREDENTIALS:-1000}"
SKIP_LOAD="${SKIP_LOAD:-0}"
OUT="${OUT:-$root/BENCHMARKS.md}"

step() { printf '\n==> %s\n' "$*" >&2; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$root/benchmarks"

if [ "${1:-}" = "profile" ]; then
	# One serial benchmark at a time, so that each profile is one path; the
	# tops are focused on the benchmark's serving loop, which leaves out the
	# minting of credentials before the timer starts (and the GC's background
	# work, whose cause shows in the allocation profile).
	dir="${PROFILE_DIR:-$(mktemp -d)}"
	mkdir -p "$dir"
	go test -c -o "$dir/benchmarks.test" .
	focus='benchmarks\.(run|runFirstSight)\.func'
	for name in ${PROFILE_BENCH:-SessionCached BearerHS256Cached BasicCached AnyBasic SessionUncached BearerHS256FirstSight BearerEdDSAFirstSight BasicFirstSight BearerHS256InvalidSignature BasicUnknownApp}; do
		step "profiling Benchmark$name/serial"
		"$dir/benchmarks.test" -test.run '^$' -test.bench "^Benchmark$name\$/^serial\$" -test.benchmem -test.benchtime 2s \
			-test.cpuprofile "$dir/cpu-$name.out" -test.memprofile "$dir/mem-$name.out" | grep '^Benchmark'
		echo "-- CPU (flat), in the serving loop"
		go tool pprof -top -focus "$focus" -nodecount 25 "$dir/benchmarks.test" "$dir/cpu-$name.out" 2>/dev/null | sed -n '/flat%/,$p'
		echo "-- allocations by count, in the serving loop"
		go tool pprof -top -sample_index alloc_objects -focus "$focus" -nodecount 15 "$dir/benchmarks.test" "$dir/mem-$name.out" 2>/dev/null | sed -n '/flat%/,$p'
	done
	step "profiles in $dir (for example: go tool pprof -http=: $dir/benchmarks.test $dir/cpu-SessionCached.out)"
	exit 0
fi

step "benchstat (golang.org/x/perf) into a temporary GOBIN"
GOBIN="$work/bin" go install golang.org/x/perf/cmd/benchstat@latest

# Each benchmark runs in a test process of its own: the first-sight
# benchmarks mint and keep a credential per iteration (hundreds of thousands
# of them), and in one process every benchmark after them paid for that heap
# in garbage collection, the floor (which runs first) excepted.
go test -c -o "$work/benchmarks.test" .
# BENCH is TOP or TOP/SUB: TOP picks benchmarks by name (grep -E), SUB is
# passed on to -test.bench for their sub-benchmarks (serial, parallel).
bench_top=${BENCH%%/*}
bench_sub=""
case "$BENCH" in */*) bench_sub="/${BENCH#*/}" ;; esac
list=$("$work/benchmarks.test" -test.list '^Benchmark')
set +e
names=$(printf '%s\n' "$list" | grep -E -e "$bench_top")
status=$?
set -e
[ "$status" -le 1 ] || { echo "bench.sh: BENCH=$BENCH: not a valid pattern for grep -E" >&2; exit 1; }
[ -n "$names" ] || { echo "bench.sh: no benchmark matches BENCH=$BENCH" >&2; exit 1; }
command="benchmarks.test -test.run '^\$' -test.bench '^<name>\$' -test.benchmem -test.count=$COUNT -test.benchtime=$BENCHTIME, a process per benchmark"
[ "$ROUNDS" != "1" ] && command="$command, $ROUNDS rounds"
: >"$work/raw.txt"
for round in $(seq 1 "$ROUNDS"); do
	step "$(echo "$names" | wc -l) benchmarks, each in its own process (in benchmarks/), round $round of $ROUNDS"
	for name in $names; do
		"$work/benchmarks.test" -test.run '^$' -test.bench "^$name\$$bench_sub" -test.benchmem -test.count="$COUNT" \
			-test.benchtime="$BENCHTIME" -test.timeout 120m | grep -v -e '^PASS$' | tee -a "$work/raw.txt"
	done
done

step "benchstat"
(cd "$work" && cp raw.txt tidegate-and-peers.txt && ./bin/benchstat tidegate-and-peers.txt) | tee "$work/benchstat.txt"

load_args=()
if [ "$SKIP_LOAD" != "1" ]; then
	step "load test: examples/server on loopback, $LOAD_DURATION per phase"
	go run ./cmd/loadtest -repo "$root" -duration "$LOAD_DURATION" -conns "$LOAD_CONNS" \
		-credentials "$LOAD_CREDENTIALS" -out "$work/load.md"
	cat "$work/load.md"
	load_args=(-loadtest "$work/load.md")
fi

step "writing $OUT"
go run ./cmd/benchreport -raw "$work/raw.txt" -benchstat "$work/benchstat.txt" "${load_args[@]}" \
	-command "$command" -go "$(go version | awk '{print $3}')" -out "$OUT"
echo "wrote $OUT" >&2
