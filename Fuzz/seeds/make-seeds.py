#!/usr/bin/env python3
"""Writes the seed inputs of every fuzz target into Fuzz/seeds/<target>/.

Seeds are encoded in each harness's input layout (see the doc comments in
Sources/SMTPFuzzing). They come from two places: the engine's transcript tests
(Tests/SMTPCoreTests), and replies in the shape real servers send them (Postfix,
Exim, a Gmail-style multi-line EHLO with AUTH variants, Microsoft-style
BINARYMIME/CHUNKING, enhanced status codes, multi-line refusals).

    python3 Fuzz/seeds/make-seeds.py      # then: Fuzz/merge.sh TARGET

The kept corpus in Fuzz/corpus/ is these seeds plus what fuzzing found, minimized.
"""
import os
import shutil

HERE = os.path.dirname(os.path.abspath(__file__))


def crlf(*lines):
    return "".join(line + "\r\n" for line in lines).encode("latin-1")


def multiline(code, lines):
    out = []
    for index, text in enumerate(lines):
        sep = " " if index == len(lines) - 1 else "-"
        out.append(f"{code}{sep}{text}")
    return crlf(*out)


# Replies in the shape real servers send them.
POSTFIX_GREETING = crlf("220 mx.example.com ESMTP Postfix (Debian/GNU)")
POSTFIX_EHLO = multiline(250, ["mx.example.com", "PIPELINING", "SIZE 10240000", "VRFY", "ETRN", "STARTTLS",
                               "ENHANCEDSTATUSCODES", "8BITMIME", "DSN", "SMTPUTF8", "CHUNKING"])
POSTFIX_EHLO_TLS = multiline(250, ["mx.example.com", "PIPELINING", "SIZE 10240000", "VRFY", "ETRN",
                                   "AUTH PLAIN LOGIN", "AUTH=PLAIN LOGIN", "ENHANCEDSTATUSCODES", "8BITMIME", "DSN",
                                   "SMTPUTF8", "CHUNKING"])
EXIM_GREETING = crlf("220 mail.example.org ESMTP Exim 4.96 Mon, 01 Jan 2024 10:00:00 +0000")
EXIM_EHLO = multiline(250, ["mail.example.org Hello client.example [192.0.2.10]", "SIZE 52428800", "8BITMIME",
                            "PIPELINING", "PIPECONNECT", "CHUNKING", "STARTTLS", "PRDR", "HELP"])
EXIM_EHLO_TLS = multiline(250, ["mail.example.org Hello client.example [192.0.2.10]", "SIZE 52428800", "8BITMIME",
                                "PIPELINING", "AUTH PLAIN LOGIN CRAM-MD5", "CHUNKING", "PRDR", "HELP"])
GMAIL_GREETING = crlf("220 smtp.gmail.example ESMTP a1sm2345678wrb.12 - gsmtp")
GMAIL_EHLO = multiline(250, ["smtp.gmail.example at your service, [203.0.113.5]", "SIZE 35882577", "8BITMIME",
                             "STARTTLS", "ENHANCEDSTATUSCODES", "PIPELINING", "CHUNKING", "SMTPUTF8"])
GMAIL_EHLO_TLS = multiline(250, ["smtp.gmail.example at your service, [203.0.113.5]", "SIZE 35882577", "8BITMIME",
                                 "AUTH LOGIN PLAIN XOAUTH2 PLAIN-CLIENTTOKEN OAUTHBEARER XOAUTH",
                                 "ENHANCEDSTATUSCODES", "PIPELINING", "CHUNKING", "SMTPUTF8"])
OUTLOOK_EHLO = multiline(250, ["AM0PR01CA0001.outlook.example Hello [198.51.100.7]", "SIZE 157286400", "PIPELINING",
                               "DSN", "ENHANCEDSTATUSCODES", "AUTH LOGIN XOAUTH2", "8BITMIME", "BINARYMIME",
                               "CHUNKING", "SMTPUTF8"])
