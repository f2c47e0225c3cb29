"""A finished (or running) submit directory read back from its files, for statistics and
the analyzer: there is no database, so everything comes from what the run left on disk.

- ``<wf>-0.dag``: the job list (a job never started is still a job) and which jobs have a
  POST script;
- each job's ``.sub``: the ``+pegasus_*`` attributes (job class, transformation, site, ...);
- ``jobstate.log``: one line per event, grouped here into attempts (job instances);
- each attempt's ``<job>.out.NNN`` (``.000`` = the first attempt; the plain ``.out`` when
  it was never rotated): kickstart invocation records, ``[cluster-summary ...]`` lines and
  ``---------------pegasus-multipart`` blocks.

Records are parsed one YAML document at a time (with ryaml when installed, 4x faster than
PyYAML), so one damaged record (a job killed while writing) costs that record only.
"""

from __future__ import annotations

import math
import os
import re
from decimal import Decimal

from .errors import PlanError
from .executable import COMPUTE, DAG, DAX

FINAL_POST = ("POST_SCRIPT_SUCCESS", "POST_SCRIPT_FAILURE")

_CLUSTER_DURATION = re.compile(r"\bduration=([0-9.]+)")
_EVENT = re.compile(r"^[A-Z][A-Z_]*$")
_SUB_LINE = re.compile(r"^\s*([^=\s#]+)\s*=\s*(.*?)\s*$")


def _yaml():
    import yaml

    return yaml


_LOADER = None


def _loader():
    """A safe loader (the C one when built) that keeps timestamps as text: records are
    compared and printed, never computed on as dates, and datetime objects cost time."""
    global _LOADER
    if _LOADER is None:
        yaml = _yaml()
        base = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
        _LOADER = type("RecordLoader", (base,), {})
        _LOADER.add_constructor("tag:yaml.org,2002:timestamp", base.construct_yaml_str)
    return _LOADER


def raw_to_regular(raw: int) -> int:
    """A wait status as Pegasus shows it: exit code, -signal, or -128 when it never ran."""
    if raw < 0:
        return -128
    if raw & 127:
        return -(raw & 127)
    return raw >> 8


def regular_to_raw(code: int) -> int:
    """An exit code (or -signal) back to a wait status, the form invocations are kept in;
    anything else (the engine's -1001 for a job it could not start) is "never ran"."""
    if 0 <= code <= 255:
        return code << 8
    if -127 <= code < 0:
        return -code
    return -1


def _float(value: object, default: float = 0.0) -> float:
    """A record's number; ``default`` for what is not a finite one (.inf, .nan, 1e400 in a
    damaged record would break every sum and int() after it)."""
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError, OverflowError):
        return default
    return number if math.isfinite(number) else default


