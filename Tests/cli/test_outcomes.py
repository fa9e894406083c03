"""What smtp-send reports is what the engine decided: follow-up transactions (RFC 5321
§4.5.3.1.10), and transport failures in the same words from every driver."""

import socket

import pytest

from conftest import DRIVERS, RIG, smtp_send
from scripted_server import ScriptedServer, expect, raw_send, read_data, reset, send, starttls

FOUR = ["r1@example.net", "r2@example.net", "r3@example.net", "r4@example.net"]

FIRST_ROUND = [
    send("220 mx ESMTP\r\n"), expect("EHLO"), send("250-mx\r\n250-ENHANCEDSTATUSCODES\r\n250 PIPELINING\r\n"),
    expect("MAIL FROM:<a@example.org>"), expect("RCPT TO:<r1@"), expect("RCPT TO:<r2@"), expect("RCPT TO:<r3@"),
    expect("RCPT TO:<r4@"), expect("DATA"),
    send("250 2.1.0 ok\r\n250 2.1.5 ok\r\n250 2.1.5 ok\r\n452 4.5.3 Too many recipients\r\n"
         "452 4.5.3 Too many recipients\r\n354 go\r\n"),
    read_data(), send("250 2.0.0 queued as FIRST\r\n"),
    expect("MAIL FROM:<a@example.org>"), expect("RCPT TO:<r3@"), expect("RCPT TO:<r4@"), expect("DATA"),
]


def test_follow_up_refused_reports_two_of_four(driver):
    server = ScriptedServer(FIRST_ROUND + [
        send("250 2.1.0 ok\r\n550 5.1.1 no such user r3\r\n550 5.1.1 no such user r4\r\n554 5.5.1 no valid recipients\r\n"),
        expect("RSET"), send("250 2.0.0 ok\r\n"), expect("QUIT"), send("221 2.0.0 bye\r\n"),
    ])
    run = smtp_send("--driver", driver, "--tls", "off", f"127.0.0.1:{server.port}", "a@example.org", *FOUR)
    assert run.status == 3, run
    assert run.lines == [
        "Message sent to 2 of 4 recipient(s)",
        "  refused r3@example.net: 550 5.1.1 no such user r3",
        "  refused r4@example.net: 550 5.1.1 no such user r4",
    ], run
    server.finish()


def test_follow_up_accepted_reports_all_four(driver):
    server = ScriptedServer(FIRST_ROUND + [
        send("250 2.1.0 ok\r\n250 2.1.5 ok\r\n250 2.1.5 ok\r\n354 go\r\n"),
        read_data(), send("250 2.0.0 queued as SECOND\r\n"), expect("QUIT"), send("221 2.0.0 bye\r\n"),
    ])
    run = smtp_send("--driver", driver, "--tls", "off", f"127.0.0.1:{server.port}", "a@example.org", *FOUR)
    assert run.status == 0, run
    assert run.lines == ["Message successfully sent to 4 recipient(s)"], run
    server.finish()


def test_451_4_5_3_to_rcpt_leads_to_a_follow_up_transaction(driver):
    """OpenSMTPD answers "too many recipients" with 451 4.5.3."""
    steps = [s if s[0] != "send" or b"452 4.5.3" not in s[1] else
             send(s[1].decode().replace("452 4.5.3", "451 4.5.3")) for s in FIRST_ROUND]
    server = ScriptedServer(steps + [
        send("250 2.1.0 ok\r\n250 2.1.5 ok\r\n250 2.1.5 ok\r\n354 go\r\n"),
        read_data(), send("250 2.0.0 queued as SECOND\r\n"), expect("QUIT"), send("221 2.0.0 bye\r\n"),
    ])
    run = smtp_send("--driver", driver, "--tls", "off", f"127.0.0.1:{server.port}", "a@example.org", *FOUR)
    assert run.status == 0, run
    assert run.lines == ["Message successfully sent to 4 recipient(s)"], run
    assert sum(1 for c in server.record.commands if c.upper().startswith("MAIL FROM")) == 2
    server.finish()


# The same failure in the same words from every driver ---------------------------------------------

def failure_line(run):
    """The line that says why (after any "Negotiating TLS...." that came before the failure)."""
    assert run.status == 1, run
    assert run.lines[-2] == " *** Your message may not have been sent!", run
    return run.lines[-1]


def test_refused_connection_reads_the_same_from_both_drivers():
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    lines = {d: failure_line(smtp_send("--driver", d, f"127.0.0.1:{port}", "a@example.org", "b@example.net"))
             for d in DRIVERS}
    assert lines == {d: f"cannot connect to 127.0.0.1:{port}: connection refused" for d in lines}, lines


def reset_in_mid_data():
    return ScriptedServer([
        send("220 mx ESMTP\r\n"), expect("EHLO"), send("250 mx\r\n"),
        expect("MAIL"), send("250 ok\r\n"), expect("RCPT"), send("250 ok\r\n"), expect("DATA"), send("354 go\r\n"),
        reset(),
    ])


def test_reset_in_mid_data_reads_the_same_from_both_drivers(tmp_path):
    body = tmp_path / "big.eml"
    body.write_bytes(b"Subject: big\r\n\r\n" + (b"x" * 70 + b"\r\n") * 200_000)
    lines = {}
    for driver in DRIVERS:
        server = reset_in_mid_data()
        lines[driver] = failure_line(smtp_send("--driver", driver, "--tls", "off", "--data", str(body),
                                               f"127.0.0.1:{server.port}", "a@example.org", "b@example.net"))
    assert lines == {d: "connection reset by server during message data" for d in lines}, lines


def test_tls_record_error_reads_the_same_from_both_drivers():
    def server():
        return ScriptedServer([
            send("220 mx ESMTP\r\n"), expect("EHLO"), send("250-mx\r\n250 STARTTLS\r\n"), expect("STARTTLS"),
            send("220 go ahead\r\n"), starttls(), expect("EHLO"),
            # Bytes that are not a TLS record, on the TCP socket under the TLS session.
            raw_send(b"\x17\x03\x03\x00\x10" + b"\x00" * 16),
        ], cert=RIG["RIG_SERVER_CERT"], key=RIG["RIG_SERVER_KEY"])
    lines = {}
    for driver in DRIVERS:
        s = server()
        lines[driver] = failure_line(smtp_send("--driver", driver, "--ca-file", RIG["RIG_CA_FILE"], "--tls-name", "localhost",
                                               f"127.0.0.1:{s.port}", "a@example.org", "b@example.net"))
    assert lines == {d: "TLS error: decryption failed or bad record mac during EHLO/HELO" for d in lines}, lines
