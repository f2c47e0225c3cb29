"""``pegasus-statistics SUBMIT_DIR``: Pegasus's summary of a run, computed from the files
the run left (records.py), where Pegasus reads its monitoring database.

The numbers follow Pegasus's definitions so the two tools agree on the same run:

- Tasks: the user's executables, from the kickstart records of each job's last try
  (a clustered job holds several); Total is what the plan holds.
- Jobs: the DAG's nodes (auxiliary jobs too) but sub-workflows, which have their own row.
  A job's last try decides Succeeded/Failed; Incomplete = never run or still running.
- Retries: tries beyond the first; Total+Retries = Succeeded + Failed + Retries.
- Workflow wall time: DAGMan's (or the local engine's) finishes minus its starts.
- Cumulative job wall time: the records' durations, every try, times ``+pegasus_cores``;
  badput: those that failed.  "As seen from submit side": EXECUTE to JOB_TERMINATED of
  each try, in whole seconds, as pegasus-monitord measures it.
"""

from __future__ import annotations

import argparse
import csv
import os
import sys
from collections.abc import Iterable
from decimal import Decimal

from . import records
from .errors import PlanError

PROG = "pegasus-statistics"

SUMMARY_COLUMNS = ("Type", "Succeeded", "Failed", "Incomplete", "Total", "Retries",
                   "Total+Retries")  # fmt: skip
SUMMARY_WIDTHS = (15, 10, 8, 12, 10, 10, 13)
TIME_LABEL_WIDTH = 57

JOB_COLUMNS = ("Job", "Try", "Site", "Kickstart", "Mult", "Kickstart-Mult", "CPU-Time", "Post",
               "CondorQTime", "Resource", "Runtime", "Seqexec", "Seqexec-Delay", "Exitcode",
               "Hostname")  # fmt: skip
JOB_WIDTHS = (35, 4, 12, 12, 6, 16, 12, 6, 12, 12, 12, 12, 15, 10, 30)

SUMMARY_LEGEND = """\
# Workflow summary, computed by pegasus-statistics from the submit directory's files
# (the DAG, the .sub files, jobstate.log and the kickstart records in the .out files).
#
# Tasks are the executables the workflow asked for (a clustered job runs several),
# Jobs are the nodes of the DAG (auxiliary jobs included), Sub-Workflows their own kind.
#   Succeeded / Failed  judged by the last try of each task or job
#   Incomplete          the rest of Total: not run yet, still running, or left out
#   Total               what the plan holds
#   Retries             tries after the first one
#   Total+Retries       Succeeded + Failed + Retries: every try that came to an end
"""

TIME_LEGEND = """\
# Workflow wall time: start of the run to its end (restarted runs add up).
# Cumulative job wall time: the sum of the tasks' durations in their kickstart records,
#   every try counted, times the cores the job asked for.
# ... as seen from submit side: each try from the start of its execution to its end, as
#   the workflow engine saw it; queueing and staging overheads included.
# ... badput: the same two sums over the tries that failed.
"""

JOBS_LEGEND = """\
# One row per try of each job, in the order they were submitted.
#   Try         the try's number          Kickstart   duration in the task records
#   Mult        cores asked for           CPU-Time    user + system time of the tasks
#   Post        POST script time          CondorQTime submit to start of execution
#   Resource    remote queue time         Runtime     start of execution to its end
#   Seqexec     a clustered job's own time, and its delay over the tasks' durations
#   Exitcode    the highest task exit code; Hostname where the task ran
"""

WORKFLOW_COLUMNS = (*SUMMARY_COLUMNS, "WF Retries")
WORKFLOW_WIDTHS = (15, 11, 10, 12, 10, 10, 15, 10)
WORKFLOW_LEGEND = """\
# The summary's table for each workflow, then for all of them together.
#   WF Retries  how many times the workflow was started again (a resumed run)
"""

BREAKDOWN_COLUMNS = ("Transformation", "Type", "Count", "Min (runtime)", "Max (runtime)",
                     "Mean (runtime)", "Total (runtime)", "Min (mem)", "Max (mem)", "Mean (mem)",
                     "Min (avg. cpu)", "Max (avg. cpu)", "Mean (avg. cpu)")  # fmt: skip
