"""``pegasus-analyzer SUBMIT_DIR``: what went wrong in a run, in Pegasus's layout.

A summary of the jobs (succeeded, failed, held, never submitted, still unknown), then for
each failed job its last try: state, site, the .sub/.out/.err files, the exit code, each
failed task from its kickstart record (executable, arguments, exit code, working dir, the
tail of its stdout and stderr) and the tail of the job's stderr, which for a pegasus-lite
job is the PegasusLite log.  Exit code as Pegasus's: 0 when nothing failed, 2 when the
workflow or a job failed, 1 when the directory cannot be read.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import TextIO

from . import records
from .errors import PlanError

PROG = "pegasus-analyzer"
WORKFLOW_FAILED = 2
TAIL = 20  # lines of each stdout/stderr shown, unless -v


class Counts:
    __slots__ = ("failed", "held", "succeeded", "total", "unknown", "unsubmitted")

    def __init__(self, run: records.Run):
        self.total = len(run.jobs)
        self.succeeded = self.failed = self.unsubmitted = self.unknown = self.held = 0
        for job in run.jobs.values():
            last = job.last
            if last is None:
                self.unsubmitted += 1
            elif last.succeeded:
                self.succeeded += 1
            elif last.failed:
                self.failed += 1
            else:
                self.unknown += 1
            if last is not None and last.held:
                self.held += 1


class Report:
    """Writes the report; one instance per run."""

    def __init__(
        self,
        run: records.Run,
        out: TextIO,
        quiet: bool = False,
        tail: int | None = TAIL,
        invocation: bool = False,
    ):
        self.run = run
        self.out = out
        self.quiet = quiet  # file names only, not their contents
        self.tail = tail  # None: whole texts
        self.invocation = invocation  # print how to re-run each failed job
        self._post: dict[str, list[dict]] | None = None

    def say(self, text: str = "") -> None:
        self.out.write(text + "\n")

    # ------------------------------------------------------------ summary

    def summary(self, counts: Counts, status: str) -> None:
        def line(label: str, value: int) -> None:
            share = 100 * (1.0 * value / (counts.total or 1))
            self.say(" %s: % 6d (%3.2f%%)" % (label.ljust(19), value, share))

        self.say()
        self.say("Summary".center(80, "*"))
        self.say()
        self.say(" Submit Directory   : %s" % self.run.submit_dir)
        self.say(" Workflow Status    : %s" % status)
        line("Total jobs", counts.total)
        line("# jobs succeeded", counts.succeeded)
        line("# jobs failed", counts.failed)
        line("# jobs held", counts.held)
        line("# jobs unsubmitted", counts.unsubmitted)
        if counts.unknown > 0:
            line("# jobs unknown", counts.unknown)
        self.say()
        if counts.total and counts.unsubmitted == counts.total:
            self.say(" Looks like workflow did not start".center(80, "*"))
            self.say()

    # ------------------------------------------------------------ one job

    def attempt(self, attempt: records.Attempt) -> None:
        job = attempt.job
        self.say()
        self.say(job.name.center(80, "="))
        self.say()
        self.say(" last state: %s" % (attempt.last_event or "-"))
        if job.sub_path and not job.sub_read:
            self.say("       site: submit file not available")
        else:
            self.say("       site: %s" % (attempt.site or job.site or "-"))
        self.say("submit file: %s" % (job.sub_path or "-"))
        self.say("output file: %s" % (attempt.out_path or "-"))
        self.say(" error file: %s" % (attempt.err_path or "-"))
        code = attempt.job_exitcode if attempt.job_exitcode is not None else attempt.exitcode
        self.say("   exitcode: %s" % ("-" if code is None else code))
        why = self.post_message(attempt)
        if why:
            self.say("POST script: %s" % why)
        if attempt.number > 1:
            self.say("      tries: %d" % attempt.number)
        if self.invocation:
            self.say()
            self.say(
                "To re-run this job, use: %s %s" % (job.executable or "-", job.arguments or "-")
            )
        self.say()
        recs = attempt.records
        for problem in recs.errors:
            self.say(" warning: %s: %s" % (attempt.out_path, problem))
        if recs.errors:
            self.say()
        self.tasks(attempt, recs)

    def post_message(self, attempt: records.Attempt) -> str | None:
        """Why the POST script failed the attempt: its last line in ``<dag>.exitcode.log``
        (pegasus-exitcode's JSON lines, one per attempt that reached its POST script)."""
        if not attempt.post_exitcode:
            return None
        if self._post is None:
            self._post = _exitcode_log(os.path.splitext(self.run.dag_path)[0] + ".exitcode.log")
        entries = self._post.get(attempt.job.name, [])
        index = sum(1 for a in attempt.job.attempts[: attempt.number - 1]
                    if a.post_exitcode is not None)  # fmt: skip
        if index >= len(entries):
            return None
        entry = entries[index]
        for key in ("std_err", "std_out"):
            lines = [line.strip() for line in str(entry.get(key) or "").splitlines()]
            lines = [line for line in lines if line]
            if lines:
                return lines[-1]
        return None

    def tasks(self, attempt: records.Attempt, recs: records.Records) -> None:
        invocations = recs.invocations
        some_failed = any(not inv.ok for inv in invocations)
        for number, inv in enumerate(invocations, 1):
            if inv.ok and some_failed:
                continue
            self.say(("Task #%d - Summary" % number).center(80, "-"))
            self.say()
            self.say("site        : %s" % (inv.resource or attempt.site or attempt.job.site or "-"))
            self.say("hostname    : %s" % (inv.hostname or inv.hostaddr or "-"))
            self.say("executable  : %s" % (inv.executable or "-"))
            self.say("arguments   : %s" % (" ".join(inv.argv) or "-"))
            self.say("exitcode    : %s" % inv.exitcode)
            if inv.error:
                self.say("error       : %s" % inv.error)
            self.say("working dir : %s" % (inv.cwd or "-"))
            self.say()
            if self.quiet:
                continue
            name = "Task #%d - %s - %s" % (number, inv.transformation or "-", inv.task_id or "-")
            self.text(name + " - stdout", inv.stdout)
            self.text(name + " - Kickstart stderr", inv.stderr)
        if self.quiet:
            return
        if all(inv.synthetic for inv in invocations) and attempt.out_path:
            self.text("Job stdout file - %s" % attempt.out_path, _read(attempt.out_path))
        if attempt.err_path:
            self.text("Job stderr file - %s" % attempt.err_path, _read(attempt.err_path))

    def text(self, title: str, text: str) -> None:
        """A titled block: the last lines of ``text`` (all of them with -v)."""
        text = text.strip(" \n\r\t")
        if not text:
            return
        lines = text.splitlines()
        self.say(title.center(80, "-"))
        self.say()
        if self.tail is not None and len(lines) > self.tail:
            self.say("(last %d of %d lines; -v shows all)" % (self.tail, len(lines)))
            lines = lines[-self.tail :]
        for line in lines:
            self.say(line)
        self.say()

    # ------------------------------------------------------------ the whole report

    def write(self, summary_only: bool = False) -> int:
        """The report; returns how many jobs failed."""
        run = self.run
        counts = Counts(run)
        status = run.status()
        if status == "failure" and counts.failed == 0:
            self.say(
                "The workflow failed although no job did: see %s and the engine's log in %s"
                % (os.path.basename(run.jobstate_path), run.submit_dir)
            )
        self.summary(counts, status)
        if summary_only:
            return counts.failed
        failing = [
            job for job in run.jobs.values()
            if job.last is not None and not job.last.finished
            and any(a.failed for a in job.attempts)
        ]  # fmt: skip
        if failing:
            self.say("Failing jobs' details".center(80, "*"))
            for job in failing:
                self.attempt(next(a for a in reversed(job.attempts) if a.failed))
        failed = [job for job in run.jobs.values() if job.last is not None and job.last.failed]
        if failed:
            self.say("Failed jobs' details".center(80, "*"))
            for job in failed:
                self.attempt(job.last)  # type: ignore[arg-type]
        return counts.failed


def _exitcode_log(path: str) -> dict[str, list[dict]]:
    """The entries of pegasus-exitcode's log, per job, in order."""
    import json

    found: dict[str, list[dict]] = {}
    for line in _read(path).splitlines():
        try:
            entry = json.loads(line)
        except (ValueError, RecursionError):
            continue
        if isinstance(entry, dict) and isinstance(entry.get("name"), str):
            name = os.path.basename(entry["name"])
            if name.endswith(".out"):
                found.setdefault(name[:-4], []).append(entry)
    return found


def _read(path: str) -> str:
    try:
        with open(path, encoding="utf-8", errors="replace") as fh:
            return fh.read()
    except OSError:
        return ""


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog=PROG,
        description="Explain a workflow run's failures from its submit directory: a summary "
        "of the jobs, then each failed job's files, exit code, failed tasks and the tail of "
        "their output. Exit code 0 when nothing failed, 2 when something did.",
    )
    p.add_argument("submit_dir", nargs="?", help="the submit directory (default: .)")
    p.add_argument("-d", "-i", "--dir", dest="input_dir", help="the submit directory")
    p.add_argument("--dag", help="the DAG file (its directory is the submit directory)")
    p.add_argument(
        "-f", "--files", action="store_true",
        help="accepted for compatibility: the files are always what is read",
    )  # fmt: skip
    p.add_argument(
        "-q", "--quiet", action="store_true", help="the files' names only, not their contents"
    )
    p.add_argument("-S", "--summary", action="store_true", help="the summary only")
    p.add_argument(
        "-p", "--print", dest="print_options", default="",
        help="extra details: invocation (how to re-run a failed job), pre, all",
    )  # fmt: skip
    p.add_argument(
        "-v", "--verbose", action="count", default=0,
        help="whole outputs instead of their last %d lines" % TAIL,
    )  # fmt: skip
    p.add_argument("-c", "--conf", help="accepted for compatibility; no database is read")
    p.add_argument("-o", "--output-dir", help=argparse.SUPPRESS)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    submit_dir = args.input_dir or args.submit_dir
    if args.dag and not submit_dir:
        submit_dir = os.path.dirname(os.path.abspath(args.dag))
    try:
        run = records.load(submit_dir or ".", dag=args.dag)
    except PlanError as exc:
        sys.stderr.write("%s: %s\n" % (PROG, exc))
        return exc.exit_code
    options = {o.strip().lower() for o in args.print_options.split(",")}
    report = Report(
        run,
        sys.stdout,
        quiet=args.quiet,
        tail=None if args.verbose else TAIL,
        invocation=bool(options & {"invocation", "all"}),
    )
    failed = report.write(summary_only=args.summary)
    sys.stdout.flush()
    if failed or run.status() == "failure":
        sys.stderr.write(
            "%s: workflow failed (%d failed job%s) wf_uuid: %s submit dir: %s\n"
            % (PROG, failed, "" if failed == 1 else "s", run.wf_uuid, run.submit_dir)
        )
        return WORKFLOW_FAILED
    print("Done".center(80, "*"))
    print()
    print("%s: end of status report" % PROG)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
