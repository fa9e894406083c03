"""End-to-end tests of the smtp-send binary against real servers (the rig) and a scripted one.

Every output line and exit status of cli-spec.md is observed here at least once, through both
drivers.
"""

import os
import pathlib
import re
import tempfile

import pytest

from conftest import RIG, smtp_send
from scripted_server import ScriptedServer, close, expect, read_data, send, silence, starttls

SEED_LINES = ["Negotiating TLS....", "Using TLS connection.", "Message successfully sent to 1 recipient(s)"]


def trusted(rig):
    """The test CA as the default trust store, so the seed's exact command line verifies."""
    return {"SSL_CERT_FILE": rig["RIG_CA_FILE"], "SSL_CERT_DIR": "/nonexistent"}


def maillog_sent_count(rig):
    text = pathlib.Path(rig["RIG_POSTFIX_MAILLOG"]).read_text(errors="replace")
    return text.count("status=sent")


# The seed's session ------------------------------------------------------------------------------

def test_seed_session_prints_the_three_lines(rig, driver):
    port = rig["RIG_POSTFIX_STARTTLS_PORT"]
    run = smtp_send("--driver", driver, f"127.0.0.1:{port}", "a@example.org", "b@example.net", env=trusted(rig))
    assert run.status == 0, run
    assert run.lines == SEED_LINES, run


def test_verbose_transcript_marks_tls_and_verifies_against_the_ca_file(rig, driver):
    port = rig["RIG_POSTFIX_STARTTLS_PORT"]
    run = smtp_send("-v", "--driver", driver, "--ca-file", rig["RIG_CA_FILE"], "--tls-name", "localhost",
                    f"127.0.0.1:{port}", "a@example.org", "b@example.net")
    assert run.status == 0, run
    transcript = run.stderr.splitlines()
    assert transcript[0].startswith("S: 220 "), run
    assert "C: STARTTLS" in transcript
    tls_marker = next(i for i, line in enumerate(transcript) if line.startswith("-- TLS established: TLSv1."))
    mail = next(i for i, line in enumerate(transcript) if line.startswith("C: MAIL FROM:<a@example.org>"))
    assert transcript.index("C: STARTTLS") < tls_marker < mail
    # EHLO goes again after TLS.
    assert [line for line in transcript if line.startswith("C: EHLO")].__len__() == 2
    assert any(line.startswith("C: <message data: ") for line in transcript)
    assert transcript[-1].startswith("S: 221"), run


# Every output line and exit status --------------------------------------------------------------

def test_some_recipients_refused_exit_3(rig, driver):
    port = rig["RIG_POSTFIX_STARTTLS_PORT"]
    run = smtp_send("--driver", driver, "--ca-file", rig["RIG_CA_FILE"], f"127.0.0.1:{port}",
                    "a@example.org", "b@example.net", "refused@example.net")
    assert run.status == 3, run
    assert run.lines[:2] == ["Negotiating TLS....", "Using TLS connection."]
    assert run.lines[2] == "Message sent to 1 of 2 recipient(s)"
    assert re.match(r"  refused refused@example\.net: 554 5\.7\.1 .*Access denied", run.lines[3]), run


def test_all_recipients_refused_is_not_sent_exit_1(rig, driver):
    port = rig["RIG_POSTFIX_STARTTLS_PORT"]
    run = smtp_send("--driver", driver, "--ca-file", rig["RIG_CA_FILE"], f"127.0.0.1:{port}",
                    "a@example.org", "refused@example.net")
    assert run.status == 1, run
    assert run.lines[-2] == " *** Your message may not have been sent!"
    assert "refused@example.net" in run.lines[-1] and "554" in run.lines[-1], run


def test_opportunistic_fallback_without_starttls(rig, driver):
    port = rig["RIG_POSTFIX_NOTLS_PORT"]
    run = smtp_send("--driver", driver, f"127.0.0.1:{port}", "a@example.org", "b@example.net")
    assert run.status == 0, run
    assert run.lines == ["Server does not support TLS; using normal connection.",
                         "Message successfully sent to 1 recipient(s)"], run


