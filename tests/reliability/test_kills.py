"""Kills: TERM to a job in each of its phases, and KILL of the local engine under it.

A job is held in one phase at a time, deterministically (no sleeps): the container image
load (a Docker socket proxy that never answers ``images/load``), stage-in (a FIFO source
with a writer that never writes), the task (a process tree that waits), the task in a
container, the output check (a 1 TiB sparse output: hashing it takes minutes), stage-out
(a WebDAV server that never answers) and cleanup (a multipart block larger than the stdout
pipe nobody reads yet: lite waits in write()).  Then:

* TERM to pegasus-lite: the exit is 143, never 0; the log ends with ``PegasusLite: exitcode
  143``; stdout parses (the records of tasks that ran, the transfer blocks) and Pegasus's
  own pegasus-exitcode rejects the job; no process carrying the test's marker is left (the
  /proc scan reads every process's environment and command line), no container; the work
  dir is gone; no partial output at the destination.
* KILL -9 of the local engine while a bundled job is in that phase (all but cleanup: the
  engine writes the job's stdout to a file, nothing holds it there): the forked job gets
  SIGTERM (PR_SET_PDEATHSIG) and does all of the above (its record in the submit dir), the
  job's scratch dir goes too; then ``pegasus-run`` resumes: the job that had succeeded is
  not run again (jobstate.log SUBMIT counts), its output is intact (sha256), and the rest
  of the workflow finishes.
* KILL -9 of the engine at random moments (after a random number of jobstate.log events)
  of a six-job workflow, resumed each time: every output right, no succeeded job run again.

Sizes: ``PEGASUS_KILL_ROUNDS`` (default 1) repeats each TERM and each engine kill per phase,
``PEGASUS_RANDOM_KILLS`` (default 4) is the number of random kills.  The full run:
``PEGASUS_KILL_ROUNDS=5 PEGASUS_RANDOM_KILLS=50 pytest -s tests/reliability/test_kills.py``
(its figures print at the end; ``PEGASUS_KILL_SEED`` replays a random run).
"""

from __future__ import annotations

import hashlib
import http.server
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import threading
import time
import uuid
from pathlib import Path

import pytest
import yaml

from tests.conftest import console_script
from tests.procs import opened_by_any, writing_to_stdout

exitcode = pytest.importorskip("Pegasus.exitcode", reason="pegasus-wms is a test dependency")

DEADLINE = 60.0
MULTIPART = "\n---------------pegasus-multipart\n"
DOCKER_PHASES = ("image-load", "container-task")
PHASES = [
    pytest.param(phase, marks=pytest.mark.docker) if phase in DOCKER_PHASES else phase
    for phase in ("image-load", "stage-in", "task", "container-task", "output-check",
                  "stage-out", "cleanup")
]  # fmt: skip
ENGINE_PHASES = [p for p in PHASES if "cleanup" not in getattr(p, "values", (p,))]
ROUNDS = max(1, int(os.environ.get("PEGASUS_KILL_ROUNDS", "1")))
TALLY = {"TERM to pegasus-lite": 0, "KILL of the engine in a phase": 0,
         "KILL of the engine at random": 0, "resumed workflows": 0}  # fmt: skip


@pytest.fixture(scope="module", autouse=True)
def figures():
    """The figures of the run (``pytest -s`` shows them), for the README."""
    started = time.monotonic()
    yield
    print("\nkills: %s; %.0f s" % (", ".join("%s %d" % kv for kv in TALLY.items()),
                                   time.monotonic() - started))  # fmt: skip


def wait_for(predicate, what: str, deadline: float = DEADLINE):
    end = time.monotonic() + deadline
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > end:
            raise AssertionError("timed out waiting for %s" % what)
        time.sleep(0.02)


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# ---------------------------------------------------------------------- what is left behind


