"""A full disk is a clear one-line failure, never a traceback, never a partial file.

Each test mounts a small tmpfs (2 MiB) as the place that fills up: lite's work dir
(PEGASUS_WN_TMP), a stage-out destination, the job's start dir, pegasus-transfer's
destination, the local engine's scratch dir.  Mounting needs root: CI runs as root, so
there a failed mount is a failure; elsewhere the tests skip and say why.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
from pathlib import Path

import pytest

from tests.conftest import console_script
from tests.planner.test_engine import SubmitDir

SIZE = 2 << 20
BIG = 3 << 20  # does not fit


@contextlib.contextmanager
def tmpfs(path: Path, size: int = SIZE):
    path.mkdir(parents=True, exist_ok=True)
    try:
        proc = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", "size=%d" % size, "tmpfs", str(path)],
            capture_output=True, text=True,
        )  # fmt: skip
        failed = proc.stderr.strip() or "mount exited %d" % proc.returncode
        problem = failed if proc.returncode else ""
    except OSError as exc:  # no mount command
        problem = str(exc)
    if problem:
        message = "cannot mount a tmpfs at %s (needs root): %s" % (path, problem)
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], capture_output=True)


def everything(root: Path) -> list[str]:
    """Every name under ``root``, hidden ones included."""
    return sorted(str(p.relative_to(root)) for p in root.rglob("*"))


def fill(directory: Path) -> None:
    """Fill the file system of ``directory`` until not a byte is left."""
    fd = os.open(directory / ".filler", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        block = b"\0" * 65536
        while True:
            try:
                os.write(fd, block)
            except OSError:
                if len(block) == 1:
                    return
                block = block[: len(block) // 2]
    finally:
        os.close(fd)


class Node:
    def __init__(self, root: Path):
        self.root = root
        self.start = root / "start"
        self.wn = root / "wn"
        self.data = root / "data"
        self.out = root / "out"
        for d in (self.start, self.wn, self.data, self.out):
            d.mkdir(exist_ok=True)
        (self.data / "big").write_bytes(os.urandom(BIG))
        (self.data / "small").write_bytes(b"small input\n")

    def lite(self, spec: dict, then=None) -> subprocess.CompletedProcess:
        (self.start / "job.json").write_text(json.dumps(spec))
        if then is not None:
            then()
        env = dict(os.environ, PEGASUS_WN_TMP=str(self.wn), PEGASUS_WN_TMP_MIN_SPACE="1")
        return subprocess.run(
            [*console_script("pegasus-lite"), "job.json"],
            cwd=self.start, env=env, capture_output=True, text=True, timeout=120,
        )  # fmt: skip

    def spec(self, script: str, inputs=("small",), dest: Path | None = None) -> dict:
        return {
            "version": 1,
            "job": {"id": "ID0000001", "name": "full_ID0000001"},
            "tasks": [{"executable": {"path": "/bin/sh"}, "arguments": ["-c", script]}],
            "inputs": [{"lfn": name, "sources": [{"url": "file://%s" % (self.data / name)}]}
                       for name in inputs],
            "outputs": [{"lfn": "out.txt", "destinations": [
                {"url": "file://%s/out.txt" % (dest or self.out)}]}],
        }  # fmt: skip


@pytest.fixture
def node(tmp_path: Path) -> Node:
    return Node(tmp_path)


def one_error(proc: subprocess.CompletedProcess) -> str:
    """The job's single ``Error:`` line; no traceback anywhere."""
    assert "Traceback" not in proc.stderr, proc.stderr
    errors = [line for line in proc.stderr.splitlines() if ": Error: " in line]
    assert len(errors) == 1, proc.stderr
    assert proc.stderr.rstrip().splitlines()[-1] == "PegasusLite: exitcode %d" % proc.returncode
    return errors[0]


def names_the_space_problem(line: str) -> None:
    assert "no space left on device" in line.lower(), line


