#!/usr/bin/env python3
"""End-to-end comparisons on loopback, each pair measured in the same run (the machine is noisy:
ratios and medians, never single absolute figures). Writes JSON to stdout or --out.

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


def timed(command, env=None, input_path=None):
    started = time.monotonic()
    stdin = open(input_path, "rb") if input_path else subprocess.DEVNULL
    completed = subprocess.run(command, capture_output=True, text=True, env=env, stdin=stdin)
    elapsed = time.monotonic() - started
    if completed.returncode != 0:
        sys.exit(f"bench: {' '.join(command)} failed ({completed.returncode}):\n{completed.stdout}\n{completed.stderr}")
    return elapsed, completed


def peak_rss_kib(command):
    """Peak resident memory of a command, from GNU time."""
    completed = subprocess.run(["/usr/bin/time", "-f", "%M", *command], capture_output=True, text=True)
    if completed.returncode != 0:
        sys.exit(f"bench: {' '.join(command)} failed:\n{completed.stdout}\n{completed.stderr}")
    return int(completed.stderr.strip().splitlines()[-1])


def smtp_source(sessions, count, port, size=1024, reuse=False):
    """smtp-source as the issue names it; by default each of its messages is a new connection,
    with `reuse` (-d) each session keeps its connection, like smtp-send."""
    return ["smtp-source", *(["-d"] if reuse else []), "-s", str(sessions), "-m", str(count), "-l", str(size),
            "-f", "load@example.org", "-t", "sink@example.net", f"127.0.0.1:{port}"]


def smtp_send(count, port, connections=1, driver="socket", extra=()):
    return [BIN, "--tls", "off", "--driver", driver, "--repeat", str(count), "--connections", str(connections),
            *extra, f"127.0.0.1:{port}", "load@example.org", "sink@example.net"]


def sink_pid(port):
    """The smtp-sink process listening on `port` (the rig starts one per port)."""
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            words = open(f"/proc/{entry}/cmdline", "rb").read().split(b"\0")
        except OSError:
            continue
        if words and words[0].endswith(b"smtp-sink") and any(word.endswith(f":{port}".encode()) for word in words):
            return int(entry)
    return None


def cpu_seconds(pid):
    """User + system CPU time a process has used so far."""
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def paired(name, ours, theirs, count, runs, input_path=None, watch=None):
    """Alternates the two commands `runs` times; returns medians and the ratio of medians.
    `watch`: a server pid whose CPU time is measured over each run as well."""
    ours_rates, theirs_rates = [], []
    watched = {"ours": [], "theirs": []}
    for _ in range(runs):
        for side, command, rates, path in (("ours", ours, ours_rates, input_path), ("theirs", theirs, theirs_rates, None)):
            before = cpu_seconds(watch) if watch else 0
            elapsed, _ = timed(command, input_path=path)
            rates.append(count / elapsed)
            if watch:
                watched[side].append(((cpu_seconds(watch) - before) / elapsed, (cpu_seconds(watch) - before) / count * 1e6))
    ours_median, theirs_median = statistics.median(ours_rates), statistics.median(theirs_rates)
    # The machine drifts (whole minutes faster or slower): each run's ratio compares two commands
    # run back to back, so the median of those ratios is the figure least moved by drift.
    run_ratios = [ours / theirs for ours, theirs in zip(ours_rates, theirs_rates)]
    result = {"name": name, "count": count, "runs": runs,
              "ratio_of_medians": round(ours_median / theirs_median, 2),
              "run_ratios": [round(r, 2) for r in run_ratios],
              "smtp_send_msgs": round(ours_median, 1), "smtp_source_msgs": round(theirs_median, 1),
              "ratio": round(statistics.median(run_ratios), 2),
              "smtp_send_all": [round(r, 1) for r in ours_rates], "smtp_source_all": [round(r, 1) for r in theirs_rates]}
    if watch:
        # How busy the (single-process) server was, and its CPU per message: its capacity for
        # our traffic bounds what any client can reach.
        ours_us = statistics.median(us for _, us in watched["ours"])
        result["sink_cpu"] = {"smtp_send_busy": statistics.median(busy for busy, _ in watched["ours"]),
                              "smtp_source_busy": statistics.median(busy for busy, _ in watched["theirs"]),
                              "sink_us_per_msg_ours": ours_us,
                              "sink_us_per_msg_theirs": statistics.median(us for _, us in watched["theirs"]),
                              "limit_ratio": (1e6 / ours_us) / theirs_median if ours_us > 0 else None}
    print(f"bench: {name}: smtp-send {ours_median:.0f} msg/s, smtp-source {theirs_median:.0f} msg/s, "
          f"ratio {result['ratio']}{'; sink ' + str(result.get('sink_cpu')) if watch else ''}", file=sys.stderr)
    return result


def nio_against_libuv(sink, one_kb, messages, runs):
    """The SwiftNIO driver against the libuv driver, both smtp-send in load mode into smtp-sink,
    1 KB messages, at 1, 50 and 500 sessions: `paired`'s "ours" is nio, "theirs" libuv."""
    rows = []
    for sessions in (1, 50, 500):
        commands = [smtp_send(messages, sink, connections=sessions, driver=driver, extra=("--data", one_kb))
                    for driver in ("nio", "uv")]
        pair = paired(f"{sessions} session{'' if sessions == 1 else 's'} into smtp-sink: nio vs libuv",
                      commands[0], commands[1], messages, runs)
        rows.append({"sessions": sessions, "nio_msgs": pair["smtp_send_msgs"], "uv_msgs": pair["smtp_source_msgs"],
                     "ratio": pair["ratio"], "run_ratios": pair["run_ratios"], "runs": runs})
    return rows


