"""Shared fixtures: the smtp-send binary and the rig's environment."""

import os
import pathlib
import subprocess
import time

import pytest

from rig_env import rig_env

REPO = pathlib.Path(__file__).resolve().parents[2]


RIG = rig_env()


def binary():
    path = os.environ.get("SMTP_SEND") or str(REPO / ".build" / "debug" / "smtp-send")
    if not os.path.exists(path):
        pytest.fail(f"smtp-send not built at {path}: run `swift build --product smtp-send`")
    return path


@pytest.fixture(scope="session")
def rig():
    if "RIG_POSTFIX_STARTTLS_PORT" not in RIG:
        pytest.fail("the test rig is not running: scripts/rig/rig.sh start (make test does this)")
    return RIG


class Run:
    def __init__(self, completed, elapsed):
        self.status = completed.returncode
        self.stdout = completed.stdout
        self.stderr = completed.stderr
        self.elapsed = elapsed
        self.lines = completed.stdout.splitlines()

    def __repr__(self):
        return f"<exit {self.status}, {self.elapsed:.2f}s\nstdout:\n{self.stdout}\nstderr:\n{self.stderr}>"


def smtp_send(*args, env=None, stdin=None, timeout=120):
    """Runs smtp-send and returns its exit status, output lines and elapsed time."""
    full_env = dict(os.environ)
    full_env.update(env or {})
    started = time.monotonic()
    completed = subprocess.run([binary(), *args], capture_output=True, text=True, env=full_env,
                               input=stdin, timeout=timeout)
    return Run(completed, time.monotonic() - started)


# The drivers every driver-parametrised test runs through: all three unless SMTP_SEND_DRIVERS
# names fewer (SMTP_SEND_DRIVERS=nio runs the SwiftNIO driver alone).
DRIVERS = os.environ.get("SMTP_SEND_DRIVERS", "socket,uv,nio").split(",")


@pytest.fixture(params=DRIVERS)
def driver(request):
    return request.param


@pytest.fixture(params=["tcp", "unix"])
def dovecot_lmtp(request, rig):
    """Where the rig's Dovecot LMTP listens, both ways: ("tcp", "127.0.0.1:PORT") or ("unix", PATH).
    For smtp-send's LMTP mode once it exists; Tests/cli/test_more_servers.py uses it with smtplib."""
    if "RIG_DOVECOT_LMTP_PORT" not in rig:
        pytest.fail("the rig runs without Dovecot: scripts/rig/rig.sh start (not --core)")
    if request.param == "tcp":
        return ("tcp", f"127.0.0.1:{rig['RIG_DOVECOT_LMTP_PORT']}")
    return ("unix", rig["RIG_DOVECOT_LMTP_SOCKET"])