BREAKDOWN_WIDTHS = (15, 5, 6, 14, 14, 21, 22, 10, 10, 11, 15, 15, 16)
BREAKDOWN_LEGEND = """\
# Per transformation, its successful and its failed invocations (every try):
#   Count, then the runtime in seconds (min, max, mean, total), the peak memory of
#   each invocation in MB (min, max, mean) and its CPU use, user + system time over
#   the runtime (min, max, mean).  dagman::post is the POST script of each try.
"""

INTEGRITY_COLUMNS = ("Type", "File Type", "Count", "Total Duration")
INTEGRITY_WIDTHS = (10, 15, 10, 25)
INTEGRITY_LEGEND = """\
# Checksums: compared (check, input files) or generated (compute, output files),
# how many and the seconds spent, over every try.
"""


# --------------------------------------------------------------------- formatting


def format_seconds(duration: float | Decimal | None, max_parts: int = 2) -> str:
    """``6 mins, 47 secs``: Pegasus's rendering of a duration, down to its quirks (the
    largest two units; under a minute, seconds with up to two decimals)."""
    if duration is None:
        return "-"
    rest = int(duration)
    units = (("year", 31536000), ("day", 86400), ("hr", 3600), ("min", 60))
    amounts = []
    for _, size in units:
        amount = rest // size
        rest -= amount * size
        amounts.append(amount)
    pieces: list[str] = []
    for (unit, _), amount in zip(units, amounts):
        if len(pieces) < max_parts and (amount >= 1 or pieces):
            pieces.append("%s %s%s" % (amount, unit, "" if amount == 1 else "s"))
    if len(pieces) < max_parts:
        seconds: object = rest if pieces else round(duration, 2)
        pieces.append("%s %s" % (seconds, "sec" if seconds == 1 else "secs"))
    return ", ".join(pieces)


def fstr(value: float | Decimal | None, digits: int = 3) -> str:
    """A number rounded for a table cell; ``-`` for none."""
    return "-" if value is None else str(round(float(value), digits))


def pstr(value: float | None) -> str:
    """A share as a percentage cell; ``-`` for none or zero, as Pegasus prints it."""
    return fstr(value * 100, 2) + "%" if value else "-"


# --------------------------------------------------------------------- computing


class Counts:
    """One row of the summary table."""

    __slots__ = ("failed", "retries", "succeeded", "total")

    def __init__(self, succeeded: int = 0, failed: int = 0, total: int = 0, retries: int = 0):
        self.succeeded = succeeded
        self.failed = failed
        self.total = total
        self.retries = retries

    @property
    def incomplete(self) -> int:
        return self.total - (self.succeeded + self.failed)

    @property
    def tries(self) -> int:
        return self.succeeded + self.failed + self.retries

    def row(self, kind: str) -> tuple:
        return (kind, self.succeeded, self.failed, self.incomplete, self.total, self.retries,
                self.tries)  # fmt: skip


class Summary:
    """Everything the summary prints."""

    def __init__(self) -> None:
        self.tasks = Counts()
        self.jobs = Counts()
        self.subworkflows = Counts()
        self.wall_time: Decimal | None = None
        self.job_wall_time: float | None = None
        self.job_badput: float | None = None
        self.submit_wall_time: float | None = None
        self.submit_badput: float | None = None
        # integrity: type ("check" | "compute") -> [files, seconds]
        self.integrity: dict[str, list] = {}
        self.integrity_errors: int | None = None  # None: no try reported any
        self.integrity_failed_jobs = 0


def _add(total: float | None, value: float) -> float:
    return value if total is None else total + value


def _job_counts(jobs: Iterable[records.JobInfo]) -> Counts:
    counts = Counts()
    for job in jobs:
        counts.total += 1
        counts.retries += max(0, len(job.attempts) - 1)
        last = job.last
        if last is not None and last.succeeded:
            counts.succeeded += 1
        elif last is not None and last.failed:
            counts.failed += 1
    return counts


