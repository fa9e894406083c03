#!/usr/bin/env bash
# CI smoke run: every target for SECONDS each (default 60), after replaying the kept inputs.
# The targets are built first (one build for all five, which already uses every core); then the
# fuzzers run in two lanes side by side, one per core (a fuzzer is single-threaded), so five
# one-minute runs take three minutes. Exits non-zero on any finding, with that lane's output.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
seconds=${1:-60}
"$here/replay.sh"
# replay.sh built them all (build.sh builds every target at once).
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
lane() {
    local name=$1
    shift
    for target in "$@"; do
        "$here/run.sh" "$target" "$seconds" >>"$out/$name" 2>&1 || return 1
    done
}
lane a reply-parser engine connection &
a=$!
lane b capabilities body-encoder &
b=$!
status=0
wait "$a" || status=1
wait "$b" || status=1
cat "$out/a" "$out/b"
exit $status