def single_send_alternated(runs=40, warmup=5):
    """One STARTTLS send into Postfix, certificate verified, smtp-send and curl alternated run by
    run (hyperfine runs one command's runs, then the other's, so drift between the two halves
    shows up as a difference). Returns each tool's times, their medians and the ratio."""
    port, ca = RIG["RIG_POSTFIX_STARTTLS_PORT"], RIG["RIG_CA_FILE"]
    handle = tempfile.NamedTemporaryFile("wb", delete=False, suffix=".eml")
    handle.write(b"From: a@example.org\r\nTo: b@example.net\r\nSubject: timing\r\n\r\nHello.\r\n")
    handle.close()
    commands = {
        "smtp-send": [BIN, "--ca-file", ca, "--data", handle.name, f"127.0.0.1:{port}", "a@example.org", "b@example.net"],
        "curl": ["curl", "--url", f"smtp://127.0.0.1:{port}", "--ssl-reqd", "--cacert", ca, "--mail-from", "a@example.org",
                 "--mail-rcpt", "b@example.net", "--upload-file", handle.name, "-s", "-o", "/dev/null"],
    }
    times = {name: [] for name in commands}
    for round_number in range(warmup + runs):
        order = list(commands) if round_number % 2 == 0 else list(reversed(commands))
        for name in order:
            elapsed, _ = timed(commands[name])
            if round_number >= warmup:
                times[name].append(elapsed)
    os.unlink(handle.name)
    medians = {name: statistics.median(values) for name, values in times.items()}
    result = {"runs": runs, "times": times, "medians": medians, "ratio": round(medians["smtp-send"] / medians["curl"], 3)}
    print(f"bench: one STARTTLS send, alternated: smtp-send {medians['smtp-send'] * 1000:.1f} ms, "
          f"curl {medians['curl'] * 1000:.1f} ms, ratio {result['ratio']}", file=sys.stderr)
    return result


