"""The local engine: run a submit directory on this machine as HTCondor + DAGMan would.

It reads the same ``<wf>-0.dag`` and ``.sub`` files, so a job behaves the same under both:
a vanilla job gets a fresh scratch dir with its ``transfer_input_files`` copied in, runs
there with the ``.sub``'s environment, and has its ``transfer_output_files`` moved back to
``initialdir`` (atomically); a local-universe job runs in ``initialdir``.  The DAG's
PRE/POST scripts, RETRY, PRIORITY, CATEGORY/MAXJOBS and edges mean what they mean to
DAGMan.  ``jobstate.log`` is the only state: a second run skips what succeeded.

Speed: every job is ``pegasus-lite.pyz`` (the worker bundle).  Starting a Python per job
costs ~60 ms of CPU, so when the executable is our bundle the engine forks itself (lite,
kickstart and transfer already imported) and the child calls lite's ``main`` directly;
the POST script ``pegasus-lite.pyz exitcode`` is likewise called in-process.  The main
loop never starts a thread, so forking it is safe; it waits on pidfds.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import gc
import hashlib
import heapq
import io
import os
import re
import selectors
import shutil
import signal
import sys
import tempfile
import threading
import time
from typing import TextIO

from . import dagread, jobstate, subfile
from .errors import EngineError
from .progress import Progress

GRACE = 10.0  # seconds between TERM and KILL when the engine is stopped
HELD = -1002  # $RETURN for a job HTCondor would have held, then removed
SUBMIT_FAILED = -1001  # $RETURN for a job condor_submit would have refused
SETUP_FAILED = 255  # the child's exit when it could not start the job (message on a pipe)
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)
BUNDLE_NAME = "pegasus-lite.pyz"
_SCRIPT_MACRO = re.compile(
    r"\$(MAX_RETRIES|PRE_SCRIPT_RETURN|FAILED_COUNT|DAG_STATUS|RETURN|RETRY|JOBID|JOB)"
    r"(?![A-Za-z0-9_])"
)

# What a bundled job imports (lite, kickstart, the transfer core): imported once, before
# the forks, so no child pays for it.
PRELOAD = (
    "lite.cli", "lite.job", "lite.spec", "lite.staging", "lite.workdir", "lite.log",
    "lite.exitcode", "kickstart", "kickstart.argexpand", "kickstart.environ",
    "kickstart.hostinfo", "kickstart.invocation", "kickstart.machine", "kickstart.options",
    "kickstart.record", "kickstart.runner", "kickstart.stamps", "kickstart.statinfo",
    "kickstart.yamlfmt", "transfer.integrity", "transfer.engine", "transfer.inputs",
    "transfer.report", "transfer.credentials", "transfer.handlers.base", "transfer.urls",
    "transfer.cli",
    "json", "logging", "traceback", "textwrap", "resource",
)  # fmt: skip

# node states
WAITING, READY, ACTIVE, DONE, FAILED = range(5)


def run(
    submit_dir: str, jobs: int | None = None, verbose: bool = False, out: TextIO | None = None
) -> int:
    """Run (or resume) ``submit_dir``; 0 when every job succeeded, 1 otherwise, 128+n when
    stopped by signal n.  Reports go to ``out`` (stderr); problems with the directory
    itself are one line there."""
    out = sys.stderr if out is None else out
    try:
        return Engine(submit_dir, jobs=jobs, verbose=verbose, out=out).execute()
    except EngineError as exc:
        out.write("pegasus-run: %s\n" % exc)
        out.flush()
        return exc.exit_code


# ---------------------------------------------------------------------- helpers


def _libc_prctl():
    if not sys.platform.startswith("linux"):
        return None
    try:
        import ctypes

        return ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None


_PRCTL = _libc_prctl()
_PR_SET_PDEATHSIG = 1


def _exit_code(status: int) -> int:
    """DAGMan's $RETURN: the exit code, or minus the signal number."""
    if os.WIFSIGNALED(status):
        return -os.WTERMSIG(status)
    return os.waitstatus_to_exitcode(status)


def _describe(code: int) -> str:
    if code == HELD:
        return "held"
    if code == SUBMIT_FAILED:
        return "not submitted"
    if code < 0:
        try:
            return "killed by %s" % signal.Signals(-code).name
        except ValueError:
            return "killed by signal %d" % -code
    return "exit code %d" % code


def _unquote(value: str | None) -> str | None:
    if value is None:
        return None
    value = value.strip()
    if len(value) >= 2 and value[0] == value[-1] == '"':
        return value[1:-1]
    return value


def rotate(out_path: str | None, err_path: str | None) -> str | None:
    """Move ``X.out``/``X.err`` to ``X.out.NNN``/``X.err.NNN`` (first free NNN, 000 = the
    first attempt) so every attempt's files survive; returns the rotated .out path."""
    paths = [p for p in (out_path, err_path) if p and os.path.exists(p)]
    if not paths:
        return None
    n = 0
    while any(os.path.exists("%s.%03d" % (p, n)) for p in (out_path, err_path) if p):
        n += 1
    rotated = None
    for path in paths:
        target = "%s.%03d" % (path, n)
        os.replace(path, target)
        if path == out_path:
            rotated = target
    return rotated


def _append_note(path: str | None, text: str) -> None:
    """A line for the analyzer in the job's .err: why the engine failed the attempt."""
    if not path:
        return
    try:
        with open(path, "a", encoding="utf-8") as fh:
            fh.write("pegasus-run: %s\n" % text)
    except OSError:
        pass


