#!/usr/bin/env bash
# `swift build` as the project's scripts run it (tests, demo, benchmarks), with the arguments given.
# A debug build is made without debug info (TRIB_DEBUG_INFO=dwarf to keep it): the tests, the demo
# and the smoke benchmarks need none, and one module (GRDB) compiled up to a fifth faster without it.
# Every script builds through here, so one script's build is never undone by another's flags.
set -euo pipefail

configuration=debug
previous=
for argument in "$@"; do
    case "$previous" in -c|--configuration) configuration=$argument ;; esac
    case "$argument" in --configuration=*) configuration=${argument#--configuration=} ;; esac
    previous=$argument
done
if [ "$configuration" = debug ]; then
    exec swift build -debug-info-format "${TRIB_DEBUG_INFO:-none}" "$@"
fi
exec swift build "$@"
