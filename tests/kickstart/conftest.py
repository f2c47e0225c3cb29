"""Run pegasus-kickstart as users do (the installed command) and read what it wrote."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.conftest import console_script


class KsRun:
    def __init__(self, proc: subprocess.CompletedProcess, record_path: Path):
        self.rc = proc.returncode
        self.stdout = proc.stdout
        self.stderr = proc.stderr.decode("utf-8", "replace")
        self.record_path = record_path
        record_path.write_bytes(proc.stdout)
        self.records = yaml.safe_load(proc.stdout) if proc.stdout.strip() else None

    @property
    def record(self) -> dict:
        """The one record written; fails the test if there is not exactly one."""
        assert self.records and len(self.records) == 1, self.stdout
        assert self.records[0]["invocation"] is True
        return self.records[0]


@pytest.fixture
def ks(tmp_path):
    """ks(*args, env=None, cwd=None, timeout=60) -> KsRun; the record goes to stdout."""
    counter = iter(range(1000))

    def run(*args, env=None, cwd=None, timeout=60, stdin=subprocess.DEVNULL):
        full_env = dict(os.environ)
        full_env.update(env or {})
        proc = subprocess.run(
            [*console_script("pegasus-kickstart"), *map(str, args)],
            cwd=cwd or tmp_path,
            env=full_env,
            stdin=stdin,
            capture_output=True,
            timeout=timeout,
            check=False,
        )
        return KsRun(proc, tmp_path / ("record-%d.yaml" % next(counter)))

    return run
