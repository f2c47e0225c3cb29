"""``pegasus-statistics SUBMIT_DIR --html OUT.html``: one self-contained page about a run.

Everything comes from the files the run left (records.py reads them): jobstate.log for
when each try was queued, ran and ended (the submit side's clock); the kickstart records
for when each task ran (the worker's clock); the PegasusLite log (.err) for when the job
started and ended on the worker; the multipart ``transfer_attempts`` blocks for what each
stage-in and stage-out moved (bytes, seconds, URLs, so the protocol).

What is not known is said on the page, not made up: a try with no PegasusLite log has no
stage-in/stage-out split (one "running" bar); a worker clock that disagrees with the
submit side's is lined up with the start of the try, and the page says how many were.

The page stays small for any number of jobs: the figures are aggregated (jobs running per
time step, bytes per second per time step) and only tables of the top N list jobs one by
one; one bar per try is drawn up to ``BAR_LIMIT`` tries (packed into lanes above
``ROW_LIMIT``), only the slowest ones beyond that.
"""

from __future__ import annotations

import datetime as dt
import html
import json
import os
import re
import time
from urllib.parse import urlsplit

from . import records, statistics
from .errors import PlanError

ROW_LIMIT = 60  # tries drawn on a row each, named; above this packed into lanes
BAR_LIMIT = 5000  # tries drawn one bar each; above this only the slowest BAR_SLOWEST
BAR_SLOWEST = 50
TOP = 20  # rows of the slowest-jobs and largest-files tables
FAILED_DETAIL = 50  # failed jobs shown with their stderr; the rest only listed
FAILED_LIST = 500
TAIL = 20  # lines of stderr shown per failed job
MAX_BINS = 600  # time steps of the aggregated figures
CLOCK_SLACK = 2.0  # seconds a worker's times may lie outside the try and still count as ours
# time steps of the aggregated figures: from a millisecond (a test run) to a day
NICE_STEPS = (0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 15, 30, 60,
              120, 300, 600, 900, 1800, 3600, 7200, 14400, 21600, 43200, 86400)  # fmt: skip

# Phases of a try, in drawing order (later ones on top)
PHASES = ("queued", "running", "aux", "stage_in", "task", "stage_out", "post")
PHASE_LABELS = {
    "queued": "waiting (submit to start)",
    "running": "running, not broken down",
    "aux": "auxiliary job (transfer, cleanup)",
    "stage_in": "setup + stage-in",
    "task": "task (kickstart)",
    "stage_out": "stage-out + cleanup",
    "post": "POST script",
}

_STAMP = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d)(?:[,.](\d{1,6}))?[: ]", re.M)
_STATS = re.compile(
    r"Stats: Total (\d+) transfers?, ([0-9.]+) ?([KMGT]?)B transferred in ([0-9.]+) seconds"
)
_PREFIX = {"": 1, "K": 1024, "M": 1024**2, "G": 1024**3, "T": 1024**4}


class AttemptView:
    """One try on the report's clock (seconds since the run started)."""

    __slots__ = (
        "end",
        "exitcode",
        "failed",
        "host",
        "job",
        "number",
        "phases_known",
        "segments",
        "shifted",
        "site",
        "start",
        "submit",
        "transformation",
    )

    def __init__(self, job: str, number: int):
        self.job = job
        self.number = number
        self.transformation = "-"
        self.site = "-"
        self.host = "-"
        self.submit: float | None = None
        self.start: float | None = None  # EXECUTE
        self.end: float | None = None  # JOB_TERMINATED (or the last event of a running try)
        self.exitcode: int | None = None
        self.failed = False
        self.segments: list[tuple[str, float, float]] = []  # (phase, start, end)
        self.phases_known = False  # stage-in / task / stage-out split from the worker's log
        self.shifted = False  # the worker's clock was lined up with the submit side's

    @property
    def label(self) -> str:
        return "%s #%d" % (self.job, self.number)

    @property
    def wall(self) -> float | None:
        if self.start is None or self.end is None:
            return None
        return self.end - self.start

    def phase_seconds(self, phase: str) -> float | None:
        found = [e - s for p, s, e in self.segments if p == phase]
        return sum(found) if found else None


class TransferView:
    """One transfer attempt (or an auxiliary job's summary line: ``files`` > 1)."""

    __slots__ = (
        "bytes",
        "direction",
        "files",
        "job",
        "lfn",
        "protocol",
        "seconds",
        "start",
        "success",
        "url",
    )

    def __init__(self) -> None:
        self.job = "-"
        self.lfn = "-"
        self.direction = "-"  # in | out | aux
        self.protocol = "file"
        self.bytes = 0
        self.seconds = 0.0
        self.start: float | None = None  # report clock
        self.success = True
        self.files = 1
        self.url = ""


class FileView:
    __slots__ = ("bytes", "how", "job", "lfn", "rate")

    def __init__(self, lfn: str, size: int, job: str, how: str, rate: float | None = None):
        self.lfn = lfn
        self.bytes = size
        self.job = job
        self.how = how  # "stage-in (http)", "output", ...
        self.rate = rate


class FailureView:
    __slots__ = (
        "attempts",
        "err_path",
        "err_tail",
        "exitcode",
        "host",
        "job",
        "out_path",
        "post_exitcode",
        "reason",
        "site",
        "task_stderr",
        "transformation",
    )

    def __init__(self, job: str) -> None:
        self.job = job
        self.attempts = 0
        self.exitcode: int | None = None  # the job's
        self.post_exitcode: int | None = None  # its POST script's
        self.site = "-"
        self.host = "-"
        self.transformation = "-"
        self.reason: str | None = None
        self.err_tail: list[str] = []
        self.err_path: str | None = None
        self.out_path: str | None = None
        self.task_stderr: list[str] = []


