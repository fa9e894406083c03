#!/usr/bin/env bash
# Whether the reply parser's benchmark spread is the machine's (scripts/bench/phase-probe/main.swift):
# builds SMTPCore from this checkout as its own module (-O -wmo) and the probe over the
# benchmark's short-reply corpus, runs it, and writes its JSON to stdout or to $1.
#   scripts/bench/phase-probe.sh [OUT.json] (ITERATIONS in the environment, default 1500)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
[ -d /opt/swift/usr/bin ] && export PATH="/opt/swift/usr/bin:$PATH"
corpora="$root/Benchmarks/Benchmarks/EngineBenchmarks"
out="${1:-}"
[ -z "$out" ] || out="$(cd "$(dirname "$out")" && pwd)/$(basename "$out")" # the probe runs elsewhere
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
mkdir CSMTPScan
printf 'module CSMTPScan {\n    header "%s"\n    export *\n}\n' "$root/Sources/CSMTPScan/include/CSMTPScan.h" > CSMTPScan/module.modulemap
mapfile -d '' core < <(find "$root/Sources/SMTPCore" -name '*.swift' -print0) # a path may hold spaces
swiftc -O -wmo -I "$work/CSMTPScan" -parse-as-library -package-name smtp_machine -module-name SMTPCore -emit-module -emit-module-path SMTPCore.swiftmodule \
    -emit-library -static -o libSMTPCore.a "${core[@]}"
swiftc -O -wmo -I "$work/CSMTPScan" -I . -L . -lSMTPCore -o probe "$here/phase-probe/main.swift" "$here/ParserLoop.swift" \
    "$corpora/ShortReplyCorpus.swift" "$corpora/LineScanLoop.swift"
if [ -n "$out" ]; then ./probe "${ITERATIONS:-1500}" > "$out"; else ./probe "${ITERATIONS:-1500}"; fi
