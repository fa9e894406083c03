"""Hostile-server scenarios: smtp-send (both drivers) against scripted servers that lie, stall,
inject and misbehave. Each scenario asserts the safety property that matters on the bytes the
server recorded (what was and was not sent), the exit status of cli-spec.md, and that the client
finished within its timeout plus a margin.

Scenario ids (F.., S.., T.., A.., D.., L..) are listed in README.md. A scenario that shows a
client bug keeps asserting the correct behaviour and is marked xfail(strict=True) with the
finding number; the README lists the findings.

Run: python3 -m pytest -q -p no:cacheprovider Tests/hostile
"""

import base64
import os
import re
import select
import socket
import ssl
import time

import pytest

from hostile_support import (FROM, MARGIN, NOT_SENT, QUICK, RIG, TO, ScriptedServer, after_send, cert,
                             chunked_text, data_on_wire, lines, no_bare_cr_lf, only_quit, smtp_send,
                             tls_args, verbs, wire_data)
from scripted_server import (close, drip, expect, flood, handler, pause, raw_send, read_data, reset, send,
                             send_close, silence, starttls)

# Every driver unless SMTP_SEND_DRIVERS names fewer (as in Tests/cli/conftest.py).
DRIVERS = os.environ.get("SMTP_SEND_DRIVERS", "socket,uv,nio").split(",")


def matrix(cases, findings=None):
    """pytest params for every (case, driver). `cases` is [(id, value), ...]; `findings` maps
    (id, driver) or id to an xfail reason, so a finding marks exactly the runs that show it."""
    findings = findings or {}
    params = []
    for case_id, value in cases:
        for driver in DRIVERS:
            reason = findings.get((case_id, driver)) or findings.get(case_id)
            marks = [pytest.mark.xfail(strict=True, reason=reason)] if reason else []
            params.append(pytest.param(value, driver, id=f"{case_id}-{driver}", marks=marks))
    return params


def both(sid, socket=None, uv=None, all=None):
    """pytest params for the two drivers of scenario `sid`, with an xfail reason where a driver
    shows a finding."""
    reasons = {"socket": socket or all, "uv": uv or all}
    return [pytest.param(d, id=f"{sid}-{d}", marks=[pytest.mark.xfail(strict=True, reason=reasons.get(d, all))] if reasons.get(d, all) else [])
            for d in DRIVERS]


# Script building blocks ---------------------------------------------------------------------------

GREETING = "220 mx.test ESMTP hostile\r\n"
QUEUED = "250 2.0.0 queued as 4711\r\n"


def ehlo(*capabilities):
    names = ["mx.test", *capabilities]
    return "".join(f"250-{name}\r\n" for name in names[:-1]) + f"250 {names[-1]}\r\n"


def tail(others="250 2.0.0 ok\r\n"):
    """The rest of a session: QUIT gets 221 and a close; any other command gets `others` (a
    tempting answer: a client that should have stopped would go on)."""
    def run(server):
        while True:
            line = server.line()
            if line is None:
                return False
            if line.upper() == "QUIT":
                server.send("221 2.0.0 bye\r\n")
                return False
            if others is not None:
                server.send(others)
    return handler(run)


def transaction(recipients=1, final=QUEUED):
    steps = [expect("MAIL FROM:<"), send("250 2.1.0 sender ok\r\n")]
    for _ in range(recipients):
        steps += [expect("RCPT TO:<"), send("250 2.1.5 recipient ok\r\n")]
    return steps + [expect("DATA$"), send("354 go ahead\r\n"), read_data(), send(final)]


def plain_session(*capabilities):
    return [send(GREETING), expect("EHLO "), send(ehlo(*capabilities))]


def tls_session(before=("STARTTLS",), after=(), kind="SERVER"):
    """Greeting, EHLO, STARTTLS, the handshake with the `kind` certificate, EHLO again."""
    return [send(GREETING), expect("EHLO "), send(ehlo(*before)), expect("STARTTLS$"), send("220 2.0.0 ready\r\n"),
            starttls(), expect("EHLO "), send(ehlo(*after))]


def session(driver, steps, *args, kind="SERVER", to=(TO,), sender=FROM, env=None, stdin=None, limit=40, server_timeout=10):
    cert_file, key_file = cert(kind) if "RIG_SERVER_CERT" in RIG else (None, None)
    server = ScriptedServer(steps, cert=cert_file, key=key_file, timeout=server_timeout)
    run = smtp_send("--driver", driver, *args, f"127.0.0.1:{server.port}", sender, *to, env=env, stdin=stdin, limit=limit)
    record = server.finish(server_timeout + 5)
    return run, record


def finished(run, status, within=QUICK, at_least=None):
    """The verdict every scenario shares: no hang, no crash, the exit status, the time taken."""
    if os.environ.get("HOSTILE_SHOW"):
        print(f"\n    exit {run.status} in {run.elapsed:.2f}s: {run.lines[-2:]}")
    assert not run.killed, f"smtp-send hung: {run!r}"
    assert run.status is not None and run.status >= 0, f"smtp-send crashed (signal): {run!r}"
    assert run.status == status, run
    assert run.elapsed <= within, f"took {run.elapsed:.2f}s, limit {within}s: {run!r}"
    if at_least is not None:
        assert run.elapsed >= at_least, f"gave up after {run.elapsed:.2f}s, before its timeout: {run!r}"


def not_sent(run, why=None):
    assert NOT_SENT in run.lines, run
    assert not any(line.startswith("Message successfully sent") or line.startswith("Message sent to") for line in run.lines), run
    if why is not None:
        assert re.search(why, run.lines[-1]), run


def delivered(run, count=1):
    assert f"Message successfully sent to {count} recipient(s)" in run.lines, run
    assert NOT_SENT not in run.lines, run


def no_transaction(data):
    """No MAIL, RCPT, DATA, BDAT (or AUTH) anywhere in these client bytes."""
    found = [v for v in verbs(data) if v in (b"MAIL", b"RCPT", b"DATA", b"BDAT", b"AUTH")]
    assert not found, f"sent {found}: {bytes(data)[:500]!r}"


def need_rig():
    if "RIG_SERVER_CERT" not in RIG:
        pytest.fail("the test rig is not running (certificates): scripts/rig/rig.sh start")


TLS_ERROR_WORDS = re.compile(rb"(EHLO|HELO|MAIL|RCPT|DATA|AUTH|QUIT|STARTTLS)")


# ================================================================================================
# F: reply framing
# ================================================================================================

@pytest.mark.parametrize("greeting, driver", matrix([
    ("F01-letter-in-code", "22O mx.test ESMTP\r\n"),
    ("F02-two-digit-code", "22 mx.test ESMTP\r\n"),
    ("F02-four-digit-code", "2200 mx.test ESMTP\r\n"),
    ("F02-no-separator", "220mx.test ESMTP\r\n"),
    ("F02-tab-separator", "220\tmx.test ESMTP\r\n"),
    ("F02-empty-line", "\r\n"),
    ("F05-first-digit-1", "120 mx.test ESMTP\r\n"),
    ("F05-first-digit-6", "620 mx.test ESMTP\r\n"),
    ("F05-first-digit-0", "020 mx.test ESMTP\r\n"),
    ("F06-second-digit-6", "260 mx.test ESMTP\r\n"),
    ("F07-overlong-line", "220 " + "x" * 5000 + "\r\n"),
    ("F16-bare-lf", "220 mx.test ESMTP\n"),
    ("F19-bare-cr-inside", "220 mx.test\rEHLO ESMTP\r\n"),
]))
def test_malformed_greeting_is_fatal_and_nothing_is_sent(greeting, driver):
    """A greeting that is not a well-formed reply: the client sends nothing at all (not even
    EHLO), exits 1 at once."""
    run, record = session(driver, [send(greeting), tail()], "--tls", "off")
    finished(run, 1)
    not_sent(run)
    assert record.all == b"", record.all


@pytest.mark.parametrize("reply, driver", matrix([
    ("F03-code-changes-midway", "250-mx.test\r\n251-PIPELINING\r\n250 8BITMIME\r\n"),
    ("F03-code-changes-last-line", "250-mx.test\r\n250-PIPELINING\r\n550 8BITMIME\r\n"),
    ("F05-ehlo-first-digit-1", "199 mx.test\r\n"),
    ("F05-ehlo-first-digit-6", "650 mx.test\r\n"),
    ("F08-overlong-line-in-multiline", "250-mx.test\r\n250-" + "X" * 100000 + "\r\n250 8BITMIME\r\n"),
    ("F13-multiline-cut-by-eof", None),
]))
def test_malformed_ehlo_reply_stops_the_session(reply, driver):
    """The EHLO reply is malformed: nothing after EHLO but (at most) QUIT; no MAIL."""
    steps = [send(GREETING), expect("EHLO ")]
    steps += [send_close("250-mx.test\r\n250-PIPEL")] if reply is None else [send(reply), tail()]
    run, record = session(driver, steps, "--tls", "off")
    finished(run, 1)
    not_sent(run)
    assert only_quit(after_send(record, "250-mx.test" if reply is None else reply[:10])), record.all


@pytest.mark.parametrize("reply, driver", matrix([
    ("F04-rcpt-code-changes", "250-2.1.5 ok\r\n550 5.1.1 no such user\r\n"),
    ("F05-mail-first-digit-6", None),
]))
def test_malformed_reply_in_a_transaction(reply, driver):
    """A malformed reply to MAIL or RCPT (no PIPELINING): nothing more of the transaction goes
    out: no RCPT after a bad MAIL reply, no DATA after a bad RCPT reply."""
    if reply is None:
        steps = plain_session("8BITMIME") + [expect("MAIL FROM:<"), send("650 2.1.0 ok\r\n"), tail()]
        marker = "650 2.1.0"
    else:
        steps = plain_session("8BITMIME") + [expect("MAIL FROM:<"), send("250 2.1.0 ok\r\n"), expect("RCPT TO:<"),
                                             send(reply), tail()]
        marker = reply[:10]
    run, record = session(driver, steps, "--tls", "off")
    finished(run, 1)
    not_sent(run)
    assert only_quit(after_send(record, marker)), record.all


@pytest.mark.parametrize("line, driver", matrix([
    ("F09-endless-short-lines", "250-keep reading\r\n"),
    ("F10-endless-long-lines", "250-" + "K" * 1000 + "\r\n"),
]))
def test_endless_multiline_reply_is_cut_off(line, driver):
    """The EHLO reply never ends: the client gives up within its limits (lines, octets per
    reply), quickly, without waiting for a timeout, and sends no MAIL."""
    steps = [send(GREETING), expect("EHLO "), flood(line, count=200000)]
    run, record = session(driver, steps, "--tls", "off")
    finished(run, 1)
    not_sent(run, "protocol violation")
    no_transaction(record.all)
    assert record.flooded < 200000


@pytest.mark.parametrize("driver", both("F12"))
def test_greeting_cut_off_by_eof(driver):
    """A greeting with no line end, then EOF: not a reply; nothing is sent."""
    run, record = session(driver, [send_close("220 mx.test ESMT")], "--tls", "off")
    finished(run, 1)
    not_sent(run)
    assert record.all == b""


@pytest.mark.parametrize("ending, driver", matrix([
    ("F14-final-reply-cut-by-eof", "cut"),
    ("F14-eof-instead-of-final-reply", "eof"),
    ("F14-rst-instead-of-final-reply", "rst"),
]))
def test_no_complete_reply_to_the_final_dot_is_not_success(ending, driver):
    """The message went out but the reply to the final dot never completed: the client must not
    report the message as sent (the outcome is unknown): exit 1."""
    steps = plain_session("8BITMIME") + [expect("MAIL FROM:<"), send("250 ok\r\n"), expect("RCPT TO:<"), send("250 ok\r\n"),
                                         expect("DATA$"), send("354 go\r\n"), read_data()]
    steps += {"cut": [send_close("250 2.0.0 queued as 4")], "eof": [close()], "rst": [reset()]}[ending]
    run, record = session(driver, steps, "--tls", "off")
    finished(run, 1)
    not_sent(run)
    assert record.data and record.data[0].endswith(b"\r\n.\r\n")


@pytest.mark.parametrize("driver", both("F15"))
def test_one_byte_per_write(driver, tmp_path):
    """Every reply arrives one byte per write (multi-line EHLO with PIPELINING included): the
    session works, and the wire is exactly what it should be."""
    d = lambda text: drip(text, 0.002)  # noqa: E731
    steps = [d(GREETING), expect("EHLO "), d(ehlo("PIPELINING", "8BITMIME", "SIZE 1000000")),
             expect("MAIL FROM:<a@example.org> SIZE=\\d+$"), d("250 2.1.0 ok\r\n"),
             expect("RCPT TO:<b@example.net>$"), d("250 2.1.5 ok\r\n"), expect("DATA$"), d("354 go\r\n"),
             read_data(), d(QUEUED), expect("QUIT$"), d("221 bye\r\n"), tail()]
    content = b"Subject: drip\r\n\r\n.dot\r\nend\r\n"
    path = tmp_path / "m.eml"
    path.write_bytes(content)
    run, record = session(driver, steps, "--tls", "off", "--data", str(path))
    finished(run, 0)
    delivered(run)
    assert not record.errors, record.errors
    assert record.data == [wire_data(content)]


