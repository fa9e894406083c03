"""The test rig's environment (scripts/rig): RIG_* variables from the environment, or from
$RIG_DIR/rig.env (default .rig/rig.env) while a rig is up. Shared by Tests/cli and Tests/hostile."""

import os
import pathlib
import shlex

REPO = pathlib.Path(__file__).resolve().parents[2]


def parse_env_file(text):
    """rig.env's `export NAME='value'` lines (POSIX shell quoting) as a dict."""
    values = {}
    for line in text.splitlines():
        words = shlex.split(line, comments=True)
        if len(words) == 2 and words[0] == "export" and "=" in words[1]:
            name, value = words[1].split("=", 1)
            values[name] = value
    return values


def rig_env():
    env = {k: v for k, v in os.environ.items() if k.startswith("RIG_")}
    if "RIG_POSTFIX_STARTTLS_PORT" not in env or "RIG_SERVER_CERT" not in env:
        path = pathlib.Path(os.environ.get("RIG_DIR") or REPO / ".rig") / "rig.env"
        if path.exists():
            for name, value in parse_env_file(path.read_text()).items():
                env.setdefault(name, value)
    return env
