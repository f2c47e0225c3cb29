"""Start the job, wait for it, enforce -k/-K, forward signals.

The job is started with ``posix_spawn`` (a vfork: no copy of our memory, no second
interpreter) as the leader of its own process group, so a timeout or a forwarded TERM
reaches everything it started, not just its first process.
"""

from __future__ import annotations

import os
import select
import time

TYPE_CHECKING = False  # typing costs milliseconds of start-up
if TYPE_CHECKING:
    from collections.abc import Callable, Mapping, Sequence

    Logger = Callable[[str], None]

try:  # the C module: ``signal`` wraps it in enums, ~4 ms of start-up per job
    import _signal as signal
except ImportError:  # pragma: no cover - other interpreters
    import signal

FORWARDED_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGQUIT, signal.SIGHUP)

# Python ignores SIGPIPE and SIGXFSZ for itself; the job must get the defaults back.
_RESET_SIGNALS = (signal.SIGPIPE, signal.SIGXFSZ, *FORWARDED_SIGNALS)


def _quiet(message: str) -> None:
    pass


class JobResult:
    """What happened to one started (or not started) program."""

    def __init__(self) -> None:
        self.start = time.time()
        self.duration = 0.0
        self.pid = 0
        self.rusage = None  # resource.struct_rusage of the job's process tree
        self.status: int | None = None  # raw wait status, None when it never ran
        self.errno: int | None = None  # why it could not be started
        self.timed_out = False
        self.signals: list[int] = []  # signals we received and passed on

    @property
    def exitcode(self) -> int:
        """The shell convention: the exit status, 128+signal, or 127 when it never ran."""
        if self.status is None:
            return 127
        if os.WIFSIGNALED(self.status):
            return 128 + os.WTERMSIG(self.status)
        return os.WEXITSTATUS(self.status)


class _Forwarder:
    """Passes TERM/INT/QUIT/HUP on to the job's process group while it runs."""

    def __init__(self, result: JobResult, on_signal: Callable | None = None):
        self.result = result
        self.pgid = 0
        self.previous: dict = {}
        self.on_signal = on_signal

    def install(self) -> None:
        for signum in FORWARDED_SIGNALS:
            try:
                self.previous[signum] = signal.signal(signum, self._handle)
            except ValueError:
                return  # not the main thread: the caller owns signal handling
            except OSError:
                pass

    def _handle(self, signum: int, _frame: object) -> None:
        self.result.signals.append(signum)
        if self.pgid:
            _killpg(self.pgid, signum)
        if self.on_signal is not None:
            self.on_signal(signum, self.pgid)

    def restore(self) -> None:
        for signum, handler in self.previous.items():
            signal.signal(signum, handler)
        self.previous = {}


def _killpg(pgid: int, signum: int) -> None:
    try:
        os.killpg(pgid, signum)
    except ProcessLookupError:
        pass


class _Waker:
    """A pipe Python's C-level signal handler writes to (``set_wakeup_fd``) while we wait.

    A signal that lands just before a blocking wait starts (its C handler has run, its
    Python handler, the forwarder, not yet) would otherwise leave the wait blocked until the
    job ends by itself: the byte in the pipe ends the wait at once, and the forwarder runs.
    Outside the main thread (no handlers there) there is nothing to wake: ``fd`` is None."""

    def __init__(self) -> None:
        self.fd: int | None = None
        self._write = -1
        self._previous = -1

    def __enter__(self) -> _Waker:
        read, write = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        try:
            self._previous = signal.set_wakeup_fd(write, warn_on_full_buffer=False)
        except ValueError:  # not the main thread
            os.close(read)
            os.close(write)
            return self
        self.fd, self._write = read, write
        return self

    def drain(self) -> None:
        try:
            while os.read(self.fd, 512):
                pass
        except BlockingIOError:
            pass

    def __exit__(self, *exc: object) -> None:
        if self.fd is None:
            return
        signal.set_wakeup_fd(self._previous)
        os.close(self.fd)
        os.close(self._write)
        self.fd = None