def _read_braindump(path: str) -> dict[str, str]:
    """braindump.yml is flat ``key: "value"``; read it without a YAML library."""
    import json

    found: dict[str, str] = {}
    try:
        with open(path, encoding="utf-8") as fh:
            lines = fh.read().splitlines()
    except OSError:
        return found
    for line in lines:
        key, sep, value = line.partition(":")
        if not sep or line[:1].isspace() or key.startswith("#"):
            continue
        value = value.strip()
        if value.startswith('"'):
            try:
                value = json.loads(value)
            except ValueError:
                value = value.strip('"')
        elif value in ("null", "~", ""):
            continue
        found[key.strip()] = str(value)
    return found


# ---------------------------------------------------------------------- one process


class Launch:
    """Everything a child needs, worked out in the parent before the fork."""

    __slots__ = (
        "argv",
        "bundle",
        "cwd",
        "deathsig",
        "env",
        "executable",
        "inputs",
        "scratch",
        "stderr",
        "stdin",
        "stdout",
    )

    def __init__(self, argv: list[str], env: dict[str, str], cwd: str):
        self.argv = argv
        self.executable = argv[0]
        self.env = env
        self.cwd = cwd
        self.bundle = False  # run lite.cli.main in the forked child, no exec
        self.inputs: list[tuple[str, bool]] = []  # (source, contents only) copied into cwd
        self.scratch: str | None = None  # the job's scratch dir (vanilla universe)
        self.stdin: str | None = None
        self.stdout: str | None = None
        self.stderr: str | None = None
        self.deathsig = signal.SIGKILL


def _open_low(path: str | None, flags: int) -> int:
    fd = os.open(path or os.devnull, flags, 0o644)
    if fd < 3:  # keep clear of 0/1/2 until the dup2s
        fd = fcntl.fcntl(fd, fcntl.F_DUPFD, 3)
    return fd


def _copy_in(source: str, contents: bool, into: str) -> None:
    """HTCondor's input transfer: flat, by basename; ``dir/`` means the directory's
    contents, ``dir`` the directory itself."""
    if source.startswith("file://"):
        source = source[len("file://") :]
    elif "://" in source:
        raise OSError(errno.EPROTONOSUPPORT, "URL inputs are not supported by the local engine")
    if os.path.isdir(source):
        if contents:
            for name in os.listdir(source):
                _copy_in(os.path.join(source, name), False, into)
            return
        shutil.copytree(
            source, os.path.join(into, os.path.basename(source.rstrip("/"))), dirs_exist_ok=True
        )
        return
    if not os.path.exists(source):
        raise FileNotFoundError(errno.ENOENT, "no such file", source)
    shutil.copy2(source, os.path.join(into, os.path.basename(source)))


def _child(launch: Launch, status_w: int, parent: int) -> None:
    """In the forked child: set up, then exec the program or run lite.  Never returns."""
    try:
        os.setpgid(0, 0)
        if _PRCTL is not None:
            _PRCTL(_PR_SET_PDEATHSIG, int(launch.deathsig), 0, 0, 0)
            if os.getppid() != parent:
                if launch.scratch:  # the engine is already gone: nobody else removes it
                    shutil.rmtree(launch.scratch, ignore_errors=True)
                os._exit(SETUP_FAILED)
        with contextlib.suppress(ValueError):
            signal.set_wakeup_fd(-1)
        # a bundled job spec keeps TERM/INT/HUP blocked (as at the fork) until lite's
        # handlers are set (lite unblocks them): a stop or the engine's death (the
        # PDEATHSIG) during the set-up is then lite's to handle, its cleanup included; one
        # after lite is done (its handlers gone) must not cut our own cleanup short
        held = launch.bundle and launch.argv[1:2] not in (["transfer"], ["exitcode"])
        for signum in (*STOP_SIGNALS, signal.SIGCHLD):
            late = held and signum != signal.SIGCHLD
            signal.signal(signum, _after_lite if late else signal.SIG_DFL)
        signal.pthread_sigmask(signal.SIG_SETMASK, STOP_SIGNALS if held else [])
        for source, contents in launch.inputs:
            try:
                _copy_in(source, contents, launch.cwd)
            except OSError as exc:
                raise OSError(
                    "transfer_input_files: cannot copy %s: %s (HTCondor would hold the job)"
                    % (exc.filename or source, exc.strerror or exc)
                ) from None
        fds = []
        for path, flags, what in (
            (launch.stdin, os.O_RDONLY, "input"),
            (launch.stdout, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, "output"),
            (launch.stderr, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, "error"),
        ):
            if what == "error" and path and path == launch.stdout:
                fds.append(fds[1])
                continue
            try:
                fds.append(_open_low(path, flags))
            except OSError as exc:
                raise OSError(
                    "%s = %s: %s (HTCondor would hold the job)" % (what, path, exc.strerror)
                ) from None
        for target, fd in enumerate(fds):
            os.dup2(fd, target)
        os.chdir(launch.cwd)
        os.closerange(3, status_w)
        os.closerange(status_w + 1, 1 << 20)
    except BaseException as exc:
        if isinstance(exc, OSError) and exc.errno:
            message = "%s: %s" % (exc.filename or "job set-up", exc.strerror)
        elif isinstance(exc, OSError):
            message = str(exc)
        else:
            message = "job set-up failed: %r" % exc
        with contextlib.suppress(OSError):
            os.write(status_w, message.encode("utf-8", "replace"))
        os._exit(SETUP_FAILED)
    if launch.bundle:
        os.close(status_w)
        gc.freeze()  # the engine's objects: never traversed here, so never copied for it
        code = _run_lite(launch)
        if launch.scratch and os.getppid() != parent:
            # the engine died under the job (lite heard it: PR_SET_PDEATHSIG's TERM) and
            # nobody else will remove the job's scratch dir, nor the engine's once empty
            with contextlib.suppress(OSError):
                os.chdir("/")
            shutil.rmtree(launch.scratch, ignore_errors=True)
            with contextlib.suppress(OSError):
                os.rmdir(os.path.dirname(launch.scratch))
        os._exit(code)
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    if hasattr(signal, "SIGXFSZ"):
        signal.signal(signal.SIGXFSZ, signal.SIG_DFL)
    try:
        os.execve(launch.executable, launch.argv, launch.env)
    except OSError as exc:
        with contextlib.suppress(OSError):
            os.write(status_w, ("cannot run %s: %s" % (launch.executable, exc.strerror)).encode())
    os._exit(SETUP_FAILED)


