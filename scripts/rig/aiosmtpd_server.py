#!/usr/bin/env python3
"""aiosmtpd peer for the rig: STARTTLS and AUTH required, every message saved byte for byte.

Usage:
  aiosmtpd_server.py --port P --cert CRT --key KEY --spool DIR --user U --password PW
                     [--pid-file FILE] [--hostname NAME]

Behaviour
- Listens on 127.0.0.1:P. Offers STARTTLS and requires it (require_starttls=True): before TLS
  every command but EHLO/HELO/NOOP/RSET/QUIT/STARTTLS gets "530 Must issue a STARTTLS command first".
- AUTH PLAIN and LOGIN, offered only after TLS (auth_require_tls=True, the default), and required
  before MAIL (auth_required=True). One account: --user / --password.
- decode_data=False and enable_SMTPUTF8=True: MAIL FROM accepts BODY=7BIT, BODY=8BITMIME and
  SMTPUTF8; the body is never decoded. data_size_limit is 200 MiB. No PIPELINING, no CHUNKING
  (aiosmtpd offers neither).
- Every accepted message becomes, before the 250 reply is sent:
    DIR/NNNNNN.eml   envelope.original_content: the message bytes exactly as received after the
                     server removed the SMTP transparency (one leading dot per line) and the
                     terminating "." line. It ends with the CRLF that preceded the final dot.
                     original_content is used rather than content because it is always the raw
                     bytes whatever decode_data says; with decode_data=False the two are the
                     same object, so nothing is lost either way.
    DIR/NNNNNN.json  {"mail_from", "rcpt_tos", "mail_options", "rcpt_options", "smtp_utf8",
                     "size", "sha256", "peer", "tls", "login", "helo", "received_at"}.
                     mail_options are the MAIL FROM parameters as aiosmtpd keeps them:
                     UPPER-CASED (aiosmtpd upper-cases the whole parameter string).
  The .eml is written first and the .json is renamed into place last, so a .json that exists
  means the message is complete. NNNNNN counts up from 1 (after the highest number already in
  DIR).
- SIGTERM or SIGINT stops the server cleanly.
"""

import argparse
import asyncio
import datetime
import hashlib
import json
import logging
import os
import re
import signal
import ssl
import sys

from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword

DATA_SIZE_LIMIT = 200 * 1024 * 1024


class SpoolHandler:
    def __init__(self, spool):
        self.spool = spool
        os.makedirs(spool, exist_ok=True)
        numbers = [int(m.group(1)) for m in
                   (re.fullmatch(r"(\d{6})\.(?:eml|json)", n) for n in os.listdir(spool)) if m]
        self.next_number = max(numbers, default=0) + 1

    async def handle_DATA(self, server, session, envelope):
        number = self.next_number
        self.next_number += 1
        stem = os.path.join(self.spool, "%06d" % number)
        body = envelope.original_content
        self._write(stem + ".eml", body)
        login = None
        if isinstance(session.auth_data, LoginPassword):
            login = session.auth_data.login.decode("utf-8", "replace")
        meta = {
            "mail_from": envelope.mail_from,
            "rcpt_tos": list(envelope.rcpt_tos),
            "mail_options": list(envelope.mail_options),
            "rcpt_options": list(envelope.rcpt_options),
            "smtp_utf8": bool(envelope.smtp_utf8),
            "size": len(body),
            "sha256": hashlib.sha256(body).hexdigest(),
            "peer": list(session.peer) if session.peer else None,
            "tls": session.ssl is not None,
            "login": login,
            "helo": session.host_name,
            "received_at": datetime.datetime.now(datetime.timezone.utc).isoformat(),
        }
        self._write(stem + ".json", json.dumps(meta, indent=2, ensure_ascii=False).encode("utf-8") + b"\n")
        return "250 2.0.0 OK saved as %06d" % number

    @staticmethod
    def _write(path, data):
        tmp = path + ".tmp"
        with open(tmp, "wb") as f:
            f.write(data)
        os.replace(tmp, path)


def make_authenticator(user, password):
    user_b, password_b = user.encode("utf-8"), password.encode("utf-8")

    def authenticator(server, session, envelope, mechanism, auth_data):
        ok = (isinstance(auth_data, LoginPassword)
              and auth_data.login == user_b and auth_data.password == password_b)
        # handled=False lets aiosmtpd send the 235 / 535 replies itself.
        return AuthResult(success=ok, handled=False, auth_data=auth_data)

    return authenticator


async def serve(args):
    tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    tls.load_cert_chain(args.cert, args.key)
    handler = SpoolHandler(args.spool)
    authenticator = make_authenticator(args.user, args.password)

    def factory():
        return SMTP(
            handler,
            hostname=args.hostname,
            tls_context=tls,
            require_starttls=True,
            auth_required=True,
            auth_require_tls=True,
            authenticator=authenticator,
            decode_data=False,
            enable_SMTPUTF8=True,
            data_size_limit=DATA_SIZE_LIMIT,
        )

    loop = asyncio.get_running_loop()
    server = await loop.create_server(factory, host="127.0.0.1", port=args.port, backlog=256)
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    if args.pid_file:
        with open(args.pid_file + ".tmp", "w") as f:
            f.write("%d\n" % os.getpid())
        os.replace(args.pid_file + ".tmp", args.pid_file)
    logging.info("listening on 127.0.0.1:%d, spool %s", args.port, args.spool)
    await stop.wait()
    logging.info("stopping")
    server.close()
    await server.wait_closed()


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--cert", required=True)
    p.add_argument("--key", required=True)
    p.add_argument("--spool", required=True)
    p.add_argument("--user", required=True)
    p.add_argument("--password", required=True)
    p.add_argument("--pid-file")
    p.add_argument("--hostname", default="aiosmtpd.test.local")
    args = p.parse_args()
    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(name)s %(levelname)s %(message)s")
    asyncio.run(serve(args))


if __name__ == "__main__":
    main()
