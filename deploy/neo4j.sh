#!/usr/bin/env bash
# The local stack's Neo4j: Neo4j Community 5 unpacked in $NEO4J_HOME, its
# configuration, data and logs under $STACK_DIR/neo4j, Bolt on
# 127.0.0.1:$NEO4J_BOLT_PORT and HTTP on 127.0.0.1:$NEO4J_HTTP_PORT. The
# first start sets the password of $NEO4J_USER (neo4j) to $NEO4J_PASSWORD.
set -euo pipefail
: "${STACK_DIR:?set in .env}" "${NEO4J_HOME:?set in .env}" "${NEO4J_PASSWORD:?set in .env}"
: "${NEO4J_BOLT_PORT:?set in .env}" "${NEO4J_HTTP_PORT:?set in .env}"
[ -x "$NEO4J_HOME/bin/neo4j" ] || {
	echo "neo4j: no $NEO4J_HOME/bin/neo4j; set NEO4J_HOME in .env (scripts/setup-local-dev.sh says how to install Neo4j)" >&2
	exit 1
}
base=$(realpath -m "$STACK_DIR/neo4j")
mkdir -p "$base/conf" "$base/data" "$base/logs" "$base/run"
cat >"$base/conf/neo4j.conf" <<CONF
server.directories.data=$base/data
server.directories.logs=$base/logs
server.directories.run=$base/run
server.default_listen_address=127.0.0.1
server.bolt.listen_address=127.0.0.1:$NEO4J_BOLT_PORT
server.http.listen_address=127.0.0.1:$NEO4J_HTTP_PORT
server.https.enabled=false
server.memory.heap.initial_size=512m
server.memory.heap.max_size=1g
server.memory.pagecache.size=512m
CONF
export NEO4J_CONF=$base/conf
if [ ! -e "$base/password-set" ]; then
	"$NEO4J_HOME/bin/neo4j-admin" dbms set-initial-password "$NEO4J_PASSWORD"
	touch "$base/password-set"
fi
exec "$NEO4J_HOME/bin/neo4j" console
