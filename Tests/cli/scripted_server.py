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

Hostile-server additions (all optional; the steps above behave as before): `send_close` (bytes,
then an immediate close), `reset` (close with a TCP RST), `flood` (the same bytes over and over
until the client goes away), `raw_send` (bytes on the TCP socket itself, bypassing TLS once it is
up: the TLS-then-plaintext trick) and `handler` (a Python function that drives the connection
through `line`, `send`, `data`, `take`). The record also keeps when each client chunk arrived
(`chunks`), how much the client had sent when each server write went out (`sends`, so a test can
tell what came after a given reply), whether anything connected at all (`connected`), and when
the client closed (`closed_at`). `stop()` ends a server that nothing connected to.
"""

import os
import re
import socket
import ssl
import struct
import threading
import time
import warnings
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
    """Read DATA content up to and including CRLF.CRLF (or a lone ".CRLF" for empty content),
    exactly as sent."""
    return ("read_data",)


def read_bytes(count):
    """Read exactly `count` bytes (a BDAT chunk)."""
    return ("read_bytes", count)


def starttls(maximum_version=None):
    """Wrap the connection in TLS (server side) with the script's certificate; optionally offer
    nothing newer than `maximum_version` (an ssl.TLSVersion, e.g. TLSv1_1 for a downgrade test)."""
    return ("starttls", maximum_version) if maximum_version else ("starttls",)


def silence(seconds=None):
    """Send nothing; keep reading (recording) until the client closes or `seconds` pass."""
    return ("silence", seconds)


def close():
    """Close the connection."""
    return ("close",)


def pause(seconds):
    """Wait without reading."""
    return ("pause", seconds)


def send_close(data):
    """Send these bytes and close the connection at once (a reply cut off, or a last word)."""
    return ("send_close", data.encode() if isinstance(data, str) else data)


def reset():
    """Close the connection with a TCP RST (SO_LINGER 0) instead of a FIN."""
    return ("reset",)


def flood(data, count=100000, delay=0):
    """Send `data` up to `count` times (`delay` seconds apart), stopping quietly when the client
    goes away (endless replies). The number of copies written is recorded in `Record.flooded`."""
    return ("flood", data.encode() if isinstance(data, str) else data, count, delay)


def raw_send(data):
    """Send bytes on the TCP socket itself, even after `starttls()` (plaintext inside a TLS
    session: the client must never read them as replies)."""
    return ("raw_send", data.encode() if isinstance(data, str) else data)


def handler(function):
    """Run `function(server)`; it drives the connection with `server.line()`, `server.send()`,
    `server.data()` and `server.take(n)`, and returns False to end the script."""
    return ("handler", function)


@dataclass
class Record:
    plain: bytearray = field(default_factory=bytearray)
    tls: bytearray = field(default_factory=bytearray)
    commands: list = field(default_factory=list)
    data: list = field(default_factory=list)
    errors: list = field(default_factory=list)
    client_closed: bool = False
    finished: bool = False
    connected: bool = False
    connected_at: float = None
    closed_at: float = None
    # (monotonic time, in TLS, bytes) for every chunk the client sent.
    chunks: list = field(default_factory=list)
    # (monotonic time, bytes sent, client bytes received so far) for every server write.
    sends: list = field(default_factory=list)
    flooded: int = 0

    @property
    def all(self):
        return bytes(self.plain) + bytes(self.tls)

    def received_after(self, offset):
        """The client's bytes from `offset` (a count from `sends`) on, plaintext and TLS together."""
        return self.all[offset:]

    def sent(self, prefix):
        """Whether the client sent a command starting with `prefix` (case-insensitive)."""
        return any(c.upper().startswith(prefix.upper()) for c in self.commands)


