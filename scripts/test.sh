#!/usr/bin/env bash
# Runs every test with the race detector and fails if any test was skipped:
# everything the tests need is embedded or started by the tests themselves.
set -euo pipefail
cd "$(dirname "$0")/.."

# The Neo4j tests run a real Neo4j built from Maven Central artifacts: they
# need Java 17 and Maven. Install them when missing (Debian/Ubuntu).
if ! command -v java >/dev/null || ! command -v mvn >/dev/null; then
	echo "== installing Java 17 and Maven"
	sudo=""
	if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
	$sudo apt-get update -q
	$sudo apt-get install -y -q openjdk-17-jdk-headless maven
fi
# The local stack's cache probe runs a real redis-server (Debian's).
if ! command -v redis-server >/dev/null || ! command -v redis-cli >/dev/null; then
	echo "== installing redis-server"
	sudo=""
	if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
	$sudo apt-get update -q
	$sudo apt-get install -y -q redis-server
fi

# The metrics tests scrape the server with a real Prometheus and check its
# output and the alert rules in deploy/ with promtool (Debian package
# prometheus). Install it when missing.
if ! command -v prometheus >/dev/null || ! command -v promtool >/dev/null; then
	echo "== installing Prometheus"
	sudo=""
	if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
	$sudo apt-get update -q
	$sudo apt-get install -y -q --no-install-recommends prometheus
fi

echo "== gofmt"
unformatted=$(gofmt -l .)
if [ -n "$unformatted" ]; then
	echo "gofmt would change:"; echo "$unformatted"; exit 1
fi
echo "== go vet"
go vet ./...

# The trace test runs a real Jaeger, built from its own module in
# tools/jaeger into .tools/jaeger/VERSION (as internal/jaegertest would,
# but before the tests, so the long build does not compete with them).
jaeger_version=$(go -C tools/jaeger list -m -f '{{.Version}}' github.com/jaegertracing/jaeger)
if [ ! -x ".tools/jaeger/$jaeger_version/jaeger" ]; then
	echo "== building Jaeger $jaeger_version (once)"
	mkdir -p ".tools/jaeger/$jaeger_version"
	go -C tools/jaeger build -o "$PWD/.tools/jaeger/$jaeger_version/jaeger.tmp" github.com/jaegertracing/jaeger/cmd/jaeger
	mv ".tools/jaeger/$jaeger_version/jaeger.tmp" ".tools/jaeger/$jaeger_version/jaeger"
fi

echo "== go test -race"
log=$(mktemp)
trap 'rm -f "$log"' EXIT
set +e
go test -race -count=1 -timeout 45m -v ./... >"$log" 2>&1
status=$?
set -e
# The verbose log is long: print the package results and any failures; on
# failure the whole log follows.
grep -E '^(ok|FAIL|panic:)|--- (FAIL|SKIP)' "$log" || true
echo "$(grep -cE -- '--- PASS' "$log") tests and subtests passed"
if grep -qE -- '--- SKIP' "$log"; then
	echo "FAIL: tests were skipped:"; grep -E -- '--- SKIP' "$log"; exit 1
fi
if [ $status -ne 0 ]; then
	echo "FAIL: go test exited $status; the full log follows"; cat "$log"; exit $status
fi

# Every fuzz target runs for a bounded time beyond its seed corpus (which
# the run above covered): a panic or a 500 fails the build.
echo "== go fuzz (${FUZZTIME:=5s} per target)"
git ls-files '*_test.go' | xargs grep -H -o '^func Fuzz[A-Za-z0-9_]*' | while IFS=: read -r file fn; do
	name=${fn#func }
	echo "-- $name ($(dirname "$file"))"
	go test -run '^$' -fuzz "^${name}\$" -fuzztime "$FUZZTIME" "./$(dirname "$file")" </dev/null >"$log" 2>&1 || { cat "$log"; exit 1; }
done
# The API against its OpenAPI document, with third-party tools (make
# contract): a few minutes, its time budget in CONTRACT_MAX_TIME.
./scripts/contract.sh

echo "== all tests passed, none skipped"
