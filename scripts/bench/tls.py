#!/usr/bin/env python3
"""TLS at scale, into the rig's Postfix (STARTTLS port, certificate verified against the test CA):

1. 100 STARTTLS sessions on one libuv loop (and on 100 socket-driver threads), each sending many
   1 KB messages: messages per second, and the client's CPU time (user + system, from the child's
   rusage) per session and per message.
2. Client CPU per connection with a full handshake against a resumed one: K connections made one
   after the other, one message each (--session-messages 1), with --no-tls-resume (every handshake
   full) and without (the first full, the rest resumed), plus --tls off as the floor. CPU per
   connection = (cpu(K) - cpu(1)) / (K - 1), so process start-up and the first handshake drop
   out. The modes alternate, several runs, medians. Also user time alone, and user-space
   instructions per connection from callgrind (exact: the machine is shared and noisy).

Before timing, one short verbose run per mode checks the handshake counts the client reports (so a
"resumed" figure is never a full handshake in disguise). Writes JSON to stdout or --out.

Needs the rig up (. .rig/rig.env) and a release smtp-send (SMTP_SEND)."""

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time

RIG = os.environ
BIN = os.environ.get("SMTP_SEND", "smtp-send")


def run(command):
    """Runs `command`; returns (wall seconds, (user, system) CPU seconds of the child, stdout,
    stderr)."""
    out = tempfile.TemporaryFile()
    err = tempfile.TemporaryFile()
    started = time.monotonic()
    child = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=out, stderr=err)
    _, status, usage = os.wait4(child.pid, 0)
    elapsed = time.monotonic() - started
    child.returncode = os.waitstatus_to_exitcode(status)
    out.seek(0)
    err.seek(0)
    stdout, stderr = out.read().decode(errors="replace"), err.read().decode(errors="replace")
    if child.returncode != 0:
        sys.exit(f"bench: {' '.join(command)} failed ({child.returncode}):\n{stdout}\n{stderr[-4000:]}")
    return elapsed, (usage.ru_utime, usage.ru_stime), stdout, stderr


