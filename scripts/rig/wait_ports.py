#!/usr/bin/env python3
"""Waits until each SMTP server of the rig answers with a 220 greeting.

Usage: wait_ports.py [--timeout SECONDS] [--ca-file CA] NAME=PORT[/tls][@PID] | NAME=unix:PATH[@PID] ...

Polls 127.0.0.1:PORT in a bounded loop (one shared deadline, default 20 s). A port passes once a
connection is accepted and a complete 220 greeting arrives; then QUIT is sent. "/tls" means
implicit TLS: the handshake comes first and the certificate is verified against --ca-file for
the name "localhost". "unix:PATH" is a Unix stream socket (Dovecot's LMTP socket) instead of a
port. "@PID" names the server's process: once it has exited (or is a zombie)
the wait for that port ends at once instead of at the deadline. A listener that accepts but does not greet (a Postfix smtpd that dies at
start, a wrong certificate) keeps failing until the deadline, and its last error is reported.
Exit status 0 when every port is ready, 1 otherwise (one line per failing port on stderr).
"""

import argparse
import socket
import ssl
import sys
import time


def connect(port, timeout):
    if isinstance(port, str):
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(timeout)
        try:
            sock.connect(port)
        except OSError:
            sock.close()
            raise
        return sock
    return socket.create_connection(("127.0.0.1", port), timeout=timeout)


def greeting(port, tls_context, timeout):
    sock = connect(port, timeout)
    try:
        if tls_context is not None:
            sock = tls_context.wrap_socket(sock, server_hostname="localhost")
        data = b""
        while True:
            chunk = sock.recv(4096)
            if not chunk:
                raise ConnectionError("closed before a complete greeting (got %r)" % data[:200])
            data += chunk
            lines = data.split(b"\r\n")
            for line in lines[:-1]:
                if len(line) >= 4 and line[3:4] == b" ":
                    if not line.startswith(b"220"):
                        raise ConnectionError("greeting is not 220: %r" % line[:200])
                    try:
                        sock.sendall(b"QUIT\r\n")
                        sock.recv(4096)
                    except OSError:
                        pass
                    return line.decode("ascii", "replace")
    finally:
        sock.close()


def exited(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--timeout", type=float, default=20.0)
    p.add_argument("--ca-file")
    p.add_argument("ports", nargs="+", metavar="NAME=PORT[/tls][@PID]")
    args = p.parse_args()

    pending = {}
    for spec in args.ports:
        name, _, rest = spec.partition("=")
        rest, _, pid = rest.partition("@")
        ctx = None
        if rest.startswith("unix:"):
            port = rest[len("unix:"):]
        else:
            port, _, mode = rest.partition("/")
            port = int(port)
            if mode == "tls":
                ctx = ssl.create_default_context(cafile=args.ca_file)
        pending[name] = (port, ctx, int(pid) if pid else None)

    deadline = time.monotonic() + args.timeout
    errors = {}
    failed = {}
    while pending:
        for name, (port, ctx, pid) in list(pending.items()):
            if pid is not None and exited(pid):
                failed[name] = "process %d exited" % pid
                del pending[name]
                continue
            remaining = deadline - time.monotonic()
            try:
                greeting(port, ctx, max(0.5, min(3.0, remaining)))
                del pending[name]
            except (OSError, ssl.SSLError) as e:
                errors[name] = "%s: %s" % (type(e).__name__, e)
        if not pending or time.monotonic() >= deadline:
            break
        time.sleep(0.05)

    for name, reason in failed.items():
        print("rig: %s: %s" % (name, reason), file=sys.stderr)
    for name, (port, _, _) in pending.items():
        where = port if isinstance(port, str) else "127.0.0.1:%d" % port
        print("rig: %s (%s) not ready after %.0f s: %s"
              % (name, where, args.timeout, errors.get(name, "no answer")), file=sys.stderr)
    return 1 if pending or failed else 0


if __name__ == "__main__":
    sys.exit(main())
