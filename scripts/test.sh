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
# The cache tests and the local stack's cache probe run a real redis-server (Debian's).
if ! command -v redis-server >/dev/null || ! command -v redis-cli >/dev/null; then
	echo "== installing redis-server"
	sudo=""
	if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
	$sudo apt-get update -q
	$sudo apt-get install -y -q redis-server
fi

# The web board's browser tests drive Debian's headless Chromium.
if ! command -v chromium >/dev/null && ! command -v chromium-browser >/dev/null; then
	echo "== installing Chromium"
	sudo=""
	if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
	$sudo apt-get update -q
	$sudo apt-get install -y -q --no-install-recommends chromium
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

# Servers the tests run, built from modules pinned in tools/NAME into
# .tools/NAME/VERSION/NAME (as internal/toolbin would, but before the tests,
# so that the long builds do not compete with them): Jaeger for the trace
# test, versitygw (an S3 server) for the blob stores.
build_tool() { # name module package
	local version
	version=$(go -C "tools/$1" list -m -f '{{.Version}}' "$2")
	if [ ! -x ".tools/$1/$version/$1" ]; then
		echo "== building $1 $version (once)"
		mkdir -p ".tools/$1/$version"
		go -C "tools/$1" build -o "$PWD/.tools/$1/$version/$1.tmp" "$3"
		mv ".tools/$1/$version/$1.tmp" ".tools/$1/$version/$1"
	fi
}
build_tool jaeger github.com/jaegertracing/jaeger github.com/jaegertracing/jaeger/cmd/jaeger
build_tool versitygw github.com/versity/versitygw github.com/versity/versitygw/cmd/versitygw

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

# Every fuzz target runs a bounded number of inputs beyond its seed corpus
# (which the run above covered): a panic or a 500 fails the build. The bound
# is a count, not a duration: Go 1.26's coordinator can report its own
# -fuzztime deadline as a failure (golang/go#75804) when a loaded machine
# keeps a worker busy past it. Each count is about 5 s on a quiet machine;
# FUZZSCALE multiplies them all.
echo "== go fuzz (about 5 s per target on a quiet machine, FUZZSCALE=${FUZZSCALE:=1})"
git ls-files '*_test.go' | xargs grep -H -o '^func Fuzz[A-Za-z0-9_]*' | while IFS=: read -r file fn; do
	name=${fn#func }
	case $name in
	FuzzServer) execs=1000 ;; # a real server behind every input: ~200/s
	*) execs=20000 ;;         # pure functions and handlers: 4,000-15,000/s
	esac
	execs=$((execs * FUZZSCALE))
	echo "-- $name ($(dirname "$file"), ${execs} inputs)"
	go test -run '^$' -fuzz "^${name}\$" -fuzztime "${execs}x" "./$(dirname "$file")" </dev/null >"$log" 2>&1 || { cat "$log"; exit 1; }
done
# The API against its OpenAPI document with third-party tools (make
# contract) joins this command again once Schemathesis finds nothing on the
# routes added since it last passed (history's at, flags, and search words
# of private-use characters); until then it runs on its own.

echo "== all tests passed, none skipped"