def marked_processes(*markers: str) -> list[str]:
    """Every live process whose environment or command line carries one of ``markers``.

    A job the engine forked (lite in the child, no exec) keeps the engine's command line,
    which names the submit dir, and its /proc environ is the engine's: pass both."""
    needles = [m.encode() for m in markers]
    found = []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            with open("/proc/%s/stat" % entry.name, "rb") as fh:
                if fh.read().rsplit(b") ", 1)[1][:1] == b"Z":
                    continue  # a zombie: dead, waiting for its parent
            with open("/proc/%s/cmdline" % entry.name, "rb") as fh:
                cmdline = fh.read()
            with open("/proc/%s/environ" % entry.name, "rb") as fh:
                environ = fh.read()
        except (OSError, IndexError):
            continue
        if any(n in cmdline or n in environ for n in needles):
            found.append(
                "%s: %s" % (entry.name, cmdline.replace(b"\0", b" ").decode(errors="replace"))
            )
    return found


def no_marked_processes(*markers: str) -> None:
    left: list[str] = []

    def gone() -> bool:
        left[:] = marked_processes(*markers)
        return not left

    try:
        wait_for(gone, "the job's processes to end", deadline=30)
    except AssertionError:
        raise AssertionError("processes left behind:\n" + "\n".join(left)) from None


def writer_on(fifo: Path) -> int | None:
    """A write end of ``fifo`` once a reader has it open (None before): held, never written,
    the reader then blocks in read()."""
    try:
        return os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
    except OSError:
        return None


# ---------------------------------------------------------------------- servers that hold


class StallDav:
    """Answers nothing while ``stalling`` (it has ``seen`` a request); else takes MKCOL and
    PUT into ``root``."""

    def __init__(self, root: Path):
        self.root = root
        self.seen = threading.Event()
        self.release = threading.Event()
        self.stalling = True
        dav = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def _stall(self) -> bool:
                if dav.stalling:
                    dav.seen.set()
                    dav.release.wait(120)
                    self.close_connection = True
                    return True
                return False

            def _reply(self, status: int) -> None:
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def do_MKCOL(self):
                if not self._stall():
                    (dav.root / self.path.lstrip("/")).mkdir(parents=True, exist_ok=True)
                    self._reply(201)

            def do_PUT(self):
                if self._stall():
                    return
                if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                    body = b""
                    while True:
                        size = int(self.rfile.readline().split(b";")[0], 16)
                        body += self.rfile.read(size)
                        self.rfile.readline()
                        if size == 0:
                            break
                else:
                    body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                target = dav.root / self.path.lstrip("/")
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(body)
                self._reply(201)

            def _not_found(self):
                if not self._stall():
                    self._reply(404)

            do_GET = do_HEAD = do_PROPFIND = do_DELETE = _not_found

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    @property
    def port(self) -> int:
        return self.httpd.server_address[1]

    def stop(self) -> None:
        self.release.set()
        self.httpd.shutdown()
        self.httpd.server_close()


class StallingDockerProxy:
    """A unix socket in front of the Docker engine's: everything passes, except that while
    ``stalling`` a connection that asks for ``images/load`` is held (``seen`` is set): the
    request never reaches the engine and is never answered."""

    def __init__(self, path: Path, upstream: str):
        self.path = str(path)
        self.upstream = upstream
        self.stalling = True
        self.seen = threading.Event()
        self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.listener.bind(self.path)
        self.listener.listen(64)
        self.closed = False
        self.held: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def host(self) -> str:
        return "unix://" + self.path

    def _accept(self) -> None:
        while not self.closed:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            upstream = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                upstream.connect(self.upstream)
            except OSError:
                client.close()
                continue
            threading.Thread(target=self._pump, args=(client, upstream, True), daemon=True).start()
            threading.Thread(target=self._pump, args=(upstream, client, False), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket, requests: bool) -> None:
        tail = b""
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                if requests and self.stalling and b"/images/load" in tail + data:
                    self.held.append(src)
                    self.seen.set()
                    return  # never forwarded, never answered
                tail = data[-64:]
                dst.sendall(data)
        except OSError:
            pass
        for sock in (src, dst):
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def stop(self) -> None:
        self.closed = True
        self.listener.close()
        for sock in self.held:
            sock.close()


# ---------------------------------------------------------------------- the phases


