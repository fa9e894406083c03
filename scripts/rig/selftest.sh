#!/usr/bin/env bash
# Checks a running rig with independent clients (swaks, openssl s_client, Python's ssl/socket):
# every port behaves as README.md says. Run after `rig.sh start`; prints one line per check and
# closes with "N passed, M failed". Exit 0 only when all pass.
set -uo pipefail

RIG_SCRIPTS="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$RIG_SCRIPTS/../.." && pwd)"
RIG_DIR="${RIG_DIR:-$REPO/.rig}"
PYTHON="${RIG_PYTHON:-python3}"
[ -r "$RIG_DIR/rig.env" ] || { echo "selftest: no $RIG_DIR/rig.env; run scripts/rig/rig.sh start" >&2; exit 1; }
# shellcheck disable=SC1091
. "$RIG_DIR/rig.env"

passed=0
failed=0
OUT="$(mktemp)"
trap 'rm -f "$OUT"' EXIT

# check NAME PATTERN COMMAND...: runs COMMAND, passes when its output matches the extended regex.
check() {
    local name="$1" pattern="$2"
    shift 2
    "$@" >"$OUT" 2>&1
    if grep -qE -- "$pattern" "$OUT"; then
        passed=$((passed + 1)); echo "ok    $name"
    else
        failed=$((failed + 1)); echo "FAIL  $name (no match for /$pattern/)"; sed 's/^/      | /' "$OUT" | tail -15
    fi
}

# check_not NAME PATTERN COMMAND...: passes when the output does NOT match.
check_not() {
    local name="$1" pattern="$2"
    shift 2
    "$@" >"$OUT" 2>&1
    if grep -qE -- "$pattern" "$OUT"; then
        failed=$((failed + 1)); echo "FAIL  $name (unexpected /$pattern/)"; sed 's/^/      | /' "$OUT" | tail -15
    else
        passed=$((passed + 1)); echo "ok    $name"
    fi
}

H=127.0.0.1
CA=(--tls-ca-path "$RIG_CA_FILE")
AUTH=(--auth-user "$RIG_SASL_USER" --auth-password "$RIG_SASL_PASSWORD")
MSG=(--from sender@example.org --to rcpt@example.net)

# delivered QUEUEID_SOURCE_FILE: the message the swaks output names reached status=sent.
delivered() {
    local id
    id="$(grep -oE 'queued as [0-9A-F]+' "$1" | awk '{print $3}' | tail -1)"
    [ -n "$id" ] || { echo "no queue id"; return; }
    for _ in $(seq 100); do
        if grep -E "$id: to=<.*status=sent" "$RIG_POSTFIX_MAILLOG"; then return; fi
        sleep 0.1
    done
    echo "no status=sent for $id"
}

sent_ok() {   # sent_ok NAME SWAKS-ARGS...: accepted with 250 and status=sent in the maillog
    local name="$1"
    shift
    local log
    log="$(mktemp)"
    swaks --server "$H" "$@" "${MSG[@]}" >"$log" 2>&1
    check "$name" "status=sent" delivered "$log"
    rm -f "$log"
}

echo "== Postfix STARTTLS port $RIG_POSTFIX_STARTTLS_PORT"
check "starttls: EHLO offers STARTTLS" '250-STARTTLS' swaks --server $H --port "$RIG_POSTFIX_STARTTLS_PORT" --quit-after EHLO
check "starttls: EHLO offers PIPELINING" '250-PIPELINING' swaks --server $H --port "$RIG_POSTFIX_STARTTLS_PORT" --quit-after EHLO
check "starttls: EHLO offers CHUNKING" '250.CHUNKING' swaks --server $H --port "$RIG_POSTFIX_STARTTLS_PORT" --quit-after EHLO
check "starttls: openssl verifies localhost" 'Verify return code: 0 \(ok\)' \
    bash -c "echo QUIT | openssl s_client -starttls smtp -connect $H:$RIG_POSTFIX_STARTTLS_PORT -CAfile $RIG_CA_FILE -verify_return_error -verify_hostname localhost"
check "starttls: openssl verifies IP 127.0.0.1" 'Verify return code: 0 \(ok\)' \
    bash -c "echo QUIT | openssl s_client -starttls smtp -connect $H:$RIG_POSTFIX_STARTTLS_PORT -CAfile $RIG_CA_FILE -verify_return_error -verify_ip 127.0.0.1"
sent_ok "starttls: --tls --tls-verify delivers (status=sent)" --port "$RIG_POSTFIX_STARTTLS_PORT" --tls --tls-verify "${CA[@]}"

