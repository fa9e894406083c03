"""TLS session resumption in load mode: sessions are resumed with the same server, never past a
change of certificate (and ticket keys), and a certificate met after the change is checked in full.

Each run sends --repeat N messages over one connection at a time (--session-messages 1), so every
message is its own connection, made after the one before it has ended."""

import re
import ssl
import sys

import pytest

from conftest import REPO, smtp_send
from tls_switch_server import TLSSwitchServer, server_context

sys.path.insert(0, str(REPO / "scripts" / "rig"))
import certs  # noqa: E402  (the rig's certificate maker)

from cryptography import x509  # noqa: E402
from cryptography.hazmat.primitives import serialization  # noqa: E402


def load_run(port, rig, driver, count, *extra):
    return smtp_send("-v", "--tls", "required", "--ca-file", rig["RIG_CA_FILE"], "--driver", driver,
                     "--repeat", str(count), "--session-messages", "1", *extra,
                     f"127.0.0.1:{port}", "a@example.org", "b@example.net")


def handshake_line(run):
    lines = [line for line in run.stderr.splitlines() if line.startswith("-- TLS handshakes:")]
    assert len(lines) == 1, run
    return lines[0]


def last_failure(run):
    lines = [line for line in run.stderr.splitlines() if line.startswith("smtp-send: last failure: ")]
    assert len(lines) == 1, run
    return lines[0]


@pytest.fixture(params=["TLSv1_3", "TLSv1_2"])
def version(request):
    """The newest version the server offers (TLS 1.3 tickets, or TLS 1.2 tickets and session ids)."""
    return getattr(ssl.TLSVersion, request.param)


def summary(records):
    return [(r.cert, r.handshake == "ok", r.session_reused) for r in records]


@pytest.fixture
def new_good_cert(rig, tmp_path):
    """Another certificate for localhost and 127.0.0.1 from the rig's CA (a new key too)."""
    ca_cert = x509.load_pem_x509_certificate(open(rig["RIG_CA_CERT"], "rb").read())
    ca_key = serialization.load_pem_private_key(open(rig["RIG_CA_KEY"], "rb").read(), password=None)
    cert, key = certs.make_leaf("localhost (renewed)", certs.GOOD_NAMES, issuer=(ca_cert, ca_key))
    certs.save(str(tmp_path), "renewed", cert, key)
    return str(tmp_path / "renewed.crt"), str(tmp_path / "renewed.key")


def test_sessions_are_resumed_with_the_same_server(rig, driver, version):
    good = server_context(rig["RIG_SERVER_CERT"], rig["RIG_SERVER_KEY"], version)
    server = TLSSwitchServer([good])
    run = load_run(server.port, rig, driver, 4)
    records = server.finish()
    assert run.status == 0, run
    assert summary(records) == [("0", True, False), ("0", True, True), ("0", True, True), ("0", True, True)]
    assert [r.version for r in records] == [version.name.replace("_", ".")] * 4
    assert handshake_line(run) == "-- TLS handshakes: 1 full, 3 resumed (4 connections) --"


def test_no_tls_resume_makes_every_handshake_full(rig, driver):
    good = server_context(rig["RIG_SERVER_CERT"], rig["RIG_SERVER_KEY"])
    server = TLSSwitchServer([good])
    run = load_run(server.port, rig, driver, 3, "--no-tls-resume")
    records = server.finish()
    assert run.status == 0, run
    assert summary(records) == [("0", True, False)] * 3
    assert handshake_line(run) == "-- TLS handshakes: 3 full, 0 resumed (3 connections) --"


def test_a_new_certificate_gets_a_full_handshake_and_passes_when_good(rig, driver, new_good_cert, version):
    old = server_context(rig["RIG_SERVER_CERT"], rig["RIG_SERVER_KEY"], version)
    new = server_context(*new_good_cert, version)
    server = TLSSwitchServer([old, old, new], names=["old", "old", "new"])
    run = load_run(server.port, rig, driver, 4)
    records = server.finish()
    assert run.status == 0, run
    # The new context has new ticket keys: the old session is refused, the new certificate is
    # checked (and passes), and its own session is resumed after that.
    assert summary(records) == [("old", True, False), ("old", True, True), ("new", True, False), ("new", True, True)]
    assert handshake_line(run) == "-- TLS handshakes: 2 full, 2 resumed (4 connections) --"


@pytest.mark.parametrize("bad", ["WRONGNAME", "UNTRUSTED", "EXPIRED"])
def test_a_bad_certificate_after_a_resumed_session_is_rejected_as_without_one(rig, driver, bad, version):
    bad_context = lambda: server_context(rig[f"RIG_{bad}_CERT"], rig[f"RIG_{bad}_KEY"], version)  # noqa: E731
    # Without any cached session: the client's error for this certificate.
    fresh = TLSSwitchServer([bad_context()], names=["bad"])
    alone = load_run(fresh.port, rig, driver, 1)
    fresh_records = fresh.finish()
    assert alone.status == 1, alone
    assert [r.handshake.startswith("failed") for r in fresh_records] == [True] * len(fresh_records)
    expected = last_failure(alone)
    assert re.search(r"certificate", expected), expected

    good = server_context(rig["RIG_SERVER_CERT"], rig["RIG_SERVER_KEY"], version)
    server = TLSSwitchServer([good, good, bad_context()], names=["good", "good", "bad"])
    run = load_run(server.port, rig, driver, 3)
    records = server.finish()
    assert run.status == 3, run
    assert summary(records[:2]) == [("good", True, False), ("good", True, True)]
    # Every connection after the switch failed its handshake (the failed message may be tried
    # again on a new session, which fails the same way) and sent nothing after STARTTLS.
    assert len(records) >= 3, records
    for record in records[2:]:
        assert record.cert == "bad" and record.handshake.startswith("failed"), records
        assert record.commands[-1] == "STARTTLS", records
    assert last_failure(run) == expected
    assert handshake_line(run) == "-- TLS handshakes: 1 full, 1 resumed (%d connections) --" % len(records)


def test_session_messages_needs_repeat_and_a_positive_count():
    for args, why in [(["--session-messages", "1"], "--session-messages needs --repeat"),
                      (["--repeat", "3", "--session-messages", "0"], "--session-messages must be at least 1")]:
        run = smtp_send(*args, "127.0.0.1:1", "a@example.org", "b@example.net")
        assert run.status == 2, run
        assert run.stderr.splitlines()[0] == f"smtp-send: {why}", run