class ReportData:
    """What the page shows, already reduced to what a page can hold."""

    def __init__(self) -> None:
        self.title = ""
        self.wf_uuid = "-"
        self.submit_dir = ""
        self.status = "unknown"
        self.t0: float | None = None  # epoch of the report clock's 0
        self.span = 0.0
        self.summary: statistics.Summary | None = None
        self.attempts: list[AttemptView] = []
        self.transfers: list[TransferView] = []
        self.files: list[FileView] = []  # the TOP largest
        self.failures: list[FailureView] = []
        self.failed_attempts = 0
        self.notes: list[str] = []
        self.counts: dict[str, int] = {}


# ------------------------------------------------------------------ the worker's side


def _iso_epoch(text: str | None) -> tuple[float, dt.tzinfo | None] | None:
    """A record's ``start`` as epoch seconds, and its time zone (the worker's)."""
    if not text:
        return None
    value = text.strip()
    if value.endswith("Z"):
        value = value[:-1] + "+00:00"
    try:
        when = dt.datetime.fromisoformat(value)
    except ValueError:
        return None
    if when.tzinfo is None:
        return time.mktime(when.timetuple()) + when.microsecond / 1e6, None
    return when.timestamp(), when.tzinfo


class ErrLog:
    """What a job's stderr says about its timing: first and last time stamps (the worker's
    local time, no zone) and whether it is a PegasusLite log."""

    __slots__ = ("first", "last", "lite", "text")

    def __init__(self, text: str):
        self.text = text
        self.lite = "PegasusLite:" in text
        stamps = list(_STAMP.finditer(text))
        self.first = _stamp(stamps[0]) if stamps else None
        self.last = _stamp(stamps[-1]) if stamps else None

    def epochs(self, zone: dt.tzinfo | None) -> tuple[float | None, float | None]:
        return _to_epoch(self.first, zone), _to_epoch(self.last, zone)


def _stamp(match: re.Match) -> dt.datetime | None:
    try:
        when = dt.datetime.strptime(match.group(1), "%Y-%m-%d %H:%M:%S")
    except ValueError:
        return None
    if match.group(2):
        when = when.replace(microsecond=int(match.group(2).ljust(6, "0")))
    return when


def _to_epoch(when: dt.datetime | None, zone: dt.tzinfo | None) -> float | None:
    if when is None:
        return None
    if zone is None:  # no record to say the worker's zone: take ours
        return time.mktime(when.timetuple()) + when.microsecond / 1e6
    return when.replace(tzinfo=zone).timestamp()


def _read_text(path: str | None, limit: int = 4 << 20) -> str:
    """A file's text; only its last ``limit`` bytes (a runaway log stays cheap)."""
    if not path:
        return ""
    try:
        with open(path, "rb") as fh:
            fh.seek(0, os.SEEK_END)
            size = fh.tell()
            fh.seek(max(0, size - limit))
            return fh.read().decode("utf-8", "replace")
    except OSError:
        return ""


def record_files(text: str) -> list[tuple[str, int, bool]]:
    """(lfn, size, is_output) of each file a kickstart record stat'ed (its ``files:``
    section entries that carry an ``lfn``), in every record of a job's stdout."""
    found = []
    start = 0
    while True:
        at = text.find("\n  files:\n", start)
        if at < 0:
            return found
        entry: dict[str, str] = {}
        pos = at + len("\n  files:\n")
        while pos < len(text):
            stop = text.find("\n", pos)
            stop = len(text) if stop < 0 else stop
            line = text[pos:stop]
            pos = stop + 1
            if not line.startswith("    "):
                break
            if not line.startswith("      "):  # a new entry
                _add_file(found, entry)
                entry = {}
                continue
            key, _, value = line.strip().partition(": ")
            if key in ("lfn", "size", "output"):
                entry[key] = value.strip().strip('"')
        _add_file(found, entry)
        start = pos - 1


def _add_file(found: list, entry: dict[str, str]) -> None:
    if "lfn" in entry and entry.get("size", "").isdigit():
        found.append((entry["lfn"], int(entry["size"]), entry.get("output") == "True"))


def _num(value: object) -> float:
    try:
        return float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return 0.0


def _protocol(url: str) -> str:
    scheme = urlsplit(url).scheme.lower() if "://" in url else "file"
    return scheme or "file"


def _under(url: str, directory: str | None) -> bool:
    if not directory or not url.startswith("file://"):
        return False
    path = urlsplit(url).path
    return path == directory or path.startswith(directory.rstrip("/") + "/")


# ------------------------------------------------------------------ collecting


