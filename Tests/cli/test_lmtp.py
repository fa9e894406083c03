"""smtp-send --lmtp: LHLO, per-recipient replies after the data, over TCP and a Unix socket.
(Against a real Dovecot LMTP in test_more_servers.py; here a scripted LMTP server that answers
exactly as RFC 2033 says, so each line and exit status is pinned down.)"""

import os
import socket
import tempfile
import threading

import pytest

from conftest import smtp_send

USERS = {"good@example.net": "250 2.0.0 <good@example.net> Saved",
         "full@example.net": "552 5.2.2 <full@example.net> Quota exceeded (mailbox for user is full)"}


class LMTPServer:
    """Accepts one session; unknown users get 550 at RCPT, each accepted one its own reply."""

    def __init__(self, family):
        self.commands = []
        self.data = b""
        if family == "unix":
            self.path = os.path.join(tempfile.mkdtemp(), "lmtp")
            self.listener = socket.socket(socket.AF_UNIX)
            self.listener.bind(self.path)
            self.address = f"unix:{self.path}"
        else:
            self.listener = socket.socket()
            self.listener.bind(("127.0.0.1", 0))
            self.address = f"127.0.0.1:{self.listener.getsockname()[1]}"
        self.listener.listen(1)
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def serve(self):
        conn, _ = self.listener.accept()
        reader = conn.makefile("rb")
        conn.sendall(b"220 lmtp.test LMTP ready\r\n")
        accepted = []
        while True:
            line = reader.readline()
            if not line:
                break
            text = line.decode().rstrip("\r\n")
            self.commands.append(text)
            verb = text.split(" ")[0].upper()
            if verb == "LHLO":
                conn.sendall(b"250-lmtp.test\r\n250-PIPELINING\r\n250 ENHANCEDSTATUSCODES\r\n")
            elif verb == "MAIL":
                conn.sendall(b"250 2.1.0 OK\r\n")
            elif verb == "RCPT":
                address = text[text.index("<") + 1:text.index(">")]
                if address in USERS:
                    accepted.append(address)
                    conn.sendall(b"250 2.1.5 OK\r\n")
                else:
                    conn.sendall(f"550 5.1.1 <{address}> User doesn't exist: {address}\r\n".encode())
            elif verb == "DATA":
                conn.sendall(b"354 OK\r\n")
                while True:
                    body = reader.readline()
                    if body in (b".\r\n", b""):
                        break
                    self.data += body
                for address in accepted:
                    conn.sendall(f"{USERS[address]}\r\n".encode())
            elif verb == "QUIT":
                conn.sendall(b"221 2.0.0 Bye\r\n")
                break
            else:
                conn.sendall(b"500 5.5.2 unknown\r\n")
        conn.close()
        self.listener.close()


@pytest.mark.parametrize("family", ["tcp", "unix"])
def test_lmtp_lists_refusals_at_rcpt_and_after_the_data(family, driver):
    server = LMTPServer(family)
    run = smtp_send("--lmtp", "--driver", driver, "--tls", "off", server.address, "a@example.org",
                    "good@example.net", "nobody@example.net", "full@example.net")
    assert run.status == 3, run
    assert run.lines == [
        "Message sent to 1 of 3 recipient(s)",
        "  refused nobody@example.net: 550 5.1.1 <nobody@example.net> User doesn't exist: nobody@example.net",
        "  refused full@example.net: 552 5.2.2 <full@example.net> Quota exceeded (mailbox for user is full)",
    ], run
    server.thread.join(10)
    assert server.commands[0].startswith("LHLO "), server.commands
    assert not any(c.upper().startswith(("EHLO", "HELO")) for c in server.commands), server.commands
    assert b"Subject: Test message from smtp-send" in server.data


def test_a_unix_socket_needs_lmtp():
    run = smtp_send("unix:/tmp/x", "a@example.org", "b@example.net")
    assert run.status == 2 and "needs --lmtp" in run.stderr, run