echo "== Postfix submission port $RIG_POSTFIX_SUBMISSION_PORT"
check_not "submission: no AUTH before TLS" 'AUTH' swaks --server $H --port "$RIG_POSTFIX_SUBMISSION_PORT" --quit-after EHLO
check "submission: MAIL before TLS refused" '530 5.7.0 Must issue a STARTTLS' swaks --server $H --port "$RIG_POSTFIX_SUBMISSION_PORT" "${MSG[@]}"
for mech in PLAIN LOGIN CRAM-MD5; do
    sent_ok "submission: AUTH $mech after STARTTLS delivers" --port "$RIG_POSTFIX_SUBMISSION_PORT" --tls --tls-verify "${CA[@]}" --auth "$mech" "${AUTH[@]}"
done
check "submission: wrong password is 535" '535 5.7.8' swaks --server $H --port "$RIG_POSTFIX_SUBMISSION_PORT" --tls "${CA[@]}" --auth PLAIN --auth-user "$RIG_SASL_USER" --auth-password wrong "${MSG[@]}"
check "submission: no AUTH, recipient refused" '554 5.7.1' swaks --server $H --port "$RIG_POSTFIX_SUBMISSION_PORT" --tls "${CA[@]}" "${MSG[@]}"

echo "== Postfix implicit TLS port $RIG_POSTFIX_IMPLICIT_PORT"
sent_ok "implicit: --tlsc + AUTH PLAIN delivers" --port "$RIG_POSTFIX_IMPLICIT_PORT" --tlsc --tls-verify "${CA[@]}" --auth PLAIN "${AUTH[@]}"

echo "== Postfix plain-auth port $RIG_POSTFIX_PLAIN_AUTH_PORT"
check "plain-auth: AUTH offered without TLS" '250-AUTH PLAIN LOGIN CRAM-MD5' swaks --server $H --port "$RIG_POSTFIX_PLAIN_AUTH_PORT" --quit-after EHLO
check_not "plain-auth: no STARTTLS" 'STARTTLS' swaks --server $H --port "$RIG_POSTFIX_PLAIN_AUTH_PORT" --quit-after EHLO
sent_ok "plain-auth: AUTH PLAIN in the clear delivers" --port "$RIG_POSTFIX_PLAIN_AUTH_PORT" --auth PLAIN "${AUTH[@]}"

echo "== Postfix no-TLS port $RIG_POSTFIX_NOTLS_PORT"
check_not "notls: no STARTTLS" 'STARTTLS' swaks --server $H --port "$RIG_POSTFIX_NOTLS_PORT" --quit-after EHLO
check "notls: required TLS fails" 'did not advertise STARTTLS' swaks --server $H --port "$RIG_POSTFIX_NOTLS_PORT" --tls "${MSG[@]}"
sent_ok "notls: plaintext delivers" --port "$RIG_POSTFIX_NOTLS_PORT"

echo "== Postfix bad-certificate ports"
bad() {   # bad NAME PORT REASON
    check "$1: verification fails: $3" "verify error:num=[0-9]+:$3" \
        bash -c "echo QUIT | openssl s_client -starttls smtp -connect $H:$2 -CAfile $RIG_CA_FILE -verify_return_error -verify_hostname localhost"
}
bad expired "$RIG_POSTFIX_EXPIRED_PORT" "certificate has expired"
bad selfsigned "$RIG_POSTFIX_SELFSIGNED_PORT" "self-signed certificate"
bad wrongname "$RIG_POSTFIX_WRONGNAME_PORT" "hostname mismatch"
bad untrusted "$RIG_POSTFIX_UNTRUSTED_PORT" "unable to get local issuer certificate"
check "untrusted: verifies against RIG_UNTRUSTED_CA_FILE" 'Verify return code: 0 \(ok\)' \
    bash -c "echo QUIT | openssl s_client -starttls smtp -connect $H:$RIG_POSTFIX_UNTRUSTED_PORT -CAfile $RIG_UNTRUSTED_CA_FILE -verify_return_error -verify_hostname localhost"

