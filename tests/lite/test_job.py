"""pegasus-lite runs a job spec end to end; Pegasus's own pegasus-exitcode judges the result."""

from __future__ import annotations

import hashlib
import http.server
import json
import os
import signal
import subprocess
import threading
import time
from pathlib import Path

import pytest
import yaml

from tests.conftest import console_script
from tests.procs import WRITE_SYSCALL, has_open, writing_to_stdout

exitcode = pytest.importorskip("Pegasus.exitcode", reason="pegasus-wms is a test dependency")


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


class LiteRun:
    def __init__(self, rc: int, out: Path, err: Path):
        self.rc = rc
        self.out_path = out
        self.err_path = err
        self.stdout = out.read_text()
        self.stderr = err.read_text()

    @property
    def records(self) -> list[dict]:
        text = self.stdout.split("\n---------------pegasus-multipart\n")[0]
        return yaml.safe_load(text) or []

    def pegasus_exitcode_accepts(self) -> bool:
        """What DAGMan's POST script decides, with the success message PegasusLite jobs get."""
        try:
            exitcode.exitcode(
                str(self.out_path),
                dagman_job_status=self.rc,
                rename=False,
                success_messages=["PegasusLite: exitcode 0"],
                generate_meta=False,
            )
        except exitcode.JobFailed:
            return False
        return True


@pytest.fixture
def job(tmp_path):
    """job(spec_dict, env=None) runs pegasus-lite in a fresh 'HTCondor scratch' directory."""
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    wn_tmp = tmp_path / "wn"
    wn_tmp.mkdir()

    def run(spec: dict, env: dict | None = None, name: str = "job") -> LiteRun:
        (scratch / "job.json").write_text(json.dumps(spec))
        out, err = scratch / (name + ".out"), scratch / (name + ".err")
        full_env = dict(os.environ, PEGASUS_WN_TMP=str(wn_tmp), PEGASUS_WN_TMP_MIN_SPACE="1")
        full_env.update(env or {})
        with open(out, "w") as fo, open(err, "w") as fe:
            rc = subprocess.call(
                [*console_script("pegasus-lite"), "job.json"],
                cwd=scratch, stdout=fo, stderr=fe, env=full_env, timeout=120,
            )  # fmt: skip
        return LiteRun(rc, out, err)

    run.scratch = scratch
    run.wn_tmp = wn_tmp
    return run


def spec_for(tmp_path: Path, script: str, outputs=("out.txt",), **extra) -> dict:
    data = tmp_path / "data"
    data.mkdir(exist_ok=True)
    (data / "in.txt").write_text("some input\n")
    spec = {
        "version": 1,
        "job": {"id": "ID0000001", "name": "job_ID0000001", "site": "condorpool",
                "workflow": {"name": "diamond", "uuid": "wf-uuid", "stamp": "2026-11-21"}},
        "tasks": [{"transformation": "demo::sh", "executable": {"path": "/bin/sh"},
                   "arguments": ["-c", script]}],
        "inputs": [{"lfn": "in.txt", "sha256": sha(data / "in.txt"),
                    "sources": [{"url": "file://%s" % (data / "in.txt"), "site": "local"}]}],
        "outputs": [{"lfn": name, "destinations": [{"url": "file://%s/out/%s" % (tmp_path, name)}]}
                    for name in outputs],
    }  # fmt: skip
    spec.update(extra)
    return spec


def test_success(job, tmp_path):
    run = job(spec_for(tmp_path, "wc -c < in.txt > out.txt"))
    assert run.rc == 0, run.stderr
    assert (tmp_path / "out" / "out.txt").read_text().strip() == "11"
    assert run.stderr.rstrip().splitlines()[-1] == "PegasusLite: exitcode 0"
    (record,) = run.records
    assert record["transformation"] == "demo::sh"
    assert record["derivation"] == "ID0000001"
    assert record["files"]["in.txt"]["size"] == 11
    assert record["files"]["out.txt"]["sha256"] == sha(tmp_path / "out" / "out.txt")
    meta = json.loads((job.scratch / "job_ID0000001.meta").read_text())
    assert meta[0]["_id"] == "out.txt"
    assert meta[0]["_attributes"]["checksum.value"] == sha(tmp_path / "out" / "out.txt")
    assert list(job.wn_tmp.iterdir()) == []  # work dir removed
    assert run.pegasus_exitcode_accepts()


