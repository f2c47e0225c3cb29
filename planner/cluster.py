"""Job clustering: several abstract jobs become one planned job that runs them in order.

``horizontal`` (Pegasus's Horizontal clusterer): per level, jobs of the same transformation
on the same site; the first job's pegasus profile ``clusters.num`` (clusters per level,
wins) or ``clusters.size`` (jobs per cluster) sets the cut, chunked as Pegasus does (with
``num``: ``n // num`` jobs each, the first ``n % num`` clusters one more).  A chunk of one
job stays a plain job.  Names: ``merge_<transformation>_PID<level>_ID<n>``, level counted
from 1, n from 1 per level and transformation (Pegasus's names).

``label``: jobs with the same value of the pegasus profile named by
``pegasus.clusterer.label.key`` (default ``label``) on the same site; tasks in topological
order.  Names: ``merge_<first job's transformation>_ID<n>``, n from 1 in order of first
appearance.

Both given: label first, then horizontal over the jobs label left alone.
"""

from __future__ import annotations

from typing import Callable

from .errors import PlanError

METHODS = ("horizontal", "label")


class Cluster:
    """One planned job made of ``jobs`` (job numbers, run in this order)."""

    __slots__ = ("id", "jobs", "name")

    def __init__(self, jobs: list, name: str, cluster_id: str):
        self.jobs = jobs
        self.name = name
        self.id = cluster_id


def dagman_name(text: str) -> str:
    """A DAG node name part: letters, digits, ``_ . -`` (anything else becomes ``_``)."""
    return "".join(c if c.isalnum() or c in "_.-" else "_" for c in text)


def chunks(jobs: list, size: int | None, num: int | None) -> list:
    """Pegasus's cut of one group: ``num`` clusters or clusters of ``size`` jobs."""
    n = len(jobs)
    if n <= 1:
        return []
    if num:
        base, extra = divmod(n, num)
    else:
        base, extra = (size or 1), 0
    if base >= n:
        return [jobs]
    out = []
    i = 0
    while i < n:
        step = base + 1 if extra > 0 else base
        extra -= 1
        if step <= 1:
            break
        out.append(jobs[i : i + step])
        i += step
    return [chunk for chunk in out if len(chunk) > 1]


def _positive(value: str | None, key: str, where: str) -> int | None:
    if value is None or value == "":
        return None
    try:
        number = int(float(value))
    except ValueError:
        raise PlanError(
            "%s: pegasus profile %s: %r is not a number" % (where, key, value)
        ) from None
    if number < 1:
        raise PlanError("%s: pegasus profile %s: must be 1 or more, not %s" % (where, key, value))
    return number


def horizontal(
    order: list,
    level: list,
    site: list,
    name: list,
    pegasus: Callable[[int], dict],
    taken: bytearray | None = None,
    ids: list | None = None,
) -> list:
    """Clusters per (level, transformation, site).  ``name[i]`` is job i's transformation
    key (a hashable naming it); ``pegasus(i)`` its merged pegasus profiles."""
    groups: dict = {}
    for i in order:
        if taken is not None and taken[i]:
            continue
        key = (level[i], name[i])
        by_site = groups.get(key)
        if by_site is None:
            by_site = groups[key] = {}
        members = by_site.get(site[i])
        if members is None:
            by_site[site[i]] = [i]
        else:
            members.append(i)
    clusters = []
    for (lvl, xform), by_site in sorted(groups.items(), key=lambda item: item[0][0]):
        number = 0
        for members in by_site.values():
            if len(members) < 2:
                continue
            members.sort()  # document order: levels say the jobs are independent
            first = members[0]
            where = "job %s" % (ids[first] if ids else first)
            profile = pegasus(first)
            num = _positive(profile.get("clusters.num"), "clusters.num", where)
            size = _positive(profile.get("clusters.size"), "clusters.size", where)
            for chunk in chunks(members, size, num):
                number += 1
                label = xform[1] if isinstance(xform, tuple) else str(xform)
                cluster_id = "PID%d_ID%d" % (lvl + 1, number)
                clusters.append(
                    Cluster(chunk, "merge_%s_%s" % (dagman_name(label), cluster_id), cluster_id)
                )
    return clusters


def by_label(
    order: list,
    site: list,
    name: list,
    pegasus: Callable[[int], dict],
    key: str = "label",
) -> list:
    """Clusters of jobs sharing a label (and a site), tasks in topological order."""
    groups: dict = {}
    for i in order:
        label = pegasus(i).get(key)
        if not label:
            continue
        members = groups.get((label, site[i]))
        if members is None:
            groups[(label, site[i])] = [i]
        else:
            members.append(i)
    clusters = []
    number = 0
    for members in groups.values():
        if len(members) < 2:
            continue
        number += 1
        first = name[members[0]]
        label = first[1] if isinstance(first, tuple) else str(first)
        cluster_id = "ID%d" % number
        clusters.append(
            Cluster(members, "merge_%s_%s" % (dagman_name(label), cluster_id), cluster_id)
        )
    return clusters


def cluster(
    methods: list,
    order: list,
    level: list,
    site: list,
    name: list,
    pegasus: Callable[[int], dict],
    label_key: str = "label",
    ids: list | None = None,
) -> list:
    """Every cluster the ``methods`` (``label``, ``horizontal``) make; each job in at most one."""
    unknown = [m for m in methods if m not in METHODS]
    if unknown:
        raise PlanError(
            "--cluster %s: not a clustering method (use label or horizontal)" % ", ".join(unknown)
        )
    found: list = []
    taken = bytearray(len(level))
    if "label" in methods:
        found.extend(by_label(order, site, name, pegasus, label_key))
        for c in found:
            for i in c.jobs:
                taken[i] = 1
    if "horizontal" in methods:
        found.extend(horizontal(order, level, site, name, pegasus, taken, ids))
    return found