def _after_lite(_signum: int, _frame: object) -> None:
    """A stop for a forked job that lite has finished: its exit (and cleanup) follows."""


def _stream(fd: int, mode: str, buffering: int = -1) -> TextIO:
    """A text stream on a descriptor the child set up (the engine's may be a capture)."""
    return open(
        fd, mode, buffering=buffering, encoding="utf-8", errors="backslashreplace", closefd=False
    )


def _run_lite(launch: Launch) -> int:
    """The bundle's ``__main__`` in this (forked) process: same code, no interpreter start."""
    os.environ.clear()
    os.environ.update(launch.env)
    tempfile.tempdir = None
    sys.argv = list(launch.argv)
    sys.stdin = _stream(0, "r")
    sys.stdout = _stream(1, "w")
    sys.stderr = _stream(2, "w", buffering=1)
    code: object = 1
    try:
        from lite.cli import main

        code = main(launch.argv[1:], hard_exit=False)  # our caller ends with os._exit
    except SystemExit as exc:
        code = exc.code
    except BaseException:
        import traceback

        traceback.print_exc()
        code = 1
    if code is None:
        code = 0
    elif not isinstance(code, int):
        sys.stderr.write("%s\n" % code)
        code = 1
    with contextlib.suppress(Exception):
        sys.stdout.flush()
    with contextlib.suppress(Exception):
        sys.stderr.flush()
    return code & 0xFF


class Proc:
    """A running child: a PRE script, a job, or a POST script."""

    __slots__ = ("kind", "log", "node", "pid", "pidfd", "started", "status_r")

    def __init__(self, kind: str, node: NodeRun, pid: int):
        self.kind = kind
        self.node = node
        self.pid = pid
        self.pidfd = -1
        self.status_r = -1
        self.started = time.monotonic()
        self.log: str | None = None  # a script's captured output


# ---------------------------------------------------------------------- one node


class NodeRun:
    __slots__ = (
        "attempt",
        "category",
        "cluster",
        "dag",
        "err",
        "initialdir",
        "job_code",
        "out",
        "post_code",
        "proc",
        "reason",
        "retries",
        "scratch",
        "seq",
        "site",
        "state",
        "sub",
        "transfer",
        "universe",
        "waiting",
    )

    def __init__(self, dag: dagread.Node, seq: int):
        self.dag = dag
        self.seq = seq
        self.state = WAITING
        self.waiting = len(dag.parents)
        self.category = dag.category
        self.retries = 0  # used in this run: DAGMan's $RETRY
        self.attempt = 0  # 1-based across runs: jobstate.log's last field
        self.cluster = 0
        self.site = "-"
        self.sub: subfile.SubmitDescription | None = None
        self.universe = "vanilla"
        self.initialdir = dag.directory
        self.out: str | None = None
        self.err: str | None = None
        self.scratch: str | None = None
        self.transfer = False  # HTCondor file transfer: inputs in, outputs back
        self.proc: Proc | None = None
        self.job_code = 0
        self.post_code: int | None = None
        self.reason = ""


# ---------------------------------------------------------------------- the engine


