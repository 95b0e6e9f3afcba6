#!/usr/bin/env bash
# A lab of "hosts" on this machine, each a network namespace with an address of its own on one
# bridge: three RabbitMQ nodes clustered (quorum queues), a Tributary server, two agents and three
# workers. It is the reference for a real multi-host install (docs/DEPLOY.md): every process only
# knows the others by address, as it would across machines.
#   deploy/cluster.sh up        build trib, make the namespaces, start and cluster the nodes, start the processes
#   deploy/cluster.sh demo      up, then run the demo pipeline across the lab and submit a run to its agents
#   deploy/cluster.sh status    the cluster's nodes and the processes' states
#   deploy/cluster.sh url       the broker URL that names the three nodes (quorum queues)
#   deploy/cluster.sh down      stop everything the lab started (by PID) and remove the namespaces
#   deploy/cluster.sh kill-node rN | start-node rN    kill -9 a node / start it again (it rejoins)
#   deploy/cluster.sh restart-node rN                 one step of a rolling upgrade: wait until every
#                                                     quorum queue can lose the node, drain it, stop
#                                                     it, start it again, wait until it is back
#   deploy/cluster.sh leader QUEUE                    the node that leads a quorum queue now
#   deploy/cluster.sh cut HOST | restore HOST         take a host (worker1, agent2, r3...) off the
#                                                     network, silently both ways / bring it back
#   deploy/cluster.sh queues COLUMNS...               list_queues COLUMNS of every running node
# Needs root (ip netns). Logs and PIDs: .deploy/cluster/ in the repository. TRIB_BIN_DIR: where a
# built `trib` is (the tests' own build), instead of building one.
#
# Hosts (bridge trib-lab0, 10.214.0.0/24; the root namespace is 10.214.0.1):
#   trib-lab-r1..r3        10.214.0.11-13   RabbitMQ nodes rabbit@10.214.0.1N (long names, own epmd each)
#   trib-lab-server        10.214.0.20      trib server (API and UI on port 4200, SQLite store)
#   trib-lab-agent1..2     10.214.0.21-22   trib agent on work queue "lab"
#   trib-lab-worker1..3    10.214.0.31-33   trib worker on the default queue
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/.." && pwd)
state=$root/.deploy/cluster
bridge=trib-lab0
subnet=10.214.0
nodes=(r1 r2 r3)
user=trib
password=trib-lab
broker_url() {
    local hosts=() n
    for n in 1 2 3; do hosts+=("$subnet.1$n:5672"); done
    local IFS=,
    echo "amqp://$user:$password@${hosts[*]}/?queue_type=quorum&heartbeat=5"
}

note() { echo "tributary lab: $*" >&2; }
ns() { echo "trib-lab-$1"; }
in_ns() { local name=$1; shift; ip netns exec "$(ns "$name")" "$@"; }
node_name() { echo "rabbit@$subnet.1${1#r}"; }
ctl() { local node=$1; shift; in_ns "$node" rabbitmqctl --longnames -n "$(node_name "$node")" -q "$@"; }
upgrade() { local node=$1; shift; in_ns "$node" rabbitmq-upgrade --longnames -n "$(node_name "$node")" -q "$@"; }

require_root() {
    if [ "$(id -u)" -ne 0 ]; then
        echo "tributary lab: network namespaces need root; run as root (sudo bash deploy/cluster.sh $*)" >&2
        exit 1
    fi
}

# A namespace joined to the bridge by a veth pair, with address $subnet.$2.
add_host() {
    local name=$1 octet=$2 outer="tlab-$1" inner="tlab-$1-i"
    ip netns add "$(ns "$name")"
    ip link add "$outer" type veth peer name "$inner"
    ip link set "$inner" netns "$(ns "$name")"
    ip link set "$outer" master "$bridge" up
    in_ns "$name" ip addr add "$subnet.$octet/24" dev "$inner"
    in_ns "$name" ip link set "$inner" up
    in_ns "$name" ip link set lo up
    in_ns "$name" ip route add default via "$subnet.1"
}

make_network() {
    ip link add "$bridge" type bridge
    ip addr add "$subnet.1/24" dev "$bridge"
    ip link set "$bridge" up
    local n
    for n in 1 2 3; do add_host "r$n" "1$n"; done
    add_host server 20
    for n in 1 2; do add_host "agent$n" "2$n"; done
    for n in 1 2 3; do add_host "worker$n" "3$n"; done
}