@pytest.mark.parametrize("driver", both("F17"))
def test_control_characters_in_reply_text_are_not_echoed(driver):
    """Reply text is untrusted: escape sequences, BEL and NUL in the server's text must not reach
    the terminal (stdout, or stderr with -v)."""
    evil = "554 5.7.1 \x1b[2J\x1b]0;owned\x07 go \x00away\x08\x7f\r\n"
    run, record = session(driver, [send(evil), tail()], "-v", "--tls", "off")
    finished(run, 1)
    not_sent(run)
    for stream in (run.stdout, run.stderr):
        assert not re.search(r"[\x00-\x08\x0b-\x1f\x7f]", stream), repr(stream)
    assert only_quit(record.all)


@pytest.mark.parametrize("driver", both("F15-tls"))
def test_one_byte_per_tls_record(driver):
    """After STARTTLS every reply byte comes in its own TLS record: the session works and the
    commands are exactly the expected ones."""
    need_rig()
    d = lambda text: drip(text, 0.001)  # noqa: E731
    steps = [send(GREETING), expect("EHLO "), send(ehlo("STARTTLS")), expect("STARTTLS$"), send("220 2.0.0 ready\r\n"),
             starttls(), expect("EHLO "), d(ehlo("PIPELINING", "8BITMIME")), expect("MAIL FROM:<a@example.org>$"),
             d("250 2.1.0 ok\r\n"), expect("RCPT TO:<b@example.net>$"), d("250 2.1.5 ok\r\n"), expect("DATA$"),
             d("354 go\r\n"), read_data(), d(QUEUED), expect("QUIT$"), d("221 bye\r\n"), tail()]
    run, record = session(driver, steps, *tls_args())
    finished(run, 0)
    delivered(run)
    assert not record.errors, record.errors


@pytest.mark.parametrize("driver", both("F20"))
def test_c1_controls_and_invalid_utf8_in_reply_text(driver):
    """Reply text with C1 controls (U+009B is CSI on many terminals), invalid UTF-8 and 8-bit
    bytes: no crash, and no C0/C1 control reaches stdout or the -v transcript."""
    evil = b"554 5.7.1 \xc2\x9b2J\xc2\x9d0;owned\xc2\x9c \xff\xfe\x80 caf\xc3\xa9\r\n"
    run, record = session(driver, [send(evil), tail()], "-v", "--tls", "off")
    finished(run, 1)
    not_sent(run)
    for stream in (run.stdout, run.stderr):
        assert not re.search(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]", stream), repr(stream)
    assert only_quit(record.all)


@pytest.mark.parametrize("driver", both("F18"))
def test_long_but_legal_replies_are_accepted(driver):
    """Real servers send long replies: a 120-line EHLO reply with a 1500-octet line, and a bare
    code with no text ("250\\r\\n" to MAIL) are valid: the message goes through."""
    caps = ["X-FILLER-%d" % i for i in range(118)] + ["X-LONG " + "L" * 1500, "8BITMIME"]
    steps = [send("220\r\n"), expect("EHLO "), send(ehlo(*caps)), expect("MAIL FROM:<"), send("250\r\n"),
             expect("RCPT TO:<"), send("250 \r\n"), expect("DATA$"), send("354\r\n"), read_data(), send(QUEUED), tail()]
    run, record = session(driver, steps, "--tls", "off")
    finished(run, 0)
    delivered(run)
    assert [c.split(" ")[0] for c in record.commands] == ["EHLO", "MAIL", "RCPT", "DATA", "QUIT"], record.commands
    assert record.data and record.data[0].endswith(b"\r\n.\r\n")


# ================================================================================================
# S: sequencing
# ================================================================================================

@pytest.mark.parametrize("driver", both("S01"))
def test_reply_before_its_command_was_sent(driver):
    """The greeting and an EHLO reply arrive together, before the client sent EHLO: the second
    reply answers nothing (rfc-notes: a violation). The client must not go on to MAIL."""
    steps = [send(GREETING + ehlo("PIPELINING", "8BITMIME")), expect("EHLO "), silence(2), tail()]
    run, record = session(driver, steps, "--tls", "off")
    finished(run, 1)
    not_sent(run, "protocol violation")
    no_transaction(record.all)


@pytest.mark.parametrize("driver", both("S02"))
def test_extra_reply_after_ehlo(driver):
    """EHLO gets two replies in one write: the second is unsolicited; no MAIL may follow (it
    would be answered by a reply the server never meant for it)."""
    steps = plain_session("8BITMIME")[:2] + [send("250 mx.test\r\n250 2.1.0 extra\r\n"), silence(2), tail()]
    run, record = session(driver, steps, "--tls", "off")
    finished(run, 1)
    not_sent(run, "protocol violation")
    no_transaction(record.all)


@pytest.mark.parametrize("early, driver", matrix([
    ("S03-positive-reply-mid-body", "250 2.0.0 queued early\r\n"),
    ("S04-negative-reply-mid-body", "554 5.3.4 message too big\r\n"),
]))
def test_reply_to_data_before_the_body_ends(early, driver, tmp_path):
    """After 354 the server answers at once, while 3 MiB of content still stream: a 250 cannot be
    the reply to a dot not yet sent, and the message must not count as sent; a 5xx is a
    refusal. Exit 1; no further transaction."""
    path = tmp_path / "big.eml"
    path.write_bytes(b"Subject: big\r\n\r\n" + (b"y" * 70 + b"\r\n") * 44000)
    steps = plain_session("8BITMIME") + [expect("MAIL FROM:<"), send("250 ok\r\n"), expect("RCPT TO:<"), send("250 ok\r\n"),
                                         expect("DATA$"), send("354 go\r\n" + early), silence(3)]
    run, record = session(driver, steps, "--tls", "off", "--data", str(path))
    finished(run, 1)
    not_sent(run)
    # One transaction only: no second MAIL (nor RSET-and-retry) after the bogus reply.
    assert record.all.count(b"MAIL FROM:") == 1 and b"\r\nRSET\r\n" not in record.all


@pytest.mark.parametrize("driver", both("S03-small"))
def test_250_with_the_354_before_a_small_body(driver):
    """"354" and "250" arrive in one write, before the (small, built-in) content and its dot were
    sent: that 250 cannot answer a dot not yet sent; the message must not count as sent."""
    steps = plain_session("8BITMIME") + [expect("MAIL FROM:<"), send("250 ok\r\n"), expect("RCPT TO:<"), send("250 ok\r\n"),
                                         expect("DATA$"), send("354 go\r\n250 2.0.0 queued before the data\r\n"),
                                         silence(2), tail()]
    run, record = session(driver, steps, "--tls", "off")
    finished(run, 1)
    not_sent(run)


@pytest.mark.parametrize("driver", both("S05"))
def test_data_answered_with_250_sends_no_content(driver, tmp_path):
    """DATA gets 250 instead of 354: the server is reading commands, so the content (here holding
    command lines) must not go out."""
    path = tmp_path / "m.eml"
    path.write_bytes(b"Subject: x\r\n\r\nRSET\r\nMAIL FROM:<evil@example.com>\r\n")
    steps = plain_session("8BITMIME") + [expect("MAIL FROM:<"), send("250 ok\r\n"), expect("RCPT TO:<"), send("250 ok\r\n"),
                                         expect("DATA$"), send("250 2.0.0 ok\r\n"), tail()]
    run, record = session(driver, steps, "--tls", "off", "--data", str(path))
    finished(run, 1)
    not_sent(run)
    after = after_send(record, "250 2.0.0 ok")
    assert b"Subject" not in after and b"evil" not in after and only_quit(after), after


@pytest.mark.parametrize("driver", both("S06"))
def test_354_after_every_recipient_refused(driver):
    """PIPELINING: every RCPT is refused yet DATA gets 354: the client ends the data at once
    (".") without the content, then RSET (RFC 2920); exit 1."""
    steps = plain_session("PIPELINING", "8BITMIME") + [
        expect("MAIL FROM:<"), send("250 ok\r\n"), expect("RCPT TO:<"), send("550 5.1.1 no\r\n"),
        expect("DATA$"), send("354 go anyway\r\n"), read_data(), send("250 2.0.0 what\r\n"), tail()]
    run, record = session(driver, steps, "--tls", "off")
    finished(run, 1)
    not_sent(run, "refused")
    assert record.data == [b".\r\n"], record.data
    assert b"Subject:" not in record.all
    assert b"RSET\r\n" in after_send(record, "354 go anyway")


@pytest.mark.parametrize("ending, driver", matrix([("S12-close-while-writes-blocked", "close"),
                                                   ("S12-rst-while-writes-blocked", "rst")]))
def test_server_closes_while_writes_are_blocked(ending, driver, tmp_path):
    """The server stops reading a 12 MiB message after 354, then closes (FIN or RST) while the
    client's writes are still blocked: exit 1 with the reason (no death by SIGPIPE), quickly,
    and the data never ended."""
    steps = plain_session("8BITMIME") + [expect("MAIL FROM:<"), send("250 ok\r\n"), expect("RCPT TO:<"), send("250 ok\r\n"),
                                         expect("DATA$"), send("354 go\r\n"), pause(1.0), close() if ending == "close" else reset()]
    run, record = session(driver, steps, "--tls", "off", "--data", str(big_message(tmp_path)))
    finished(run, 1)
    # A write into a connection the server closed fails as a reset (EPIPE/ECONNRESET), or the
    # FIN is read first: either way the typed reason, the same words from both drivers.
    if ending == "close":
        not_sent(run, "^connection (closed|reset) by server during message data$")
    else:
        not_sent(run, "^connection reset by server during message data$")


@pytest.mark.parametrize("reply, driver", matrix([("S13-final-dot-554", "554 5.7.1 message refused as spam"),
                                                  ("S13-final-dot-451", "451 4.3.0 try again later")]))
def test_final_dot_refused(reply, driver):
    """The message is refused at the final dot (5xx or 4xx): not sent, exit 1, the reply shown;
    no retry of the transaction (one MAIL, one DATA)."""
    steps = plain_session("8BITMIME") + transaction(final=reply + "\r\n") + [tail()]
    run, record = session(driver, steps, "--tls", "off")
    finished(run, 1)
    not_sent(run, re.escape(reply))
    assert [c.split(" ")[0] for c in record.commands if c.split(" ")[0] in ("MAIL", "DATA")] == ["MAIL", "DATA"]


STAGES_421 = [
    ("S07-421-greeting", "greeting"),
    ("S07-421-ehlo", "ehlo"),
    ("S07-421-starttls", "starttls"),
    ("S07-421-auth", "auth"),
    ("S07-421-mail", "mail"),
    ("S07-421-rcpt", "rcpt"),
    ("S07-421-data", "data"),
    ("S07-421-end-of-data", "dot"),
    ("S07-421-rset", "rset"),
]


@pytest.mark.parametrize("stage, driver", matrix(STAGES_421))
def test_421_at_each_stage(stage, driver):
    """421 answers any command and closes the channel: the client sends nothing at all after it
    (no QUIT, no RSET) and reports the message as not sent."""
    r421 = "421 4.3.2 shutting down\r\n"
    args = ["--tls", "off"]
    if stage == "greeting":
        steps = [send(r421)]
    elif stage == "ehlo":
        steps = [send(GREETING), expect("EHLO "), send(r421)]
    elif stage == "starttls":
        args = []
        steps = [send(GREETING), expect("EHLO "), send(ehlo("STARTTLS")), expect("STARTTLS$"), send(r421)]
    elif stage == "auth":
        args += ["--user", "alice", "--allow-plaintext-auth"]
        steps = plain_session("AUTH PLAIN") + [expect("AUTH PLAIN"), send(r421)]
    else:
        steps = plain_session("8BITMIME") + [expect("MAIL FROM:<")]
        if stage == "mail":
            steps += [send(r421)]
        elif stage == "rset":
            steps += [send("250 ok\r\n"), expect("RCPT TO:<"), send("550 5.1.1 no\r\n"), expect("RSET$"), send(r421)]
        else:
            steps += [send("250 ok\r\n"), expect("RCPT TO:<")]
            if stage == "rcpt":
                steps += [send(r421)]
            else:
                steps += [send("250 ok\r\n"), expect("DATA$")]
                steps += [send(r421)] if stage == "data" else [send("354 go\r\n"), read_data(), send(r421)]
    steps += [silence(3)]
    run, record = session(driver, steps, *args, env={"SMTP_PASSWORD": "pw"})
    finished(run, 1)
    not_sent(run)
    assert after_send(record, "421 4.3.2") == b"", record.all


@pytest.mark.parametrize("greeting, driver", matrix([
    ("S08-greeting-221", "221 mx.test closing\r\n"),
    ("S08-greeting-354", "354 mx.test go ahead\r\n"),
    ("S08-greeting-250", "250 mx.test ok\r\n"),
    ("S08-greeting-554", "554 5.3.2 no service for you\r\n"),
    ("S08-greeting-450", "450 4.3.2 try later\r\n"),
]))
def test_odd_greetings(greeting, driver):
    """Only 220 proceeds. 554 (and 4xx) mean close, with QUIT at most; 221/354/250 make no
    sense as a greeting. Never EHLO."""
    run, record = session(driver, [send(greeting), tail()], "--tls", "off")
    finished(run, 1)
    not_sent(run)
    assert only_quit(record.all), record.all


