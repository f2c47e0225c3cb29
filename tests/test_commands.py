"""Every console command is installed and answers --help."""

from __future__ import annotations

import subprocess

import pytest

from tests.conftest import console_script

BUILT = [
    "pegasus-kickstart", "pegasus-transfer", "pegasus-integrity", "pegasus-lite",
    "pegasus-plan", "pegasus-run", "pegasus-statistics", "pegasus-analyzer",
]  # fmt: skip


@pytest.mark.parametrize("name", BUILT[1:])
def test_built_commands_answer_help(name):
    done = subprocess.run([*console_script(name), "--help"], capture_output=True, text=True)
    assert done.returncode == 0
    assert "usage:" in done.stdout.lower() and "not built yet" not in done.stdout


def test_kickstart_is_installed_as_a_lean_launcher():
    (path,) = console_script("pegasus-kickstart")
    with open(path) as fh:
        text = fh.read()
    assert "import re" not in text  # see bin/pegasus-kickstart
    assert subprocess.run([path, "-V"], capture_output=True, check=False).returncode == 0
