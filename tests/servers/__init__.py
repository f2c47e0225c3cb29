"""Real servers for the tests, started on 127.0.0.1 at free ports and stopped afterwards.

In CI (``CI=true``) a server that cannot start fails the test that needs it; elsewhere the
test is skipped with the reason, so a developer sees what is missing.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

import pytest


class ServerUnavailable(Exception):
    """The server's program is missing or it did not come up."""


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


def unavailable(reason: str) -> None:
    """Fail in CI, skip elsewhere: never a silent skip where the suite must prove things."""
    if in_ci():
        pytest.fail("required test server unavailable in CI: %s" % reason, pytrace=False)
    pytest.skip(reason)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def find_program(name: str, *extra_dirs: str) -> str:
    path = shutil.which(name) or next(
        (os.path.join(d, name) for d in extra_dirs if os.access(os.path.join(d, name), os.X_OK)),
        None,
    )
    if path is None:
        raise ServerUnavailable("%s is not installed (scripts/test.sh installs it)" % name)
    return path


def wait_for_port(port: int, proc: subprocess.Popen, deadline: float) -> None:
    """Poll until the port accepts connections, the process dies, or the deadline passes."""
    while True:
        if proc.poll() is not None:
            raise ServerUnavailable("exited with status %s before listening" % proc.returncode)
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise ServerUnavailable("not listening on 127.0.0.1:%d in time" % port)
        time.sleep(0.05)


class ManagedServer:
    """One server process with its own scratch directory and log."""

    name = "server"
    start_timeout = 20.0

    def __init__(self, workdir: Path):
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.proc: subprocess.Popen | None = None
        self.log_path = self.workdir / ("%s.log" % self.name)

    def command(self) -> list[str]:
        raise NotImplementedError

    def start(self) -> ManagedServer:
        cmd = self.command()
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                cmd, stdout=log, stderr=subprocess.STDOUT, cwd=self.workdir, start_new_session=True
            )
        try:
            wait_for_port(self.port, self.proc, time.monotonic() + self.start_timeout)
        except ServerUnavailable as exc:
            self.stop()
            raise ServerUnavailable("%s: %s; log: %s" % (self.name, exc, self.log_tail())) from None
        return self

    def log_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)

    @property
    def url(self) -> str:
        return "http://127.0.0.1:%d" % self.port


def start_or_skip(server: ManagedServer) -> ManagedServer:
    try:
        return server.start()
    except ServerUnavailable as exc:
        unavailable(str(exc))
        raise  # unreachable: unavailable() always raises
