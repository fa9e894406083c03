"""The rig's servers beyond Postfix (issue 15.7): Exim 4 and Dovecot LMTP (scripts/rig/exim.sh,
dovecot.sh). smtp-send against Exim through both drivers; Dovecot through Python's smtplib.LMTP
until smtp-send speaks LMTP (the `dovecot_lmtp` fixture names both of its listeners)."""

import os
import re
import smtplib

import pytest

from conftest import smtp_send
from stored_mail import maildir_messages, split_first_header, wait_for_exim_deliveries, wait_for_maildir_messages


@pytest.fixture
def exim(rig):
    if "RIG_EXIM_PORT" not in rig:
        pytest.fail("the rig runs without Exim: scripts/rig/rig.sh start (not --core)")
    return rig


def token():
    return os.urandom(6).hex()


def message(marker):
    """A CRLF message smtp-send sends unchanged (dot-stuffing is undone by the server)."""
    return (f"From: a@example.org\r\nTo: b@example.net\r\nSubject: {marker}\r\n"
            f"Date: Mon, 01 Jan 2024 00:00:00 +0000\r\nMessage-ID: <{marker}@example.org>\r\n\r\n"
            f"first line\r\n.leading dot\r\n..two dots\r\n\r\nlast line\r\n").encode()


# Exim -------------------------------------------------------------------------------------------

def test_exim_starttls_auth_stores_the_message_byte_for_byte(exim, driver, tmp_path):
    marker = f"exim-{driver}-{token()}"
    sent = message(marker)
    path = tmp_path / "message.eml"
    path.write_bytes(sent)
    run = smtp_send("-v", "--driver", driver, "--tls", "required", "--ca-file", exim["RIG_CA_FILE"],
                    "--user", exim["RIG_EXIM_AUTH_USER"], "--data", str(path),
                    f"127.0.0.1:{exim['RIG_EXIM_PORT']}", "a@example.org", "b@example.net",
                    env={"SMTP_PASSWORD": exim["RIG_EXIM_AUTH_PASSWORD"]})
    assert run.status == 0, run
    assert run.lines == ["Negotiating TLS....", "Using TLS connection.",
                         "Message successfully sent to 1 recipient(s)"], run
    # AUTH after TLS; CHUNKING (BDAT) is what Exim offers and the client prefers.
    commands = [line for line in run.stderr.splitlines() if line.startswith("C: ")]
    assert commands == ["C: EHLO [127.0.0.1]", "C: STARTTLS", "C: EHLO [127.0.0.1]", "C: AUTH PLAIN <redacted>",
                        f"C: MAIL FROM:<a@example.org> SIZE={len(sent)}", "C: RCPT TO:<b@example.net>",
                        f"C: BDAT {len(sent)} LAST", f"C: <message data: {len(sent)} octets>", "C: QUIT"], run
    stored = wait_for_maildir_messages(exim["RIG_EXIM_MAILDIR"], marker, 1)
    assert len(stored) == 1, stored
    received, rest = split_first_header(stored[0])
    # Exim puts its own Received: line first; everything after it is what was sent.
    assert received.startswith(b"Received: from "), received
    assert rest == sent


def test_exim_offers_auth_only_after_tls(exim):
    import ssl
    context = ssl.create_default_context(cafile=exim["RIG_CA_FILE"])
    with smtplib.SMTP("127.0.0.1", int(exim["RIG_EXIM_PORT"])) as client:
        client.ehlo("client.test")
        before = dict(client.esmtp_features)
        client.starttls(context=context)
        client.ehlo("client.test")
        after = dict(client.esmtp_features)
    assert sorted(before) == ["8bitmime", "chunking", "help", "pipeconnect", "pipelining", "size", "smtputf8", "starttls"]
    assert sorted(after) == ["8bitmime", "auth", "chunking", "help", "pipeconnect", "pipelining", "size", "smtputf8"]
    assert after["auth"].split() == ["PLAIN", "LOGIN"]


def test_exim_recipients_max_follow_up_transaction_delivers_all(exim, driver):
    sender = f"rcpt-max-{driver}-{token()}@example.org"
    recipients = [f"r{n}@example.net" for n in range(5)]
    run = smtp_send("--driver", driver, "--ca-file", exim["RIG_CA_FILE"],
                    f"127.0.0.1:{exim['RIG_EXIM_RCPT_MAX_PORT']}", sender, *recipients)
    assert run.status == 0, run
    assert run.lines == ["Negotiating TLS....", "Using TLS connection.",
                         "Message successfully sent to 5 recipient(s)"], run
    deliveries = wait_for_exim_deliveries(exim["RIG_EXIM_RCPT_MAX_MAINLOG"], sender, 5)
    # recipients_max = 3: the first transaction takes 3 (452 to the rest), a second one the other 2.
    assert sorted(len(v) for v in deliveries.values()) == [2, 3], deliveries
    assert sorted(a for v in deliveries.values() for a in v) == recipients


def per_connection_run(exim, driver):
    sender = f"per-conn-{driver}-{token()}@example.org"
    run = smtp_send("--driver", driver, "--ca-file", exim["RIG_CA_FILE"], "--repeat", "12",
                    "--connections", "1", f"127.0.0.1:{exim['RIG_EXIM_PER_CONNECTION_PORT']}",
                    sender, "b@example.net")
    return run, wait_for_exim_deliveries(exim["RIG_EXIM_PER_CONNECTION_MAINLOG"], sender, 12,
                                         timeout=5.0 if run.status == 0 else 1.0), sender