def message_file(size):
    handle = tempfile.NamedTemporaryFile("wb", delete=False, suffix=".eml")
    header = b"From: load@example.org\r\nTo: sink@example.net\r\nSubject: load\r\n\r\n"
    line = b"The quick brown fox jumps over the lazy dog; pack my box with five dozen liquor jugs.\r\n"
    body = bytearray(header)
    while len(body) + len(line) <= size:
        body += line
    body += b"x" * (size - len(body))
    handle.write(body)
    handle.close()
    return handle.name


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--out")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--messages", type=int, default=10000)
    parser.add_argument("--quick", action="store_true", help="smaller counts, for a smoke run")
    parser.add_argument("--only-drivers", action="store_true", help="only the SwiftNIO against libuv rows")
    args = parser.parse_args()
    runs, messages = args.runs, args.messages
    # The pairs this round's targets are judged on get more runs.
    target_runs = max(runs, 5)
    if args.quick:
        runs, messages, target_runs = 1, 2000, 1
    sink, postfix = RIG["RIG_SINK_PORT"], RIG["RIG_POSTFIX_STARTTLS_PORT"]
    one_kb = message_file(1024)
    if args.only_drivers:
        text = json.dumps({"machine": machine(), "nio_vs_uv": nio_against_libuv(sink, one_kb, messages, target_runs)}, indent=2)
        os.unlink(one_kb)
        print(text)
        return
    single = single_send_alternated(runs=1 if args.quick else 40, warmup=1 if args.quick else 5)
    results = {"machine": machine(), "pairs": [], "concurrency": [], "single_send": None, "big_message": None,
               "memory_per_session": None, "single_send_alternated": None}
    results["single_send_alternated"] = single

    # One connection, 1 KB messages, into smtp-sink (PIPELINING; smtp-source never pipelines).
    results["pairs"].append(paired("1 connection into smtp-sink, pipelining (socket driver)",
                                   smtp_send(messages, sink, extra=("--data", one_kb)),
                                   smtp_source(1, messages, sink), messages, runs))
    results["pairs"].append(paired("1 connection into smtp-sink, pipelining (socket driver) vs smtp-source -d",
                                   smtp_send(messages, sink, extra=("--data", one_kb)),
                                   smtp_source(1, messages, sink, reuse=True), messages, target_runs,
                                   watch=sink_pid(sink)))
    results["pairs"].append(paired("1 connection into smtp-sink, pipelining (libuv driver)",
                                   smtp_send(messages, sink, driver="uv", extra=("--data", one_kb)),
                                   smtp_source(1, messages, sink), messages, runs))
    # Against Postfix, which offers CHUNKING: BDAT + PIPELINING, plaintext.
    pf_messages = max(1000, messages // 5)
    results["pairs"].append(paired("1 connection into Postfix, BDAT + pipelining",
                                   smtp_send(pf_messages, postfix, extra=("--data", one_kb)),
                                   smtp_source(1, pf_messages, postfix), pf_messages, runs))

    # Concurrency: the libuv driver against smtp-source -s N.
    for sessions in (1, 10, 50, 100):
        results["concurrency"].append(paired(f"{sessions} session{'' if sessions == 1 else 's'} into smtp-sink (libuv)",
                                             smtp_send(messages, sink, connections=sessions, driver="uv",
                                                       extra=("--data", one_kb)),
                                             smtp_source(sessions, messages, sink), messages, runs) | {"sessions": sessions})
        reuse = paired(f"{sessions} session{'' if sessions == 1 else 's'} into smtp-sink (libuv) vs smtp-source -d",
                       smtp_send(messages, sink, connections=sessions, driver="uv", extra=("--data", one_kb)),
                       smtp_source(sessions, messages, sink, reuse=True), messages, target_runs if sessions == 50 else runs,
                       watch=sink_pid(sink) if sessions == 50 else None)
        results["concurrency"][-1] |= {"smtp_source_reuse_msgs": reuse["smtp_source_msgs"], "ratio_reuse": reuse["ratio"],
                                       "smtp_send_reuse_run_msgs": reuse["smtp_send_msgs"], "runs_reuse": reuse["runs"]}
        results["concurrency"][-1]["reuse_pair"] = reuse
        if "sink_cpu" in reuse:
            results["concurrency"][-1]["sink_cpu"] = reuse["sink_cpu"]

    results["nio_vs_uv"] = nio_against_libuv(sink, one_kb, messages, target_runs)

    # A 1 GiB message streamed from a file: peak resident memory.
    big = message_file(1 << 30) if not args.quick else message_file(64 << 20)
    size = os.path.getsize(big)
    rss = peak_rss_kib([BIN, "--tls", "off", "--data", big, f"127.0.0.1:{sink}", "big@example.org", "sink@example.net"])
    results["big_message"] = {"bytes": size, "peak_rss_kib": rss}
    print(f"bench: {size} byte message: peak RSS {rss} KiB", file=sys.stderr)
    os.unlink(big)

    # Memory per concurrent session (libuv): peak RSS with N sessions against one session. Each
    # session sends `each` messages, so all N are open together for most of the run (with one
    # message each, early sessions end before late ones are up); a busy session holds at least
    # what an idle one does, so this is an upper bound for an idle session.
    per = {}
    for label, port, count, each, tls in (("plaintext", sink, 1000, 10, ()),
                                          ("TLS", postfix, 150, 20, ("--tls", "required"))):
        def run(n):
            command = [BIN, "--driver", "uv", "--timeout", "30", "--repeat", str(n * each), "--connections", str(n),
                       "--data", one_kb]
            command += list(tls) if tls else ["--tls", "off"]
            if tls:
                command += ["--ca-file", RIG["RIG_CA_FILE"], "--tls-name", "localhost"]
            return peak_rss_kib(command + [f"127.0.0.1:{port}", "load@example.org", "sink@example.net"])
        base, many = run(1), run(count)
        per[label] = {"sessions": count, "messages_per_session": each, "peak_rss_one_kib": base, "peak_rss_many_kib": many,
                      "per_session_kib": round((many - base) / (count - 1), 1)}
        print(f"bench: memory per {label} session: {per[label]['per_session_kib']} KiB", file=sys.stderr)
    results["memory_per_session"] = per
    os.unlink(one_kb)

    text = json.dumps(results, indent=2)
    if args.out:
        with open(args.out, "w") as handle:
            handle.write(text + "\n")
    else:
        print(text)


def machine():
    cpu = ""
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"cpu": cpu, "cores": os.cpu_count(),
            "memory_gib": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / (1 << 30), 1),
            "kernel": os.uname().release, "date": time.strftime("%Y-%m-%d")}


if __name__ == "__main__":
    main()
