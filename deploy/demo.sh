#!/usr/bin/env bash
# Builds `trib` and runs the demo flow (training-pipeline) twice: on the embedded default (no
# broker), then over a local RabbitMQ (started here) with two worker processes. Both print the
# same result. `deploy/demo.sh --embedded` runs only the first.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

bash deploy/install.sh
swift build --product trib
trib=$(swift build --show-bin-path)/trib
input='{"pages": 6, "alphas": [0, 0.1, 1, 10, 100], "threshold": 0.95}'

echo
echo "== training-pipeline on the embedded default (no broker)"
"$trib" run training-pipeline "$input"

if [ "${1:-}" = "--embedded" ]; then
    exit 0
fi

bash deploy/rabbitmq.sh start
export TRIB_BROKER_URL=${TRIB_BROKER_URL:-amqp://guest:guest@localhost:5672/}
workers=()
stop_workers() {
    for pid in "${workers[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
    for pid in "${workers[@]}"; do wait "$pid" 2>/dev/null || true; done
}
trap stop_workers EXIT

mkdir -p .deploy
for n in 1 2; do
    "$trib" worker --concurrency 4 --id "demo-worker-$n" >".deploy/demo-worker-$n.log" 2>&1 &
    workers+=($!)
done
for n in 1 2; do
    for _ in $(seq 100); do grep -q "worker ready" ".deploy/demo-worker-$n.log" && break; sleep 0.1; done
done

echo
echo "== training-pipeline over RabbitMQ with 2 worker processes (logs: .deploy/demo-worker-*.log)"
TRIB_LOG_LEVEL=${TRIB_LOG_LEVEL:-info} "$trib" run training-pipeline "$input"
