"""The test rig's environment (scripts/rig): RIG_* variables from the environment, or from
.rig/rig.env while a rig is up. Shared by Tests/cli and Tests/hostile."""

import os
import pathlib

REPO = pathlib.Path(__file__).resolve().parents[2]


def rig_env():
    env = {k: v for k, v in os.environ.items() if k.startswith("RIG_")}
    if "RIG_POSTFIX_STARTTLS_PORT" not in env or "RIG_SERVER_CERT" not in env:
        path = REPO / ".rig" / "rig.env"
        if path.exists():
            for line in path.read_text().splitlines():
                if line.startswith("export ") and "=" in line:
                    name, value = line[len("export "):].split("=", 1)
                    env.setdefault(name, value)
    return env
