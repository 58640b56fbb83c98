#!/usr/bin/env bash
# The local stack's Redis-protocol cache: the first of dragonfly,
# valkey-server and redis-server that is installed, on 127.0.0.1:$REDIS_PORT
# with $REDIS_PASSWORD, its files under $STACK_DIR/cache.
#   deploy/cache.sh        run the server (process-compose's "cache")
#   deploy/cache.sh ping   exit 0 when it answers PING (the readiness probe)
set -euo pipefail
: "${STACK_DIR:?set in .env}" "${REDIS_PORT:?set in .env}" "${REDIS_PASSWORD:?set in .env}"

if [ "${1:-}" = ping ]; then
	for cli in valkey-cli redis-cli; do
		if command -v "$cli" >/dev/null; then
			[ "$(REDISCLI_AUTH=$REDIS_PASSWORD "$cli" -h 127.0.0.1 -p "$REDIS_PORT" ping 2>/dev/null)" = PONG ]
			exit
		fi
	done
	# No client installed (dragonfly alone): speak the protocol directly.
	exec 3<>"/dev/tcp/127.0.0.1/$REDIS_PORT"
	printf 'AUTH %s\r\nPING\r\n' "$REDIS_PASSWORD" >&3
	read -r -t 2 auth <&3 && read -r -t 2 pong <&3
	[ "${pong%$'\r'}" = +PONG ]
	exit
fi

dir=$STACK_DIR/cache
mkdir -p "$dir"
if command -v dragonfly >/dev/null; then
	exec dragonfly --bind 127.0.0.1 --port "$REDIS_PORT" --requirepass "$REDIS_PASSWORD" --dir "$dir"
fi
for server in valkey-server redis-server; do
	if command -v "$server" >/dev/null; then
		# A cache: nothing is written to disk.
		exec "$server" --bind 127.0.0.1 --port "$REDIS_PORT" --requirepass "$REDIS_PASSWORD" \
			--dir "$dir" --save "" --appendonly no
	fi
done
echo "cache: none of dragonfly, valkey-server, redis-server is installed; scripts/setup-local-dev.sh says how to install one" >&2
exit 1
