"""Every console command is installed; the ones not built yet say so instead of pretending."""

from __future__ import annotations

import subprocess

import pytest

from tests.conftest import console_script

PLACEHOLDERS = ["pegasus-plan"]
BUILT = ["pegasus-kickstart", "pegasus-transfer", "pegasus-integrity", "pegasus-lite"]


@pytest.mark.parametrize("name", PLACEHOLDERS)
def test_placeholder_answers_help_and_refuses_work(name):
    cmd = console_script(name)
    help_run = subprocess.run([*cmd, "--help"], capture_output=True, text=True, check=False)
    assert help_run.returncode == 0
    assert "not built yet" in help_run.stdout.replace("\n", " ").lower()
    work = subprocess.run([*cmd, "job.json"], capture_output=True, text=True, check=False)
    assert work.returncode == 1
    assert work.stderr.strip().startswith("%s: not built yet" % name)


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
