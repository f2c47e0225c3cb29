"""One kickstart run, from options to exit code and record, callable in-process.

``run()`` is what ``pegasus-kickstart`` does after parsing its flags, and what
``pegasus-lite`` calls directly, so a job pays for one interpreter start, not two.
"""

from __future__ import annotations

import os
import stat
import time

from . import record
from .argexpand import expand_arguments
from .errors import KickstartError, ListFileError, SetupError, StdioError
from .options import Options, Stdio
from .runner import JobResult, run_program
from .statinfo import FileEntry, read_list_file

TYPE_CHECKING = False  # typing costs milliseconds of start-up
if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

TIMEOUT_EXITCODE = 14  # the C tool's code for a -k timeout (SIGALRM)


class Capture:
    """A temporary file that receives a stream (or data) and is described in the record."""

    def __init__(self, tmpdir: str, prefix: str):
        self.fd, self.path = _mkstemp(tmpdir, prefix)

    def close(self, remove: bool = True) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1
        if remove:
            try:
                os.unlink(self.path)
            except OSError:
                pass


def _mkstemp(tmpdir: str, prefix: str):
    """``tempfile`` costs milliseconds to import; this is all of it we need."""
    alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
    for _ in range(100):
        suffix = "".join(alphabet[b % len(alphabet)] for b in os.urandom(6))
        path = os.path.join(tmpdir, prefix + suffix)
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
        except FileExistsError:
            continue
        return fd, path
    raise FileExistsError("no free temporary name in %s" % tmpdir)


def temp_dir(env: Mapping[str, str]) -> str:
    """The C tool's order: KICKSTART_TMP, GRIDSTART_TMP, TMP, TEMP, TMPDIR, then /tmp."""
    for var in ("KICKSTART_TMP", "GRIDSTART_TMP", "TMP", "TEMP", "TMPDIR"):
        path = env.get(var)
        if path and os.path.isdir(path) and os.access(path, os.W_OK | os.X_OK):
            return path
    for path in ("/tmp", "/var/tmp"):
        if os.access(path, os.W_OK | os.X_OK):
            return path
    return "."


def resolve_program(name: str, env: Mapping[str, str], cwd: str) -> str:
    """Absolute path of the program, looked up as the C tool does: relative to the job's
    directory first, then (for a bare name) along PATH, skipping files we may not run."""
    local = os.path.normpath(os.path.join(cwd, name))
    if "/" in name or os.path.isfile(local):
        return local
    for directory in env.get("PATH", os.defpath).split(os.pathsep):
        candidate = os.path.join(directory or ".", name)
        if os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return os.path.abspath(candidate)
    return local


def make_executable(path: str) -> None:
    """-X: the C tool adds r-x for everyone when the file cannot be run as it is."""
    if os.access(path, os.R_OK | os.X_OK):
        return
    try:
        os.chmod(path, stat.S_IMODE(os.stat(path).st_mode) | 0o555)
    except OSError:
        pass  # the exec reports the real problem


# The chain the C tool runs around the main job, from these variables (KICKSTART_* first).
SIDE_JOBS = ("setup", "prejob", "postjob", "cleanup")


def side_job_argv(name: str, env: Mapping[str, str]) -> list[str] | None:
    value = env.get("KICKSTART_" + name.upper()) or env.get("GRIDSTART_" + name.upper())
    if not value:
        return None
    import shlex

    try:
        words = shlex.split(value)
    except ValueError:
        words = value.split()
    return expand_arguments(words, env) or None


class JobRun:
    """One program of the chain: its name in the record, argv, resolved path and result."""

    def __init__(self, name: str, argv: list[str], executable: str, result: JobResult):
        self.name = name
        self.argv = argv
        self.executable = executable
        self.result = result


