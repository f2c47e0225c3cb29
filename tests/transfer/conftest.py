"""Fixtures for the transfer tests: the loopback servers, and a runner for the CLI."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from tests.conftest import console_script
from tests.servers.fixtures import (  # noqa: F401 - fixtures for this directory's tests
    ftp_server,
    gcs_server,
    https_server,
    s3_server,
    s3_tls_server,
    sshd_server,
    webdav_server,
)


class TransferRun:
    def __init__(self, proc: subprocess.CompletedProcess, report: Path):
        self.rc = proc.returncode
        self.stdout = proc.stdout
        self.stderr = proc.stderr
        self.report = json.loads(report.read_text()) if report.exists() else None


@pytest.fixture
def pegasus_transfer(tmp_path):
    """pegasus_transfer(entries, *flags, env=None, cwd=None) runs the installed command on a
    JSON list (or raw text) given on stdin and returns rc, stdout, stderr and the JSON report."""

    def run(entries, *flags, env=None, cwd=None, timeout=120):
        text = entries if isinstance(entries, str) else json.dumps(entries)
        report = tmp_path / "report.json"
        if report.exists():
            report.unlink()
        full_env = dict(os.environ)
        full_env.update(env or {})
        proc = subprocess.run(
            [*console_script("pegasus-transfer"), "--json-report", str(report), *flags],
            input=text,
            capture_output=True,
            text=True,
            cwd=cwd or tmp_path,
            env=full_env,
            timeout=timeout,
            check=False,
        )
        return TransferRun(proc, report)

    return run


def transfer(src: str, dst: str, lfn: str = "f", **extra) -> dict:
    """One transfer entry as the planner writes it."""
    entry = {
        "type": "transfer",
        "lfn": lfn,
        "linkage": "input",
        "src_urls": [{"site_label": "src", "url": src}],
        "dest_urls": [{"site_label": "dst", "url": dst}],
    }
    entry.update(extra)
    return entry


def target(kind: str, url: str, site: str = "dst", recursive: bool = False) -> dict:
    """A mkdir or remove entry as the planner writes it."""
    entry = {"type": kind, "target": {"site_label": site, "url": url}}
    if kind == "remove":
        entry["target"]["recursive"] = recursive
    return entry


def leftovers(directory) -> list[str]:
    """Every name in a destination directory (temporary .part files included)."""
    return sorted(os.listdir(directory)) if os.path.isdir(directory) else []
