"""Pegasus properties: Java properties files, layered, with profiles given as properties.

Syntax is java.util.Properties': ``key = value``, ``key: value`` or ``key value``; ``#`` and
``!`` comment lines; a line ending in an odd number of backslashes continues on the next;
``\\t \\n \\r \\f \\uXXXX`` escapes, any other escaped character stands for itself.

Keys that start with a profile namespace are profiles too (``env.PATH``, ``condor.request_memory``,
``dagman.retry``); for the ``pegasus.`` namespace only the documented pegasus profile keys count,
since most ``pegasus.*`` keys are plain properties.  ``pegasus.catalog.site.sites.<site>.profiles.
<ns>.<key>`` adds a profile to one site.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping

from .errors import ParseError, PlanError

PROFILE_NAMESPACES = ("env", "condor", "globus", "dagman", "pegasus", "hints", "selector")

# the pegasus profile keys (Pegasus's pegasus namespace); any other pegasus.* is a property
PEGASUS_PROFILE_KEYS = frozenset(
    (
        "auxillary.local", "change.dir", "create.dir", "chain.stagein", "checkpoint.time",
        "clusters.maxruntime", "clusters.num", "clusters.size", "condor.arguments.quote",
        "container.arguments", "container.launcher", "container.launcher.arguments", "cores",
        "data.configuration", "diskspace", "enable_for_data_reuse", "exitcode.failuremsg",
        "exitcode.successmsg", "glite.arguments", "gpus", "gridstart", "gridstart.arguments",
        "gridstart.launcher", "gridstart.launcher.arguments", "gridstart.path", "group",
        "job.aggregator", "job.aggregator.arguments", "label", "maxwalltime", "memory", "nodes",
        "nosymlink", "pegasus_lite_env_source", "pmc_priority", "pmc_request_cpus",
        "pmc_request_memory", "pmc_task_arguments", "ppn", "project", "queue",
        "relative.submit.dir", "runtime", "stagein.clusters", "stagein.local.clusters",
        "stagein.remote.clusters", "stageout.clusters", "stageout.local.clusters",
        "stageout.remote.clusters", "style", "tag", "transfer.arguments",
        "transfer.lite.arguments", "transfer.lite.threads", "transfer.proxy", "transfer.threads",
        "type", "workdir", "wntmp",
        # credentials a site may name (lower-cased environment variable names)
        "ssh_private_key", "s3cfg", "boto_config", "googlep12", "irods_env_file",
        "pegasus_credentials", "x509_user_proxy",
    )
)  # fmt: skip

SITE_PROFILE_PREFIX = "pegasus.catalog.site.sites."

# what pegasus.mode sets when the key is not already set (Pegasus's mode defaults)
_PERIODIC_REMOVE_30S = "(JobStatus == 5) && ((CurrentTime - EnteredCurrentStatus) > 30)"
MODES = {
    "production": {},
    "development": {
        "dagman.retry": "0",
        "pegasus.integrity.checking": "none",
        "condor.periodic_remove": _PERIODIC_REMOVE_30S,
    },
    "debug": {
        "pegasus.transfer.arguments": "--debug -m 1",
        "pegasus.transfer.lite.arguments": "--debug -m 1",
        "pegasus.monitord.arguments": "-vvv",
        "dagman.retry": "0",
        "pegasus.integrity.checking": "none",
        "condor.periodic_remove": _PERIODIC_REMOVE_30S,
    },
    "tutorial": {
        "pegasus.transfer.arguments": "-m 1",
        "pegasus.transfer.lite.arguments": "-m 1",
        "dagman.retry": "1",
        "condor.periodic_remove": _PERIODIC_REMOVE_30S,
    },
}

_TRUE = ("true", "yes", "on", "1")
_FALSE = ("false", "no", "off", "0")


class Properties:
    """Layered key/value settings; later layers win.  ``sources`` lists the files read."""

    def __init__(self, values: Mapping[str, str] | None = None):
        self._values: dict = dict(values or {})
        self.sources: list = []  # files, lowest priority first
        self.origin: dict = {}  # key -> the file (or "-D", "environment") that set it

    # ---------------------------------------------------------------- access

    def get(self, key: str, default: str | None = None) -> str | None:
        return self._values.get(key, default)

    def __contains__(self, key: str) -> bool:
        return key in self._values

    def __len__(self) -> int:
        return len(self._values)

    def items(self) -> Iterator[tuple]:
        return iter(list(self._values.items()))

    def as_dict(self) -> dict:
        return dict(self._values)

    def set(self, key: str, value: str, origin: str = "") -> None:
        self._values[key] = value
        if origin:
            self.origin[key] = origin

    def get_bool(self, key: str, default: bool = False) -> bool:
        """true/yes/on/1 or false/no/off/0 (any case); anything else is a mistake."""
        value = self._values.get(key)
        if value is None or not value.strip():
            return default
        lowered = value.strip().lower()
        if lowered in _TRUE:
            return True
        if lowered in _FALSE:
            return False
        raise PlanError("%s: %s = %r is not true or false" % (self._where(key), key, value))

    def get_int(self, key: str, default: int | None = None) -> int | None:
        value = self._values.get(key)
        if value is None or not value.strip():
            return default
        try:
            return int(value.strip())
        except ValueError:
            raise PlanError(
                "%s: %s = %r is not a whole number" % (self._where(key), key, value)
            ) from None

    def _where(self, key: str) -> str:
        return self.origin.get(key) or "properties"

    # ---------------------------------------------------------------- layering

    def update_from_file(self, path: str, environ: Mapping[str, str] | None = None) -> None:
        """Read a properties file on top of what is there (its keys win)."""
        try:
            with open(path, encoding="utf-8") as handle:
                text = handle.read()
        except OSError as error:
            raise ParseError(path, "", "cannot read: %s" % (error.strerror or error)) from None
        except UnicodeDecodeError:
            raise ParseError(path, "", "not UTF-8 text") from None
        self.update(parse_properties(text, path), path, environ)
        self.sources.append(path)

    def update(
        self, values: Mapping[str, str], origin: str, environ: Mapping[str, str] | None = None
    ) -> None:
        """Add a layer; ``${name}`` in its values refers to properties already known (this
        layer's earlier keys included), then to the environment; unknown is empty, as in
        Pegasus."""
        for key, value in values.items():
            if "${" in value:
                value = self._expand(value, environ or {})
            self._values[key] = value
            self.origin[key] = origin

    def _expand(self, value: str, environ: Mapping[str, str]) -> str:
        def replace(match: re.Match) -> str:
            name = match.group(1)
            found = self._values.get(name)
            if found is None:
                found = _system_property(name, environ)
            if found is None:
                found = environ.get(name, "")
            return found

        return re.sub(r"\$\{([-a-zA-Z0-9._]+)\}", replace, value)

    def apply_mode(self) -> str:
        """Fill in what ``pegasus.mode`` implies, for keys not set; returns the mode."""
        mode = (self._values.get("pegasus.mode") or "production").strip()
        defaults = MODES.get(mode)
        if defaults is None:
            raise PlanError(
                "%s: pegasus.mode = %r is not one of %s"
                % (self._where("pegasus.mode"), mode, ", ".join(MODES))
            )
        for key, value in defaults.items():
            if key not in self._values and not self._has_profile_key(key):
                self._values[key] = value
                self.origin[key] = "pegasus.mode=%s" % mode
        return mode

    def _has_profile_key(self, key: str) -> bool:
        """dagman.RETRY counts as dagman.retry: dagman profile keys are case-insensitive."""
        namespace, _, name = key.partition(".")
        if namespace != "dagman":
            return False
        return any(
            k.partition(".")[0] == "dagman" and k.partition(".")[2].lower() == name.lower()
            for k in self._values
        )

    # ---------------------------------------------------------------- profiles

    def profiles(self) -> dict:
        """``{namespace: {key: value}}`` of the keys that are profiles."""
        result: dict = {}
        for key, value in self._values.items():
            namespace, dot, name = key.partition(".")
            if not dot or not name or namespace not in PROFILE_NAMESPACES:
                continue
            if namespace == "pegasus" and name not in PEGASUS_PROFILE_KEYS:
                continue
            result.setdefault(namespace, {})[name] = value
        return result

    def site_profiles(self, site: str) -> dict:
        """``{namespace: {key: value}}`` from ``pegasus.catalog.site.sites.<site>.profiles.*``."""
        prefix = "%s%s.profiles." % (SITE_PROFILE_PREFIX, site)
        result: dict = {}
        for key, value in self._values.items():
            if not key.startswith(prefix):
                continue
            namespace, dot, name = key[len(prefix) :].partition(".")
            if dot and name and namespace in PROFILE_NAMESPACES:
                result.setdefault(namespace, {})[name] = value
        return result

    def profile_sites(self) -> list:
        """The sites named in ``pegasus.catalog.site.sites.<site>.profiles.*`` keys."""
        sites = []
        for key in self._values:
            if key.startswith(SITE_PROFILE_PREFIX):
                site, _, rest = key[len(SITE_PROFILE_PREFIX) :].partition(".profiles.")
                if site and rest and site not in sites:
                    sites.append(site)
        return sites


def _system_property(name: str, environ: Mapping[str, str]) -> str | None:
    """The Java system properties Pegasus users refer to in properties files."""
    if name == "user.home":
        return environ.get("HOME")
    if name == "user.name":
        return environ.get("USER") or environ.get("LOGNAME")
    if name == "user.dir":
        return environ.get("PWD")
    return None


def properties_from_environment(environ: Mapping[str, str]) -> dict:
    """Pegasus reads ``_PEGASUS_...`` variables as properties: strip the leading ``_``, lower
    case, ``__`` becomes ``.`` (``_PEGASUS__MODE=development`` sets ``pegasus.mode``)."""
    result = {}
    for name, value in environ.items():
        if name.startswith("_PEGASUS"):
            result[name[1:].lower().replace("__", ".")] = value
    return result


# ------------------------------------------------------------------ the file format

_ESCAPES = {"t": "\t", "n": "\n", "r": "\r", "f": "\f"}


def parse_properties(text: str, source: str = "<properties>") -> dict:
    """Java properties text -> ordered dict of key -> value."""
    result: dict = {}
    lines = text.splitlines()
    index = 0
    while index < len(lines):
        number = index + 1
        logical = lines[index].lstrip(" \t\f")
        index += 1
        if not logical or logical[0] in "#!":
            continue
        while _continues(logical) and index < len(lines):
            logical = logical[:-1] + lines[index].lstrip(" \t\f")
            index += 1
        if _continues(logical):
            logical = logical[:-1]
        key, value = _split(logical, source, number)
        result[key] = value
    return result


def _continues(line: str) -> bool:
    count = len(line) - len(line.rstrip("\\"))
    return count % 2 == 1


def _split(line: str, source: str, number: int) -> tuple:
    """Key and value of one logical line, escapes resolved."""
    position = 0
    length = len(line)
    while position < length:
        char = line[position]
        if char == "\\":
            position += 2
            continue
        if char in "=: \t\f":
            break
        position += 1
    raw_key = line[:position]
    rest = line[position:]
    rest = rest.lstrip(" \t\f")
    if rest[:1] in ("=", ":"):
        rest = rest[1:].lstrip(" \t\f")
    return _unescape(raw_key, source, number), _unescape(rest, source, number)


def _unescape(text: str, source: str, number: int) -> str:
    if "\\" not in text:
        return text
    out = []
    position = 0
    length = len(text)
    while position < length:
        char = text[position]
        if char != "\\":
            out.append(char)
            position += 1
            continue
        if position + 1 >= length:
            position += 1
            continue
        following = text[position + 1]
        if following == "u":
            digits = text[position + 2 : position + 6]
            if len(digits) != 4 or not all(d in "0123456789abcdefABCDEF" for d in digits):
                raise ParseError(source, "line %d" % number, "malformed \\uXXXX escape")
            out.append(chr(int(digits, 16)))
            position += 6
            continue
        out.append(_ESCAPES.get(following, following))
        position += 2
    return "".join(out)