def test_required_tls_without_starttls_fails_before_mail(rig, driver):
    port = rig["RIG_POSTFIX_NOTLS_PORT"]
    run = smtp_send("-v", "--driver", driver, "--tls", "required", f"127.0.0.1:{port}", "a@example.org", "b@example.net")
    assert run.status == 1, run
    assert run.lines == [" *** Your message may not have been sent!",
                         "server does not offer STARTTLS and TLS is required"], run
    assert not any(line.startswith("C: MAIL") for line in run.stderr.splitlines()), run


@pytest.mark.parametrize("port_name, cause", [
    ("RIG_POSTFIX_EXPIRED_PORT", "certificate has expired"),
    ("RIG_POSTFIX_SELFSIGNED_PORT", "self-signed certificate"),
    ("RIG_POSTFIX_WRONGNAME_PORT", "certificate is not valid for host localhost: the certificate names only wrong.example"),
    ("RIG_POSTFIX_UNTRUSTED_PORT", "certificate signed by an unknown authority"),
])
def test_certificate_failures_exit_1_and_name_the_cause(rig, driver, port_name, cause):
    run = smtp_send("-v", "--driver", driver, "--ca-file", rig["RIG_CA_FILE"], "--tls-name", "localhost",
                    f"127.0.0.1:{rig[port_name]}", "a@example.org", "b@example.net")
    assert run.status == 1, run
    assert run.lines[0] == "Negotiating TLS...."
    assert run.lines[-2:] == [" *** Your message may not have been sent!",
                              f"server certificate not accepted: {cause}"], run
    commands = [line for line in run.stderr.splitlines() if line.startswith("C: ")]
    assert commands[-1] == "C: STARTTLS", run


def test_insecure_skips_verification_with_a_warning(rig, driver):
    run = smtp_send("--driver", driver, "--insecure", f"127.0.0.1:{rig['RIG_POSTFIX_SELFSIGNED_PORT']}",
                    "a@example.org", "b@example.net")
    assert run.status == 0, run
    assert "warning" in run.stderr and "not verified" in run.stderr


def test_submission_with_auth(rig, driver):
    run = smtp_send("-v", "--driver", driver, "--tls", "required", "--ca-file", rig["RIG_CA_FILE"],
                    "--user", rig["RIG_SASL_USER"], f"127.0.0.1:{rig['RIG_POSTFIX_SUBMISSION_PORT']}",
                    "a@example.org", "b@example.net", env={"SMTP_PASSWORD": rig["RIG_SASL_PASSWORD"]})
    assert run.status == 0, run
    assert rig["RIG_SASL_PASSWORD"] not in run.stderr
    auth = [line for line in run.stderr.splitlines() if line.startswith("C: AUTH")]
    assert auth and auth[0].endswith("<redacted>"), run


@pytest.mark.parametrize("mechanism", ["PLAIN", "LOGIN", "CRAM-MD5"])
def test_forced_mechanism_and_password_file(rig, driver, mechanism, tmp_path):
    secret = tmp_path / "password"
    secret.write_text(rig["RIG_SASL_PASSWORD"] + "\n")
    run = smtp_send("-v", "--driver", driver, "--tls", "implicit", "--ca-file", rig["RIG_CA_FILE"],
                    "--user", rig["RIG_SASL_USER"], "--password-file", str(secret), "--auth", mechanism,
                    f"127.0.0.1:{rig['RIG_POSTFIX_IMPLICIT_PORT']}", "a@example.org", "b@example.net")
    assert run.status == 0, run
    assert run.lines == ["Using TLS connection.", "Message successfully sent to 1 recipient(s)"], run
    assert f"C: AUTH {mechanism}" in run.stderr


def test_wrong_password_is_reported(rig, driver):
    run = smtp_send("--driver", driver, "--tls", "required", "--ca-file", rig["RIG_CA_FILE"],
                    "--user", rig["RIG_SASL_USER"], f"127.0.0.1:{rig['RIG_POSTFIX_SUBMISSION_PORT']}",
                    "a@example.org", "b@example.net", env={"SMTP_PASSWORD": "not-the-password"})
    assert run.status == 1, run
    assert run.lines[-1].startswith("authentication failed: 535"), run


