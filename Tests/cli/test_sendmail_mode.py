"""Issue 13: smtp-send invoked through a link named `sendmail`: sendmail's arguments, the
message on stdin, the server from the (default) account, nothing printed on success, one line
on stderr and a sysexits status otherwise. git send-email and a cron-style pipe use it."""

import os
import shutil
import socket
import subprocess

import pytest

from conftest import RIG
from daily_use import aiosmtpd_account, parsed, run, sendmail_link, stored_with
from scripted_server import ScriptedServer, expect, send


def xdg_with(config, tmp_path):
    """An XDG_CONFIG_HOME whose smtp-send/config is CONFIG's text."""
    directory = tmp_path / "xdg" / "smtp-send"
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "config").write_text(config.read_text())
    return {"XDG_CONFIG_HOME": str(tmp_path / "xdg"), "HOME": str(tmp_path)}


def test_cron_style_pipe_with_t(rig, tmp_path):
    config = aiosmtpd_account(tmp_path, extra="from = cron@example.org\n")
    marker = os.urandom(8).hex()
    link = sendmail_link(tmp_path)
    result = run(["sh", "-c", f"printf 'To: x@example.net\\nSubject: y {marker}\\n\\nbody\\n' | {link} -t"],
                 env=xdg_with(config, tmp_path))
    assert (result.status, result.stdout, result.stderr) == (0, "", ""), result
    [(data, envelope)] = stored_with(marker)
    assert (envelope["mail_from"], envelope["rcpt_tos"]) == ("cron@example.org", ["x@example.net"])
    assert data == f"To: x@example.net\r\nSubject: y {marker}\r\n\r\nbody\r\n".encode()


def test_recipients_as_arguments_and_f_with_oi(rig, tmp_path):
    config = aiosmtpd_account(tmp_path)
    marker = os.urandom(8).hex()
    text = f"From: Me <me@example.org>\nTo: list@example.net\nBcc: hidden@example.net\nSubject: {marker}\n\n.\nlast\n"
    result = run([sendmail_link(tmp_path), "-oi", "-f", "bounce@example.org", "--config", config, "r1@example.net", "r2@example.net"],
                 stdin=text.encode())
    assert (result.status, result.stdout, result.stderr) == (0, "", ""), result
    [(data, envelope)] = stored_with(marker)
    # Without -t the arguments are the recipients; Bcc is still kept out of the copy sent.
    assert (envelope["mail_from"], envelope["rcpt_tos"]) == ("bounce@example.org", ["r1@example.net", "r2@example.net"])
    assert data == f"From: Me <me@example.org>\r\nTo: list@example.net\r\nSubject: {marker}\r\n\r\n.\r\nlast\r\n".encode()


def test_git_send_email_delivers_the_patch(rig, tmp_path):
    assert shutil.which("git"), "git is needed (scripts/test.sh installs git-email)"
    exec_path = subprocess.run(["git", "--exec-path"], capture_output=True, text=True).stdout.strip()
    assert os.path.exists(os.path.join(exec_path, "git-send-email")), \
        "git send-email is missing: apt-get install git-email (scripts/test.sh does)"
    config = aiosmtpd_account(tmp_path)
    env = xdg_with(config, tmp_path)
    env.update({"GIT_AUTHOR_NAME": "Dev Eloper", "GIT_AUTHOR_EMAIL": "dev@example.org",
                "GIT_COMMITTER_NAME": "Dev Eloper", "GIT_COMMITTER_EMAIL": "dev@example.org",
                "GIT_CONFIG_NOSYSTEM": "1"})
    repo = tmp_path / "repo"
    repo.mkdir()
    marker = os.urandom(8).hex()
    def git(*args):
        completed = subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True, env={**os.environ, **env})
        assert completed.returncode == 0, completed
        return completed.stdout
    git("init", "-q")
    (repo / "file.txt").write_text(f"line {marker}\n")
    git("add", "file.txt")
    git("commit", "-q", "-m", f"Add file {marker}")
    patch = git("format-patch", "-1").strip()
    link = sendmail_link(tmp_path)
    git("send-email", f"--sendmail-cmd={link}", "--to=maintainer@example.net", "--cc=list@example.net",
        "--from=Dev Eloper <dev@example.org>", "--confirm=never", "--quiet", patch)
    [(data, envelope)] = stored_with(marker)
    assert envelope["mail_from"] == "dev@example.org"
    # git send-email runs `sendmail -i TO... CC...` (the author is Cc'd by default) and no -f:
    # the sender is the patch's From field.
    assert envelope["rcpt_tos"] == ["maintainer@example.net", "list@example.net", "dev@example.org"]
    message = parsed(data)
    assert message["Subject"] == f"[PATCH] Add file {marker}"
    assert message["To"] == "maintainer@example.net"
    assert f"+line {marker}" in message.get_content()


