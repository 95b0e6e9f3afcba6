#!/usr/bin/env bash
# Where a chain's round trip goes (issue 15): captures the broker's port with tcpdump while
# trib-bench runs the chain workload with one worker, then splits each round trip of the floor's
# echo and of Tributary into its four hops (benchmarks/chain-hops.py).
#   bash benchmarks/chain-hops.sh                      # transient, packing on, 3,000 round trips
#   bash benchmarks/chain-hops.sh --persistence on --packing off
# Run as root (tcpdump on the loopback); installs tcpdump and python3 if missing.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

usage="give --persistence on|off, --packing on|off or --chain N (round trips, at least 100)"
persistence=off packing=on chain=3000
while [ $# -gt 0 ]; do
  case "$1" in --persistence | --packing | --chain) ;; *) echo "unknown option '$1': $usage" >&2; exit 2 ;; esac
  [ $# -ge 2 ] || { echo "option '$1' needs a value: $usage" >&2; exit 2; }
  case "$1" in
    --persistence) persistence=$2 ;;
    --packing) packing=$2 ;;
    --chain) chain=$2 ;;
  esac
  shift 2
done
case "$persistence/$packing" in
  on/on | on/off | off/on | off/off) ;;
  *) echo "--persistence and --packing take on or off, not '$persistence' and '$packing'" >&2; exit 2 ;;
esac
[[ "$chain" =~ ^[0-9]+$ ]] && [ "$chain" -ge 100 ] || { echo "--chain is '$chain': $usage" >&2; exit 2; }

for tool in tcpdump python3; do
  command -v "$tool" > /dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$tool" > /dev/null
done
bash deploy/rabbitmq.sh start
for product in trib trib-floor trib-bench; do bash deploy/swift-build.sh -c release --product "$product"; done
bin=$(bash deploy/swift-build.sh -c release --show-bin-path)

out=$(mktemp -d)
tcpdump -i lo -s 128 -B 65536 -w "$out/chain.pcap" "tcp port 5672" > "$out/tcpdump.log" 2>&1 &
capture=$!
trap 'kill $capture 2> /dev/null || true; rm -rf "$out"' EXIT
sleep 1
TRIB_EVENTS=${TRIB_EVENTS:-off} "$bin/trib-bench" --workloads chain --no-scale --no-memory --repetitions 1 \
  --workers 1 --chain "$chain" --persistence "$persistence" --packing "$packing" --json "$out/results.json" \
  | grep -E '^\| chain'
sleep 1
kill "$capture"; wait "$capture" 2> /dev/null || true
tcpdump -r "$out/chain.pcap" -tt -n -q 2> /dev/null | python3 benchmarks/chain-hops.py "$chain"
