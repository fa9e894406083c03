"""Issue 13: smtp-send builds a message from --subject, --header, --body, --html and --attach
(the SMTPMessage builder); aiosmtpd stores it and Python's email package reads it back."""

import os

from conftest import RIG, smtp_send
from daily_use import parsed, stored_with


SENT = ["Negotiating TLS....", "Using TLS connection.", "Message successfully sent to 1 recipient(s)"]


def aiosmtpd(*options):
    return ["--tls", "required", "--ca-file", RIG["RIG_CA_FILE"], "--user", RIG["RIG_SASL_USER"], *options,
            f"127.0.0.1:{RIG['RIG_AIOSMTPD_PORT']}", "a@example.org", "b@example.net"]


def env():
    return {"SMTP_PASSWORD": RIG["RIG_SASL_PASSWORD"]}


def test_subject_header_body_and_attachment_read_back_exactly(rig, tmp_path):
    marker = os.urandom(8).hex()
    attachment = tmp_path / "data.bin"
    payload = bytes(range(256)) * 50 + b"\r\n.\r\n\x00end"
    attachment.write_bytes(payload)
    run = smtp_send(*aiosmtpd("--subject", "Grüße", "--header", f"X-A: b {marker}", "--body", "hi",
                              "--attach", str(attachment)), env=env())
    assert (run.status, run.lines) == (0, SENT), run
    [(data, envelope)] = stored_with(marker)
    message = parsed(data)
    assert message["Subject"] == "Grüße"
    assert message["X-A"] == f"b {marker}"
    assert message["From"] == "a@example.org"
    assert message["To"] == "b@example.net"
    assert message["Message-ID"].endswith("@example.org>")
    assert message["Date"] is not None
    assert envelope["mail_from"] == "a@example.org" and envelope["rcpt_tos"] == ["b@example.net"]
    parts = list(message.iter_parts())
    assert [p.get_content_type() for p in parts] == ["text/plain", "application/octet-stream"]
    assert parts[0].get_content() == "hi\r\n"  # the stored copy keeps the wire's CRLF
    assert parts[1].get_filename() == "data.bin"
    assert parts[1].get_content() == payload
    # Built 7-bit: no BODY=8BITMIME even though aiosmtpd offers it.
    assert envelope["mail_options"] == [f"SIZE={len(data)}"], envelope["mail_options"]


def test_body_from_file_html_and_attach_type(rig, tmp_path):
    marker = os.urandom(8).hex()
    (tmp_path / "body.txt").write_text(f"Zeile eins {marker}\nZeile zwei: äöü\n")
    (tmp_path / "page.html").write_text("<p>Hallo</p>\n")
    (tmp_path / "notes").write_bytes(b"col1,col2\n1,2\n")
    run = smtp_send(*aiosmtpd("--body", f"@{tmp_path / 'body.txt'}", "--html", str(tmp_path / "page.html"),
                              "--attach", str(tmp_path / "notes"), "--attach-type", "text/csv"), env=env())
    assert (run.status, run.lines) == (0, SENT), run
    [(data, _)] = stored_with(marker)
    message = parsed(data)
    assert message.get_body(("plain",)).get_content() == f"Zeile eins {marker}\r\nZeile zwei: äöü\r\n"
    assert message.get_body(("html",)).get_content() == "<p>Hallo</p>\r\n"
    [attachment] = list(message.iter_attachments())
    assert attachment.get_content_type() == "text/csv"
    assert attachment.get_content() == "col1,col2\n1,2\n"  # base64: the file's own LF
    assert all(byte < 0x80 for byte in data)  # quoted-printable, not 8bit


def test_data_with_message_options_is_a_usage_error(tmp_path):
    (tmp_path / "m.eml").write_text("Subject: x\n\nbody\n")
    run = smtp_send("--data", str(tmp_path / "m.eml"), "--subject", "x", "127.0.0.1:9", "a@example.org", "b@example.net")
    assert run.status == 2, run
    assert run.stdout == ""
    assert run.stderr.splitlines()[0] == "smtp-send: --data cannot be combined with --subject, --header, --body, --html or --attach"


def test_attach_type_before_any_attach_is_a_usage_error(tmp_path):
    run = smtp_send("--attach-type", "text/csv", "--attach", "/etc/hostname", "127.0.0.1:9", "a@example.org", "b@example.net")
    assert run.status == 2, run
    assert run.stderr.splitlines()[0] == "smtp-send: --attach-type gives the type of the --attach just before it"


def test_bad_header_is_refused_before_connecting():
    run = smtp_send("--header", "No-Colon", "127.0.0.1:9", "a@example.org", "b@example.net")
    assert run.status == 2, run
    assert run.stderr.splitlines()[0] == "smtp-send: --header \"No-Colon\": expected 'Name: value'"
    run = smtp_send("--header", "Subject: twice", "127.0.0.1:9", "a@example.org", "b@example.net")
    assert run.status == 2, run
    assert run.stderr.splitlines()[0] == "smtp-send: cannot build the message: the Subject field is set by the builder, not as a custom header"
