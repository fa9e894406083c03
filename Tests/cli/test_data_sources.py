"""Where `--data` comes from (issue 11, points 3 and 4).

Point 3: the octets checked before connecting are the octets sent, every time the message is
sent, whatever `--data` names: a regular file, standard input, a pipe, a FIFO or `<(cmd)`. A
file that changes between the check and the send fails its message.

Point 4: anything that is not a regular file is spooled to a file that is unlinked as soon as it
is created (nothing is left in $TMPDIR while reading, after an error or after Ctrl-C), bounded
by `--max-size` (and a server's SIZE), with a clear error.

Messages go to the rig's aiosmtpd, which stores each one byte for byte (after removing the SMTP
transparency); a stored message is found by its X-Test-Marker header, its first line.
"""

import os
import pathlib
import resource
import signal
import socket
import subprocess
import threading
import time

import pytest

from conftest import RIG, Run, binary
from scripted_server import ScriptedServer, expect, handler, send, silence

SENT = ["Negotiating TLS....", "Using TLS connection.", "Message successfully sent to 1 recipient(s)"]
USAGE = "usage: smtp-send [OPTIONS] SERVER FROM TO [TO ...]   (smtp-send --help for details)"


def message(tag, size=200 * 1024):
    """A message of at least `size` octets, CRLF line ends (so the server stores it unchanged),
    every seventh line starting with a dot; its first line is a unique X-Test-Marker header."""
    marker = f"X-Test-Marker: {tag}-{os.urandom(6).hex()}"
    lines = [marker, "Subject: data source", ""]
    number, total = 0, sum(len(line) + 2 for line in lines)
    while total < size:
        lead = "." if number % 7 == 0 else ""
        lines.append(f"{lead}{number:06d} " + "x" * 63)
        total += len(lines[-1]) + 2
        number += 1
    return ("\r\n".join(lines) + "\r\n").encode()


def stored(body):
    """Every message aiosmtpd stored that starts with the marker line of `body`."""
    marker = body.split(b"\r\n", 1)[0] + b"\r\n"
    spool = pathlib.Path(RIG["RIG_AIOSMTPD_SPOOL"])
    return [data for data in (p.read_bytes() for p in sorted(spool.glob("*.eml"))) if data.startswith(marker)]


def to_aiosmtpd(driver):
    """Options and arguments for one message to aiosmtpd (STARTTLS and AUTH required)."""
    return ["--driver", driver, "--tls", "required", "--ca-file", RIG["RIG_CA_FILE"], "--user", RIG["RIG_SASL_USER"],
            f"127.0.0.1:{RIG['RIG_AIOSMTPD_PORT']}", "a@example.org", "b@example.net"]


def environment(**extra):
    env = dict(os.environ)
    env["SMTP_PASSWORD"] = RIG.get("RIG_SASL_PASSWORD", "")
    env.update(extra)
    return env


def finished(completed, started):
    completed.stdout = completed.stdout.decode(errors="replace")
    completed.stderr = completed.stderr.decode(errors="replace")
    return Run(completed, time.monotonic() - started)


def run(argv, stdin=b"", env=None, timeout=60):
    """Runs `argv` (bytes on its standard input) and returns what smtp-send did."""
    started = time.monotonic()
    completed = subprocess.run(argv, input=stdin, capture_output=True, env=env or environment(), timeout=timeout)
    return finished(completed, started)


def in_bash(script, *args, env=None):
    """Runs a bash script with $1 the smtp-send binary and $2... `args`."""
    return run(["bash", "-c", script, "bash", binary(), *args], env=env)


def unreachable_port():
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    return port


# Point 3: the bytes checked are the bytes sent ----------------------------------------------------

def test_data_from_a_pipe_over_64_kib_is_sent_whole(rig, driver, tmp_path):
    body = message(f"pipe-{driver}")
    source = tmp_path / "message.eml"
    source.write_bytes(body)
    done = in_bash('smtp=$1; file=$2; shift 2; cat "$file" | "$smtp" --data /dev/stdin "$@"',
                   str(source), *to_aiosmtpd(driver))
    assert (done.status, done.lines) == (0, SENT), done
    assert stored(body) == [body]