class Invocation:
    """The outcome of ``run()``: the record text and the exit code kickstart gives."""

    def __init__(self, options: Options, argv: Sequence[str], env: Mapping[str, str]):
        self.options = options
        self.argv = list(argv)
        self.env = env
        self.start = time.time()
        self.duration = 0.0
        self.cwd = ""
        self.jobs: list[JobRun] = []
        self.error: KickstartError | None = None
        self.stat_before: list[FileEntry] = []
        self.stat_after: list[FileEntry] = []
        self.rendered_before: list[str] = []
        self.rendered_after: list[str] = []
        self.integrity_error = False
        self.captures: dict[str, Capture] = {}
        self.stdio_paths: dict[str, str] = {}
        self.integrity_blob = ""
        self.record = ""

    @property
    def checksums(self) -> dict[str, str]:
        """lfn -> sha256 of the -s files that exist, as the record states them."""
        return {e.lfn: e.sha256 for e in self.stat_after if e.sha256 is not None}

    def find(self, name: str) -> JobRun | None:
        return next((job for job in self.jobs if job.name == name), None)

    @property
    def job(self) -> JobResult | None:
        """The main job's result; None when it never started."""
        main = self.find("mainjob")
        return main.result if main else None

    @property
    def failed(self) -> bool:
        """Anything went wrong: the record then carries environment and limits."""
        if self.error is not None or self.integrity_error:
            return True
        return any(job.result.exitcode != 0 or job.result.timed_out for job in self.jobs)

    @property
    def exitcode(self) -> int:
        """The C tool's rules: a timeout gives 14; a failed prejob's code stands for the
        main job it skipped; a failed postjob's code replaces a successful main job's;
        setup and cleanup never change it; an unhashable output turns 0 into 1."""
        if self.error is not None:
            return self.error.exitcode
        if any(job.result.timed_out for job in self.jobs):
            return TIMEOUT_EXITCODE
        prejob = self.find("prejob")
        if prejob is not None and prejob.result.exitcode != 0:
            return prejob.result.exitcode
        main = self.job
        if main is None:
            return 127
        code = main.exitcode
        postjob = self.find("postjob")
        if code == 0 and postjob is not None:
            code = postjob.result.exitcode
        if code == 0 and self.integrity_error:
            return 1
        return code


def _expand_entries(specs: Sequence[str], output: bool) -> list[FileEntry]:
    entries = []
    for spec in specs:
        if isinstance(spec, FileEntry):  # a library caller's entry, already split
            entries.append(FileEntry.named(spec.lfn, spec.pfn, output))
        elif spec.startswith("@"):
            try:
                lines = read_list_file(spec[1:])
            except OSError as exc:
                raise ListFileError(spec[1:], exc.errno or 1, exc.strerror or str(exc)) from None
            entries.extend(FileEntry(line, output) for line in lines)
        else:
            entries.append(FileEntry(spec, output))
    return entries


def _open_stdio(name: str, spec: Stdio, inv: Invocation, tmpdir: str) -> int | None:
    if spec.kind == "share":
        return None
    if spec.kind == "capture":
        capture = Capture(tmpdir, "ks.%s." % ("out" if name == "stdout" else "err"))
        inv.captures[name] = capture
        return capture.fd
    path = spec.path or "/dev/null"
    inv.stdio_paths[name] = path
    if name == "stdin":
        flags = os.O_RDONLY
    else:
        flags = os.O_WRONLY | os.O_CREAT | (os.O_APPEND if spec.append else os.O_TRUNC)
        if spec.backup:
            _backup(path)
    try:
        return os.open(path, flags | os.O_CLOEXEC, 0o666)
    except OSError as exc:
        raise StdioError("cannot open %s %s: %s" % (name, path, exc.strerror)) from None


def _backup(path: str) -> None:
    """``^name``: move an existing file aside to the first free ``name.NNN``."""
    if not os.path.lexists(path):
        return
    for number in range(1000):
        target = "%s.%03d" % (path, number)
        if not os.path.lexists(target):
            try:
                os.rename(path, target)
            except OSError as exc:
                raise StdioError("cannot back up %s: %s" % (path, exc.strerror)) from None
            return
    raise StdioError("cannot back up %s: %s.000 to .999 all exist" % (path, path))