node_dir() { echo "/var/lib/rabbitmq/tributary-lab-$1"; }

# In a subshell that starts a long-lived process: closes every descriptor but 0-2 that this script
# inherited (a caller's pipe would otherwise stay open in the node or trib process for its life,
# and the caller would never see the end of this script's output).
close_inherited_fds() {
    local fd
    for fd in $(ls /proc/$BASHPID/fd); do
        if [ "$fd" -gt 2 ]; then eval "exec $fd>&-" 2>/dev/null || true; fi
    done
}

# One RabbitMQ node's configuration: the recipe's (deploy/rabbitmq-cluster/rabbitmq.conf), tuned
# for three nodes sharing 2 cores: each may use a small share of the memory (and schedulers do
# not busy-wait, in start_node).
configure_node() {
    local node=$1 dir
    dir=$(node_dir "$1")
    rm -rf "$dir"
    mkdir -p "$dir/mnesia" "$dir/log" "$state"
    {
        cat "$here/rabbitmq-cluster/rabbitmq.conf"
        echo
        echo "# The lab's own (deploy/cluster.sh): three nodes on one machine."
        echo "vm_memory_high_watermark.relative = 0.15"
    } >"$dir/rabbitmq.conf"
    echo "[]." >"$dir/enabled_plugins"
    : >"$dir/rabbitmq-env.conf"
    chown -R rabbitmq:rabbitmq "$dir"
}

# Starts node $1 in its namespace, with the database it has (a restarted node rejoins its cluster).
start_node() {
    local node=$1 dir
    dir=$(node_dir "$1")
    (
        close_inherited_fds
        export RABBITMQ_NODENAME
        RABBITMQ_NODENAME=$(node_name "$node")
        export RABBITMQ_USE_LONGNAME=true
        export RABBITMQ_CONFIG_FILE=$dir/rabbitmq.conf RABBITMQ_CONF_ENV_FILE=$dir/rabbitmq-env.conf
        export RABBITMQ_MNESIA_BASE=$dir/mnesia RABBITMQ_LOG_BASE=$dir/log
        export RABBITMQ_ENABLED_PLUGINS_FILE=$dir/enabled_plugins RABBITMQ_PID_FILE=$dir/pid
        export RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS="+sbwt none +sbwtdcpu none +sbwtdio none"
        # A plain command, not a function: no shell stays behind holding this script's output.
        ip netns exec "$(ns "$node")" setsid rabbitmq-server >"$state/$node.log" 2>&1 </dev/null &
    )
}

await_node() {
    local node=$1 deadline=$((SECONDS + ${TRIB_RABBITMQ_START_TIMEOUT:-300}))
    until ctl "$node" await_startup --timeout 10 >/dev/null 2>&1; do
        if [ $SECONDS -ge $deadline ]; then
            note "node $(node_name "$node") did not start; last lines of its log:"
            tail -n 30 "$state/$node.log" >&2 || true
            exit 1
        fi
        sleep 1
    done
}

# Joins node $1 to r1's cluster. Now and then a join on these loaded cores leaves the node's
# application stopped: it is tried again (a node that joined already is told so, and starts).
join_node() {
    local node=$1 attempt
    for attempt in 1 2 3 4 5; do
        ctl "$node" stop_app >/dev/null 2>&1 || true
        ctl "$node" join_cluster "$(node_name r1)" >/dev/null 2>&1 || true
        ctl "$node" start_app >/dev/null 2>&1 || true
        if ctl r1 eval "lists:member('$(node_name "$node")', rabbit_nodes:all_running())." 2>/dev/null | grep -q true; then
            return 0
        fi
        note "node $(node_name "$node") did not join on attempt $attempt; trying again"
        sleep 2
    done
    note "node $(node_name "$node") did not join the cluster; last lines of its log:"
    tail -n 30 "$state/$node.log" >&2 || true
    exit 1
}

