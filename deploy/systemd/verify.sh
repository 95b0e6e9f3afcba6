#!/usr/bin/env bash
# Checks the units in this directory with systemd-analyze verify (no systemd needs to run): each
# unit, with ExecStart pointed at a built trib (default: the debug build's) and the environment
# file made optional, as an instance where it is a template (worker@default, agent@ml).
#   bash deploy/systemd/verify.sh [PATH-TO-TRIB]
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
trib=${1:-$(bash "$here/../swift-build.sh" --show-bin-path)/trib}
[ -x "$trib" ] || { echo "verify.sh: no trib at $trib; build it first (bash deploy/swift-build.sh --product trib)" >&2; exit 1; }
command -v systemd-analyze >/dev/null || bash "$here/../install.sh" systemd
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
units=()
for unit in "$here"/*.service; do
    name=$(basename "$unit")
    case "$name" in
        *@.service) instance=${name%@.service}@$([ "$name" = tributary-agent@.service ] && echo ml || echo default).service ;;
        *) instance=$name ;;
    esac
    sed -e "s#/usr/local/bin/trib#$trib#" -e "s#^EnvironmentFile=/#EnvironmentFile=-/#" "$unit" >"$work/$name"
    [ "$instance" = "$name" ] || cp "$work/$name" "$work/$instance"
    units+=("$work/$instance")
done
systemd-analyze verify "${units[@]}"
echo "verify.sh: ${#units[@]} units verified: $(cd "$work" && ls | grep -v '@\.service' | tr '\n' ' ')"