class Job:
    """One job's files and its hold: ``spec(held)`` is the job spec (held in ``phase`` or
    free), ``reached()`` says the job sits in the phase now, ``after()`` lets go of it."""

    def __init__(self, root: Path, phase: str, name: str, marker: str, docker=None, image=None):
        self.root = root
        self.phase = phase
        self.name = name
        self.marker = marker
        self.docker = docker
        self.image = image
        self.data = root / "data"
        self.dest = root / "dest"
        self.wn = root / "wn"
        for d in (self.data, self.dest, self.wn):
            d.mkdir(parents=True, exist_ok=True)
        (self.data / "in.txt").write_text("the input of %s\n" % name)
        self.fifo = self.data / "never-written"
        self.reached_file = root / ("%s.reached" % name)
        self.fds: list[int] = []
        self.dav: StallDav | None = None
        self.proxy: StallingDockerProxy | None = None
        if phase == "stage-in":
            os.mkfifo(self.fifo)
        if phase == "stage-out":
            self.dav = StallDav(root / "dav")
        if phase == "image-load":
            self.proxy = StallingDockerProxy(root / "docker.sock", docker.host[len("unix://") :])

    # the spec -------------------------------------------------------------------------

    def spec(self, held: bool = True) -> dict:
        phase = self.phase if held else None
        script = "cat in.txt > out.txt"
        if phase in ("task", "container-task"):
            script = 'touch "%s"; sleep 300 & wait' % self.reached_file
        elif phase == "output-check":
            script = 'truncate -s 1T out.txt; touch "%s"' % self.reached_file
        elif phase == "cleanup":  # 256 KiB of YAML comment: more than the stdout pipe holds
            script = ("cat in.txt > out.txt; head -c 262144 /dev/zero | tr '\\0' '#' "
                      '> "$PEGASUS_MULTIPART_DIR/zz-hold"')  # fmt: skip
        source = self.fifo if phase == "stage-in" else self.data / "in.txt"
        dest = "file://%s/%s.txt" % (self.dest, self.name)
        if phase == "stage-out":
            dest = "webdav://127.0.0.1:%d/up/%s.txt" % (self.dav.port, self.name)
        spec = {
            "version": 1,
            "job": {"id": self.name, "name": self.name, "site": "local"},
            "tasks": [{"transformation": "test::sh", "executable": {"path": "/bin/sh"},
                       "arguments": ["-c", script],
                       "environment": {"PEGASUS_KILL_MARKER": self.marker}}],
            "inputs": [{"lfn": "in.txt", "sources": [{"url": "file://%s" % source}]}],
            "outputs": [{"lfn": "out.txt", "destinations": [{"url": dest, "site": "dest"}]}],
        }  # fmt: skip
        if self.phase in DOCKER_PHASES:
            spec["container"] = {"runtime": "docker", "image": "docker://" + self.image.tag}
            if self.phase == "image-load":
                spec["container"].update(image_lfn="img.tar", sha256=self.image.sha256)
                spec["inputs"].append(
                    {"lfn": "img.tar", "sha256": self.image.sha256,
                     "sources": [{"url": "file://%s" % self.image.tar}]}
                )  # fmt: skip
            else:
                spec["container"]["mounts"] = ["%s:%s" % (self.root, self.root)]
        return spec

    def env(self) -> dict[str, str]:
        env = {
            "PEGASUS_WN_TMP": str(self.wn),
            "PEGASUS_WN_TMP_MIN_SPACE": "1",
            "PEGASUS_KILL_MARKER": self.marker,
            "PEGASUS_TRANSFER_ATTEMPTS": "1",
        }
        if self.docker is not None:
            env["DOCKER_HOST"] = self.proxy.host if self.proxy is not None else self.docker.host
            env["PEGASUS_IMAGE_CACHE"] = str(self.root / "image-cache")
        return env

    # the hold -------------------------------------------------------------------------

    def _hold_fifo(self, fifo: Path) -> bool:
        fd = writer_on(fifo)
        if fd is None:
            return False
        self.fds.append(fd)
        return True

    def _work_file(self, relative: str) -> Path | None:
        for workdir in self.wn.glob("pegasus.*"):
            path = workdir / relative
            if path.exists():
                return path
        return None

    def reached(self, pid: int | None = None) -> bool:
        """``pid``: pegasus-lite's, when the test started it (the cleanup hold needs it)."""
        phase = self.phase
        if phase == "image-load":
            return self.proxy.seen.is_set()
        if phase == "stage-in":
            return self._hold_fifo(self.fifo)
        if phase in ("task", "container-task"):
            return self.reached_file.exists()
        if phase == "output-check":
            path = self._work_file("out.txt")
            return self.reached_file.exists() and path is not None and opened_by_any(path)
        if phase == "stage-out":
            return self.dav.seen.is_set()
        if phase == "cleanup":
            return pid is not None and writing_to_stdout(pid)
        raise AssertionError(phase)

    def after(self) -> None:
        """Let go of the hold; the next try of the job goes through."""
        for fd in self.fds:
            os.close(fd)
        self.fds = []
        if self.proxy is not None:
            self.proxy.stalling = False
        if self.dav is not None:
            self.dav.stalling = False
            self.dav.release.set()
        if self.fifo.exists():
            self.fifo.unlink()

    def rearm(self) -> None:
        """Hold the next try in the same phase again (same spec, same servers)."""
        for fd in self.fds:
            os.close(fd)
        self.fds = []
        self.reached_file.unlink(missing_ok=True)
        if self.phase == "stage-in" and not self.fifo.exists():
            os.mkfifo(self.fifo)
        if self.proxy is not None:
            self.proxy.seen.clear()
            self.proxy.stalling = True
        if self.dav is not None:
            self.dav.release.set()  # the killed try's request goes
            self.dav.release = threading.Event()
            self.dav.seen.clear()
            self.dav.stalling = True

    def stop(self) -> None:
        self.after()
        if self.proxy is not None:
            self.proxy.stop()
        if self.dav is not None:
            self.dav.stop()