def test_task_failure_keeps_its_exit_code(job, tmp_path):
    run = job(spec_for(tmp_path, "echo partial > out.txt; exit 3"))
    assert run.rc == 3
    assert not (tmp_path / "out" / "out.txt").exists()
    assert run.stderr.rstrip().endswith("PegasusLite: exitcode 3")
    assert not run.pegasus_exitcode_accepts()


def test_missing_output_is_a_wrapper_failure(job, tmp_path):
    run = job(spec_for(tmp_path, "true"))
    assert run.rc == 71
    assert "declared output missing: out.txt" in run.stderr
    assert not run.pegasus_exitcode_accepts()


def test_optional_output_may_be_missing(job, tmp_path):
    spec = spec_for(tmp_path, "true")
    spec["outputs"][0]["optional"] = True
    assert job(spec).rc == 0


def test_input_checksum_mismatch_stops_before_the_task(job, tmp_path):
    spec = spec_for(tmp_path, "touch ran; echo x > out.txt")
    spec["inputs"][0]["sha256"] = "0" * 64
    run = job(spec)
    assert run.rc == 71
    assert "stage-in failed" in run.stderr
    assert run.records == []
    assert not run.pegasus_exitcode_accepts()


def test_stage_out_failure_fails_the_job(job, tmp_path):
    spec = spec_for(tmp_path, "echo x > out.txt")
    blocker = tmp_path / "blocked"
    blocker.write_text("a file where a directory is needed")
    spec["outputs"][0]["destinations"] = [{"url": "file://%s/out.txt" % blocker}]
    run = job(spec)
    assert run.rc == 71
    assert "stage-out failed" in run.stderr
    assert not run.pegasus_exitcode_accepts()


@pytest.mark.parametrize(
    "broken, field",
    [
        ({"version": 2}, "spec.version"),
        ({"tasks": []}, "spec.tasks"),
        ({"inputs": [{"lfn": "../escape", "sources": [{"url": "/x"}]}]}, "spec.inputs[0].lfn"),
        ({"outputs": [{"lfn": "/abs"}]}, "spec.outputs[0].lfn"),
        ({"container": {"runtime": "lxc", "image": "x"}}, "spec.container.runtime"),
        ({"surprise": 1}, "unknown field 'surprise'"),
    ],
)
def test_bad_spec_names_the_field(job, tmp_path, broken, field):
    spec = spec_for(tmp_path, "true")
    spec.update(broken)
    run = job(spec)
    assert run.rc == 71
    assert field in run.stderr
    assert "Traceback" not in run.stderr


def test_walltime_stops_the_task(job, tmp_path):
    spec = spec_for(tmp_path, "sleep 30")
    spec["tasks"][0]["walltime"] = 1
    started = time.monotonic()
    run = job(spec)
    assert time.monotonic() - started < 25
    assert run.rc == 14  # kickstart's timeout code, as a PegasusLite job reports it
    assert run.records[0]["mainjob"]["status"]["timeout"] is True


def test_clustered_tasks_run_in_order_each_with_a_record(job, tmp_path):
    spec = spec_for(tmp_path, "echo one > out.txt")
    spec["tasks"].append({"transformation": "demo::second", "executable": {"path": "/bin/sh"},
                          "arguments": ["-c", "echo two >> out.txt"]})  # fmt: skip
    run = job(spec)
    assert run.rc == 0, run.stderr
    assert [r["transformation"] for r in run.records] == ["demo::sh", "demo::second"]
    assert "machine" in run.records[0] and "machine" not in run.records[1]
    assert (tmp_path / "out" / "out.txt").read_text() == "one\ntwo\n"