QUIT_ENDINGS = [
    ("S09-quit-500", [send("500 5.5.1 what?\r\n"), silence(2)]),
    ("S09-quit-421", [send("421 4.3.2 bye anyway\r\n"), silence(2)]),
    ("S09-quit-250", [send("250 2.0.0 ok\r\n"), silence(2)]),
    ("S09-quit-354", [send("354 go ahead\r\n"), silence(2)]),
    ("S09-quit-garbage", [send("HTTP/1.1 400 Bad Request\r\n"), silence(2)]),
    ("S09-quit-cut", [send_close("221 2.0.0 by")]),
    ("S09-quit-eof", [close()]),
    ("S09-quit-rst", [reset()]),
    ("S09-quit-silence", [silence(8)]),
]


@pytest.mark.parametrize("ending, driver", matrix(QUIT_ENDINGS))
def test_odd_replies_to_quit_do_not_undo_delivery(ending, driver):
    """The message was accepted (250 to the dot); whatever QUIT gets (a 5xx, 421, a 354, garbage,
    a cut line, EOF, RST, silence) the client reports success, exit 0, within --timeout + margin,
    and sends nothing after QUIT."""
    steps = plain_session("8BITMIME") + transaction() + [expect("QUIT$")] + ending
    run, record = session(driver, steps, "--tls", "off", "--timeout", "2")
    finished(run, 0, within=2 + MARGIN)
    delivered(run)
    assert record.all.endswith(b"\r\n.\r\nQUIT\r\n"), record.all[-200:]


@pytest.mark.parametrize("reply, driver", matrix([
    ("S10-mail-354", ("MAIL", "354 2.1.0 go ahead\r\n")),
    ("S10-mail-220", ("MAIL", "220 2.1.0 hello again\r\n")),
    ("S10-mail-221", ("MAIL", "221 2.1.0 bye\r\n")),
    ("S10-rcpt-354", ("RCPT", "354 2.1.5 go ahead\r\n")),
    ("S10-rcpt-235", ("RCPT", "235 2.7.0 authenticated\r\n")),
    ("S10-data-235", ("DATA", "235 2.7.0 authenticated\r\n")),
    ("S10-dot-354", ("DOT", "354 more please\r\n")),
]))
def test_reply_codes_that_make_no_sense_for_their_command(reply, driver):
    """A reply whose code cannot answer the command (354 to MAIL, 220/221 to MAIL, 235 to RCPT or
    DATA, 354 to the dot): a violation; no RCPT/DATA/content after it, and never success."""
    stage, text = reply
    steps = plain_session("8BITMIME") + [expect("MAIL FROM:<")]
    if stage != "MAIL":
        steps += [send("250 ok\r\n"), expect("RCPT TO:<")]
        if stage != "RCPT":
            steps += [send("250 ok\r\n"), expect("DATA$")]
            if stage != "DATA":
                steps += [send("354 go\r\n"), read_data()]
    steps += [send(text), tail()]
    run, record = session(driver, steps, "--tls", "off")
    finished(run, 1)
    not_sent(run)
    assert only_quit(after_send(record, text)), record.all


@pytest.mark.parametrize("driver", both("S11"))
def test_helo_fallback_sends_no_esmtp_and_no_8bit(driver, tmp_path):
    """EHLO refused (opportunistic): HELO is the fallback, after which no ESMTP extension exists:
    an 8-bit message is refused before MAIL (8BITMIME would be needed), never sent raw."""
    path = tmp_path / "m.eml"
    path.write_bytes("Subject: caf\u00e9\r\n\r\nna\u00efve\r\n".encode())
    steps = [send(GREETING), expect("EHLO "), send("502 5.5.2 no EHLO here\r\n"), expect("HELO "), send("250 mx.test\r\n"),
             tail()]
    run, record = session(driver, steps, "--data", str(path))
    finished(run, 1)
    not_sent(run, "8BITMIME")
    no_transaction(record.all)


# ================================================================================================
# T: STARTTLS and TLS
# ================================================================================================

@pytest.mark.parametrize("driver", both("T01"))
def test_required_tls_not_offered(driver):
    """--tls required and no STARTTLS in the EHLO reply (AUTH offered in the clear): nothing but
    QUIT after EHLO; no MAIL, no AUTH, no HELO."""
    steps = plain_session("AUTH PLAIN LOGIN", "8BITMIME") + [tail()]
    run, record = session(driver, steps, "--tls", "required", "--user", "alice", env={"SMTP_PASSWORD": "pw"})
    finished(run, 1)
    not_sent(run, "STARTTLS")
    assert only_quit(after_send(record, "250 8BITMIME")), record.all


STARTTLS_REFUSALS = [(f"T02-starttls-{code}", (code, mode)) for code, mode in [
    ("454 4.7.0 TLS not available", "opportunistic"), ("500 5.5.1 unknown command", "opportunistic"),
    ("501 5.5.4 syntax error", "opportunistic"), ("502 5.5.1 not implemented", "opportunistic"),
    ("503 5.5.1 bad sequence", "opportunistic"), ("554 5.7.3 no TLS for you", "opportunistic"),
    ("454 4.7.0 TLS not available", "required"), ("250 2.0.0 sure, go on in plaintext", "opportunistic"),
    ("221 2.0.0 bye", "opportunistic"), ("354 2.0.0 go ahead", "opportunistic")]]
STARTTLS_REFUSALS = [(cid.split(" ")[0] + ("-required" if v[1] == "required" else ""), v) for cid, v in STARTTLS_REFUSALS]


@pytest.mark.parametrize("refusal, driver", matrix(STARTTLS_REFUSALS))
def test_starttls_refused(refusal, driver):
    """STARTTLS offered, then refused with any plausible code: never a plaintext fallback (no
    MAIL, no AUTH in the clear), only QUIT; exit 1."""
    code, mode = refusal
    steps = plain_session("STARTTLS", "AUTH PLAIN", "8BITMIME") + [expect("STARTTLS$"), send(code + "\r\n"), tail()]
    run, record = session(driver, steps, "--tls", mode)
    finished(run, 1)
    not_sent(run, "STARTTLS")
    assert only_quit(after_send(record, code)), record.all
    assert b"\x16\x03" not in after_send(record, code), "a TLS handshake started after a refusal"


@pytest.mark.parametrize("injected, driver", matrix([
    ("T03-injected-reply-same-write", "250-mx.test\r\n250 AUTH PLAIN\r\n"),
    ("T04-injected-half-line-same-write", "25"),
    ("T04-injected-crlf-same-write", "\r\n"),
]))
def test_response_injection_after_starttls_220(injected, driver):
    """Bytes after the 220 to STARTTLS in the same write (CVE-2021-22947 and kin): fatal before
    the handshake: no ClientHello, no command (not even in TLS), exit 1."""
    need_rig()
    steps = plain_session("STARTTLS", "8BITMIME")[:3] + [expect("STARTTLS$"), send("220 2.0.0 ready\r\n" + injected), silence(3)]
    run, record = session(driver, steps, *tls_args())
    finished(run, 1)
    not_sent(run, "injection|after the 220")
    # No ClientHello, no command: the 220 was the last thing the client acted on.
    assert only_quit(after_send(record, "220 2.0.0 ready")), record.all


@pytest.mark.parametrize("driver", both("T05"))
def test_injection_in_a_later_write_fails_the_handshake(driver):
    """The injected reply comes in a separate write just after the 220 (the client may already be
    in the handshake): the handshake fails; no SMTP command is ever sent in the clear after
    STARTTLS, and nothing is sent through TLS."""
    need_rig()
    steps = plain_session("STARTTLS", "8BITMIME") + [expect("STARTTLS$"), send("220 2.0.0 ready\r\n"), pause(0.05),
                                                     send("250-mx.test\r\n250 8BITMIME\r\n"), silence(3)]
    run, record = session(driver, steps, *tls_args())
    finished(run, 1)
    not_sent(run)
    assert not TLS_ERROR_WORDS.search(after_send(record, "220 2.0.0 ready")), record.all
    assert record.tls == b""


@pytest.mark.parametrize("driver", both("T06"))
def test_plaintext_inside_the_tls_session(driver):
    """TLS-then-plaintext: after the handshake the server answers EHLO in the clear on the TCP
    socket. The client must not read it as a reply: exit 1, no MAIL, no AUTH."""
    need_rig()
    steps = [send(GREETING), expect("EHLO "), send(ehlo("STARTTLS")), expect("STARTTLS$"), send("220 2.0.0 ready\r\n"),
             starttls(), expect("EHLO "), raw_send(ehlo("8BITMIME", "AUTH PLAIN")), silence(3)]
    run, record = session(driver, steps, *tls_args())
    finished(run, 1)
    not_sent(run)
    no_transaction(record.all)


@pytest.mark.parametrize("driver", both("T07"))
def test_auth_list_changes_after_tls(driver):
    """Before TLS the server offers AUTH PLAIN; after TLS only LOGIN: the mechanism comes from the
    post-TLS EHLO (LOGIN), PLAIN is never sent, and no AUTH goes out before TLS."""
    need_rig()
    steps = tls_session(before=("STARTTLS", "AUTH PLAIN"), after=("AUTH LOGIN", "8BITMIME")) + [
        expect("AUTH LOGIN$"), send("334 VXNlcm5hbWU6\r\n"), expect(".+"), send("334 UGFzc3dvcmQ6\r\n"), expect(".+"),
        send("235 2.7.0 ok\r\n")] + transaction() + [tail()]
    run, record = session(driver, steps, *tls_args(), "--user", "alice", env={"SMTP_PASSWORD": "pw"})
    finished(run, 0)
    delivered(run)
    assert b"AUTH" not in bytes(record.plain)
    assert b"AUTH LOGIN\r\n" in bytes(record.tls) and b"AUTH PLAIN" not in record.all


@pytest.mark.parametrize("driver", both("T08"))
def test_auth_offered_only_before_tls(driver):
    """AUTH offered only before TLS: after TLS nothing offers it, so the client must not
    authenticate (nor send the message unauthenticated): exit 1, no AUTH anywhere."""
    need_rig()
    steps = tls_session(before=("STARTTLS", "AUTH PLAIN LOGIN"), after=("8BITMIME",)) + [tail()]
    run, record = session(driver, steps, *tls_args(), "--user", "alice", env={"SMTP_PASSWORD": "pw"})
    finished(run, 1)
    not_sent(run, "AUTH")
    no_transaction(record.all)


@pytest.mark.parametrize("driver", both("T09"))
def test_size_shrinks_after_tls(driver):
    """SIZE 100000000 before TLS, SIZE 100 after: the post-TLS limit rules; the built-in message
    (> 100 octets) is refused before MAIL."""
    need_rig()
    steps = tls_session(before=("STARTTLS", "SIZE 100000000"), after=("SIZE 100", "8BITMIME")) + [tail()]
    run, record = session(driver, steps, *tls_args())
    finished(run, 1)
    not_sent(run, "SIZE")
    no_transaction(record.all)


@pytest.mark.parametrize("driver", both("T10"))
def test_size_grows_after_tls(driver, tmp_path):
    """SIZE 10 before TLS, SIZE 1000000 after: the pre-TLS limit is forgotten; MAIL carries the
    real SIZE and the message goes through."""
    need_rig()
    content = b"Subject: size\r\n\r\n" + b"z" * 500 + b"\r\n"
    path = tmp_path / "m.eml"
    path.write_bytes(content)
    steps = tls_session(before=("STARTTLS", "SIZE 10"), after=("SIZE 1000000", "8BITMIME")) + [
        expect(f"MAIL FROM:<a@example.org> SIZE={len(content)}$"), send("250 ok\r\n"), expect("RCPT TO:<"), send("250 ok\r\n"),
        expect("DATA$"), send("354 go\r\n"), read_data(), send(QUEUED), tail()]
    run, record = session(driver, steps, *tls_args(), "--data", str(path))
    finished(run, 0)
    delivered(run)
    assert not record.errors, record.errors


@pytest.mark.parametrize("driver", both("T11"))
def test_pipelining_dropped_after_tls(driver):
    """PIPELINING offered before TLS only: after TLS the client must wait for each reply: RCPT
    only after the MAIL reply, DATA only after the RCPT reply."""
    need_rig()
    steps = tls_session(before=("STARTTLS", "PIPELINING"), after=("8BITMIME",)) + [
        expect("MAIL FROM:<"), silence(0.4), send("250 2.1.0 mail-ok\r\n"), expect("RCPT TO:<"), silence(0.4),
        send("250 2.1.5 rcpt-ok\r\n"), expect("DATA$"), send("354 go\r\n"), read_data(), send(QUEUED), tail()]
    run, record = session(driver, steps, *tls_args(), "--tls", "required")
    finished(run, 0)
    delivered(run)
    assert verbs(after_send(record, "mail-ok"))[:1] == [b"RCPT"], record.tls
    assert b"RCPT" not in record.all[:[s for s in record.sends if b"mail-ok" in s[1]][0][2]]
    assert verbs(after_send(record, "rcpt-ok"))[:1] == [b"DATA"]
    # STARTTLS ended the pre-TLS group: nothing was pipelined behind it in the clear.
    assert bytes(record.plain).endswith(b"\r\nSTARTTLS\r\n"), record.plain


@pytest.mark.parametrize("driver", both("T12"))
def test_chunking_dropped_after_tls(driver):
    """CHUNKING offered before TLS only: after TLS the message goes with DATA, never BDAT."""
    need_rig()
    steps = tls_session(before=("STARTTLS", "CHUNKING", "PIPELINING"), after=("8BITMIME",)) + transaction() + [tail()]
    run, record = session(driver, steps, *tls_args())
    finished(run, 0)
    delivered(run)
    assert b"BDAT" not in record.all


