#!/usr/bin/env python3
"""The async client's pool under load: N `send` calls from T concurrent tasks through one
SMTPAsyncClient into the rig's Postfix (STARTTLS, certificate verified), then every message
accounted for in Postfix's own log. Writes JSON to stdout or --out.

Accounting: message i carries Message-ID <pool-i.RUN@bench.test>. From the maillog (only what
this run appended) the cleanup lines give each queue id's message-id. Passes only if every index
0..N-1 appears exactly once, every send's outcome was a delivery, and each outcome's reply names
the queue id Postfix gave that very message ("queued as ID").

Needs the rig up (. .rig/rig.env) and PoolLoad built (POOL_LOAD: its path)."""

import argparse
import json
import os
import re
import subprocess
import sys
import time
import uuid

RIG = os.environ


def run(messages, tasks, connections):
    maillog = RIG["RIG_POSTFIX_MAILLOG"]
    offset = os.path.getsize(maillog)
    run_id = uuid.uuid4().hex[:12]
    command = [RIG.get("POOL_LOAD", "PoolLoad"), "load", RIG["RIG_POSTFIX_STARTTLS_PORT"], str(messages), str(tasks),
               str(connections), run_id, RIG["RIG_CA_FILE"]]
    started = time.monotonic()
    completed = subprocess.run(command, capture_output=True, text=True, timeout=900)
    if completed.returncode != 0:
        sys.exit(f"pool: PoolLoad failed ({completed.returncode}): {completed.stderr[-2000:]}")
    result = json.loads(completed.stdout)
    # Postfix logs a message's cleanup line before it answers the final dot, so by now every
    # delivered message's line is in the file; read until every index is seen or 30 s passed
    # (the log is written by another process: this is waiting for a file, not a test's timing).
    pattern = re.compile(r"postfix/cleanup\[\d+\]: ([0-9A-F]+): message-id=<pool-(\d+)\." + run_id + r"@bench\.test>")
    deadline = time.monotonic() + 30
    while True:
        with open(maillog, "rb") as handle:
            handle.seek(offset)
            text = handle.read().decode("utf-8", "replace")
        seen = [(queue_id, int(index)) for queue_id, index in pattern.findall(text)]
        if len(seen) >= messages or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    indices = [index for _, index in seen]
    queue_of = {index: queue_id for queue_id, index in seen}
    missing = sorted(set(range(messages)) - set(indices))
    duplicated = sorted({i for i in indices if indices.count(i) > 1}) if len(indices) != len(set(indices)) else []
    mismatched = []
    for index, reply in result["delivered_replies"].items():
        named = re.search(r"queued as ([0-9A-F]+)", reply)
        if not named or queue_of.get(int(index)) != named.group(1):
            mismatched.append(int(index))
    accounted = (not missing and not duplicated and not mismatched and result["delivered"] == messages
                 and result["outcomes"] == messages)
    summary = {key: result[key] for key in ("messages", "tasks", "max_connections", "outcomes", "delivered", "seconds",
                                             "msgs_per_s", "peak_connections", "connections_opened", "tls_full",
                                             "tls_resumed", "failures")}
    summary |= {"in_maillog": len(set(indices)), "missing": missing[:20], "duplicated": duplicated[:20],
                "reply_queue_id_mismatches": mismatched[:20], "accounted": accounted,
                "wall_seconds": round(time.monotonic() - started, 2)}
    print(f"pool: {messages} sends from {tasks} tasks, at most {connections} connections: "
          f"{result['msgs_per_s']:.0f} msg/s, peak {result['peak_connections']} connections, "
          f"{len(set(indices))} in Postfix's log, accounted: {accounted}", file=sys.stderr)
    return summary


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--out")
    parser.add_argument("--messages", type=int, default=10000)
    parser.add_argument("--tasks", type=int, default=1000)
    parser.add_argument("--connections", type=int, default=50)
    args = parser.parse_args()
    summary = run(args.messages, args.tasks, args.connections)
    text = json.dumps(summary, indent=2)
    if args.out:
        with open(args.out, "w") as handle:
            handle.write(text + "\n")
    else:
        print(text)
    sys.exit(0 if summary["accounted"] else 1)


if __name__ == "__main__":
    main()