class Invocation:
    """One kickstart record (or, for an attempt that left none, one made from its events,
    as pegasus-monitord does): the task's identity, timing, exit status and output."""

    __slots__ = (
        "argv",
        "checksum_count",
        "checksum_time",
        "cwd",
        "duration",
        "error",
        "executable",
        "hostaddr",
        "hostname",
        "maxrss",
        "raw",
        "resource",
        "start",
        "stderr",
        "stdout",
        "stime",
        "synthetic",
        "task_id",
        "transformation",
        "utime",
    )  # fmt: skip

    def __init__(self) -> None:
        self.transformation: str | None = None
        self.task_id: str | None = None  # the derivation (DAX job id); None for "null"
        self.resource: str | None = None
        self.hostname: str | None = None
        self.hostaddr: str | None = None
        self.start: str | None = None
        self.duration = 0.0  # the main job's, in seconds
        self.raw = 0  # wait status (negative: it never started)
        self.error: str | None = None  # why it never started
        self.executable: str | None = None
        self.argv: list[str] = []
        self.cwd: str | None = None
        self.stdout = ""
        self.stderr = ""
        self.utime = 0.0
        self.stime = 0.0
        self.maxrss: int | None = None
        self.checksum_count = 0  # output files hashed by kickstart ...
        self.checksum_time = 0.0  # ... and the time that took
        self.synthetic = False

    @property
    def exitcode(self) -> int:
        return raw_to_regular(self.raw)

    @property
    def ok(self) -> bool:
        return self.raw == 0

    @classmethod
    def from_record(cls, doc: dict) -> Invocation:
        inv = cls()
        inv.transformation = _text(doc.get("transformation"))
        task = _text(doc.get("derivation"))
        inv.task_id = None if task in (None, "", "null") else task
        inv.resource = _text(doc.get("resource"))
        inv.hostname = _text(doc.get("hostname"))
        inv.hostaddr = _text(doc.get("hostaddr"))
        inv.cwd = _text(doc.get("cwd"))
        main = doc.get("mainjob") if isinstance(doc.get("mainjob"), dict) else {}
        inv.start = _text(main.get("start") or doc.get("start"))
        inv.duration = _float(main.get("duration", doc.get("duration")))
        status = main.get("status") if isinstance(main.get("status"), dict) else {}
        if "raw" in status:
            inv.raw = int(_float(status.get("raw"), -1))
        elif "regular_exitcode" in status:
            inv.raw = regular_to_raw(int(_float(status["regular_exitcode"])))
        else:
            inv.raw = -1
        if status.get("failure_error") is not None:
            inv.error = _text(status.get("failure_error"))
        usage = main.get("usage") if isinstance(main.get("usage"), dict) else {}
        inv.utime = _float(usage.get("utime"))
        inv.stime = _float(usage.get("stime"))
        if usage.get("maxrss") is not None:
            inv.maxrss = int(_float(usage.get("maxrss")))
        exe = main.get("executable") if isinstance(main.get("executable"), dict) else {}
        inv.executable = _text(exe.get("file_name"))
        argv = main.get("argument_vector")
        inv.argv = [str(a) for a in argv] if isinstance(argv, list) else []
        files = doc.get("files") if isinstance(doc.get("files"), dict) else {}
        for name, info in files.items():
            if not isinstance(info, dict):
                continue
            if name in ("stdout", "stderr") and "lfn" not in info:
                setattr(inv, name, _text(info.get("data")) or "")
            elif info.get("output") is True and "checksum_timing" in info:
                inv.checksum_count += 1
                inv.checksum_time += _float(info.get("checksum_timing"))
        return inv


def _text(value: object) -> str | None:
    return None if value is None else str(value)


class Records:
    """What one .out file holds."""

    __slots__ = ("cluster_duration", "errors", "invocations", "multipart", "path")

    def __init__(self, path: str | None = None):
        self.path = path
        self.invocations: list[Invocation] = []
        self.multipart: list[dict] = []  # each entry of each multipart block
        self.cluster_duration: float | None = None  # pegasus-cluster's summary line
        self.errors: list[str] = []  # records that could not be read, one line each

    def integrity_checks(self) -> tuple[int, int, float]:
        """(files verified, failures, seconds) from the integrity_summary blocks."""
        count = failed = 0
        seconds = 0.0
        for entry in self.multipart:
            summary = entry.get("integrity_summary")
            if isinstance(summary, dict):
                ok = int(_float(summary.get("succeeded")))
                bad = int(_float(summary.get("failed")))
                count += int(_float(summary.get("count"))) or ok + bad
                failed += bad
                seconds += _float(summary.get("duration"))
        return count, failed, seconds


def _pegasus_filtered(chunk: str) -> str:
    """Only the lines a record can hold (indented, list items): drops what a batch system
    may have appended (an epilogue) so that the record still parses."""
    return "".join(line for line in chunk.splitlines(True) if line[:1] in (" ", "-", "\n"))


_RYAML: object = None


def _fast_load(chunk: str) -> object:
    """ryaml (4x faster on a record) when installed; None when it is not, or refuses."""
    global _RYAML
    if _RYAML is None:
        try:
            import ryaml

            _RYAML = ryaml
        except ImportError:
            _RYAML = False
    if _RYAML is False:
        return None
    try:
        return _RYAML.loads(chunk)  # type: ignore[attr-defined]
    except Exception:
        return None  # PyYAML tries again, and says where it is broken