@pytest.mark.parametrize("driver", both("T13"))
def test_starttls_offered_again_after_tls(driver):
    """The post-TLS EHLO offers STARTTLS again: it is never sent twice."""
    need_rig()
    steps = tls_session(before=("STARTTLS",), after=("STARTTLS", "8BITMIME")) + transaction() + [tail("454 4.7.0 again?\r\n")]
    run, record = session(driver, steps, *tls_args())
    finished(run, 0)
    delivered(run)
    assert [c for c in record.commands if c.upper() == "STARTTLS"] == ["STARTTLS"], record.commands
    assert verbs(record.all).count(b"STARTTLS") == 1
    assert run.lines[:2] == ["Negotiating TLS....", "Using TLS connection."], run


CERTIFICATES = [
    ("T14-expired", ("EXPIRED", "certificate has expired")),
    ("T14-self-signed", ("SELFSIGNED", "self-signed certificate")),
    ("T14-wrong-name", ("WRONGNAME", "certificate is not valid for host localhost")),
    ("T14-untrusted", ("UNTRUSTED", "certificate signed by an unknown authority")),
]


@pytest.mark.parametrize("bad, driver", matrix(CERTIFICATES))
def test_bad_certificate_after_starttls(bad, driver):
    """STARTTLS with an expired / self-signed / wrong-name / untrusted certificate (opportunistic
    mode, the one tempted to fall back): exit 1 naming the cause; no byte of SMTP through TLS,
    no SMTP command in the clear after STARTTLS."""
    need_rig()
    kind, cause = bad
    steps = [send(GREETING), expect("EHLO "), send(ehlo("STARTTLS", "AUTH PLAIN")), expect("STARTTLS$"),
             send("220 2.0.0 ready\r\n"), starttls(), expect("EHLO "), send(ehlo("8BITMIME")), tail()]
    run, record = session(driver, steps, *tls_args(), kind=kind)
    finished(run, 1)
    not_sent(run, re.escape(cause))
    assert record.tls == b""
    assert not TLS_ERROR_WORDS.search(after_send(record, "220 2.0.0 ready")), record.all


@pytest.mark.parametrize("driver", both("T14-wrong-name-ip-literal"))
def test_wrong_name_certificate_against_an_ip_literal(driver):
    """No --tls-name: the certificate (DNS:wrong.example only) must match the IP literal
    127.0.0.1 as an IP SAN, and does not: exit 1, nothing through TLS."""
    need_rig()
    steps = [send(GREETING), expect("EHLO "), send(ehlo("STARTTLS")), expect("STARTTLS$"), send("220 2.0.0 ready\r\n"),
             starttls(), expect("EHLO "), send(ehlo("8BITMIME")), tail()]
    run, record = session(driver, steps, "--ca-file", RIG["RIG_CA_FILE"], kind="WRONGNAME")
    finished(run, 1)
    not_sent(run, "not valid for (host|address) 127.0.0.1")
    assert record.tls == b""


RFC9525_CERTIFICATES = [
    ("T22-cn-only", ("cnonly", "localhost",
                     "certificate is not valid for host localhost: the certificate names its host only in the subject CN "
                     "(localhost), which is not accepted")),
    ("T22-partial-wildcard", ("partialwildcard", "www.example.test",
                              "certificate is not valid for host www.example.test: the certificate's wildcard name "
                              "w*.example.test is partial, which is not accepted")),
]


@pytest.mark.parametrize("bad, driver", matrix(RFC9525_CERTIFICATES))
def test_rfc9525_name_matching_after_starttls(bad, driver):
    """STARTTLS with a certificate (signed by the trusted CA) that names the host only in its
    subject CN, or only with a partial wildcard: RFC 9525 matches neither. Exit 1, the failure
    line says why, nothing through TLS, no SMTP command in the clear after STARTTLS."""
    need_rig()
    stem, tls_name, cause = bad
    directory = RIG["RIG_CERT_DIR"]
    steps = [send(GREETING), expect("EHLO "), send(ehlo("STARTTLS", "AUTH PLAIN")), expect("STARTTLS$"),
             send("220 2.0.0 ready\r\n"), starttls(), expect("EHLO "), send(ehlo("8BITMIME")), tail()]
    server = ScriptedServer(steps, cert=f"{directory}/{stem}.crt", key=f"{directory}/{stem}.key", timeout=10)
    run = smtp_send("--driver", driver, "--ca-file", RIG["RIG_CA_FILE"], "--tls-name", tls_name,
                    f"127.0.0.1:{server.port}", FROM, TO)
    record = server.finish(15)
    finished(run, 1)
    not_sent(run)
    assert run.lines[-1] == f"server certificate not accepted: {cause}", run
    assert record.tls == b""
    assert not TLS_ERROR_WORDS.search(after_send(record, "220 2.0.0 ready")), record.all


@pytest.mark.parametrize("driver", both("T21"))
def test_tls_older_than_1_2_is_refused(driver):
    """The server offers nothing newer than TLS 1.1 (with a good certificate): the client requires
    TLS 1.2 or newer, so the handshake fails; no SMTP through TLS, no plaintext fallback."""
    need_rig()
    import ssl
    steps = [send(GREETING), expect("EHLO "), send(ehlo("STARTTLS")), expect("STARTTLS$"), send("220 2.0.0 ready\r\n"),
             starttls(maximum_version=ssl.TLSVersion.TLSv1_1), expect("EHLO "), send(ehlo("8BITMIME")), tail()]
    run, record = session(driver, steps, *tls_args())
    finished(run, 1)
    not_sent(run, "TLS|certificate")
    assert record.tls == b""
    assert not TLS_ERROR_WORDS.search(after_send(record, "220 2.0.0 ready")), record.all


@pytest.mark.parametrize("driver", both("T20"))
def test_starttls_offered_inside_implicit_tls(driver):
    """Implicit TLS and the EHLO reply offers STARTTLS: it is never sent; the message goes."""
    need_rig()
    steps = [starttls(), send(GREETING), expect("EHLO "), send(ehlo("STARTTLS", "8BITMIME"))] + transaction() + [tail()]
    run, record = session(driver, steps, *tls_args(), "--tls", "implicit")
    finished(run, 0)
    delivered(run)
    assert not [c for c in record.commands if c.upper() == "STARTTLS"], record.commands
    assert run.lines[0] == "Using TLS connection.", run


@pytest.mark.parametrize("bad, driver", matrix([(cid.replace("T14", "T15-implicit"), v) for cid, v in CERTIFICATES[:2]]))
def test_bad_certificate_on_implicit_tls(bad, driver):
    """Implicit TLS with a bad certificate: exit 1 naming the cause; nothing sent through TLS."""
    need_rig()
    kind, cause = bad
    steps = [starttls(), send(GREETING), expect("EHLO "), send(ehlo("8BITMIME")), tail()]
    run, record = session(driver, steps, *tls_args(), "--tls", "implicit", kind=kind)
    finished(run, 1)
    not_sent(run, re.escape(cause))
    assert record.tls == b""


@pytest.mark.parametrize("when, driver", matrix([("T16-plaintext-greeting-at-once", "at-once"),
                                                 ("T16-plaintext-after-clienthello", "after-hello")]))
def test_plaintext_answer_on_implicit_tls_port(when, driver):
    """--tls implicit against a server that speaks plaintext SMTP: the handshake fails; no SMTP
    command is ever sent in the clear; exit 1."""
    steps = [send(GREETING), silence(3)] if when == "at-once" else [silence(0.3), send(GREETING), silence(3)]
    run, record = session(driver, steps, *tls_args(), "--tls", "implicit")
    finished(run, 1)
    not_sent(run, "TLS handshake failed")
    assert not TLS_ERROR_WORDS.search(record.all), record.all


@pytest.mark.parametrize("driver", both("T17"))
def test_close_right_after_starttls_220(driver):
    """The server closes right after "220" to STARTTLS: no fallback to plaintext (no EHLO, no
    MAIL in the clear); exit 1."""
    steps = plain_session("STARTTLS", "8BITMIME") + [expect("STARTTLS$"), send_close("220 2.0.0 ready\r\n")]
    run, record = session(driver, steps, *tls_args())
    finished(run, 1)
    not_sent(run)
    assert not TLS_ERROR_WORDS.search(after_send(record, "220 2.0.0 ready")), record.all


@pytest.mark.parametrize("code, driver", matrix([("T18-ehlo-after-tls-550", "550 5.7.0 no EHLO for you"),
                                                 ("T18-ehlo-after-tls-454", "454 4.7.0 not now")]))
def test_ehlo_refused_after_starttls(code, driver):
    """EHLO refused after STARTTLS: exit 5; no HELO fallback inside TLS, no MAIL; QUIT at most."""
    need_rig()
    steps = [send(GREETING), expect("EHLO "), send(ehlo("STARTTLS")), expect("STARTTLS$"), send("220 2.0.0 ready\r\n"),
             starttls(), expect("EHLO "), send(code + "\r\n"), tail()]
    run, record = session(driver, steps, *tls_args())
    finished(run, 5)
    assert run.lines[-1] == f"Couldn't EHLO after STARTTLS: {code}", run
    assert only_quit(after_send(record, code)), record.all


@pytest.mark.parametrize("driver", both("T19"))
def test_ehlo_refused_with_tls_required_no_helo(driver):
    """--tls required and EHLO refused in the clear: HELO cannot offer STARTTLS, so no HELO;
    QUIT at most; exit 1."""
    steps = [send(GREETING), expect("EHLO "), send("502 5.5.2 EHLO not supported\r\n"), tail()]
    run, record = session(driver, steps, "--tls", "required")
    finished(run, 1)
    not_sent(run)
    assert only_quit(after_send(record, "502 5.5.2")), record.all


def tls_flight_carrying(reply, state):
    """STARTTLS handshake (TLS 1.2, the rig's certificate) over memory BIOs, so the server's last
    flight (its Finished) and `reply`, already encrypted, leave in ONE write: the client reads
    them together, before it could have written its post-TLS EHLO. Then records what the client
    sends through TLS (decrypted, into `Record.tls`) until it closes; `state` gets
    "handshake-done" and "close-notify" as they happen."""
    def run(server):
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(server.cert, server.key)
        context.maximum_version = ssl.TLSVersion.TLSv1_2
        incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
        tls = context.wrap_bio(incoming, outgoing, server_side=True)
        while True:
            try:
                tls.do_handshake()
                break
            except ssl.SSLWantReadError:
                if outgoing.pending:
                    server.conn.sendall(outgoing.read())
                chunk = server.conn.recv(65536)
                if not chunk:
                    server.record.errors.append("client closed during the handshake")
                    return False
                incoming.write(chunk)
        state.append("handshake-done")
        tls.write(reply.encode())
        server._mark(reply.encode())
        server.conn.sendall(outgoing.read())
        server.in_tls = True
        while True:
            try:
                chunk = server.conn.recv(65536)
            except (socket.timeout, OSError):
                return False
            if not chunk:
                return False
            incoming.write(chunk)
            try:
                while True:
                    server.record.tls.extend(tls.read(65536))
            except ssl.SSLWantReadError:
                pass
            except ssl.SSLZeroReturnError:
                state.append("close-notify")
                return False
    return handler(run)


@pytest.mark.parametrize("driver", both("T23"))
def test_reply_in_the_last_handshake_flight_is_not_the_ehlo_reply(driver):
    """Issue 11 point 9 (SECURITY.md: after TLS the EHLO goes out first). The server sends its
    post-TLS EHLO reply in the same write as its handshake Finished, before it could have seen
    the client's EHLO: that reply answers nothing. Exit 1, a protocol violation naming the
    unsolicited 250; nothing at all through TLS (no EHLO, no MAIL), and nothing in the clear
    after the 220."""
    need_rig()
    state = []
    steps = plain_session("STARTTLS", "8BITMIME") + [expect("STARTTLS$"), send("220 2.0.0 ready\r\n"),
                                                      tls_flight_carrying(ehlo("8BITMIME"), state)]
    run, record = session(driver, steps, *tls_args(), "--timeout", "2")
    finished(run, 1)
    not_sent(run)
    assert state[:1] == ["handshake-done"], (state, record.errors)
    assert run.lines[-1] == "protocol violation: unsolicited reply 250 when no command was pending", run
    assert bytes(record.tls) == b"", bytes(record.tls)
    assert bytes(record.plain).endswith(b"\r\nSTARTTLS\r\n"), bytes(record.plain)


# ================================================================================================
# A: AUTH
# ================================================================================================

@pytest.mark.parametrize("mode, driver", matrix([("A01-auth-offered-no-tls", "opportunistic"),
                                                 ("A01-auth-offered-tls-off", "off")]))
def test_auth_offered_without_tls(mode, driver):
    """AUTH offered on a connection without TLS (no STARTTLS): credentials never go out in the
    clear (no AUTH line), no MAIL; QUIT only; exit 1."""
    steps = plain_session("AUTH PLAIN LOGIN CRAM-MD5", "8BITMIME") + [tail()]
    run, record = session(driver, steps, "--tls", mode, "--user", "alice", env={"SMTP_PASSWORD": "secret-pw"})
    finished(run, 1)
    not_sent(run, "without TLS")
    assert only_quit(after_send(record, "250 8BITMIME")), record.all
    assert b"secret" not in record.all and base64.b64encode(b"\0alice\0secret-pw") not in record.all


