#!/usr/bin/env bash
# Builds one fuzz target with libFuzzer and AddressSanitizer and prints the binary's path.
#   Fuzz/build.sh TARGET
#
# The recipe (see README.md): one product at a time, `--sanitize=fuzzer --sanitize=address`
# (SwiftPM then links libFuzzer's main), -DFUZZING to drop the replay-only @main, and also
# `-Xswiftc -sanitize=fuzzer,address`: SwiftPM passes its two sanitizers as two `-sanitize=`
# flags in an order that changes from run to run, and the swift driver keeps only the last, so
# without the combined flag a build randomly lacks either coverage instrumentation (libFuzzer
# reports no "cov") or ASan. Each target gets its own scratch folder (a changed flag order
# rebuilds everything), and the binary is checked for libFuzzer's coverage counters. SwiftPM
# also keeps a scratch folder's build plan when a source file is added to the main package (a
# path dependency here), so the plan is dropped whenever the list of source files changes.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
[ -d /opt/swift/usr/bin ] && export PATH="/opt/swift/usr/bin:$PATH"
target=${1:?usage: $0 TARGET}
scratch="$here/.build/fuzz-$target"
sources=$(cd "$here/.." && find Sources Fuzz/Sources -name '*.swift' | sort | cksum)
if [ "$(cat "$scratch/.fuzz-sources" 2>/dev/null)" != "$sources" ]; then
    rm -f "$scratch/release.yaml" "$scratch/build.db"
fi
swift build --package-path "$here" --scratch-path "$scratch" -c release --product "$target" \
    --sanitize=fuzzer --sanitize=address -Xswiftc -sanitize=fuzzer,address -Xswiftc -DFUZZING >&2
symbols=$(nm "$scratch/release/$target" 2>/dev/null || true)
if ! grep -q __start___sancov_cntrs <<<"$symbols"; then
    echo "build.sh: $target has no coverage instrumentation" >&2
    exit 1
fi
echo "$sources" >"$scratch/.fuzz-sources"
echo "$scratch/release/$target"