def _load(chunk: str) -> object:
    # ryaml's and PyYAML's limits first: PyYAML crashes the interpreter on deep nesting, and
    # both spend quadratic time on deep [[[[ (a damaged .out must only be a damaged record)
    from .yamlload import check_flow_depth, check_limits

    check_flow_depth(chunk)
    doc = _fast_load(chunk)
    if doc is not None:
        return doc
    yaml = _yaml()
    try:
        check_limits(chunk, _loader())
        return yaml.load(chunk, Loader=_loader())
    except yaml.YAMLError:
        filtered = _pegasus_filtered(chunk)
        if filtered == chunk:
            raise
        check_limits(filtered, _loader())
        return yaml.load(filtered, Loader=_loader())


_MARKS = re.compile(
    r"^(?:[^\n]*?(?P<record>- invocation:)[ \t]*(?:[Tt]rue)?[ \t]*$"
    r"|(?P<multipart>---------------pegasus-multipart)[^\n]*$"
    r"|(?P<cluster>\[(?:cluster|seqexec)-(?:summary|task)\b[^\n]*)$)",
    re.M,
)


def parse_records(text: str, path: str | None = None) -> Records:
    """Split a job's stdout into records and multipart blocks, and read each one.  A record
    runs from its ``- invocation:`` line (which may follow other output on that line) to
    the next record, multipart block or pegasus-cluster line."""
    out = Records(path)
    marks = list(_MARKS.finditer(text))
    numbers = {"record": 0, "multipart": 0}
    for i, mark in enumerate(marks):
        stop = marks[i + 1].start() if i + 1 < len(marks) else len(text)
        if mark.group("cluster"):
            line = mark.group("cluster")
            if line.startswith(("[cluster-summary", "[seqexec-summary")):
                found = _CLUSTER_DURATION.search(line)
                if found:
                    out.cluster_duration = _float(found.group(1))
            continue
        kind = "record" if mark.group("record") else "multipart"
        begin = mark.start("record") if kind == "record" else mark.end() + 1
        numbers[kind] += 1
        _read_chunk(out, kind, text[begin:stop], numbers[kind])
    return out


def _read_chunk(out: Records, kind: str, chunk: str, number: int) -> None:
    try:
        doc = _load(chunk)
    except Exception as exc:  # PyYAML's YAMLError, or anything a damaged record provokes
        mark = getattr(exc, "problem_mark", None)
        where = " (line %d of the %s)" % (mark.line + 1, kind) if mark else ""
        out.errors.append("%s %d is not valid YAML%s" % (kind, number, where))
        return
    if kind == "record":
        if isinstance(doc, list) and doc and isinstance(doc[0], dict):
            out.invocations.append(Invocation.from_record(doc[0]))
        else:
            out.errors.append("record %d is not an invocation record" % number)
    elif isinstance(doc, list):
        out.multipart.extend(entry for entry in doc if isinstance(entry, dict))
    elif isinstance(doc, dict):
        out.multipart.append(doc)


def read_records(path: str, keep_output: bool = True) -> Records:
    """The records of one .out file; a missing file has none.  Without ``keep_output`` the
    tasks' stdout and stderr are dropped (statistics do not need them)."""
    try:
        with open(path, encoding="utf-8", errors="replace") as fh:
            text = fh.read()
    except OSError:
        return Records(path)
    found = parse_records(text, path)
    if not keep_output:
        for inv in found.invocations:
            inv.stdout = inv.stderr = ""
    return found


# ------------------------------------------------------------------ jobstate.log


