"""Stage-in and stage-out through the transfer engine, in this process."""

from __future__ import annotations

import os

from kickstart.statinfo import is_inside

from .log import log

TYPE_CHECKING = False
if TYPE_CHECKING:
    from transfer.report import Report

    from .spec import InputFile, JobSpec, Location


def urls(locations: list[Location]) -> list[dict]:
    return [location.as_transfer_url() for location in locations]


def entry(
    lfn: str, sources: list[dict], dests: list[dict], linkage: str, sha256: str | None
) -> dict:
    entry = {
        "type": "transfer",
        "lfn": lfn,
        "linkage": linkage,
        "src_urls": sources,
        "dest_urls": dests,
    }
    if sha256:
        entry["checksum"] = sha256
    return entry


def input_dest(item: InputFile, path: str) -> str:
    local_only = all(loc.url.startswith(("file:", "/")) for loc in item.sources)
    return ("symlink://" if item.symlink and local_only else "file://") + path


def stage_in_entries(spec: JobSpec, workdir: str) -> list[dict]:
    entries = []
    for item in spec.inputs:
        if not item.sources:
            continue  # already in the work dir (HTCondor moved it: condorio)
        dest = [{"url": input_dest(item, os.path.join(workdir, item.lfn)), "site_label": "local"}]
        entries.append(entry(item.lfn, urls(item.sources), dest, "input", item.sha256))
    return entries


def checkpoint_in_entries(spec: JobSpec, workdir: str) -> list[dict]:
    return [
        entry(
            c.lfn,
            urls(c.sources),
            [{"url": "file://" + os.path.join(workdir, c.lfn), "site_label": "local"}],
            "input",
            None,
        )
        for c in spec.checkpoints
        if c.sources
    ]


def stage_out_entries(
    files: list, workdir: str, checksums: dict[str, str], roots: tuple = ()
) -> list[dict]:
    """One transfer per destination of every output (or checkpoint) present in the work dir.
    A file leading (by a link) out of the work dir and the other ``roots`` is not copied."""
    entries = []
    roots = roots or (workdir,)
    for item in files:
        path = os.path.join(workdir, item.lfn)
        if not item.destinations or not os.path.exists(path):
            continue
        if not any(is_inside(path, root) for root in roots):
            log("%s leads outside the work dir (to %s): not staged out"
                % (item.lfn, os.path.realpath(path)))  # fmt: skip
            continue
        for dest in item.destinations:
            source = [{"url": "file://" + path, "site_label": "local"}]
            entries.append(
                entry(item.lfn, source, [dest.as_transfer_url()], "output", checksums.get(item.lfn))
            )
    return entries


class Stager:
    """Runs transfer lists with the job's settings; remembers every attempt for the record.

    The transfer engine is imported on first use: a job with nothing to stage (a container
    job whose image is cached, say) does not pay for it."""

    def __init__(self, spec: JobSpec, env: dict[str, str], meta_dir: str):
        self.spec = spec
        self.env = env
        self.meta_dir = meta_dir
        self.report: Report | None = None
        self.engine = None

    def run(self, entries: list[dict]) -> bool:
        if not entries:
            return True
        from transfer.credentials import Credentials
        from transfer.engine import Engine
        from transfer.handlers.base import Context
        from transfer.inputs import parse_entries
        from transfer.report import Report

        if self.report is None:
            self.report = Report(progress=False)
        context = Context(self.env, Credentials(self.env), self.spec.transfer_threads, debug=False)
        self.engine = Engine(
            context,
            max_attempts=self.spec.transfer_attempts,
            threads=self.spec.transfer_threads,
            report=self.report,
            meta_dir=self.meta_dir,
        )
        try:
            return self.engine.run(parse_entries(entries, self.env))
        finally:
            self.engine = None

    def why(self) -> str:
        """``: <lfn>: <error>`` of the last failed attempt, for the job's one error line."""
        attempts = self.report.attempts if self.report is not None else []
        for attempt in reversed(attempts):
            if not attempt.success and attempt.error:
                return ": %s: %s" % (attempt.lfn or attempt.dst_url, attempt.error)
        return ""

    def stop(self) -> None:
        """From a signal handler: let in-flight transfers end, start no new ones."""
        if self.engine is not None:
            self.engine.stop.set()
