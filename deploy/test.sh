#!/usr/bin/env bash
# Runs the whole test suite: installs what is missing from Debian, starts a local RabbitMQ in the
# background (left running; `deploy/rabbitmq.sh stop` stops it), builds, and runs every test —
# unit tests on the in-process transport and integration tests against the real broker with real
# worker processes. The broker-restart tests stop and start the broker, and the delivery-timeout
# tests lower the broker's consumer_timeout, so they run on their own, after the rest; so does the
# 100,000-task backlog test, which would load the machine for the others.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

# openssl: the TLS tests generate certificates; iproute2: the network-cut tests build namespaces;
# curl reads the server's live stream; python3-pip installs schemathesis, which fuzzes its API, and
# selenium, which drives the web UI in Debian's headless chromium through its chromium-driver.
# tzdata: the schedules' time zones.
bash deploy/install.sh openssl iproute2 curl python3-pip chromium chromium-driver fonts-liberation tzdata
pip_install() {
    python3 -m pip install -q --disable-pip-version-check "$1" 2>/dev/null \
        || python3 -m pip install -q --disable-pip-version-check --break-system-packages "$1"
}
schemathesis_version=4.32.5
if ! schemathesis --version 2>/dev/null | grep -q "$schemathesis_version"; then
    echo "tributary: installing schemathesis $schemathesis_version from PyPI" >&2
    pip_install "schemathesis==$schemathesis_version"
fi
selenium_version=4.50.0
if ! python3 -c "import selenium, sys; sys.exit(selenium.__version__ != '$selenium_version')" 2>/dev/null; then
    echo "tributary: installing selenium $selenium_version from PyPI" >&2
    pip_install "selenium==$selenium_version"
fi
bash deploy/rabbitmq.sh start
# The server's store tests run on SQLite and on this PostgreSQL too.
bash deploy/postgres.sh start
export TRIB_TEST_POSTGRES=$(bash deploy/postgres.sh url)
# Every test declares durable queues of its own (task queues trib.q.test-* and their pack queues
# trib.pack.test-*, its servers' event
# queues trib.events.test-*, its work queues trib.flows.test-* and their slots trib.slots.test-*);
# the broker deletes each once it has been unused for 10 minutes, so repeated runs do not pile up
# queues for the next start to recover, nor event queues that every later event is routed to.
rabbitmqctl -n rabbit@localhost -q set_policy --apply-to queues trib-test-queues '^trib\.(q|pack|events|flows|slots)\.test-' \
    '{"expires": 600000}' >/dev/null
# Each submitted flow run has queues of its own (its status board, its journal) kept for the
# retention after its last change: 10 minutes in tests rather than a day.
export TRIB_FLOW_RUN_RETENTION=600
# Clients publish no events here, except in the server's tests (which turn them on for their own
# clients and agents): a test server records everything on trib.events, and every test's flows
# would load every test server.
export TRIB_EVENTS=off
bash deploy/swift-build.sh --build-tests

# The suite's tests are all swift-testing tests, run straight from the test binary rather than through
# `swift test`, which holds the binary's output back until it exits: a pass that hangs would otherwise
# be killed with nothing to show for it. NO_COLOR keeps its report plain for the checks below.
test_binary="$(bash deploy/swift-build.sh --show-bin-path)/TributaryPackageTests.xctest"