class Attempt:
    """One try of one job (a job instance): its events and, once read, its records."""

    __slots__ = (
        "_records", "condor_id", "err_path", "events", "held", "job", "job_exitcode",
        "keep_output", "label", "last_event", "number", "out_path", "post_exitcode", "seq",
        "site",
    )  # fmt: skip

    def __init__(self, job: JobInfo, number: int, seq: int):
        self.job = job
        self.number = number  # 1-based per job; also which rotated .out.NNN is ours
        self.label = ""  # the attempt (or submit sequence) number jobstate.log gave it
        self.seq = seq  # order of first appearance in jobstate.log, over all jobs
        self.events: dict[str, float] = {}  # first time of each event
        self.last_event: str | None = None
        self.condor_id: str | None = None
        self.site: str | None = None
        self.job_exitcode: int | None = None  # JOB_SUCCESS / JOB_FAILURE
        self.post_exitcode: int | None = None  # POST_SCRIPT_SUCCESS / _FAILURE
        self.held = False  # was held at some point
        self.out_path: str | None = None
        self.err_path: str | None = None
        self._records: Records | None = None
        self.keep_output = True

    @property
    def exitcode(self) -> int | None:
        """The attempt's verdict: the POST script's when it ran, else the job's; None while
        the attempt is under way."""
        if self.post_exitcode is not None:
            return self.post_exitcode
        return self.job_exitcode

    @property
    def finished(self) -> bool:
        return self.exitcode is not None

    @property
    def succeeded(self) -> bool:
        return self.exitcode == 0

    @property
    def failed(self) -> bool:
        return self.exitcode is not None and self.exitcode != 0

    @property
    def local_duration(self) -> int | None:
        """EXECUTE to JOB_TERMINATED in whole seconds, as pegasus-monitord computes it."""
        end = self.events.get("JOB_TERMINATED")
        if end is None:
            for name in ("JOB_ABORTED", "SUBMIT_FAILED"):
                end = self.events.get(name, end)
        if end is None and self.post_exitcode is not None:
            end = self.events.get(FINAL_POST[0], self.events.get(FINAL_POST[1]))
        start = self.events.get("EXECUTE")
        if end is None or start is None:
            return None
        return int(end) - int(start)

    @property
    def records(self) -> Records:
        """The attempt's records, read on first use; a finished attempt with none gets one
        invocation made from its events (pegasus-monitord does the same)."""
        if self._records is None:
            if self.out_path:
                records = read_records(self.out_path, self.keep_output)
            else:
                records = Records(None)
            if self.finished and not records.invocations:
                records.invocations.append(self._synthetic())
            self._records = records
        return self._records

    def _synthetic(self) -> Invocation:
        inv = Invocation()
        inv.synthetic = True
        inv.transformation = self.job.transformation
        inv.task_id = self.job.dax_job_id
        inv.resource = self.site or self.job.site
        inv.duration = float(self.local_duration or 0)
        inv.raw = regular_to_raw(self.exitcode or 0)
        inv.executable = self.job.executable
        inv.argv = [self.job.arguments] if self.job.arguments else []
        return inv