class _Collector:
    def __init__(self, run: records.Run):
        self.run = run
        self.data = ReportData()
        self.t0: float = 0.0
        self.sizes: dict[str, FileView] = {}

    def collect(self) -> ReportData:
        run, data = self.run, self.data
        data.title = run.label or os.path.basename(run.submit_dir)
        data.wf_uuid = run.wf_uuid
        data.submit_dir = run.submit_dir
        data.status = run.status()
        data.summary = statistics.compute(run)
        starts = [t for t, kind, _ in run.dagman if kind == "STARTED"]
        first = min(
            [*starts, run.first_event] if run.first_event is not None else starts, default=None
        )
        self.t0 = first if first is not None else 0.0
        data.t0 = first
        shifted = no_split = 0
        for attempt in run.attempts:
            if attempt.job.is_subworkflow:
                continue
            view = self.attempt(attempt)
            data.attempts.append(view)
            shifted += view.shifted
            no_split += (not view.phases_known) and attempt.job.is_compute
            if view.failed:
                data.failed_attempts += 1
        ends = [a.end for a in data.attempts if a.end is not None]
        last = (run.last_event - self.t0) if run.last_event is not None else 0.0
        finishes = [t - self.t0 for t, kind, _ in run.dagman if kind == "FINISHED"]
        data.span = max([0.0, last, *ends, *finishes])
        self.failures()
        data.files = sorted(self.sizes.values(), key=lambda f: (-f.bytes, f.lfn))[:TOP]
        data.counts = {
            "attempts": len(data.attempts),
            "shifted": shifted,
            "no_split": no_split,
            "transfers": sum(t.files for t in data.transfers),
        }
        self.notes(shifted, no_split)
        return data

    # -- one try

    def attempt(self, attempt: records.Attempt) -> AttemptView:
        job = attempt.job
        view = AttemptView(job.name, attempt.number)
        view.site = attempt.site or job.site or "-"
        view.transformation = job.transformation or "-"
        ev = attempt.events
        rel = self._rel
        view.submit = rel(ev.get("SUBMIT"))
        view.start = rel(ev.get("EXECUTE"))
        end = None
        for name in (
            "JOB_TERMINATED",
            "JOB_ABORTED",
            "SUBMIT_FAILED",
            "JOB_SUCCESS",
            "JOB_FAILURE",
        ):
            if name in ev:
                end = ev[name]
                break
        if end is None and not attempt.finished and self.run.last_event is not None:
            end = self.run.last_event  # still running: up to the last thing we know
        view.end = rel(end)
        view.exitcode = attempt.exitcode
        view.failed = attempt.failed
        if view.submit is not None and view.start is not None and view.start > view.submit:
            view.segments.append(("queued", view.submit, view.start))
        if view.start is not None and view.end is not None:
            kind = "running" if job.is_compute or job.job_class is None else "aux"
            view.segments.append((kind, view.start, view.end))
        post = rel(ev.get("POST_SCRIPT_STARTED")), rel(ev.get("POST_SCRIPT_TERMINATED"))
        if post[0] is not None and post[1] is not None:
            view.segments.append(("post", post[0], post[1]))
        if not attempt.finished and attempt.out_path is None:
            return view
        recs = attempt.records
        real = [inv for inv in recs.invocations if not inv.synthetic]
        hosts = [inv.hostname or inv.hostaddr for inv in real if inv.hostname or inv.hostaddr]
        view.host = hosts[0] if hosts else "-"
        if real and real[0].transformation:
            view.transformation = real[0].transformation
        err = ErrLog(_read_text(attempt.err_path)) if attempt.err_path else None
        if job.is_compute or job.job_class is None:
            self.worker_phases(view, attempt, real, recs, err)
            if attempt.out_path:
                self.record_sizes(view, attempt.out_path)
        elif err is not None:
            self.aux_transfers(view, attempt, err)
        return view

    def _rel(self, epoch: float | None) -> float | None:
        return None if epoch is None else epoch - self.t0

    def worker_phases(
        self,
        view: AttemptView,
        attempt: records.Attempt,
        real: list,
        recs: records.Records,
        err: ErrLog | None,
    ) -> None:
        """Stage-in, tasks and stage-out on the worker's clock, then placed in the try."""
        zone = None
        tasks = []
        for inv in real:
            start = _iso_epoch(inv.start)
            if start is None:
                continue
            zone = zone or start[1]
            tasks.append((start[0], start[0] + max(0.0, inv.duration)))
        transfers = self.lite_transfers(view, recs, real, tasks)
        first, last = err.epochs(zone) if err is not None else (None, None)
        points = [t for pair in tasks for t in pair]
        points += [t.start for t in transfers] + [t.start + t.seconds for t in transfers]
        points += [t for t in (first, last) if t is not None]
        if not points or view.start is None:
            return
        w_start, w_end = min(points), max(points)
        shift = 0.0
        start, end = view.start + self.t0, (view.end or view.start) + self.t0
        if not (start - CLOCK_SLACK <= w_start and w_end <= end + CLOCK_SLACK):
            shift = start - w_start  # another clock: line its start up with the try's
            view.shifted = True

        def put(phase: str, a: float, b: float) -> None:
            a, b = a + shift - self.t0, b + shift - self.t0
            if view.end is not None:
                a, b = min(a, view.end), min(b, view.end)
            a = max(a, view.start)
            if b > a or phase == "task":
                view.segments.append((phase, a, max(a, b)))

        for t in transfers:
            t.start = t.start + shift - self.t0
        lite = err is not None and err.lite and first is not None
        if lite:
            view.phases_known = True
            if tasks:
                put("stage_in", w_start, tasks[0][0])
                put("stage_out", tasks[-1][1], w_end)
            else:  # it never got to a task (stage-in failed, say)
                put("stage_in", w_start, w_end)
        for a, b in tasks:
            put("task", a, b)

    def lite_transfers(
        self, view: AttemptView, recs: records.Records, real: list, tasks: list
    ) -> list[TransferView]:
        """The try's transfer attempts, each called stage-in or stage-out by: its linkage
        when the report has one; which side is the work dir (the records' cwd); the block
        it is in (Pegasus writes one block per stage: the last one is the stage-out);
        else whether it ended before the first task started."""
        cwd = next((inv.cwd for inv in real if inv.cwd), None)
        blocks = [
            e["transfer_attempts"]
            for e in recs.multipart
            if isinstance(e.get("transfer_attempts"), list)
        ]
        found = []
        for number, items in enumerate(blocks, 1):
            for item in items:
                if not isinstance(item, dict):
                    continue
                t = self._transfer(view, item)
                src, dst = str(item.get("src_url") or ""), str(item.get("dst_url") or "")
                into, out_of = _under(dst, cwd), _under(src, cwd)
                linkage = item.get("linkage")
                if linkage in ("input", "output"):
                    t.direction = "in" if linkage == "input" else "out"
                elif into != out_of:
                    t.direction = "in" if into else "out"
                elif len(blocks) > 1:
                    t.direction = "out" if number == len(blocks) else "in"
                elif tasks and t.start + t.seconds > tasks[0][0] + 1.0:
                    t.direction = "out"  # start and duration are rounded: a second of slack
                else:
                    t.direction = "in"
                t.url = src if t.direction == "in" else dst
                t.protocol = _protocol(t.url)
                found.append(t)
                self.data.transfers.append(t)
                if t.success and t.bytes:
                    rate = t.bytes / t.seconds if t.seconds > 0 else None
                    how = "stage-%s (%s)" % (t.direction, t.protocol)
                    self._size(FileView(t.lfn, t.bytes, t.job, how, rate))
        return found

    @staticmethod
    def _transfer(view: AttemptView, item: dict) -> TransferView:
        t = TransferView()
        t.job = view.label
        dst = str(item.get("dst_url") or "")
        t.lfn = str(item.get("lfn") or os.path.basename(urlsplit(dst).path) or "-")
        t.bytes = int(_num(item.get("bytes")))
        t.seconds = max(0.0, _num(item.get("duration")))
        t.start = _num(item.get("start"))
        t.success = item.get("success") is not False
        return t

    def aux_transfers(self, view: AttemptView, attempt: records.Attempt, err: ErrLog) -> None:
        """An auxiliary job's pegasus-transfer summary line: files, bytes (to the precision
        it prints) and seconds; the protocol from its transfer list (``<job>.in``)."""
        text = err.text + _read_text(attempt.out_path, 1 << 20)
        stats = _STATS.findall(text)
        if not stats:
            return
        protocol = self._aux_protocol(attempt.job)
        for files, amount, prefix, seconds in stats:
            t = TransferView()
            t.job = view.label
            t.direction = "aux"
            t.files = int(files)
            t.lfn = "%s file%s" % (files, "" if files == "1" else "s")
            t.bytes = int(float(amount) * _PREFIX.get(prefix, 1))
            t.seconds = float(seconds)
            t.start = view.start if view.start is not None else view.submit
            t.protocol = protocol
            t.success = not view.failed
            self.data.transfers.append(t)

    @staticmethod
    def _aux_protocol(job: records.JobInfo) -> str:
        path = os.path.join(job.directory or "", job.name + ".in")
        try:
            with open(path, encoding="utf-8") as fh:
                entries = json.load(fh)
        except (OSError, ValueError, RecursionError):
            return "unknown"
        schemes = set()
        for entry in entries if isinstance(entries, list) else []:
            for url in (entry.get("dest_urls") or []) if isinstance(entry, dict) else []:
                if isinstance(url, dict) and url.get("url"):
                    schemes.add(_protocol(str(url["url"])))
        return schemes.pop() if len(schemes) == 1 else ("mixed" if schemes else "unknown")

    def record_sizes(self, view: AttemptView, out_path: str) -> None:
        for lfn, size, output in record_files(_read_text(out_path)):
            self._size(FileView(lfn, size, view.label, "output" if output else "input"))

    def _size(self, found: FileView) -> None:
        known = self.sizes.get(found.lfn)
        if (
            known is None
            or found.bytes > known.bytes
            or (found.bytes == known.bytes and found.rate and not known.rate)
        ):
            self.sizes[found.lfn] = found

    # -- failures

    def failures(self) -> None:
        from .analyzer import _exitcode_log

        failed = [job for job in self.run.jobs.values() if job.last is not None and job.last.failed]
        posts = _exitcode_log(os.path.splitext(self.run.dag_path)[0] + ".exitcode.log")
        for job in failed[:FAILED_LIST]:
            last = job.last
            item = FailureView(job.name)
            item.attempts = len(job.attempts)
            item.exitcode = last.job_exitcode
            item.post_exitcode = last.post_exitcode
            item.site = last.site or job.site or "-"
            item.transformation = job.transformation or "-"
            item.out_path, item.err_path = last.out_path, last.err_path
            entries = posts.get(job.name, [])
            index = sum(1 for a in job.attempts[:-1] if a.post_exitcode is not None)
            if last.post_exitcode and index < len(entries):
                for key in ("std_err", "std_out"):
                    lines = [x.strip() for x in str(entries[index].get(key) or "").splitlines()]
                    lines = [x for x in lines if x]
                    if lines:
                        item.reason = lines[-1]
                        break
            if len(self.data.failures) < FAILED_DETAIL:
                self._failure_detail(item, last)
            self.data.failures.append(item)

    @staticmethod
    def _failure_detail(item: FailureView, last: records.Attempt) -> None:
        lines = _read_text(last.err_path, 256 << 10).rstrip("\n").splitlines()
        item.err_tail = lines[-TAIL:]
        if last.out_path:
            recs = records.read_records(last.out_path, keep_output=True)
            bad = [inv for inv in recs.invocations if not inv.ok] or recs.invocations
            if bad:
                inv = bad[0]
                item.host = inv.hostname or inv.hostaddr or "-"
                item.transformation = inv.transformation or item.transformation
                item.task_stderr = inv.stderr.rstrip("\n").splitlines()[-TAIL:]

    # -- what the page must say

    def notes(self, shifted: int, no_split: int) -> None:
        notes = self.data.notes
        if self.data.t0 is not None:
            notes.append(
                "Times are seconds since the run started, %s UTC (jobstate.log)."
                % _utc(self.data.t0)
            )
        notes.append(
            "Phases of a try: 'setup + stage-in' runs from the first time stamp of the "
            "PegasusLite log to the start of the first task in the kickstart record, 'task' is "
            "the record's start and duration, 'stage-out + cleanup' runs from the end of the "
            "last task to the log's last time stamp. The log's time stamps have a resolution "
            "of one second; the rest of the try (HTCondor moving files, starting the process) "
            "is 'running, not broken down'."
        )
        if no_split:
            notes.append(
                "%d tr%s of compute jobs left no PegasusLite log (or no record): "
                "where stage-in and stage-out began and ended is not known, and only the "
                "task (when recorded) is drawn inside the try." % (no_split, _ies(no_split))
            )
        if shifted:
            notes.append(
                "%d tr%s recorded times on a worker clock that does not agree with the "
                "submit side's: their phases are lined up with the start of the try, so "
                "their lengths are right but their position within the try is not measured."
                % (shifted, _ies(shifted))
            )
        if any(t.direction == "aux" for t in self.data.transfers):
            notes.append(
                "Auxiliary transfer jobs report only a summary line (files, bytes with one "
                "decimal, whole seconds): they count in the totals and per protocol, not per "
                "file; their bytes are spread over the whole job in the throughput figure."
            )


