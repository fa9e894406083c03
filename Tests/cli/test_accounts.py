"""Issue 13: the accounts file (--config, default $XDG_CONFIG_HOME/smtp-send/config): an
account replaces SERVER and its options; a password file others can read is refused; a bad
file is exit 2 (EX_CONFIG 78 in sendmail mode) with file:line."""

import os

import pytest

from conftest import RIG
from daily_use import aiosmtpd_account, binary, parsed, run, sendmail_link, stored_with


def test_account_sends_through_aiosmtpd_without_server(rig, tmp_path):
    config = aiosmtpd_account(tmp_path, default=False)
    marker = os.urandom(8).hex()
    result = run([binary(), "--config", config, "--account", "rig", "--subject", marker, "a@example.org", "b@example.net"])
    assert (result.status, result.lines) == (0, ["Negotiating TLS....", "Using TLS connection.",
                                                  "Message successfully sent to 1 recipient(s)"]), result
    [(data, envelope)] = stored_with(marker)
    assert (envelope["mail_from"], envelope["rcpt_tos"], envelope["login"]) == ("a@example.org", ["b@example.net"], RIG["RIG_SASL_USER"])
    assert parsed(data)["Subject"] == marker


def test_default_account_from_xdg_config_home_and_password_command(rig, tmp_path):
    directory = tmp_path / "xdg" / "smtp-send"
    directory.mkdir(parents=True)
    config = aiosmtpd_account(tmp_path)
    text = config.read_text().replace(f"password-file = {tmp_path / 'password'}",
                                      f"password-command = echo '{RIG['RIG_SASL_PASSWORD']}'; echo second line")
    (directory / "config").write_text(text)
    marker = os.urandom(8).hex()
    result = run([binary(), "--subject", marker, "a@example.org", "b@example.net"], env={"XDG_CONFIG_HOME": str(tmp_path / "xdg")})
    assert result.status == 0, result
    assert len(stored_with(marker)) == 1


@pytest.mark.parametrize("mode", [0o640, 0o604])
def test_password_file_others_can_read_is_refused(tmp_path, mode):
    config = aiosmtpd_account(tmp_path, password_mode=mode)
    result = run([binary(), "--config", config, "a@example.org", "b@example.net"])
    assert result.status == 2, result
    assert result.stdout == ""
    assert result.stderr.splitlines() == [
        f"smtp-send: account rig: password-file {tmp_path / 'password'} is readable by others (mode {mode:o}); chmod 600 it"]


@pytest.mark.parametrize("text, line, why", [
    ("[account a]\nhost = h\nuser = u\npasword-file = /x\n", 4,
     "unknown key pasword-file (host, port, tls, user, password-file, password-command, from, ca-file, tls-name)"),
    ("[account a]\nhost = h\ntls = sometimes\n", 3, "invalid tls sometimes (opportunistic, required, implicit or off)"),
    ("[account a]\nhost = h\nport = 99999\n", 3, "invalid port 99999"),
    ("[account a]\nhost = h:25\n", 2, "invalid host h:25 (give the port with port =)"),
    ("# comment\n\nhost = h\n", 3, "host outside a section"),
    ("[acount a]\n", 1, "unknown section [acount a] (expected [account NAME] or [default])"),
    ("[default]\naccount = a\nhost = h\n", 3, "unknown key host in [default] (expected account)"),
    ("[account a]\nhost\n", 2, "expected key = value"),
    ("[account a]\nhost = h\nfrom = not an address\n", 3, "invalid from not an address: no @domain"),
])
def test_bad_config_is_exit_2_or_78_with_file_and_line(tmp_path, text, line, why):
    config = tmp_path / "config"
    config.write_text(text)
    result = run([binary(), "--config", config, "--account", "a", "a@example.org", "b@example.net"])
    assert (result.status, result.stdout) == (2, ""), result
    assert result.stderr.splitlines() == [f"smtp-send: {config}:{line}: {why}"], result
    result = run([sendmail_link(tmp_path), "--config", config, "--account", "a", "b@example.net"], stdin=b"Subject: x\n\nb\n")
    assert (result.status, result.stdout) == (78, ""), result
    assert result.stderr.splitlines() == [f"sendmail: {config}:{line}: {why}"], result


def test_no_default_account_names_the_file(tmp_path):
    config = tmp_path / "config"
    config.write_text("[account a]\nhost = h\n")
    result = run([binary(), "--config", config, "a@example.org", "b@example.net"])
    assert result.status == 2, result
    assert result.stderr.splitlines() == [f"smtp-send: {config}: no SERVER given and no default account ([default] account = NAME)"]


def test_password_file_under_home_with_a_tilde(rig, tmp_path):
    config = aiosmtpd_account(tmp_path)
    config.write_text(config.read_text().replace(f"password-file = {tmp_path / 'password'}", "password-file = ~/password"))
    marker = os.urandom(8).hex()
    result = run([binary(), "--config", config, "--subject", marker, "a@example.org", "b@example.net"], env={"HOME": str(tmp_path)})
    assert result.status == 0, result
    assert len(stored_with(marker)) == 1
