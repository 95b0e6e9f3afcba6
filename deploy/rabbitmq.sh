#!/usr/bin/env bash
# Starts, stops or reports on a local RabbitMQ running as a background process (no init system needed).
#   deploy/rabbitmq.sh start    install if missing, start, wait until it serves (idempotent)
#   deploy/rabbitmq.sh stop     stop the node this script started (graceful, through rabbitmqctl)
#   deploy/rabbitmq.sh status   exit 0 if the node answers
# The node is rabbit@localhost on port 5672; its log is .deploy/rabbitmq.log in the repository; its
# configuration and database are in /var/lib/rabbitmq/tributary-<a hash of the checkout's path>.
# Its configuration (rabbitmq.conf there), written here, sets consumer_timeout to 24 hours rather than
# RabbitMQ's 30 minutes, since a worker holds a task's delivery until the task ends (README,
# "Long tasks and the broker's delivery timeout").
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
state_dir="$here/../.deploy"
node=rabbit@localhost
export RABBITMQ_NODENAME=$node

if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; else SUDO=; fi

is_up() { rabbitmqctl -n "$node" -q status >/dev/null 2>&1; }
# True when something accepts connections on AMQP's port (bash's /dev/tcp: no tool needed).
port_taken() { (exec 3<>/dev/tcp/127.0.0.1/5672) 2>/dev/null; }

start() {
    bash "$here/install.sh"
    if is_up; then
        echo "tributary: RabbitMQ ($node) is already running" >&2
        return 0
    fi
    if port_taken; then
        echo "tributary: something already listens on localhost:5672, but it is not a RabbitMQ node ($node)" >&2
        echo "  this user's rabbitmqctl reaches, so a broker cannot start here. It may be another checkout's" >&2
        echo "  broker (stop it with that checkout's 'bash deploy/rabbitmq.sh stop') or another service" >&2
        echo "  (see 'ss -ltnp sport = :5672'). Free the port and run this again." >&2
        exit 1
    fi
    mkdir -p "$state_dir"
    # Debian's rabbitmq-server runs the node as user rabbitmq, which may not reach this checkout:
    # its configuration and database live in a folder of the rabbitmq user's, one per checkout.
    # Each clone (and so each CI run) starts with an empty broker, and queues left by one
    # checkout's tests and benchmarks (thousands make a restart take minutes) never slow another's.
    local key node_dir
    key=$(cd "$here/.." && pwd | sha256sum | cut -c1-12)
    node_dir=/var/lib/rabbitmq/tributary-$key
    $SUDO mkdir -p "$node_dir/mnesia"
    $SUDO tee "$node_dir/rabbitmq.conf" >/dev/null <<'CONF'
# Written by deploy/rabbitmq.sh. How long (ms) a delivery may stay unacknowledged before the broker
# closes the consumer's channel; Tributary workers acknowledge a task when it ends.
consumer_timeout = 86400000
CONF
    # Every queue holding persistent messages keeps files open (each run's status board and journal
    # is one): at the usual 1,024 descriptors a thousand runs at once fail with emfile, and the
    # node's own database with them. RabbitMQ asks for 65,536 (Debian's systemd unit sets it), but
    # rabbitmq-server switches to user rabbitmq through su, whose PAM session sets the limit back:
    # the node's environment file, read by the broker's own shell after that, raises it (up to the
    # hard limit).
    $SUDO tee "$node_dir/rabbitmq-env.conf" >/dev/null <<'ENV'
# Written by deploy/rabbitmq.sh: as many file descriptors as allowed, up to RabbitMQ's recommended 65,536.
limit=$(ulimit -Hn)
if [ "$limit" = unlimited ] || [ "$limit" -gt 65536 ]; then limit=65536; fi
ulimit -n "$limit"
ENV
    $SUDO chown -R rabbitmq:rabbitmq "$node_dir"
    export RABBITMQ_CONFIG_FILE="$node_dir/rabbitmq.conf"
    export RABBITMQ_CONF_ENV_FILE="$node_dir/rabbitmq-env.conf"
    export RABBITMQ_MNESIA_BASE="$node_dir/mnesia"
    echo "tributary: starting RabbitMQ ($node) in the background; log: $state_dir/rabbitmq.log" >&2
    # setsid detaches the broker from this shell's process group so it outlives the script.
    setsid rabbitmq-server >"$state_dir/rabbitmq.log" 2>&1 < /dev/null &
    echo $! >"$state_dir/rabbitmq.pid"
    # await_startup fails at once while the node is not yet registered, so ask again until it answers.
    # A loaded 2-core machine (a build beside it) can take minutes to boot the node: the limit is
    # TRIB_RABBITMQ_START_TIMEOUT seconds, 300 unless set.
    local limit=${TRIB_RABBITMQ_START_TIMEOUT:-300}
    local deadline=$((SECONDS + limit)) next_note=$((SECONDS + 30))
    until rabbitmqctl -n "$node" -q await_startup --timeout 10 >/dev/null 2>&1; do
        if ! kill -0 "$(cat "$state_dir/rabbitmq.pid")" 2>/dev/null; then
            echo "tributary: RabbitMQ exited while starting; last lines of its log:" >&2
            tail -n 30 "$state_dir/rabbitmq.log" >&2 || true
            exit 1
        fi
        if [ $SECONDS -ge $deadline ]; then
            echo "tributary: RabbitMQ did not start within $limit s (TRIB_RABBITMQ_START_TIMEOUT sets the limit);" \
                "last lines of its log:" >&2
            tail -n 30 "$state_dir/rabbitmq.log" >&2 || true
            exit 1
        fi
        if [ $SECONDS -ge $next_note ]; then
            echo "tributary: still waiting for RabbitMQ to start ($SECONDS s)" >&2
            next_note=$((SECONDS + 30))
        fi
        sleep 1
    done
    echo "tributary: RabbitMQ is up at amqp://guest:guest@localhost:5672/" >&2
}