class Engine:
    def __init__(
        self,
        submit_dir: str,
        jobs: int | None = None,
        verbose: bool = False,
        out: TextIO = sys.stderr,
    ):
        self.submit_dir = os.path.abspath(submit_dir)
        self.slots = max(1, jobs or os.cpu_count() or 1)
        self.verbose = verbose
        self.out = out
        self.dag: dagread.Dag | None = None
        self.nodes: dict[str, NodeRun] = {}
        self.ready: dict[str | None, list] = {}  # category -> heap of (-priority, seq, name)
        self.active_jobs = 0  # nodes holding a slot (PRE or job running)
        self.active_posts = 0
        self.by_category: dict[str | None, int] = {}
        self.procs: dict[int, Proc] = {}
        self.selector: selectors.BaseSelector | None = None
        self.pidfds = hasattr(os, "pidfd_open")
        self.stop_signal = 0
        self.kill_at: float | None = None
        self.done = self.failed = self.earlier = 0
        self.cluster = 0  # the last $(Cluster) handed out
        self.bundles: dict[str, tuple[int, int, bool]] = {}
        self.lite_ready = False
        self.base_env: dict[str, str] = {}
        self.scratch_root = ""
        self.writer: jobstate.Writer | None = None
        self.progress: Progress | None = None
        self.wake_r = self.wake_w = -1

    # ------------------------------------------------------------------ set-up

    def _find_dag(self) -> str:
        if os.path.isfile(self.submit_dir) and self.submit_dir.endswith(".dag"):
            path = self.submit_dir
            self.submit_dir = os.path.dirname(path)
            return path
        if not os.path.isdir(self.submit_dir):
            raise EngineError("%s: no such submit directory" % self.submit_dir)
        name = _read_braindump(os.path.join(self.submit_dir, "braindump.yml")).get("dag")
        if name and os.path.isfile(os.path.join(self.submit_dir, name)):
            return os.path.join(self.submit_dir, name)
        dags = sorted(n for n in os.listdir(self.submit_dir) if n.endswith(".dag"))
        if not dags:
            raise EngineError("%s: no .dag file: not a submit directory" % self.submit_dir)
        if len(dags) > 1:
            raise EngineError(
                "%s: several DAGs (%s): name one, e.g. pegasus-run %s"
                % (self.submit_dir, ", ".join(dags), os.path.join(self.submit_dir, dags[0]))
            )
        return os.path.join(self.submit_dir, dags[0])

    def _lock(self) -> int:
        path = os.path.join(self.submit_dir, "engine.lock")
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        except OSError as exc:
            raise EngineError("cannot create %s: %s" % (path, exc.strerror)) from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            holder = os.read(fd, 32).decode("ascii", "replace").strip()
            os.close(fd)
            raise EngineError(
                "%s is being run by another engine%s; wait for it or stop it first"
                % (self.submit_dir, " (pid %s)" % holder if holder.isdigit() else "")
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, b"%d\n" % os.getpid())
        return fd

    def _setup_scratch(self) -> None:
        root = os.environ.get("PEGASUS_LOCAL_SCRATCH") or tempfile.gettempdir()
        tag = hashlib.sha1(self.submit_dir.encode()).hexdigest()[:12]
        self.scratch_root = os.path.join(root, "pegasus-run.%d.%s" % (os.getuid(), tag))
        # we hold the lock: anything here is from an engine that died
        shutil.rmtree(self.scratch_root, ignore_errors=True)
        try:
            os.makedirs(self.scratch_root, mode=0o700)
        except OSError as exc:
            raise EngineError(
                "cannot create the scratch dir %s: %s" % (self.scratch_root, exc.strerror)
            ) from None

    def _base_env(self) -> dict[str, str]:
        """What HTCondor's starter gives a job before the .sub's environment."""
        env = {"PATH": os.environ.get("PATH") or "/usr/local/bin:/usr/bin:/bin"}
        for name in ("HOME", "LANG", "LC_ALL", "USER", "LOGNAME"):
            if os.environ.get(name):
                env[name] = os.environ[name]
        return env

    def _preload_lite(self) -> None:
        """Import what every bundled job needs once, before the forks."""
        if self.lite_ready:
            return
        import importlib

        for name in PRELOAD:
            with contextlib.suppress(ImportError):
                importlib.import_module(name)
        self.lite_ready = True

    def _is_bundle(self, path: str) -> bool:
        """A zip whose ``__main__`` is lite's: the bundle we can run in a forked child."""
        try:
            st = os.stat(path)
        except OSError:
            return False
        cached = self.bundles.get(path)
        if cached and cached[:2] == (st.st_mtime_ns, st.st_size):
            return cached[2]
        found = False
        import zipfile

        try:
            with zipfile.ZipFile(path) as zf:
                found = b"lite.cli" in zf.read("__main__.py")
        except (OSError, KeyError, zipfile.BadZipFile):
            found = False
        self.bundles[path] = (st.st_mtime_ns, st.st_size, found)
        return found

    # ------------------------------------------------------------------ the run

    def execute(self) -> int:
        collecting = gc.isenabled()
        gc.disable()  # loading a big DAG makes ~10 objects a node, none garbage
        try:
            dag_path = self._find_dag()
            self.dag = dag = dagread.read_dag(dag_path)
            lock_fd = self._lock()
            try:
                return self._execute(dag, collecting)
            finally:
                os.close(lock_fd)
        finally:
            gc.unfreeze()
            if collecting:
                gc.enable()

    def _execute(self, dag: dagread.Dag, collecting: bool) -> int:
        state_path = os.path.join(self.submit_dir, "jobstate.log")
        events = jobstate.read(state_path)
        history = jobstate.histories(events)
        self.cluster = jobstate.last_cluster(events)
        order = dag.topological()
        for seq, name in enumerate(order):
            node = dag.nodes[name]
            run = self.nodes[name] = NodeRun(node, seq)
            past = history.get(name)
            if past is not None:
                run.attempt = past.attempts
                run.site = past.last.site if past.last else "-"
            if node.done or (past is not None and past.succeeded(node.post is not None)):
                run.state = DONE
                self.earlier += 1
        for run in self.nodes.values():
            if run.state == DONE:
                for child in run.dag.children:
                    self.nodes[child].waiting -= 1
        self.done = self.earlier
        self._setup_scratch()
        self.base_env = self._base_env()
        self.writer = jobstate.Writer(state_path)
        self.progress = Progress(self.out, len(self.nodes), self.verbose)
        self.writer.dagman_started(os.getpid())
        for run in self.nodes.values():
            if run.state == WAITING and run.waiting == 0:
                self._make_ready(run)
        if self.earlier:
            self.progress.message(
                "pegasus-run: %d of %d jobs already succeeded in an earlier "
                "run: not running them again" % (self.earlier, len(self.nodes))
            )
        code = 1
        gc.freeze()  # the DAG's objects live all run: the collector need not walk them
        if collecting:
            gc.enable()
        previous = self._install_signals()
        self.selector = selectors.DefaultSelector()
        if self.wake_r >= 0:
            self.selector.register(self.wake_r, selectors.EVENT_READ, None)
        try:
            self._loop()
            if self.stop_signal:
                code = 128 + self.stop_signal
            else:
                code = 0 if self.done == len(self.nodes) else 1
        finally:
            self._restore_signals(previous)
            self.selector.close()
            self.writer.dagman_finished(code)
            self.writer.close()
            shutil.rmtree(self.scratch_root, ignore_errors=True)
        self._summary(code)
        return code

    def _install_signals(self) -> dict:
        if threading.current_thread() is not threading.main_thread():
            return {}
        self.wake_r, self.wake_w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        previous = {"wakeup": signal.set_wakeup_fd(self.wake_w, warn_on_full_buffer=False)}
        for signum in STOP_SIGNALS:
            previous[signum] = signal.signal(signum, self._on_signal)
        return previous

    def _restore_signals(self, previous: dict) -> None:
        if not previous:
            return
        for signum in STOP_SIGNALS:
            signal.signal(signum, previous[signum])
        signal.set_wakeup_fd(previous["wakeup"])
        os.close(self.wake_r)
        os.close(self.wake_w)
        self.wake_r = self.wake_w = -1

    def _on_signal(self, signum: int, _frame: object) -> None:
        if self.stop_signal:  # a second one: no more grace
            self.kill_at = time.monotonic()
            return
        self.stop_signal = signum

    def _loop(self) -> None:
        stopping_seen = False
        while True:
            if self.stop_signal and not stopping_seen:
                stopping_seen = True
                self._stop_all()
            if not self.stop_signal:
                self._launch()
            self.progress.update(self.done, self.active_jobs + self.active_posts, self.failed)
            if not self.procs:
                break
            self._wait()

    # ------------------------------------------------------------------ scheduling

    def _make_ready(self, run: NodeRun) -> None:
        run.state = READY
        heap = self.ready.setdefault(run.category, [])
        heapq.heappush(heap, (-run.dag.priority, run.seq, run.dag.name))

    def _category_open(self, category: str | None) -> bool:
        if category is None:
            return True
        limit = self.dag.maxjobs.get(category, 0)
        return limit <= 0 or self.by_category.get(category, 0) < limit

    def _launch(self) -> None:
        while self.active_jobs < self.slots:
            best = None
            for category, heap in self.ready.items():
                if heap and self._category_open(category) and (best is None or heap[0] < best[0]):
                    best = (heap[0], category)
            if best is None:
                return
            _, _, name = heapq.heappop(self.ready[best[1]])
            self._start(self.nodes[name])

    def _start(self, run: NodeRun) -> None:
        run.state = ACTIVE
        run.attempt += 1
        run.post_code = None
        run.reason = ""
        self.active_jobs += 1
        self.by_category[run.category] = self.by_category.get(run.category, 0) + 1
        if run.dag.pre is not None:
            self._log(run, jobstate.PRE_SCRIPT_STARTED)
            self._spawn_script(run, run.dag.pre, "pre", 0)
        else:
            self._start_job(run)

    def _release_slot(self, run: NodeRun) -> None:
        self.active_jobs -= 1
        self.by_category[run.category] -= 1

    def _log(self, run: NodeRun, event: str, info: object = "-") -> None:
        self.writer.job(run.dag.name, event, info, run.site, run.attempt)

    # ------------------------------------------------------------------ the job

    def _macros(self, run: NodeRun) -> dict[str, str]:
        macros = {
            "cluster": str(run.cluster),
            "clusterid": str(run.cluster),
            "process": "0",
            "procid": "0",
            "node": "0",
            "step": "0",
            "row": "0",
            "item": "",
        }
        for key, value in run.dag.vars.items():
            if not key.startswith("+"):
                value = value.replace("$(JOB)", run.dag.name)
                macros[key] = value.replace("$(RETRY)", str(run.retries))
        return macros

    def _prepare(self, run: NodeRun) -> Launch:
        """Read the .sub and work out the child's argv, env, dirs and files.  EngineError
        for what condor_submit would refuse."""
        self.cluster += 1
        run.cluster = self.cluster
        sub = run.sub = subfile.read_submit(run.dag.submit, self._macros(run))
        run.site = _unquote(sub.attributes.get("pegasus_site")) or run.site or "local"
        where = run.dag.submit
        universe = (sub.get("universe") or "vanilla").strip().lower()
        if universe not in ("vanilla", "local", "scheduler"):
            raise EngineError(
                "%s: universe %s is not supported by the local engine" % (where, universe)
            )
        run.universe = universe
        initialdir = sub.get("initialdir") or sub.get("iwd")
        initialdir = (
            os.path.join(run.dag.directory, initialdir) if initialdir else run.dag.directory
        )
        if not os.path.isdir(initialdir):
            raise EngineError("%s: initialdir %s does not exist" % (where, initialdir))
        run.initialdir = initialdir

        def path(key: str) -> str | None:
            value = _unquote(sub.get(key))
            return os.path.join(initialdir, value) if value else None

        executable = path("executable")
        if not executable:
            raise EngineError("%s: no executable" % where)
        run.out, run.err = path("output"), path("error")
        if run.out and os.path.exists(run.out):
            rotate(run.out, run.err)  # left by an attempt whose engine died: keep it
        bundle = self._is_bundle(executable)
        if not bundle and not os.access(executable, os.X_OK):
            raise EngineError(
                "%s: executable %s %s"
                % (
                    where,
                    executable,
                    "is not executable" if os.path.exists(executable) else "does not exist",
                )
            )

        env = dict(os.environ) if sub.get_bool("getenv") else dict(self.base_env)
        transfer = universe == "vanilla" and (
            (sub.get("should_transfer_files") or "YES").strip().upper() != "NO"
        )
        if universe == "vanilla":
            run.scratch = os.path.join(self.scratch_root, "%s.%d" % (run.dag.name, run.attempt))
            shutil.rmtree(run.scratch, ignore_errors=True)
            os.mkdir(run.scratch, 0o700)
            env.update(
                {
                    "_CONDOR_SCRATCH_DIR": run.scratch,
                    "TMPDIR": run.scratch,
                    "TMP": run.scratch,
                    "TEMP": run.scratch,
                    "_CONDOR_JOB_IWD": initialdir,
                }
            )
            cpus = (sub.get("request_cpus") or "1").strip()
            env["OMP_NUM_THREADS"] = cpus if cpus.isdigit() else "1"
        env.update(sub.environment())
        argv = [executable, *sub.arguments()]
        run.transfer = transfer
        launch = Launch(argv, env, run.scratch if transfer else initialdir)
        launch.bundle = bundle
        launch.scratch = run.scratch
        if bundle:
            self._preload_lite()
            launch.deathsig = signal.SIGTERM  # lite stops its task's process tree
        launch.stdin, launch.stdout, launch.stderr = path("input"), run.out, run.err
        if transfer:
            for item in sub.file_list("transfer_input_files"):
                contents = item.endswith("/")
                source = item if "://" in item else os.path.join(initialdir, item)
                launch.inputs.append((source, contents))
        return launch

    def _start_job(self, run: NodeRun) -> None:
        run.scratch = None
        try:
            launch = self._prepare(run)
        except (EngineError, OSError) as exc:
            reason = (
                str(exc)
                if isinstance(exc, EngineError)
                else "%s: %s" % (getattr(exc, "filename", "") or run.dag.submit, exc.strerror)
            )
            self._log(run, jobstate.JOB_FAILURE, SUBMIT_FAILED)
            self._cleanup_scratch(run)
            self._release_slot(run)
            self._fail(run, SUBMIT_FAILED, reason, final=True)
            return
        self._log(run, jobstate.SUBMIT, "%d.0" % run.cluster)
        self._fork(run, "job", launch)
        self._log(run, jobstate.EXECUTE, "%d.0" % run.cluster)
        self.progress.event("%s: started (attempt %d)" % (run.dag.name, run.attempt))

    def _fork(self, run: NodeRun, kind: str, launch: Launch) -> Proc:
        status_r, status_w = os.pipe2(os.O_CLOEXEC)
        parent = os.getpid()
        held = signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
        try:
            pid = os.fork()
            if pid == 0:
                _child(launch, status_w, parent)  # never returns
            with contextlib.suppress(OSError):
                os.setpgid(pid, pid)
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, held)
        os.close(status_w)
        proc = Proc(kind, run, pid)
        proc.status_r = status_r
        run.proc = proc
        self.procs[pid] = proc
        if self.pidfds:
            try:
                proc.pidfd = os.pidfd_open(pid)
            except OSError:
                self.pidfds = False
        if proc.pidfd >= 0:
            self.selector.register(proc.pidfd, selectors.EVENT_READ, proc)
        return proc

    def _cleanup_scratch(self, run: NodeRun) -> None:
        if run.scratch:
            shutil.rmtree(run.scratch, ignore_errors=True)
            run.scratch = None

    def _job_ended(self, run: NodeRun, code: int, message: str) -> None:
        self._log(run, jobstate.JOB_TERMINATED, code)
        reason = ""
        stopped = bool(self.stop_signal) and code != 0
        if message:
            code, reason = HELD, message
            self._log(run, jobstate.JOB_HELD)
        elif stopped:
            reason = "stopped: the engine got %s" % signal.Signals(self.stop_signal).name
        if run.transfer and run.scratch and not message and not stopped:
            problem = self._transfer_out(run)
            if problem:
                reason = "%s; %s" % (_describe(code), problem) if code else problem
                code = HELD
                self._log(run, jobstate.JOB_HELD)
        self._cleanup_scratch(run)
        self._release_slot(run)
        run.job_code = code
        if reason:
            _append_note(run.err, reason)
        self._log(run, jobstate.JOB_SUCCESS if code == 0 else jobstate.JOB_FAILURE, code)
        if stopped:
            rotate(run.out, run.err)
            self._fail(run, code, reason, final=True)
            return
        self.progress.event("%s: job ended, %s" % (run.dag.name, _describe(code)))
        if run.dag.post is not None:
            run.reason = reason
            self._start_post(run)
            return
        rotate(run.out, run.err)
        if code == 0:
            self._succeed(run)
        else:
            self._fail(run, code, reason or _describe(code))

    # ------------------------------------------------------------------ file transfer

    def _transfer_out(self, run: NodeRun) -> str:
        """Bring the outputs back to initialdir as HTCondor would; '' or what went wrong."""
        sub, scratch = run.sub, run.scratch
        remaps = sub.remaps()
        listed = sub.get("transfer_output_files")
        if listed is None:
            names = self._changed_files(run)
        else:
            names = sub.file_list("transfer_output_files")
        missing = []
        for name in names:
            source = os.path.join(scratch, name)
            escapes = os.path.isabs(name) or ".." in name.split("/")
            if not escapes and not os.path.lexists(source):
                missing.append(name)
                continue
            if escapes or not _inside(source, scratch):
                # a name (or a link) out of the scratch dir: never read, never moved
                return (
                    "transfer_output_files: %s is outside the job's scratch directory "
                    "(HTCondor would hold the job)" % name
                )
            source = os.path.realpath(source)  # a link inside: its content comes back
            base = os.path.basename(name.rstrip("/"))
            dest = remaps.get(name, remaps.get(base, base))
            dest = os.path.join(run.initialdir, dest)
            if not _inside(dest, run.initialdir):
                return (
                    "transfer_output_remaps: %s would go to %s, outside initialdir %s (the "
                    "local engine writes outputs only there)" % (name, dest, run.initialdir)
                )
            try:
                _place(source, dest)
            except OSError as exc:
                return (
                    "transfer_output_files: cannot write %s: %s (HTCondor would hold "
                    "the job)" % (exc.filename or dest, exc.strerror)
                )
        if missing:
            return (
                "transfer_output_files: %s not created by the job (HTCondor would hold "
                "the job)" % ", ".join(missing)
            )
        return ""

    def _changed_files(self, run: NodeRun) -> list[str]:
        """No transfer_output_files: the top-level files the job created or changed."""
        sources = {}
        for item in run.sub.file_list("transfer_input_files"):
            path = item if item.startswith("/") else os.path.join(run.initialdir, item)
            with contextlib.suppress(OSError):
                st = os.stat(path)
                sources[os.path.basename(path)] = (st.st_size, st.st_mtime_ns)
        names = []
        for entry in os.scandir(run.scratch):
            if not entry.is_file(follow_symlinks=False):
                continue
            st = entry.stat(follow_symlinks=False)
            if sources.get(entry.name) != (st.st_size, st.st_mtime_ns):
                names.append(entry.name)
        return sorted(names)

    # ------------------------------------------------------------------ scripts

    def _script_argv(self, run: NodeRun, script: dagread.Script, code: int) -> list[str]:
        values = {
            "JOB": run.dag.name,
            "RETRY": str(run.retries),
            "MAX_RETRIES": str(run.dag.retry),
            "RETURN": str(code),
            "PRE_SCRIPT_RETURN": "-1",
            "JOBID": "%d.0" % run.cluster,
            "DAG_STATUS": "0",
            "FAILED_COUNT": str(self.failed),
        }
        arguments = _SCRIPT_MACRO.sub(lambda m: values[m.group(1)], script.arguments)
        program = script.executable
        if not os.path.isabs(program):
            local = os.path.join(run.dag.directory, program)
            program = local if os.path.exists(local) else (shutil.which(program) or local)
        return [program, *arguments.split()]

    def _spawn_script(self, run: NodeRun, script: dagread.Script, kind: str, code: int) -> None:
        argv = self._script_argv(run, script, code)
        launch = Launch(argv, dict(os.environ), run.dag.directory)
        log = os.path.join(self.scratch_root, "%s.%s.%d.log" % (run.dag.name, kind, run.attempt))
        launch.stdout = launch.stderr = log
        proc = self._fork(run, kind, launch)
        proc.log = log

    def _start_post(self, run: NodeRun) -> None:
        self._log(run, jobstate.POST_SCRIPT_STARTED)
        argv = self._script_argv(run, run.dag.post, run.job_code)
        if os.path.basename(argv[0]) == BUNDLE_NAME and argv[1:2] == ["exitcode"]:
            result = self._exitcode_in_process(run, argv[2:])
            if result is not None:
                self._post_ended(run, *result)
                return
        self.active_posts += 1
        self._spawn_script(run, run.dag.post, "post", run.job_code)

    def _exitcode_in_process(self, run: NodeRun, args: list[str]) -> tuple[int, str] | None:
        """``pegasus-lite.pyz exitcode ...`` without starting a Python: lite.exitcode.main."""
        try:
            from lite import exitcode
        except ImportError:
            return None
        captured = io.StringIO()
        here = os.getcwd()
        code: object = 0
        try:
            os.chdir(run.dag.directory)
            with contextlib.redirect_stdout(captured), contextlib.redirect_stderr(captured):
                code = exitcode.main(args)
        except SystemExit as exc:
            code = exc.code
        except Exception as exc:
            code, captured = 1, io.StringIO("POST script error: %r\n" % exc)
        finally:
            os.chdir(here)
        if code is None:
            code = 0
        elif not isinstance(code, int):
            captured.write("%s\n" % code)
            code = 1
        return code, captured.getvalue()

    def _post_ended(self, run: NodeRun, code: int, output: str) -> None:
        self._log(run, jobstate.POST_SCRIPT_TERMINATED, code)
        self._log(
            run, jobstate.POST_SCRIPT_SUCCESS if code == 0 else jobstate.POST_SCRIPT_FAILURE, code
        )
        rotate(run.out, run.err)  # ours already did; any other POST leaves them to us
        run.post_code = code
        if code == 0:
            self._succeed(run)
            return
        lines = [line.strip() for line in output.splitlines() if line.strip()]
        reason = "POST script %s" % _describe(code)
        if run.job_code:
            reason = "%s; %s" % (run.reason or "job " + _describe(run.job_code), reason)
        if lines:
            reason += ": " + lines[-1]
        self._fail(run, code, reason)

    def _pre_ended(self, run: NodeRun, code: int, output: str) -> None:
        self._log(run, jobstate.PRE_SCRIPT_TERMINATED, code)
        if code == 0 and not self.stop_signal:
            self._log(run, jobstate.PRE_SCRIPT_SUCCESS, code)
            self._start_job(run)
            return
        self._log(run, jobstate.PRE_SCRIPT_FAILURE, code)
        self._release_slot(run)
        lines = [line.strip() for line in output.splitlines() if line.strip()]
        reason = "PRE script %s" % _describe(code) + (": " + lines[-1] if lines else "")
        self._fail(run, code, reason, final=bool(self.stop_signal))

    # ------------------------------------------------------------------ outcomes

    def _succeed(self, run: NodeRun) -> None:
        run.state = DONE
        run.proc = None
        self.done += 1
        self.progress.event("%s: succeeded (attempt %d)" % (run.dag.name, run.attempt))
        for name in run.dag.children:
            child = self.nodes[name]
            child.waiting -= 1
            if child.waiting == 0 and child.state == WAITING:
                self._make_ready(child)

    def _fail(self, run: NodeRun, code: int, reason: str, final: bool = False) -> None:
        run.proc = None
        run.reason = reason
        unless = run.dag.retry_unless_exit
        if (
            not final
            and not self.stop_signal
            and run.retries < run.dag.retry
            and (unless is None or code != unless)
        ):
            run.retries += 1
            self.progress.event(
                "%s: attempt %d failed (%s); retrying (%d of %d)"
                % (run.dag.name, run.attempt, reason, run.retries, run.dag.retry)
            )
            self._make_ready(run)
            return
        run.state = FAILED
        self.failed += 1
        tries = run.retries + 1
        self.progress.event(
            "%s: failed after %d attempt%s: %s"
            % (run.dag.name, tries, "s" if tries > 1 else "", reason),
            always=True,
        )

    # ------------------------------------------------------------------ waiting

    def _wait(self) -> None:
        timeout = self.progress.due()
        if self.kill_at is not None:
            timeout = min(timeout, max(0.0, self.kill_at - time.monotonic()))
        if not self.pidfds:
            timeout = min(timeout, 0.01)
        ended: list[tuple[Proc, int]] = []
        for key, _ in self.selector.select(timeout):
            proc = key.data
            if proc is None:
                with contextlib.suppress(OSError):
                    while os.read(self.wake_r, 512):
                        pass
                continue
            pid, status = os.waitpid(proc.pid, os.WNOHANG)
            if pid:
                ended.append((proc, status))
        if not self.pidfds:
            for proc in list(self.procs.values()):
                pid, status = os.waitpid(proc.pid, os.WNOHANG)
                if pid:
                    ended.append((proc, status))
        ended.sort(key=lambda item: item[0].started)
        for proc, status in ended:
            self._reap(proc, status)
        if self.kill_at is not None and time.monotonic() >= self.kill_at:
            for proc in self.procs.values():
                with contextlib.suppress(OSError):
                    os.killpg(proc.pid, signal.SIGKILL)

    def _reap(self, proc: Proc, status: int) -> None:
        del self.procs[proc.pid]
        if proc.pidfd >= 0:
            self.selector.unregister(proc.pidfd)
            os.close(proc.pidfd)
        message = b""
        with contextlib.suppress(OSError):
            while True:
                chunk = os.read(proc.status_r, 4096)
                if not chunk:
                    break
                message += chunk
        os.close(proc.status_r)
        code = _exit_code(status)
        text = message.decode("utf-8", "replace").strip()
        run = proc.node
        if proc.kind == "job":
            self._job_ended(run, code, text)
            return
        output = text
        if proc.log:
            with contextlib.suppress(OSError):
                with open(proc.log, encoding="utf-8", errors="replace") as fh:
                    output = (output + "\n" + fh.read()[-4000:]).strip()
                os.unlink(proc.log)
        if text:
            code = SUBMIT_FAILED if code == SETUP_FAILED else code
        if proc.kind == "pre":
            self._pre_ended(run, code, output)
        else:
            self.active_posts -= 1
            if self.stop_signal and code != 0:
                self._log(run, jobstate.POST_SCRIPT_TERMINATED, code)
                self._log(run, jobstate.POST_SCRIPT_FAILURE, code)
                rotate(run.out, run.err)
                self._fail(run, code, "stopped during the POST script", final=True)
            else:
                self._post_ended(run, code, output)

    def _stop_all(self) -> None:
        name = signal.Signals(self.stop_signal).name
        self.progress.message(
            "pegasus-run: got %s: stopping %d running job%s (KILL in %gs)"
            % (name, len(self.procs), "" if len(self.procs) == 1 else "s", GRACE)
        )
        if self.kill_at is None:
            self.kill_at = time.monotonic() + GRACE
        for proc in self.procs.values():
            with contextlib.suppress(OSError):
                os.killpg(proc.pid, signal.SIGTERM)

    # ------------------------------------------------------------------ the end

    def _outputs_location(self) -> str:
        """Where the final outputs went: the destinations of the stage-out jobs' transfer
        lists (``stage_out_*.in``), else the submit dir."""
        import json

        found: list[str] = []
        for name, node in self.dag.nodes.items():
            if not name.startswith("stage_out_"):
                continue
            listing = os.path.splitext(node.submit)[0] + ".in"
            try:
                with open(listing, encoding="utf-8") as fh:
                    entries = json.load(fh)
            except (OSError, ValueError, RecursionError):
                continue
            for entry in entries if isinstance(entries, list) else []:
                for dest in entry.get("dest_urls", []) if isinstance(entry, dict) else []:
                    url = dest.get("url", "") if isinstance(dest, dict) else ""
                    if url.startswith("file://"):
                        url = url[len("file://") :]
                    if url:
                        found.append(os.path.dirname(url))
        if not found:
            return self.submit_dir
        if all(f.startswith("/") for f in found):
            return os.path.commonpath(found)
        return found[0]

    def _summary(self, code: int) -> None:
        total = len(self.nodes)
        not_run = total - self.done - self.failed
        elapsed = self.progress.elapsed()
        head = "pegasus-run: %d job%s: %d succeeded" % (total, "" if total == 1 else "s", self.done)
        if self.earlier:
            head += " (%d in an earlier run)" % self.earlier
        head += ", %d failed, %d not run, %.1fs" % (self.failed, not_run, elapsed)
        lines = [head]
        for run in self.nodes.values():
            if run.state == FAILED:
                lines.append(
                    "  failed: %s (attempt %d): %s" % (run.dag.name, run.attempt, run.reason)
                )
        if code == 0:
            lines.append("pegasus-run: outputs are in %s" % self._outputs_location())
        elif self.stop_signal:
            lines.append("pegasus-run: stopped; 'pegasus-run %s' resumes it" % self.submit_dir)
        else:
            lines.append(
                "pegasus-run: 'pegasus-analyzer %s' explains the failures; "
                "'pegasus-run %s' retries what did not succeed" % (self.submit_dir, self.submit_dir)
            )
        self.progress.finish(lines)


def _inside(path: str, directory: str) -> bool:
    """``path``, its links followed, is in ``directory`` (or is it)."""
    real, top = os.path.realpath(path), os.path.realpath(directory)
    return real == top or real.startswith(top.rstrip("/") + "/")


def _place(source: str, dest: str) -> None:
    """Put ``source`` at ``dest`` atomically: rename when on the same file system, else a
    copy under a temporary name in the destination directory, then rename."""
    if os.path.isdir(source) and not os.path.islink(source):
        os.makedirs(dest, exist_ok=True)
        for name in os.listdir(source):
            _place(os.path.join(source, name), os.path.join(dest, name))
        return
    directory = os.path.dirname(dest)
    if not os.path.isdir(directory):
        raise FileNotFoundError(errno.ENOENT, "no such directory", directory)
    try:
        os.replace(source, dest)
        return
    except OSError as exc:
        if exc.errno != errno.EXDEV:
            raise
    fd, tmp = tempfile.mkstemp(prefix=".%s." % os.path.basename(dest), dir=directory)
    os.close(fd)
    try:
        shutil.copy2(source, tmp)
        os.replace(tmp, dest)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
