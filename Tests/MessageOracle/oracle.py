#!/usr/bin/env python3
"""The message builder's oracle: Python's email package (policy=default) reads a message.

Usage: oracle.py MESSAGE_FILE     prints JSON describing what Python read
       oracle.py --sha256 FILE    prints the SHA-256 of a file (to compare attachment bytes)

The JSON: {"headers": [[name, decoded value]...], "addresses": {field: [[name, address]...]},
"parts": [{"type", "cte", "disposition", "filename", "cid", "text" | "size"+"sha256"+"hex"}...]
in walk() order (multiparts too, with only their type), "defects": [names...],
"longest_line": the longest raw line in octets (CRLF excluded)}.
Addresses holding raw UTF-8 (RFC 6532) come back as text: Python keeps such octets as
surrogate escapes, which are turned back into the UTF-8 they were.
"""
import email
import email.policy
import hashlib
import json
import sys


def utf8(text):
    return text.encode("utf-8", "surrogateescape").decode("utf-8")


def describe(path):
    with open(path, "rb") as handle:
        raw = handle.read()
    message = email.message_from_bytes(raw, policy=email.policy.default)
    result = {"headers": [], "addresses": {}, "parts": [], "defects": []}
    result["longest_line"] = max(len(line) for line in raw.split(b"\r\n"))
    for name, value in message.items():
        result["headers"].append([name, utf8(str(value))])
        if name.lower() in ("from", "to", "cc", "bcc", "reply-to", "sender"):
            result["addresses"][name] = [[utf8(a.display_name), utf8(a.addr_spec)] for a in value.addresses]
        result["defects"] += [type(d).__name__ for d in getattr(value, "defects", ())]
    for part in message.walk():
        result["defects"] += [type(d).__name__ for d in part.defects]
        entry = {"type": part.get_content_type()}
        if not part.is_multipart():
            entry["cte"] = part.get("Content-Transfer-Encoding", "7bit")
            entry["disposition"] = part.get_content_disposition()
            entry["filename"] = part.get_filename()
            entry["cid"] = part.get("Content-ID")
            content = part.get_content()
            if isinstance(content, str):
                entry["text"] = content
            else:
                entry["size"] = len(content)
                entry["sha256"] = hashlib.sha256(content).hexdigest()
                entry["hex"] = content.hex() if len(content) <= 65536 else None
        result["parts"].append(entry)
    return result


def main():
    if sys.argv[1] == "--sha256":
        digest = hashlib.sha256()
        with open(sys.argv[2], "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
        print(json.dumps(digest.hexdigest()))
        return
    print(json.dumps(describe(sys.argv[1])))


if __name__ == "__main__":
    main()
