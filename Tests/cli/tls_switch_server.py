"""An SMTP server with STARTTLS whose TLS context changes from connection to connection, to test
the client's TLS session resumption.

    server = TLSSwitchServer([context_a, context_a, context_b])
    ... run the client (load mode, one message per session) ...
    records = server.finish()

Connection k is served with `contexts[k]` (the last one for every connection after that). A
context is an ssl.SSLContext: the same object twice means the same certificate and the same
session-ticket keys (so the second connection may resume the first one's session); a new object
has new ticket keys, so no session made before it is resumed. Each record says whether the
handshake succeeded, whether it resumed a session (`session_reused`), which certificate was
served, and every command the client sent.
"""

import socket
import ssl
import threading
from dataclasses import dataclass, field


def server_context(cert, key, maximum_version=None):
    """A server context (new ticket keys each time); `maximum_version` e.g. ssl.TLSVersion.TLSv1_2."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    if maximum_version:
        context.maximum_version = maximum_version
    return context


@dataclass
class Record:
    cert: str
    handshake: str = "none"  # "none", "ok" or "failed: <why>"
    session_reused: bool = False
    version: str = ""
    commands: list = field(default_factory=list)


class TLSSwitchServer:
    def __init__(self, contexts, names=None):
        """`names[k]` labels contexts[k] in the records (default: its index)."""
        self.contexts = contexts
        self.names = names or [str(i) for i in range(len(contexts))]
        self.records = []
        self.lock = threading.Lock()
        self.listener = socket.socket()
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(16)
        self.port = self.listener.getsockname()[1]
        self.stopping = False
        self.threads = []
        self.acceptor = threading.Thread(target=self.accept_loop, daemon=True)
        self.acceptor.start()

    def accept_loop(self):
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            if self.stopping:
                conn.close()
                return
            with self.lock:
                index = min(len(self.records), len(self.contexts) - 1)
                record = Record(cert=self.names[index])
                self.records.append(record)
            # One connection at a time (the tests run one session at a time): each is served to
            # its end before the next is accepted, so the records are in connection order.
            self.serve(conn, self.contexts[index], record)

    def serve(self, conn, context, record):
        conn.settimeout(20)
        try:
            reader = conn.makefile("rb")
            conn.sendall(b"220 switch.test ESMTP\r\n")
            tls = None
            while True:
                line = reader.readline()
                if not line:
                    return
                command = line.rstrip(b"\r\n").decode("latin-1")
                record.commands.append(command)
                verb = command.split(" ", 1)[0].upper()
                out = tls or conn
                if verb in ("EHLO", "HELO"):
                    extensions = [] if tls else ["STARTTLS"]
                    lines = ["switch.test"] + extensions
                    text = "".join(f"250-{x}\r\n" for x in lines[:-1]) + f"250 {lines[-1]}\r\n"
                    out.sendall(text.encode())
                elif verb == "STARTTLS" and tls is None:
                    conn.sendall(b"220 go ahead\r\n")
                    try:
                        tls = context.wrap_socket(conn, server_side=True)
                    except (ssl.SSLError, OSError) as error:
                        record.handshake = f"failed: {error}"
                        return
                    record.handshake = "ok"
                    record.session_reused = tls.session_reused
                    record.version = tls.version()
                    reader = tls.makefile("rb")
                elif verb == "DATA":
                    out.sendall(b"354 go\r\n")
                    while True:
                        data = reader.readline()
                        if not data or data == b".\r\n":
                            break
                    out.sendall(b"250 2.0.0 queued\r\n")
                elif verb == "QUIT":
                    out.sendall(b"221 bye\r\n")
                    return
                else:
                    out.sendall(b"250 ok\r\n")
        except (OSError, ssl.SSLError):
            return
        finally:
            conn.close()

    def finish(self):
        """Stops accepting and returns the records (in connection order)."""
        self.stopping = True
        try:
            # Wake the acceptor (it is blocked in accept) so it sees `stopping`.
            socket.create_connection(("127.0.0.1", self.port), timeout=2).close()
        except OSError:
            pass
        self.acceptor.join(10)
        self.listener.close()
        with self.lock:
            return [r for r in self.records if r.commands or r.handshake != "none"]
