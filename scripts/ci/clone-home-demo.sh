#!/usr/bin/env bash
# The README's first commands from where a user puts a clone: a fresh clone of HEAD in a new
# directory that no other user may enter (mode 0700, as root's home is) and whose path holds a
# space, then `make demo` there. Passes when make demo exits 0 and printed the send's
# "Message successfully sent to 1 recipient(s)" line. Removes the clone afterwards.
#
# Tests what is committed (HEAD), not the work tree. CLONE_DEMO_PORT_BASE (default 25100) is
# the clone's RIG_PORT_BASE: away from the default rig (24500) that `make test` starts.
set -euo pipefail
repo="$(cd "$(dirname "$0")/../.." && pwd)"
port_base="${CLONE_DEMO_PORT_BASE:-25100}"

home="$(mktemp -d "${TMPDIR:-/tmp}/clone home.XXXXXX")"   # mktemp -d makes it 0700
clone="$home/my smtp"
cleanup() {
    if [ -x "$clone/scripts/rig/rig.sh" ]; then
        RIG_PORT_BASE="$port_base" "$clone/scripts/rig/rig.sh" stop >/dev/null 2>&1 || true
    fi
    rm -rf "$home"
    # SwiftPM's lock files for the clone's .build, named after its path.
    rm -f "${TMPDIR:-/tmp}/$(printf '%s' "$clone" | tr / _)"_.build*.lock
}
trap cleanup EXIT
fail() { echo "clone-home-demo: FAILED: $*" >&2; exit 1; }

# The precondition this test is about: the users Postfix and smtp-sink run as cannot enter it.
[ "$(stat -c %a "$home")" = 700 ] || fail "$home is not mode 0700"
for user in postfix nobody; do
    if runuser -u "$user" -- test -x "$home"; then fail "user $user can enter $home"; fi
done

git clone -q "$repo" "$clone"
echo "clone-home-demo: make demo in '$clone' (RIG_PORT_BASE=$port_base)"
log="$home/demo.log"
set +e
(cd "$clone" && RIG_PORT_BASE="$port_base" make demo) >"$log" 2>&1
status=$?
set -e
if [ "$status" -ne 0 ] || ! grep -qx 'Message successfully sent to 1 recipient(s)' "$log"; then
    echo "---- last 40 lines of make demo's output" >&2
    tail -n 40 "$log" >&2
    fail "make demo exited $status in '$clone'"
fi
echo "clone-home-demo: passed"