@pytest.mark.parametrize("driver", both("A02"))
def test_starttls_refused_with_auth_configured(driver):
    """STARTTLS offered then refused, --user given: no AUTH in the clear."""
    steps = plain_session("STARTTLS", "AUTH PLAIN") + [expect("STARTTLS$"), send("454 4.7.0 not today\r\n"), tail()]
    run, record = session(driver, steps, "--user", "alice", env={"SMTP_PASSWORD": "secret-pw"})
    finished(run, 1)
    not_sent(run)
    assert only_quit(after_send(record, "454 4.7.0")), record.all


def endless_challenges(server):
    """Answers AUTH and every line after it with a 334 challenge, even after "*" (40 at most)."""
    line = server.line()
    if line is None or not line.upper().startswith("AUTH"):
        return False
    for _ in range(40):
        server.send("334 UGFzc3dvcmQ6\r\n")
        if server.line() is None:
            return False
    return False


@pytest.mark.parametrize("mechanism, driver", matrix([(f"A03-endless-334-{m.lower()}", m)
                                                      for m in ["LOGIN", "PLAIN", "CRAM-MD5", "XOAUTH2"]]))
def test_endless_334_loop_is_cancelled(mechanism, driver):
    """Every AUTH line gets another 334, forever: the client answers at most 10 challenges, then
    cancels with "*", and stops when the loop goes on; no MAIL; exit 1."""
    steps = plain_session(f"AUTH {mechanism}") + [handler(endless_challenges)]
    run, record = session(driver, steps, "--tls", "off", "--allow-plaintext-auth", "--user", "alice", "--auth", mechanism,
                          env={"SMTP_PASSWORD": "pw"})
    finished(run, 1)
    not_sent(run, "(?i)auth")
    auth_and_after = record.all[record.all.index(b"AUTH"):]
    exchanged = [line for line in lines(auth_and_after)[1:] if line != b"QUIT"]
    assert len(exchanged) <= 11, exchanged
    assert exchanged and exchanged[-1] == b"*", exchanged
    no_transaction(auth_and_after.replace(b"AUTH " + mechanism.encode(), b"", 1))


@pytest.mark.parametrize("challenge, driver", matrix([
    ("A04-oversized-challenge", "334 " + "QUFB" * 25000 + "\r\n"),
    ("A05-invalid-base64-challenge", "334 !!not*base64??\r\n"),
    ("A05-multiline-challenge", "334-VXNlcm5hbWU6\r\n334 VXNlcm5hbWU6\r\n"),
]))
def test_bad_challenge(challenge, driver):
    """An oversized, invalid or multi-line 334 challenge: no credentials go out in answer (only
    "*" to cancel, or nothing), no MAIL; exit 1."""
    steps = plain_session("AUTH LOGIN") + [expect("AUTH LOGIN$"), send(challenge), tail("501 5.7.0 cancelled\r\n")]
    run, record = session(driver, steps, "--tls", "off", "--allow-plaintext-auth", "--user", "alice", "--auth", "LOGIN",
                          env={"SMTP_PASSWORD": "pw"})
    finished(run, 1)
    not_sent(run)
    after = lines(after_send(record, challenge[:20]))
    assert after in ([], [b"*"], [b"QUIT"], [b"*", b"QUIT"]), after
    assert base64.b64encode(b"alice") not in record.all


@pytest.mark.parametrize("code, driver", matrix([(f"A06-auth-{c[:3]}", c) for c in [
    "535 5.7.8 authentication credentials invalid", "454 4.7.0 temporary authentication failure",
    "534 5.7.9 authentication mechanism is too weak", "538 5.7.11 encryption required", "432 4.7.12 password transition needed"]]))
def test_auth_failure_codes(code, driver):
    """AUTH fails with 535/454/534/538/432: reported with its code, no second AUTH (no silent
    retry with a weaker mechanism), no MAIL; exit 1."""
    steps = plain_session("AUTH PLAIN LOGIN CRAM-MD5") + [expect("AUTH "), send(code + "\r\n"), tail()]
    run, record = session(driver, steps, "--tls", "off", "--allow-plaintext-auth", "--user", "alice",
                          env={"SMTP_PASSWORD": "pw"})
    finished(run, 1)
    not_sent(run)
    assert run.lines[-1] == f"authentication failed: {code}", run
    assert verbs(record.all).count(b"AUTH") == 1
    assert only_quit(after_send(record, code)), record.all


@pytest.mark.parametrize("where, driver", matrix([
    ("A07-235-as-ehlo-reply", "ehlo"),
    ("A07-235-to-mail", "mail"),
    ("A08-334-to-mail", "mail334"),
    ("A08-334-to-ehlo", "ehlo334"),
    ("A09-250-to-auth", "auth250"),
]))
def test_auth_replies_arriving_unasked(where, driver):
    """235 or 334 where no AUTH was sent (to EHLO, to MAIL), or 250 to AUTH: violations; the
    client never behaves as authenticated: no MAIL after a bogus AUTH reply, no RCPT after a
    bogus MAIL reply; exit 1."""
    args = ["--tls", "off"]
    if where == "ehlo":
        steps, marker = [send(GREETING), expect("EHLO "), send("235 2.7.0 authenticated\r\n"), tail()], "235 2.7.0"
    elif where == "ehlo334":
        steps, marker = [send(GREETING), expect("EHLO "), send("334 VXNlcm5hbWU6\r\n"), tail()], "334 VXNl"
    elif where == "auth250":
        args += ["--allow-plaintext-auth", "--user", "alice"]
        steps, marker = plain_session("AUTH PLAIN") + [expect("AUTH PLAIN"), send("250 2.7.0 fine\r\n"), tail()], "250 2.7.0 fine"
    else:
        text = "235 2.7.0 authenticated\r\n" if where == "mail" else "334 VXNlcm5hbWU6\r\n"
        steps, marker = plain_session("8BITMIME") + [expect("MAIL FROM:<"), send(text), tail()], text[:8]
    run, record = session(driver, steps, *args, env={"SMTP_PASSWORD": "pw"})
    finished(run, 1)
    not_sent(run)
    assert only_quit(after_send(record, marker)), record.all


@pytest.mark.parametrize("driver", both("A10"))
def test_235_before_the_credentials(driver):
    """AUTH LOGIN: the server sends its 334 and a 235 in one write, before the client sent the
    username: the 235 answers nothing the client sent; the client must not proceed as
    authenticated (no MAIL)."""
    steps = plain_session("AUTH LOGIN", "8BITMIME") + [expect("AUTH LOGIN$"), send("334 VXNlcm5hbWU6\r\n235 2.7.0 ok\r\n"),
                                                       silence(1), tail()]
    run, record = session(driver, steps, "--tls", "off", "--allow-plaintext-auth", "--user", "alice", "--auth", "LOGIN",
                          env={"SMTP_PASSWORD": "pw"})
    finished(run, 1)
    not_sent(run)
    assert b"MAIL" not in record.all, record.all


def scram_server(variant):
    """A hostile SCRAM-SHA-256 server (RFC 5802): it never checks the client proof, and lies in
    the way `variant` says. Answers "*" with 501; then the session goes on with `tail`."""
    def b64(text):
        return base64.b64encode(text if isinstance(text, bytes) else text.encode()).decode()

    def run(server):
        line = server.line()
        if line is None or not line.upper().startswith("AUTH SCRAM-SHA-256 "):
            return False
        client_first = base64.b64decode(line.split(" ")[2]).decode()
        nonce = dict(part.split("=", 1) for part in client_first[3:].split(","))["r"]
        if variant == "235-at-once":
            server.send("235 2.7.0 welcome, no questions asked\r\n")
            return True
        iterations = {"one-iteration": 1, "huge-iterations": 2 ** 31 - 1}.get(variant, 4096)
        server_nonce = "not-your-nonce" if variant == "foreign-nonce" else nonce + "srv"
        salt = b64(b"salt-salt-salt")
        server_first = f"r={server_nonce},s={salt},i={iterations}"
        server.send(f"334 {b64(server_first)}\r\n")
        line = server.line()
        if line is None:
            return False
        if line == "*":
            server.send("501 5.7.0 cancelled\r\n")
            return True
        if variant == "235-without-server-final":
            server.send("235 2.7.0 ok\r\n")
            return True
        server.send(f"334 {b64('v=' + b64(bytes(32)))}\r\n")  # a signature that cannot be right
        line = server.line()
        server.send("501 5.7.0 cancelled\r\n" if line == "*" else "235 2.7.0 ok\r\n")
        return line is not None
    return handler(run)


@pytest.mark.parametrize("variant, driver", matrix([(f"A12-scram-{v}", v) for v in [
    "235-at-once", "235-without-server-final", "bad-server-signature", "foreign-nonce", "one-iteration",
    "huge-iterations"]]))
def test_scram_server_that_cannot_prove_itself(variant, driver):
    """SCRAM-SHA-256 against a server that skips or fakes its proof (235 at once, 235 without the
    server-final message, a wrong server signature), changes the nonce, or asks for 1 or 2^31-1
    iterations (offline-crackable / CPU burn): never authenticated, no MAIL, quickly; the proof
    is not sent when the server-first message is already unacceptable."""
    steps = plain_session("AUTH SCRAM-SHA-256", "8BITMIME") + [scram_server(variant), tail()]
    run, record = session(driver, steps, "--tls", "off", "--allow-plaintext-auth", "--user", "alice", "--auth",
                          "SCRAM-SHA-256", env={"SMTP_PASSWORD": "pw"})
    finished(run, 1)
    not_sent(run, "(?i)auth|scram")
    no_transaction(b"\r\n".join(line for line in lines(record.all) if not line.startswith(b"AUTH ")))
    if variant in ("foreign-nonce", "one-iteration", "huge-iterations"):
        after_auth = record.commands[[c.startswith("AUTH") for c in record.commands].index(True) + 1:]
        proofs = [c for c in after_auth if c not in ("*", "QUIT")]
        assert not proofs, f"sent a client proof to an unacceptable server-first message: {proofs}"


@pytest.mark.parametrize("mechanism, driver", matrix([("A11-crlf-in-password-login", "LOGIN"),
                                                      ("A11-crlf-in-password-plain", "PLAIN")]))
def test_crlf_in_password_stays_inside_base64(mechanism, driver):
    """A password holding CRLF and a command: each AUTH response is one base64 line; the
    embedded command never appears on the wire; exactly one MAIL."""
    password = "pw\r\nMAIL FROM:<evil@example.com>\r\nRCPT TO:<victim@example.com>"
    if mechanism == "LOGIN":
        auth = [expect("AUTH LOGIN$"), send("334 VXNlcm5hbWU6\r\n"), expect("[A-Za-z0-9+/=]+$"), send("334 UGFzc3dvcmQ6\r\n"),
                expect("[A-Za-z0-9+/=]+$"), send("235 2.7.0 ok\r\n")]
    else:
        auth = [expect("AUTH PLAIN [A-Za-z0-9+/=]+$"), send("235 2.7.0 ok\r\n")]
    steps = plain_session(f"AUTH {mechanism}", "8BITMIME") + auth + transaction() + [tail()]
    run, record = session(driver, steps, "--tls", "off", "--allow-plaintext-auth", "--user", "alice", "--auth", mechanism,
                          env={"SMTP_PASSWORD": password})
    finished(run, 0)
    delivered(run)
    assert b"evil@example.com" not in record.all and b"victim" not in record.all
    assert record.all.count(b"MAIL FROM:") == 1
    encoded = [c for c in record.commands if re.fullmatch(r"[A-Za-z0-9+/=]+", c) or c.startswith("AUTH PLAIN ")]
    decoded = [base64.b64decode(c.split(" ")[-1]) for c in encoded]
    assert password.encode() in b"".join(decoded), decoded


# ================================================================================================
# D: data transparency
# ================================================================================================

SMUGGLED = b"MAIL FROM:<evil@example.com>\r\nRCPT TO:<victim@example.com>\r\nDATA\r\nFrom: ceo@example.org\r\n\r\nwire money\r\n"

SEQUENCES = [
    ("D01-lf-dot-lf", b"\n.\n"),
    ("D01-lf-dot-crlf", b"\n.\r\n"),
    ("D01-cr-dot-cr", b"\r.\r"),
    ("D01-crlf-dot-cr", b"\r\n.\r"),
    ("D01-cr-dot-crlf", b"\r.\r\n"),
    ("D01-crlf-dot-lf", b"\r\n.\n"),
    ("D01-cr-dot-lf", b"\r.\n"),
    ("D01-lf-dot-cr", b"\n.\r"),
    ("D01-crlf-dot-crlf", b"\r\n.\r\n"),
]


def data_steps(capabilities=("8BITMIME",)):
    return plain_session(*capabilities) + transaction() + [tail()]


def check_data(record, content):
    """The DATA content on the wire equals the reference byte for byte, ends the data only at its
    end, carries no bare CR or LF, and nothing but QUIT follows it."""
    expected = wire_data(content)
    on_wire = data_on_wire(record)
    assert on_wire[:len(expected)] == expected, _first_difference(on_wire, expected)
    assert expected.find(b"\r\n.\r\n") in (-1, len(expected) - 5)
    assert no_bare_cr_lf(on_wire[:len(expected)])
    assert on_wire[len(expected):] in (b"", b"QUIT\r\n"), on_wire[len(expected):][:300]
    assert [c for c in record.commands if c.upper().startswith("MAIL")] == ["MAIL FROM:<a@example.org>"], record.commands