echo "== aiosmtpd port $RIG_AIOSMTPD_PORT"
check "aiosmtpd: MAIL before STARTTLS refused" '530 Must issue a STARTTLS' swaks --server $H --port "$RIG_AIOSMTPD_PORT" "${MSG[@]}"
check_not "aiosmtpd: no AUTH before TLS" 'AUTH' swaks --server $H --port "$RIG_AIOSMTPD_PORT" --quit-after EHLO
check "aiosmtpd: MAIL without AUTH refused" '530 5.7.0 Authentication required' swaks --server $H --port "$RIG_AIOSMTPD_PORT" --tls "${CA[@]}" "${MSG[@]}"
check "aiosmtpd: wrong password is 535" '535 5.7.8' swaks --server $H --port "$RIG_AIOSMTPD_PORT" --tls "${CA[@]}" --auth PLAIN --auth-user "$RIG_SASL_USER" --auth-password wrong "${MSG[@]}"
for mech in PLAIN LOGIN; do
    check "aiosmtpd: AUTH $mech delivers" '250 2.0.0 OK saved as [0-9]{6}' swaks --server $H --port "$RIG_AIOSMTPD_PORT" --tls --tls-verify "${CA[@]}" --auth "$mech" "${AUTH[@]}" "${MSG[@]}"
done
check "aiosmtpd: exact bytes, BODY=8BITMIME, SMTPUTF8" 'EXACT' "$PYTHON" - <<'EOF'
import base64, json, os, socket, ssl
port = int(os.environ["RIG_AIOSMTPD_PORT"])
def reply(f):
    while True:
        line = f.readline()
        if line[3:4] != b"-":
            return line
s = socket.create_connection(("127.0.0.1", port), timeout=10)
f = s.makefile("rb")
reply(f); s.sendall(b"EHLO client.test\r\n"); reply(f)
s.sendall(b"STARTTLS\r\n"); assert reply(f).startswith(b"220")
s = ssl.create_default_context(cafile=os.environ["RIG_CA_FILE"]).wrap_socket(s, server_hostname="localhost")
f = s.makefile("rb")
def cmd(line, code):
    s.sendall(line); r = reply(f)
    assert r.startswith(code), (line, r)
    return r
cred = b"\0" + os.environ["RIG_SASL_USER"].encode() + b"\0" + os.environ["RIG_SASL_PASSWORD"].encode()
cmd(b"EHLO client.test\r\n", b"250")
cmd(b"AUTH PLAIN " + base64.b64encode(cred) + b"\r\n", b"235")
cmd("MAIL FROM:<jos\u00e9@example.org> BODY=8BITMIME SMTPUTF8\r\n".encode(), b"250")
cmd("RCPT TO:<b\u00fcr@example.net>\r\n".encode(), b"250")
cmd(b"DATA\r\n", b"354")
wire = b"Subject: caf\xc3\xa9\r\n\r\n..leading dot\r\n...\r\n..\r\nbare\nLF inside\r\n\xff\xfe 8bit\r\nend\r\n.\r\n"
sent = b"Subject: caf\xc3\xa9\r\n\r\n.leading dot\r\n..\r\n.\r\nbare\nLF inside\r\n\xff\xfe 8bit\r\nend\r\n"
number = cmd(wire, b"250").split()[-1].decode()
cmd(b"QUIT\r\n", b"221")
spool = os.environ["RIG_AIOSMTPD_SPOOL"]
got = open(os.path.join(spool, number + ".eml"), "rb").read()
meta = json.load(open(os.path.join(spool, number + ".json"), encoding="utf-8"))
print(meta)
assert got == sent, (got, sent)
assert meta["mail_options"] == ["BODY=8BITMIME", "SMTPUTF8"], meta
assert meta["rcpt_tos"] == ["b\u00fcr@example.net"] and meta["mail_from"] == "jos\u00e9@example.org", meta
assert meta["tls"] and meta["login"] == os.environ["RIG_SASL_USER"], meta
print("EXACT")
EOF

echo "== smtp-sink ports"
check "sink: PIPELINING offered" '250-PIPELINING' swaks --server $H --port "$RIG_SINK_PORT" --quit-after EHLO
check "sink: accepts a message" '<-  250 2.0.0 Ok' swaks --server $H --port "$RIG_SINK_PORT" "${MSG[@]}"
check_not "sink-nopipe: no PIPELINING" 'PIPELINING' swaks --server $H --port "$RIG_SINK_NOPIPE_PORT" --quit-after EHLO
check "sink-nopipe: accepts a message" '<-  250 2.0.0 Ok' swaks --server $H --port "$RIG_SINK_NOPIPE_PORT" "${MSG[@]}"
before="$(find "$RIG_SINK_DUMP_DIR" -type f | wc -l)"
check "sink-dump: accepts a message" '<-  250 2.0.0 Ok' swaks --server $H --port "$RIG_SINK_DUMP_PORT" "${MSG[@]}" --header "X-Selftest: $$"
check "sink-dump: message dumped to a file" "X-Selftest: $$" bash -c "grep -rh 'X-Selftest' '$RIG_SINK_DUMP_DIR'; test \$(find '$RIG_SINK_DUMP_DIR' -type f | wc -l) -gt $before"

echo "selftest: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
