#!/usr/bin/env bash
# Builds `trib` and runs the demo flow (training-pipeline): on the embedded default (no broker),
# then over a local RabbitMQ (started here) with two worker processes, twice. The second run over
# RabbitMQ takes extract, validate and train from the result store (Cached) instead of running
# them. Each run ends with a notification from the flow's hooks (to the log; also POSTed to
# TRIB_WEBHOOK_URL if set). Then the deployments of tributary.yaml: a server (SQLite in .deploy/)
# schedules the pipeline every 15 s for an agent on work queue `ml`, and a report runs when it
# ends. `deploy/demo.sh --embedded` runs only the first.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

bash deploy/install.sh
bash deploy/swift-build.sh --product trib
trib=$(bash deploy/swift-build.sh --show-bin-path)/trib
input='{"pages": 6, "alphas": [0, 0.1, 1, 10, 100], "threshold": 0.95}'
# notice: shows the hooks' notifications (and warnings) but not every task's progress.
export TRIB_LOG_LEVEL=${TRIB_LOG_LEVEL:-notice}
mkdir -p .deploy
rm -rf .deploy/results-embedded .deploy/results

echo
echo "== training-pipeline on the embedded default (no broker)"
TRIB_RESULT_STORE=.deploy/results-embedded "$trib" run training-pipeline "$input"

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

for n in 1 2; do
    "$trib" worker --concurrency 4 --id "demo-worker-$n" >".deploy/demo-worker-$n.log" 2>&1 &
    workers+=($!)
done
for n in 1 2; do
    for _ in $(seq 100); do grep -q "worker ready" ".deploy/demo-worker-$n.log" && break; sleep 0.1; done
done

export TRIB_RESULT_STORE=.deploy/results
echo
echo "== training-pipeline over RabbitMQ with 2 worker processes (logs: .deploy/demo-worker-*.log)"
"$trib" run training-pipeline "$input"

echo
echo "== the same run again: extract, validate and train are reused from the result store (reusedFromCache)"
"$trib" run training-pipeline "$input"

# Deployments: a server records and schedules, an agent takes flow runs from work queue `ml`, and
# tributary.yaml deploys the pipeline on a 15-second interval with a report triggered by its end.
echo
echo "== deployments: tributary.yaml applied to a server, the pipeline run by an agent on its schedule, a report triggered"
database=.deploy/demo.db
rm -f "$database" "$database-wal" "$database-shm"
"$trib" server start --port 4299 --database "$database" --events-queue trib.events.demo >.deploy/demo-server.log 2>&1 &
workers+=($!)
"$trib" agent --work-queue ml --id demo-agent >.deploy/demo-agent.log 2>&1 &
workers+=($!)
for log in .deploy/demo-server.log .deploy/demo-agent.log; do
    for _ in $(seq 200); do grep -q "recording events\|agent ready" "$log" && break; sleep 0.1; done
done
export TRIB_API_URL=http://127.0.0.1:4299/api
"$trib" deploy
echo "(waiting for the first scheduled retraining and its report, up to 60 s)"
# A completed run of the report flow (its deployment's settings also say "Completed": its trigger).
report_completed() { "$trib" flow-run ls --flow report --state Completed 2>/dev/null | grep -qw report; }
for _ in $(seq 120); do
    report_completed && break
    sleep 0.5
done
"$trib" deployment ls
"$trib" deployment inspect retrain-report
"$trib" flow-run ls --limit 6 --state Completed
if ! report_completed; then
    echo "the report never ran: see .deploy/demo-server.log and .deploy/demo-agent.log" >&2
    exit 1
fi
"$trib" deployment pause retrain
echo "(the UI showed all of this at http://127.0.0.1:4299/ while the demo ran; \`trib server start\` serves it)"
