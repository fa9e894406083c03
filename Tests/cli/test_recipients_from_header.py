"""Issue 13: `-t` takes the recipients from the message's To, Cc and Bcc fields (plus any given
as arguments) and sends a copy without Bcc; the header reader (Sources/smtp-send/HeaderParser)
is checked through `--dry-run`, which prints the envelope and does not connect."""

import os

import pytest

from conftest import RIG, smtp_send
from daily_use import parsed, stored_with

SENT = ["Negotiating TLS....", "Using TLS connection.", "Message successfully sent to 3 recipient(s)"]


def aiosmtpd(*args):
    return ["--tls", "required", "--ca-file", RIG["RIG_CA_FILE"], "--user", RIG["RIG_SASL_USER"], *args]


def test_to_cc_and_bcc_all_receive_and_the_stored_copy_has_no_bcc(rig, tmp_path):
    marker = os.urandom(8).hex()
    text = (f"From: Alice <a@example.org>\r\nTo: Bob <b@example.net>\r\nCc: \"Carol, C.\" <c@example.net>\r\n"
            f"Bcc: d@example.net\r\nSubject: t {marker}\r\n\r\nhello\r\nBcc: in the body stays\r\n")
    run = smtp_send(*aiosmtpd("-t", f"127.0.0.1:{RIG['RIG_AIOSMTPD_PORT']}"), stdin=text,
                    env={"SMTP_PASSWORD": RIG["RIG_SASL_PASSWORD"]})
    assert (run.status, run.lines) == (0, SENT), run
    [(data, envelope)] = stored_with(marker)
    assert envelope["mail_from"] == "a@example.org"
    assert envelope["rcpt_tos"] == ["b@example.net", "c@example.net", "d@example.net"]
    assert data == text.replace("Bcc: d@example.net\r\n", "").encode()
    assert parsed(data)["Bcc"] is None


def test_folded_bcc_is_removed_from_a_regular_file_and_f_sets_the_sender(rig, tmp_path):
    marker = os.urandom(8).hex()
    text = (f"X-Marker: {marker}\nTo: b@example.net\nBcc: c@example.net,\n  d@example.net\nSubject: s\n\nbody\n")
    path = tmp_path / "m.eml"
    path.write_text(text)
    run = smtp_send(*aiosmtpd("-t", "-f", "bounce@example.org", "--data", str(path), f"127.0.0.1:{RIG['RIG_AIOSMTPD_PORT']}"),
                    env={"SMTP_PASSWORD": RIG["RIG_SASL_PASSWORD"]})
    assert (run.status, run.lines) == (0, SENT), run
    [(data, envelope)] = stored_with(marker)
    assert envelope["mail_from"] == "bounce@example.org"
    assert envelope["rcpt_tos"] == ["b@example.net", "c@example.net", "d@example.net"]
    assert data == f"X-Marker: {marker}\r\nTo: b@example.net\r\nSubject: s\r\n\r\nbody\r\n".encode()
    assert path.read_text() == text  # the file itself is untouched


@pytest.mark.parametrize("header, envelope", [
    # Display names, quoted strings with commas and angle brackets, comments, folding.
    ("From: \"Doe, Jane\" <j@example.org>\nTo: A <a@x.org>, \"B, <b>\" <b@y.org>,\n c@z.org (C, see)\n",
     ["j@example.org", "a@x.org", "b@y.org", "c@z.org"]),
    # A group's members count, its name and ";" do not; an empty group gives nothing.
    ("From: j@example.org\nTo: team: d@x.org, E <e@x.org>;\nCc: undisclosed-recipients:;\n",
     ["j@example.org", "d@x.org", "e@x.org"]),
    # Field names are case-insensitive; several To fields add up; duplicates go once.
    ("from: j@example.org\nTO: a@x.org\nto: b@x.org, a@x.org\nBCC: \"q\\\"uote\" <c@x.org>\n",
     ["j@example.org", "a@x.org", "b@x.org", "c@x.org"]),
    # A quoted local part keeps its quotes.
    ("From: j@example.org\nTo: \"john smith\"@x.org\n", ["j@example.org", "\"john smith\"@x.org"]),
])
def test_header_reader(header, envelope, tmp_path):
    run = smtp_send("-t", "--dry-run", "127.0.0.1:9", stdin=header + "\nbody\n")
    assert run.status == 0, run
    assert run.lines == [f"MAIL FROM:<{envelope[0]}>"] + [f"RCPT TO:<{r}>" for r in envelope[1:]], run


@pytest.mark.parametrize("header, error", [
    ("From: j@example.org\nTo: Jane Doe\n", "smtp-send: cannot read the recipients of the message: \"Jane Doe\" is not an address"),
    ("From: j@example.org\nTo: <a@x.org\n", "smtp-send: cannot read the recipients of the message: unterminated <address> in \"<a@x.org\""),
    ("From: j@example.org\nTo: \"a@x.org\n", "smtp-send: cannot read the recipients of the message: unterminated quoted string in \"\"a@x.org\""),
    (" folded: first\nTo: a@x.org\n", "smtp-send: cannot read the message: header line 1 starts with white space"),
    ("From: j@example.org\nnot a field\n", "smtp-send: cannot read the message: header line 2 is not a field (Name: value)"),
    ("Subject: no one\n", "smtp-send: no sender: give -f ADDR, from = in the account, or a From: field"),
    ("From: j@example.org\nSubject: no one\n", "smtp-send: at least one TO address is needed"),
])
def test_header_errors_are_usage_errors(header, error):
    run = smtp_send("-t", "--dry-run", "127.0.0.1:9", stdin=header + "\nbody\n")
    assert run.status == 2, run
    assert run.stderr.splitlines()[0] == error, run


def test_recipients_given_as_arguments_are_added():
    run = smtp_send("-t", "--dry-run", "127.0.0.1:9", "x@example.net", "a@x.org", stdin="From: j@example.org\nTo: a@x.org\n\nb\n")
    assert run.lines == ["MAIL FROM:<j@example.org>", "RCPT TO:<a@x.org>", "RCPT TO:<x@example.net>"], run


def test_t_with_message_options_is_a_usage_error():
    run = smtp_send("-t", "--subject", "x", "127.0.0.1:9", stdin="From: j@example.org\nTo: a@x.org\n\nb\n")
    assert run.status == 2, run
    assert run.stderr.splitlines()[0] == ("smtp-send: -t reads the message from --data or stdin: it cannot be combined "
                                          "with --subject, --header, --body, --html or --attach")


def test_f_without_t_is_a_usage_error():
    run = smtp_send("-f", "x@example.org", "127.0.0.1:9", "a@example.org", "b@example.net")
    assert run.status == 2, run
    assert run.stderr.splitlines()[0] == "smtp-send: -f needs -t (without -t, FROM is an argument)"