def test_refused_recipient_is_67(tmp_path):
    server = ScriptedServer([
        send("220 mx ESMTP\r\n"), expect("EHLO"), send("250 mx\r\n"),
        expect("MAIL FROM:<a@example.org>"), send("250 ok\r\n"),
        expect("RCPT TO:<nobody@example.net>"), send("550 5.1.1 no such user\r\n"),
        expect("QUIT"), send("221 bye\r\n"),
    ])
    config = tmp_path / "config"
    config.write_text(f"[default]\naccount = s\n[account s]\nhost = 127.0.0.1\nport = {server.port}\ntls = off\nfrom = a@example.org\n")
    result = run([sendmail_link(tmp_path), "--config", config, "nobody@example.net"], stdin=b"Subject: x\n\nbody\n")
    assert (result.status, result.stdout) == (67, ""), result
    assert result.stderr.splitlines() == ["sendmail: recipient refused: nobody@example.net: 550 5.1.1 no such user"]
    server.finish()


def test_temporary_refusal_is_75(tmp_path):
    server = ScriptedServer([send("421 4.3.2 busy, try later\r\n")])
    config = tmp_path / "config"
    config.write_text(f"[default]\naccount = s\n[account s]\nhost = 127.0.0.1\nport = {server.port}\ntls = off\nfrom = a@example.org\n")
    result = run([sendmail_link(tmp_path), "--config", config, "b@example.net"], stdin=b"Subject: x\n\nbody\n")
    assert (result.status, result.stdout) == (75, ""), result
    assert len(result.stderr.splitlines()) == 1, result
    server.finish()


def test_refused_connection_is_69(tmp_path):
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    config = tmp_path / "config"
    config.write_text(f"[default]\naccount = s\n[account s]\nhost = 127.0.0.1\nport = {port}\ntls = off\nfrom = a@example.org\n")
    result = run([sendmail_link(tmp_path), "--config", config, "b@example.net"], stdin=b"Subject: x\n\nbody\n")
    assert (result.status, result.stdout) == (69, ""), result
    assert result.stderr.splitlines() == [f"sendmail: cannot connect to 127.0.0.1:{port}: connection refused"]


def test_bad_option_is_64(tmp_path):
    result = run([sendmail_link(tmp_path), "-bs"], stdin=b"")
    assert (result.status, result.stdout) == (64, ""), result
    assert result.stderr.splitlines() == [
        "sendmail: unsupported option -bs (sendmail [-t] [-i] [-oi] [-f FROM] [--config FILE] [--account NAME] [RECIPIENT...])"]


def test_unknown_host_is_68(tmp_path):
    config = tmp_path / "config"
    config.write_text("[default]\naccount = s\n[account s]\nhost = no-such-host.invalid\ntls = off\nfrom = a@example.org\n")
    result = run([sendmail_link(tmp_path), "--config", config, "b@example.net"], stdin=b"Subject: x\n\nbody\n")
    assert (result.status, result.stdout) == (68, ""), result
    assert len(result.stderr.splitlines()) == 1 and result.stderr.startswith("sendmail: cannot resolve no-such-host.invalid"), result


def test_no_recipients_is_64(tmp_path):
    config = aiosmtpd_account(tmp_path)
    result = run([sendmail_link(tmp_path), "--config", config, "-t"], stdin=b"From: a@example.org\nSubject: x\n\nbody\n")
    assert (result.status, result.stdout, result.stderr) == (64, "", "sendmail: at least one TO address is needed\n"), result