form_cluster() {
    local node
    for node in "${nodes[@]}"; do configure_node "$node"; done
    for node in "${nodes[@]}"; do start_node "$node"; done
    for node in "${nodes[@]}"; do await_node "$node"; done
    for node in r2 r3; do join_node "$node"; done
    ctl r1 add_user "$user" "$password" >/dev/null
    ctl r1 set_user_tags "$user" administrator >/dev/null
    ctl r1 set_permissions -p / "$user" ".*" ".*" ".*" >/dev/null
    # From the node's own directory: rabbitmqctl runs as user rabbitmq, who may not read this checkout.
    install -o rabbitmq -g rabbitmq -m 0644 "$here/rabbitmq-cluster/definitions.json" "$(node_dir r1)/definitions.json"
    ctl r1 import_definitions "$(node_dir r1)/definitions.json" >/dev/null
    note "RabbitMQ cluster up: $(ctl r1 eval 'rabbit_nodes:all_running().' | tr -d '\n')"
}

# Starts `trib ARGS...` in namespace $1, its log and PID in the state directory as $2.
start_trib() {
    local host=$1 label=$2; shift 2
    # A plain command, so that $! is trib's own PID (ip netns exec execs it).
    local url
    url=$(broker_url)
    (
        close_inherited_fds
        TRIB_BROKER_URL=$url exec ip netns exec "$(ns "$host")" "$trib" "$@" >"$state/$label.log" 2>&1 </dev/null
    ) &
    echo $! >"$state/$label.pid"
}

await_log() {
    local label=$1 text=$2
    for _ in $(seq 300); do grep -q "$text" "$state/$label.log" && return 0; sleep 0.2; done
    note "$label did not log '$text'; its log:"
    tail -n 20 "$state/$label.log" >&2
    exit 1
}

start_processes() {
    start_trib server server server start --host "$subnet.20" --port 4200 --database "$state/lab.db"
    local n
    for n in 1 2; do start_trib "agent$n" "agent$n" agent --work-queue lab --id "lab-agent-$n" --concurrency 4; done
    for n in 1 2 3; do start_trib "worker$n" "worker$n" worker --concurrency 8 --id "lab-worker-$n"; done
    await_log server "recording events"
    for n in 1 2; do await_log "agent$n" "agent ready"; done
    for n in 1 2 3; do await_log "worker$n" "worker ready"; done
    note "server at http://$subnet.20:4200/ (reachable from this machine), 2 agents, 3 workers"
}

up() {
    require_root up
    if ip netns list | grep -q "^$(ns r1)\b"; then
        note "the lab is already up (deploy/cluster.sh down removes it)"
        return 0
    fi
    bash "$here/install.sh" iproute2
    find_trib
    mkdir -p "$state"
    make_network
    form_cluster
    start_processes
    broker_url >"$state/url"
}

find_trib() {
    if [ -n "${TRIB_BIN_DIR:-}" ]; then
        trib=$TRIB_BIN_DIR/trib
    else
        bash "$here/swift-build.sh" --product trib
        trib=$(bash "$here/swift-build.sh" --show-bin-path)/trib
    fi
}

kill_node() {
    require_root kill-node
    local pid
    pid=$(cat "$(node_dir "$1")/pid")
    kill -KILL "$pid"
    note "killed node $(node_name "$1") (pid $pid)"
}

# The queues each running node leads, with COLUMNS (list_queues --local on each node: listing the
# whole cluster from one namespace hangs, as the other nodes answer the command-line tool
# directly and cannot reach it there).
list_queues() {
    local node
    for node in "${nodes[@]}"; do
        ctl "$node" -t 10 list_queues --local --no-table-headers "$@" 2>/dev/null || true
    done
}

# One step of a rolling upgrade, as on a real cluster: the node is stopped only once every quorum
# queue keeps a majority without it; drained first (its queue leaders move to other nodes, its
# clients are disconnected and reconnect to another node); started again (here the same version;
# on a real cluster, the new one) and brought back out of maintenance.
restart_node() {
    require_root restart-node
    local node=$1
    upgrade "$node" -t 300 await_online_quorum_plus_one >/dev/null
    upgrade "$node" drain >/dev/null
    ctl "$node" stop >/dev/null
    start_node "$node"
    await_node "$node"
    upgrade "$node" revive >/dev/null
    note "node $(node_name "$node") restarted"
}