def _first_difference(actual, expected):
    for index, (a, b) in enumerate(zip(actual, expected)):
        if a != b:
            return f"first difference at offset {index}: wire {actual[max(0, index - 20):index + 20]!r} " \
                   f"expected {expected[max(0, index - 20):index + 20]!r}"
    return f"lengths differ: wire {len(actual)}, expected {len(expected)}"


@pytest.mark.parametrize("sequence, driver", matrix(SEQUENCES))
def test_smuggling_sequences_cannot_end_the_data(sequence, driver, tmp_path):
    """Every SMTP-smuggling end-of-data variant inside the content, followed by a smuggled
    transaction: on the wire every line ends in CRLF, dots are doubled, the data ends only at its
    end, the smuggled MAIL is never a command; the message is accepted once."""
    content = b"From: a@example.org\r\nSubject: smuggle\r\n\r\nhello" + sequence + SMUGGLED + b"tail\r\n"
    path = tmp_path / "m.eml"
    path.write_bytes(content)
    run, record = session(driver, data_steps(), "--tls", "off", "--data", str(path))
    finished(run, 0)
    delivered(run)
    check_data(record, content)


DOT_CONTENTS = [
    ("D02-dot-first-line", b".\r\nSubject: first line is a dot\r\n\r\nbody\r\n"),
    ("D02-dots-everywhere", b"Subject: dots\r\n\r\n.\r\n..\r\n...\r\n. \r\n.x\r\n\r\n.\r\n\r\n\r\n.after-empty\r\nend"),
    ("D02-dot-lf-only-lines", b"Subject: lf\n\n.\n..\n.x\nend\n."),
    ("D02-final-dot-no-newline", b"Subject: end\r\n\r\nlast line\r\n."),
    ("D02-empty-content", b""),
    ("D02-only-a-dot", b"."),
    ("D02-lone-cr-and-lf", b"Subject: mixed\r\n\r\na\rb\nc\r\n\r\rd\n\ne\r"),
    ("D02-ends-with-end-of-data", b"Subject: end\r\n\r\nhello\r\n.\r\n"),
]


@pytest.mark.parametrize("content, driver", matrix(DOT_CONTENTS))
def test_leading_dots_and_line_ends(content, driver, tmp_path):
    """Leading dots on the first line, after empty lines, on LF-only lines, a last line without
    a line end, empty content, lone CR and LF: byte-exact on the wire against the reference."""
    path = tmp_path / "m.eml"
    path.write_bytes(content)
    run, record = session(driver, data_steps(), "--tls", "off", "--data", str(path))
    finished(run, 0)
    delivered(run)
    check_data(record, content)


def straddling(sequence, split, boundary=65536):
    """Content in which `sequence` starts `split` octets before `boundary` (so its first `split`
    octets end one 64 KiB read and the rest begin the next), then a smuggled transaction."""
    head = b"From: a@example.org\r\nSubject: chunks\r\n\r\n"
    start = boundary - split
    filler = bytearray(head)
    while len(filler) < start - 80:
        filler += b"f" * 70 + b"\r\n"
    filler += b"g" * (start - len(filler))  # a last line without its line end
    assert len(filler) == start
    return bytes(filler) + sequence + SMUGGLED + b"tail\r\n" + b"h" * 70 + b"\r\n"


CHUNK_SPLITS = [
    ("D03-crlf^dot-crlf", (b"\r\n.\r\n", 2, 65536)),
    ("D03-cr^lf-dot-crlf", (b"\r\n.\r\n", 1, 65536)),
    ("D03-crlf-dot^crlf", (b"\r\n.\r\n", 3, 65536)),
    ("D03-lf^dot-lf", (b"\n.\n", 1, 65536)),
    ("D03-cr^dot-cr", (b"\r.\r", 1, 65536)),
    ("D03-lf-dot^crlf", (b"\n.\r\n", 2, 65536)),
    ("D03-crlf-dot-cr^", (b"\r\n.\r", 4, 65536)),
    ("D03-cr^dot-lf", (b"\r.\n", 1, 65536)),
    ("D03-second-boundary-lf^dot-lf", (b"\n.\n", 1, 131072)),
]


@pytest.mark.parametrize("split, driver", matrix(CHUNK_SPLITS))
def test_smuggling_across_64k_chunk_boundaries(split, driver, tmp_path):
    """The dangerous sequence straddles a 64 KiB read of the message file (the drivers' chunk
    size): normalization and dot-stuffing hold across the boundary, byte for byte."""
    sequence, at, boundary = split
    content = straddling(sequence, at, boundary)
    path = tmp_path / "m.eml"
    path.write_bytes(content)
    run, record = session(driver, data_steps(("8BITMIME", "PIPELINING")), "--tls", "off", "--data", str(path))
    finished(run, 0)
    delivered(run)
    check_data(record, content)


@pytest.mark.parametrize("driver", both("D04"))
def test_dot_at_chunk_start_from_stdin(driver):
    """The same across-the-boundary check with the message on standard input (spooled, then
    read in 64 KiB chunks): a line ending closes the first chunk, a dot line opens the second."""
    content = straddling(b"\r\n.\r\n", 2)
    run, record = session(driver, data_steps(), "--tls", "off", "--data", "-", stdin=content)
    finished(run, 0)
    delivered(run)
    check_data(record, content)


@pytest.mark.parametrize("driver", both("D05"))
def test_longest_legal_line_with_a_dot(driver, tmp_path):
    """A 998-octet line starting with a dot is legal (the doubled dot does not count): sent
    byte for byte as 999 octets plus CRLF."""
    content = b"Subject: long\r\n\r\n." + b"L" * 997 + b"\r\nend\r\n"
    path = tmp_path / "m.eml"
    path.write_bytes(content)
    run, record = session(driver, data_steps(), "--tls", "off", "--data", str(path))
    finished(run, 0)
    delivered(run)
    check_data(record, content)


BAD_CONTENT = [
    ("D06-nul-byte", b"Subject: nul\r\n\r\nhello\x00world\r\n" + SMUGGLED),
    ("D06-nul-after-first-chunk", straddling(b"\r\n\x00.\r\n", 2)),
    ("D07-overlong-line", b"Subject: long\r\n\r\n" + b"x" * 1200 + b"\r\n"),
    ("D07-overlong-line-after-first-chunk", straddling(b"\r\n" + b"x" * 1500 + b"\r\n", 2)),
]


@pytest.mark.parametrize("content, driver", matrix(BAD_CONTENT))
def test_nul_and_overlong_lines_never_end_the_data(content, driver, tmp_path):
    """NUL bytes and lines over 998 octets are refused. Refused before connecting (exit 2,
    nothing sent) or during DATA, which cannot be aborted: then the connection is dropped and the
    end-of-data sequence never reaches the server, so no truncated message is delivered; exit 1."""
    path = tmp_path / "m.eml"
    path.write_bytes(content)
    steps = plain_session("8BITMIME") + [expect("MAIL FROM:<"), send("250 ok\r\n"), expect("RCPT TO:<"), send("250 ok\r\n"),
                                         expect("DATA$"), send("354 go\r\n"), silence(5)]
    run, record = session(driver, steps, "--tls", "off", "--data", str(path))
    if run.status == 2:
        finished(run, 2)
        assert record.all == b""
        return
    finished(run, 1)
    not_sent(run)
    if b"DATA\r\n" in record.all:
        on_wire = data_on_wire(record)
        assert b"\r\n.\r\n" not in on_wire and not on_wire.startswith(b".\r\n"), on_wire[-200:]
        assert b"\x00" not in on_wire
    assert record.client_closed


def bdat_server(refuse_first=False, results=None):
    """Reads BDAT chunks (exact counts) until LAST, answering 250 (or 552 to the first chunk),
    then serves the rest like `tail`."""
    refusing = [refuse_first]

    def run(server):
        while True:
            line = server.line()
            if line is None:
                return False
            words = line.split()
            if words and words[0].upper() == "BDAT":
                count = int(words[1])
                chunk = server.take(count) if count else b""
                if chunk is None:
                    return False
                results.append((line, chunk))
                if refusing[0]:
                    refusing[0] = False
                    server.send("552 5.3.4 chunk refused\r\n")
                    continue
                server.send("250 2.0.0 chunk ok\r\n" if len(words) == 2 else QUEUED)
            elif line.upper() == "QUIT":
                server.send("221 bye\r\n")
                return False
            elif line.upper() == "DATA":
                results.append((line, b""))
                server.send("554 5.5.1 use BDAT\r\n")
            else:
                server.send("250 2.0.0 ok\r\n")
    return handler(run)


@pytest.mark.parametrize("pipelining, driver", matrix([("D08-bdat-framing", True), ("D08-bdat-framing-no-pipelining", False)]))
def test_bdat_framing(pipelining, driver, tmp_path):
    """CHUNKING offered: BDAT with exact octet counts, LAST on the final chunk only, the chunks
    add up to the normalized content (no dot-stuffing, no "." terminator); smuggling sequences
    and leading dots pass as plain data; never DATA."""
    content = straddling(b"\n.\n", 1) + b".leading\r\n\r\n.\r\n" + straddling(b"\r.\r", 1, 131072)[-2000:]
    path = tmp_path / "m.eml"
    path.write_bytes(content)
    chunks = []
    caps = ("CHUNKING", "8BITMIME") + (("PIPELINING",) if pipelining else ())
    steps = plain_session(*caps) + [expect("MAIL FROM:<"), send("250 ok\r\n"), expect("RCPT TO:<"), send("250 ok\r\n"),
                                    bdat_server(results=chunks)]
    run, record = session(driver, steps, "--tls", "off", "--data", str(path))
    finished(run, 0)
    delivered(run)
    assert not [c for c in record.commands if c.upper() == "DATA"], record.commands
    assert chunks, record.all[:300]
    for line, chunk in chunks:
        assert re.fullmatch(r"BDAT \d+( LAST)?", line), line
        assert int(line.split()[1]) == len(chunk)
    assert [line.endswith(" LAST") for line, _ in chunks] == [False] * (len(chunks) - 1) + [True]
    assert b"".join(chunk for _, chunk in chunks) == chunked_text(content)


@pytest.mark.parametrize("driver", both("D09"))
def test_no_bdat_chunk_after_a_refused_one(driver, tmp_path):
    """CHUNKING without PIPELINING and a 200 KiB message: the first BDAT chunk is refused (552):
    no further chunk goes out (RFC 3030), only RSET/QUIT; exit 1."""
    path = tmp_path / "m.eml"
    path.write_bytes(b"Subject: chunks\r\n\r\n" + (b"c" * 98 + b"\r\n") * 2000)
    chunks = []
    steps = plain_session("CHUNKING", "8BITMIME") + [expect("MAIL FROM:<"), send("250 ok\r\n"), expect("RCPT TO:<"),
                                                     send("250 ok\r\n"), bdat_server(refuse_first=True, results=chunks)]
    run, record = session(driver, steps, "--tls", "off", "--data", str(path))
    finished(run, 1)
    not_sent(run)
    assert len(chunks) == 1, [line for line, _ in chunks]
    assert set(verbs(after_send(record, "552 5.3.4"))) <= {b"RSET", b"QUIT"}, record.all[-300:]


@pytest.mark.parametrize("driver", both("D10"))
def test_nul_with_bdat_never_completes(driver, tmp_path):
    """CHUNKING and a NUL byte after the first 64 KiB: the message is refused; no BDAT ... LAST
    ever reaches the server; exit 1 (or exit 2 with nothing sent)."""
    path = tmp_path / "m.eml"
    path.write_bytes(straddling(b"\r\n\x00\r\n", 2))
    chunks = []
    steps = plain_session("CHUNKING", "8BITMIME") + [expect("MAIL FROM:<"), send("250 ok\r\n"), expect("RCPT TO:<"),
                                                     send("250 ok\r\n"), bdat_server(results=chunks)]
    run, record = session(driver, steps, "--tls", "off", "--data", str(path))
    if run.status == 2:
        finished(run, 2)
        assert record.all == b""
        return
    finished(run, 1)
    not_sent(run)
    assert not any(line.endswith("LAST") for line, _ in chunks), chunks
    assert b"\x00" not in b"".join(chunk for _, chunk in chunks)


INJECTIONS = [
    ("D11-crlf-in-to", ([], ["a@example.org", "b@example.net\r\nRCPT TO:<evil@example.com>"])),
    ("D11-lf-in-to", ([], ["a@example.org", "b@example.net\nDATA"])),
    ("D11-cr-in-from", ([], ["a@example.org\rMAIL FROM:<evil@example.com>", "b@example.net"])),
    ("D11-angle-and-param-in-to", ([], ["a@example.org", "b@example.net> NOTIFY=NEVER ORCPT=rfc822;x"])),
    ("D11-space-param-in-from", ([], ["a@example.org SIZE=1 BODY=8BITMIME", "b@example.net"])),
    ("D11-tab-in-to", ([], ["a@example.org", "b@example.net\tX"])),
    ("D11-escape-in-to", ([], ["a@example.org", "b\x1b[2J@example.net"])),
    ("D11-crlf-in-second-to", ([], ["a@example.org", "b@example.net", "c@example.net\r\nQUIT"])),
    ("D12-crlf-in-helo", (["--helo", "client.example\r\nMAIL FROM:<evil@example.com>"], ["a@example.org", "b@example.net"])),
    ("D12-lf-in-helo", (["--helo", "client.example\nRSET"], ["a@example.org", "b@example.net"])),
    ("D12-space-in-helo", (["--helo", "client.example SIZE=1"], ["a@example.org", "b@example.net"])),
    ("D13-crlf-in-tls-name", (["--tls-name", "localhost\r\nX"], ["a@example.org", "b@example.net"])),
    ("D13-crlf-in-auth-mechanism", (["--user", "alice", "--auth", "PLAIN\r\nMAIL FROM:<e@example.com>"],
                                    ["a@example.org", "b@example.net"])),
]


