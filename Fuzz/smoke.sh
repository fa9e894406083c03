#!/usr/bin/env bash
# CI smoke run: every target for SECONDS each (default 60), one after the other, after
# replaying the kept inputs. About 6 minutes including the builds. Exits non-zero on any finding.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
seconds=${1:-60}
"$here/replay.sh"
for target in reply-parser capabilities engine body-encoder connection; do
    "$here/run.sh" "$target" "$seconds"
done
