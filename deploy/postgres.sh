#!/usr/bin/env bash
# Starts, stops or reports on a local PostgreSQL for the server's store and its tests, running as a
# background process (no init system needed).
#   deploy/postgres.sh start    install if missing, make its cluster on first use, start, wait (idempotent)
#   deploy/postgres.sh stop     stop it (fast shutdown)
#   deploy/postgres.sh restart  restart it (the tests restart it under a recording server)
#   deploy/postgres.sh status   exit 0 if it answers
#   deploy/postgres.sh url      print its URL
# Debian's postgresql, one cluster per checkout in /var/lib/postgresql/tributary-<hash of its path>,
# owned by user postgres, on port 5433 (not the default 5432, which a system cluster may hold), with
# user and database tributary (password tributary), which may create databases (the tests make one each).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
port=${TRIB_POSTGRES_PORT:-5433}
url="postgres://tributary:tributary@127.0.0.1:$port/tributary"
key=$(cd "$here/.." && pwd | sha256sum | cut -c1-12)
data=/var/lib/postgresql/tributary-$key
log=$data.log

if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; else SUDO=; fi
as_postgres() { $SUDO runuser -u postgres -- "$@"; }
bin() { echo "/usr/lib/postgresql/$(ls /usr/lib/postgresql | sort -n | tail -1)/bin/$1"; }

# This checkout's cluster runs and answers (another one on the port does not count).
is_up() {
    [ -f "$data/PG_VERSION" ] && as_postgres "$(bin pg_ctl)" -D "$data" status >/dev/null 2>&1 \
        && as_postgres "$(bin pg_isready)" -q -h 127.0.0.1 -p "$port" 2>/dev/null
}

start() {
    bash "$here/install.sh" postgresql
    if is_up; then
        echo "tributary: PostgreSQL is already running at $url" >&2
        return 0
    fi
    if [ ! -f "$data/PG_VERSION" ]; then
        echo "tributary: making a PostgreSQL cluster in $data" >&2
        $SUDO mkdir -p "$data"
        $SUDO chown postgres:postgres "$data"
        local pwfile
        pwfile=$(mktemp)
        echo postgres >"$pwfile"
        $SUDO chown postgres "$pwfile"
        as_postgres "$(bin initdb)" -D "$data" -A md5 -U postgres --pwfile="$pwfile" >/dev/null
        rm -f "$pwfile"
    fi
    $SUDO touch "$log"
    $SUDO chown postgres:postgres "$log"
    echo "tributary: starting PostgreSQL in the background on port $port; log: $log" >&2
    # Its output to the log, not to this script's: the server would hold a caller's pipe open.
    as_postgres "$(bin pg_ctl)" -D "$data" -l "$log" -o "-p $port -k /tmp -c listen_addresses=127.0.0.1" -w -t 60 start \
        </dev/null >>"$log" 2>&1
    PGPASSWORD=postgres "$(bin psql)" -h 127.0.0.1 -p "$port" -U postgres -d postgres -qtA -c \
        "SELECT 1 FROM pg_roles WHERE rolname = 'tributary'" | grep -q 1 || \
        PGPASSWORD=postgres "$(bin psql)" -h 127.0.0.1 -p "$port" -U postgres -d postgres -q -c \
            "CREATE ROLE tributary LOGIN CREATEDB PASSWORD 'tributary'" -c "CREATE DATABASE tributary OWNER tributary"
    echo "tributary: PostgreSQL is up at $url" >&2
}

stop() {
    if is_up; then as_postgres "$(bin pg_ctl)" -D "$data" -m fast -w stop >/dev/null; fi
}

case "${1:-}" in
    start) start ;;
    stop) stop ;;
    restart) as_postgres "$(bin pg_ctl)" -D "$data" -m fast -w -t 60 restart -l "$log" \
        -o "-p $port -k /tmp -c listen_addresses=127.0.0.1" </dev/null >>"$log" 2>&1 ;;
    status) is_up ;;
    url) echo "$url" ;;
    *) echo "usage: deploy/postgres.sh start|stop|restart|status|url" >&2; exit 2 ;;
esac