def test_data_from_a_fifo_over_64_kib_is_sent_whole(rig, driver, tmp_path):
    body = message(f"fifo-{driver}")
    fifo = tmp_path / "message.fifo"
    os.mkfifo(fifo)

    def writer():
        with open(fifo, "wb") as f:
            f.write(body)

    thread = threading.Thread(target=writer, daemon=True)
    thread.start()
    done = run([binary(), "--data", str(fifo), *to_aiosmtpd(driver)], timeout=30)
    thread.join(5)
    assert not thread.is_alive()
    assert (done.status, done.lines) == (0, SENT), done
    assert stored(body) == [body]


def test_data_from_process_substitution_over_64_kib_is_sent_whole(rig, driver, tmp_path):
    body = message(f"procsub-{driver}")
    source = tmp_path / "message.eml"
    source.write_bytes(body)
    done = in_bash('smtp=$1; file=$2; shift 2; "$smtp" --data <(cat "$file") "$@"', str(source), *to_aiosmtpd(driver))
    assert (done.status, done.lines) == (0, SENT), done
    assert stored(body) == [body]


def test_data_from_stdin_over_64_kib_is_sent_whole(rig, driver):
    body = message(f"stdin-{driver}")
    done = run([binary(), "--data", "-", *to_aiosmtpd(driver)], stdin=body)
    assert (done.status, done.lines) == (0, SENT), done
    assert stored(body) == [body]


@pytest.mark.parametrize("connections", ["1", "2"])
def test_repeat_with_piped_data_sends_three_whole_copies(rig, driver, tmp_path, connections):
    body = message(f"repeat-{driver}-{connections}")
    source = tmp_path / "message.eml"
    source.write_bytes(body)
    done = in_bash('smtp=$1; file=$2; connections=$3; shift 3; cat "$file" | '
                   '"$smtp" --repeat 3 --connections "$connections" --data /dev/stdin "$@"',
                   str(source), connections, *to_aiosmtpd(driver))
    assert done.status == 0, done
    assert done.lines[-1].startswith("Sent 3 messages in ") and done.lines[-1].endswith(", 0 failed"), done
    assert stored(body) == [body, body, body]


@pytest.mark.parametrize("size", [300 * 1024, (1 << 20) + 300 * 1024], ids=["in-memory", "over-1-MiB"])
def test_repeat_with_a_data_file_sends_whole_copies(rig, driver, tmp_path, size):
    """Load mode keeps a --data file of up to 1 MiB in memory and reads a larger one for every
    copy: both arrive whole, every time."""
    body = message(f"repeat-file-{driver}-{size}", size=size)
    source = tmp_path / "message.eml"
    source.write_bytes(body)
    done = run([binary(), "--repeat", "3", "--connections", "2", "--data", str(source), *to_aiosmtpd(driver)])
    assert done.status == 0, done
    assert done.lines[-1].startswith("Sent 3 messages in ") and done.lines[-1].endswith(", 0 failed"), done
    assert stored(body) == [body, body, body]


def change_at_mail(path, change):
    """A server that changes `path` when MAIL arrives, then accepts everything up to 354."""
    def script(server):
        server.send("220 mx ESMTP\r\n")
        if not server.line().upper().startswith("EHLO"):
            return False
        server.send("250 mx\r\n")
        if not server.line().upper().startswith("MAIL FROM:"):
            return False
        change(path)
        server.send("250 2.1.0 ok\r\n")
        if not server.line().upper().startswith("RCPT TO:"):
            return False
        server.send("250 2.1.5 ok\r\n")
        if server.line().upper() != "DATA":
            return False
        server.send("354 go ahead\r\n")
        return True
    return ScriptedServer([handler(script), silence(10)])


def grow(path):
    with open(path, "ab") as f:
        f.write(b"appended after the check\r\n")