def compute(run: records.Run) -> Summary:
    """The summary of a run read by records.load()."""
    summary = Summary()
    plain = [job for job in run.jobs.values() if not job.is_subworkflow]
    summary.jobs = _job_counts(plain)
    summary.subworkflows = _job_counts(j for j in run.jobs.values() if j.is_subworkflow)

    seen_tasks: set[str] = set()
    task_tries = 0
    succeeded: set[str] = set()
    failed: set[str] = set()
    planned_tasks = 0
    for job in plain:
        job_tasks: set[str] = set()
        for attempt in job.attempts:
            if not attempt.finished:
                continue
            recs = attempt.records
            mult = job.cores
            hashed, hashing = 0, 0.0
            repeats: dict[str, int] = {}
            for inv in recs.invocations:
                summary.job_wall_time = _add(summary.job_wall_time, inv.duration * mult)
                bad = inv.duration * mult if inv.raw > 0 else 0.0
                summary.job_badput = _add(summary.job_badput, bad)
                if inv.task_id is not None:
                    # tasks of one job sharing an id (a clustered spec that did not name
                    # them) still count one each
                    n = repeats[inv.task_id] = repeats.get(inv.task_id, 0) + 1
                    task = inv.task_id if n == 1 else "%s#%d" % (inv.task_id, n)
                    task_tries += 1
                    job_tasks.add(task)
                    if attempt is job.last:
                        (succeeded if inv.ok else failed).add(task)
                hashed += inv.checksum_count
                hashing += inv.checksum_time
            if hashed:
                _integrity(summary, "compute", hashed, hashing)
            if any("integrity_summary" in e for e in recs.multipart):
                count, bad_files, seconds = recs.integrity_checks()
                _integrity(summary, "check", count, seconds)
                if bad_files:
                    summary.integrity_errors = (summary.integrity_errors or 0) + bad_files
                    if attempt is job.last and attempt.failed:
                        summary.integrity_failed_jobs += 1
        seen_tasks |= job_tasks
        planned = job.cluster_size if job.is_compute else 0
        planned_tasks += max(planned, len(job_tasks))
    summary.tasks = Counts(len(succeeded), len(failed), planned_tasks, task_tries - len(seen_tasks))

    for attempt in run.attempts:
        if attempt.job.is_subworkflow:
            continue
        duration = attempt.local_duration
        if duration is None:
            continue
        value = float(duration * attempt.job.cores)
        summary.submit_wall_time = _add(summary.submit_wall_time, value)
        summary.submit_badput = _add(summary.submit_badput, value if attempt.failed else 0.0)
    summary.wall_time = run.wall_time()
    return summary


def _integrity(summary: Summary, kind: str, count: int, seconds: float) -> None:
    """Per try, kept to the millisecond, as Pegasus stores it."""
    entry = summary.integrity.setdefault(kind, [0, Decimal(0)])
    entry[0] += count
    entry[1] += Decimal("%.3f" % seconds)


# --------------------------------------------------------------------- writing


def _table_line(values: Iterable, widths: Iterable[int]) -> str:
    return "".join(str(v).ljust(w) for v, w in zip(values, widths)) + "\n"


def summary_text(summary: Summary) -> str:
    """The content of statistics/summary.txt (printed to the terminal as well)."""
    rule = "-" * sum(SUMMARY_WIDTHS) + "\n"
    out = [SUMMARY_LEGEND, TIME_LEGEND, rule, _table_line(SUMMARY_COLUMNS, SUMMARY_WIDTHS)]
    for kind, counts in (("Tasks", summary.tasks), ("Jobs", summary.jobs),
                         ("Sub-Workflows", summary.subworkflows)):  # fmt: skip
        out.append(_table_line(counts.row(kind), SUMMARY_WIDTHS))
    out.append(rule + "\n")
    for label, value in (
        ("Workflow wall time", summary.wall_time),
        ("Cumulative job wall time", summary.job_wall_time),
        ("Cumulative job wall time as seen from submit side", summary.submit_wall_time),
        ("Cumulative job badput wall time", summary.job_badput),
        ("Cumulative job badput wall time as seen from submit side", summary.submit_badput),
    ):
        out.append("%s: %s\n" % (label.ljust(TIME_LABEL_WIDTH), format_seconds(value)))
    if summary.integrity:
        out.append("\n# Integrity Metrics\n")
        out.append("# Files whose checksum was compared (check) or generated (compute), and the\n")
        out.append("# time spent on it.\n")
        for kind in sorted(summary.integrity):
            count, seconds = summary.integrity[kind]
            verb = {"check": "compared", "compute": "generated"}.get(kind, kind)
            out.append(
                "%d files checksums %s with total duration of %s\n"
                % (count, verb, format_seconds(seconds))
            )
        out.append("\n# Integrity Errors\n")
        out.append("# Total: checksum mismatches over every try of every job.\n")
        out.append("# Failures: failed jobs whose last try had a mismatch.\n")
        if summary.integrity_errors is not None:
            out.append(
                "Total:    A total of %d integrity errors encountered in the workflow\n"
                % summary.integrity_errors
            )
        out.append(
            "Failures: %d job failures had integrity errors\n" % summary.integrity_failed_jobs
        )
    return "".join(out)