class JobInfo:
    """One DAG node: what its .sub says, and its attempts in order."""

    __slots__ = (
        "arguments",
        "attempts",
        "cluster_size",
        "cores",
        "dax_job_id",
        "directory",
        "executable",
        "has_post",
        "job_class",
        "name",
        "retry",
        "site",
        "sub_path",
        "sub_read",
        "subdag",
        "transformation",
    )  # fmt: skip

    def __init__(self, name: str, sub_path: str | None):
        self.name = name
        self.sub_path = sub_path  # absolute
        self.directory = os.path.dirname(sub_path) if sub_path else None
        self.job_class: int | None = None
        self.transformation: str | None = None
        self.site: str | None = None
        self.dax_job_id: str | None = None
        self.cluster_size = 1
        self.cores = 1  # the multiplier of its wall times
        self.executable: str | None = None
        self.arguments: str | None = None
        self.has_post = False
        self.retry = 0
        self.subdag = False  # SUBDAG EXTERNAL
        self.sub_read = False
        self.attempts: list[Attempt] = []

    @property
    def last(self) -> Attempt | None:
        return self.attempts[-1] if self.attempts else None

    @property
    def is_subworkflow(self) -> bool:
        return self.subdag or self.job_class in (DAX, DAG)

    @property
    def is_compute(self) -> bool:
        return self.job_class == COMPUTE

    @property
    def state(self) -> str:
        last = self.last
        return "UNSUBMITTED" if last is None else (last.last_event or "UNSUBMITTED")

    def read_sub(self) -> None:
        """The +pegasus_* attributes statistics and the analyzer need."""
        self.sub_read = True
        if not self.sub_path:
            return
        try:
            with open(self.sub_path, encoding="utf-8", errors="replace") as fh:
                lines = fh.readlines()
        except OSError:
            self.sub_read = False
            return
        for line in lines:
            match = _SUB_LINE.match(line)
            if not match:
                continue
            key, value = match.group(1).lower(), match.group(2)
            if key.startswith("+") and len(value) >= 2 and value[0] == value[-1] == '"':
                value = value[1:-1]
            if key == "+pegasus_job_class":
                self.job_class = _int(value, None)
            elif key == "+pegasus_wf_xformation":
                self.transformation = value
            elif key == "+pegasus_site":
                self.site = value
            elif key == "+pegasus_wf_dax_job_id":
                self.dax_job_id = value if value not in ("", "null") else None
            elif key == "+pegasus_cluster_size":
                self.cluster_size = _int(value, 1) or 1
            elif key == "+pegasus_cores":
                self.cores = _int(value, 1) or 1
            elif key == "executable":
                self.executable = value
            elif key == "arguments":
                self.arguments = value.strip('"')


def _int(text: str, default: int | None) -> int | None:
    try:
        return int(text)
    except ValueError:
        try:
            return int(float(text))
        except ValueError:
            return default


class Run:
    """A submit directory read back."""

    def __init__(self, submit_dir: str):
        self.submit_dir = submit_dir
        self.braindump: dict = {}
        self.dag_path = ""
        self.jobstate_path = ""
        self.jobs: dict[str, JobInfo] = {}  # DAG order
        self.attempts: list[Attempt] = []  # order of first appearance
        self.dagman: list[tuple[float, str, int | None]] = []  # (time, STARTED|FINISHED, n)
        self.first_event: float | None = None
        self.last_event: float | None = None
        self.unknown_lines = 0
        self.keep_output = True  # the tasks' stdout/stderr, for the analyzer

    @property
    def wf_uuid(self) -> str:
        return str(self.braindump.get("wf_uuid") or "-")

    @property
    def label(self) -> str:
        return str(self.braindump.get("dax_label") or self.braindump.get("pegasus_wf_name") or "")

    def status(self) -> str:
        """success | failure | running | unknown, from DAGMan's start and finish lines."""
        if not self.dagman:
            return "unknown"
        _, kind, code = self.dagman[-1]
        if kind == "STARTED":
            return "running"
        return "success" if code == 0 else "failure"

    def wall_time(self) -> Decimal | None:
        """Workflow wall time: the finishes minus the starts (each restart counts), when they
        pair up; with no DAGMan lines at all, first event to last."""
        if self.dagman:
            starts = [Decimal("%.6f" % t) for t, kind, _ in self.dagman if kind == "STARTED"]
            ends = [Decimal("%.6f" % t) for t, kind, _ in self.dagman if kind == "FINISHED"]
            if starts and len(starts) == len(ends):
                return sum(ends, Decimal(0)) - sum(starts, Decimal(0))
            return None
        if self.first_event is None or self.last_event is None:
            return None
        return Decimal("%.6f" % self.last_event) - Decimal("%.6f" % self.first_event)


