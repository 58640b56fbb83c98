#!/usr/bin/env bash
# The local stack's Jaeger, when installed: the all-in-one binary with its
# default configuration (traces in memory; UI on 16686, OTLP on 4317 gRPC
# and 4318 HTTP). Without jaeger on PATH it says so and exits 0: the stack
# runs without it. Install it with
#   go install github.com/jaegertracing/jaeger/cmd/jaeger@v1.75.0
set -euo pipefail
if ! command -v jaeger >/dev/null; then
	echo "jaeger is not installed: the stack runs without it (go install github.com/jaegertracing/jaeger/cmd/jaeger@v1.75.0)"
	exit 0
fi
exec jaeger
