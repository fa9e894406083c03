#!/usr/bin/env bash
# Instructions per reply of the reply parser (valgrind --tool=callgrind, deterministic where
# wall-clock figures are not): builds SMTPCore from SOURCE_ROOT (default: this checkout) as its
# own module, -O -wmo, and a driver over the benchmark corpora, then counts the instructions in
# ParserLoop.parseAll for 1 and for 3 passes; the difference over 2 is one steady-state pass. Both
# ways of feeding the parser: append and next() ("next"), and parse(_:_:) ("borrowed").
#   scripts/bench/reply-parser-callgrind.sh [SOURCE_ROOT]
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "${1:-$here/../..}" && pwd)"
[ -d /opt/swift/usr/bin ] && export PATH="/opt/swift/usr/bin:$PATH"
corpora="$here/../../Benchmarks/Benchmarks/EngineBenchmarks"
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
cd "$out"
# The C scanner the parser imports (header-only), as a module of its own, when the tree has it.
scan="$root/Sources/CSMTPScan/include/CSMTPScan.h" cflags=""
if [ -f "$scan" ]; then
    mkdir CSMTPScan
    printf 'module CSMTPScan {\n    header "%s"\n    export *\n}\n' "$scan" > CSMTPScan/module.modulemap
    cflags="-I $out/CSMTPScan"
fi
mapfile -d '' core < <(find "$root/Sources/SMTPCore" -name '*.swift' -print0) # a path may hold spaces
swiftc -O -wmo $cflags -parse-as-library -package-name smtp_machine -module-name SMTPCore -emit-module -emit-module-path SMTPCore.swiftmodule \
    -emit-library -static -o libSMTPCore.a "${core[@]}"
# A tree from before parse(_:_:) is measured the one way it has.
modes="next borrowed" flags=""
grep -rq "func parse(_ bytes: UnsafeRawBufferPointer" "$root/Sources/SMTPCore" || { modes="next"; flags="-D NO_BORROWED"; }
swiftc -O -wmo $flags $cflags -I . -L . -lSMTPCore -o driver "$here/reply-parser-callgrind/main.swift" "$here/ParserLoop.swift" \
    "$corpora/ShortReplyCorpus.swift" "$corpora/ReplyCorpus.swift"
count() { # corpus passes mode -> instructions
    valgrind --tool=callgrind --callgrind-out-file=/dev/null --toggle-collect='*parseAll*' ./driver "$1" "$2" "$3" 2>&1 \
        | sed -n 's/.*Collected : \([0-9]*\).*/\1/p'
}
for mode in $modes; do
    for corpus in short long realistic; do
        replies=$(./driver "$corpus" 1)
        one=$(count "$corpus" 1 $mode)
        three=$(count "$corpus" 3 $mode)
        python3 -c "pass_=($three-$one)/2; print(f'$corpus ($mode): {pass_:,.0f} instructions per 1 MiB pass, {pass_/$replies:,.1f} per reply ($replies replies)')"
    done
done