def _read_braindump(path: str) -> dict:
    try:
        with open(path, encoding="utf-8") as fh:
            text = fh.read()
    except OSError as exc:
        raise PlanError("cannot read %s: %s" % (path, exc.strerror)) from None
    yaml = _yaml()
    try:
        from .yamlload import check_limits

        check_limits(text, _loader())  # a damaged file must not crash PyYAML's C loader
        doc = yaml.load(text, Loader=_loader())
    except yaml.YAMLError:
        doc = None
    if not isinstance(doc, dict):  # braindump.txt style: "key value" lines
        doc = {}
        for line in text.splitlines():
            parts = line.split(None, 1)
            if len(parts) == 2:
                doc[parts[0].rstrip(":")] = parts[1].strip().strip('"')
    return doc


def _find_dag(submit_dir: str, braindump: dict) -> str:
    named = braindump.get("dag")
    if named:
        path = named if os.path.isabs(named) else os.path.join(submit_dir, named)
        if os.path.isfile(path):
            return path
        local = os.path.join(submit_dir, os.path.basename(named))
        if os.path.isfile(local):
            return local
    dags = sorted(n for n in os.listdir(submit_dir) if n.endswith(".dag"))
    if not dags:
        raise PlanError("no .dag file in %s: not a workflow submit directory" % submit_dir)
    return os.path.join(submit_dir, dags[0])


def _read_dag(run: Run) -> None:
    base = os.path.dirname(run.dag_path)
    try:
        with open(run.dag_path, encoding="utf-8", errors="replace") as fh:
            lines = fh.readlines()
    except OSError as exc:
        raise PlanError("cannot read %s: %s" % (run.dag_path, exc.strerror)) from None
    jobs = run.jobs
    for line in lines:
        parts = line.split()
        if not parts or parts[0].startswith("#"):
            continue
        keyword = parts[0].upper()
        if keyword == "JOB" and len(parts) >= 3:
            sub = parts[2] if os.path.isabs(parts[2]) else os.path.join(base, parts[2])
            jobs.setdefault(parts[1], JobInfo(parts[1], os.path.normpath(sub)))
        elif keyword == "SUBDAG" and len(parts) >= 4 and parts[1].upper() == "EXTERNAL":
            job = jobs.setdefault(parts[2], JobInfo(parts[2], None))
            job.subdag = True
        elif keyword == "SCRIPT":
            rest = parts[1:]
            if rest[:1] and rest[0].upper() == "DEFER":
                rest = rest[3:]
            if len(rest) >= 2 and rest[0].upper() == "POST" and rest[1] in jobs:
                jobs[rest[1]].has_post = True
        elif keyword == "RETRY" and len(parts) >= 3 and parts[1] in jobs:
            jobs[parts[1]].retry = _int(parts[2], 0) or 0


def _code(info: str, default: int) -> int:
    """The exit code in an event line's 4th field (Pegasus puts the condor id there)."""
    if info.lstrip("-").isdigit():
        return int(info)
    return default


