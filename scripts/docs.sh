#!/usr/bin/env bash
# make docs: the DocC documentation of every module, built as a user would build it (from the
# package root, `swift package generate-documentation`), failing on any warning or error (an
# unresolved symbol link is a warning); then every public symbol must have a doc comment
# (scripts/check-doc-coverage.py), and every Swift block of the articles must be one that
# Tests/Downstream compiles and runs (scripts/check-readme-snippets.py; `make test` runs them).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="/opt/swift/usr/bin:$PATH"
started=$(date +%s)
log=$(mktemp)
trap 'rm -f "$log"' EXIT

if ! swift package generate-documentation >"$log" 2>&1; then
    cat "$log" >&2
    echo "docs: swift package generate-documentation failed" >&2
    exit 1
fi
if grep -E "(warning|error):" "$log" >/dev/null; then
    grep -E -A8 "(warning|error):" "$log" >&2
    echo "docs: $(grep -c -E "(warning|error):" "$log") warning(s) or error(s) from swift package generate-documentation" >&2
    exit 1
fi
archives=$(grep -c "\.doccarchive$" "$log" || true)
echo "docs: $archives documentation archives in .build/plugins/Swift-DocC/outputs, no warnings"
# The symbol graphs generate-documentation just extracted (public symbols, as the docs show).
python3 scripts/check-doc-coverage.py --docc "$started"
python3 scripts/check-readme-snippets.py
echo "docs: passed in $(( $(date +%s) - started )) s"
