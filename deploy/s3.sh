#!/usr/bin/env bash
# The local stack's S3-compatible object store on 127.0.0.1:$S3_PORT, its
# objects under $STACK_DIR/s3, with $S3_ACCESS_KEY and $S3_SECRET_KEY:
# MinIO when installed (the recommended server), else versitygw.
#   deploy/s3.sh          run the server (process-compose's "s3")
#   deploy/s3.sh health   exit 0 when it answers (the readiness probe)
set -euo pipefail
: "${STACK_DIR:?set in .env}" "${S3_PORT:?set in .env}" "${S3_CONSOLE_PORT:?set in .env}" "${S3_ACCESS_KEY:?set in .env}" "${S3_SECRET_KEY:?set in .env}"

if [ "${1:-}" = health ]; then
	if command -v minio >/dev/null; then
		exec curl -fsS -o /dev/null "http://127.0.0.1:$S3_PORT/minio/health/ready"
	fi
	# versitygw answers an anonymous request with an S3 error document:
	# any HTTP answer means it serves.
	code=$(curl -sS -o /dev/null -w '%{http_code}' "http://127.0.0.1:$S3_PORT/") || exit 1
	[ "$code" != 000 ]
	exit
fi

dir=$STACK_DIR/s3
mkdir -p "$dir"
if command -v minio >/dev/null; then
	MINIO_ROOT_USER=$S3_ACCESS_KEY MINIO_ROOT_PASSWORD=$S3_SECRET_KEY \
		exec minio server "$dir" --address "127.0.0.1:$S3_PORT" --console-address "127.0.0.1:$S3_CONSOLE_PORT"
fi
if command -v versitygw >/dev/null; then
	exec versitygw --access "$S3_ACCESS_KEY" --secret "$S3_SECRET_KEY" --port "127.0.0.1:$S3_PORT" posix "$dir"
fi
echo "s3: neither minio nor versitygw is installed; scripts/setup-local-dev.sh says how to install one" >&2
exit 1
