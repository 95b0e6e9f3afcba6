#!/usr/bin/env bash
# Runs the whole test suite: installs what is missing from Debian, starts a local RabbitMQ in the
# background (left running; `deploy/rabbitmq.sh stop` stops it), builds, and runs every test —
# unit tests on the in-process transport and integration tests against the real broker with real
# worker processes. The broker-restart tests stop and start the broker, so they run on their own,
# after the rest; so does the 100,000-task backlog test, which would load the machine for the others.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

# openssl: the TLS tests generate certificates; iproute2: the network-cut tests build namespaces.
bash deploy/install.sh openssl iproute2
bash deploy/rabbitmq.sh start
swift build --build-tests
swift test --skip-build --skip BrokerRestartTests --skip BacklogTests "$@"
swift test --skip-build --filter BacklogTests
TRIB_BROKER_RESTART_TESTS=1 swift test --skip-build --filter BrokerRestartTests