def alive(pid: int) -> bool:
    try:
        return Path("/proc/%d/stat" % pid).read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def wait_for(predicate, timeout=20.0):
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def test_term_during_the_task_stops_the_tree_and_cleans_up(job, tmp_path):
    marker = tmp_path / "started"
    script = "sleep 60 & echo $! > %s.child; touch %s; wait" % (marker, marker)
    (job.scratch / "job.json").write_text(json.dumps(spec_for(tmp_path, script)))
    env = dict(os.environ, PEGASUS_WN_TMP=str(job.wn_tmp), PEGASUS_WN_TMP_MIN_SPACE="1")
    proc = subprocess.Popen(
        [*console_script("pegasus-lite"), "job.json"], cwd=job.scratch, env=env,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        wait_for(marker.exists)
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert proc.returncode == 143
    assert err.rstrip().endswith("PegasusLite: exitcode 143")
    record = yaml.safe_load(out.split("\n---------------pegasus-multipart\n")[0])[0]
    assert record["mainjob"]["status"]["forwarded_signals"] == [15]
    child = int(Path(str(marker) + ".child").read_text())
    wait_for(lambda: not alive(child))
    assert list(job.wn_tmp.iterdir()) == []


def test_term_during_stage_in_is_never_exit_0(job, tmp_path):
    fifo = tmp_path / "never-written"
    os.mkfifo(fifo)
    spec = spec_for(tmp_path, "true")
    spec["inputs"][0]["sources"] = [{"url": "file://%s" % fifo}]
    spec["inputs"][0].pop("sha256")
    (job.scratch / "job.json").write_text(json.dumps(spec))
    env = dict(os.environ, PEGASUS_WN_TMP=str(job.wn_tmp), PEGASUS_WN_TMP_MIN_SPACE="1")
    proc = subprocess.Popen(
        [*console_script("pegasus-lite"), "job.json"], cwd=job.scratch, env=env,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 20
        seen = ""
        while "Staging in input data" not in seen and time.monotonic() < deadline:
            seen += proc.stderr.readline()
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert proc.returncode == 143
    assert "Caught TERM signal! Aborting..." in err
    assert list(job.wn_tmp.iterdir()) == []


def start_lite(job, spec: dict) -> subprocess.Popen:
    (job.scratch / "job.json").write_text(json.dumps(spec))
    env = dict(os.environ, PEGASUS_WN_TMP=str(job.wn_tmp), PEGASUS_WN_TMP_MIN_SPACE="1")
    return subprocess.Popen(
        [*console_script("pegasus-lite"), "job.json"], cwd=job.scratch, env=env,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip


def term_and_collect(proc: subprocess.Popen) -> str:
    try:
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=30)
    finally:
        proc.kill()
    return err


def test_term_during_the_output_check(job, tmp_path):
    """The task leaves a 1 TiB (sparse) output: hashing it takes minutes, TERM comes first."""
    spec = spec_for(tmp_path, "truncate -s 1T out.txt && touch %s" % (tmp_path / "task-done"))
    proc = start_lite(job, spec)
    wait_for((tmp_path / "task-done").exists)
    (workdir,) = job.wn_tmp.iterdir()
    wait_for(lambda: has_open(proc.pid, workdir / "out.txt"))
    err = term_and_collect(proc)
    assert proc.returncode == 143
    assert err.rstrip().endswith("PegasusLite: exitcode 143")
    assert list(job.wn_tmp.iterdir()) == []
    assert not (tmp_path / "out" / "out.txt").exists()


def test_an_output_left_as_a_fifo_fails_the_job_at_once(job, tmp_path):
    """Nobody writes the FIFO: reading it (to hash or to stage it) would never end."""
    run = job(spec_for(tmp_path, "mkfifo out.txt"))
    assert run.rc == 1, run.stderr  # kickstart's verdict on a failed output checksum
    assert "Output out.txt is a FIFO, not a regular file: it has no checksum" in run.stderr
    (record,) = run.records
    assert record["files"]["out.txt"]["integrity_error"] == (
        "failed creating a checksum: not a regular file"
    )
    assert not (tmp_path / "out" / "out.txt").exists()
    assert list(job.wn_tmp.iterdir()) == []
    assert not run.pegasus_exitcode_accepts()


def test_multipart_files_that_are_no_regular_files_are_skipped(job, tmp_path):
    """A FIFO would block the end of the job forever; a link could print any file."""
    script = (
        'cat in.txt > out.txt; cd "$PEGASUS_MULTIPART_DIR"; mkfifo 1-fifo;'
        " ln -s /etc/passwd 2-link; printf 'kept: yes\\n' > 3-block"
    )
    run = job(spec_for(tmp_path, script))
    assert run.rc == 0, run.stderr
    assert "Multipart file 1-fifo skipped: not a regular file" in run.stderr
    assert "Multipart file 2-link skipped: a symbolic link" in run.stderr
    blocks = run.stdout.split("\n---------------pegasus-multipart\n")[1:]
    assert blocks[-1] == "kept: yes\n"
    assert "root:" not in run.stdout
    assert list(job.wn_tmp.iterdir()) == []


def test_term_reaching_the_task_skips_hashing_its_outputs(job, tmp_path):
    """TERM arrives while the task runs (it signals pegasus-lite itself) and its output is a
    FIFO nobody writes: hashing it would block forever, so a stopping job must not hash."""
    spec = spec_for(tmp_path, "mkfifo out.txt; kill -TERM $PPID; sleep 30")
    proc = start_lite(job, spec)
    try:
        out, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 143, err
    record = yaml.safe_load(out.split("\n---------------pegasus-multipart\n")[0])[0]
    assert record["mainjob"]["status"]["forwarded_signals"] == [15]
    assert "sha256" not in record["files"]["out.txt"]
    assert list(job.wn_tmp.iterdir()) == []


@pytest.mark.skipif(WRITE_SYSCALL is None, reason="write's syscall number unknown here")
def test_term_during_cleanup_is_never_exit_0(job, tmp_path):
    """Cleanup writes the multipart block to stdout; with a large block and nobody reading
    the pipe yet, the job waits there, and TERM arrives in that phase."""
    spec = spec_for(tmp_path, "cat in*.txt > out.txt")
    data = tmp_path / "data"
    inputs = []
    for i in range(10):
        (data / ("in%d.txt" % i)).write_text("part %d\n" % i)
        missing = [{"url": "file://%s/missing-%d-%d" % (data, i, j)} for j in range(30)]
        good = {"url": "file://%s" % (data / ("in%d.txt" % i))}
        inputs.append({"lfn": "in%d.txt" % i, "sources": [*missing, good]})
    spec["inputs"] = inputs  # 310 transfer attempts: a multipart block of ~90 KiB
    proc = start_lite(job, spec)
    try:
        seen = ""
        deadline = time.monotonic() + 60
        while "Staging out output files" not in seen and time.monotonic() < deadline:
            seen += proc.stderr.readline()
        wait_for(lambda: writing_to_stdout(proc.pid))
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 143, err
    assert "Caught TERM signal during cleanup; finishing it" in err
    assert err.rstrip().endswith("PegasusLite: exitcode 143")
    assert (tmp_path / "out" / "out.txt").exists()  # the job itself had finished its work
    assert "---------------pegasus-multipart" in out
    assert list(job.wn_tmp.iterdir()) == []


class _Stall(http.server.BaseHTTPRequestHandler):
    """Takes a request and never answers (until the test ends)."""

    release = None
    seen = None

    def _stall(self):
        self.seen.set()
        self.release.wait(60)

    do_PUT = do_MKCOL = do_PROPFIND = do_GET = do_HEAD = _stall

    def log_message(self, *args):
        pass


def test_term_during_stage_out(job, tmp_path):
    _Stall.release, _Stall.seen = threading.Event(), threading.Event()
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Stall)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        spec = spec_for(tmp_path, "echo result > out.txt")
        url = "webdav://127.0.0.1:%d/out/out.txt" % server.server_address[1]
        spec["outputs"][0]["destinations"] = [{"url": url, "site": "dav"}]
        proc = start_lite(job, spec)
        assert _Stall.seen.wait(30), "stage-out never reached the server"
        err = term_and_collect(proc)
    finally:
        _Stall.release.set()
        server.shutdown()
    assert proc.returncode == 143
    assert "Caught TERM signal! Aborting..." in err
    assert list(job.wn_tmp.iterdir()) == []


# ---------------------------------------------------------------- success and failure messages


def test_missing_success_message_fails_the_task(job, tmp_path):
    spec = spec_for(tmp_path, "echo working; echo x > out.txt")
    spec["tasks"][0]["success_message"] = "all done"
    run = job(spec)
    assert run.rc == 1
    assert "The task counts as failed: its output lacks the success message 'all done'" in (
        run.stderr
    )
    assert not (tmp_path / "out" / "out.txt").exists()  # a failed task's outputs stay
    assert run.records[0]["mainjob"]["status"]["regular_exitcode"] == 0
    assert not run.pegasus_exitcode_accepts()


def test_success_message_in_stderr_is_enough(job, tmp_path):
    spec = spec_for(tmp_path, "echo x > out.txt; echo 'run: all done' >&2")
    spec["tasks"][0]["success_message"] = "all done"
    run = job(spec)
    assert run.rc == 0, run.stderr
    assert "counts as failed" not in run.stderr
    assert run.pegasus_exitcode_accepts()


def test_failure_message_fails_a_task_that_exited_0(job, tmp_path):
    spec = spec_for(tmp_path, "echo x > out.txt; echo 'FATAL: disk quota' >&2")
    spec["tasks"][0]["failure_message"] = "FATAL:"
    run = job(spec)
    assert run.rc == 1
    assert "The task counts as failed: its output has the failure message 'FATAL:'" in run.stderr
    assert run.stderr.rstrip().endswith("PegasusLite: exitcode 1")


def test_failure_message_keeps_the_exit_code_of_a_failed_task(job, tmp_path):
    spec = spec_for(tmp_path, "echo 'FATAL: no' ; exit 3")
    spec["tasks"][0]["failure_message"] = "FATAL:"
    run = job(spec)
    assert run.rc == 3
    assert "its output has the failure message 'FATAL:'" in run.stderr


def test_messages_are_looked_for_in_named_stdout_files(job, tmp_path):
    spec = spec_for(tmp_path, "echo 'result: converged'", outputs=("result.log",))
    spec["tasks"][0].update(stdout="result.log", success_message="converged")
    run = job(spec)
    assert run.rc == 0, run.stderr
    assert (tmp_path / "out" / "result.log").read_text() == "result: converged\n"
    spec["tasks"][0]["success_message"] = "diverged"
    assert job(spec).rc == 1


# ---------------------------------------------------------------- task stdin/stdout/stderr files


def test_task_streams_go_to_named_files(job, tmp_path):
    spec = spec_for(tmp_path, "tr a-z A-Z; echo warn >&2", outputs=("upper.txt", "warn.txt"))
    spec["tasks"][0].update(stdin="in.txt", stdout="upper.txt", stderr="warn.txt")
    run = job(spec)
    assert run.rc == 0, run.stderr
    assert (tmp_path / "out" / "upper.txt").read_text() == "SOME INPUT\n"
    assert (tmp_path / "out" / "warn.txt").read_text() == "warn\n"
    files = run.records[0]["files"]
    assert files["stdout"]["file_name"].endswith("/upper.txt")
    assert "data" not in files["stdout"]
    assert files["upper.txt"]["sha256"] == sha(tmp_path / "out" / "upper.txt")


# ---------------------------------------------------------------- condorio inputs


def condorio_spec(tmp_path: Path, lfn: str, sha256: str | None = None) -> dict:
    spec = spec_for(tmp_path, "cat %s > out.txt" % lfn)
    spec["inputs"] = [{"lfn": lfn, **({"sha256": sha256} if sha256 else {})}]
    return spec


def write_parent_meta(directory: Path, lfn: str, sha256: str) -> None:
    entry = {"_id": lfn, "_type": "file",
             "_attributes": {"checksum.type": "sha256", "checksum.value": sha256}}  # fmt: skip
    (directory / "parent_ID0000000.meta").write_text(json.dumps([entry]))


def test_condorio_deep_lfn_is_found_by_its_base_name(job, tmp_path):
    (job.scratch / "c.txt").write_text("deep input\n")
    run = job(condorio_spec(tmp_path, "a/b/c.txt"))
    assert run.rc == 0, run.stderr
    assert (tmp_path / "out" / "out.txt").read_text() == "deep input\n"
    assert run.records[0]["files"]["a/b/c.txt"]["size"] == 11


def test_condorio_input_verified_against_the_parents_meta(job, tmp_path):
    (job.scratch / "c.txt").write_text("deep input\n")
    write_parent_meta(job.scratch, "a/b/c.txt", sha(job.scratch / "c.txt"))
    assert job(condorio_spec(tmp_path, "a/b/c.txt")).rc == 0


def test_condorio_input_differing_from_the_parents_meta_fails(job, tmp_path):
    (job.scratch / "c.txt").write_text("tampered\n")
    write_parent_meta(job.scratch, "a/b/c.txt", "ab" * 32)
    run = job(condorio_spec(tmp_path, "a/b/c.txt"))
    assert run.rc == 71
    assert "Error: input a/b/c.txt: sha256 %s, expected %s (from a .meta file)" % (
        sha(job.scratch / "c.txt"), "ab" * 32,
    ) in run.stderr  # fmt: skip
    assert run.records == []  # the task never ran


def test_condorio_spec_checksum_wins_over_the_meta(job, tmp_path):
    (job.scratch / "f.txt").write_text("data\n")
    write_parent_meta(job.scratch, "f.txt", "cd" * 32)  # stale: the spec's value counts
    assert job(condorio_spec(tmp_path, "f.txt", sha(job.scratch / "f.txt"))).rc == 0


def test_condorio_missing_input_names_it(job, tmp_path):
    run = job(condorio_spec(tmp_path, "a/b/never.txt"))
    assert run.rc == 71
    assert "input a/b/never.txt was to be provided by the batch system, but is not in %s" % (
        job.scratch
    ) in run.stderr  # fmt: skip


def test_a_message_across_two_read_blocks_is_found(tmp_path):
    from lite.job import _file_contains

    path = tmp_path / "big.log"
    path.write_bytes(b"x" * ((1 << 20) - 3) + b"MARKER" + b"y" * 10)
    assert _file_contains(str(path), "MARKER")
    assert _file_contains(str(path), "xMARKERy")
    assert not _file_contains(str(path), "MARKERz")
    assert not _file_contains(str(tmp_path / "absent"), "x")
    short = tmp_path / "short.log"
    short.write_bytes(b"ab")
    assert not _file_contains(str(short), "abc")


def test_metadata_reaches_the_record(job, tmp_path):
    spec = spec_for(tmp_path, "wc -c < in.txt > out.txt", metadata={"project": "demo"})
    spec["tasks"][0]["metadata"] = {"owner": "me", "run": "7"}
    spec["outputs"][0]["metadata"] = {"kind": "count"}
    run = job(spec)
    assert run.rc == 0, run.stderr
    (record,) = run.records
    assert record["metadata"] == {
        "workflow": {"project": "demo"},
        "job": {"owner": "me", "run": "7"},
        "files": {"out.txt": {"kind": "count"}},
    }
    assert run.pegasus_exitcode_accepts()