GMAIL_SPAM = multiline(550, ["5.7.1 [203.0.113.5] Our system has detected that this message is likely",
                             "5.7.1 unsolicited mail. To reduce the amount of spam sent to Gmail, this",
                             "5.7.1 message has been blocked. For more information, go to",
                             "5.7.1  https://support.google.example/mail/?p=UnsolicitedMessageError a1si - gsmtp"])
SINGLE_REPLIES = [
    "250 2.1.0 Ok", "250 2.1.5 Ok", "354 End data with <CR><LF>.<CR><LF>", "250 2.0.0 Ok: queued as 4XyZ12Ab",
    "550 5.1.1 <nobody@example.net>: Recipient address rejected: User unknown in local recipient table",
    "452 4.5.3 Error: too many recipients", "421 4.7.0 mx.example.com Error: too many errors",
    "554 5.7.1 Service unavailable; Client host [192.0.2.10] blocked using zen.example", "334 VXNlcm5hbWU6",
    "334 UGFzc3dvcmQ6", "235 2.7.0 Authentication successful", "535 5.7.8 Error: authentication failed",
    "221 2.0.0 Bye", "220 2.0.0 Ready to start TLS", "250 OK id=1r2s3t-000ABC-1X", "354 Enter message, ending with \".\"",
    "250 2.0.0 OK  1700000000 a1si123wrb.12 - gsmtp", "502 5.5.2 Error: command not recognized",
    "503 5.5.1 Error: need RCPT command", "552 5.3.4 Message size exceeds fixed limit", "250 ", "250",
    "334 ", "451 4.3.0 Temporary lookup failure", "251 2.1.5 User not local; will forward",
]


def write(target, name, data):
    folder = os.path.join(HERE, target)
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, name), "wb") as f:
        f.write(bytes(data))


# ---------------------------------------------------------------- reply-parser
# flags, line limit, lines limit, size limit, n, n piece lengths, payload

def reply_seed(payload, flags=0x01, limits=(0, 0, 0), plan=()):
    return bytes([flags, *limits, len(plan), *plan]) + payload


def reply_parser_seeds():
    servers = {
        "postfix": POSTFIX_GREETING + POSTFIX_EHLO + crlf("220 2.0.0 Ready to start TLS") + POSTFIX_EHLO_TLS,
        "exim": EXIM_GREETING + EXIM_EHLO + EXIM_EHLO_TLS + crlf("250 OK id=1r2s3t-000ABC-1X"),
        "gmail": GMAIL_GREETING + GMAIL_EHLO + GMAIL_EHLO_TLS + GMAIL_SPAM,
        "outlook": OUTLOOK_EHLO,
        "singles": crlf(*SINGLE_REPLIES),
    }
    for name, payload in servers.items():
        write("reply-parser", f"seed-{name}", reply_seed(payload))
        write("reply-parser", f"seed-{name}-split", reply_seed(payload, flags=0x00, plan=(1, 3, 7, 2)))
    write("reply-parser", "seed-small-limits", reply_seed(POSTFIX_EHLO, flags=0x0F, limits=(20, 3, 40), plan=(5,)))
    # From ReplyParserTests: malformed and limit cases.
    for index, bad in enumerate([b"250-a\r\n251 b\r\n", b"150 hello\r\n", b"260 x\r\n", b"25 short\r\n",
                                 b"2500 four\r\n", b"250_x\r\n", b"250 bare lf\n", b"250 bare\rcr\r\n", b"25\n",
                                 b"\r\n", b"250-first\r\n250 sec", b"250 x" + b"y" * 70 + b"\r\n"]):
        write("reply-parser", f"seed-bad-{index}", reply_seed(bad, flags=0x03, limits=(60, 0, 0), plan=(4,)))


