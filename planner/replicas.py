"""Replica selection: which URLs a raw input is fetched from, best first.

Pegasus's selectors (``pegasus.selector.replica``), as its planner ranks:

* ``Default``: file URLs first, then URLs on the compute site, then the rest, each group
  in catalog order.  A file URL is usable only on the compute site itself or on ``local``
  (the submit host, whose files HTCondor carries); file URLs of any other site are dropped.
* ``Regex``: ``pegasus.selector.replica.regex.rank.N = <regex>`` properties; a URL takes
  the lowest N whose regex matches it whole; URLs matching none are dropped (Pegasus
  drops them with a warning).
* ``Restricted``: ``pegasus.selector.replica.<site|*>.ignore.stagein.sites`` drops
  replicas from those sites; ``...prefer.stagein.sites`` puts those sites first.

Every usable URL is kept, in rank order: pegasus-lite fails over from one to the next.
"""

from __future__ import annotations

import re

from .errors import PlanError

LOCAL = "local"
SELECTORS = ("Default", "Regex", "Restricted")
RANK_PREFIX = "pegasus.selector.replica.regex.rank."


def to_url(pfn: str) -> str:
    """A bare path in a catalog means a file URL."""
    if pfn.startswith("/"):
        return "file://" + pfn
    return pfn


def is_file_url(url: str) -> bool:
    return url.startswith("file:")


def file_path(url: str) -> str:
    """``file:///a/b`` or ``file://localhost/a/b`` -> ``/a/b``."""
    rest = url[len("file:") :]
    if rest.startswith("//"):
        rest = rest[2:]
        slash = rest.find("/")
        rest = rest[slash:] if slash >= 0 else "/"
    return rest


def property_items(properties) -> list:
    """Every (key, value) of a Properties object that can list them, else none."""
    items = getattr(properties, "items", None)
    if items is None:
        return []
    return list(items())


def _sites(text: str | None) -> set:
    return {s.strip() for s in (text or "").split(",") if s.strip()}


class Selector:
    """Ranks the replicas of raw inputs for a compute site, per the configured selector."""

    def __init__(self, catalog, properties=None):
        self.catalog = catalog
        self.properties = properties
        name = (
            properties.get("pegasus.selector.replica") if properties is not None else None
        ) or "Default"
        matches = [s for s in SELECTORS if s.lower() == name.strip().lower()]
        if not matches:
            raise PlanError(
                "pegasus.selector.replica: %r is not a replica selector we have (%s)"
                % (name, ", ".join(SELECTORS))
            )
        self.mode = matches[0]
        self.ranks: list = []
        if self.mode == "Regex":
            self.ranks = self._regex_ranks(properties)
        self._restricted: dict = {}

    @staticmethod
    def _regex_ranks(properties) -> list:
        ranks = []
        for key, value in property_items(properties):
            if not key.startswith(RANK_PREFIX):
                continue
            number = key[len(RANK_PREFIX) :]
            try:
                rank = int(number)
            except ValueError:
                raise PlanError("%s: the rank %r is not a number" % (key, number)) from None
            try:
                ranks.append((rank, re.compile(value.strip())))
            except re.error as exc:
                raise PlanError("%s: %r is not a valid regex: %s" % (key, value, exc)) from None
        if not ranks:
            raise PlanError(
                "pegasus.selector.replica is Regex but no %sN property gives a regex" % RANK_PREFIX
            )
        ranks.sort(key=lambda item: item[0])
        return ranks

    def entry(self, lfn: str):
        """The catalog entry for ``lfn`` (regex entries expanded), or None."""
        if self.catalog is None:
            return None
        return self.catalog.lookup(lfn)

    def rank(self, entry, compute_site: str) -> list:
        """The usable replicas of ``entry`` for ``compute_site``: [(url, site)] best first."""
        files = []
        here = []
        elsewhere = []
        for replica in entry.pfns:
            url = to_url(replica.pfn)
            site = replica.site or LOCAL
            if is_file_url(url):
                if site in (compute_site, LOCAL):
                    files.append((url, site))
            elif site == compute_site:
                here.append((url, site))
            else:
                elsewhere.append((url, site))
        ranked = files + here + elsewhere
        if self.mode == "Regex":
            ranked = self._by_regex(ranked)
        elif self.mode == "Restricted":
            ranked = self._restrict(ranked, compute_site)
        return ranked

    def _by_regex(self, ranked: list) -> list:
        scored = []
        for position, (url, site) in enumerate(ranked):
            for rank, pattern in self.ranks:
                if pattern.fullmatch(url):
                    scored.append((rank, position, url, site))
                    break
        scored.sort()
        return [(url, site) for _, _, url, site in scored]

    def _restrict(self, ranked: list, compute_site: str) -> list:
        rules = self._restricted.get(compute_site)
        if rules is None:
            props = self.properties

            def lookup(kind: str) -> set:
                specific = props.get(
                    "pegasus.selector.replica.%s.%s.stagein.sites" % (compute_site, kind)
                )
                if specific is None:
                    specific = props.get("pegasus.selector.replica.*.%s.stagein.sites" % kind)
                return _sites(specific)

            rules = self._restricted[compute_site] = (lookup("ignore"), lookup("prefer"))
        ignore, prefer = rules
        kept = [c for c in ranked if c[1] not in ignore]
        if prefer:
            kept = [c for c in kept if c[1] in prefer] + [c for c in kept if c[1] not in prefer]
        return kept
