"""smtp-send's own command-line parser (Sources/smtp-send/OptionTable.swift, which replaced
swift-argument-parser): the forms of an option, where positionals may go, `--`, and the exact
usage errors. Errors and --dry-run need no server; values that only show on the wire go to the
rig's smtp-sink (the transcript) or aiosmtpd (the stored message)."""

import os
import re

import pytest

from conftest import RIG, smtp_send
from daily_use import parsed, run, sendmail_link, stored_with

USAGE = "usage: smtp-send [OPTIONS] SERVER FROM TO [TO ...]   (smtp-send --help for details)"
ENVELOPE = ["127.0.0.1:9", "a@example.org", "b@example.net"]


def usage_error(message):
    return (2, "", f"smtp-send: {message}\n{USAGE}\n")


def outcome(run):
    return (run.status, run.stdout, run.stderr)


def test_equals_forms_after_the_positionals_reach_the_message(rig, tmp_path):
    marker = os.urandom(8).hex()
    (tmp_path / "first.csv").write_bytes(b"a,b\n")
    (tmp_path / "second").write_bytes(b"\x89PNG")
    (tmp_path / "third.txt").write_bytes(b"plain\n")
    run = smtp_send(f"127.0.0.1:{rig['RIG_AIOSMTPD_PORT']}", "a@example.org", "b@example.net",
                    "--tls=required", f"--ca-file={rig['RIG_CA_FILE']}", f"--user={rig['RIG_SASL_USER']}",
                    "--subject=a=b", f"--header=X-Marker: {marker}", "--header", "X-Second: 2",
                    f"--attach={tmp_path / 'first.csv'}", "--attach-type=text/x-first",
                    "--attach", str(tmp_path / "second"), "--attach-type", "image/png",
                    "--attach", str(tmp_path / "third.txt"),
                    env={"SMTP_PASSWORD": rig["RIG_SASL_PASSWORD"]})
    assert (run.status, run.lines) == (0, ["Negotiating TLS....", "Using TLS connection.",
                                           "Message successfully sent to 1 recipient(s)"]), run
    [(data, envelope)] = stored_with(marker)
    message = parsed(data)
    assert (message["Subject"], message["X-Marker"], message["X-Second"]) == ("a=b", marker, "2")
    assert [(part.get_filename(), part.get_content_type()) for part in message.iter_attachments()] == [
        ("first.csv", "text/x-first"), ("second", "image/png"), ("third.txt", "text/plain")]
    assert (envelope["mail_from"], envelope["rcpt_tos"]) == ("a@example.org", ["b@example.net"])


def test_a_repeated_option_keeps_its_last_value(rig):
    run = smtp_send("--tls", "off", "--helo", "first.example", f"127.0.0.1:{rig['RIG_SINK_PORT']}",
                    "a@example.org", "--helo=last.example", "b@example.net", "-v")
    assert (run.status, run.lines) == (0, ["Message successfully sent to 1 recipient(s)"]), run
    client = [re.sub(r"\d+ octets", "N octets", line) for line in run.stderr.splitlines() if line.startswith("C: ")]
    assert client == ["C: EHLO last.example", "C: MAIL FROM:<a@example.org>", "C: RCPT TO:<b@example.net>",
                      "C: DATA", "C: <message data: N octets>", "C: QUIT"], run


def test_grouped_short_options_take_the_next_word_as_the_value():
    header = "From: header@example.org\nTo: to@example.net\n\nbody\n"
    run = smtp_send("-tf", "chosen@example.org", "--dry-run", "127.0.0.1:9", stdin=header)
    assert outcome(run) == (0, "MAIL FROM:<chosen@example.org>\nRCPT TO:<to@example.net>\n", ""), run


def test_double_dash_ends_the_options():
    run = smtp_send("--dry-run", "127.0.0.1:9", "a@example.org", "--", "-d@example.net", "--tls")
    assert outcome(run) == usage_error('invalid TO address "--tls": no @domain'), run
    run = smtp_send("--dry-run", "127.0.0.1:9", "a@example.org", "--", "-d@example.net", "-h@example.net")
    assert outcome(run) == (0, "MAIL FROM:<a@example.org>\nRCPT TO:<-d@example.net>\nRCPT TO:<-h@example.net>\n",
                            ""), run


@pytest.mark.parametrize("args, message", [
    (["--frobnicate"], "Unknown option '--frobnicate'"),
    (["--tsl", "off"], "Unknown option '--tsl'. Did you mean '--tls'?"),
    (["--CA-File=x"], "Unknown option '--CA-File'. Did you mean '--ca-file'?"),
    (["-x"], "Unknown option '-x'"),
    (["-vx"], "Unknown option '-x'"),
    (["-fADDR"], "Unknown option '-fADDR'"),
    (["-tv=1"], "Unknown option '-tv=1'"),
    (["---tls", "off"], "Unknown option '---tls'. Did you mean '--tls'?"),
    (["--"+"=x"], "Unknown option '--'"),
])
def test_an_unknown_option_is_a_usage_error(args, message):
    assert outcome(smtp_send(*ENVELOPE, *args)) == usage_error(message)