def _csv_number(value: float | Decimal | None) -> str:
    if value is None:
        return ""
    return repr(round(float(value), 6))


def write_summary_csv(summary: Summary, path: str, time_path: str) -> None:
    with open(path, "w", encoding="utf-8", newline="") as fh:
        fh.write(SUMMARY_LEGEND + "\n")
        writer = csv.writer(fh)
        writer.writerow(SUMMARY_COLUMNS)
        for kind, counts in (("Tasks", summary.tasks), ("Jobs", summary.jobs),
                             ("Sub-Workflows", summary.subworkflows)):  # fmt: skip
            writer.writerow(counts.row(kind))
    with open(time_path, "w", encoding="utf-8", newline="") as fh:
        fh.write(TIME_LEGEND)
        writer = csv.writer(fh)
        writer.writerow(("stat_type", "time_seconds"))
        for name, value in (
            ("workflow_wall_time", summary.wall_time),
            ("workflow_cumulative_job_wall_time", summary.job_wall_time),
            ("cumulative_job_walltime_from_submit_side", summary.submit_wall_time),
            ("workflow_cumulative_badput_time", summary.job_badput),
            ("cumulative_job_badput_walltime_from_submit_side", summary.submit_badput),
        ):
            writer.writerow((name, _csv_number(value)))


def job_rows(run: records.Run) -> list[list[str]]:
    """jobs.txt's rows: one per try, in submission order."""
    rows = []
    for attempt in run.attempts:
        job = attempt.job
        invs = attempt.records.invocations if attempt.finished else []
        kickstart = sum(i.duration for i in invs) if invs else None
        mult = job.cores
        cpu = [i.utime + i.stime for i in invs if not i.synthetic]
        post_start = max(
            (attempt.events[e] for e in ("POST_SCRIPT_STARTED", "JOB_TERMINATED")
             if e in attempt.events), default=None,
        )  # fmt: skip
        post_end = attempt.events.get("POST_SCRIPT_TERMINATED")
        grid = min(
            (attempt.events[e] for e in ("GRID_SUBMIT", "GLOBUS_SUBMIT") if e in attempt.events),
            default=None,
        )
        started = min(
            (attempt.events[e] for e in ("GRID_SUBMIT", "GLOBUS_SUBMIT", "EXECUTE")
             if e in attempt.events), default=None,
        )  # fmt: skip
        submit = attempt.events.get("SUBMIT")
        execute = attempt.events.get("EXECUTE")
        seqexec = attempt.records.cluster_duration if attempt.finished else None
        raws = [i.raw for i in invs]
        hosts = [i.hostname or i.hostaddr for i in invs if i.hostname or i.hostaddr]
        rows.append([
            job.name,
            str(attempt.number),
            attempt.site or job.site or "-",
            fstr(kickstart),
            str(mult),
            fstr(None if kickstart is None else kickstart * mult),
            fstr(sum(cpu) if cpu else None),
            fstr(None if post_start is None or post_end is None else post_end - post_start),
            fstr(None if started is None or submit is None else started - submit),
            fstr(None if execute is None or grid is None else execute - grid),
            fstr(attempt.local_duration),
            fstr(seqexec),
            fstr(None if seqexec is None or kickstart is None else seqexec - kickstart),
            str(records.raw_to_regular(max(raws))) if raws else "None",
            hosts[0] if hosts else "None",
        ])  # fmt: skip
    return rows


