#!/usr/bin/env bash
# Builds one libFuzzer target and fuzzes it for N seconds.
#
#   Fuzz/run.sh TARGET SECONDS [libFuzzer options...]
#   TARGET: reply-parser | capabilities | engine | body-encoder | connection
#
# The kept corpus (Fuzz/corpus/TARGET) is copied into a work folder (Fuzz/corpus-work/TARGET,
# git-ignored, kept between runs) that the fuzzer grows; crashes, timeouts, leaks and OOMs land
# in Fuzz/artifacts/TARGET/. Exits non-zero when the fuzzer found something. At the end prints
# executions per second, total executions and the final coverage (cov) and features (ft).
# Fold new findings of value back into the kept corpus with Fuzz/merge.sh.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
[ -d /opt/swift/usr/bin ] && export PATH="/opt/swift/usr/bin:$PATH"

usage() { echo "usage: $0 reply-parser|capabilities|engine|body-encoder|connection SECONDS [libFuzzer options...]" >&2; exit 2; }
[ $# -ge 2 ] || usage
target=$1 seconds=$2
shift 2
case "$target" in reply-parser|capabilities|engine|body-encoder|connection) ;; *) usage ;; esac
[[ "$seconds" =~ ^[0-9]+$ ]] || usage

binary=$("$here/build.sh" "$target")

work="$here/corpus-work/$target"
artifacts="$here/artifacts/$target"
mkdir -p "$work" "$artifacts"
cp -n "$here/corpus/$target/"* "$work/" 2>/dev/null || true
log="$artifacts/run-$(date +%Y%m%d-%H%M%S).log"

echo "fuzzing $target for $seconds s (log: $log)"
set +e
SWIFT_BACKTRACE=enable=no "$binary" "$work" \
    -max_total_time="$seconds" \
    -dict="$here/smtp.dict" \
    -artifact_prefix="$artifacts/" \
    -timeout=10 -rss_limit_mb=2048 -max_len=8192 \
    -print_final_stats=1 -print_pcs=0 \
    "$@" >"$log" 2>&1
status=$?
set -e

# The summary: the last status line has cov/ft/exec/s; the final stats the totals.
last=$(grep -E '^#[0-9]+' "$log" | tail -1 || true)
execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log")
cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$last")
ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$last")
echo "$target: exec/s ${rate:-?}, total execs ${execs:-?}, cov ${cov:-?}, ft ${ft:-?}, corpus $(ls "$work" | wc -l) files"
if [ $status -ne 0 ]; then
    echo "$target: the fuzzer stopped with status $status; the report:" >&2
    grep -vE '^\s+#[0-9]+ 0x' "$log" | grep -E 'ERROR|SUMMARY|Fatal error|precondition|Test unit written|failure' | head -20 >&2
    exit $status
fi
