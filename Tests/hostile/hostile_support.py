"""Helpers for the hostile-server suite: running smtp-send, reading what the scripted server
recorded, and an independent reference for what message content must look like on the wire.

Nothing here trusts the client: every check works on the bytes the server received.
"""

import os
import pathlib
import subprocess
import sys
import time

HERE = pathlib.Path(__file__).resolve().parent
REPO = HERE.parents[1]
sys.path.insert(0, str(REPO / "Tests" / "cli"))

import scripted_server  # noqa: E402  (the shared scripted server, Tests/cli/scripted_server.py)
from scripted_server import ScriptedServer  # noqa: E402,F401
from rig_env import rig_env  # noqa: E402  (Tests/cli/rig_env.py)

FROM = "a@example.org"
TO = "b@example.net"
NOT_SENT = " *** Your message may not have been sent!"

# How long a run that involves no timeout may take (start-up, a TLS handshake, a debug build).
QUICK = 5.0
# Slack allowed beyond --timeout for a run that waits for one.
MARGIN = 3.0


RIG = rig_env()


def binary():
    return os.environ.get("SMTP_SEND") or str(REPO / ".build" / "debug" / "smtp-send")


class Run:
    def __init__(self, args, completed, elapsed, killed=False):
        self.args = args
        self.status = completed.returncode if completed else None
        self.stdout = completed.stdout if completed else ""
        self.stderr = completed.stderr if completed else ""
        self.elapsed = elapsed
        self.killed = killed
        self.lines = self.stdout.splitlines()

    def __repr__(self):
        shown = [a if len(a) < 80 else a[:77] + "..." for a in self.args]
        return (f"<smtp-send {' '.join(map(repr, shown))}: exit {self.status}, {self.elapsed:.2f}s"
                f"{', KILLED (hung)' if self.killed else ''}\nstdout:\n{self.stdout}\nstderr:\n{self.stderr[-3000:]}>")


def smtp_send(*args, env=None, stdin=None, limit=60):
    """Runs smtp-send; a run that outlives `limit` seconds is killed and reported as hung."""
    full_env = dict(os.environ)
    full_env.pop("SMTP_PASSWORD", None)
    full_env.update(env or {})
    argv = [binary(), *args]
    started = time.monotonic()
    try:
        completed = subprocess.run(argv, capture_output=True, env=full_env, input=stdin, timeout=limit)
    except subprocess.TimeoutExpired as expired:
        class Hung:
            returncode = None
            stdout = (expired.stdout or b"").decode("utf-8", "replace")
            stderr = (expired.stderr or b"").decode("utf-8", "replace")
        return Run(args, Hung, time.monotonic() - started, killed=True)
    completed.stdout = completed.stdout.decode("utf-8", "replace")
    completed.stderr = completed.stderr.decode("utf-8", "replace")
    return Run(args, completed, time.monotonic() - started)


# What the client sent -----------------------------------------------------------------------------

def lines(data):
    """CRLF-separated lines of client bytes (a trailing partial line included)."""
    parts = bytes(data).split(b"\r\n")
    if parts and parts[-1] == b"":
        parts.pop()
    return parts


def verbs(data):
    """The first word of every line, upper-cased (b'MAIL', b'RCPT', ...)."""
    return [line.split(b" ", 1)[0].split(b":", 1)[0].upper() for line in lines(data)]


def after_send(record, marker):
    """What the client sent after the server's first write containing `marker` went out."""
    marker = marker.encode() if isinstance(marker, str) else marker
    for _, data, offset in record.sends:
        if marker in data:
            return record.all[offset:]
    raise AssertionError(f"the server never sent {marker!r}: {record.sends!r}")


def only_quit(data):
    """True when `data` is empty or exactly one QUIT command."""
    return bytes(data) in (b"", b"QUIT\r\n")


def no_bare_cr_lf(data):
    """Every CR is followed by LF and every LF preceded by CR."""
    data = bytes(data)
    for index, byte in enumerate(data):
        if byte == 13 and (index + 1 >= len(data) or data[index + 1] != 10):
            return False
        if byte == 10 and (index == 0 or data[index - 1] != 13):
            return False
    return True


def wire_data(content):
    """What DATA content must look like on the wire: an independent model of RFC 5321 §4.5.2.
    Lone CR and lone LF become CRLF, every line-initial dot is doubled, CRLF is added at the end
    when missing, then the end-of-data line."""
    text = bytes(content).replace(b"\r\n", b"\n").replace(b"\r", b"\n")
    body_lines = text.split(b"\n")
    if body_lines[-1] == b"":
        body_lines.pop()
    out = bytearray()
    for line in body_lines:
        if line.startswith(b"."):
            out += b"."
        out += line + b"\r\n"
    return bytes(out) + b".\r\n"


def chunked_text(content):
    """What BDAT (text, not BINARYMIME) content must add up to: line ends normalized, no stuffing."""
    text = bytes(content).replace(b"\r\n", b"\n").replace(b"\r", b"\n")
    if text and not text.endswith(b"\n"):
        text += b"\n"
    return text.replace(b"\n", b"\r\n")


def data_on_wire(record):
    """The client's bytes after its DATA command line, to the end of the recording."""
    everything = record.all
    index = everything.find(b"\r\nDATA\r\n")
    assert index >= 0, f"no DATA command on the wire: {everything[:2000]!r}"
    return everything[index + len(b"\r\nDATA\r\n"):]


# Certificates ------------------------------------------------------------------------------------

def cert(kind="SERVER"):
    return RIG[f"RIG_{kind}_CERT"], RIG[f"RIG_{kind}_KEY"]


def tls_args():
    return ["--ca-file", RIG["RIG_CA_FILE"], "--tls-name", "localhost"]