class ScriptedServer:
    def __init__(self, steps, cert=None, key=None, timeout=30, accept_timeout=None):
        self.steps = list(steps)
        self.cert, self.key = cert, key
        self.timeout = timeout
        self.accept_timeout = timeout if accept_timeout is None else accept_timeout
        self.raw = None
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
            if self.record.closed_at is None:
                self.record.closed_at = time.monotonic()
            return False
        self.record.chunks.append((time.monotonic(), self.in_tls, bytes(chunk)))
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
        self.listener.settimeout(self.accept_timeout)
        try:
            self.conn, _ = self.listener.accept()
        except OSError as error:
            self.record.errors.append(f"accept: {error}")
            self.record.finished = True
            self.listener.close()
            return
        self.record.connected = True
        self.record.connected_at = time.monotonic()
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
            for connection in (self.conn, self.raw):
                try:
                    if connection is not None:
                        connection.close()
                except OSError:
                    pass
            self.listener.close()
            self.record.finished = True

    def _run(self, step):
        kind = step[0]
        if kind == "send":
            self.send(step[1])
        elif kind == "drip":
            self._mark(step[1])
            for byte in step[1]:
                self.conn.sendall(bytes([byte]))
                time.sleep(step[2])
        elif kind == "send_close":
            self.send(step[1])
            try:
                self.conn.shutdown(socket.SHUT_WR)
            except OSError:
                pass
            return False
        elif kind == "reset":
            self.conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            return False
        elif kind == "flood":
            self._mark(step[1])
            try:
                for _ in range(step[2]):
                    self.conn.sendall(step[1])
                    self.record.flooded += 1
                    if step[3]:
                        time.sleep(step[3])
            except (OSError, ssl.SSLError):
                self.record.client_closed = True
                if self.record.closed_at is None:
                    self.record.closed_at = time.monotonic()
                return False
        elif kind == "raw_send":
            self._mark(step[1])
            (self.raw or self.conn).sendall(step[1])
        elif kind == "handler":
            return step[1](self) is not False
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
            # Empty content ends with the dot line right away.
            while b"\r\n.\r\n" not in self.buffer and not self.buffer.startswith(b".\r\n"):
                if not self._recv():
                    self.record.errors.append("client closed during DATA")
                    return False
            end = 3 if self.buffer.startswith(b".\r\n") else self.buffer.index(b"\r\n.\r\n") + 5
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
            if len(step) > 1:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", DeprecationWarning)
                    context.minimum_version = ssl.TLSVersion.MINIMUM_SUPPORTED
                    context.maximum_version = step[1]
                context.set_ciphers("DEFAULT:@SECLEVEL=0")
            self.raw = socket.socket(fileno=os.dup(self.conn.fileno()))
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

    # For `handler` functions (and the steps above) ----------------------------------------------

    def _mark(self, data):
        self.record.sends.append((time.monotonic(), bytes(data), len(self.record.plain) + len(self.record.tls)))

    def send(self, data):
        """Writes bytes (str is encoded as UTF-8), recording how much the client had sent."""
        data = data.encode() if isinstance(data, str) else data
        self._mark(data)
        self.conn.sendall(data)

    def line(self):
        """The next command line as text (recorded in `commands`), or None when the client closed."""
        line = self._line()
        if line is None:
            return None
        text = line.decode("utf-8", "replace")
        self.record.commands.append(text)
        return text

    def data(self):
        """DATA content up to and including CRLF.CRLF (recorded in `data`), or None."""
        return self._run(read_data()) and self.record.data[-1] or None

    def take(self, count):
        """Exactly `count` bytes (a BDAT chunk, recorded in `data`), or None."""
        return self._run(read_bytes(count)) and self.record.data[-1] or None

    def stop(self):
        """Stops waiting for a connection (for tests that expect none) and returns the record."""
        try:
            self.listener.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.listener.close()
        return self.finish(5)

    def finish(self, timeout=30):
        """Waits for the script to end (bounded) and returns the record."""
        self.thread.join(timeout)
        if self.thread.is_alive():
            self.record.errors.append("script did not finish in time")
        return self.record