def write_jobs(run: records.Run, path: str, as_csv: bool) -> None:
    rows = job_rows(run)
    with open(path, "w", encoding="utf-8", newline="") as fh:
        fh.write(JOBS_LEGEND)
        if as_csv:
            writer = csv.writer(fh)
            writer.writerow(("Workflow_Id", "Dax_Label", *JOB_COLUMNS))
            for row in rows:
                writer.writerow((run.wf_uuid, run.label, *row))
            return
        fh.write("# %s (%s)\n" % (run.wf_uuid, run.label))
        widths = list(JOB_WIDTHS)
        for row in rows:
            widths = [max(w, len(cell)) for w, cell in zip(widths, row)]
        widths = [w + 1 for w in widths]
        fh.write(_table_line(JOB_COLUMNS, widths))
        for row in rows:
            fh.write(_table_line(row, widths))


def _sections(run: records.Run) -> list[tuple[str, str]]:
    """(id, label) of each table section: the workflow, then all workflows (one here)."""
    return [(run.wf_uuid, run.label), ("All", "")]


def write_workflow(run: records.Run, summary: Summary, path: str, as_csv: bool) -> None:
    retries = max(0, sum(1 for _, kind, _ in run.dagman if kind == "STARTED") - 1)
    rows = (("Tasks", summary.tasks), ("Jobs", summary.jobs),
            ("Sub-Workflows", summary.subworkflows))  # fmt: skip
    with open(path, "w", encoding="utf-8", newline="") as fh:
        fh.write(WORKFLOW_LEGEND)
        if as_csv:
            writer = csv.writer(fh)
            writer.writerow(("Workflow_Id", "Dax_Label", "Type", *SUMMARY_COLUMNS[1:],
                             "WF_Retries"))  # fmt: skip
            for ident, label in _sections(run):
                ident = "ALL" if ident == "All" else ident
                for kind, counts in rows:
                    writer.writerow((ident, label, *counts.row(kind), retries))
                if ident != "ALL":
                    fh.write("\n")
            return
        fh.write(_table_line(WORKFLOW_COLUMNS, WORKFLOW_WIDTHS))
        width = sum(WORKFLOW_WIDTHS)
        for ident, label in _sections(run):
            name = "All Workflows" if ident == "All" else "%s (%s)" % (ident, label)
            fh.write("-" * width + "\n")
            fh.write(name + str(retries).rjust(width - WORKFLOW_WIDTHS[-1] + 1 - len(name)) + "\n")
            for kind, counts in rows:
                fh.write(_table_line(counts.row(kind), WORKFLOW_WIDTHS))
            if ident != "All":
                fh.write("\n")


def breakdown_rows(run: records.Run) -> list[list[str]]:
    """breakdown.txt's rows: per transformation, successful and failed invocations."""
    groups: dict[tuple[str, str], list[tuple]] = {}
    for attempt in run.attempts:
        if not attempt.finished:
            continue
        mult = attempt.job.cores
        entries = []
        for inv in attempt.records.invocations:
            cpu = None
            if not inv.synthetic and inv.duration:
                cpu = (inv.utime + inv.stime) / inv.duration
            entries.append((inv.transformation or "-", inv.raw, inv.duration * mult,
                            inv.maxrss, cpu))  # fmt: skip
        start = attempt.events.get("POST_SCRIPT_STARTED")
        done = attempt.events.get("POST_SCRIPT_TERMINATED")
        if start is not None and done is not None and attempt.post_exitcode is not None:
            raw = records.regular_to_raw(attempt.post_exitcode)
            entries.append(("dagman::post", raw, float(int(done) - int(start)) * mult, None, None))
        for xform, raw, duration, maxrss, cpu in entries:
            kind = "successful" if raw == 0 else "failed"
            groups.setdefault((xform, kind), []).append((duration, maxrss, cpu))
    rows = []
    for (xform, kind), items in sorted(groups.items()):
        times = [d for d, _, _ in items]
        rss = [m for _, m, _ in items if m is not None]
        cpus = [c for _, _, c in items if c is not None]

        def mb(value: float | None) -> str:
            return fstr(value / 1024) if value else "-"

        rows.append([
            xform, kind, str(len(items)), fstr(min(times)), fstr(max(times)),
            fstr(sum(times) / len(times)), fstr(sum(times)),
            mb(min(rss) if rss else None), mb(max(rss) if rss else None),
            mb(sum(rss) / len(rss) if rss else None),
            pstr(min(cpus) if cpus else None), pstr(max(cpus) if cpus else None),
            pstr(sum(cpus) / len(cpus) if cpus else None),
        ])  # fmt: skip
    return rows