def message_file(size=1024):
    handle = tempfile.NamedTemporaryFile(prefix="tls-bench-", suffix=".eml", delete=False)
    header = b"From: load@example.org\r\nTo: sink@example.net\r\nSubject: TLS load\r\n\r\n"
    line = b"The quick brown fox jumps over the lazy dog; pack my box with five dozen liquor jugs.\r\n"
    body = (line * (size // len(line) + 1))[: max(0, size - len(header) - 2)]
    handle.write(header + body + b"\r\n")
    handle.close()
    return handle.name


def smtp_send(message, count, connections=1, driver="uv", tls="required", extra=()):
    port = RIG["RIG_POSTFIX_STARTTLS_PORT"]
    return [BIN, "--tls", tls, "--ca-file", RIG["RIG_CA_FILE"], "--tls-name", RIG.get("RIG_TLS_NAME", "localhost"),
            "--driver", driver, "--data", message, "--repeat", str(count), "--connections", str(connections),
            *extra, f"127.0.0.1:{port}", "load@example.org", "sink@example.net"]


def handshakes(stderr):
    found = re.search(r"^-- TLS handshakes: (\d+) full, (\d+) resumed \((\d+) connections\) --$", stderr, re.M)
    if not found:
        sys.exit(f"bench: no handshake counts in the verbose output:\n{stderr[-2000:]}")
    return tuple(int(x) for x in found.groups())


def sessions_at_scale(message, sessions, each, runs):
    rows = []
    for driver in ("uv", "socket"):
        count = sessions * each
        command = smtp_send(message, count, connections=sessions, driver=driver)
        rates, cpus = [], []
        for _ in range(runs):
            elapsed, (user, system), _, _ = run(command)
            rates.append(count / elapsed)
            cpus.append(user + system)
        cpu = statistics.median(cpus)
        rows.append({"driver": driver, "sessions": sessions, "messages_per_session": each, "messages": count,
                     "runs": runs, "msgs_per_s": round(statistics.median(rates), 1),
                     "client_cpu_s": round(cpu, 3), "cpu_ms_per_session": round(cpu / sessions * 1000, 2),
                     "cpu_us_per_message": round(cpu / count * 1e6, 1),
                     "command": " ".join(command[:1] + ["..."] + command[command.index("--driver"):])})
    return rows


MODES = {
    "full": {"tls": "required", "extra": ("--no-tls-resume",)},
    "resumed": {"tls": "required", "extra": ()},
    "plain": {"tls": "off", "extra": ()},
}


def mode_commands(message, connections, driver):
    """Per mode: (K connections, 1 connection), one message each."""
    commands = {}
    for mode, how in MODES.items():
        base = dict(connections=1, driver=driver, tls=how["tls"])
        extra = ("--session-messages", "1", *how["extra"])
        commands[mode] = (smtp_send(message, connections, extra=extra, **base),
                          smtp_send(message, 1, extra=extra, **base))
    return commands


def per_connection(message, connections, runs, driver, traced):
    commands = mode_commands(message, connections, driver)
    for mode, how in MODES.items():
        base = dict(connections=1, driver=driver, tls=how["tls"])
        extra = ("--session-messages", "1", *how["extra"])
        if mode != "plain":
            _, _, _, stderr = run(smtp_send(message, 5, extra=("-v", *extra), **base))
            expected = (5, 0, 5) if mode == "full" else (1, 4, 5)
            if handshakes(stderr) != expected:
                sys.exit(f"bench: {mode}: expected handshakes (full, resumed, connections) {expected}, got {handshakes(stderr)}")
    samples = {mode: [] for mode in MODES}
    user = {mode: [] for mode in MODES}
    for _ in range(runs):
        for mode, (many, one) in commands.items():
            _, (user_many, system_many), _, _ = run(many)
            _, (user_one, system_one), _, _ = run(one)
            samples[mode].append((user_many + system_many - user_one - system_one) / (connections - 1))
            user[mode].append((user_many - user_one) / (connections - 1))
    medians = {mode: statistics.median(values) for mode, values in samples.items()}
    user_medians = {mode: statistics.median(values) for mode, values in user.items()}
    instructions = instructions_per_connection(mode_commands(message, traced, driver), traced)
    full, resumed, plain = medians["full"], medians["resumed"], medians["plain"]
    return {
        "driver": driver, "connections": connections, "runs": runs,
        "cpu_us_per_connection": {mode: round(value * 1e6, 1) for mode, value in medians.items()},
        "samples_us": {mode: [round(v * 1e6, 1) for v in values] for mode, values in samples.items()},
        "ratio_full_to_resumed": round(full / resumed, 2) if resumed > 0 else None,
        # The TLS part alone: what a connection costs beyond the same connection without TLS.
        "tls_part_us": {"full": round((full - plain) * 1e6, 1), "resumed": round((resumed - plain) * 1e6, 1)},
        "tls_part_ratio": round((full - plain) / (resumed - plain), 2) if resumed > plain else None,
        # User time alone: the kernel's share (on loopback it also runs the server's side of
        # every packet the client sends) is the same for both handshakes.
        "user_us_per_connection": {mode: round(value * 1e6, 1) for mode, value in user_medians.items()},
        "user_ratio_full_to_resumed": (round(user_medians["full"] / user_medians["resumed"], 2)
                                       if user_medians["resumed"] > 0 else None),
        "instructions_connections": traced,
        "instructions_per_connection": instructions,
        "instructions_ratio_full_to_resumed": (round(instructions["full"] / instructions["resumed"], 2)
                                               if instructions else None),
        "command": " ".join(commands["resumed"][0][:1] + ["..."] + commands["resumed"][0][commands["resumed"][0].index("--driver"):]),
    }


def instructions_per_connection(commands, connections):
    """User-space instructions per connection (callgrind: exact, whatever the machine's load),
    the same (many - one) / (K - 1) difference; None without valgrind."""
    if subprocess.run(["sh", "-c", "command -v valgrind"], capture_output=True).returncode != 0:
        return None
    # valgrind 3.19 cannot read the DWARF 5 forms that clang writes for SwiftNIO's C modules and
    # gives up; the count needs no debug information, so callgrind runs a copy without it (the
    # same machine code).
    binary = next(iter(commands.values()))[0][0]
    stripped = tempfile.NamedTemporaryFile(prefix="smtp-send-stripped-", delete=False).name
    subprocess.run(["objcopy", "--strip-debug", binary, stripped], check=True)
    os.chmod(stripped, 0o755)
    counts = {}
    for mode, (many, one) in commands.items():
        refs = []
        for command in (many, one):
            completed = subprocess.run(["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null",
                                        stripped, "--timeout", "120", *command[1:]],
                                       capture_output=True, text=True, stdin=subprocess.DEVNULL)
            found = re.search(r"refs:\s+([\d,]+)", completed.stderr)
            if completed.returncode != 0 or not found:
                sys.exit(f"bench: callgrind {' '.join(command)} failed:\n{completed.stderr[-2000:]}")
            refs.append(int(found.group(1).replace(",", "")))
        counts[mode] = round((refs[0] - refs[1]) / (connections - 1))
    os.unlink(stripped)
    return counts


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--out")
    parser.add_argument("--quick", action="store_true", help="smaller counts, for a smoke run")
    args = parser.parse_args()
    quick = args.quick or bool(os.environ.get("BENCH_QUICK"))
    message = message_file()
    try:
        scale = sessions_at_scale(message, sessions=100, each=10 if quick else 30, runs=1 if quick else 3)
        handshake = [per_connection(message, connections=40 if quick else 200, runs=2 if quick else 5, driver=driver,
                                    traced=11 if quick else 31)
                     for driver in ("socket", "uv")]
    finally:
        os.unlink(message)
    result = {"quick": quick, "sessions": scale, "handshake": handshake}
    text = json.dumps(result, indent=2)
    if args.out:
        with open(args.out, "w") as handle:
            handle.write(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
