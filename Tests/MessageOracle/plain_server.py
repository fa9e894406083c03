#!/usr/bin/env python3
"""A one-message SMTP server that does not offer 8BITMIME (nor STARTTLS, nor PIPELINING).

Usage: plain_server.py OUT_PREFIX
Listens on 127.0.0.1 on a free port and prints the port on its first line of output. Serves
one session: the message (dot-unstuffed, ending with the CRLF before the final dot) goes to
OUT_PREFIX.eml and the MAIL FROM command line to OUT_PREFIX.mail; exits after QUIT, or after
30 seconds without a connection.
"""
import socket
import sys


def main():
    prefix = sys.argv[1]
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    listener.settimeout(30)
    print(listener.getsockname()[1], flush=True)
    connection, _ = listener.accept()
    connection.settimeout(30)
    reader = connection.makefile("rb")

    def reply(text):
        connection.sendall(text.encode() + b"\r\n")

    reply("220 plain.test ESMTP")
    while True:
        line = reader.readline()
        if not line:
            return
        verb = line[:4].upper()
        if verb == b"EHLO":
            reply("250-plain.test\r\n250 SIZE 200000000")
        elif verb == b"MAIL":
            with open(prefix + ".mail", "wb") as handle:
                handle.write(line.rstrip(b"\r\n"))
            reply("250 ok")
        elif verb == b"RCPT":
            reply("250 ok")
        elif verb == b"DATA":
            reply("354 go ahead")
            body = bytearray()
            while True:
                data_line = reader.readline()
                if data_line == b".\r\n" or not data_line:
                    break
                body += data_line[1:] if data_line.startswith(b".") else data_line
            with open(prefix + ".eml", "wb") as handle:
                handle.write(body)
            reply("250 stored")
        elif verb == b"QUIT":
            reply("221 bye")
            return
        else:
            reply("250 ok" if verb in (b"RSET", b"NOOP") else "502 not here")


if __name__ == "__main__":
    main()