def test_auth_refused_without_tls_unless_allowed(rig, driver):
    port = rig["RIG_POSTFIX_PLAIN_AUTH_PORT"]
    env = {"SMTP_PASSWORD": rig["RIG_SASL_PASSWORD"]}
    refused = smtp_send("-v", "--driver", driver, "--user", rig["RIG_SASL_USER"], f"127.0.0.1:{port}",
                        "a@example.org", "b@example.net", env=env)
    assert refused.status == 1, refused
    assert refused.lines[-1] == "refusing to authenticate over a connection without TLS", refused
    assert "C: AUTH" not in refused.stderr
    allowed = smtp_send("--driver", driver, "--user", rig["RIG_SASL_USER"], "--allow-plaintext-auth",
                        f"127.0.0.1:{port}", "a@example.org", "b@example.net", env=env)
    assert allowed.status == 0, allowed


def test_message_from_a_file_and_from_stdin(rig, driver, tmp_path):
    port = rig["RIG_AIOSMTPD_PORT"]
    marker = f"X-Marker: cli-{driver}-{os.urandom(6).hex()}"
    body = f"{marker}\r\nSubject: file\r\n\r\nline\n.leading dot\nno final newline"
    path = tmp_path / "message.eml"
    path.write_bytes(body.encode())
    common = ["--driver", driver, "--tls", "required", "--ca-file", rig["RIG_CA_FILE"], "--user", rig["RIG_SASL_USER"]]
    env = {"SMTP_PASSWORD": rig["RIG_SASL_PASSWORD"]}
    run = smtp_send(*common, "--data", str(path), f"127.0.0.1:{port}", "a@example.org", "b@example.net", env=env)
    assert run.status == 0, run
    run = smtp_send(*common, "--data", "-", f"127.0.0.1:{port}", "a@example.org", "b@example.net", env=env,
                    stdin=body.replace("Subject: file", "Subject: stdin"))
    assert run.status == 0, run
    spool = pathlib.Path(rig["RIG_AIOSMTPD_SPOOL"])
    stored = [p.read_bytes() for p in spool.glob("*.eml") if marker.encode() in p.read_bytes()]
    expected = body.replace("\n", "\r\n").replace("\r\r\n", "\r\n") + "\r\n"
    assert sorted(stored) == sorted([expected.encode(), expected.replace("Subject: file", "Subject: stdin").encode()])


# Usage errors and bad input ---------------------------------------------------------------------

@pytest.mark.parametrize("args, named", [
    (["127.0.0.1", "a@example.org", "b@example.net\r\nRCPT TO:<x@y>"], "b@example.net"),
    (["127.0.0.1", "a@exa\nmple.org", "b@example.net"], "a@exa"),
    (["127.0.0.1", "<a@example.org>", "b@example.net"], "<a@example.org>"),
    (["127.0.0.1", "a@example.org", "not-an-address"], "not-an-address"),
    (["127.0.0.1", "a@example.org", "b@@example.net"], "b@@example.net"),
    (["127.0.0.1:99999", "a@example.org", "b@example.net"], "127.0.0.1:99999"),
    (["--helo", "bad name", "127.0.0.1", "a@example.org", "b@example.net"], "bad name"),
    (["--tls", "sometimes", "127.0.0.1", "a@example.org", "b@example.net"], "sometimes"),
    (["127.0.0.1", "a@example.org"], "TO"),
    ([], "SERVER"),
])
def test_usage_errors_exit_2_before_connecting(args, named):
    run = smtp_send(*args)
    assert run.status == 2, run
    assert run.stdout == "", run
    assert "usage: smtp-send" in run.stderr
    assert named.split("\r")[0].split("\n")[0].split("\x00")[0] in run.stderr, run


def test_user_without_password_is_a_usage_error():
    import subprocess
    from conftest import binary
    env = dict(os.environ)
    env.pop("SMTP_PASSWORD", None)
    completed = subprocess.run([binary(), "--user", "alice", "127.0.0.1", "a@example.org", "b@example.net"],
                               capture_output=True, text=True, env=env)
    assert completed.returncode == 2
    assert "SMTP_PASSWORD" in completed.stderr


def test_help_is_a_manual():
    run = smtp_send("--help")
    assert run.status == 0
    for heading in ["DESCRIPTION", "EXIT STATUS", "EXAMPLES", "--tls", "--repeat", "--connections", "SMTP_PASSWORD"]:
        assert heading in run.stdout


