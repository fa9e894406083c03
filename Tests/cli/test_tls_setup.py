"""TLS set-up errors on our side (issue 11, point 2): a bad --ca-file is a clear error naming the
file and the cause, exit 1, no crash, and no connection at all (the context is built first).
No rig needed."""

from conftest import smtp_send
from scripted_server import ScriptedServer

NOT_SENT = " *** Your message may not have been sent!"


def test_ca_file_that_is_not_pem_is_a_clear_error(driver, tmp_path):
    ca_file = tmp_path / "hostname"
    ca_file.write_text("mx.example\n")
    server = ScriptedServer([])
    run = smtp_send("--driver", driver, "--ca-file", str(ca_file), f"127.0.0.1:{server.port}",
                    "a@example.org", "b@example.net")
    record = server.stop()
    assert run.status == 1, run
    assert run.lines == [NOT_SENT, f"TLS set-up failed: CA file {ca_file} is not PEM (no -----BEGIN line)"], run
    assert not record.connected, record


def test_verbose_transcript_says_why_a_certificate_was_refused(rig, driver):
    port = rig["RIG_POSTFIX_WRONGNAME_PORT"]
    run = smtp_send("-v", "--driver", driver, "--ca-file", rig["RIG_CA_FILE"], "--tls-name", "localhost",
                    f"127.0.0.1:{port}", "a@example.org", "b@example.net")
    assert run.status == 1, run
    transcript = run.stderr.splitlines()
    assert transcript[-2] == "C: STARTTLS" or transcript[-2].startswith("S: 220"), run
    assert transcript[-1].startswith("-- session failed: server certificate not accepted: certificate is not valid for host localhost"), run
