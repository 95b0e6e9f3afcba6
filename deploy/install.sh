#!/usr/bin/env bash
# Installs what Tributary needs from Debian, if it is missing: librabbitmq (the AMQP client
# library and its headers), SQLite's and libpq's headers (the server's store, on SQLite or
# PostgreSQL), pkg-config, libcurl (under Foundation's URLSession, which the webhook notifier sends
# with), and the RabbitMQ broker, plus any packages named as arguments (the test suite adds openssl
# and iproute2). Safe to run again.
set -euo pipefail

needed=(librabbitmq-dev libsqlite3-dev libpq-dev pkg-config libcurl4 rabbitmq-server "$@")
missing=()
for pkg in "${needed[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if [ ${#missing[@]} -eq 0 ]; then
    exit 0
fi

echo "tributary: installing ${missing[*]} from Debian" >&2
if [ "$(id -u)" -ne 0 ]; then
    SUDO=sudo
else
    SUDO=
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