def run(
    argv: Sequence[str], options: Options | None = None, env: Mapping[str, str] | None = None
) -> Invocation:
    """Run ``argv`` under kickstart and return the record and exit code.

    Changes the process's directory for -w/-W, as the C tool does; does not print anything."""
    options = options or Options()
    env = dict(os.environ if env is None else env)
    prepend = env.get("KICKSTART_PREPEND_PATH")
    if prepend:
        env["PATH"] = prepend + ":" + env["PATH"] if env.get("PATH") else prepend
    inv = Invocation(options, argv, env)
    started = time.monotonic()
    opened: list[int] = []
    try:
        _run(inv, opened)
    except KickstartError as exc:
        inv.error = exc
    except BaseException as exc:
        # the caller's signal handler stopped us (say while the outputs were hashed): the
        # record made so far (rendered below) goes with the exception, for the caller
        try:
            exc.invocation = inv
        except AttributeError:
            pass
        raise
    finally:
        for fd in opened:
            os.close(fd)
        inv.duration = time.monotonic() - started
        inv.record = record.render(inv)
        for capture in inv.captures.values():
            capture.close()
    return inv


def _run(inv: Invocation, opened: list[int]) -> None:
    options = inv.options
    if options.workdir:
        try:
            if options.make_workdir:
                os.mkdir(options.workdir)
            os.chdir(options.workdir)
        except OSError as exc:
            inv.cwd = os.getcwd()
            raise SetupError(
                "cannot use directory %s: %s" % (options.workdir, exc.strerror)
            ) from None
    inv.cwd = os.getcwd()
    inv.stat_before = _expand_entries(options.stat_before, output=False)
    inv.stat_after = _expand_entries(options.stat_after, output=True)
    for entry in inv.stat_before:
        lines, _ = entry.render(inv.cwd, "    ")
        inv.rendered_before.extend(lines)

    tmpdir = temp_dir(inv.env)
    fds = []
    for name in ("stdin", "stdout", "stderr"):
        fd = _open_stdio(name, getattr(options, name), inv, tmpdir)
        if fd is not None and name not in inv.captures:
            opened.append(fd)
        fds.append(fd)

    meta = inv.captures["metadata"] = Capture(tmpdir, "ks.meta.")
    integrity = inv.captures["integrity"] = Capture(tmpdir, "ks.integrity.")
    child_env = inv.env
    child_env["KICKSTART_INTEGRITY_DATA"] = integrity.path
    child_env["KICKSTART_METADATA"] = meta.path

    if not inv.argv:
        raise SetupError("no program to run")
    argv = expand_arguments(inv.argv, inv.env) if options.expand_arguments else list(inv.argv)
    wrapper = inv.env.get("KICKSTART_WRAPPER")
    if wrapper:
        argv = [*(side_job_argv("wrapper", inv.env) or []), *argv]

    def run_one(name: str, job_argv: list[str]) -> JobResult:
        path = resolve_program(job_argv[0], child_env, inv.cwd)
        if options.make_executable:
            make_executable(path)
        result = run_program(
            path,
            job_argv,
            child_env,
            fds,
            term_after=remaining(),
            kill_after=options.kill_after,
            forward_signals=options.forward_signals,
            log=options.log,
            on_signal=options.on_signal,
        )
        inv.jobs.append(JobRun(name, job_argv, path, result))
        return result

    deadline = None if options.term_after is None else time.monotonic() + options.term_after

    def remaining() -> float | None:
        return None if deadline is None else max(0.0, deadline - time.monotonic())

    chain = {name: side_job_argv(name, inv.env) for name in SIDE_JOBS}
    if chain["setup"]:
        run_one("setup", chain["setup"])
    ok = True
    if chain["prejob"]:
        prejob = run_one("prejob", chain["prejob"])
        ok = prejob.exitcode == 0 and not prejob.timed_out
    if ok:
        main = run_one("mainjob", argv)
        if chain["postjob"] and main.exitcode == 0 and not main.timed_out:
            run_one("postjob", chain["postjob"])
    if chain["cleanup"]:
        deadline = None
        run_one("cleanup", chain["cleanup"])
    # A signal that reached the job means the caller is stopping: stat the outputs but do
    # not hash them, which could block (a FIFO) or take long (a huge file).
    stopping = any(run.result.signals for run in inv.jobs)
    for entry in inv.stat_after:
        lines, failed = entry.render(
            inv.cwd, "    ", hash_output=not stopping, inside=options.stat_inside
        )
        inv.rendered_after.extend(lines)
        inv.integrity_error = inv.integrity_error or failed
    try:
        inv.integrity_blob = _read_all(integrity.path)
    except OSError:
        inv.integrity_blob = ""


def _read_all(path: str) -> str:
    with open(path, "rb") as fh:
        return fh.read().decode("utf-8", "surrogateescape")