@pytest.mark.parametrize("args, message", [
    (["--tls", "sometimes"], "The value 'sometimes' is invalid for '--tls <MODE>'. "
                             "Please provide one of 'opportunistic', 'required', 'implicit' or 'off'."),
    (["--tls=Required"], "The value 'Required' is invalid for '--tls <MODE>'. "
                         "Please provide one of 'opportunistic', 'required', 'implicit' or 'off'."),
    (["--driver", "fast"], "The value 'fast' is invalid for '--driver <socket|uv|nio>'. Please provide one of 'socket', 'uv' or 'nio'."),
])
def test_a_bad_choice_names_the_allowed_values(args, message):
    assert outcome(smtp_send(*args, *ENVELOPE)) == usage_error(message)


@pytest.mark.parametrize("args, message", [
    (["--timeout", "abc"], "The value 'abc' is invalid for '--timeout <SECONDS>'"),
    (["--timeout="+"1s"], "The value '1s' is invalid for '--timeout <SECONDS>'"),
    (["--repeat", "1.5"], "The value '1.5' is invalid for '--repeat <N>'"),
    (["--connections=x", "--repeat", "2"], "The value 'x' is invalid for '--connections <C>'"),
    (["--max-size", " 5"], "The value ' 5' is invalid for '--max-size <OCTETS>'"),
])
def test_a_bad_number_is_a_usage_error(args, message):
    assert outcome(smtp_send(*args, *ENVELOPE)) == usage_error(message)


@pytest.mark.parametrize("args, message", [
    ([*ENVELOPE, "--helo"], "Missing value for '--helo <NAME>'"),
    (["--subject", "-x", *ENVELOPE], "Missing value for '--subject <TEXT>'"),
    (["--tls=", *ENVELOPE], "Missing value for '--tls <MODE>'"),
    (["--data", "--", *ENVELOPE], "Missing value for '--data <PATH>'"),
    (["-t", "-f"], "Missing value for '-f <ADDR>'"),
    (["--insecure=yes", *ENVELOPE], "The option '--insecure' does not take any value, but 'yes' was specified."),
    (["-v=1", *ENVELOPE], "The option '-v' does not take any value, but '1' was specified."),
])
def test_a_missing_or_unwanted_value_is_a_usage_error(args, message):
    assert outcome(smtp_send(*args)) == usage_error(message)


OPTION_LABELS = [
    "--tls <MODE>", "--ca-file <PATH>", "--insecure", "--tls-name <NAME>", "--helo <NAME>", "--user <NAME>",
    "--password-file <PATH>", "--auth <MECH>", "--allow-plaintext-auth", "--data <PATH>", "--max-size <OCTETS>",
    "--lmtp", "--driver <socket|uv|nio>", "--timeout <SECONDS>", "-v, --verbose", "--repeat <N>", "--connections <C>",
    "--session-messages <M>", "--no-tls-resume",
    "--subject <TEXT>", "--header <'Name: value'>", "--body <TEXT|@FILE>", "--html <FILE>", "--attach <PATH>",
    "--attach-type <TYPE>", "-t", "-f <ADDR>", "--config <FILE>", "--account <NAME>", "--dry-run", "-h, --help",
]


def test_help_is_the_usage_the_options_then_the_discussion():
    run = smtp_send("--help")
    assert (run.status, run.stderr) == (0, ""), run
    headings = [line for line in run.lines if line and not line.startswith(" ")]
    assert headings == ["OVERVIEW: Send a message over SMTP, with STARTTLS when the server offers it.",
                        "USAGE: smtp-send [OPTIONS] SERVER FROM TO [TO ...]", "ARGUMENTS:", "OPTIONS:",
                        "DESCRIPTION", "SERVER", "THE MESSAGE", "-t (RECIPIENTS FROM THE MESSAGE)",
                        "ACCOUNTS (--config FILE, default $XDG_CONFIG_HOME/smtp-send/config",
                        "or ~/.config/smtp-send/config)", "SENDMAIL MODE", "OUTPUT (stdout)", "EXIT STATUS",
                        "ENVIRONMENT", "EXAMPLES"], run.stdout
    options = run.stdout.split("\nOPTIONS:\n", 1)[1].split("\n\nDESCRIPTION\n", 1)[0]
    labels = [line[2:].split("  ")[0] for line in options.splitlines() if line.startswith("  -")]
    assert labels == OPTION_LABELS, options
    assert all(len(line) < 80 for line in options.splitlines()), options
    assert "  --tls <MODE>            TLS mode: opportunistic (the default), required,\n" in options
    assert "(values: socket, uv, nio; default: socket)" in " ".join(options.split())
    assert run.stdout.endswith("      --connections 50 127.0.0.1:2525 load@example.org \\\n"
                               "      sink@example.net\n"), run.stdout[-200:]


@pytest.mark.parametrize("args", [["-h"], [*ENVELOPE, "-h"], ["--frobnicate", "--help"], ["-vh"],
                                  ["--tls", "sometimes", "--help"]])
def test_h_anywhere_before_double_dash_prints_the_manual(args):
    manual = smtp_send("--help")
    run = smtp_send(*args)
    assert outcome(run) == (0, manual.stdout, ""), run


@pytest.mark.parametrize("args", [["--account", "-h"], ["--config", "--help", "b@example.net"]])
def test_sendmail_mode_reads_h_after_an_option_as_its_missing_value(tmp_path, args):
    result = run([sendmail_link(tmp_path), *args], stdin=b"Subject: x\n\nbody\n")
    option = "--account <NAME>" if args[0] == "--account" else "--config <FILE>"
    assert (result.status, result.stdout, result.stderr) == (64, "", f"sendmail: Missing value for '{option}'\n"), result
