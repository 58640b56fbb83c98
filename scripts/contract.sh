#!/usr/bin/env bash
# Checks the HTTP API against its own OpenAPI document with third-party
# tools, as an outsider would: a real server on a free loopback port with
# the sample data and a fresh data directory, its /openapi.json checked by
# openapi-spec-validator and Redocly's linter, and probed by Schemathesis
# (examples, coverage, fuzzing and stateful phases, every check). Any error
# or failure fails the script; what a tool finds is fixed in the server or
# the document, never in the check.
#
# The tools are pinned and installed into .tools/ from PyPI and npm, again
# only when a pin changes. Runs on its own (make contract) and from
# scripts/test.sh.
#
#   CONTRACT_MAX_EXAMPLES  Schemathesis test cases per operation (default 50)
#   CONTRACT_MAX_TIME      Schemathesis time budget in seconds, shared by its
#                          phases; fuzzing and stateful repeat until it is
#                          spent (default 120)
#   CONTRACT_SEED          Schemathesis seed, to replay a run (default random)
#
# What the run leaves for a look afterwards (the document, the server's log,
# the reports) is in .tools/contract/run/.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

# The pins: the Python tools and all they pull in are in
# scripts/contract-requirements.txt, Redocly CLI (one package, no
# dependencies) here. Changing a pin reinstalls the tools on the next run.
requirements=$root/scripts/contract-requirements.txt
REDOCLY_CLI_VERSION=2.77.0
pin() { sed -n "s/^$1==//p" "$requirements"; }
OPENAPI_SPEC_VALIDATOR_VERSION=$(pin openapi-spec-validator)
SCHEMATHESIS_VERSION=$(pin schemathesis)

: "${CONTRACT_MAX_EXAMPLES:=50}"
: "${CONTRACT_MAX_TIME:=120}"

tools=$root/.tools/contract
venv=$tools/venv
node=$tools/node
stamp=$tools/stamp

# The tools talk to nothing but the server under test.
export REDOCLY_TELEMETRY=off REDOCLY_SUPPRESS_UPDATE_NOTICE=true
export PIP_DISABLE_PIP_VERSION_CHECK=1 NO_UPDATE_NOTIFIER=1

say() { printf '== %s\n' "$*"; }
fail() { printf 'contract: %s\n' "$*" >&2; exit 1; }

install_tools() {
	local want
	command -v python3 >/dev/null && python3 -c 'import sys; sys.exit(sys.version_info < (3, 11))' ||
		fail "python3 3.11 or later is needed for openapi-spec-validator and Schemathesis"
	command -v npm >/dev/null || fail "node (20.19 or later) and npm are needed for Redocly CLI"
	want="python $(python3 -c 'import sys; print(sys.version.split()[0])')
$(cat "$requirements")
@redocly/cli $REDOCLY_CLI_VERSION
node $(node --version)"
	if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
		return
	fi
	say "installing the contract tools into ${tools#"$root"/}"
	rm -rf "$tools"
	mkdir -p "$tools"
	python3 -m venv "$venv"
	"$venv/bin/pip" install -q --require-virtualenv -r "$requirements"
	npm install -q --prefix "$node" --no-audit --no-fund --save-exact \
		"@redocly/cli@$REDOCLY_CLI_VERSION" >/dev/null
	printf '%s\n' "$want" >"$stamp"
}

install_tools

# The server under test runs on its embedded defaults whatever this shell
# has set: no external NATS or Neo4j, no address or keys from outside.
while read -r v; do
	case $v in
	AGILEPLUS_* | NATS_* | NEO4J_* | REDIS_URL | S3_* | SERVER_HOST | SERVER_PORT) unset "$v" ;;
	esac
done < <(compgen -e)

run=$tools/run
rm -rf "$run"
mkdir -p "$run"
server_pid=""

