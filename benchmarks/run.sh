#!/usr/bin/env bash
# Runs the benchmark suite: ensures RabbitMQ is up (deploy scripts), builds trib, trib-floor and
# trib-bench in release mode, then trib-bench starts the worker and echo processes, runs the
# workloads against the floor and prints the table (and benchmarks/out/results.json).
#   bash benchmarks/run.sh                         # the full suite, both persistence settings
#   bash benchmarks/run.sh --smoke                 # a quick check that it all runs
#   bash benchmarks/run.sh --n 20000 --workers 3 --persistence off --workloads fanout,chain --no-memory
#   bash benchmarks/run.sh --events-cost 10000 --repetitions 5   # what recording events costs (issue 12)
#   bash benchmarks/run.sh --api-latency 1000000                  # the API's latency over a large store
#   bash benchmarks/run.sh --ui-page 1000,10000,100000            # a flow run's page in headless Chromium (needs
#                                                                 # chromium, chromium-driver, selenium: deploy/test.sh)
#   bash benchmarks/run.sh --schedule-lag 1000 --agents 2 --agent-concurrency 50   # 1,000 deployments every
#                                                                 # minute for 5 minutes: how late runs start (issue 14)
# --events-cost, --api-latency, --ui-page and --schedule-lag can be given together: they run in turn.
# Every flag: bash benchmarks/run.sh --help
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

configuration=release
if [ "${1:-}" = "--debug" ]; then configuration=debug; shift; fi
bash deploy/rabbitmq.sh start
bash deploy/swift-build.sh -c "$configuration" --product trib
bash deploy/swift-build.sh -c "$configuration" --product trib-floor
bash deploy/swift-build.sh -c "$configuration" --product trib-bench
bin=$(bash deploy/swift-build.sh -c "$configuration" --show-bin-path)
# The flows workload submits thousands of runs, each with a status board kept for the retention.
export TRIB_FLOW_RUN_RETENTION=${TRIB_FLOW_RUN_RETENTION:-600}
export TRIB_SWIFT_VERSION=$(swift --version 2>/dev/null | head -n 1 | sed -E 's/.*version ([0-9.]+).*/\1/')
export TRIB_RABBITMQ_VERSION=$(dpkg-query -W -f='${Version}' rabbitmq-server 2>/dev/null || echo unknown)
"$bin/trib-bench" "$@"
