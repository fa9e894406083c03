"""A small multi-connection SMTP server with a per-connection message limit, the way real
servers have one: OpenSMTPD's `max-mails` answers MAIL with "452 4.5.3 Too many messages" and
keeps the session; Exim's `smtp_accept_max_per_connection` answers "421" and closes. It stores
every message it accepts (with its Message-ID), so a test can count deliveries exactly."""

import re
import socket
import threading


class LimitServer:
    def __init__(self, per_connection, style="452", silent_connections=0):
        """`silent_connections`: the first N connections are accepted and never greeted (as
        when a listen backlog overflows: the client sees a connection that never speaks)."""
        assert style in ("452", "421")
        self.per_connection = per_connection
        self.style = style
        self.silent_connections = silent_connections
        self.held = []
        self.messages = []          # (connection number, bytes) per accepted message
        self.connections = 0
        self.lock = threading.Lock()
        self.listener = socket.socket()
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(64)
        self.port = self.listener.getsockname()[1]
        self.running = True
        threading.Thread(target=self._accept, daemon=True).start()

    def message_ids(self):
        ids = []
        for _, data in self.messages:
            match = re.search(rb"^Message-ID:\s*(<[^>\r\n]+>)", data, re.M | re.I)
            ids.append(match.group(1).decode() if match else None)
        return ids

    def stop(self):
        self.running = False
        self.listener.close()

    def _accept(self):
        while self.running:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            with self.lock:
                self.connections += 1
                number = self.connections
            if number <= self.silent_connections:
                self.held.append(conn)
                continue
            threading.Thread(target=self._serve, args=(conn, number), daemon=True).start()

    def _serve(self, conn, number):
        conn.settimeout(30)
        reader = conn.makefile("rb")
        accepted_here = 0
        try:
            conn.sendall(b"220 limit.test ESMTP\r\n")
            in_mail = False
            while True:
                line = reader.readline()
                if not line:
                    return
                command = line.strip().upper()
                if command.startswith(b"EHLO"):
                    conn.sendall(b"250-limit.test\r\n250-PIPELINING\r\n250 ENHANCEDSTATUSCODES\r\n")
                elif command.startswith(b"MAIL FROM:"):
                    if accepted_here >= self.per_connection:
                        if self.style == "421":
                            conn.sendall(b"421 4.7.0 limit.test too many messages for this connection\r\n")
                            return
                        conn.sendall(b"452 4.5.3 Too many messages sent\r\n")
                        continue
                    in_mail = True
                    conn.sendall(b"250 2.0.0 ok\r\n")
                elif command.startswith(b"RCPT TO:"):
                    conn.sendall(b"250 2.1.5 ok\r\n" if in_mail else b"503 5.5.1 need MAIL\r\n")
                elif command == b"DATA":
                    if not in_mail:
                        conn.sendall(b"503 5.5.1 need MAIL\r\n")
                        continue
                    conn.sendall(b"354 go\r\n")
                    data = bytearray()
                    while True:
                        body_line = reader.readline()
                        if not body_line or body_line == b".\r\n":
                            break
                        data += body_line[1:] if body_line.startswith(b"..") else body_line
                    accepted_here += 1
                    in_mail = False
                    with self.lock:
                        self.messages.append((number, bytes(data)))
                    conn.sendall(b"250 2.0.0 queued\r\n")
                elif command == b"RSET":
                    in_mail = False
                    conn.sendall(b"250 2.0.0 ok\r\n")
                elif command == b"QUIT":
                    conn.sendall(b"221 2.0.0 bye\r\n")
                    return
                else:
                    conn.sendall(b"500 5.5.2 what\r\n")
        except OSError:
            return
        finally:
            try:
                conn.close()
            except OSError:
                pass