# ---------------------------------------------------------------- capabilities
def capabilities_seeds():
    for name, reply in {"postfix": POSTFIX_EHLO, "postfix-tls": POSTFIX_EHLO_TLS, "exim": EXIM_EHLO_TLS,
                        "gmail": GMAIL_EHLO_TLS, "outlook": OUTLOOK_EHLO}.items():
        lines = [line[4:] for line in reply.decode("latin-1").split("\r\n") if line]
        write("capabilities", f"seed-{name}", bytes([0]) + "\n".join(lines).encode("latin-1"))
    odd = ["mx", "pipelining", "Size 1000", "AUTH=LOGIN", "auth plain login cram-md5", "starttls", "X-UNKNOWN foo",
           "SIZE", "SIZE 0", "SIZE 99999999999999999999", "AUTH PLAIN bad!name THIS-NAME-IS-FAR-TOO-LONG-FOR-SASL ok_1",
           "8bitmime", "dsn", "EnhancedStatusCodes", "binarymime", "chunking", "smtputf8", ""]
    write("capabilities", "seed-odd", bytes([1]) + "\n".join(odd).encode())
    write("capabilities", "seed-required", bytes([2]) + b"mx\nSTARTTLS")


# ---------------------------------------------------------------- engine
OPS = {"eof": 10, "time": 11, "jump": 12, "before": 13, "tls": 14, "tlsfail": 15, "certfail": 16,
       "body": 17, "quit": 18, "cancel": 19}
POLICY = {"opportunistic": 0, "required": 1, "implicit": 2, "off": 3}


def engine_seed(ops, tls="opportunistic", pipelining=True, chunking=False, lmtp=False, two=False, marks_last=False,
                eof=False, envelope=0, body=0, auth=0, small=False, short=False, plan=()):
    first = POLICY[tls] | (4 if pipelining else 0) | (8 if chunking else 0) | (0x10 if lmtp else 0) \
        | (0x20 if two else 0) | (0x40 if marks_last else 0) | (0x80 if eof else 0)
    second = envelope | (body << 2) | (auth << 4) | (0x40 if small else 0) | (0x80 if short else 0)
    out = bytearray([first, second, len(plan), *plan])
    for op in ops:
        if isinstance(op, bytes):
            for start in range(0, len(op), 255):
                piece = op[start:start + 255]
                out += bytes([0, len(piece)]) + piece
        elif isinstance(op, tuple):
            out += bytes([OPS[op[0]], op[1]])
        else:
            out.append(OPS[op])
    return bytes(out)


OK_MAIL = crlf("250 2.1.0 Ok")
OK_RCPT = crlf("250 2.1.5 Ok")
GO = crlf("354 End data with <CR><LF>.<CR><LF>")
QUEUED = crlf("250 2.0.0 Ok: queued as 4XyZ12Ab")
BYE = crlf("221 2.0.0 Bye")
TLS_GO = crlf("220 2.0.0 Ready to start TLS")