def test_stage_in_that_fills_the_work_dir_fails_the_job_with_71(node):
    with tmpfs(node.wn):
        proc = node.lite(node.spec("touch ran; cp big out.txt", inputs=("small", "big")))
        assert proc.returncode == 71, proc.stderr
        line = one_error(proc)
        assert "stage-in failed: big: " in line
        names_the_space_problem(line)
        assert "failed on try 2" not in proc.stderr  # a full disk is not retried
        assert everything(node.wn) == []  # the work dir, partial file and all, is gone
    assert list(node.out.iterdir()) == []


def test_a_task_that_fills_the_work_dir_keeps_its_exit_code_and_the_log_says_why(node):
    with tmpfs(node.wn):
        proc = node.lite(node.spec("head -c %d /dev/zero > out.txt" % BIG))
        assert proc.returncode == 1, proc.stderr  # head's own code, as Pegasus reports it
        assert "Traceback" not in proc.stderr
        assert "is full (no space left on its file system)" in proc.stderr
        assert "outputs are not staged out" in proc.stderr
        assert everything(node.wn) == []
    assert list(node.out.iterdir()) == []


def test_stage_out_to_a_full_destination_leaves_nothing_there(node):
    dest = node.root / "dest"
    with tmpfs(dest):
        proc = node.lite(node.spec("cp big out.txt", inputs=("big",), dest=dest / "sub"))
        assert proc.returncode == 71, proc.stderr
        line = one_error(proc)
        assert "stage-out failed" in line and "out.txt: " in line
        names_the_space_problem(line)
        assert everything(dest) in ([], ["sub"])  # no partial, no temporary file
        assert everything(node.wn) == []
        assert not list(node.start.glob("*.tmp*"))


def test_a_full_start_dir_where_the_meta_goes_is_a_wrapper_failure(node):
    with tmpfs(node.start):
        proc = node.lite(node.spec("cp small out.txt"), then=lambda: fill(node.start))
        assert proc.returncode == 71, proc.stderr
        line = one_error(proc)
        assert "full_ID0000001.meta" in line
        names_the_space_problem(line)
        assert everything(node.start) == [".filler", "job.json"]  # no .meta.tmp left
        assert everything(node.wn) == []
    assert list(node.out.iterdir()) == []  # a job whose checksums could not be kept is not
    # staged out


def test_pegasus_transfer_to_a_full_destination(node):
    dest = node.root / "dest"
    entries = [
        {"type": "transfer", "lfn": name, "src_urls": [{"url": "file://%s" % (node.data / name)}],
         "dest_urls": [{"url": "file://%s/a/%s" % (dest, name)}]}
        for name in ("small", "big")
    ]  # fmt: skip
    (node.start / "t.json").write_text(json.dumps(entries))
    with tmpfs(dest):
        proc = subprocess.run(
            [*console_script("pegasus-transfer"), "-f", "t.json", "-n", "1"],
            cwd=node.start, capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        assert proc.returncode == 1, proc.stderr
        assert "Traceback" not in proc.stderr
        failures = [line for line in proc.stderr.splitlines() if "giving up" in line]
        assert len(failures) == 1, proc.stderr
        assert failures[0].split()[3:4] == ["big:"] or " big: " in failures[0]
        names_the_space_problem(failures[0])
        assert everything(dest) == ["a", "a/small"]  # the one that fit, whole; no temp
        assert (dest / "a" / "small").read_bytes() == b"small input\n"


def test_engine_scratch_too_small_for_the_inputs_fails_the_attempt_cleanly(tmp_path):
    sd = SubmitDir(tmp_path)
    big = tmp_path / "big.bin"
    big.write_bytes(os.urandom(BIG))
    jobdir = sd.job("needs_room", "cp big.bin out.txt", inputs=[str(big)], outputs=["out.txt"])
    with tmpfs(sd.scratch):
        proc = sd.run()
        assert proc.returncode == 1
        assert "Traceback" not in proc.stderr
        message = (jobdir / "needs_room.err.000").read_text()
        assert "transfer_input_files" in message and "No space left on device" in message
        assert everything(sd.scratch) == []  # the attempt's scratch dir is gone
    assert not (sd.work / "out.txt").exists()