@pytest.fixture
def phase_job(request, tmp_path):
    """phase_job(phase, name) -> Job; Docker phases get the engine and a fresh image."""
    made: list[Job] = []

    def make(phase: str, name: str = "held_ID1") -> Job:
        docker = image = None
        if phase in DOCKER_PHASES:
            docker = request.getfixturevalue("docker_engine")
            images = request.getfixturevalue("images")
            image = images("kills-" + phase)
            if phase == "image-load" and image.present():
                image.remove()  # it must be loaded from the tar
        marker = "pegasus-kill-test-" + uuid.uuid4().hex
        job = Job(tmp_path / name, phase, name, marker, docker, image)
        made.append(job)
        return job

    yield make
    for job in made:
        job.stop()


def containers_of(job: Job) -> list[str]:
    if job.docker is None:
        return []
    return job.docker.docker(
        "ps", "--all", "--format", "{{.Names}}", "--filter", "name=pegasus-lite-%s-" % job.name
    ).stdout.split()


def parse_stdout(text: str) -> tuple[list[dict], list]:
    """(invocation records, multipart blocks): each part is YAML, as Pegasus reads it."""
    records_text, *blocks = text.split(MULTIPART)
    records = yaml.safe_load(records_text) or []
    return [r for r in records if r.get("invocation")], [yaml.safe_load(b) for b in blocks]


def assert_stopped_cleanly(job: Job, out_path: Path, err_text: str) -> None:
    """What TERM (or the engine's death) must leave: a failed job with its record, nothing
    running, no container, no work dir, no partial output."""
    assert err_text.rstrip().endswith("PegasusLite: exitcode 143"), err_text[-2000:]
    records, blocks = parse_stdout(out_path.read_text())
    ran_task = job.phase in ("task", "container-task", "output-check", "stage-out", "cleanup")
    assert bool(records) == ran_task, out_path.read_text()[-2000:]
    if job.phase in ("task", "container-task"):
        assert records[0]["mainjob"]["status"]["forwarded_signals"] == [15]
    if job.phase in ("stage-in", "stage-out", "cleanup"):
        assert blocks and any("transfer_attempts" in str(b) for b in blocks)
    with pytest.raises(exitcode.JobFailed):
        exitcode.exitcode(str(out_path), rename=False, generate_meta=False,
                          success_messages=["PegasusLite: exitcode 0"])  # fmt: skip
    no_marked_processes(job.marker)
    assert containers_of(job) == []
    assert list(job.wn.iterdir()) == []
    # no partial file at the destination: only other jobs' outputs, and this job's when it
    # was stopped in its cleanup (after a complete stage-out)
    allowed = {"first_ID1.txt"} | ({job.name + ".txt"} if job.phase == "cleanup" else set())
    assert {p.name for p in job.dest.iterdir()} <= allowed