def _write_sections(
    run: records.Run, path: str, as_csv: bool, legend: str, columns: tuple, widths: tuple,
    rows: list[list[str]],
) -> None:  # fmt: skip
    """Pegasus's per-workflow tables: the same rows for this workflow and for all."""
    with open(path, "w", encoding="utf-8", newline="") as fh:
        fh.write(legend)
        writer = csv.writer(fh) if as_csv else None
        for ident, label in _sections(run):
            if writer is not None:
                if not rows:
                    continue
                fh.write("\n")
                writer.writerow(("Workflow_Id", "Dax_Label", *columns))
                for row in rows:
                    writer.writerow(("ALL" if ident == "All" else ident, label, *row))
                continue
            fh.write("\n# %s (%s)\n" % (ident, label or "All"))
            if not rows:
                continue
            sizes = list(widths)
            for row in rows:
                sizes = [max(w, len(cell)) for w, cell in zip(sizes, row)]
            sizes = [w + 1 for w in sizes]
            fh.write(_table_line(columns, sizes))
            for row in rows:
                fh.write(_table_line(row, sizes))


def integrity_rows(summary: Summary) -> list[list[str]]:
    files = {"check": "input", "compute": "output"}
    return [
        [kind, files.get(kind, "-"), str(count), str(seconds)]
        for kind, (count, seconds) in sorted(summary.integrity.items())
    ]


# --------------------------------------------------------------------- command line

OUR_FILES = {"summary", "summary-time", "workflow", "jobs", "breakdown", "integrity", "time",
             "time-per-host"}  # fmt: skip
