"""A scripted SMTP server for end-to-end and hostile-server tests.

A script is a list of steps. Each step either sends exact bytes (whole lines, partial lines,
bare CR or LF, several replies in one write, or dripped slowly), expects a client command,
reads message data exactly as sent, starts TLS on the socket, stays silent, or closes.
Everything the client sends is recorded with whether it came before or after TLS, so a test
can assert what was (and was not) sent.

    server = ScriptedServer([send("220 hi\r\n"), expect("EHLO"), send("250 ok\r\n"), ...])
    port = server.port
    ... run the client ...
    record = server.finish()          # waits (bounded) for the script to end
    record.commands, record.plain, record.tls, record.errors
"""

import re
import socket
import ssl
import threading
import time
from dataclasses import dataclass, field


# Steps -------------------------------------------------------------------------------------------

def send(data):
    """Send these bytes (str is encoded as UTF-8, so "\r\n" must be written explicitly)."""
    return ("send", data.encode() if isinstance(data, str) else data)


def drip(data, delay=0.05):
    """Send one byte at a time, `delay` seconds apart."""
    return ("drip", data.encode() if isinstance(data, str) else data, delay)


def expect(pattern):
    """Read one command line (CRLF-terminated) and require it to match `pattern` (a regex,
    matched at the start, case-insensitive)."""
    return ("expect", pattern)


def read_data():
    """Read DATA content up to and including CRLF.CRLF, exactly as sent."""
    return ("read_data",)


def read_bytes(count):
    """Read exactly `count` bytes (a BDAT chunk)."""
    return ("read_bytes", count)


def starttls():
    """Wrap the connection in TLS (server side) with the script's certificate."""
    return ("starttls",)


def silence(seconds=None):
    """Send nothing; keep reading (recording) until the client closes or `seconds` pass."""
    return ("silence", seconds)


def close():
    """Close the connection."""
    return ("close",)


def pause(seconds):
    """Wait without reading."""
    return ("pause", seconds)


@dataclass
class Record:
    plain: bytearray = field(default_factory=bytearray)
    tls: bytearray = field(default_factory=bytearray)
    commands: list = field(default_factory=list)
    data: list = field(default_factory=list)
    errors: list = field(default_factory=list)
    client_closed: bool = False
    finished: bool = False

    @property
    def all(self):
        return bytes(self.plain) + bytes(self.tls)

    def sent(self, prefix):
        """Whether the client sent a command starting with `prefix` (case-insensitive)."""
        return any(c.upper().startswith(prefix.upper()) for c in self.commands)


class ScriptedServer:
    def __init__(self, steps, cert=None, key=None, timeout=30):
        self.steps = list(steps)
        self.cert, self.key = cert, key
        self.timeout = timeout
        self.record = Record()
        self.listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(4)
        self.port = self.listener.getsockname()[1]
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    # The connection, with a buffer of unconsumed bytes.
    def _recv(self):
        try:
            chunk = self.conn.recv(65536)
        except socket.timeout:
            raise
        except (ssl.SSLError, OSError) as error:
            self.record.errors.append(f"recv: {error}")
            chunk = b""
        if not chunk:
            self.record.client_closed = True
            return False
        (self.record.tls if self.in_tls else self.record.plain).extend(chunk)
        self.buffer.extend(chunk)
        return True

    def _line(self):
        while b"\r\n" not in self.buffer:
            if not self._recv():
                return None
        end = self.buffer.index(b"\r\n")
        line = bytes(self.buffer[:end])
        del self.buffer[:end + 2]
        return line

    def _serve(self):
        self.listener.settimeout(self.timeout)
        try:
            self.conn, _ = self.listener.accept()
        except OSError as error:
            self.record.errors.append(f"accept: {error}")
            self.record.finished = True
            return
        self.conn.settimeout(self.timeout)
        self.buffer = bytearray()
        self.in_tls = False
        try:
            for step in self.steps:
                if not self._run(step):
                    break
        except Exception as error:  # recorded, never raised into the test thread
            self.record.errors.append(f"{type(error).__name__}: {error}")
        finally:
            try:
                self.conn.close()
            except OSError:
                pass
            self.listener.close()
            self.record.finished = True

    def _run(self, step):
        kind = step[0]
        if kind == "send":
            self.conn.sendall(step[1])
        elif kind == "drip":
            for byte in step[1]:
                self.conn.sendall(bytes([byte]))
                time.sleep(step[2])
        elif kind == "expect":
            line = self._line()
            if line is None:
                self.record.errors.append(f"client closed while expecting {step[1]!r}")
                return False
            text = line.decode("utf-8", "replace")
            self.record.commands.append(text)
            if not re.match(step[1], text, re.IGNORECASE):
                self.record.errors.append(f"expected {step[1]!r}, got {text!r}")
                return False
        elif kind == "read_data":
            while b"\r\n.\r\n" not in self.buffer:
                if not self._recv():
                    self.record.errors.append("client closed during DATA")
                    return False
            end = self.buffer.index(b"\r\n.\r\n") + 5
            self.record.data.append(bytes(self.buffer[:end]))
            del self.buffer[:end]
        elif kind == "read_bytes":
            while len(self.buffer) < step[1]:
                if not self._recv():
                    self.record.errors.append("client closed during BDAT")
                    return False
            self.record.data.append(bytes(self.buffer[:step[1]]))
            del self.buffer[:step[1]]
        elif kind == "starttls":
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(self.cert, self.key)
            self.conn = context.wrap_socket(self.conn, server_side=True)
            self.in_tls = True
        elif kind == "silence":
            deadline = None if step[1] is None else time.time() + step[1]
            while deadline is None or time.time() < deadline:
                if deadline is not None:
                    self.conn.settimeout(max(0.01, deadline - time.time()))
                try:
                    if not self._recv():
                        return False
                except socket.timeout:
                    break
            self.conn.settimeout(self.timeout)
        elif kind == "pause":
            time.sleep(step[1])
        elif kind == "close":
            return False
        return True

    def finish(self, timeout=30):
        """Waits for the script to end (bounded) and returns the record."""
        self.thread.join(timeout)
        if self.thread.is_alive():
            self.record.errors.append("script did not finish in time")
        return self.record