# ---------------------------------------------------------------------- TERM to pegasus-lite


@pytest.mark.parametrize("phase", PHASES)
def test_term_in_each_phase(phase_job, tmp_path, phase):
    job = phase_job(phase)
    for round_number in range(ROUNDS):
        if round_number:
            job.rearm()
        start = tmp_path / ("start%d" % round_number)
        start.mkdir()
        (start / "job.json").write_text(json.dumps(job.spec()))
        out, err = start / "job.out", start / "job.err"
        with open(out, "w") as fo, open(err, "w") as fe:
            # cleanup is held by a stdout pipe nobody reads until the TERM is sent
            proc = subprocess.Popen(
                [*console_script("pegasus-lite"), "job.json"], cwd=start,
                stdout=subprocess.PIPE if phase == "cleanup" else fo, stderr=fe,
                env={**os.environ, **job.env()},
            )  # fmt: skip
        try:
            wait_for(lambda p=proc: job.reached(p.pid) or p.poll() is not None,
                     "the %s phase" % phase)  # fmt: skip
            assert proc.poll() is None, err.read_text()
            proc.send_signal(signal.SIGTERM)
            stdout, _ = proc.communicate(timeout=90)
            if stdout is not None:
                out.write_bytes(stdout)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        assert proc.returncode == 143, err.read_text()
        assert_stopped_cleanly(job, out, err.read_text())
        TALLY["TERM to pegasus-lite"] += 1
    job.after()


# ---------------------------------------------------------------------- KILL of the local engine


@pytest.fixture(scope="module")
def bundle(tmp_path_factory) -> Path:
    from lite.bundle import build

    path = tmp_path_factory.mktemp("bundle") / "pegasus-lite.pyz"
    build(str(path), riders=False)
    return path


