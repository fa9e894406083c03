"""Load mode against servers that cap messages per connection (issue: every server people run).
A message whose transaction never started goes back to the queue, the refusing session retires
and is replaced: every message is delivered exactly once, through both drivers, and each has its
own Message-ID."""

import pytest

from conftest import smtp_send
from limit_server import LimitServer


@pytest.mark.parametrize("style", ["452", "421"])
@pytest.mark.parametrize("connections", [1, 3])
def test_every_message_delivered_exactly_once_above_a_per_connection_limit(driver, style, connections):
    server = LimitServer(per_connection=7, style=style)
    try:
        run = smtp_send("--driver", driver, "--tls", "off", "--repeat", "40", "--connections", str(connections),
                        f"127.0.0.1:{server.port}", "load@example.org", "sink@example.net")
        assert run.status == 0, run
        assert run.lines[-1].startswith("Sent 40 messages in ") and run.lines[-1].endswith(", 0 failed"), run
        ids = server.message_ids()
        assert len(server.messages) == 40, (len(server.messages), run)
        assert None not in ids and len(set(ids)) == 40, ids
        # The limit held on every connection, so the client opened replacements.
        per_connection = {}
        for number, _ in server.messages:
            per_connection[number] = per_connection.get(number, 0) + 1
        assert max(per_connection.values()) <= 7 and server.connections >= 6, per_connection
    finally:
        server.stop()


def test_a_server_that_takes_nothing_is_not_retried_forever(driver):
    server = LimitServer(per_connection=0, style="452")
    try:
        run = smtp_send("--driver", driver, "--tls", "off", "--repeat", "5", "--connections", "2",
                        f"127.0.0.1:{server.port}", "load@example.org", "sink@example.net")
        assert run.status == 1, run
        assert run.lines[-1].startswith("Sent 0 messages in ") and run.lines[-1].endswith(", 5 failed"), run
        assert "452 4.5.3 Too many messages sent" in run.stderr, run
        assert server.messages == []
        assert server.connections <= 2 + 2 * 2, server.connections
    finally:
        server.stop()


def test_the_built_in_message_has_its_own_message_id_and_a_valid_from_for_a_null_sender(driver):
    server = LimitServer(per_connection=100)
    try:
        run = smtp_send("--driver", driver, "--tls", "off", "--repeat", "3", f"127.0.0.1:{server.port}", "", "sink@example.net")
        assert run.status == 0, run
        ids = server.message_ids()
        assert len(ids) == 3 and len(set(ids)) == 3, ids
        for _, data in server.messages:
            from_line = next(line for line in data.split(b"\r\n") if line.startswith(b"From:"))
            assert from_line == b"From: MAILER-DAEMON@smtp-send.invalid", from_line
    finally:
        server.stop()


def test_a_session_that_is_never_greeted_is_replaced(driver):
    """The first two connections are never greeted: each session times out on its greeting (here
    after --timeout 2; 30 s by default in load mode), is replaced, and every message still goes."""
    server = LimitServer(per_connection=100, silent_connections=2)
    try:
        run = smtp_send("--driver", driver, "--tls", "off", "--timeout", "2", "--repeat", "10", "--connections", "2",
                        f"127.0.0.1:{server.port}", "load@example.org", "sink@example.net")
        assert run.status == 0, run
        assert run.lines[-1].startswith("Sent 10 messages in ") and run.lines[-1].endswith(", 0 failed"), run
        assert len(server.messages) == 10
        assert server.connections >= 3, server.connections
        assert run.elapsed < 8, run
    finally:
        server.stop()