def rewrite(path):
    """Same size, other octets, a later modification time."""
    data = path.read_bytes()
    path.write_bytes(data.replace(b"Subject: data source", b"Subject: DATA SOURCE"))
    stamp = os.stat(path).st_mtime_ns + 1_000_000_000
    os.utime(path, ns=(stamp, stamp))


def overwrite_in_place(path):
    """Same size, ten octets near the end replaced without truncating, a later modification time."""
    data = path.read_bytes()
    with open(path, "r+b") as f:
        f.seek(data.rindex(b"x" * 10))
        f.write(b"X" * 10)
    stamp = os.stat(path).st_mtime_ns + 1_000_000_000
    os.utime(path, ns=(stamp, stamp))


def shrink(path):
    data = path.read_bytes()
    path.write_bytes(data[:len(data) // 2])


@pytest.mark.parametrize("change", [grow, rewrite, shrink], ids=["grows", "rewritten", "shrinks"])
def test_file_changed_after_the_check_fails_its_message(driver, tmp_path, change):
    body = message(f"changed-{driver}")
    source = tmp_path / "message.eml"
    source.write_bytes(body)
    server = change_at_mail(source, change)
    done = run([binary(), "--driver", driver, "--tls", "off", "--timeout", "5", "--helo", "client.example", "--data", str(source),
                f"127.0.0.1:{server.port}", "a@example.org", "b@example.net"])
    record = server.finish()
    assert (done.status, done.lines) == (1, [" *** Your message may not have been sent!",
                                             f"message content failed: {source} changed after it was checked"]), done
    assert record.commands == ["EHLO client.example", "MAIL FROM:<a@example.org>",
                               "RCPT TO:<b@example.net>", "DATA"], record
    # Nothing of the message went out, so no complete message either.
    after_354 = [offset for (_, data, offset) in record.sends if data.startswith(b"354")][0]
    assert record.received_after(after_354) == b"", record
    assert not record.errors, record


def change_in_mid_data(path, change):
    """A server that accepts up to 354, changes `path` once the first octet of data arrived, then
    reads whatever comes until the client closes."""
    def script(server):
        server.send("220 mx ESMTP\r\n")
        for command, reply in [("EHLO", "250 mx"), ("MAIL FROM:", "250 2.1.0 ok"), ("RCPT TO:", "250 2.1.5 ok"),
                               ("DATA", "354 go ahead")]:
            if not server.line().upper().startswith(command):
                return False
            server.send(reply + "\r\n")
        if server.take(1) is None:
            return False
        change(path)
        return True
    server = ScriptedServer([handler(script), silence(30)])
    # A small receive buffer (no autotuning; the accepted socket inherits it): while the server
    # changes the file, the client can have at most this plus its send buffer (4 MiB at most on
    # Linux) in flight, far less than the file.
    server.listener.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)
    return server


@pytest.mark.parametrize("change", [grow, overwrite_in_place, shrink], ids=["grows", "overwritten", "shrinks"])
def test_file_changed_while_it_is_sent_never_gets_its_final_dot(driver, tmp_path, change):
    body = message(f"mid-data-{driver}", size=16 * 1024 * 1024)
    source = tmp_path / "message.eml"
    source.write_bytes(body)
    server = change_in_mid_data(source, change)
    done = run([binary(), "--driver", driver, "--tls", "off", "--timeout", "10", "--helo", "client.example",
                "--data", str(source), f"127.0.0.1:{server.port}", "a@example.org", "b@example.net"])
    record = server.finish()
    assert (done.status, done.lines) == (1, [" *** Your message may not have been sent!",
                                             f"message content failed: {source} changed after it was checked"]), done
    assert record.commands == ["EHLO client.example", "MAIL FROM:<a@example.org>", "RCPT TO:<b@example.net>", "DATA"]
    after_354 = [offset for (_, data, offset) in record.sends if data.startswith(b"354")][0]
    sent = record.received_after(after_354)
    # What went out is the start of the file as it now is, dot-stuffed (it has no leading dot),
    # and nothing else: the data never ended (CRLF.CRLF cannot occur inside stuffed content).
    now = source.read_bytes().replace(b"\r\n.", b"\r\n..")
    assert sent and now.startswith(sent), (len(sent), len(now), sent[-40:])
    assert b"\r\n.\r\n" not in sent
    assert record.client_closed and not record.errors, record


def test_message_over_the_servers_size_is_refused_before_mail(driver, tmp_path):
    source = tmp_path / "message.eml"
    source.write_bytes(b"Subject: big\r\n\r\n" + (b"y" * 98 + b"\r\n") * 50 + b"end\r\n")
    assert 5000 < os.path.getsize(source) < 5100
    size = os.path.getsize(source)
    server = ScriptedServer([send("220 mx ESMTP\r\n"), expect("EHLO "), send("250-mx\r\n250 SIZE 1000\r\n"),
                             expect("QUIT"), send("221 bye\r\n")])
    done = run([binary(), "--driver", driver, "--tls", "off", "--timeout", "5", "--helo", "client.example", "--data", str(source),
                f"127.0.0.1:{server.port}", "a@example.org", "b@example.net"])
    record = server.finish()
    assert (done.status, done.lines) == (1, [" *** Your message may not have been sent!",
                                             f"message of {size} bytes exceeds the server's SIZE limit of 1000"]), done
    assert record.commands == ["EHLO client.example", "QUIT"], record
    assert not record.errors, record


# Point 4: the spool is unlinked at once and bounded -------------------------------------------------

def spool_in(pid, directory, at_least):
    """Waits (bounded) until process `pid` holds a file from `directory` named like a spool file
    with at least `at_least` octets in it, and returns what /proc says the descriptor points to."""
    prefix = f"{directory}/smtp-send."
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        for name in os.listdir(f"/proc/{pid}/fd"):
            link = f"/proc/{pid}/fd/{name}"
            try:
                target = os.readlink(link)
                if target.startswith(prefix) and os.stat(link).st_size >= at_least:
                    return target
            except FileNotFoundError:
                continue
        time.sleep(0.01)
    pytest.fail(f"smtp-send (pid {pid}) never held a spool file in {directory} with {at_least} octets")


def interruptible():
    """For preexec_fn: Ctrl-C as a terminal's foreground job gets it. A suite started in the
    background by a shell without job control inherits SIGINT ignored, and smtp-send keeps an
    inherited disposition, as a program should; the tests that interrupt it must not depend on how
    the suite was started."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def smtp_send_reading_stdin(args, tmpdir):
    return subprocess.Popen([binary(), "--data", "-", *args], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env=environment(TMPDIR=str(tmpdir)), preexec_fn=interruptible)


def wait_for_spool(process, tmpdir, written):
    """The spool file holds `written` octets and is already unlinked: nothing in $TMPDIR."""
    target = spool_in(process.pid, tmpdir, written)
    assert target.endswith(" (deleted)"), target
    assert os.listdir(tmpdir) == []


def test_nothing_is_left_in_tmpdir_after_refused_content(driver, tmp_path):
    tmpdir = tmp_path / "tmp"
    tmpdir.mkdir()
    server = ScriptedServer([send("220 mx ESMTP\r\n")], accept_timeout=5)
    done = run([binary(), "--driver", driver, "--data", "-", f"127.0.0.1:{server.port}", "a@example.org", "b@example.net"],
               stdin=b"Subject: nul\r\n\r\n" + (b"n" * 70 + b"\r\n") * 1000 + b"bad \x00 byte\r\n", env=environment(TMPDIR=str(tmpdir)))
    assert (done.status, done.stdout) == (2, ""), done
    assert done.stderr == ("smtp-send: cannot read the message: the message has a NUL byte (line 1003): it cannot be sent as text\n"
                           f"{USAGE}\n"), done
    assert not server.stop().connected
    assert os.listdir(tmpdir) == []


def no_larger_files_than(octets):
    """For preexec_fn: writes past `octets` fail with EFBIG (a full disk, as the spool sees it)."""
    def limit():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (octets, octets))
    return limit


def test_a_spool_that_cannot_be_written_is_a_clear_error_before_connecting(driver, tmp_path):
    tmpdir = tmp_path / "tmp"
    tmpdir.mkdir()
    server = ScriptedServer([send("220 mx ESMTP\r\n")], accept_timeout=5)
    started = time.monotonic()
    completed = subprocess.run([binary(), "--driver", driver, "--data", "-", f"127.0.0.1:{server.port}", "a@example.org",
                                "b@example.net"], input=message("full", size=150_000), capture_output=True,
                               env=environment(TMPDIR=str(tmpdir)), preexec_fn=no_larger_files_than(100_000), timeout=30)
    done = finished(completed, started)
    assert (done.status, done.stdout) == (2, ""), done
    assert done.stderr == (f"smtp-send: cannot read the message: cannot spool standard input in {tmpdir}: file too large\n"
                           f"{USAGE}\n"), done
    assert not server.stop().connected
    assert os.listdir(tmpdir) == []


def test_a_missing_tmpdir_is_a_clear_error_before_connecting(driver, tmp_path):
    server = ScriptedServer([send("220 mx ESMTP\r\n")], accept_timeout=5)
    missing = tmp_path / "missing"
    done = run([binary(), "--driver", driver, "--data", "-", f"127.0.0.1:{server.port}", "a@example.org", "b@example.net"],
               stdin=b"Subject: small\r\n\r\nhello\r\n", env=environment(TMPDIR=str(missing)))
    assert (done.status, done.stdout) == (2, ""), done
    assert done.stderr == (f"smtp-send: cannot read the message: cannot create a spool file in {missing} for standard input: "
                           f"no such file or directory\n{USAGE}\n"), done
    assert not server.stop().connected


def interrupt(process):
    """Ctrl-C: smtp-send dies of SIGINT (it has no handler to clean up after)."""
    process.send_signal(signal.SIGINT)
    process.wait(timeout=10)
    for pipe in (process.stdin, process.stdout, process.stderr):
        if pipe and not pipe.closed:
            pipe.close()
    assert process.returncode == -signal.SIGINT


def test_spool_is_unlinked_while_stdin_is_still_being_read(rig, driver, tmp_path):
    tmpdir = tmp_path / "tmp"
    tmpdir.mkdir()
    body = message(f"spool-{driver}")
    process = smtp_send_reading_stdin(to_aiosmtpd(driver), tmpdir)
    process.stdin.write(body[:100_000])
    process.stdin.flush()
    wait_for_spool(process, tmpdir, 100_000)
    stdout, stderr = process.communicate(body[100_000:], timeout=60)
    assert (process.returncode, stdout.decode().splitlines()) == (0, SENT), stderr
    assert stored(body) == [body]
    assert os.listdir(tmpdir) == []


def test_nothing_is_left_in_tmpdir_after_a_connection_error(driver, tmp_path):
    tmpdir = tmp_path / "tmp"
    tmpdir.mkdir()
    port = unreachable_port()
    done = run([binary(), "--driver", driver, "--data", "-", f"127.0.0.1:{port}", "a@example.org", "b@example.net"],
               stdin=message("unreachable"), env=environment(TMPDIR=str(tmpdir)))
    assert (done.status, done.lines) == (1, [" *** Your message may not have been sent!",
                                             f"cannot connect to 127.0.0.1:{port}: connection refused"]), done
    assert os.listdir(tmpdir) == []


def test_nothing_is_left_in_tmpdir_after_sigint_while_reading_stdin(driver, tmp_path):
    tmpdir = tmp_path / "tmp"
    tmpdir.mkdir()
    server = ScriptedServer([send("220 mx ESMTP\r\n")], accept_timeout=5)
    process = smtp_send_reading_stdin(["--driver", driver, "--tls", "off", f"127.0.0.1:{server.port}",
                                       "a@example.org", "b@example.net"], tmpdir)
    process.stdin.write(b"Subject: interrupted\r\n\r\n" + b"z" * 70_000)
    process.stdin.flush()
    wait_for_spool(process, tmpdir, 70_000)
    interrupt(process)
    assert os.listdir(tmpdir) == []
    assert not server.stop().connected


def test_nothing_is_left_in_tmpdir_after_sigint_while_waiting_for_the_server(driver, tmp_path):
    tmpdir = tmp_path / "tmp"
    tmpdir.mkdir()
    server = ScriptedServer([send("220 mx ESMTP\r\n"), expect("EHLO"), silence(30)])
    process = smtp_send_reading_stdin(["--driver", driver, "--tls", "off", f"127.0.0.1:{server.port}",
                                       "a@example.org", "b@example.net"], tmpdir)
    process.stdin.write(message("waiting"))
    process.stdin.close()
    deadline = time.monotonic() + 10
    while not server.record.commands and time.monotonic() < deadline:
        time.sleep(0.01)
    assert server.record.commands and server.record.commands[0].startswith("EHLO "), server.record
    # The spool is held open (the message is still to be sent) but already gone from $TMPDIR.
    wait_for_spool(process, tmpdir, 1)
    interrupt(process)
    assert os.listdir(tmpdir) == []
    server.finish()


@pytest.mark.parametrize("data, label", [("-", "standard input"), ("/dev/stdin", "/dev/stdin")])
def test_stdin_over_max_size_is_refused_before_connecting(driver, tmp_path, data, label):
    tmpdir = tmp_path / "tmp"
    tmpdir.mkdir()
    server = ScriptedServer([send("220 mx ESMTP\r\n")], accept_timeout=5)
    done = run([binary(), "--driver", driver, "--max-size", "1000", "--data", data, f"127.0.0.1:{server.port}",
                "a@example.org", "b@example.net"], stdin=b"Subject: big\r\n\r\n" + b"q" * 2000 + b"\r\n",
               env=environment(TMPDIR=str(tmpdir)))
    assert done.status == 2, done
    assert done.stdout == "", done
    assert done.stderr == f"smtp-send: cannot read the message: {label} is larger than --max-size 1000 octets\n{USAGE}\n", done
    assert not server.stop().connected
    assert os.listdir(tmpdir) == []


def test_stdin_of_exactly_max_size_is_sent(rig, driver):
    head = message(f"exact-{driver}", size=0)
    body = head + b"p" * (1000 - len(head) - 2) + b"\r\n"
    assert len(body) == 1000
    done = run([binary(), "--max-size", "1000", "--data", "-", *to_aiosmtpd(driver)], stdin=body)
    assert (done.status, done.lines) == (0, SENT), done
    assert stored(body) == [body]


@pytest.mark.parametrize("value, error", [
    ("0", "--max-size must be at least 1"),
    ("-1", "--max-size must be at least 1"),
    ("abc", "The value 'abc' is invalid for '--max-size <OCTETS>'"),
    ("", "Missing value for '--max-size <OCTETS>'"),
    ("1e3", "The value '1e3' is invalid for '--max-size <OCTETS>'"),
    ("99999999999999999999", "The value '99999999999999999999' is invalid for '--max-size <OCTETS>'"),
])
def test_bad_max_size_is_a_usage_error(value, error):
    server = ScriptedServer([send("220 mx ESMTP\r\n")], accept_timeout=5)
    done = run([binary(), f"--max-size={value}", "--data", "-", f"127.0.0.1:{server.port}", "a@example.org",
                "b@example.net"], stdin=b"Subject: small\r\n\r\nhello\r\n")
    assert (done.status, done.stdout, done.stderr) == (2, "", f"smtp-send: {error}\n{USAGE}\n"), done
    assert not server.stop().connected


def test_help_documents_max_size_and_its_default():
    done = run([binary(), "--help"])
    assert done.status == 0, done
    entry = " ".join(done.stdout.split("--max-size <OCTETS>", 1)[1].split("\n  --", 1)[0].split())
    assert "104857600" in entry and "SIZE" in entry, entry