# The process this script started (its pid file) and all its descendants (su, the shell, the Erlang VM).
started_processes() {
    local pid
    pid=$(cat "$state_dir/rabbitmq.pid" 2>/dev/null) || return 0
    kill -0 "$pid" 2>/dev/null || return 0
    local todo=("$pid") found=()
    while [ ${#todo[@]} -gt 0 ]; do
        pid=${todo[0]}
        todo=("${todo[@]:1}")
        found+=("$pid")
        # shellcheck disable=SC2207
        todo+=($(ps -o pid= --ppid "$pid" 2>/dev/null || true))
    done
    echo "${found[@]}"
}

# Ends the processes this script started: TERM, then KILL for any still there after 30 s.
end_started_processes() {
    local pids pid alive
    read -ra pids <<<"$(started_processes)"
    [ ${#pids[@]} -gt 0 ] || return 0
    echo "tributary: RabbitMQ ($node) does not answer; ending the processes this script started: ${pids[*]}" >&2
    kill -TERM "${pids[@]}" 2>/dev/null || true
    for _ in $(seq 1 30); do
        alive=
        for pid in "${pids[@]}"; do kill -0 "$pid" 2>/dev/null && alive=1; done
        [ -n "$alive" ] || return 0
        sleep 1
    done
    kill -KILL "${pids[@]}" 2>/dev/null || true
}

stop() {
    if is_up && rabbitmqctl -n "$node" -q stop >/dev/null 2>&1; then
        echo "tributary: RabbitMQ stopped" >&2
    else
        # A node that no longer answers (its database failed) is ended by its process ids.
        end_started_processes
    fi
    rm -f "$state_dir/rabbitmq.pid"
}

case "${1:-}" in
    start) start ;;
    stop) stop ;;
    status) is_up ;;
    *) echo "usage: deploy/rabbitmq.sh start|stop|status" >&2; exit 2 ;;
esac
