#!/usr/bin/env bash
# CI gate on deterministic figures only: the malloc counts of the engine micro-benchmarks must
# not rise above the thresholds recorded in Benchmarks/Thresholds (wall-clock figures are never
# gated: this machine is noisy), and the async client's mallocs per message (scripts/ci/client-mallocs.sh,
# threshold in Benchmarks/Thresholds/AsyncClient.mallocs-per-message). To record new engine
# thresholds after a deliberate change:
#   cd Benchmarks && swift package --allow-writing-to-package-directory benchmark thresholds update \
#       --metric mallocCountTotal --filter 'ReplyParser-.*|LineScan-.*|Session-.*'
set -euo pipefail
cd "$(dirname "$0")/../Benchmarks"
export PATH="/opt/swift/usr/bin:$PATH"
swift package benchmark thresholds check --metric mallocCountTotal --filter 'ReplyParser-.*|LineScan-.*|Session-.*' --no-progress
# The async client's allocations per message (SMTPAsyncClient into smtp-sink, every thread).
../scripts/ci/client-mallocs.sh
echo "bench-gate: malloc counts within the recorded thresholds"
