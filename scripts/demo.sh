#!/usr/bin/env bash
# `make demo`: the seed's tls.py session, done right. Starts a throwaway Postfix with STARTTLS on
# loopback, sends the seed's message through it with `smtp-send -v` (certificate verified
# against the test CA), shows the transcript and Postfix's log line for the message, and stops
# Postfix again.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="/opt/swift/usr/bin:$PATH:/usr/sbin:/usr/local/sbin:/sbin"

scripts/install-deps.sh libssl-dev libuv1-dev pkg-config postfix sasl2-bin libsasl2-modules swaks
swift build --product smtp-send -c release --static-swift-stdlib >/dev/null
bin="$(swift build -c release --static-swift-stdlib --show-bin-path)/smtp-send"

# Postfix is all the demo needs: no Exim, no Dovecot.
scripts/rig/rig.sh start --core >/dev/null
trap 'scripts/rig/rig.sh stop >/dev/null 2>&1 || true' EXIT
. "${RIG_DIR:-.rig}/rig.env"

port=$RIG_POSTFIX_STARTTLS_PORT
echo "== smtp-send -v --ca-file <test CA> 127.0.0.1:$port a@example.org b@example.net"
echo
set +e
"$bin" -v --ca-file "$RIG_CA_FILE" "127.0.0.1:$port" a@example.org b@example.net
status=$?
set -e
echo
echo "== exit status: $status"
# Postfix logs the delivery after it answered; wait (bounded) for the line.
queue_id=""
for _ in $(seq 1 100); do
    queue_id=$(grep -o 'postfix/starttls/smtpd\[[0-9]*\]: [0-9A-F]*: client=' "$RIG_POSTFIX_MAILLOG" | tail -1 | awk '{print $2}' | tr -d :)
    [ -n "$queue_id" ] && grep -q "$queue_id: to=<b@example.net>.*status=sent" "$RIG_POSTFIX_MAILLOG" && break
    sleep 0.1
done
echo "== Postfix's log for the message ($queue_id):"
grep "$queue_id" "$RIG_POSTFIX_MAILLOG" || true
exit $status