@pytest.mark.parametrize("args, driver", matrix(INJECTIONS))
def test_crlf_injection_refused_before_connecting(args, driver):
    """CR, LF, controls, spaces or angle brackets in an address, the EHLO name, the TLS name or
    the mechanism: usage error (exit 2) before connecting: the server sees no connection at all."""
    options, positional = args
    server = ScriptedServer([tail()], timeout=10, accept_timeout=20)
    run = smtp_send("--driver", driver, *options, f"127.0.0.1:{server.port}", *positional, env={"SMTP_PASSWORD": "pw"},
                    limit=20)
    record = server.stop()
    finished(run, 2)
    assert run.stdout == "", run
    assert not record.connected, "smtp-send connected despite bad input"


# ================================================================================================
# L: limits and time
# ================================================================================================

PHASES = [
    ("L01-silent-greeting", "greeting"),
    ("L01-silent-ehlo", "EHLO/HELO"),
    ("L01-silent-starttls", "STARTTLS"),
    ("L01-silent-tls-handshake", "TLS handshake"),
    ("L01-silent-implicit-tls-handshake", "implicit TLS handshake"),
    ("L01-silent-auth", "AUTH"),
    ("L01-silent-mail", "MAIL"),
    ("L01-silent-rcpt", "RCPT"),
    ("L01-silent-data", "DATA"),
    ("L01-silent-end-of-data", "end of data"),
    ("L01-silent-rset", "RSET"),
]


@pytest.mark.parametrize("phase, driver", matrix(PHASES))
def test_silence_at_each_phase_times_out(phase, driver):
    """The server goes silent at one phase; --timeout 1: the timeout fires for that phase (not
    before ~1 s, not after 1 s + margin), the client sends nothing more (QUIT at most), exit 1.
    Silence after the final dot leaves the delivery unknown, which is not success."""
    args = ["--tls", "off", "--timeout", "1"]
    base = plain_session("8BITMIME")
    quiet = [silence(6)]
    if phase == "greeting":
        steps = quiet
    elif phase == "EHLO/HELO":
        steps = [send(GREETING), expect("EHLO ")] + quiet
    elif phase == "STARTTLS":
        args = ["--timeout", "1"]
        steps = plain_session("STARTTLS") + [expect("STARTTLS$")] + quiet
    elif phase == "TLS handshake":
        args = ["--timeout", "1"] + tls_args()
        steps = plain_session("STARTTLS") + [expect("STARTTLS$"), send("220 2.0.0 ready\r\n")] + quiet
    elif phase == "implicit TLS handshake":
        args = ["--timeout", "1", "--tls", "implicit"] + tls_args()
        steps = quiet
    elif phase == "AUTH":
        args += ["--user", "alice", "--allow-plaintext-auth"]
        steps = plain_session("AUTH PLAIN") + [expect("AUTH PLAIN")] + quiet
    elif phase == "MAIL":
        steps = base + [expect("MAIL FROM:<")] + quiet
    elif phase == "RCPT":
        steps = base + [expect("MAIL FROM:<"), send("250 ok\r\n"), expect("RCPT TO:<")] + quiet
    elif phase == "DATA":
        steps = base + [expect("MAIL FROM:<"), send("250 ok\r\n"), expect("RCPT TO:<"), send("250 ok\r\n"), expect("DATA$")] + quiet
    elif phase == "end of data":
        steps = base + [expect("MAIL FROM:<"), send("250 ok\r\n"), expect("RCPT TO:<"), send("250 ok\r\n"), expect("DATA$"),
                        send("354 go\r\n"), read_data()] + quiet
    else:  # RSET after a refused recipient
        steps = base + [expect("MAIL FROM:<"), send("250 ok\r\n"), expect("RCPT TO:<"), send("550 5.1.1 no such user\r\n"),
                        expect("RSET$")] + quiet
    run, record = session(driver, steps, *args, env={"SMTP_PASSWORD": "pw"})
    finished(run, 1, within=1 + MARGIN, at_least=0.9)
    not_sent(run)
    wanted = {"implicit TLS handshake": "TLS handshake", "end of data": "end of data"}.get(phase, phase)
    if phase != "RSET":
        assert f"timed out waiting for {wanted}" in run.lines[-1], run
    if phase == "end of data":
        assert "may or may not have been delivered" in run.lines[-1], run
    # Nothing after the last command the silent server received, except QUIT.
    last_command = record.commands[-1].encode() + b"\r\n" if record.commands else b""
    if phase not in ("greeting", "implicit TLS handshake", "TLS handshake", "end of data"):
        tail_bytes = record.all[record.all.rindex(last_command) + len(last_command):]
        assert only_quit(tail_bytes), tail_bytes
    if phase == "greeting":
        assert record.all == b""
    if phase == "TLS handshake":
        assert not TLS_ERROR_WORDS.search(after_send(record, "220 2.0.0 ready")), record.all
    if phase == "implicit TLS handshake":
        assert not TLS_ERROR_WORDS.search(record.all), record.all


@pytest.mark.parametrize("driver", both("L02"))
def test_silent_quit_after_delivery(driver):
    """The message was accepted and QUIT gets no answer: exit 0 within --timeout + margin."""
    steps = plain_session("8BITMIME") + transaction() + [expect("QUIT$"), silence(8)]
    run, record = session(driver, steps, "--tls", "off", "--timeout", "1")
    finished(run, 0, within=1 + MARGIN)
    delivered(run)
    assert record.all.endswith(b"\r\n.\r\nQUIT\r\n"), record.all[-100:]