stop_server() {
	[ -n "$server_pid" ] || return 0
	if kill -0 "$server_pid" 2>/dev/null; then
		kill -TERM "$server_pid" 2>/dev/null || true
		# serve drains and closes its stores on SIGTERM; one that hangs is
		# killed rather than left behind.
		for _ in $(seq 100); do
			kill -0 "$server_pid" 2>/dev/null || break
			sleep 0.1
		done
		if kill -0 "$server_pid" 2>/dev/null; then
			echo "contract: the server did not stop on SIGTERM within 10s; killing it" >&2
			kill -KILL "$server_pid" 2>/dev/null || true
		fi
	fi
	wait "$server_pid" 2>/dev/null || true
	server_pid=""
}
# The tools run in the background and the script waits for them, so that a
# signal stops the run at once instead of after the tool.
tool_pid=""
run_tool() {
	local status=0
	"$@" &
	tool_pid=$!
	wait "$tool_pid" || status=$?
	tool_pid=""
	return $status
}
finished=""
cleanup() {
	local status=$?
	if [ -z "$finished" ] && [ "$status" -ne 0 ]; then
		echo "contract: FAIL: stopped before the checks finished (exit status $status)" >&2
	fi
	if [ -n "$tool_pid" ]; then
		kill -TERM "$tool_pid" 2>/dev/null || true
		wait "$tool_pid" 2>/dev/null || true
	fi
	stop_server
	rm -rf "$run/data"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

server_log_tail() {
	echo "-- the server's log ($run/server.log), last lines:" >&2
	tail -n 30 "$run/server.log" >&2 || true
}

say "building the server"
go build -o "$run/agileplus" ./cmd/agileplus
bin=$run/agileplus

say "starting the server on a free loopback port, sample data in a fresh data directory"
: >"$run/server.log"
"$bin" serve --addr 127.0.0.1:0 --data "$run/data" --log-level warn >>"$run/server.log" 2>&1 </dev/null &
server_pid=$!
url=""
for _ in $(seq 600); do
	if ! kill -0 "$server_pid" 2>/dev/null; then
		server_log_tail
		fail "the server exited before it served"
	fi
	url=$(sed -n 's/^agileplus .* serving on \(http:\/\/[^ ]*\) .*/\1/p' "$run/server.log" | head -n 1) || url=""
	if [ -n "$url" ] && curl -fsS -o /dev/null --max-time 5 "$url/ready" 2>/dev/null; then
		break
	fi
	url=""
	sleep 0.1
done
[ -n "$url" ] || { server_log_tail; fail "the server did not answer /ready within 60s"; }
echo "serving on $url"

"$bin" seed --sample-data --server "$url" --data "$run/data" --as contract ||
	{ server_log_tail; fail "seed --sample-data failed"; }
token=$(<"$run/data/local-key")
[ -n "$token" ] || fail "no local key in $run/data/local-key"
curl -fsS --max-time 30 -o "$run/openapi.json" "$url/openapi.json" ||
	{ server_log_tail; fail "GET $url/openapi.json failed"; }

# Each tool runs on its own (the machine may be small) and every one runs
# even when one before it failed, so a run reports everything it finds.
results=()
failed=0
record() { # name status detail
	if [ "$2" -eq 0 ]; then
		results+=("ok    $1${3:+: $3}")
	else
		results+=("FAIL  $1${3:+: $3}")
		failed=1
	fi
}

say "openapi-spec-validator $OPENAPI_SPEC_VALIDATOR_VERSION"
set +e
run_tool "$venv/bin/openapi-spec-validator" --validation-errors all "$run/openapi.json"
status=$?
set -e
record "openapi-spec-validator" $status

say "redocly lint $REDOCLY_CLI_VERSION (recommended rules, redocly.yaml)"
set +e
run_tool "$node/node_modules/.bin/redocly" lint --config "$root/redocly.yaml" --format json "$run/openapi.json" \
	>"$run/redocly.json" 2>"$run/redocly.stderr"
status=$?
set -e
# The problems by JSON pointer: the line numbers are those of a generated file.
if summary=$("$venv/bin/python" - "$run/redocly.json" <<'PY'
import json, sys
report = json.load(open(sys.argv[1]))
for p in report["problems"]:
    where = ", ".join(loc.get("pointer", "?") for loc in p["location"]) or "#"
    print("  %-5s %-36s %s  %s" % (p["severity"], p["ruleId"], where, p["message"]))
t = report["totals"]
print("%d errors, %d warnings" % (t["errors"], t["warnings"]))
PY
); then
	printf '%s\n' "$summary"
	record "redocly lint" $status "$(printf '%s\n' "$summary" | tail -n 1)"
else
	cat "$run/redocly.stderr" >&2
	record "redocly lint" 1 "no report (exit status $status)"
fi

# The run's own key, which scripts/contract_hooks.py keeps from being revoked.
whoami() { curl -fsS --max-time 10 -H "Authorization: Bearer $token" "$url/v1/whoami"; }
key_id=$(whoami | "$venv/bin/python" -c 'import json, sys; print(json.load(sys.stdin)["key_id"])') ||
	fail "GET /v1/whoami with the local key failed"
key_prefix=${token#ap_}
key_prefix=${key_prefix%%_*}

say "schemathesis $SCHEMATHESIS_VERSION: every check; examples, coverage, fuzzing and stateful phases; up to $CONTRACT_MAX_EXAMPLES cases per operation, ${CONTRACT_MAX_TIME}s"
set +e
schemathesis() {
	cd "$run"
	export SCHEMATHESIS_HOOKS=contract_hooks PYTHONPATH="$root/scripts" \
		CONTRACT_BASE_URL="$url" CONTRACT_TOKEN="$token" CONTRACT_KEY_ID="$key_id" CONTRACT_KEY_PREFIX="$key_prefix"
	exec "$venv/bin/st" --config-file "$root/scripts/schemathesis.toml" run "$run/openapi.json" \
		--url "$url" \
		--header "Authorization: Bearer $token" \
		--checks all \
		--phases examples,coverage,fuzzing,stateful \
		--max-examples "$CONTRACT_MAX_EXAMPLES" \
		--max-time "$CONTRACT_MAX_TIME" \
		--request-timeout 10 \
		--workers 1 \
		--generation-database none \
		--report junit,ndjson --report-dir "$run/schemathesis" \
		${CONTRACT_SEED:+--seed "$CONTRACT_SEED"}
}
run_tool schemathesis
status=$?
set -e
record "schemathesis" $status
# A run whose key stopped working checked nothing after that point.
if ! whoami >/dev/null 2>&1; then
	record "schemathesis" 1 "the run's key no longer authenticates: the answers after it was lost were all 401"
fi

if ! kill -0 "$server_pid" 2>/dev/null; then
	server_log_tail
	record "the server" 1 "it exited during the checks"
fi
stop_server

finished=1
say "contract summary (reports in ${run#"$root"/})"
printf '%s\n' "${results[@]}"
exit $failed