def _ies(n: int) -> str:
    return "y" if n == 1 else "ies"


def _utc(epoch: float) -> str:
    return dt.datetime.fromtimestamp(epoch, dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S")


def collect(run: records.Run) -> ReportData:
    """Everything the page shows, from a run read by records.load()."""
    return _Collector(run).collect()


# ------------------------------------------------------------------ aggregation


def bin_width(span: float, max_bins: int = MAX_BINS) -> float:
    """The smallest round time step that cuts ``span`` into at most ``max_bins`` steps."""
    for step in NICE_STEPS:
        if span / step <= max_bins:
            return float(step)
    return float(NICE_STEPS[-1] * (int(span / NICE_STEPS[-1] / max_bins) + 1))


def _spread(bins: list[float], width: float, start: float, end: float, amount: float) -> None:
    """Add ``amount`` over [start, end) to the bins, in proportion to the overlap."""
    if end <= start:
        i = min(max(int(start // width), 0), len(bins) - 1)
        bins[i] += amount
        return
    per_second = amount / (end - start)
    i = max(int(start // width), 0)
    while i < len(bins) and i * width < end:
        lo, hi = max(start, i * width), min(end, (i + 1) * width)
        if hi > lo:
            bins[i] += (hi - lo) * per_second
        i += 1


def concurrency(data: ReportData) -> tuple[float, dict[str, list[float]], list[int]]:
    """(step, phase -> mean tries in that phase per step, failed tries ending per step)."""
    width = bin_width(data.span)
    count = max(1, int(data.span // width) + 1)
    series = {phase: [0.0] * count for phase in PHASES if phase != "queued"}
    failed = [0] * count
    for view in data.attempts:
        for phase, a, b in _exclusive(view):
            if phase in series:
                _spread(series[phase], width, a, b, (b - a) / width)
        if view.failed and view.end is not None:
            failed[min(max(int(view.end // width), 0), count - 1)] += 1
    return width, series, failed


def _exclusive(view: AttemptView) -> list[tuple[str, float, float]]:
    """The try's phases without overlaps: stage-in/task/stage-out cut out of 'running',
    so that the stacked counts add up to the tries running."""
    inner = sorted((s, e) for p, s, e in view.segments if p in ("stage_in", "task", "stage_out"))
    out = [seg for seg in view.segments if seg[0] not in ("running",)]
    for phase, s, e in view.segments:
        if phase != "running":
            continue
        cursor = s
        for a, b in inner:
            if a > cursor:
                out.append(("running", cursor, min(a, e)))
            cursor = max(cursor, b)
        if cursor < e:
            out.append(("running", cursor, e))
    return out


def throughput(data: ReportData) -> tuple[float, dict[str, list[float]]]:
    """(step, protocol -> bytes per second in each step)."""
    width = bin_width(data.span)
    count = max(1, int(data.span // width) + 1)
    series: dict[str, list[float]] = {}
    for t in data.transfers:
        if not t.success or not t.bytes or t.start is None:
            continue
        bins = series.setdefault(t.protocol, [0.0] * count)
        _spread(bins, width, t.start, t.start + t.seconds, t.bytes / width)
    return width, series


def per_protocol(data: ReportData) -> list[dict]:
    """Per protocol and direction: transfers, failed ones, bytes, seconds, mean rate."""
    table: dict[tuple[str, str], dict] = {}
    for t in data.transfers:
        row = table.setdefault(
            (t.protocol, t.direction),
            {
                "protocol": t.protocol,
                "direction": t.direction,
                "transfers": 0,
                "failed": 0,
                "bytes": 0,
                "seconds": 0.0,
            },
        )
        row["transfers"] += t.files
        row["failed"] += 0 if t.success else t.files
        if t.success:
            row["bytes"] += t.bytes
            row["seconds"] += t.seconds
    for row in table.values():
        row["rate"] = row["bytes"] / row["seconds"] if row["seconds"] > 0 else None
    return sorted(table.values(), key=lambda r: (-r["bytes"], r["protocol"], r["direction"]))


def lanes(attempts: list[AttemptView]) -> dict[str, int]:
    """Each try that ran (label -> lane): a try takes the lowest lane free when it starts
    and holds it until its POST script ends, so no two bars of a lane overlap."""
    import heapq

    ran = sorted(
        (a for a in attempts if a.start is not None and a.end is not None),
        key=lambda a: (a.start, a.label),
    )
    busy: list[tuple[float, int]] = []  # (free at, lane)
    free: list[int] = []
    placed: dict[str, int] = {}
    for a in ran:
        while busy and busy[0][0] <= a.start:
            heapq.heappush(free, heapq.heappop(busy)[1])
        lane = heapq.heappop(free) if free else len(busy)  # all busy: a new lane
        until = max([a.end, *(e for p, _, e in a.segments if p == "post")])
        heapq.heappush(busy, (until, lane))
        placed[a.label] = lane
    return placed


def slowest(data: ReportData, n: int = TOP) -> list[AttemptView]:
    timed = [a for a in data.attempts if a.wall is not None]
    return sorted(timed, key=lambda a: (-(a.wall or 0.0), a.label))[:n]


# ------------------------------------------------------------------ the page


def fmt_bytes(n: float | None) -> str:
    if n is None:
        return "-"
    for limit, unit in ((1024**4, "TiB"), (1024**3, "GiB"), (1024**2, "MiB"), (1024, "KiB")):
        if n >= limit:
            return "%.1f %s" % (n / limit, unit)
    return "%d B" % n


def fmt_rate(n: float | None) -> str:
    return "-" if n is None else fmt_bytes(n) + "/s"


def fmt_secs(n: float | None) -> str:
    """Tenths of a second; thousandths below 10 s, where tenths would hide a short job."""
    if n is None:
        return "-"
    return "%.1f" % n if abs(n) >= 10 else "%.3f" % n


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def _table(columns: list[str], rows: list[list[object]], cls: str = "", key: str = "") -> str:
    head = "".join("<th>%s</th>" % _e(c) for c in columns)
    body = "".join(
        "<tr>%s</tr>" % "".join("<td>%s</td>" % _e(cell) for cell in row) for row in rows
    )
    attrs = ' class="%s"' % cls if cls else ""
    attrs += ' data-table="%s"' % key if key else ""
    return "<table%s><thead><tr>%s</tr></thead><tbody>%s</tbody></table>" % (attrs, head, body)


CSS = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:0;color:#1d2330;
background:#f6f7f9}
header{background:#1f3a5f;color:#fff;padding:14px 24px}
header h1{margin:0;font-size:20px} header p{margin:4px 0 0;opacity:.85}
main{padding:8px 24px 40px;max-width:1500px}
section{background:#fff;border:1px solid #dde1e7;border-radius:6px;margin:16px 0;
padding:12px 18px}
h2{font-size:17px;margin:4px 0 10px}
table{border-collapse:collapse;margin:6px 0 10px}
th,td{border-bottom:1px solid #e6e9ee;padding:3px 10px;text-align:left;vertical-align:top}
th{background:#f0f2f5;font-weight:600}
td.num,table.nums td{font-variant-numeric:tabular-nums}
.cards{display:flex;flex-wrap:wrap;gap:10px;margin:6px 0 12px}
.card{border:1px solid #dde1e7;border-radius:6px;padding:8px 14px;min-width:140px}
.card b{display:block;font-size:18px}
.status-success{color:#1a7f37} .status-failure{color:#c62828}
pre{background:#f4f4f4;border:1px solid #e1e1e1;padding:8px;overflow:auto;max-height:340px;
font-size:12px;margin:4px 0}
details{margin:8px 0} summary{cursor:pointer;font-weight:600}
.note{color:#4a5568;font-size:13px} .empty{color:#6b7280;font-style:italic}
"""


def _summary_section(data: ReportData) -> str:
    s = data.summary
    assert s is not None
    rows = []
    for kind, counts in (("Tasks", s.tasks), ("Jobs", s.jobs), ("Sub-Workflows", s.subworkflows)):
        key = kind.lower().replace("-", "")
        cells = "".join(
            '<td data-stat="%s-%s">%d</td>' % (key, name, value)
            for name, value in (
                ("succeeded", counts.succeeded),
                ("failed", counts.failed),
                ("incomplete", counts.incomplete),
                ("total", counts.total),
                ("retries", counts.retries),
                ("tries", counts.tries),
            )
        )
        rows.append("<tr><th>%s</th>%s</tr>" % (kind, cells))
    head = "".join("<th>%s</th>" % c for c in statistics.SUMMARY_COLUMNS)
    counts_table = '<table class="nums"><thead><tr>%s</tr></thead><tbody>%s</tbody></table>' % (
        head,
        "".join(rows),
    )
    times = []
    for key, label, value in (
        ("wall", "Workflow wall time", s.wall_time),
        ("job-wall", "Cumulative job wall time", s.job_wall_time),
        ("submit-wall", "Cumulative job wall time as seen from submit side", s.submit_wall_time),
        ("badput", "Cumulative job badput wall time", s.job_badput),
        (
            "submit-badput",
            "Cumulative job badput wall time as seen from submit side",
            s.submit_badput,
        ),
    ):
        seconds = "-" if value is None else "%.3f" % float(value)
        times.append(
            '<tr><th>%s</th><td data-stat="time-%s" data-seconds="%s">%s</td></tr>'
            % (_e(label), key, seconds, _e(statistics.format_seconds(value)))
        )
    moved = sum(t.bytes for t in data.transfers if t.success)
    cards = [
        ("Jobs", "%d" % s.jobs.total),
        ("Tasks", "%d" % s.tasks.total),
        ("Retries", "%d" % s.jobs.retries),
        ("Wall time", statistics.format_seconds(s.wall_time)),
        ("Cumulative job time", statistics.format_seconds(s.job_wall_time)),
        ("Badput", statistics.format_seconds(s.job_badput)),
        ("Transferred", fmt_bytes(moved)),
    ]
    card_html = "".join('<div class="card">%s<b>%s</b></div>' % (_e(k), _e(v)) for k, v in cards)
    return (
        '<section id="summary"><h2>Summary</h2><div class="cards">%s</div>%s'
        '<table class="nums" data-table="times"><tbody>%s</tbody></table>'
        '<p class="note">As pegasus-statistics computes them (see statistics/summary.txt): '
        "tasks from the kickstart records of each job's last try, retries are tries after "
        "the first, cumulative job time is the tasks' durations over every try, badput the "
        "same over the tries that failed.</p></section>" % (card_html, counts_table, "".join(times))
    )


def _slowest_section(data: ReportData, figure: str) -> str:
    rows = []
    for a in slowest(data):
        rows.append(
            [
                a.job,
                a.number,
                a.transformation,
                a.site,
                a.host,
                fmt_secs(a.wall),
                fmt_secs(None if a.submit is None or a.start is None else a.start - a.submit),
                fmt_secs(a.phase_seconds("stage_in")) if a.phases_known else "not known",
                fmt_secs(a.phase_seconds("task")),
                fmt_secs(a.phase_seconds("stage_out")) if a.phases_known else "not known",
                "-" if a.exitcode is None else a.exitcode,
            ]
        )
    columns = [
        "Job",
        "Try",
        "Transformation",
        "Site",
        "Host",
        "Running (s)",
        "Waiting (s)",
        "Setup + stage-in (s)",
        "Task (s)",
        "Stage-out + cleanup (s)",
        "Exit code",
    ]
    table = _table(columns, rows, "nums", "slowest") if rows else '<p class="empty">No try ran.</p>'
    return '<section id="slowest"><h2>Slowest jobs</h2>%s%s</section>' % (figure, table)


def _files_section(data: ReportData) -> str:
    rows = [
        [f.lfn, fmt_bytes(f.bytes), f.bytes, f.how, f.job, fmt_rate(f.rate)] for f in data.files
    ]
    if not rows:
        body = '<p class="empty">No file sizes in the records or transfer reports.</p>'
    else:
        body = _table(
            ["File", "Size", "Bytes", "Seen as", "Job", "Transfer rate"], rows, "nums", "files"
        )
    return (
        '<section id="files"><h2>Largest files</h2>%s<p class="note">Sizes from the transfer '
        "reports (stage-in, stage-out) and from the files the kickstart records stat'ed "
        "(inputs and outputs of each task).</p></section>" % body
    )


def _failures_section(data: ReportData) -> str:
    if not data.failures:
        text = "No job failed"
        if data.failed_attempts:
            text += " in the end (%d tr%s failed and were retried)" % (
                data.failed_attempts,
                _ies(data.failed_attempts),
            )
        return '<section id="failures"><h2>Failed jobs</h2><p class="empty">%s.</p></section>' % (
            _e(text)
        )
    parts = []
    for item in data.failures[:FAILED_DETAIL]:
        facts = _table(
            [
                "Exit code",
                "POST script exit code",
                "Tries",
                "Site",
                "Host",
                "Transformation",
                "POST script says",
            ],
            [
                [
                    "-" if item.exitcode is None else item.exitcode,
                    "-" if item.post_exitcode is None else item.post_exitcode,
                    item.attempts,
                    item.site,
                    item.host,
                    item.transformation,
                    item.reason or "-",
                ]
            ],
        )
        blocks = ""
        if item.task_stderr:
            blocks += (
                "<p>Task stderr (last %d lines, from the kickstart record):</p><pre>%s</pre>"
                % (len(item.task_stderr), _e("\n".join(item.task_stderr)))
            )
        if item.err_tail:
            blocks += "<p>Job stderr %s (last %d lines):</p><pre>%s</pre>" % (
                _e(item.err_path or ""),
                len(item.err_tail),
                _e("\n".join(item.err_tail)),
            )
        elif not item.task_stderr:
            blocks += '<p class="empty">The job left no stderr.</p>'
        parts.append(
            '<details class="failure" data-job="%s" open><summary>%s: %s</summary>%s%s'
            "</details>" % (_e(item.job), _e(item.job), _e(_verdict(item)), facts, blocks)
        )
    rest = data.failures[FAILED_DETAIL:]
    if rest:
        rows = [
            [f.job, "-" if f.exitcode is None else f.exitcode, f.attempts, f.site] for f in rest
        ]
        parts.append(
            "<p>%d more failed jobs (see pegasus-analyzer for their details):</p>%s"
            % (len(rest), _table(["Job", "Exit code", "Tries", "Site"], rows))
        )
    total = data.summary.jobs.failed if data.summary is not None else len(data.failures)
    if total > len(data.failures):
        parts.append(
            '<p class="note">%d failed jobs in all; the first %d are listed.</p>'
            % (total, len(data.failures))
        )
    return '<section id="failures"><h2>Failed jobs (%d)</h2>%s</section>' % (total, "".join(parts))


def _verdict(item: FailureView) -> str:
    """What failed it: the job's exit code, or its POST script when the job exited 0."""
    if item.exitcode:
        return "exit code %d" % item.exitcode
    if item.post_exitcode:
        return "exit code %s, failed by its POST script (%d)" % (
            "-" if item.exitcode is None else item.exitcode,
            item.post_exitcode,
        )
    return "exit code %s" % ("-" if item.exitcode is None else item.exitcode)


def _transfers_section(data: ReportData, figures: list[str]) -> str:
    rows = [
        [
            r["protocol"],
            r["direction"],
            r["transfers"],
            r["failed"],
            fmt_bytes(r["bytes"]),
            fmt_secs(r["seconds"]),
            fmt_rate(r["rate"]),
        ]
        for r in per_protocol(data)
    ]
    if not rows:
        return (
            '<section id="transfers"><h2>Transfers</h2><p class="empty">No transfer reports in '
            "the records: the batch system moved the files (condorio), or nothing was staged."
            "</p></section>"
        )
    table = _table(
        ["Protocol", "Direction", "Transfers", "Failed", "Bytes", "Seconds", "Mean rate"],
        rows,
        "nums",
        "protocols",
    )
    return (
        '<section id="transfers"><h2>Transfers</h2>%s%s<p class="note">Direction: in = '
        "stage-in by PegasusLite, out = stage-out by PegasusLite, aux = auxiliary transfer "
        "jobs. Mean rate = bytes over the seconds the transfers took (transfers running in "
        "parallel each count their own time).</p></section>" % ("".join(figures), table)
    )


def render(data: ReportData) -> str:
    """The whole page: figures from report_plots, tables and notes from here."""
    from . import report_plots

    plots = report_plots.Figures(data)
    s = data.summary
    status = data.status
    header = (
        "<header><h1>%s: workflow run report</h1><p>%s &middot; status: "
        '<span class="status-%s">%s</span> &middot; %s &middot; generated %s UTC</p></header>'
        % (
            _e(data.title),
            _e(data.wf_uuid),
            _e(status),
            _e(status),
            _e(data.submit_dir),
            _e(_utc(time.time())),
        )
    )
    timeline = '<section id="timeline"><h2>Timeline</h2>%s%s</section>' % (
        plots.concurrency(),
        plots.timeline(),
    )
    notes = "".join("<li>%s</li>" % _e(n) for n in data.notes)
    body = "".join(
        [
            _summary_section(data),
            timeline,
            _transfers_section(data, [plots.throughput(), plots.protocols()]),
            _slowest_section(data, plots.slowest()),
            _files_section(data),
            _failures_section(data),
            '<section id="notes"><h2>About these numbers</h2><ul class="note">%s</ul></section>'
            % notes,
        ]
    )
    machine = {
        "workflow": data.title,
        "wf_uuid": data.wf_uuid,
        "status": status,
        "jobs": s.jobs.row("Jobs")[1:] if s else None,
        "tasks": s.tasks.row("Tasks")[1:] if s else None,
        "attempts": len(data.attempts),
        "failed_attempts": data.failed_attempts,
        "transfers": data.counts.get("transfers", 0),
        "bytes": sum(t.bytes for t in data.transfers if t.success),
        "figures": plots.count,
    }
    blob = json.dumps(machine).replace("</", "<\\/")
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        "<title>%s: run report</title><style>%s</style>%s"
        '<script type="application/json" id="report-data">%s</script></head>'
        "<body>%s<main>%s</main></body></html>\n"
        % (_e(data.title), CSS, report_plots.plotly_script(), blob, header, body)
    )


def write_report(submit_dir: str, out_path: str, run: records.Run | None = None) -> str:
    """Read the run (unless given), write the page to ``out_path`` atomically; returns its
    absolute path.  A missing plotting library, an unreadable run or an unwritable output
    is a PlanError."""
    try:
        import plotly  # noqa: F401
    except ImportError:
        raise PlanError(
            "the HTML report needs plotly: pip install 'plotly>=5' (or pegasus-lite[report])"
        ) from None
    if run is None:
        run = records.load(submit_dir, keep_output=False)
    page = render(collect(run))
    out_path = os.path.abspath(out_path)
    tmp = out_path + ".tmp"
    try:
        with open(tmp, "w", encoding="utf-8") as fh:
            fh.write(page)
        os.replace(tmp, out_path)
    except OSError as exc:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise PlanError("cannot write %s: %s" % (exc.filename or out_path, exc.strerror)) from None
    return out_path
