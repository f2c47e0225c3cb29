"""``jobstate.log``: one line per job event, the engine's only state file.

The format is the one pegasus-monitord writes for a DAGMan run, so the statistics and the
analyzer read either::

    1700000000.123 findrange_ID0000002 JOB_SUCCESS 0 local - 1
    1700000000.456 INTERNAL *** DAGMAN_FINISHED 0 ***

Each line is appended with a single ``write`` on an ``O_APPEND`` descriptor: after a crash
or a ``kill -9`` the file holds every event up to the last one, at worst with a torn last
line, which the reader skips.  A job whose last event is a success is not run again.
"""

from __future__ import annotations

import os
import time

SUBMIT = "SUBMIT"
EXECUTE = "EXECUTE"
JOB_HELD = "JOB_HELD"
JOB_TERMINATED = "JOB_TERMINATED"
JOB_SUCCESS = "JOB_SUCCESS"
JOB_FAILURE = "JOB_FAILURE"
PRE_SCRIPT_STARTED = "PRE_SCRIPT_STARTED"
PRE_SCRIPT_TERMINATED = "PRE_SCRIPT_TERMINATED"
PRE_SCRIPT_SUCCESS = "PRE_SCRIPT_SUCCESS"
PRE_SCRIPT_FAILURE = "PRE_SCRIPT_FAILURE"
POST_SCRIPT_STARTED = "POST_SCRIPT_STARTED"
POST_SCRIPT_TERMINATED = "POST_SCRIPT_TERMINATED"
POST_SCRIPT_SUCCESS = "POST_SCRIPT_SUCCESS"
POST_SCRIPT_FAILURE = "POST_SCRIPT_FAILURE"
DAGMAN_STARTED = "DAGMAN_STARTED"
DAGMAN_FINISHED = "DAGMAN_FINISHED"
INTERNAL = "INTERNAL"

JOB_EVENTS = frozenset(
    (SUBMIT, EXECUTE, JOB_HELD, JOB_TERMINATED, JOB_SUCCESS, JOB_FAILURE, PRE_SCRIPT_STARTED,
     PRE_SCRIPT_TERMINATED, PRE_SCRIPT_SUCCESS, PRE_SCRIPT_FAILURE, POST_SCRIPT_STARTED,
     POST_SCRIPT_TERMINATED, POST_SCRIPT_SUCCESS, POST_SCRIPT_FAILURE)
)  # fmt: skip


class Event:
    """One parsed line.  ``info`` is the condor id, an exit code or ``-``; for INTERNAL
    lines ``job`` is ``INTERNAL`` and ``info`` the number after the event name."""

    __slots__ = ("attempt", "event", "info", "job", "site", "time")

    def __init__(self, time: float, job: str, event: str, info: str, site: str, attempt: int):
        self.time = time
        self.job = job
        self.event = event
        self.info = info
        self.site = site
        self.attempt = attempt

    def __repr__(self) -> str:
        return "Event(%.3f, %s, %s, %s)" % (self.time, self.job, self.event, self.info)


def parse_line(line: str) -> Event | None:
    """An Event, or None for a line that is not one (torn by a crash, or foreign)."""
    fields = line.split()
    if len(fields) < 3:
        return None
    try:
        stamp = float(fields[0])
    except ValueError:
        return None
    if fields[1] == INTERNAL:
        # <t> INTERNAL *** DAGMAN_STARTED <n> ***
        if len(fields) == 6 and fields[2] == "***" and fields[5] == "***":
            return Event(stamp, INTERNAL, fields[3], fields[4], "-", 0)
        if len(fields) == 5 and fields[2] == "***" and fields[4] == "***":
            return Event(stamp, INTERNAL, fields[3], "-", "-", 0)
        return None
    if len(fields) != 7 or fields[2] not in JOB_EVENTS:
        return None
    try:
        attempt = int(fields[6])
    except ValueError:
        return None
    return Event(stamp, fields[1], fields[2], fields[3], fields[4], attempt)


def read(path: str) -> list[Event]:
    """Every event in the file; a missing file is an empty history."""
    try:
        with open(path, encoding="utf-8", errors="replace") as fh:
            lines = fh.read().splitlines()
    except FileNotFoundError:
        return []
    events = []
    for line in lines:
        event = parse_line(line)
        if event is not None:
            events.append(event)
    return events


class History:
    """What the file says about one job: its last event and how many attempts it had."""

    __slots__ = ("attempts", "last")

    def __init__(self) -> None:
        self.last: Event | None = None
        self.attempts = 0

    def succeeded(self, has_post: bool) -> bool:
        if self.last is None:
            return False
        if self.last.event == POST_SCRIPT_SUCCESS:
            return True
        return self.last.event == JOB_SUCCESS and not has_post


def histories(events: list[Event]) -> dict[str, History]:
    found: dict[str, History] = {}
    for event in events:
        if event.job == INTERNAL:
            continue
        history = found.get(event.job)
        if history is None:
            history = found[event.job] = History()
        history.last = event
        history.attempts = max(history.attempts, event.attempt)
    return found


def last_cluster(events: list[Event]) -> int:
    """The highest cluster id SUBMIT lines used (``12.0`` -> 12), so new ids stay unique."""
    top = 0
    for event in events:
        if event.event == SUBMIT:
            head = event.info.split(".", 1)[0]
            if head.isascii() and head.isdigit():
                top = max(top, int(head))
    return top


class Writer:
    """Appends events, one ``write`` each: nothing is buffered in this process."""

    def __init__(self, path: str):
        self.path = path
        self.fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o644)
        size = os.fstat(self.fd).st_size
        if size:
            # a crash may have torn the last line: start ours on a line of its own
            with open(path, "rb") as fh:
                fh.seek(size - 1)
                if fh.read(1) != b"\n":
                    os.write(self.fd, b"\n")

    def _write(self, line: str) -> None:
        os.write(self.fd, line.encode("utf-8"))

    def job(self, job: str, event: str, info: object = "-", site: str = "-", attempt: int = 1,
            stamp: float | None = None) -> None:  # fmt: skip
        when = time.time() if stamp is None else stamp
        self._write("%.3f %s %s %s %s - %d\n" % (when, job, event, info, site or "-", attempt))

    def dagman_started(self, ident: int) -> None:
        self._write("%.3f INTERNAL *** DAGMAN_STARTED %d ***\n" % (time.time(), ident))

    def dagman_finished(self, status: int) -> None:
        self._write("%.3f INTERNAL *** DAGMAN_FINISHED %d ***\n" % (time.time(), status))

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1
