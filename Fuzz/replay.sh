#!/usr/bin/env bash
# Replays, under the fuzzer build (ASan on), every kept input of every target (or of the named
# targets): the corpus, every regression, and every artifact the fuzzer left in Fuzz/artifacts.
#   Fuzz/replay.sh [TARGET...]
# Exits non-zero if any input still crashes, times out or leaks.
set -uo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(reply-parser capabilities engine body-encoder connection)
failed=0
for target in "${targets[@]}"; do
    binary=$("$here/build.sh" "$target") || { echo "$target: build failed"; failed=1; continue; }
    for folder in corpus regressions; do
        dir="$here/$folder/$target"
        count=$(find "$dir" -maxdepth 1 -type f ! -name '.*' ! -name 'README.md' 2>/dev/null | wc -l)
        if [ "$count" -eq 0 ]; then echo "$target: no inputs in $folder/"; failed=1; continue; fi
        if SWIFT_BACKTRACE=enable=no "$binary" -runs=0 -timeout=10 "$dir" >/tmp/replay-$$.log 2>&1; then
            echo "$target: $folder/ ($count inputs) ok"
        else
            echo "$target: $folder/ FAILED"; grep -vE '^\s+#[0-9]+ 0x' /tmp/replay-$$.log | grep -E 'ERROR|SUMMARY|Fatal error|Running' | tail -5
            failed=1
        fi
    done
    shopt -s nullglob
    artifacts=("$here/artifacts/$target"/crash-* "$here/artifacts/$target"/timeout-* "$here/artifacts/$target"/leak-* \
               "$here/artifacts/$target"/oom-* "$here/artifacts/$target"/slow-unit-* "$here/artifacts/$target"/minimized-from-*)
    shopt -u nullglob
    bad=0
    for artifact in "${artifacts[@]}"; do
        if ! SWIFT_BACKTRACE=enable=no "$binary" -runs=1 -timeout=10 "$artifact" >/tmp/replay-$$.log 2>&1; then
            echo "$target: artifact $(basename "$artifact") FAILS"; bad=1
        fi
    done
    [ ${#artifacts[@]} -gt 0 ] && { [ $bad -eq 0 ] && echo "$target: ${#artifacts[@]} artifacts ok" || failed=1; }
done
rm -f /tmp/replay-$$.log
exit $failed