def engine_seeds():
    s = {}
    s["postfix-starttls-pipelined"] = engine_seed(
        [POSTFIX_GREETING, POSTFIX_EHLO, TLS_GO, "tls", POSTFIX_EHLO_TLS, OK_MAIL + OK_RCPT + OK_RCPT + GO, QUEUED + BYE])
    s["postfix-starttls-lockstep"] = engine_seed(
        [POSTFIX_GREETING, POSTFIX_EHLO, TLS_GO, "tls", POSTFIX_EHLO_TLS, OK_MAIL, OK_RCPT, OK_RCPT, GO, QUEUED, BYE],
        pipelining=False, plan=(5, 9, 60))
    s["exim-required-auth-plain"] = engine_seed(
        [EXIM_GREETING, EXIM_EHLO, TLS_GO, "tls", EXIM_EHLO_TLS, crlf("235 Authentication succeeded"),
         OK_MAIL + OK_RCPT + OK_RCPT + GO, crlf("250 OK id=1r2s3t-000ABC-1X"), BYE], tls="required", auth=1)
    s["auth-login-plaintext-allowed"] = engine_seed(
        [crlf("220 mx ESMTP"), multiline(250, ["mx", "AUTH LOGIN", "PIPELINING"]), crlf("334 VXNlcm5hbWU6"),
         crlf("334 UGFzc3dvcmQ6"), crlf("235 2.7.0 Authentication successful"), OK_MAIL + OK_RCPT + OK_RCPT + GO,
         QUEUED, BYE], tls="off", auth=3)
    s["gmail-implicit-xoauth2-refused"] = engine_seed(
        ["tls", GMAIL_GREETING, multiline(250, ["smtp.gmail.example", "AUTH XOAUTH2 OAUTHBEARER"]),
         crlf("334 eyJzdGF0dXMiOiI0MDEiLCJzY2hlbWVzIjoiQmVhcmVyIn0="),
         crlf("535-5.7.8 Username and Password not accepted.", "535 5.7.8 https://support.example/?p=BadCredentials"),
         BYE], tls="implicit", auth=3)
    s["outlook-bdat-binary"] = engine_seed(
        [crlf("220 outlook.example Microsoft ESMTP MAIL Service ready"), OUTLOOK_EHLO, OK_MAIL + OK_RCPT + OK_RCPT,
         crlf("250 2.6.0 Queued mail for delivery"), BYE], tls="off", chunking=True, envelope=3, marks_last=True)
    s["bdat-lockstep-refused-chunk"] = engine_seed(
        [crlf("220 mx"), multiline(250, ["mx", "CHUNKING"]), OK_MAIL, OK_RCPT, OK_RCPT, crlf("250 2.0.0 chunk ok"),
         crlf("552 5.3.4 too big"), crlf("250 2.0.0 reset"), BYE], tls="off", pipelining=False, chunking=True,
        plan=(20, 30))
    s["lmtp"] = engine_seed(
        [crlf("220 lmtp.example LMTP ready"), multiline(250, ["lmtp.example", "PIPELINING", "ENHANCEDSTATUSCODES"]),
         OK_MAIL + OK_RCPT + crlf("550 5.1.1 unknown") + GO, crlf("250 2.0.0 delivered"), BYE], tls="off", lmtp=True)
    s["lmtp-bdat"] = engine_seed(
        [crlf("220 lmtp ready"), multiline(250, ["lmtp", "PIPELINING", "CHUNKING"]), OK_MAIL + OK_RCPT + OK_RCPT,
         crlf("250 ok", "250 delivered r1", "250 delivered r2"), BYE], tls="off", lmtp=True, chunking=True,
        marks_last=True)
    s["too-many-recipients"] = engine_seed(
        [crlf("220 mx"), multiline(250, ["mx", "ENHANCEDSTATUSCODES"]), OK_MAIL, OK_RCPT,
         crlf("452 4.5.3 Error: too many recipients"), GO, QUEUED, OK_MAIL, OK_RCPT, GO, QUEUED, BYE],
        tls="off", pipelining=False)
    s["no-recipients-go-ahead-anyway"] = engine_seed(
        [crlf("220 mx"), multiline(250, ["mx", "PIPELINING"]), OK_MAIL + crlf("550 no", "550 no") + GO,
         crlf("554 5.5.1 no valid recipients"), crlf("250 reset"), BYE], tls="off")
    s["helo-fallback"] = engine_seed(
        [crlf("220 old.example SMTP"), crlf("502 5.5.2 Error: command not recognized"), crlf("250 old.example"),
         OK_MAIL, OK_RCPT, OK_RCPT, GO, QUEUED, BYE], tls="opportunistic", pipelining=False, envelope=1)
    s["two-messages-behind-the-dot"] = engine_seed(
        [POSTFIX_GREETING, multiline(250, ["mx", "PIPELINING", "SIZE 10240000", "8BITMIME", "DSN"]),
         OK_MAIL + OK_RCPT + OK_RCPT + GO, QUEUED + OK_MAIL + OK_RCPT + OK_RCPT + GO, QUEUED + BYE],
        tls="off", two=True, envelope=2, body=1)
    s["service-closing-mid-transaction"] = engine_seed(
        [crlf("220 mx"), multiline(250, ["mx", "PIPELINING"]), OK_MAIL, crlf("421 4.3.2 shutting down")], tls="off")
    s["eof-after-the-dot"] = engine_seed(
        [crlf("220 mx"), crlf("250 mx"), OK_MAIL + OK_RCPT + OK_RCPT + GO, b"250 que", "eof"], tls="off")
    s["timeouts"] = engine_seed([crlf("220 mx"), ("time", 100), crlf("250 mx"), "jump"], tls="off", short=True)
    s["silence-after-the-dot"] = engine_seed(
        [crlf("220 mx"), crlf("250 mx"), OK_MAIL, OK_RCPT, OK_RCPT, GO, ("time", 199), ("time", 1)],
        tls="off", pipelining=False)
    s["starttls-injection"] = engine_seed(
        [crlf("220 mx"), multiline(250, ["mx", "STARTTLS"]), crlf("220 ready", "250 injected")], tls="required")
    s["starttls-refused"] = engine_seed(
        [crlf("220 mx"), multiline(250, ["mx", "STARTTLS"]), crlf("454 4.7.0 TLS not available"), BYE])
    s["certificate-refused"] = engine_seed(
        [crlf("220 mx"), multiline(250, ["mx", "STARTTLS"]), TLS_GO, "certfail"], tls="required")
    s["deferred-body-early-refusal"] = engine_seed(
        [crlf("220 mx"), crlf("250 mx"), OK_MAIL, OK_RCPT, OK_RCPT, GO, "body", crlf("552 5.3.4 too big")],
        tls="off", pipelining=False, plan=(0x85, 0x85, 0x83))
    s["nul-body"] = engine_seed(
        [crlf("220 mx"), multiline(250, ["mx", "PIPELINING", "CHUNKING"]), OK_MAIL + OK_RCPT + OK_RCPT,
         crlf("250 2.0.0 reset"), BYE], tls="off", chunking=True, body=2, plan=(3,))
    s["greeting-554"] = engine_seed([crlf("554 5.7.1 no service"), BYE])
    s["quit-before-ready"] = engine_seed(["quit", crlf("220 mx"), crlf("250 mx"), BYE], tls="off")
    s["canned"] = bytes([0x04, 0x00, 0]) + bytes([6, 0, 7, 2, 8, 7, 14, 9, 3, 6, 20, 6, 6, 6, 21])
    for name, data in s.items():
        write("engine", f"seed-{name}", data)


