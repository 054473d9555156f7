#!/usr/bin/env bash
# The whole tidegate test suite, as the README and CI run it, on a fresh machine
# with Go installed: formatting, vet, race-enabled tests of every module, every
# example built, and every fuzz target run briefly as a regression.
#
#   FUZZTIME=30s ./scripts/test.sh    # fuzz each target longer
#   FUZZTIME=0 ./scripts/test.sh      # skip the fuzz pass (seed corpora still run as tests)
set -euo pipefail
cd "$(dirname "$0")/.."

FUZZTIME="${FUZZTIME:-3s}"
modules=$(find . -name go.mod -not -path './.git/*' -printf '%h\n' | sort)

step() { printf '\n==> %s\n' "$*"; }

step "gofmt"
unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))
if [ -n "$unformatted" ]; then
	echo "not gofmt-ed:"; echo "$unformatted"; exit 1
fi

for m in $modules; do
	step "module $m: vet, race tests, build"
	(cd "$m" && go vet ./... && go test -race -count=1 ./... && go build ./...)
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