LEVELS = {"all", "summary", "wf_stats", "jb_stats", "tf_stats", "int_stats"}
NOT_PROVIDED = {"ti_stats"}


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog=PROG,
        description="Summarise a workflow run from its submit directory: tasks, jobs and "
        "sub-workflows that succeeded, failed or did not finish, retries, and wall times, "
        "as Pegasus prints them. Written to SUBMIT_DIR/statistics/ (or -o DIR) and printed.",
    )
    p.add_argument("submit_dir", nargs="?", default=".", help="the submit directory (default: .)")
    p.add_argument("-o", "--output", dest="output_dir", help="write the files to this directory")
    p.add_argument(
        "-f", "--file", dest="filetype", choices=("text", "csv"), default="text",
        type=str.lower, help="text (default) or csv files",
    )  # fmt: skip
    p.add_argument("--csv", action="store_const", dest="filetype", const="csv",
                   help="the same as -f csv")  # fmt: skip
    p.add_argument(
        "-s", "--statistics-level", default="summary",
        help="comma-separated: summary (default), wf_stats (workflow), jb_stats (jobs: one "
        "row per try), tf_stats (breakdown: per transformation), int_stats (integrity), all",
    )  # fmt: skip
    p.add_argument(
        "--html", metavar="OUT.html", help="also write a self-contained HTML report of the run: "
        "summary, timeline, transfers, slowest jobs, largest files, failures (needs plotly)",
    )  # fmt: skip
    p.add_argument("-c", "--conf", help="accepted for compatibility; no database is read")
    p.add_argument("-i", "--ignore-db-inconsistency", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("-v", "--verbose", action="count", default=0, help="say more")
    p.add_argument("-q", "--quiet", action="count", default=0,
                   help="print nothing; only write the files")  # fmt: skip
    return p


def _levels(text: str) -> set[str]:
    asked = {part.strip().lower() for part in text.split(",") if part.strip()}
    invalid = asked - LEVELS - NOT_PROVIDED
    if invalid:
        sys.stderr.write(
            "Invalid value(s) for statistics_level, ignoring <%s>\n" % ",".join(sorted(invalid))
        )
    missing = asked & NOT_PROVIDED
    if missing:
        sys.stderr.write(
            "%s: %s not computed by this version, ignoring\n" % (PROG, ",".join(sorted(missing)))
        )
    return (asked & LEVELS) or {"summary"}


def write_statistics(
    submit_dir: str,
    output_dir: str | None = None,
    levels: Iterable[str] = ("summary",),
    as_csv: bool = False,
) -> list[tuple[str, str]]:
    """Compute and write the statistics files; returns (what, path) pairs in print order.
    The local engine can call this at the end of a run."""
    run = records.load(submit_dir, keep_output=False)
    levels = set(levels)
    out_dir = output_dir or os.path.join(run.submit_dir, "statistics")
    try:
        os.makedirs(out_dir, exist_ok=True)
        if not output_dir:  # ours: no file of an earlier run left to mislead
            for name in os.listdir(out_dir):
                if name.split(".")[0] in OUR_FILES and name.endswith((".txt", ".csv")):
                    os.unlink(os.path.join(out_dir, name))
    except OSError as exc:
        raise PlanError("cannot create %s: %s" % (out_dir, exc.strerror)) from None
    ext = "csv" if as_csv else "txt"
    written: list[tuple[str, str]] = []
    every = "all" in levels
    summary = compute(run)
    try:
        if "summary" in levels or every:
            path = os.path.join(out_dir, "summary." + ext)
            if as_csv:
                time_path = os.path.join(out_dir, "summary-time.csv")
                write_summary_csv(summary, path, time_path)
                written += [("Summary", path), ("Summary Time", time_path)]
            else:
                with open(path, "w", encoding="utf-8") as fh:
                    fh.write(summary_text(summary))
                written.append(("Summary", path))
        if "wf_stats" in levels or every:
            path = os.path.join(out_dir, "workflow." + ext)
            write_workflow(run, summary, path, as_csv)
            written.append(("Workflow execution statistics", path))
        if "jb_stats" in levels or every:
            path = os.path.join(out_dir, "jobs." + ext)
            write_jobs(run, path, as_csv)
            written.append(("Job instance statistics", path))
        if "tf_stats" in levels or every:
            path = os.path.join(out_dir, "breakdown." + ext)
            _write_sections(run, path, as_csv, BREAKDOWN_LEGEND, BREAKDOWN_COLUMNS,
                            BREAKDOWN_WIDTHS, breakdown_rows(run))  # fmt: skip
            written.append(("Transformation statistics", path))
        if "int_stats" in levels or every:
            path = os.path.join(out_dir, "integrity." + ext)
            _write_sections(run, path, as_csv, INTEGRITY_LEGEND, INTEGRITY_COLUMNS,
                            INTEGRITY_WIDTHS, integrity_rows(summary))  # fmt: skip
            written.append(("Integrity statistics", path))
    except OSError as exc:
        where = exc.filename or out_dir
        raise PlanError("cannot write %s: %s" % (where, exc.strerror)) from None
    return written


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    levels = _levels(args.statistics_level)
    as_csv = args.filetype == "csv"
    try:
        written = write_statistics(args.submit_dir, args.output_dir, levels, as_csv)
        if args.html:
            from .report import write_report  # plotly only when asked for

            written.append(("HTML report", write_report(args.submit_dir, args.html)))
    except PlanError as exc:
        sys.stderr.write("%s: %s\n" % (PROG, exc))
        return exc.exit_code
    if args.quiet:
        return 0
    out = sys.stdout
    for what, path in written:
        if what == "Summary" and not as_csv:
            with open(path, encoding="utf-8") as fh:
                for line in fh:
                    out.write(line.rstrip() + "\n")
            out.write("\n")
        out.write("%-30s: %s\n" % (what, path))
    out.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