# EHLO refused after STARTTLS (exit 5): a scripted server -----------------------------------------

def test_ehlo_refused_after_starttls_exit_5(rig, driver):
    server = ScriptedServer([
        send("220 scripted ESMTP\r\n"), expect("EHLO "), send("250-scripted\r\n250 STARTTLS\r\n"),
        expect("STARTTLS$"), send("220 go ahead\r\n"), starttls(),
        expect("EHLO "), send("554 5.7.0 no EHLO for you\r\n"), silence(5),
    ], cert=rig["RIG_SERVER_CERT"], key=rig["RIG_SERVER_KEY"])
    run = smtp_send("--driver", driver, "--ca-file", rig["RIG_CA_FILE"], "--tls-name", "localhost",
                    f"127.0.0.1:{server.port}", "a@example.org", "b@example.net")
    record = server.finish()
    assert run.status == 5, run
    assert run.lines == ["Negotiating TLS....", " *** Your message may not have been sent!",
                         "Couldn't EHLO after STARTTLS: 554 5.7.0 no EHLO for you"], run
    assert not record.sent("MAIL"), record
    assert not record.errors, record


# Load mode --------------------------------------------------------------------------------------

def test_load_mode_every_message_accounted_for(rig, driver):
    dump = pathlib.Path(rig["RIG_SINK_DUMP_DIR"])
    before = len(list(dump.iterdir()))
    run = smtp_send("--driver", driver, "--tls", "off", "--repeat", "500", "--connections", "5",
                    f"127.0.0.1:{rig['RIG_SINK_DUMP_PORT']}", "load@example.org", "sink@example.net")
    assert run.status == 0, run
    assert re.fullmatch(r"Sent 500 messages in [0-9]+\.[0-9]{3} s \([0-9]+\.[0-9] msg/s\), 0 failed", run.lines[-1]), run
    # Every message reached the sink: one dump file each.
    import time
    deadline = time.time() + 10
    while len(list(dump.iterdir())) - before < 500 and time.time() < deadline:
        time.sleep(0.05)
    assert len(list(dump.iterdir())) - before == 500


def test_load_mode_against_postfix_is_logged(rig, driver):
    before = maillog_sent_count(rig)
    run = smtp_send("--driver", driver, "--ca-file", rig["RIG_CA_FILE"], "--tls-name", "localhost", "--repeat", "100",
                    "--connections", "4", f"127.0.0.1:{rig['RIG_POSTFIX_STARTTLS_PORT']}", "load@example.org", "p@example.net")
    assert run.status == 0, run
    # The seed's TLS lines once, not once per session, then the summary.
    assert run.lines[:2] == ["Negotiating TLS....", "Using TLS connection."] and len(run.lines) == 3, run
    assert run.lines[-1].startswith("Sent 100 messages in ")
    import time
    deadline = time.time() + 30
    while maillog_sent_count(rig) - before < 100 and time.time() < deadline:
        time.sleep(0.1)
    assert maillog_sent_count(rig) - before == 100


def test_load_mode_failures_are_counted(rig, driver):
    run = smtp_send("--driver", driver, "--tls", "required", "--repeat", "20", "--connections", "2",
                    f"127.0.0.1:{rig['RIG_POSTFIX_NOTLS_PORT']}", "load@example.org", "p@example.net")
    assert run.status == 1, run
    assert run.lines[-1].startswith("Sent 0 messages in ") and run.lines[-1].endswith(", 20 failed"), run
    assert "STARTTLS" in run.stderr


# Connection failures ----------------------------------------------------------------------------

def test_connection_refused(driver):
    import socket
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    run = smtp_send("--driver", driver, f"127.0.0.1:{port}", "a@example.org", "b@example.net")
    assert run.status == 1, run
    assert run.lines[0] == " *** Your message may not have been sent!"
    assert run.lines[1].startswith(f"cannot connect to 127.0.0.1:{port}"), run


def test_timeout_applies_to_every_wait(driver):
    server = ScriptedServer([silence(10)])
    run = smtp_send("--driver", driver, "--timeout", "1", f"127.0.0.1:{server.port}", "a@example.org", "b@example.net")
    assert run.status == 1, run
    assert run.lines[-1] == "timed out waiting for greeting", run
    assert run.elapsed < 4, run
