#!/usr/bin/env bash
# The local stack's Prometheus, when installed: scrapes agileplus's
# /metrics every 5 s with the local key serve keeps in its data directory,
# evaluates the alert rules of deploy/prometheus/alerts.yml, and keeps its data
# under $STACK_DIR/prometheus. Without prometheus on PATH it says so and
# exits 0: the stack runs without it.
set -euo pipefail
: "${STACK_DIR:?set in .env}" "${SERVER_PORT:?set in .env}" "${PROMETHEUS_PORT:?set in .env}"
if ! command -v prometheus >/dev/null; then
	echo "prometheus is not installed: the stack runs without it (apt-get install prometheus, or brew install prometheus)"
	exit 0
fi
base=$(realpath -m "$STACK_DIR/prometheus")
mkdir -p "$base/data"
rules=""
if [ -f deploy/prometheus/alerts.yml ]; then
	rules="rule_files: [\"$(realpath deploy/prometheus/alerts.yml)\"]"
fi
cat >"$base/prometheus.yml" <<CONF
global:
  scrape_interval: 5s
$rules
scrape_configs:
  - job_name: agileplus
    authorization:
      credentials_file: $(realpath -m "$STACK_DIR/agileplus/local-key")
    static_configs:
      - targets: ["127.0.0.1:$SERVER_PORT"]
CONF
exec prometheus --config.file="$base/prometheus.yml" --storage.tsdb.path="$base/data" \
	--web.listen-address="127.0.0.1:$PROMETHEUS_PORT"
