"""What the rig's Exim and Dovecot stored: maildir files and Exim's main log (scripts/rig/exim.sh,
dovecot.sh). Exim delivers after it answered 250, so the readers here poll with a deadline; Dovecot
has stored the message before it answers."""

import pathlib
import re
import time


def maildir_messages(maildir, marker):
    """The bytes of every message in MAILDIR/new (and cur) that contain MARKER, sorted."""
    found = []
    for sub in ("new", "cur"):
        folder = pathlib.Path(maildir) / sub
        if folder.is_dir():
            for path in folder.iterdir():
                data = path.read_bytes()
                if marker.encode() in data:
                    found.append(data)
    return sorted(found)


def wait_for_maildir_messages(maildir, marker, count, timeout=10.0):
    """maildir_messages once COUNT are there, or what is there at the deadline."""
    deadline = time.monotonic() + timeout
    while True:
        found = maildir_messages(maildir, marker)
        if len(found) >= count or time.monotonic() >= deadline:
            return found
        time.sleep(0.05)


def split_first_header(message):
    """(first header field with its continuation lines, the rest) of a CRLF message."""
    end = 0
    while True:
        end = message.index(b"\r\n", end) + 2
        if message[end:end + 1] not in (b" ", b"\t"):
            return message[:end], message[end:]


def exim_deliveries(mainlog, sender):
    """{message id: [delivered addresses]} for every message from SENDER in Exim's main log."""
    text = pathlib.Path(mainlog).read_text(errors="replace")
    ids = re.findall(r"^\S+ \S+ (\S+) <= " + re.escape(sender) + r" ", text, re.M)
    deliveries = {}
    for message_id in ids:
        deliveries[message_id] = re.findall(r"^\S+ \S+ " + re.escape(message_id) + r" [=-]> \S+ <([^>]+)>", text, re.M)
    return deliveries


def wait_for_exim_deliveries(mainlog, sender, addresses, timeout=10.0):
    """exim_deliveries once ADDRESSES (a count) have been delivered, or at the deadline."""
    deadline = time.monotonic() + timeout
    while True:
        found = exim_deliveries(mainlog, sender)
        if sum(len(v) for v in found.values()) >= addresses or time.monotonic() >= deadline:
            return found
        time.sleep(0.05)