# Runs one pass of the tests, bounded by $TRIB_TEST_PASS_LIMIT seconds (default 900), so a test that
# hangs fails the run instead of holding it forever. At most $TRIB_TEST_WIDTH tests (default 6) run at
# once: swift-testing would otherwise start every test of a pass together, 130 of them with their
# worker and agent processes on 2 cores, and tests that wait for a process to do something in time
# then fail on load alone; on this 2-core machine the first pass takes as long at 6 (105 s) as with no limit. Output goes to a file that is followed live
# (not through a pipe, which a stray child process could hold open). If the pass fails, its failed
# checks are repeated at the end of the output, so the tail of a long log (all CI keeps) names them.
run_tests() {
    local log status=0
    log=$(mktemp)
    NO_COLOR=1 timeout --kill-after=30 "${TRIB_TEST_PASS_LIMIT:-900}" "$test_binary" --testing-library swift-testing \
        --experimental-maximum-parallelization-width "${TRIB_TEST_WIDTH:-6}" "$@" >"$log" 2>&1 &
    local pid=$!
    tail -n +1 -f --pid="$pid" "$log"
    wait "$pid" || status=$?
    if [ "$status" -eq 0 ]; then
        rm -f "$log"
        return 0
    fi
    echo
    if [ "$status" -eq 124 ] || [ "$status" -eq 137 ]; then
        echo "== tests $* did not finish within ${TRIB_TEST_PASS_LIMIT:-900} s; tests started but not ended:"
        # A parameterized test's cases each say they started, but only the test says it ended
        # ("with N test cases"): the cases are left out, and that suffix taken off.
        grep -E "◇ Test .* started" "$log" | grep -v -e "◇ Test case " -e "◇ Test run started" | sed -E 's/.*◇ Test (.*) started\./\1/' \
            | sort >"$log.started" || true
        grep -E "✔ Test|✘ Test" "$log" | sed -E 's/.*[✔✘] Test (.*) (passed|failed).*/\1/; s/ with [0-9]+ test cases?$//' \
            | sort -u >"$log.ended" || true
        # (head may close the pipe early: with pipefail that must not end the script here.)
        comm -23 "$log.started" "$log.ended" | head -20 || true
        rm -f "$log.started" "$log.ended"
    fi
    echo "== failed checks (tests $*):"
    grep -E "✘|recorded an issue|Expectation failed|error: -\[|failed \(" "$log" | grep -v "^.*✘ Test run with" | head -40
    rm -f "$log"
    return 1
}

run_tests --skip BrokerRestartTests --skip DeliveryTimeoutTests --skip BacklogTests --skip ServerLoadTests \
    --skip PostgresRestartTests --skip ServerRecordingTests --skip ServerAPITests --skip RunStoreTests --skip UITests \
    --skip DeploymentTests --skip CoordinatorFaultTests "$@"
# The server's own: their server, agent and worker processes and stores, apart from the timing of the rest.
run_tests --filter ServerRecordingTests --filter ServerAPITests --filter RunStoreTests --filter DeploymentTests
# The backlog test keeps the machine busy for a minute or more; beside it, the killed-client test,
# which spends a minute waiting for the broker to expire a queue (at the end of the first pass it
# made that pass a minute longer).
run_tests --filter BacklogTests --filter CoordinatorFaultTests
# The web UI in headless Chromium, one browser at a time (screenshots in .build/ui-screenshots/).
run_tests --filter UITests
# Alone: a minute of load on the machine that would slow the timing of the others.
run_tests --filter ServerLoadTests
# One at a time: swift-testing runs suites in parallel, and each of these changes the broker for all.
TRIB_SERIAL_TESTS=1 run_tests --filter BrokerRestartTests
TRIB_SERIAL_TESTS=1 run_tests --filter DeliveryTimeoutTests
TRIB_SERIAL_TESTS=1 run_tests --filter PostgresRestartTests
# The cluster lab (deploy/cluster.sh: three RabbitMQ nodes and the other hosts, each a network
# namespace), up once for all the cluster tests, then taken down; skipped where namespaces cannot be made.
if ip netns add "trib-probe-$$" 2>/dev/null; then
    ip netns del "trib-probe-$$"
    trap 'bash deploy/cluster.sh down' EXIT
    TRIB_BIN_DIR=$(bash deploy/swift-build.sh --show-bin-path) bash deploy/cluster.sh up
    TRIB_CLUSTER_LAB=1 run_tests --filter ClusterTests
else
    echo "tributary: the cluster tests are skipped: network namespaces cannot be made here (ip netns add needs root)"
fi