def _exited_within(pidfd: int, seconds: float | None, waker: _Waker) -> bool:
    """True once the job has exited; False when ``seconds`` passed or a signal came (its
    Python handler runs as soon as we return)."""
    poller = select.poll()
    poller.register(pidfd, select.POLLIN)
    if waker.fd is not None:
        poller.register(waker.fd, select.POLLIN)
    timeout = None if seconds is None else max(0, int(seconds * 1000))
    ready = [fd for fd, _ in poller.poll(timeout)]
    if waker.fd is not None and waker.fd in ready:
        waker.drain()
    return pidfd in ready


def _wait_exit(
    pid: int, result: JobResult, term_after: float | None, kill_after: float, log: Logger
):
    """wait4() the job; with ``term_after``, TERM its group then KILL it ``kill_after`` later."""
    try:
        pidfd = os.pidfd_open(pid)
    except (AttributeError, OSError):
        pidfd = None
    if pidfd is not None:
        try:
            with _Waker() as waker:
                _watch(pidfd, waker, pid, result, term_after, kill_after, log)
        finally:
            os.close(pidfd)
    elif term_after is not None:
        _poll_timeout(pid, result, term_after, kill_after, log)
    _, status, rusage = os.wait4(pid, 0)
    if result.timed_out:
        _killpg(pid, signal.SIGKILL)  # leftovers of the group must not outlive a timeout
    return status, rusage


def _watch(
    pidfd: int,
    waker: _Waker,
    pid: int,
    result: JobResult,
    term_after: float | None,
    kill_after: float,
    log: Logger,
) -> None:
    """Until the job exits: TERM then KILL its group at the deadlines; wake for signals."""
    deadline = None if term_after is None else time.monotonic() + term_after
    while True:
        left = None if deadline is None else deadline - time.monotonic()
        if _exited_within(pidfd, left, waker):
            return
        if deadline is None or time.monotonic() < deadline:
            continue  # a signal woke us: the forwarder has run (or runs now)
        if not result.timed_out:
            result.timed_out = True
            log("Job timed out, sending SIGTERM")
            _killpg(pid, signal.SIGTERM)
            deadline = time.monotonic() + kill_after
        else:
            log("Job still running, sending SIGKILL")
            _killpg(pid, signal.SIGKILL)
            deadline = None


def _poll_timeout(
    pid: int, result: JobResult, term_after: float, kill_after: float, log: Logger
) -> None:
    """Kernels before 5.3 have no pidfd: watch with waitid(WNOWAIT) instead."""
    deadline = time.monotonic() + term_after
    step = 0.001
    while True:
        if os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None:
            return
        now = time.monotonic()
        if now >= deadline:
            if result.timed_out:
                log("Job still running, sending SIGKILL")
                _killpg(pid, signal.SIGKILL)
                return
            result.timed_out = True
            log("Job timed out, sending SIGTERM")
            _killpg(pid, signal.SIGTERM)
            deadline = now + kill_after
        time.sleep(min(step, max(0.0, deadline - now)))
        step = min(step * 2, 0.05)


def run_program(
    path: str,
    argv: Sequence[str],
    env: Mapping[str, str],
    stdio: Sequence[int | None],
    term_after: float | None = None,
    kill_after: float = 5.0,
    forward_signals: bool = True,
    log: Logger | None = None,
    on_signal: Callable | None = None,
) -> JobResult:
    """Run ``path`` with ``argv`` and wait.  ``stdio`` holds the fds for 0, 1, 2 (None = ours)."""
    result = JobResult()
    actions = [
        (os.POSIX_SPAWN_DUP2, fd, target)
        for target, fd in enumerate(stdio)
        if fd is not None and fd != target
    ]
    forwarder = _Forwarder(result, on_signal)
    if forward_signals:
        forwarder.install()
    try:
        started = time.monotonic()
        result.start = time.time()
        try:
            pid = os.posix_spawn(
                path,
                list(argv),
                env,
                file_actions=actions,
                setpgroup=0,
                setsigdef=_RESET_SIGNALS,
                setsigmask=(),
            )
        except OSError as exc:
            result.errno = exc.errno
            result.duration = time.monotonic() - started
            return result
        result.pid = pid
        forwarder.pgid = pid
        for signum in result.signals:  # arrived between install and spawn
            _killpg(pid, signum)
            if on_signal is not None:
                on_signal(signum, pid)
        result.status, result.rusage = _wait_exit(
            pid, result, term_after, kill_after, log or _quiet
        )
        result.duration = time.monotonic() - started
    finally:
        forwarder.restore()
    return result