def big_message(tmp_path, mib=12):
    path = tmp_path / "big.eml"
    line = b"b" * 126 + b"\r\n"
    path.write_bytes(b"Subject: big\r\n\r\n" + line * (mib * 1024 * 1024 // len(line)))
    return path


@pytest.mark.parametrize("driver", both("L03"))
def test_server_stops_reading_mid_body(driver, tmp_path):
    """After 354 the server stops reading a 12 MiB message (the socket buffers fill and writes
    block): the data-block timeout fires within --timeout + margin; the data is never ended;
    exit 1."""
    path = big_message(tmp_path)
    steps = plain_session("8BITMIME") + [expect("MAIL FROM:<"), send("250 ok\r\n"), expect("RCPT TO:<"), send("250 ok\r\n"),
                                         expect("DATA$"), send("354 go\r\n"), pause(5)]
    run, record = session(driver, steps, "--tls", "off", "--timeout", "1", "--data", str(path))
    finished(run, 1, within=1 + MARGIN)
    not_sent(run, "timed out")


@pytest.mark.parametrize("how, driver", matrix([("L04-greeting-dripped-slower-than-timeout", "drip"),
                                                ("L04-endless-multiline-slowly", "slow-flood")]))
def test_slow_drip_does_not_extend_the_timeout(how, driver):
    """A reply that keeps coming, slowly (one byte every 0.3 s; one more EHLO line every 0.2 s):
    the timeout is per reply, not per byte, so the client gives up within --timeout + margin."""
    if how == "drip":
        steps = [drip("220 mx.test ESMTP slowly but surely\r\n", 0.3)]
    else:
        steps = [send(GREETING), expect("EHLO "), flood("250-still going\r\n", count=60, delay=0.2)]
    run, record = session(driver, steps, "--tls", "off", "--timeout", "1")
    finished(run, 1, within=1 + MARGIN)
    not_sent(run, "timed out")
    no_transaction(record.all)


@pytest.mark.parametrize("size, driver", matrix([("L05-size-exceeded", "SIZE 100"),
                                                 ("L05-size-exceeded-by-one", "exact-minus-one")]))
def test_size_exceeded_refused_before_mail(size, driver, tmp_path):
    """The server's SIZE is smaller than the message: refused locally before MAIL (nothing of the
    transaction goes out), QUIT only; exit 1."""
    content = b"Subject: size\r\n\r\n" + b"s" * 300 + b"\r\n"
    path = tmp_path / "m.eml"
    path.write_bytes(content)
    cap = size if size.startswith("SIZE") else f"SIZE {len(content) - 1}"
    steps = plain_session(cap, "8BITMIME") + [tail()]
    run, record = session(driver, steps, "--tls", "off", "--data", str(path))
    finished(run, 1)
    not_sent(run, "SIZE")
    assert only_quit(after_send(record, cap)), record.all


@pytest.mark.parametrize("cap, driver", matrix([
    ("L06-size-exact", "exact"),
    ("L06-size-garbage", "SIZE banana"),
    ("L06-size-negative", "SIZE -5"),
    ("L06-size-absurd", "SIZE 99999999999999999999999999999"),
    ("L06-size-zero", "SIZE 0"),
]))
def test_odd_size_values(cap, driver, tmp_path):
    """SIZE equal to the message, or malformed / negative / absurd / 0 (no fixed limit): the
    message goes through; MAIL carries SIZE=<its size>; no crash."""
    content = b"Subject: size\r\n\r\n" + b"s" * 300 + b"\r\n"
    path = tmp_path / "m.eml"
    path.write_bytes(content)
    cap = f"SIZE {len(content)}" if cap == "exact" else cap
    steps = plain_session(cap, "8BITMIME") + [expect(f"MAIL FROM:<a@example.org> SIZE={len(content)}$"), send("250 ok\r\n"),
                                              expect("RCPT TO:<"), send("250 ok\r\n"), expect("DATA$"), send("354 go\r\n"),
                                              read_data(), send(QUEUED), tail()]
    run, record = session(driver, steps, "--tls", "off", "--data", str(path))
    finished(run, 0)
    delivered(run)
    assert not record.errors, record.errors


@pytest.mark.parametrize("driver", both("L07"))
def test_552_to_mail(driver):
    """MAIL refused 552 5.3.4 (message too big for the server): exit 1, no DATA."""
    steps = plain_session("8BITMIME") + [expect("MAIL FROM:<"), send("552 5.3.4 message too big\r\n"), tail()]
    run, record = session(driver, steps, "--tls", "off")
    finished(run, 1)
    not_sent(run, "552")
    assert b"DATA" not in record.all


def recipients_server(book, accept_per_transaction=100, refuse=(), all_452=False, refuse_from_transaction=1):
    """Answers MAIL 250; RCPT 250 for the first `accept_per_transaction` of each transaction, 452
    4.5.3 for the rest (or for all with `all_452`), 550 for addresses in `refuse` from transaction
    number `refuse_from_transaction` on (1 = the first); DATA 354 when something was accepted;
    records each transaction's accepted, deferred and refused recipients and data in `book`."""
    def run(server):
        current = None
        while True:
            line = server.line()
            if line is None:
                return False
            word = line.split(" ", 1)[0].split(":", 1)[0].upper()
            if word == "MAIL":
                current = {"accepted": [], "deferred": [], "refused": [], "data": None}
                book.append(current)
                server.send("250 2.1.0 ok\r\n")
            elif word == "RCPT":
                address = line[line.index("<") + 1:line.index(">")]
                if address in refuse and len(book) >= refuse_from_transaction:
                    current["refused"].append(address)
                    server.send("550 5.1.1 no such user\r\n")
                elif all_452 or len(current["accepted"]) >= accept_per_transaction:
                    current["deferred"].append(address)
                    server.send("452 4.5.3 Too many recipients\r\n")
                else:
                    current["accepted"].append(address)
                    server.send("250 2.1.5 ok\r\n")
            elif word == "DATA":
                if current and current["accepted"]:
                    server.send("354 go\r\n")
                    current["data"] = server.data()
                    server.send(QUEUED)
                else:
                    server.send("554 5.5.1 no valid recipients\r\n")
            elif word == "RSET":
                server.send("250 2.0.0 ok\r\n")
            elif word == "QUIT":
                server.send("221 bye\r\n")
                return False
            else:
                server.send("500 5.5.1 what\r\n")
            if len(book) > 10:
                server.send("421 4.7.0 too many transactions\r\n")
                return False
    return handler(run)


RCPTS = [f"r{i:03d}@example.net" for i in range(150)]
SHORT_MESSAGE = b"From: a@example.org\r\nTo: undisclosed-recipients:;\r\nSubject: many\r\n\r\nhello\r\n"


def short_message(tmp_path):
    path = tmp_path / "short.eml"
    path.write_bytes(SHORT_MESSAGE)
    return str(path)


@pytest.mark.parametrize("pipelining, driver", matrix([("L08-150-rcpts-452-pipelining", True),
                                                       ("L08-150-rcpts-452-no-pipelining", False)]))
def test_more_than_100_recipients_with_452(pipelining, driver, tmp_path):
    """150 recipients; the server takes 100 per transaction and answers 452 4.5.3 to the rest:
    the client delivers to the first 100, then sends a second transaction for exactly the other
    50 (RFC 5321 §4.5.3.1.10); every recipient is accepted exactly once; exit 0."""
    book = []
    caps = ("PIPELINING", "8BITMIME") if pipelining else ("8BITMIME",)
    steps = plain_session(*caps) + [recipients_server(book)]
    run, record = session(driver, steps, "--tls", "off", "--data", short_message(tmp_path), to=RCPTS)
    finished(run, 0)
    delivered(run, 150)
    assert len(book) == 2, [len(t["accepted"]) for t in book]
    assert book[0]["accepted"] == RCPTS[:100]
    assert book[1]["accepted"] == RCPTS[100:]
    assert all(t["data"] and t["data"].endswith(b"\r\n.\r\n") for t in book)
    if not pipelining:
        # Without PIPELINING nothing past the first 452 is sent in that transaction.
        assert book[0]["deferred"] == [RCPTS[100]], book[0]["deferred"]


@pytest.mark.parametrize("driver", both("L09"))
def test_452_then_some_refused_in_the_second_round(driver, tmp_path):
    """As L08, and 10 of the deferred 50 are refused (550) in the second transaction only (the
    first defers all 50 with 452, so the follow-up transaction is reached and decides them):
    exit 3, "Message sent to 140 of 150 recipient(s)", one refused line for each of those 10,
    exactly; the second transaction carries the data to the other 40."""
    book = []
    refused = RCPTS[120:130]
    steps = plain_session("PIPELINING", "8BITMIME") + [recipients_server(book, refuse=set(refused), refuse_from_transaction=2)]
    run, record = session(driver, steps, "--tls", "off", "--data", short_message(tmp_path), to=RCPTS)
    finished(run, 3)
    assert len(book) == 2, book
    first, second = book
    assert (first["accepted"], first["deferred"], first["refused"]) == (RCPTS[:100], RCPTS[100:], []), first
    assert (second["accepted"], second["deferred"], second["refused"]) == (
        [a for a in RCPTS[100:] if a not in refused], [], refused), second
    assert first["data"] == second["data"] == wire_data(SHORT_MESSAGE), book
    assert run.lines[0] == "Message sent to 140 of 150 recipient(s)", run
    refused_lines = [line for line in run.lines if line.startswith("  refused ")]
    assert refused_lines == [f"  refused {a}: 550 5.1.1 no such user" for a in refused], run


@pytest.mark.parametrize("driver", both("L10"))
def test_452_to_every_recipient_does_not_loop(driver):
    """452 to every RCPT, in every transaction: nothing was accepted, so there is nothing to
    retry: the client stops (one transaction, no data), exit 1, quickly."""
    book = []
    steps = plain_session("PIPELINING", "8BITMIME") + [recipients_server(book, all_452=True)]
    run, record = session(driver, steps, "--tls", "off", to=RCPTS[:5])
    finished(run, 1)
    not_sent(run)
    assert len(book) == 1, len(book)
    assert all(t["data"] is None for t in book)
    assert b"Subject:" not in record.all


@pytest.mark.parametrize("replies, driver", matrix([
    ("L11-malformed-enhanced-codes", ["250 2.1 ok", "550 5.1.1000 unknown", "550 x.y.z bad", "250 9.9.9 odd",
                                      "250 2.1.5.7 ok", "550 5.01.1 bad"]),
    ("L12-enhanced-class-disagrees", ["250 5.1.1 looks bad but is 250", "550 2.1.5 looks fine but is 550",
                                      "250 4.2.2 fine", "550 2.0.0 no", "250 2.1.5 ok", "250 2.1.5 ok"]),
]))
def test_enhanced_status_codes_malformed_or_misleading(replies, driver):
    """ENHANCEDSTATUSCODES offered; RCPT replies carry malformed enhanced codes (ignored, not
    fatal) or ones whose class disagrees with the reply code: the reply code decides. Exit 3,
    exactly the 550 recipients refused, the final reply (itself with a malformed code) accepted."""
    recipients = [f"e{i}@example.net" for i in range(len(replies))]
    steps = plain_session("ENHANCEDSTATUSCODES", "PIPELINING", "8BITMIME") + [expect("MAIL FROM:<"), send("250 2.1.0.0 ok\r\n")]
    for reply in replies:
        steps += [expect("RCPT TO:<"), send(reply + "\r\n")]
    steps += [expect("DATA$"), send("354 go\r\n"), read_data(), send("250 2.0 queued\r\n"), tail()]
    run, record = session(driver, steps, "--tls", "off", to=recipients)
    finished(run, 3)
    accepted = sum(1 for r in replies if r.startswith("250"))
    assert run.lines[0] == f"Message sent to {accepted} of {len(replies)} recipient(s)", run
    refused = [f"  refused {a}: {r}" for a, r in zip(recipients, replies) if r.startswith("550")]
    assert [line for line in run.lines if line.startswith("  refused")] == refused, run
    assert record.data and record.data[0].endswith(b"\r\n.\r\n")


@pytest.mark.parametrize("driver", both("L13"))
def test_8bit_message_without_8bitmime(driver, tmp_path):
    """An 8-bit message to a server without 8BITMIME: refused before MAIL, never sent raw."""
    path = tmp_path / "m.eml"
    path.write_bytes("Subject: \u00fcber\r\n\r\nGr\u00fc\u00dfe\r\n".encode())
    steps = plain_session("PIPELINING", "SIZE 1000000") + [tail()]
    run, record = session(driver, steps, "--tls", "off", "--data", str(path))
    finished(run, 1)
    not_sent(run, "8BITMIME")
    no_transaction(record.all)


@pytest.mark.parametrize("driver", both("L14"))
def test_utf8_address_without_smtputf8(driver):
    """A non-ASCII recipient to a server without SMTPUTF8: refused before MAIL."""
    steps = plain_session("PIPELINING", "8BITMIME") + [tail()]
    run, record = session(driver, steps, "--tls", "off", to=("j\u00f6rg@example.net",))
    finished(run, 1)
    not_sent(run, "SMTPUTF8")
    no_transaction(record.all)


@pytest.mark.parametrize("driver", both("L15"))
def test_builtin_message_with_many_recipients(driver):
    """60 recipients and the built-in message, against a server that accepts everything: the
    message must go out (its To: header folded, RFC 5322 §2.2.3), exit 0, every line <= 998."""
    book = []
    recipients = RCPTS[:60]
    steps = plain_session("PIPELINING", "8BITMIME") + [recipients_server(book)]
    run, record = session(driver, steps, "--tls", "off", to=recipients)
    finished(run, 0)
    delivered(run, 60)
    assert book and book[0]["data"] and all(len(line) <= 998 for line in lines(book[0]["data"]))


@pytest.mark.parametrize("how, driver", matrix([("L16-550-with-the-354-then-stops-reading", "same-write"),
                                                ("L16-550-after-the-354-then-stops-reading", "later-write"),
                                                ("L16-stops-reading-without-a-reply", "silent")]))
def test_no_write_blocks_past_the_deadline(how, driver, tmp_path):
    """Issue 11 point 5. After 354 the server sends 550 at once (in the same write as the 354, or
    in its next write) and stops reading while a 12 MiB body streams (--timeout 2): the socket
    driver once stayed blocked in its write past every deadline. The 550 must be seen while the
    body streams: exit 1 before the 2 s timeout could have fired, its last line naming the
    refusal, the data never ended. Without a reply (the server only stops reading), the data-block deadline ends
    the session: "timed out waiting for message data", not before ~2 s."""
    refusal = "550 5.3.4 message refused early\r\n"
    answer = {"same-write": [send("354 go\r\n" + refusal)],
              "later-write": [send("354 go\r\n"), pause(0.2), send(refusal)],
              "silent": [send("354 go\r\n")]}[how]
    steps = plain_session("8BITMIME") + [expect("MAIL FROM:<"), send("250 ok\r\n"), expect("RCPT TO:<"), send("250 ok\r\n"),
                                         expect("DATA$")] + answer + [pause(15)]
    run, record = session(driver, steps, "--tls", "off", "--timeout", "2", "--data", str(big_message(tmp_path)), limit=20)
    if how == "silent":
        finished(run, 1, within=2 + MARGIN, at_least=1.8)
        not_sent(run)
        assert run.lines[-1] == "timed out waiting for message data", run
    else:
        # Seen while the body streams, so before the 2 s timeout could have ended the session.
        finished(run, 1, within=2.0)
        not_sent(run)
        assert run.lines[-1] == "message data refused: 550 5.3.4 message refused early", run
    assert b"\r\n.\r\n" not in data_on_wire(record)


def drip_after(reply, started, delay=0.5):
    """Sends `reply` and the first byte of an unsolicited reply in one write (its time goes into
    `started`), then the rest of that reply one byte every `delay` seconds (about 23 s in all):
    each byte alone is far below the timeout, the whole far above it. Between bytes it reads
    what the client sends, so `Record.closed_at` says when the client gave up."""
    unsolicited = b"250 2.0.0 still talking, one byte at a time\r\n"

    def run(server):
        server.send(reply.encode() + unsolicited[:1])
        started.append(time.monotonic())
        for byte in unsolicited[1:]:
            due = time.monotonic() + delay
            while (left := due - time.monotonic()) > 0:
                readable, _, _ = select.select([server.conn], [], [], left)
                if readable and not server._recv():
                    return False
            try:
                server.send(bytes([byte]))
            except OSError:
                return False
        return True
    return handler(run)


@pytest.mark.parametrize("where, driver", matrix([("L17-drip-after-ehlo", "after-ehlo"),
                                                 ("L17-drip-between-transactions", "between-transactions")]))
def test_dripped_unsolicited_reply_has_an_absolute_deadline(where, driver, tmp_path):
    """Issue 11 point 6. With nothing in flight (after the EHLO reply; after the first message's
    250 with --repeat 2 and no PIPELINING) the server starts an unsolicited reply and sends one
    byte every 0.5 s (--timeout 2). The deadline runs from the first byte, not the last: the
    client closes within 2 s + margin of that byte (not before ~2 s), and no new transaction
    started meanwhile (no MAIL after the first byte)."""
    started = []
    if where == "after-ehlo":
        steps = [send(GREETING), expect("EHLO "), drip_after(ehlo("8BITMIME"), started), silence(2)]
        args = []
    else:
        steps = plain_session("8BITMIME") + [expect("MAIL FROM:<"), send("250 ok\r\n"), expect("RCPT TO:<"),
                                             send("250 ok\r\n"), expect("DATA$"), send("354 go\r\n"), read_data(),
                                             drip_after(QUEUED, started), silence(2)]
        args = ["--repeat", "2", "--data", short_message(tmp_path)]
    run, record = session(driver, steps, "--tls", "off", "--timeout", "2", *args, limit=40, server_timeout=40)
    assert started and record.closed_at is not None, (record.errors, run)
    held = record.closed_at - started[0]
    assert 1.8 <= held <= 2 + MARGIN, f"the session stayed open {held:.2f}s after the first unsolicited byte: {run!r}"
    assert record.all.count(b"MAIL FROM:") == (0 if where == "after-ehlo" else 1), record.all
    assert b"MAIL FROM:" not in after_send(record, "250 2.0.0 queued" if where != "after-ehlo" else "250 8BITMIME")
    if where == "after-ehlo":
        finished(run, 1, within=2 + MARGIN, at_least=1.8)
        not_sent(run)
        assert run.lines[-1] == "timed out waiting for the end of an unsolicited reply", run
    else:
        # Load mode: the first message went through; the second never started, so both drivers
        # send it again on a new connection (the one retry rule), which this one-connection
        # server refuses (or, when the connect raced its closing listener, resets: seen by the
        # socket and libuv drivers after connect() returned, during the greeting; by SwiftNIO,
        # which reads the connect's result from SO_ERROR a loop turn later, as the connect's).
        assert not run.killed and run.status == 3, run
        assert run.lines[0].startswith("Sent 1 messages in ") and run.lines[0].endswith(", 1 failed"), run
        assert re.fullmatch(r"smtp-send: last failure: (cannot connect to 127\.0\.0\.1:\d+: connection (refused|reset by peer)"
                            r"|connection reset by server during greeting)",
                            run.stderr.splitlines()[-1]), run


# ================================================================================================
# The oracle itself (no smtp-send): the reference model and the wire checks must have teeth.
# ================================================================================================

def test_reference_model_and_wire_checks():
    assert wire_data(b"") == b".\r\n"
    assert wire_data(b".") == b"..\r\n.\r\n"
    assert wire_data(b"a\n.\nb") == b"a\r\n..\r\nb\r\n.\r\n"
    assert wire_data(b"a\r.\rb\r\n") == b"a\r\n..\r\nb\r\n.\r\n"
    assert wire_data(b"x\r\n.\r\n") == b"x\r\n..\r\n.\r\n"
    assert wire_data(b"a\r\r\nb") == b"a\r\n\r\nb\r\n.\r\n"
    assert chunked_text(b"a\n.\rb") == b"a\r\n.\r\nb\r\n"
    assert no_bare_cr_lf(b"a\r\nb\r\n") and not no_bare_cr_lf(b"a\nb") and not no_bare_cr_lf(b"a\rb\r\n")
    assert not no_bare_cr_lf(b"a\r")
    assert verbs(b"MAIL FROM:<a@b>\r\nrcpt to:<c@d>\r\nDATA\r\n") == [b"MAIL", b"RCPT", b"DATA"]
    assert only_quit(b"") and only_quit(b"QUIT\r\n") and not only_quit(b"RSET\r\nQUIT\r\n")
    content = straddling(b"\r\n.\r\n", 2)
    assert content[65534:65537] == b"\r\n." and len(content) > 65536
    with pytest.raises(AssertionError):
        check_data(type("R", (), {"all": b"EHLO x\r\nMAIL FROM:<a@example.org>\r\nDATA\r\nhi\r\n.\r\n.\r\n",
                                  "commands": ["EHLO x", "MAIL FROM:<a@example.org>", "DATA"]})(), b"hi\r\n.\r\n")