# A host taken off the network: the bridge's end of its link goes down, and packets are dropped
# both ways without a word, as when a cable or a switch fails.
hosts=(r1 r2 r3 server agent1 agent2 worker1 worker2 worker3)
require_one_of() {
    local given=$1 what=$2; shift 2
    local known
    for known in "$@"; do [ "$given" = "$known" ] && return 0; done
    echo "tributary lab: unknown $what '$given': give one of $*" >&2
    exit 2
}
cut_host() { require_root cut; require_one_of "$1" host "${hosts[@]}"; ip link set "tlab-$1" down; note "host $1 cut off"; }
restore_host() {
    require_root restore
    require_one_of "$1" host "${hosts[@]}"
    ip link set "tlab-$1" up
    note "host $1 back on the network"
}

leader() {
    local node
    for node in "${nodes[@]}"; do
        if ctl "$node" -t 10 list_queues --local --no-table-headers name 2>/dev/null | grep -qx "$1"; then
            echo "$node"
            return 0
        fi
    done
    note "no running node leads queue '$1'"
    return 1
}

demo() {
    up
    find_trib
    export TRIB_BROKER_URL
    TRIB_BROKER_URL=$(broker_url)
    echo "== training-pipeline across the lab: a client on this machine, tasks on the three workers"
    TRIB_RESULT_STORE=$state/results "$trib" run training-pipeline \
        '{"pages": 6, "alphas": [0, 0.1, 1, 10, 100], "threshold": 0.95}'
    echo "== a run submitted to work queue 'lab', started by one of the two agents"
    id=$("$trib" run slow-fanout '{"count": 30, "milliseconds": 20, "queue": "default"}' --submit --work-queue lab)
    "$trib" wait "$id"
    echo "== queues: every one a quorum queue, replicated on the three nodes"
    list_queues name type members | grep -E "trib\.(q|flows|dead|events)" | head -8
}

status() {
    require_root status
    ctl r1 cluster_status 2>/dev/null | sed -n '/Running Nodes/,/^$/p' || note "node r1 does not answer"
    local pidfile
    for pidfile in "$state"/*.pid; do
        [ -e "$pidfile" ] || continue
        if kill -0 "$(cat "$pidfile")" 2>/dev/null; then state_text=running; else state_text=stopped; fi
        echo "$(basename "$pidfile" .pid): $state_text"
    done
}

down() {
    require_root down
    local pidfile pid
    for pidfile in "$state"/*.pid; do
        [ -e "$pidfile" ] || continue
        pid=$(cat "$pidfile")
        kill -TERM "$pid" 2>/dev/null || true
    done
    for pidfile in "$state"/*.pid; do
        [ -e "$pidfile" ] || continue
        pid=$(cat "$pidfile")
        for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$pid" 2>/dev/null || true
        rm -f "$pidfile"
    done
    local node name
    for node in "${nodes[@]}"; do
        ip netns list | grep -q "^$(ns "$node")\b" && ctl "$node" stop >/dev/null 2>&1 || true
    done
    # What is left in a namespace (each node's epmd) was started by this lab: ended by its PID.
    for name in $(ip netns list | awk '{print $1}' | grep '^trib-lab-' || true); do
        for pid in $(ip netns pids "$name"); do kill -KILL "$pid" 2>/dev/null || true; done
        ip netns del "$name"
    done
    ip link del "$bridge" 2>/dev/null || true
    rm -rf /var/lib/rabbitmq/tributary-lab-r1 /var/lib/rabbitmq/tributary-lab-r2 /var/lib/rabbitmq/tributary-lab-r3
    note "down"
}

case "${1:-}" in
    kill-node | start-node | restart-node) require_one_of "${2:-}" node "${nodes[@]}" ;;
esac
case "${1:-}" in
    up) up ;;
    demo) demo ;;
    status) status ;;
    url) broker_url ;;
    down) down ;;
    kill-node) kill_node "$2" ;;
    start-node) require_root start-node; start_node "$2"; await_node "$2"; note "node $(node_name "$2") is back" ;;
    restart-node) restart_node "$2" ;;
    leader) leader "$2" ;;
    cut) cut_host "$2" ;;
    restore) restore_host "$2" ;;
    queues) shift; list_queues "$@" ;;
    *) sed -n '2,22p' "$0" >&2; exit 2 ;;
esac
