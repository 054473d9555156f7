#!/usr/bin/env bash
# The whole tidegate test suite, as the README and CI run it, on a fresh machine
# with Go installed: formatting, tidy go.mod files, vet, race-enabled tests of
# every module, every example built, and every fuzz target run briefly as a
# regression.
#
#   FUZZTIME=2000000x ./scripts/test.sh   # fuzz each target longer (executions per target)
#   FUZZTIME=0 ./scripts/test.sh      # skip the fuzz pass (seed corpora still run as tests)
set -euo pipefail
cd "$(dirname "$0")/.."

# Count-based budgets: a duration-based -fuzztime can fail spuriously with
# "context deadline exceeded" on Go 1.26 (golang/go#75804, fixed in 1.27).
FUZZTIME="${FUZZTIME:-20000x}"
modules=$(find . -name go.mod -not -path './.git/*' -printf '%h\n' | sort)

step() { printf '\n==> %s\n' "$*"; }

# ---- Redis: the redisstore tests and the multi-replica tests run against a real
# redis-server. Install it from Debian if it is missing, start one on a free
# loopback port for the whole run (TIDEGATE_REDIS_ADDR), stop it on exit. Fault
# tests start private servers of their own from the same binary.
ensure_redis() {
	if command -v redis-server >/dev/null 2>&1; then return; fi
	step "installing redis-server from Debian packages"
	export DEBIAN_FRONTEND=noninteractive
	apt-get install -y -q redis-server >/dev/null 2>&1 || {
		apt-get update -q >/dev/null && apt-get install -y -q redis-server >/dev/null
	}
	command -v redis-server >/dev/null || { echo "redis-server could not be installed"; exit 1; }
}

start_redis() {
	for _ in $(seq 1 20); do
		port=$((20000 + RANDOM % 20000))
		if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then continue; fi # taken
		REDIS_DIR=$(mktemp -d) # a new one per try: a failed try's stop_redis removed the last
		if ! redis-server --port "$port" --bind 127.0.0.1 --save "" --appendonly no \
			--dir "$REDIS_DIR" --daemonize yes --pidfile "$REDIS_DIR/redis.pid" \
			--logfile "$REDIS_DIR/redis.log" >/dev/null; then
			stop_redis
			continue
		fi
		for _ in $(seq 1 100); do
			if [ "$(redis-cli -p "$port" ping 2>/dev/null)" = "PONG" ]; then
				export TIDEGATE_REDIS_ADDR="127.0.0.1:$port"
				echo "redis-server on $TIDEGATE_REDIS_ADDR"
				return
			fi
			sleep 0.1 # waiting for a process we started to listen; bounded to 10 s
		done
		stop_redis
	done
	echo "could not start redis-server"; exit 1
}

# stop_redis waits for the server to exit before removing its directory: a
# server still shutting down writes its log there, and removing a directory
# while it is being written to fails ("Directory not empty"). Cleanup never
# changes the suite's verdict; a directory left behind is reported instead.
stop_redis() {
	if [ -z "${REDIS_DIR:-}" ]; then return 0; fi
	if [ -f "$REDIS_DIR/redis.pid" ]; then
		pid=$(cat "$REDIS_DIR/redis.pid")
		kill "$pid" 2>/dev/null || true
		for _ in $(seq 1 100); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.1 # waiting for a process we signalled to exit; bounded to 10 s
		done
		if kill -0 "$pid" 2>/dev/null; then kill -9 "$pid" 2>/dev/null || true; fi
	fi
	rm -rf "$REDIS_DIR" 2>/dev/null || echo "warning: could not remove $REDIS_DIR"
	REDIS_DIR=
}
trap stop_redis EXIT

# The README's curl lines are run by a test (examples/server/app).
ensure_curl() {
	if command -v curl >/dev/null 2>&1; then return; fi
	step "installing curl from Debian packages"
	export DEBIAN_FRONTEND=noninteractive
	apt-get install -y -q curl >/dev/null 2>&1 || { apt-get update -q >/dev/null && apt-get install -y -q curl >/dev/null; }
}

step "tools: redis-server, curl"
ensure_curl
ensure_redis
start_redis

step "gofmt"
unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))
if [ -n "$unformatted" ]; then
	echo "not gofmt-ed:"; echo "$unformatted"; exit 1
fi

for m in $modules; do
	# tidy first: an untidy go.sum let "go test all" fail in three modules
	# while ./... passed.
	step "module $m: go.mod tidy, vet, race tests, build"
	(cd "$m" && go mod tidy -diff && go vet ./... && go test -race -count=1 ./... && go build ./...)
done

if [ "$FUZZTIME" != "0" ]; then
	for m in $modules; do
		# Each package of the module, and each "func FuzzXxx(" in its tests.
		(cd "$m" && go list -f '{{.ImportPath}} {{.Dir}}' ./... | while read -r pkg dir; do
			for target in $(cat "$dir"/*_test.go 2>/dev/null | grep -o '^func Fuzz[A-Za-z0-9_]*' | cut -d' ' -f2); do
				step "fuzz $pkg $target for $FUZZTIME"
				go test -run '^$' -fuzz "^${target}\$" -fuzztime "$FUZZTIME" "$pkg"
			done
		done)
	done
fi

step "all checks passed"
