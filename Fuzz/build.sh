#!/usr/bin/env bash
# Builds every fuzz target with libFuzzer and AddressSanitizer (one `swift build`, one scratch
# folder) and prints the named target's binary.
#   Fuzz/build.sh TARGET
#
# The recipe (see README.md): `--sanitize=fuzzer --sanitize=address` (SwiftPM then links
# libFuzzer's main into every executable, and every executable of this package is a fuzz
# target), -DFUZZING to drop the replay-only @main, and also `-Xswiftc -sanitize=fuzzer,address`:
# SwiftPM keeps its sanitizers in a set, passes them as two `-sanitize=` flags in an order that
# changes from run to run, and the swift driver keeps only the last, so without the combined flag
# a build randomly lacks either coverage instrumentation (libFuzzer reports no "cov") or ASan.
# SWIFT_DETERMINISTIC_HASHING fixes that order, so a second run does not rebuild everything;
# and when no source file changed (names and contents, the stamp below) there is no second run:
# the first call builds all five targets, the next four print a path. Every binary is checked
# for libFuzzer's coverage counters and for ASan. SwiftPM also keeps a scratch folder's build plan
# when a source file is added to the main package (a path dependency here), so the plan is
# dropped whenever the list of source files changes.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
[ -d /opt/swift/usr/bin ] && export PATH="/opt/swift/usr/bin:$PATH"
target=${1:?usage: $0 TARGET}
targets=(reply-parser capabilities engine body-encoder connection)
scratch="$here/.build/fuzz"
cd "$here/.."
# Every source the fuzz targets are built from: the engine, the drivers' connection layer, the
# C scanner and system-library maps, the harnesses, and both manifests.
names=$(find Sources Drivers Fuzz/Sources \( -name '*.swift' -o -name '*.c' -o -name '*.h' -o -name '*.modulemap' \) \
    | LC_ALL=C sort)
stamp="$(cksum <<<"$names") $(xargs -d '\n' cat <<<"$names" | cksum) $(cat Package.swift "$here/Package.swift" | cksum)"
built() { for t in "${targets[@]}"; do [ -x "$scratch/release/$t" ] || return 1; done; }
if [ "$(cat "$scratch/.fuzz-stamp" 2>/dev/null)" != "$stamp" ] || ! built; then
    if [ "$(cat "$scratch/.fuzz-names" 2>/dev/null)" != "$(cksum <<<"$names")" ]; then
        rm -f "$scratch/release.yaml" "$scratch/build.db"
    fi
    rm -f "$scratch/.fuzz-stamp"
    SWIFT_DETERMINISTIC_HASHING=1 swift build --package-path "$here" --scratch-path "$scratch" -c release \
        --sanitize=fuzzer --sanitize=address -Xswiftc -sanitize=fuzzer,address -Xswiftc -DFUZZING >&2
    for t in "${targets[@]}"; do
        symbols=$(nm "$scratch/release/$t" 2>/dev/null || true)
        if ! grep -q __start___sancov_cntrs <<<"$symbols"; then
            echo "build.sh: $t has no coverage instrumentation" >&2
            exit 1
        fi
        if ! grep -q __asan_init <<<"$symbols"; then
            echo "build.sh: $t has no AddressSanitizer" >&2
            exit 1
        fi
    done
    cksum <<<"$names" >"$scratch/.fuzz-names"
    echo "$stamp" >"$scratch/.fuzz-stamp"
fi
[ -x "$scratch/release/$target" ] || { echo "build.sh: no fuzz target $target" >&2; exit 2; }
echo "$scratch/release/$target"
