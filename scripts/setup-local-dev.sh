#!/usr/bin/env bash
# Prepares the local stack of process-compose.yml: checks what is installed,
# says how to install what is missing (Debian/Ubuntu and macOS), and writes
# .env (ports, credentials, the data directory) from
# deploy/stack.env.example with fresh random secrets. An existing .env is
# kept unless --force is given. Exit status: 0 when everything the stack
# needs is there, 1 when something is missing (.env is written anyway).
set -euo pipefail
cd "$(dirname "$0")/.."

force=false
case "${1:-}" in
--force) force=true ;;
"") ;;
*) echo "usage: scripts/setup-local-dev.sh [--force]" >&2; exit 2 ;;
esac

os=linux
[ "$(uname -s)" = Darwin ] && os=mac
missing=0
have() { command -v "$1" >/dev/null 2>&1; }
ok() { printf '  ok       %-16s %s\n' "$1" "$2"; }
need() { # name, what it is for, Debian/Ubuntu hint, macOS hint
	missing=1
	printf '  MISSING  %-16s %s\n' "$1" "$2"
	if [ $os = mac ]; then printf '           install: %s\n' "$4"; else printf '           install: %s\n' "$3"; fi
}
optional() {
	printf '  --       %-16s %s (optional; the stack runs without it)\n' "$1" "$2"
	if [ $os = mac ]; then printf '           install: %s\n' "$4"; else printf '           install: %s\n' "$3"; fi
}

echo "== what the local stack needs"
if have process-compose; then ok process-compose "$(process-compose version 2>/dev/null | head -1)"; else
	need process-compose "runs the stack" \
		"sh -c \"\$(curl --location https://raw.githubusercontent.com/F1bonacc1/process-compose/main/scripts/get-pc.sh)\" -- -d -b ~/.local/bin" \
		"brew install f1bonacc1/tap/process-compose"
fi
if have go; then ok go "$(go version)"; else
	need go "builds and runs agileplus (1.26 or later)" "see https://go.dev/doc/install" "brew install go"
fi
if have curl; then ok curl "probes"; else need curl "the S3 probe" "sudo apt-get install curl" "brew install curl"; fi
if have nats-server; then ok nats-server "$(nats-server --version 2>/dev/null)"; else
	need nats-server "the event backbone" \
		"go install github.com/nats-io/nats-server/v2@v2.15.2  (puts it in \$(go env GOPATH)/bin)" \
		"brew install nats-server"
fi
cache=""
for c in dragonfly valkey-server redis-server; do have $c && { cache=$c; break; }; done
if [ -n "$cache" ]; then ok cache "$cache"; else
	need cache "the Redis-protocol cache (dragonfly, valkey-server or redis-server)" \
		"sudo apt-get install redis-server  (or valkey-server where packaged)" "brew install valkey  (or redis)"
fi
if have java && java -version 2>&1 | grep -qE 'version "(17|21)'; then ok java "$(java -version 2>&1 | head -1)"; else
	need java "Neo4j 5 runs on Java 17 or 21" "sudo apt-get install openjdk-17-jre-headless" "brew install openjdk@17"
fi
neo4j_home=""
for d in "${NEO4J_HOME:-}" /opt/neo4j /usr/share/neo4j "$HOME/neo4j" "$(have brew && brew --prefix neo4j 2>/dev/null)/libexec"; do
	if [ -n "$d" ] && [ -x "$d/bin/neo4j" ]; then neo4j_home=$d; break; fi
done
if [ -n "$neo4j_home" ]; then ok neo4j "$neo4j_home"; else
	need neo4j "the system of record (Neo4j Community 5)" \
		"download the Community tarball from https://neo4j.com/deployment-center, unpack it to /opt/neo4j (or set NEO4J_HOME in .env)" \
		"brew install neo4j"
fi
if have minio; then ok s3 "minio"; elif have versitygw; then ok s3 "versitygw"; else
	need s3 "the object store (MinIO recommended, or versitygw)" \
		"download the minio binary from https://min.io/download, or: go install github.com/versity/versitygw/cmd/versitygw@latest" \
		"brew install minio/stable/minio"
fi
if have prometheus; then ok prometheus "$(prometheus --version 2>&1 | head -1)"; else
	optional prometheus "scrapes /metrics" "sudo apt-get install prometheus" "brew install prometheus"
fi
if have jaeger; then ok jaeger "traces"; else
	optional jaeger "traces" "go install github.com/jaegertracing/jaeger/cmd/jaeger@v1.75.0" "the same go install"
fi

echo "== .env"
if [ -f .env ] && ! $force; then
	echo "  .env exists: kept (scripts/setup-local-dev.sh --force writes a new one)"
else
	secret() { od -An -N24 -tx1 /dev/urandom | tr -d ' \n'; }
	sed -e "s/^NATS_TOKEN=.*/NATS_TOKEN=$(secret)/" \
		-e "s/^REDIS_PASSWORD=.*/REDIS_PASSWORD=$(secret)/" \
		-e "s/^NEO4J_PASSWORD=.*/NEO4J_PASSWORD=$(secret)/" \
		-e "s/^S3_SECRET_KEY=.*/S3_SECRET_KEY=$(secret)/" \
		${neo4j_home:+-e "s|^NEO4J_HOME=.*|NEO4J_HOME=$neo4j_home|"} \
		deploy/stack.env.example >.env.tmp
	chmod 600 .env.tmp
	mv .env.tmp .env
	echo "  wrote .env (mode 600) with fresh secrets"
fi

if [ $missing -ne 0 ]; then
	echo "== install what is MISSING above, then: process-compose up"
	exit 1
fi
echo "== ready: process-compose up   (the API on http://127.0.0.1:8080 once every process is healthy)"
