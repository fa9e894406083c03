"""rig.env as the Python tests read it (rig_env.parse_env_file) is what a shell that sources it
gets, white space and quotes in the values included (a clone path may hold both)."""

import os
import pathlib
import subprocess

from rig_env import REPO, parse_env_file


def sourced(path):
    """The RIG_* variables a clean bash has after `. path`."""
    out = subprocess.run(["env", "-i", "bash", "-c", '. "$1" && env -0', "-", str(path)],
                         capture_output=True, check=True).stdout.decode()
    return dict(item.split("=", 1) for item in out.split("\0") if item.startswith("RIG_"))


def test_the_running_rigs_env_file_parses_as_bash_sources_it(rig):
    path = pathlib.Path(os.environ.get("RIG_DIR") or REPO / ".rig") / "rig.env"
    values = parse_env_file(path.read_text())
    assert values == sourced(path)
    assert values["RIG_POSTFIX_STARTTLS_PORT"] == rig["RIG_POSTFIX_STARTTLS_PORT"]


def test_quoted_values_with_spaces_and_quotes_parse_as_bash_sources_them(tmp_path):
    path = tmp_path / "rig.env"
    path.write_text("# Written by scripts/rig/rig.sh start. Source it: . /a\\ b/rig.env\n"
                    "export RIG_DIR='/home/x/my smtp/.rig'\n"
                    "\n"
                    "export RIG_QUOTE='it'\\''s  here'\n"
                    "export RIG_PORT='24525'\n")
    values = parse_env_file(path.read_text())
    assert values == {"RIG_DIR": "/home/x/my smtp/.rig", "RIG_QUOTE": "it's  here",
                      "RIG_PORT": "24525"}
    assert values == sourced(path)