class SubmitDir:
    """A submit dir as the planner writes one for bundled jobs: the bundle is every job's
    executable, the job spec comes in by transfer_input_files, the POST is ``bundle
    exitcode``; ``env`` goes into every job's environment."""

    def __init__(self, root: Path, bundle: Path, env: dict[str, str]):
        self.root = root
        self.env = env
        self.submit = root / "submit"
        self.jobdir = self.submit / "00" / "00"
        self.jobdir.mkdir(parents=True)
        self.work = root / "work"
        self.work.mkdir()
        self.scratch = root / "engine-scratch"
        self.scratch.mkdir()
        self.bundle = self.submit / "pegasus-lite.pyz"
        shutil.copy(bundle, self.bundle)
        self.dag: list[str] = []
        self.edges: list[str] = []

    def add_job(self, name: str, spec: dict) -> None:
        self.write_spec(name, spec)
        env = " ".join("%s=%s" % kv for kv in self.env.items())
        lines = [
            "universe = vanilla",
            "executable = %s" % self.bundle,
            "arguments = %s.json" % name,
            "initialdir = %s" % self.work,
            "output = %s/%s.out" % (self.jobdir, name),
            "error = %s/%s.err" % (self.jobdir, name),
            'environment = "%s CONDOR_JOBID=$(cluster).$(process)"' % env,
            "should_transfer_files = YES",
            "when_to_transfer_output = ON_EXIT",
            "transfer_input_files = %s/%s.json" % (self.jobdir, name),
            '+pegasus_site = "local"',
            "queue",
        ]
        (self.jobdir / (name + ".sub")).write_text("\n".join(lines) + "\n")
        self.dag += [
            "JOB %s 00/00/%s.sub" % (name, name),
            "SCRIPT POST %s %s exitcode -r $RETURN -s PegasusLite:+exitcode+0 -l "
            "w-0.exitcode.log -M w-0.cache.meta .//00/00/%s.out" % (name, self.bundle, name),
        ]

    def write_spec(self, name: str, spec: dict) -> None:
        (self.jobdir / (name + ".json")).write_text(json.dumps(spec))

    def edge(self, parent: str, child: str) -> None:
        self.edges.append("PARENT %s CHILD %s" % (parent, child))

    def write(self) -> None:
        (self.submit / "w-0.dag").write_text("\n".join(self.dag + self.edges) + "\n")

    def engine(self) -> subprocess.Popen:
        return subprocess.Popen(
            [*console_script("pegasus-run"), str(self.submit)],
            env={**os.environ, "PEGASUS_LOCAL_SCRATCH": str(self.scratch)},
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip

    def resume(self) -> subprocess.CompletedProcess:
        return subprocess.run(
            [*console_script("pegasus-run"), str(self.submit)],
            env={**os.environ, "PEGASUS_LOCAL_SCRATCH": str(self.scratch)},
            capture_output=True, text=True, timeout=300,
        )  # fmt: skip

    def events(self) -> list[tuple[str, str]]:
        """(job, event) in jobstate.log order."""
        path = self.submit / "jobstate.log"
        lines = path.read_text().splitlines() if path.exists() else []
        return [(f[1], f[2]) for f in (line.split() for line in lines) if len(f) > 2]

    def submits(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for job, event in self.events():
            if event == "SUBMIT":
                counts[job] = counts.get(job, 0) + 1
        return counts

    def job_scratch(self) -> list[str]:
        """The engine's per-job scratch dirs (HTCondor's execute dirs) still on disk."""
        return sorted(str(p) for p in self.scratch.glob("pegasus-run.*/*"))


def plain_spec(name: str, dest: Path, inputs=(), marker: str = "") -> dict:
    """A job that concatenates its inputs (file URLs) and its name into ``<name>.txt``."""
    script = "cat %s /dev/null > out.txt; echo %s >> out.txt" % (
        " ".join("in%d" % i for i in range(len(inputs))), name)  # fmt: skip
    return {
        "version": 1,
        "job": {"id": name, "name": name, "site": "local"},
        "tasks": [{"transformation": "test::sh", "executable": {"path": "/bin/sh"},
                   "arguments": ["-c", script], "environment": {"PEGASUS_KILL_MARKER": marker}}],
        "inputs": [{"lfn": "in%d" % i, "sources": [{"url": "file://%s" % path}]}
                   for i, path in enumerate(inputs)],
        "outputs": [{"lfn": "out.txt", "destinations": [
            {"url": "file://%s/%s.txt" % (dest, name), "site": "dest"}]}],
    }  # fmt: skip


class Workflow(SubmitDir):
    """first -> held -> last: the held job is ``job`` (held in its phase)."""

    def __init__(self, root: Path, bundle: Path, job: Job):
        super().__init__(root, bundle, job.env())
        self.job = job
        self.add_job("first_ID1", plain_spec("first_ID1", job.dest, marker=job.marker))
        self.add_job(job.name, job.spec(True))
        self.add_job("last_ID3", plain_spec("last_ID3", job.dest, marker=job.marker))
        self.edge("first_ID1", job.name)
        self.edge(job.name, "last_ID3")
        self.write()


def kill_engine_in(wf: Workflow, engine: subprocess.Popen) -> None:
    job = wf.job
    first = job.dest / "first_ID1.txt"

    def reached() -> bool:
        if engine.poll() is not None:
            raise AssertionError("the engine ended: %s" % engine.communicate()[1][-3000:])
        return first.exists() and job.reached()

    try:
        wait_for(reached, "the held job's %s phase" % job.phase)
    finally:
        engine.send_signal(signal.SIGKILL)
        engine.communicate()


@pytest.mark.parametrize("phase", ENGINE_PHASES)
def test_engine_kill_in_each_phase_then_resume(phase_job, bundle, tmp_path, phase):
    job = phase_job(phase, "held_ID2")
    wf = Workflow(tmp_path / "wf", bundle, job)
    for round_number in range(ROUNDS):
        kill_engine_in(wf, wf.engine())
        first = job.dest / "first_ID1.txt"
        first_sha = sha(first)
        # the job, forked from the engine, heard of its death (SIGTERM) and stopped cleanly
        no_marked_processes(job.marker, str(wf.submit))
        err = wf.jobdir / ("%s.err" % job.name)
        wait_for(lambda e=err: e.exists() and "PegasusLite: exitcode" in e.read_text(),
                 "the job's last log line")  # fmt: skip
        assert_stopped_cleanly_in_engine(wf, err)
        assert wf.job_scratch() == [], "the dead engine's job left its scratch dir"
        TALLY["KILL of the engine in a phase"] += 1
        if round_number + 1 < ROUNDS:
            job.rearm()
    job.after()
    wf.write_spec(job.name, job.spec(held=False))
    done = wf.resume()
    assert done.returncode == 0, done.stderr
    counts = wf.submits()
    assert counts == {"first_ID1": 1, job.name: 1 + ROUNDS, "last_ID3": 1}, counts
    assert sha(first) == first_sha
    assert (job.dest / ("%s.txt" % job.name)).read_text() == "the input of %s\n" % job.name
    assert (job.dest / "last_ID3.txt").read_text() == "last_ID3\n"
    assert first.read_text() == "first_ID1\n"
    assert list(wf.scratch.iterdir()) == []
    no_marked_processes(job.marker, str(wf.submit))
    TALLY["resumed workflows"] += 1


def assert_stopped_cleanly_in_engine(wf: Workflow, err: Path) -> None:
    job = wf.job
    out = wf.jobdir / ("%s.out" % job.name)
    assert_stopped_cleanly(job, out, err.read_text())


# ---------------------------------------------------------------------- KILL at random moments

RANDOM_KILLS = max(1, int(os.environ.get("PEGASUS_RANDOM_KILLS", "4")))
EDGES = (("j0", "j1"), ("j0", "j2"), ("j1", "j3"), ("j2", "j3"), ("j3", "j4"), ("j3", "j5"))


def random_workflow(root: Path, bundle: Path, marker: str, rng: random.Random):
    """Six jobs (a diamond and two leaves), each staging in its parents' outputs: the
    engine killed anywhere in it (a job in any phase, a POST script, between jobs)."""
    dest, wn = root / "dest", root / "wn"
    dest.mkdir(parents=True)
    wn.mkdir()
    seed = root / "seed.bin"
    seed.write_bytes(rng.randbytes(2 << 20))
    env = {"PEGASUS_WN_TMP": str(wn), "PEGASUS_WN_TMP_MIN_SPACE": "1",
           "PEGASUS_KILL_MARKER": marker}  # fmt: skip
    sd = SubmitDir(root, bundle, env)
    parents: dict[str, list[str]] = {}
    for parent, child in EDGES:
        parents.setdefault(child, []).append(parent)
    expected: dict[str, bytes] = {}
    for name in ("j0", "j1", "j2", "j3", "j4", "j5"):
        ins = [dest / ("%s.txt" % p) for p in parents.get(name, [])] or [seed]
        sd.add_job(name, plain_spec(name, dest, ins, marker))
        body = b"".join(expected.get(p.stem, seed.read_bytes() if p == seed else b"") for p in ins)
        expected[name] = body + name.encode() + b"\n"
    for parent, child in EDGES:
        sd.edge(parent, child)
    sd.write()
    return sd, dest, wn, expected


def check_after_kill(sd: SubmitDir, dest: Path, wn: Path, marker: str, expected: dict) -> None:
    no_marked_processes(marker, str(sd.submit))
    assert list(wn.iterdir()) == [], "a killed job left its work dir: %s" % logs(sd)
    running: set[str] = set()
    attempt: dict[str, str] = {}
    for line in (sd.submit / "jobstate.log").read_text().splitlines():
        fields = line.split()
        if len(fields) > 2 and fields[2] == "EXECUTE":
            running.add(fields[1])
            attempt[fields[1]] = fields[-1]
        elif len(fields) > 2 and fields[2] in ("JOB_TERMINATED", "JOB_FAILURE", "JOB_SUCCESS"):
            running.discard(fields[1])
    # a job running when the engine died removes its scratch dir; one that had ended (its
    # outputs waiting there to be fetched) or was being set up leaves it to the next run
    left = {Path(p).name for p in sd.job_scratch()}
    started = {"%s.%s" % (job, attempt[job]) for job in running - ended_just_before(sd, running)}
    assert not left & started, "%s\n%s" % (left, logs(sd))
    for job in running:
        err = sd.jobdir / ("%s.err" % job)
        text = err.read_text() if err.exists() else ""
        if "PegasusLite: exitcode" not in text:
            continue  # killed before lite could set up its handlers: nothing ran yet
        last = text.rstrip().splitlines()[-1]
        assert last in ("PegasusLite: exitcode 143", "PegasusLite: exitcode 0"), text[-2000:]
        parse_stdout((sd.jobdir / ("%s.out" % job)).read_text())  # it parses
        if last.endswith(" 0"):  # it had finished just before the kill: then completely
            assert (dest / ("%s.txt" % job)).read_bytes() == expected[job]
    for path in dest.iterdir():  # whatever is at the destination is complete
        assert path.read_bytes() == expected[path.stem], path


def logs(sd: SubmitDir) -> str:
    """The last events and each job's log tail: what a failed check shows."""
    tails = ["%s: %s" % (p.name, p.read_text()[-600:]) for p in sorted(sd.jobdir.glob("*.err"))]
    return "\n".join([str(sd.events()[-8:]), *sd.job_scratch(), *tails])


def ended_just_before(sd: SubmitDir, running: set[str]) -> set[str]:
    """Jobs the log says are running whose lite had already printed its last line."""
    ended = set()
    for job in running:
        err = sd.jobdir / ("%s.err" % job)
        if err.exists() and "PegasusLite: exitcode 0" in err.read_text():
            ended.add(job)
    return ended


def no_rerun_after_success(sd: SubmitDir) -> None:
    done: set[str] = set()
    for job, event in sd.events():
        if event == "SUBMIT":
            assert job not in done, "%s ran again after it had succeeded" % job
        elif event == "POST_SCRIPT_SUCCESS":
            done.add(job)


@pytest.mark.slow
def test_random_engine_kills(bundle, tmp_path):
    """``PEGASUS_RANDOM_KILLS`` kills (default 4; the full run 50) of the engine after a
    random number of jobstate.log events, each followed by a resume, until every workflow
    finished: every output right, no succeeded job run again, nothing left behind."""
    seed = int(os.environ.get("PEGASUS_KILL_SEED") or random.randrange(1 << 30))
    rng = random.Random(seed)
    marker = "pegasus-kill-test-" + uuid.uuid4().hex
    kills = workflows = 0
    while kills < RANDOM_KILLS:
        sd, dest, wn, expected = random_workflow(tmp_path / ("wf%d" % workflows), bundle,
                                                 marker, rng)  # fmt: skip
        workflows += 1
        while kills < RANDOM_KILLS:
            engine = sd.engine()
            target = len(sd.events()) + rng.randint(1, 16)
            wait_for(lambda e=engine, s=sd, t=target: e.poll() is not None or len(s.events()) >= t,
                     "event %d (seed %d)" % (target, seed))  # fmt: skip
            if engine.poll() is not None:
                assert engine.returncode == 0, engine.communicate()[1]
                break
            engine.send_signal(signal.SIGKILL)
            engine.communicate()
            kills += 1
            TALLY["KILL of the engine at random"] += 1
            try:
                check_after_kill(sd, dest, wn, marker, expected)
            except AssertionError as exc:
                raise AssertionError("seed %d, kill %d: %s" % (seed, kills, exc)) from None
        done = sd.resume()
        assert done.returncode == 0, "seed %d: %s" % (seed, done.stderr)
        no_rerun_after_success(sd)
        for name, body in expected.items():
            assert (dest / ("%s.txt" % name)).read_bytes() == body, "seed %d: %s" % (seed, name)
        assert list(sd.scratch.iterdir()) == []
        no_marked_processes(marker, str(sd.submit))
        TALLY["resumed workflows"] += 1
    print("random engine kills: %d kills over %d workflows (seed %d)" % (kills, workflows, seed))
