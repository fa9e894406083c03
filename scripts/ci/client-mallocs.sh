#!/usr/bin/env bash
# The async client's malloc gate: allocations per message through SMTPAsyncClient, one pooled
# connection into smtp-sink, counted by an LD_PRELOAD interposer (scripts/ci/malloc-count.c)
# over every thread of the process (the event loop's included), after a warm-up. Fails if the
# figure rises above Benchmarks/Thresholds/AsyncClient.mallocs-per-message (the debug build
# `make test` made; a count, so the noisy clock plays no part). Prints the figure either way.
#   scripts/ci/client-mallocs.sh            # check
#   scripts/ci/client-mallocs.sh --print    # only measure (to record a new threshold)
set -euo pipefail
cd "$(dirname "$0")/../.."
export PATH="/opt/swift/usr/bin:$PATH:/usr/sbin"
work=$(mktemp -d)
sink=""
cleanup() { [ -n "$sink" ] && kill "$sink" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
swift build --product PoolLoad >/dev/null
tool="$(swift build --show-bin-path)/PoolLoad"
clang -O2 -shared -fPIC -o "$work/malloc-count.so" scripts/ci/malloc-count.c
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
# smtp-sink as the rig runs it: PIPELINING, 8BITMIME, CHUNKING and the rest on by default.
smtp-sink -u nobody 127.0.0.1:"$port" 64 &
sink=$!
for _ in $(seq 100); do
    python3 -c "import socket; socket.create_connection(('127.0.0.1', $port), 0.2).close()" 2>/dev/null && break
    sleep 0.1  # waiting for a server to listen, not synchronising a test
done
measure() {  # LEVEL -> "PER-MESSAGE CONNECTIONS"
    local result
    result=$(LD_PRELOAD="$work/malloc-count.so" "$tool" mallocs "$port" 200 2000 "$1")
    python3 -c "import json, sys; r = json.loads(sys.argv[1]); print(r['per_message'], r['connections_opened'])" "$result"
}
read -r per opened <<<"$(measure info)"
echo "client-mallocs: $per mallocs per message through SMTPAsyncClient, logger at info (2,000 messages on $opened connection(s), after 200 to warm up)"
[ "$opened" = 1 ] || { echo "client-mallocs: expected one pooled connection, got $opened" >&2; exit 1; }
# What the log calls cost when they are on (a handler that drops every line): beside the figure
# above, it shows that calls below the level cost nothing.
for level in debug trace; do
    read -r on _ <<<"$(measure $level)"
    echo "client-mallocs: $on mallocs per message with the logger at $level (lines built, then dropped)"
done
if [ -n "${POOL_LOAD_RELEASE:-}" ]; then
    # make bench: the same count in the release build users run (where the coroutine frames of
    # the debug build's unspecialised collection accessors, a large share above, are gone).
    result=$(LD_PRELOAD="$work/malloc-count.so" "$POOL_LOAD_RELEASE" mallocs "$port" 200 2000 info)
    release=$(python3 -c "import json, sys; print(json.loads(sys.argv[1])['per_message'])" "$result")
    echo "client-mallocs: $release mallocs per message in a release build, logger at info (the same 2,000 messages)"
fi
below=$(LD_PRELOAD="$work/malloc-count.so" "$tool" log-calls | python3 -c "import json, sys; print(json.load(sys.stdin)['per_call'])")
echo "client-mallocs: $below mallocs per log call below the logger's level (200,000 debug and trace calls at info)"
[ "${1:-}" = "--print" ] && exit 0
python3 -c "import sys; sys.exit(0 if float(sys.argv[1]) == 0 else 1)" "$below" \
    || { echo "client-mallocs: a log call below the level allocated" >&2; exit 1; }
limit=$(tr -d ' \n' < Benchmarks/Thresholds/AsyncClient.mallocs-per-message)
if python3 -c "import sys; sys.exit(0 if float(sys.argv[1]) <= float(sys.argv[2]) else 1)" "$per" "$limit"; then
    echo "client-mallocs: within the threshold ($limit)"
else
    echo "client-mallocs: $per mallocs per message is above the threshold $limit" >&2
    exit 1
fi
