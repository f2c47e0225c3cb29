"""Data reuse: drop the jobs whose outputs already exist, as Pegasus's DataReuseEngine does.

Pass 1 marks a job when each of its outputs is in the replica catalog, or is transient
(``stageOut: false``) and read by none of its children.  Pass 2 walks bottom-up: a job
not marked goes too when all its children went and it has no output to deliver (no
output, or every ``stageOut: true`` output already in the catalog).  A job without
outputs is never dropped.  ``pegasus.data.reuse.scope``: ``full`` (default), ``partial``
(only jobs with the pegasus profile ``enable_for_data_reuse`` true are looked up, and every
staged output counts as missing), ``none`` (nothing dropped, like ``--force``).
"""

from __future__ import annotations

from typing import Callable

SCOPES = ("full", "partial", "none")


def _truthy(value) -> bool:
    return str(value).strip().lower() in ("true", "yes", "1", "on")


def reduce(
    graph,
    jobs: list,
    order: list,
    in_catalog: Callable[[str], bool],
    scope: str = "full",
) -> bytearray:
    """``deleted[i]`` = 1 for each job data reuse removes.  ``jobs[i]`` is the model Job of
    graph node i; ``order`` a topological order of the graph."""
    n = len(jobs)
    deleted = bytearray(n)
    if scope == "none" or not n:
        return deleted
    partial = scope == "partial"
    delivers = bytearray(n)  # 1: the job must run to deliver an output (transferOutput)
    children = graph.children
    for i, job in enumerate(jobs):
        outputs = [use for use in job.uses if use.type in ("output", "inout")]
        if not outputs:
            delivers[i] = 1
            continue
        found = [in_catalog(use.lfn) for use in outputs]
        for use, present in zip(outputs, found):
            if use.stage_out and (partial or not present):
                delivers[i] = 1
                break
        if partial:
            pegasus = (job.profiles or {}).get("pegasus") or {}
            if not _truthy(pegasus.get("enable_for_data_reuse", "false")):
                continue
        for use, present in zip(outputs, found):
            if present:
                continue
            if not use.stage_out and not any(_reads(jobs[c], use.lfn) for c in children[i]):
                continue
            break
        else:
            deleted[i] = 1

    for i in reversed(order):
        if deleted[i] or delivers[i]:
            continue
        for c in children[i]:
            if not deleted[c]:
                break
        else:
            deleted[i] = 1
    return deleted


def _reads(job, lfn: str) -> bool:
    return any(use.lfn == lfn and use.type in ("input", "inout") for use in job.uses)