def test_exim_per_connection_limit_load_mode_sends_all(exim, driver):
    # smtp_accept_max_per_connection = 5: the 6th MAIL gets 421 and the connection closes; the
    # client must go on over a new connection, and every message arrives exactly once, each
    # with its own Message-ID.
    run, deliveries, sender = per_connection_run(exim, driver)
    assert run.status == 0, run
    assert run.lines[-1].startswith("Sent 12 messages in "), run
    assert run.lines[-1].endswith(", 0 failed"), run
    assert len(deliveries) == 12, deliveries
    stored = wait_for_maildir_messages(exim["RIG_EXIM_PER_CONNECTION_MAILDIR"], sender, 12)
    ids = [re.search(rb"^Message-ID: (<[^>]+>)", m, re.M | re.I).group(1) for m in stored]
    assert len(ids) == 12 and len(set(ids)) == 12, ids


@pytest.mark.parametrize("endpoint_kind", ["tcp", "unix"])
def test_smtp_send_lmtp_into_dovecot_lists_each_refusal_and_exits_3(rig, driver, endpoint_kind, tmp_path):
    """Delivers to the good user, lists the unknown user (550 at RCPT) and the over-quota user
    (552 after the data), exit 3; through both drivers, over TCP and the Unix socket."""
    if "RIG_DOVECOT_LMTP_PORT" not in rig:
        pytest.fail("the rig runs without Dovecot: scripts/rig/rig.sh start (not --core)")
    server = (f"127.0.0.1:{rig['RIG_DOVECOT_LMTP_PORT']}" if endpoint_kind == "tcp"
              else f"unix:{rig['RIG_DOVECOT_LMTP_SOCKET']}")
    marker = f"lmtp-cli-{driver}-{endpoint_kind}-{token()}"
    body = message(marker) + (b"y" * 70 + b"\r\n") * 30   # over the tiny quota
    path = tmp_path / "m.eml"
    path.write_bytes(body)
    good, tiny, unknown = rig["RIG_DOVECOT_USER"], rig["RIG_DOVECOT_TINY_USER"], rig["RIG_DOVECOT_UNKNOWN_USER"]
    run = smtp_send("--lmtp", "--driver", driver, "--tls", "off", "--data", str(path), server,
                    "a@example.org", good, unknown, tiny)
    assert run.status == 3, run
    assert run.lines[0] == "Message sent to 1 of 3 recipient(s)", run
    assert run.lines[1].startswith(f"  refused {unknown}: 550 5.1.1 "), run
    assert run.lines[2].startswith(f"  refused {tiny}: 552 5.2.2 "), run
    assert len(run.lines) == 3, run
    stored = wait_for_maildir_messages(rig["RIG_DOVECOT_USER_MAILDIR"], marker, 1)
    assert len(stored) == 1, stored
    assert split_first_header(stored[0])[1] == body
    assert maildir_messages(rig["RIG_DOVECOT_TINY_MAILDIR"], marker) == []


# Dovecot LMTP -----------------------------------------------------------------------------------

def lmtp_client(endpoint):
    kind, where = endpoint
    if kind == "tcp":
        host, port = where.rsplit(":", 1)
        return smtplib.LMTP(host, int(port))
    return smtplib.LMTP(where)


def test_dovecot_stores_the_message_byte_for_byte(rig, dovecot_lmtp):
    marker = f"lmtp-{dovecot_lmtp[0]}-{token()}"
    sent = message(marker)
    with lmtp_client(dovecot_lmtp) as client:
        assert client.sendmail("a@example.org", [rig["RIG_DOVECOT_USER"]], sent) == {}
    # Dovecot has stored it before it answered 250; it adds only Return-Path.
    assert maildir_messages(rig["RIG_DOVECOT_USER_MAILDIR"], marker) == [b"Return-Path: <a@example.org>\r\n" + sent]


def test_dovecot_unknown_user_is_refused_at_rcpt(rig, dovecot_lmtp):
    with lmtp_client(dovecot_lmtp) as client:
        client.ehlo("client.test")
        assert client.mail("a@example.org")[0] == 250
        code, text = client.rcpt(rig["RIG_DOVECOT_UNKNOWN_USER"])
    assert (code, text.split(b" ", 1)[0]) == (550, b"5.1.1"), text


def test_dovecot_over_quota_is_refused_after_data(rig, dovecot_lmtp):
    marker = f"quota-{dovecot_lmtp[0]}-{token()}"
    big = message(marker) + b"x" * 76 + b"\r\n"
    big = big + b"y" * 78 * (int(rig["RIG_DOVECOT_TINY_QUOTA"]) // 78 + 1)
    big = big.replace(b"y" * 78, b"y" * 76 + b"\r\n")
    assert len(big) > int(rig["RIG_DOVECOT_TINY_QUOTA"])
    with lmtp_client(dovecot_lmtp) as client:
        client.ehlo("client.test")
        assert client.mail("a@example.org")[0] == 250
        assert client.rcpt(rig["RIG_DOVECOT_TINY_USER"])[0] == 250
        code, text = client.data(big)
    assert (code, text.split(b" ", 1)[0]) == (552, b"5.2.2"), text
    assert maildir_messages(rig["RIG_DOVECOT_TINY_MAILDIR"], marker) == []
