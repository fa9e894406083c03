"""QUIT pipelined behind the last message (RFC 2920 lets QUIT end a command group): a one-shot
send saves a round trip, and still reads every reply. Each server below answers the message
only once QUIT has arrived, so a client that waits for that answer before sending QUIT runs
into its --timeout and fails."""

from conftest import smtp_send
from scripted_server import ScriptedServer, expect, read_bytes, read_data, send

MESSAGE = b"Subject: pipelined quit\r\n\r\nhello\r\n"


def data_server(queue_id):
    """A PIPELINING server (no CHUNKING) that answers the final dot (and QUIT) only once QUIT is in."""
    return ScriptedServer([
        send("220 mx ESMTP\r\n"), expect("EHLO"), send("250-mx\r\n250 PIPELINING\r\n"),
        expect("MAIL FROM:<a@example.org>"), expect("RCPT TO:<b@example.net>"), expect("DATA"),
        send("250 ok\r\n250 ok\r\n354 go\r\n"), read_data(), expect("QUIT"),
        send(f"250 2.0.0 queued as {queue_id}\r\n221 2.0.0 bye\r\n"),
    ])


def test_quit_goes_with_the_final_dot(driver, tmp_path):
    path = tmp_path / "message.eml"
    path.write_bytes(MESSAGE)
    server = data_server("Q1")
    run = smtp_send("--driver", driver, "--tls", "off", "--timeout", "5", "--data", str(path),
                    f"127.0.0.1:{server.port}", "a@example.org", "b@example.net")
    assert (run.status, run.lines) == (0, ["Message successfully sent to 1 recipient(s)"]), run
    record = server.finish()
    assert record.errors == [], record.errors


def bdat_server(replies):
    """A CHUNKING server that answers MAIL, RCPT and BDAT LAST (and QUIT) only once QUIT is in."""
    return ScriptedServer([
        send("220 mx ESMTP\r\n"), expect("EHLO"), send("250-mx\r\n250-PIPELINING\r\n250 CHUNKING\r\n"),
        expect("MAIL FROM:<a@example.org>"), expect("RCPT TO:<b@example.net>"),
        expect(f"BDAT {len(MESSAGE)} LAST"), read_bytes(len(MESSAGE)), expect("QUIT"), send(replies),
    ])


def send_one(server, tmp_path):
    path = tmp_path / "message.eml"
    path.write_bytes(MESSAGE)
    return smtp_send("--tls", "off", "--timeout", "5", "--data", str(path),
                     f"127.0.0.1:{server.port}", "a@example.org", "b@example.net")


def test_quit_goes_with_bdat_last_for_one_recipient(tmp_path):
    """The socket driver's one-shot send (SMTPClient.send); QUIT follows BDAT LAST at once."""
    server = bdat_server("250 ok\r\n250 ok\r\n250 2.0.0 queued as Q2\r\n221 2.0.0 bye\r\n")
    run = send_one(server, tmp_path)
    assert (run.status, run.lines) == (0, ["Message successfully sent to 1 recipient(s)"]), run
    record = server.finish()
    assert record.errors == [], record.errors


def test_a_refusal_behind_a_pipelined_quit_is_still_reported(tmp_path):
    server = bdat_server("250 ok\r\n550 5.1.1 no such user\r\n554 5.5.1 no valid recipients\r\n221 2.0.0 bye\r\n")
    run = send_one(server, tmp_path)
    assert run.status == 1, run
    assert run.lines == [" *** Your message may not have been sent!",
                         "all recipients were refused (b@example.net: 550 5.1.1 no such user)"], run
    record = server.finish()
    assert record.errors == [], record.errors


def load_one_message(driver, server, tmp_path):
    """Load mode (the batch senders), one message, a session limit of one; the server's record."""
    path = tmp_path / "message.eml"
    path.write_bytes(MESSAGE)
    run = smtp_send("--driver", driver, "--tls", "off", "--timeout", "5", "--data", str(path),
                    "--repeat", "1", "--session-messages", "1",
                    f"127.0.0.1:{server.port}", "a@example.org", "b@example.net")
    assert run.status == 0, run
    assert run.lines[0].startswith("Sent 1 messages in "), run
    assert "0 failed" in run.lines[0], run
    return server.finish()


def test_a_load_session_at_its_message_limit_quits_behind_the_last_message(driver, tmp_path):
    """A session that has taken its --session-messages quits at once, QUIT pipelined behind
    BDAT LAST; the server answers nothing before QUIT arrives."""
    server = bdat_server("250 ok\r\n250 ok\r\n250 2.0.0 queued as Q3\r\n221 2.0.0 bye\r\n")
    record = load_one_message(driver, server, tmp_path)
    assert record.errors == [], record.errors


def test_a_load_session_quits_behind_its_last_final_dot(driver, tmp_path):
    """The same over DATA: the final dot of the session's last message and QUIT in one group."""
    record = load_one_message(driver, data_server("Q4"), tmp_path)
    assert record.errors == [], record.errors
