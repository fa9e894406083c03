"""Helpers for the daily-use tests (issue 13): accounts files, the `sendmail` link, and reading
back what the rig's aiosmtpd stored (DIR/NNNNNN.eml and its NNNNNN.json envelope)."""

import email
import email.policy
import json
import os
import pathlib
import subprocess

from conftest import RIG, Run, binary


def stored_with(marker):
    """[(message, envelope)] for every message aiosmtpd stored whose bytes contain MARKER."""
    spool = pathlib.Path(RIG["RIG_AIOSMTPD_SPOOL"])
    found = []
    for meta in sorted(spool.glob("*.json")):
        data = meta.with_suffix(".eml").read_bytes()
        if marker.encode() in data:
            found.append((data, json.loads(meta.read_text())))
    return found


def parsed(data):
    return email.message_from_bytes(data, policy=email.policy.default)


def aiosmtpd_account(tmp_path, name="rig", extra="", default=True, password_mode=0o600):
    """A config file whose account NAME is the rig's aiosmtpd (STARTTLS, AUTH, the rig CA)."""
    password = tmp_path / "password"
    password.write_text(RIG["RIG_SASL_PASSWORD"] + "\n")
    password.chmod(password_mode)
    config = tmp_path / "config"
    config.write_text(
        (f"[default]\naccount = {name}\n\n" if default else "")
        + f"[account {name}]\nhost = 127.0.0.1\nport = {RIG['RIG_AIOSMTPD_PORT']}\ntls = required\n"
        + f"user = {RIG['RIG_SASL_USER']}\npassword-file = {password}\nca-file = {RIG['RIG_CA_FILE']}\n"
        + extra)
    return config


def sendmail_link(tmp_path):
    """A directory holding `sendmail`, a symbolic link to smtp-send."""
    directory = tmp_path / "bin"
    directory.mkdir(exist_ok=True)
    link = directory / "sendmail"
    if not link.exists():
        link.symlink_to(os.path.abspath(binary()))
    return link


def run(argv, stdin=b"", env=None, timeout=60):
    full = {k: v for k, v in os.environ.items() if k != "SMTP_PASSWORD"}
    full.update(env or {})
    completed = subprocess.run([str(a) for a in argv], input=stdin, capture_output=True, env=full, timeout=timeout)
    completed.stdout = completed.stdout.decode(errors="replace")
    completed.stderr = completed.stderr.decode(errors="replace")
    return Run(completed, 0.0)
