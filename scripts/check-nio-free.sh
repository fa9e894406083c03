#!/usr/bin/env bash
# Users who don't want SwiftNIO don't build it: two packages that depend on this one the way a
# user's does (Tests/NIOFree/EngineOnly: SMTPCore alone; Tests/NIOFree/SocketOnly: the socket
# driver alone) are built from scratch with `swift build -v`, and the modules the compiler was
# asked to build are read off the log (every `-module-name X` of a swift-frontend or swiftc
# command). Fails if one of them is a SwiftNIO module (NIO*, CNIO*, _NIO*, Atomics...), or if the
# modules expected were not seen (so a log the grep cannot read fails too).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="/opt/swift/usr/bin:$PATH"
status=0
check() {
    local package=$1 expected=$2
    local scratch log
    scratch=$(mktemp -d)
    log="$scratch/build.log"
    if ! swift build --package-path "Tests/NIOFree/$package" --scratch-path "$scratch/build" -v >"$log" 2>&1; then
        tail -30 "$log" >&2
        echo "check-nio-free: $package did not build" >&2
        rm -rf "$scratch"
        return 1
    fi
    local modules
    modules=$(grep -oE -- "-module-name [A-Za-z0-9_]+" "$log" | awk '{print $2}' | sort -u | tr '\n' ' ')
    rm -rf "$scratch"
    for module in $expected; do
        if [[ " $modules " != *" $module "* ]]; then
            echo "check-nio-free: $package: expected to compile $module; compiled: $modules" >&2
            return 1
        fi
    done
    local foreign
    foreign=$(tr ' ' '\n' <<<"$modules" | grep -E '^(_?C?NIO|_NIO|Atomics|_Atomics|DequeModule|InternalCollectionsUtilities)' || true)
    if [ -n "$foreign" ]; then
        echo "check-nio-free: $package compiled SwiftNIO's modules: $(tr '\n' ' ' <<<"$foreign")" >&2
        return 1
    fi
    echo "check-nio-free: $package compiled only: $modules"
}
check EngineOnly "SMTPCore EngineOnly" || status=1
check SocketOnly "SMTPCore SMTPTLS SMTPConnection SMTPSocketDriver SocketOnly" || status=1
exit $status
