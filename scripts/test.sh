#!/usr/bin/env bash
# `make test`: installs what is missing, starts the real servers (scripts/rig), runs every test
# (the engine's, the drivers' against Postfix/aiosmtpd/smtp-sink, the fuzz regressions, the
# smtp-send end-to-end tests and the hostile-server scenarios), then stops the servers. Fails if
# any test was skipped.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="/opt/swift/usr/bin:$PATH:/usr/sbin:/usr/local/sbin:/sbin"

# Dovecot LMTP and the libraries of the unpacked Exim (scripts/rig/dovecot.sh, exim.sh) too.
scripts/install-deps.sh libssl-dev libuv1-dev pkg-config postfix sasl2-bin libsasl2-modules swaks git-email \
    dovecot-core dovecot-lmtpd libmariadb3 libidn12 libspf2-2

scripts/rig/rig.sh start
trap 'scripts/rig/rig.sh stop >/dev/null 2>&1 || true' EXIT
set -a
. "${RIG_DIR:-.rig}/rig.env"
set +a

swift build --build-tests
log="${RIG_DIR:-.rig}/logs/swift-test.log"
set +e
swift test --skip-build 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
set -e
if [ "$status" -ne 0 ]; then
    echo "test: swift test failed (exit $status)" >&2
    exit "$status"
fi
# Integration tests are enabled only when the rig is up; here it is, so none may be skipped.
if grep -E "◇ Test .* skipped|Test .* skipped" "$log" >/dev/null; then
    grep -E "skipped" "$log" >&2
    echo "test: some tests were skipped" >&2
    exit 1
fi
grep -E "✔ Test run with [0-9]+ tests" "$log" >/dev/null || { echo "test: no Swift Testing summary" >&2; exit 1; }

swift build --product smtp-send
export SMTP_SEND="$(swift build --show-bin-path)/smtp-send"
# smtp-send end to end, then the hostile-server scenarios (both drivers each).
python3 -m pytest -q -p no:cacheprovider Tests/cli
# The hostile scenarios mostly wait for the client's timeouts (each has its own scripted server
# on an ephemeral port and reads only the rig's certificates), so four run at once; every
# timing bound they assert has a 3 s margin.
python3 -m pytest -q -p no:cacheprovider -n 4 Tests/hostile
# The README as a user meets it: every Swift snippet verbatim in a package that depends on this
# one by its products, built, and run against the rig.
python3 scripts/check-readme-snippets.py
swift build --package-path Tests/Downstream
"$(swift build --package-path Tests/Downstream --show-bin-path)/ReadmeSnippets"
scripts/check-nio-free.sh
echo "test: all tests passed"
