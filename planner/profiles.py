"""Profiles: merging them with Pegasus's precedence, and reading the values the planner needs.

Precedence, lowest to highest, as Pegasus 5's planner applies them (InterPoolEngine and
Namespace.assimilate; the reference guide's "priority ordering of profiles" says the same):
properties < the job in the workflow < the site catalog < the transformation catalog.
Properties only fill keys nobody else set; the site's profiles are laid over the job's,
and the transformation's over those.  (The task brief guessed the job wins over the
catalogs; Pegasus's code and docs say otherwise, so we follow them.)  Workflow-level
``profiles`` sit just above properties: Pegasus 5 ignores them, we treat them as defaults
for every job.

Keys: ``condor`` and ``dagman`` keys are case-insensitive (HTCondor's and DAGMan's own
rule), so they are kept lower case (``+Attr`` ClassAd keys keep their case); the other
namespaces are case-sensitive, as in Pegasus.
"""

from __future__ import annotations

import shlex

from .errors import PlanError

NAMESPACES = ("env", "condor", "globus", "dagman", "pegasus", "hints", "selector", "metadata")
CASELESS = ("condor", "dagman", "globus")
Profiles = dict  # {namespace: {key: str}}

# pegasus profile -> condor request key, and the factor from Pegasus's unit (MB) to HTCondor's
REQUESTS = (
    ("cores", "request_cpus", 1),
    ("memory", "request_memory", 1),  # MB in both
    ("diskspace", "request_disk", 1024),  # MB -> KB
    ("gpus", "request_gpus", 1),
)
_UNITS = {"": 1, "m": 1, "mb": 1, "mib": 1, "g": 1024, "gb": 1024, "gib": 1024,
          "t": 1048576, "tb": 1048576, "tib": 1048576, "k": 1 / 1024, "kb": 1 / 1024,
          "kib": 1 / 1024}  # fmt: skip


def normalize(profiles: dict | None) -> Profiles:
    """A catalog's or the workflow's profiles as ``{ns: {key: str}}`` with our key case."""
    if not profiles:
        return {}
    result: Profiles = {}
    for namespace, keys in profiles.items():
        if not keys:
            continue
        ns = str(namespace).lower()
        if ns in CASELESS:
            result[ns] = {
                (k if str(k).startswith("+") else str(k).lower()): _text(v) for k, v in keys.items()
            }
        else:
            result[ns] = {str(k): _text(v) for k, v in keys.items()}
    return result


def _text(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return value if isinstance(value, str) else str(value)


def merge(*layers: Profiles | None) -> Profiles:
    """Lay the layers over each other, lowest first: a later layer's key wins."""
    present = [layer for layer in layers if layer]
    if not present:
        return {}
    if len(present) == 1:
        return present[0]
    result: Profiles = {}
    for layer in present:
        for namespace, keys in layer.items():
            known = result.get(namespace)
            if known is None:
                result[namespace] = dict(keys)
            else:
                known.update(keys)
    return result


# ------------------------------------------------------------------ reading values


def get(profiles: Profiles, namespace: str, key: str) -> str | None:
    keys = profiles.get(namespace)
    return keys.get(key) if keys else None


def number(profiles: Profiles, key: str, where: str, namespace: str = "pegasus") -> float | None:
    """A numeric profile; a value that is not a number is the user's mistake, named."""
    value = get(profiles, namespace, key)
    if value is None or value == "":
        return None
    try:
        return float(value)
    except ValueError:
        raise PlanError(
            "%s: %s profile %s: %r is not a number" % (where, namespace, key, value)
        ) from None


def integer(profiles: Profiles, key: str, where: str, namespace: str = "pegasus") -> int | None:
    found = number(profiles, key, where, namespace)
    return None if found is None else int(found)


def megabytes(value: str, where: str, key: str) -> int:
    """``2048``, ``2 GB``, ``512M`` -> MB (the API writes MB; people write units)."""
    text = value.strip().lower().replace(" ", "")
    digits = len(text)
    while digits and not (text[digits - 1].isdigit() or text[digits - 1] == "."):
        digits -= 1
    unit = _UNITS.get(text[digits:])
    try:
        amount = float(text[:digits])
    except ValueError:
        amount = None
    if amount is None or unit is None:
        raise PlanError("%s: pegasus profile %s: %r is not an amount of MB" % (where, key, value))
    return round(amount * unit)


def condor_requests(profiles: Profiles, where: str) -> dict:
    """The job's condor keys: its condor profiles, plus request_* from the pegasus resource
    profiles (cores, memory MB, diskspace MB -> KB, gpus) where no condor key is set."""
    condor = dict(profiles.get("condor") or ())
    condor.pop("universe", None)  # compute jobs are vanilla (lite), aux jobs local
    pegasus = profiles.get("pegasus")
    if not pegasus:
        return condor
    for key, request, factor in REQUESTS:
        value = pegasus.get(key)
        if value is None or request in condor:
            continue
        if key in ("memory", "diskspace"):
            amount = megabytes(value, where, key)
        else:
            try:
                amount = int(float(value))
            except ValueError:
                raise PlanError(
                    "%s: pegasus profile %s: %r is not a number" % (where, key, value)
                ) from None
        condor[request] = str(amount * factor)
    return condor


def walltime(profiles: Profiles, where: str) -> int | None:
    """The task's time limit in seconds, looked up as Pegasus's kickstart does: pegasus
    ``maxwalltime`` (minutes), globus ``maxwalltime`` (minutes), then pegasus ``runtime``
    (seconds; Pegasus uses it as the limit when nothing else is set, PM-962)."""
    minutes = number(profiles, "maxwalltime", where)
    if minutes is None:
        minutes = number(profiles, "maxwalltime", where, "globus")
    if minutes is not None:
        return int(minutes * 60) if minutes > 0 else None
    seconds = number(profiles, "runtime", where)
    return int(seconds) if seconds and seconds > 0 else None


def runtime(profiles: Profiles, where: str) -> int:
    """The expected runtime in seconds (pegasus ``runtime``), 0 when unknown."""
    seconds = number(profiles, "runtime", where)
    return int(seconds) if seconds and seconds > 0 else 0


def retry(profiles: Profiles, where: str, default: int) -> int:
    value = integer(profiles, "retry", where, "dagman")
    return default if value is None else max(0, value)


def user_priority(profiles: Profiles, where: str) -> int:
    """The user's priority: condor ``priority``, else dagman ``priority``."""
    value = integer(profiles, "priority", where, "condor")
    if value is None:
        value = integer(profiles, "priority", where, "dagman")
    return value or 0


def category(profiles: Profiles) -> str | None:
    return get(profiles, "dagman", "category") or None


def environment(profiles: Profiles) -> dict:
    return dict(profiles.get("env") or ())


def container_options(profiles: Profiles, where: str) -> list:
    """pegasus ``container.arguments`` (a command-line fragment) as a list of words."""
    text = get(profiles, "pegasus", "container.arguments")
    if not text:
        return []
    try:
        return shlex.split(text)
    except ValueError as exc:
        raise PlanError(
            "%s: pegasus profile container.arguments: %s in %r" % (where, exc, text)
        ) from None
