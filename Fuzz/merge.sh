#!/usr/bin/env bash
# Minimizes the kept corpus of a target: merges Fuzz/corpus/TARGET and the work corpus the runs
# grew into the smallest set with the same coverage, and replaces Fuzz/corpus/TARGET with it.
#   Fuzz/merge.sh TARGET
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
target=${1:?usage: $0 TARGET}
binary=$("$here/build.sh" "$target")
merged=$(mktemp -d)
mkdir -p "$here/corpus-work/$target"
if ! SWIFT_BACKTRACE=enable=no "$binary" -merge=1 -timeout=10 -max_len=8192 "$merged" \
    "$here/corpus/$target" "$here/corpus-work/$target" >"$merged.log" 2>&1; then
    echo "$target: merge failed (an input crashes?); corpus left as it was" >&2
    grep -E 'ERROR|SUMMARY' "$merged.log" >&2 || true
    exit 1
fi
grep -E 'MERGE-OUTER: [0-9]+ new files' "$merged.log" || true
[ -n "$(ls "$merged")" ] || { echo "$target: merge produced nothing; corpus left as it was" >&2; exit 1; }
rm -f "$merged.log" "$here/corpus/$target/"*
cp "$merged"/* "$here/corpus/$target/"
rm -rf "$merged"
echo "$target: kept corpus now $(ls "$here/corpus/$target" | wc -l) files, $(du -sk "$here/corpus/$target" | cut -f1) KiB"