# ---------------------------------------------------------------- body-encoder
# flags (bits 0-1 mode: 0 dotStuffed, 1 chunkedText, 2 binary; bit 2 8-bit; bit 3 small limit),
# limit, n, n chunk lengths, body

def body_seed(body, flags=0x04, limit=0, plan=()):
    return bytes([flags, limit, len(plan), *plan]) + body


def body_encoder_seeds():
    awkward = [b"", b".", b"..", b".\r\n", b"\r\n.\r\n", b"line\n.\nmore", b"a\r.\rb", b"a\r\n.\r\nb", b"\n.\r\n",
               b"x\r\n\r\n.\r\n.\r\n", b"trailing cr\r", b"no final newline", b"...leading dots\r\n....\r\n",
               b"mixed\r\n\n\r\r\n.end", b"From: a@example.org\r\nSubject: hi\r\n\r\nbody\r\n",
               "Subject: caf\u00e9\r\n\r\n\u00e9t\u00e9\n".encode(), b"nul\x00byte", b"\n.\n", b"\r.\r",
               b"\n.\r\nQUIT\r\n", b".\n.\r.\r\n", b"a" * 998 + b"\r\n." + b"b" * 998]
    for index, body in enumerate(awkward):
        for mode in (0, 1, 2):
            write("body-encoder", f"seed-{index}-mode{mode}", body_seed(body, flags=mode | 0x04, plan=(1, 2, 3)))
    write("body-encoder", "seed-small-limit", body_seed(b"abcdefgh\r\n.ijkl\nmnop", flags=0x08, limit=5, plan=(3,)))
    write("body-encoder", "seed-7bit", body_seed("\u00e9".encode() + b"\r\n", flags=0x00))


if __name__ == "__main__":
    for target in ("reply-parser", "capabilities", "engine", "body-encoder"):
        shutil.rmtree(os.path.join(HERE, target), ignore_errors=True)
    reply_parser_seeds()
    capabilities_seeds()
    engine_seeds()
    body_encoder_seeds()
    for target in ("reply-parser", "capabilities", "engine", "body-encoder"):
        print(target, len(os.listdir(os.path.join(HERE, target))), "seeds")