def read_jobstate(run: Run) -> None:
    """Group jobstate.log's events into attempts. A new attempt starts when the line's
    attempt (or submit sequence) number changes, or when a job is submitted again."""
    try:
        with open(run.jobstate_path, encoding="utf-8", errors="replace") as fh:
            lines = fh.readlines()
    except FileNotFoundError:
        return  # nothing ran yet
    except OSError as exc:
        raise PlanError("cannot read %s: %s" % (run.jobstate_path, exc.strerror)) from None
    for line in lines:
        parts = line.split()
        try:
            when = float(parts[0])
        except (ValueError, IndexError):
            run.unknown_lines += 1
            continue
        if parts[1:3] == ["INTERNAL", "***"] and parts[-1] == "***" and len(parts) >= 5:
            if parts[3] in ("DAGMAN_STARTED", "DAGMAN_FINISHED"):
                number = _int(parts[4], None) if len(parts) == 6 else None
                run.dagman.append((when, parts[3][7:], number))
            continue
        # <time> <job> <EVENT> <condor id | exit code | -> <site> - <attempt>: anything else
        # is a line torn by a crash (or foreign), and would lie about the job's state
        if len(parts) != 7 or not _EVENT.match(parts[2]) or not parts[6].isdigit():
            run.unknown_lines += 1
            continue
        name, event, info, site, label = parts[1], parts[2], parts[3], parts[4], parts[6]
        if run.first_event is None:
            run.first_event = when
        run.last_event = when
        job = run.jobs.get(name)
        if job is None:  # not in the DAG (a sub-DAG's node, a renamed DAG): keep it
            job = run.jobs[name] = JobInfo(name, None)
        attempt = job.last
        starts = event in ("SUBMIT", "PRE_SCRIPT_STARTED")
        if (
            attempt is None
            or (label and attempt.label not in ("", label))
            or (starts and (event in attempt.events or attempt.finished))
            or (event == "PRE_SCRIPT_STARTED" and "SUBMIT" in attempt.events)
        ):
            attempt = Attempt(job, len(job.attempts) + 1, len(run.attempts))
            attempt.keep_output = run.keep_output
            job.attempts.append(attempt)
            run.attempts.append(attempt)
        if label and not attempt.label:
            attempt.label = label
        attempt.events.setdefault(event, when)
        attempt.last_event = event
        if site not in ("-", ""):
            attempt.site = site
        if event == "SUBMIT" and info != "-":
            attempt.condor_id = info
        elif event == "JOB_SUCCESS":
            attempt.job_exitcode = _code(info, 0)
        elif event == "JOB_FAILURE":
            attempt.job_exitcode = _code(info, 1) or 1
        elif event == "POST_SCRIPT_SUCCESS":
            attempt.post_exitcode = _code(info, 0)
        elif event == "POST_SCRIPT_FAILURE":
            attempt.post_exitcode = _code(info, 1) or 1
        elif event == "JOB_HELD":
            attempt.held = True


def _attach_files(job: JobInfo, submit_dir: str) -> None:
    """Each attempt's .out/.err: the rotated copy for its number, or the live file for the
    last attempt when nothing rotated it."""
    directory = job.directory or submit_dir
    out_base = os.path.join(directory, job.name + ".out")
    err_base = os.path.join(directory, job.name + ".err")
    last = len(job.attempts) - 1
    for i, attempt in enumerate(job.attempts):
        for attr, base in (("out_path", out_base), ("err_path", err_base)):
            rotated = "%s.%03d" % (base, i)
            if os.path.exists(rotated):
                setattr(attempt, attr, rotated)
            elif i == last and os.path.exists(base):
                setattr(attempt, attr, base)


def load(submit_dir: str, dag: str | None = None, keep_output: bool = True) -> Run:
    """Read a submit directory; a missing or foreign directory is a PlanError.  Records are
    read when first asked for; ``keep_output=False`` drops the tasks' stdout/stderr."""
    submit_dir = os.path.abspath(submit_dir)
    if not os.path.isdir(submit_dir):
        raise PlanError("%s: no such directory" % submit_dir)
    run = Run(submit_dir)
    run.keep_output = keep_output
    braindump = os.path.join(submit_dir, "braindump.yml")
    if os.path.isfile(braindump):
        run.braindump = _read_braindump(braindump)
    elif os.path.isfile(os.path.join(submit_dir, "braindump.txt")):
        run.braindump = _read_braindump(os.path.join(submit_dir, "braindump.txt"))
    elif dag is None:
        raise PlanError(
            "%s is not a workflow submit directory (no braindump.yml in it)" % submit_dir
        )
    run.dag_path = os.path.abspath(dag) if dag else _find_dag(submit_dir, run.braindump)
    _read_dag(run)
    jsd = str(run.braindump.get("jsd") or "jobstate.log")
    run.jobstate_path = jsd if os.path.isabs(jsd) else os.path.join(submit_dir, jsd)
    if not os.path.isfile(run.jobstate_path):
        fallback = os.path.join(submit_dir, "jobstate.log")
        if os.path.isfile(fallback):
            run.jobstate_path = fallback
    read_jobstate(run)
    for job in run.jobs.values():
        job.read_sub()
        if job.sub_path is None:
            job.directory = submit_dir
        _attach_files(job, submit_dir)
    return run
