#!/usr/bin/env python3
"""Splits a chain's round trip into its four hops, from a packet capture of the broker's port.

Reads `tcpdump -tt -n -q` text on stdin (a capture of `bash benchmarks/run.sh --workloads chain
--workers 1` made by benchmarks/chain-hops.sh). Each AMQP connection is named by its client-side
port. In trib-bench's order, the last two connections are Tributary's client and its one worker
(the worker sends more packets); the floor's chain client is the connection that sent about
--chain packets, and the others may be its echo processes. For each round
trip: the broker taking the task in and handing it out, the worker from delivery to result, the
broker passing the result on, and the client from the result to its next publish.
"""
import re
import sys
from collections import OrderedDict

PACKET = re.compile(r'^(\d+\.\d+) IP6? \S+?\.(\d+) > \S+?\.(\d+): tcp (\d+)')
BROKER_PORT = 5672
HOPS = ['broker: task in -> out', 'worker: task -> result', 'broker: result in -> out',
        'client: result -> next task', 'round trip']


def read_packets(lines):
    packets = []
    for line in lines:
        match = PACKET.match(line)
        if not match or int(match.group(4)) == 0:
            continue
        source, target = int(match.group(2)), int(match.group(3))
        upward = target == BROKER_PORT
        packets.append((float(match.group(1)), source if upward else target, upward))
    return packets


def connections(packets):
    table = OrderedDict()
    for _, port, upward in packets:
        table.setdefault(port, [0, 0])[0 if upward else 1] += 1
    return table


def round_trips(packets, client, workers):
    """Each round trip's hops in seconds: client up, worker down, that worker up, client down, client up."""
    mine = [p for p in packets if p[1] == client or p[1] in workers]
    def after(index, wanted):
        while index < len(mine) and not wanted(mine[index]):
            index += 1
        return index
    trips = []
    index = after(0, lambda p: p[1] == client and p[2])
    while index < len(mine):
        sent = mine[index][0]
        delivered = after(index + 1, lambda p: p[1] in workers and not p[2])
        if delivered >= len(mine):
            break
        worker = mine[delivered][1]
        answered = after(delivered + 1, lambda p: p[1] == worker and p[2])
        received = after(answered + 1, lambda p: p[1] == client and not p[2])
        next_sent = after(received + 1, lambda p: p[1] == client and p[2])
        if next_sent >= len(mine):
            break
        times = [mine[i][0] for i in (delivered, answered, received, next_sent)]
        trips.append((times[0] - sent, times[1] - times[0], times[2] - times[1], times[3] - times[2],
                      times[3] - sent))
        index = next_sent
    return trips


def report(name, trips):
    print(f'{name}: {len(trips)} round trips; µs, median (p90)')
    for column, hop in enumerate(HOPS):
        values = sorted(trip[column] * 1e6 for trip in trips)
        if values:
            print(f'  {hop:28s} {values[len(values) // 2]:7.1f} ({values[int(len(values) * 0.9)]:7.1f})')


def main():
    chain = int(sys.argv[1]) if len(sys.argv) > 1 else 3000
    packets = read_packets(sys.stdin)
    table = connections(packets)
    ports = list(table)
    if len(ports) < 5:
        sys.exit(f'expected the floor\'s echo processes and chain client, and Tributary\'s client and worker: '
                 f'found {len(ports)} connections; capture a whole `--workloads chain --workers 1` run')
    first, second = ports[-2:]
    worker, client = (first, second) if table[first][0] > table[second][0] else (second, first)
    floor_clients = [p for p in ports[:-2] if abs(table[p][0] - chain) < chain * 0.05]
    if floor_clients:
        # Every other connection may be an echo process: only those that answer the client count.
        echoes = set(ports) - {client, worker, floor_clients[0]}
        report('floor (plain librabbitmq)', round_trips(packets, floor_clients[0], echoes))
    else:
        print(f'no floor chain client among the connections (port: [up, down] packets): {dict(table)}')
    report('Tributary', round_trips(packets, client, {worker}))


if __name__ == '__main__':
    main()
