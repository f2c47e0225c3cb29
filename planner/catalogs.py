"""Site, transformation and replica catalogs (Pegasus 5 YAML, the text replica and
transformation formats), plus the pieces every Pegasus document shares: profiles, metadata,
hooks, ``${VAR}`` expansion and the checks that name the path of a mistake.

The structure is checked by hand (no JSON schema): each mistake is one ParseError whose
path says where it is, ``sites.yml: sites[1].directories[0].type: ...``.
"""

from __future__ import annotations

import difflib
import re
import shlex
from collections.abc import Mapping

from .errors import ParseError
from .model import (
    ContainerDef,
    Directory,
    FileServer,
    Replica,
    ReplicaCatalog,
    ReplicaEntry,
    Site,
    SiteCatalog,
    Transformation,
    TransformationCatalog,
    TransformationSite,
)

PROFILE_NAMESPACES = ("env", "condor", "globus", "dagman", "pegasus", "hints", "selector")
ARCHES = (
    "x86", "x86_64", "ppc", "ppc_64", "ppc64le", "ia64", "sparcv7", "sparcv9", "amd64",
    "aarch64",
)  # fmt: skip
OS_TYPES = ("linux", "sunos", "macosx", "aix", "windows")
DIRECTORY_TYPES = ("sharedScratch", "sharedStorage", "localScratch", "localStorage")
OPERATIONS = ("all", "get", "put")
GRID_TYPES = (
    "gt5", "condor", "cream", "batch", "nordugrid", "unicore", "ec2", "deltacloud", "sfapi",
)  # fmt: skip
SCHEDULERS = ("fork", "pbs", "lsf", "condor", "sge", "slurm", "flux", "unknown")
JOB_TYPES = ("compute", "auxillary", "transfer", "register", "cleanup")
HOOK_EVENTS = ("never", "start", "error", "success", "end", "all")
CONTAINER_TYPES = ("docker", "singularity", "shifter")
TRANSFORMATION_TYPES = ("stageable", "installed")

# YAML 1.1 booleans: Pegasus reads YAML 1.1, ryaml leaves these as strings
_BOOL_WORDS = {
    "true": True, "yes": True, "on": True, "false": False, "no": False, "off": False,
}  # fmt: skip
_SHA256 = re.compile(r"^[0-9a-fA-F]{64}$")


# ------------------------------------------------------------------ ${VAR} expansion


class Variables:
    """What ``${NAME}`` may refer to: the environment plus env profiles from properties.
    Lookup is exact first, then case-insensitive, as Pegasus's expander does."""

    def __init__(self, values: Mapping[str, str]):
        self.values = dict(values)
        self._lower: dict | None = None

    def get(self, name: str) -> str | None:
        value = self.values.get(name)
        if value is None:
            if self._lower is None:
                self._lower = {k.lower(): v for k, v in self.values.items()}
            value = self._lower.get(name.lower())
        return value


_VARIABLE = re.compile(r"\\?\$\{([^}]*)\}")


def expand(text: str, variables: Variables | None, source: str, path: str) -> str:
    """``${NAME}`` replaced from ``variables``; ``\\${NAME}`` stays literal; unset is an error."""
    if variables is None or "${" not in text:
        return text

    def replace(match: re.Match) -> str:
        whole = match.group(0)
        if whole[0] == "\\":
            return whole[1:]
        name = match.group(1)
        value = variables.get(name)
        if value is None:
            raise ParseError(source, path, "${%s} is not set in the environment" % name)
        return value

    return _VARIABLE.sub(replace, text)


def expand_tree(node: object, variables: Variables | None, source: str, path: str) -> object:
    """Expand every string in a parsed document (values only, not keys)."""
    if variables is None:
        return node
    if type(node) is str:
        return expand(node, variables, source, path) if "${" in node else node
    if type(node) is dict:
        for key, value in node.items():
            if type(value) is str:
                if "${" in value:
                    node[key] = expand(value, variables, source, join(path, key))
            elif type(value) in (dict, list):
                expand_tree(value, variables, source, join(path, key))
        return node
    if type(node) is list:
        for index, value in enumerate(node):
            if type(value) is str:
                if "${" in value:
                    node[index] = expand(value, variables, source, "%s[%d]" % (path, index))
            elif type(value) in (dict, list):
                expand_tree(value, variables, source, "%s[%d]" % (path, index))
    return node


# ------------------------------------------------------------------ checks that name the path


def join(path: str, key: object) -> str:
    return "%s.%s" % (path, key) if path else str(key)


def describe(value: object) -> str:
    """How a wrong value is named in a message."""
    if value is None:
        return "nothing (null)"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return type(value).__name__


def fail(source: str, path: str, message: str) -> ParseError:
    return ParseError(source, path, message)


def mapping(value: object, source: str, path: str) -> dict:
    if type(value) is not dict:
        raise fail(source, path, "expected a mapping, got %s" % describe(value))
    return value


def sequence(value: object, source: str, path: str) -> list:
    if type(value) is not list:
        raise fail(source, path, "expected a list, got %s" % describe(value))
    return value


def text(value: object, source: str, path: str) -> str:
    """A string; numbers become their text (the API writes some as numbers)."""
    kind = type(value)
    if kind is str:
        return value
    if kind is int or kind is float:
        return _number_text(value)
    raise fail(source, path, "expected a string, got %s" % describe(value))


def _number_text(value) -> str:
    if type(value) is float and value.is_integer() and abs(value) < 1e16:
        return repr(value)  # 4.0 stays "4.0", as Pegasus prints a YAML float
    return str(value)


def flag(value: object, source: str, path: str) -> bool:
    """true/false; the YAML 1.1 words (yes, no, on, off) too, since Pegasus reads YAML 1.1."""
    if value is True or value is False:
        return value
    if type(value) is str:
        found = _BOOL_WORDS.get(value.lower())
        if found is not None:
            return found
    raise fail(source, path, "expected true or false, got %r" % (value,))


def one_of(value: object, allowed: tuple, source: str, path: str) -> str:
    if type(value) is str and value in allowed:
        return value
    if type(value) is not str:
        raise fail(
            source, path, "expected one of %s, got %s" % (", ".join(allowed), describe(value))
        )
    raise fail(source, path, "%r is not one of %s" % (value, ", ".join(allowed)))


def check_keys(node: dict, allowed: frozenset, source: str, path: str) -> None:
    """Unknown keys are mistakes (``x-`` keys are vendor extensions, ignored)."""
    if allowed.issuperset(node):
        return
    for key in node:
        if key in allowed or (type(key) is str and key.startswith("x-")):
            continue
        hint = difflib.get_close_matches(str(key), sorted(allowed), n=1)
        extra = " (did you mean %r?)" % hint[0] if hint else ""
        raise fail(source, path, "unknown key %r%s" % (key, extra))


def required(node: dict, key: str, source: str, path: str) -> object:
    value = node.get(key)
    if value is None:
        raise fail(source, path, "missing required key %r" % key)
    return value


def sha256_of(node: object, source: str, path: str) -> str | None:
    """``checksum: {sha256: ...}`` -> the lower-case digest."""
    if node is None:
        return None
    node = mapping(node, source, path)
    for key in node:
        if key != "sha256" and not str(key).startswith("x-"):
            raise fail(source, join(path, key), "unsupported checksum type (only sha256)")
    value = node.get("sha256")
    if value is None:
        return None
    value = text(value, source, join(path, "sha256"))
    if not _SHA256.match(value):
        raise fail(source, join(path, "sha256"), "%r is not a sha256 (64 hex digits)" % value)
    return value.lower()


def profile_value(value: object, source: str, path: str) -> str:
    if type(value) is str:
        return value
    if value is True or value is False:
        return "true" if value else "false"
    if type(value) in (int, float):
        return _number_text(value)
    raise fail(source, path, "expected a string or number, got %s" % describe(value))


def profiles(node: object, source: str, path: str, variables: Variables | None = None) -> dict:
    """``{namespace: {key: value}}`` with string values; unknown namespaces are mistakes."""
    node = mapping(node, source, path)
    result = {}
    for namespace, entries in node.items():
        where = join(path, namespace)
        if namespace not in PROFILE_NAMESPACES:
            if type(namespace) is str and namespace.startswith("x-"):
                continue
            known = ", ".join(PROFILE_NAMESPACES)
            raise fail(
                source, path, "unknown profile namespace %r (one of %s)" % (namespace, known)
            )
        if entries is None:
            continue
        values = metadata(entries, source, where, variables)  # the same key: value rules
        if values:
            result[namespace] = values
    return result


def metadata(node: object, source: str, path: str, variables: Variables | None = None) -> dict:
    """``{key: value}``, values as strings."""
    node = mapping(node, source, path)
    result = {}
    for key, value in node.items():
        key = str(key)
        if key.startswith("x-"):
            continue
        value = profile_value(value, source, join(path, key))
        if variables is not None and "${" in value:
            value = expand(value, variables, source, join(path, key))
        result[key] = value
    return result


_HOOK_KEYS = frozenset(("shell",))
_SHELL_HOOK_KEYS = frozenset(("_on", "cmd"))


def hooks(node: object, source: str, path: str) -> dict:
    """``{"shell": [{"_on": event, "cmd": command}]}``."""
    node = mapping(node, source, path)
    check_keys(node, _HOOK_KEYS, source, path)
    result = {}
    shell = node.get("shell")
    if shell is not None:
        where = join(path, "shell")
        entries = []
        for index, hook in enumerate(sequence(shell, source, where)):
            at = "%s[%d]" % (where, index)
            hook = mapping(hook, source, at)
            check_keys(hook, _SHELL_HOOK_KEYS, source, at)
            event = one_of(required(hook, "_on", source, at), HOOK_EVENTS, source, join(at, "_on"))
            command = text(required(hook, "cmd", source, at), source, join(at, "cmd"))
            entries.append({"_on": event, "cmd": command})
        result["shell"] = entries
    return result


def format_version(node: dict, source: str, path: str, needed: bool) -> str | None:
    """The ``pegasus`` format version (5.x), required in standalone documents."""
    version = node.get("pegasus")
    if version is None:
        if needed:
            raise fail(source, path, "missing required key 'pegasus' (the format version, 5.0)")
        return None
    version = text(version, source, join(path, "pegasus"))
    if not version.split(".")[0] == "5":
        raise fail(source, join(path, "pegasus"), "version %r is not supported (5.x)" % version)
    return version


# ------------------------------------------------------------------ sites

_SITE_CATALOG_KEYS = frozenset(("pegasus", "sites"))
_SITE_KEYS = frozenset(
    ("name", "arch", "os.type", "os.release", "os.version", "directories", "grids", "profiles")
)
_DIRECTORY_KEYS = frozenset(
    ("type", "path", "sharedFileSystem", "freeSize", "totalSize", "fileServers")
)
_SERVER_KEYS = frozenset(("url", "operation", "profiles"))
_GRID_KEYS = frozenset(
    (
        "type", "contact", "scheduler", "jobtype", "freeMem", "totalMem", "maxCount",
        "maxCPUTime", "runningJobs", "jobsInQueue", "idleNodes", "totalNodes",
    )
)  # fmt: skip


def parse_sites(
    doc: object,
    source: str,
    env: Mapping[str, str] | None = None,
    prefix: str = "",
    inline: bool = False,
) -> SiteCatalog:
    """A site catalog document (``sites.yml``, or the workflow's ``siteCatalog`` with
    ``inline=True``, where pegasus-wms.api leaves out ``pegasus``)."""
    variables = variables_of(env)
    doc = mapping(doc, source, prefix)
    check_keys(doc, _SITE_CATALOG_KEYS, source, prefix)
    format_version(doc, source, prefix, needed=not inline)
    catalog = SiteCatalog(source)
    where = join(prefix, "sites")
    seen: dict = {}
    for index, node in enumerate(sequence(required(doc, "sites", source, prefix), source, where)):
        at = "%s[%d]" % (where, index)
        site = _site(mapping(node, source, at), source, at, variables)
        if site.name in seen:
            raise fail(
                source,
                join(at, "name"),
                "duplicate site %r (also %s)" % (site.name, seen[site.name]),
            )
        seen[site.name] = at
        catalog.sites[site.name] = site
    return catalog


def _site(node: dict, source: str, at: str, variables) -> Site:
    check_keys(node, _SITE_KEYS, source, at)
    site = Site(string(required(node, "name", source, at), source, join(at, "name"), variables))
    if node.get("arch") is not None:
        site.arch = one_of(node["arch"], ARCHES, source, join(at, "arch"))
    if node.get("os.type") is not None:
        site.os_type = one_of(node["os.type"], OS_TYPES, source, join(at, "os.type"))
    if node.get("os.release") is not None:
        site.os_release = text(node["os.release"], source, join(at, "os.release"))
    if node.get("os.version") is not None:
        site.os_version = text(node["os.version"], source, join(at, "os.version"))
    directories = node.get("directories")
    if directories is not None:
        where = join(at, "directories")
        for index, entry in enumerate(sequence(directories, source, where)):
            site.directories.append(_directory(entry, source, "%s[%d]" % (where, index), variables))
    grids = node.get("grids")
    if grids is not None:
        where = join(at, "grids")
        for index, entry in enumerate(sequence(grids, source, where)):
            site.grids.append(_grid(entry, source, "%s[%d]" % (where, index)))
    if node.get("profiles") is not None:
        site.profiles = profiles(node["profiles"], source, join(at, "profiles"), variables)
    return site


def _directory(node: object, source: str, at: str, variables) -> Directory:
    node = mapping(node, source, at)
    check_keys(node, _DIRECTORY_KEYS, source, at)
    kind = one_of(required(node, "type", source, at), DIRECTORY_TYPES, source, join(at, "type"))
    path = node.get("path")
    path = string(path, source, join(at, "path"), variables) if path is not None else ""
    shared = node.get("sharedFileSystem")
    shared = flag(shared, source, join(at, "sharedFileSystem")) if shared is not None else False
    where = join(at, "fileServers")
    servers = sequence(required(node, "fileServers", source, at), source, where)
    if not servers:
        raise fail(source, where, "at least one file server is needed")
    directory = Directory(kind, path, shared)
    for index, entry in enumerate(servers):
        here = "%s[%d]" % (where, index)
        entry = mapping(entry, source, here)
        check_keys(entry, _SERVER_KEYS, source, here)
        url = string(required(entry, "url", source, here), source, join(here, "url"), variables)
        operation = entry.get("operation", "all")
        operation = one_of(operation, OPERATIONS, source, join(here, "operation"))
        if entry.get("profiles") is not None:
            profiles(entry["profiles"], source, join(here, "profiles"), variables)
        directory.servers.append(FileServer(url, operation))
    return directory


def _grid(node: object, source: str, at: str) -> dict:
    node = mapping(node, source, at)
    check_keys(node, _GRID_KEYS, source, at)
    grid = {
        "type": one_of(required(node, "type", source, at), GRID_TYPES, source, join(at, "type")),
        "contact": text(required(node, "contact", source, at), source, join(at, "contact")),
        "scheduler": one_of(
            required(node, "scheduler", source, at), SCHEDULERS, source, join(at, "scheduler")
        ),
    }
    if node.get("jobtype") is not None:
        grid["jobtype"] = one_of(node["jobtype"], JOB_TYPES, source, join(at, "jobtype"))
    for key, value in node.items():
        if key not in grid and not str(key).startswith("x-") and value is not None:
            grid[key] = profile_value(value, source, join(at, key))
    return grid


# ------------------------------------------------------------------ transformations

_TC_KEYS = frozenset(("pegasus", "transformations", "containers"))
_TRANSFORMATION_KEYS = frozenset(
    (
        "name",
        "namespace",
        "version",
        "requires",
        "checksum",
        "profiles",
        "hooks",
        "metadata",
        "sites",
    )
)
_TC_SITE_KEYS = frozenset(
    (
        "name", "pfn", "type", "arch", "os.type", "os.release", "os.version", "bypass",
        "container", "profiles", "metadata",
    )
)  # fmt: skip
_CONTAINER_KEYS = frozenset(
    ("name", "type", "image", "image.site", "mounts", "bypass", "checksum", "metadata", "profiles")
)


def parse_transformations(
    doc: object,
    source: str,
    env: Mapping[str, str] | None = None,
    prefix: str = "",
    inline: bool = False,
) -> TransformationCatalog:
    """A transformation catalog with its containers (``transformations.yml``, or the
    workflow's ``transformationCatalog`` with ``inline=True``)."""
    variables = variables_of(env)
    doc = mapping(doc, source, prefix)
    check_keys(doc, _TC_KEYS, source, prefix)
    format_version(doc, source, prefix, needed=not inline)
    catalog = TransformationCatalog(source)
    containers = doc.get("containers")
    if containers is not None:
        where = join(prefix, "containers")
        for index, node in enumerate(sequence(containers, source, where)):
            at = "%s[%d]" % (where, index)
            container = _container(mapping(node, source, at), source, at, variables)
            if container.name in catalog.containers:
                raise fail(source, join(at, "name"), "duplicate container %r" % container.name)
            catalog.containers[container.name] = container
    where = join(prefix, "transformations")
    entries = sequence(required(doc, "transformations", source, prefix), source, where)
    known: dict = {}
    for index, node in enumerate(entries):
        at = "%s[%d]" % (where, index)
        transformation = _transformation(mapping(node, source, at), source, at, variables)
        for position, site in enumerate(transformation.sites):
            if site.container is not None and site.container not in catalog.containers:
                raise fail(
                    source, "%s.sites[%d].container" % (at, position),
                    "unknown container %r (not in containers)" % site.container,
                )  # fmt: skip
        add_transformation(catalog, transformation, known)
    return catalog


def add_transformation(
    catalog: TransformationCatalog, transformation: Transformation, known: dict | None = None
) -> None:
    """Add, or merge into the entry with the same namespace::name:version (its sites are
    appended, carrying this entry's transformation-level profiles), as Pegasus's store does."""
    key = (transformation.namespace, transformation.name, transformation.version)
    existing = None
    if known is not None:
        existing = known.get(key)
    else:
        for candidate in catalog.transformations:
            if (candidate.namespace, candidate.name, candidate.version) == key:
                existing = candidate
                break
    if existing is None:
        catalog.transformations.append(transformation)
        if known is not None:
            known[key] = transformation
        return
    for site in transformation.sites:
        site.profiles = merge_profiles(transformation.profiles, site.profiles)
        existing.sites = [s for s in existing.sites if (s.site, s.pfn) != (site.site, site.pfn)] + [
            site
        ]
    existing.sha256 = existing.sha256 or transformation.sha256
    existing.requires.extend(r for r in transformation.requires if r not in existing.requires)


def merge_profiles(base: dict, override: dict) -> dict:
    """``base`` with ``override``'s keys winning, namespace by namespace (new dicts)."""
    result = {namespace: dict(values) for namespace, values in base.items()}
    for namespace, values in override.items():
        result.setdefault(namespace, {}).update(values)
    return result


def _transformation(node: dict, source: str, at: str, variables) -> Transformation:
    check_keys(node, _TRANSFORMATION_KEYS, source, at)
    name = string(required(node, "name", source, at), source, join(at, "name"), variables)
    namespace = node.get("namespace")
    if namespace is not None:
        namespace = text(namespace, source, join(at, "namespace"))
    version = node.get("version")
    if version is not None:
        version = text(version, source, join(at, "version"))
    transformation = Transformation(name, namespace, version)
    transformation.sha256 = sha256_of(node.get("checksum"), source, join(at, "checksum"))
    if node.get("requires") is not None:
        where = join(at, "requires")
        transformation.requires = [
            text(item, source, "%s[%d]" % (where, i))
            for i, item in enumerate(sequence(node["requires"], source, where))
        ]
    if node.get("profiles") is not None:
        transformation.profiles = profiles(
            node["profiles"], source, join(at, "profiles"), variables
        )
    if node.get("metadata") is not None:
        transformation.metadata = metadata(
            node["metadata"], source, join(at, "metadata"), variables
        )
    if node.get("hooks") is not None:
        transformation.hooks = hooks(node["hooks"], source, join(at, "hooks"))
    where = join(at, "sites")
    sites = sequence(required(node, "sites", source, at), source, where)
    if not sites:
        raise fail(source, where, "at least one site is needed")
    for index, entry in enumerate(sites):
        here = "%s[%d]" % (where, index)
        transformation.sites.append(_tc_site(mapping(entry, source, here), source, here, variables))
    return transformation


def _tc_site(node: dict, source: str, at: str, variables) -> TransformationSite:
    check_keys(node, _TC_SITE_KEYS, source, at)
    name = string(required(node, "name", source, at), source, join(at, "name"), variables)
    pfn = string(required(node, "pfn", source, at), source, join(at, "pfn"), variables)
    kind = one_of(
        required(node, "type", source, at), TRANSFORMATION_TYPES, source, join(at, "type")
    )
    site = TransformationSite(name, pfn, kind)
    if node.get("arch") is not None:
        site.arch = one_of(node["arch"], ARCHES, source, join(at, "arch"))
    if node.get("os.type") is not None:
        site.os_type = one_of(node["os.type"], OS_TYPES, source, join(at, "os.type"))
    if node.get("os.release") is not None:
        site.os_release = text(node["os.release"], source, join(at, "os.release"))
    if node.get("os.version") is not None:
        site.os_version = text(node["os.version"], source, join(at, "os.version"))
    if node.get("bypass") is not None:
        site.bypass = flag(node["bypass"], source, join(at, "bypass"))
    if node.get("container") is not None:
        site.container = text(node["container"], source, join(at, "container"))
    if node.get("profiles") is not None:
        site.profiles = profiles(node["profiles"], source, join(at, "profiles"), variables)
    if node.get("metadata") is not None:
        site.metadata = metadata(node["metadata"], source, join(at, "metadata"), variables)
    return site


def _container(node: dict, source: str, at: str, variables) -> ContainerDef:
    check_keys(node, _CONTAINER_KEYS, source, at)
    name = text(required(node, "name", source, at), source, join(at, "name"))
    kind = one_of(required(node, "type", source, at), CONTAINER_TYPES, source, join(at, "type"))
    image = string(required(node, "image", source, at), source, join(at, "image"), variables)
    container = ContainerDef(name, kind, image)
    if node.get("image.site") is not None:
        container.image_site = text(node["image.site"], source, join(at, "image.site"))
    if node.get("mounts") is not None:
        where = join(at, "mounts")
        for index, mount in enumerate(sequence(node["mounts"], source, where)):
            here = "%s[%d]" % (where, index)
            mount = string(mount, source, here, variables)
            if ":" not in mount:
                raise fail(source, here, "%r is not source:destination[:options]" % mount)
            container.mounts.append(mount)
    if node.get("bypass") is not None:
        container.bypass = flag(node["bypass"], source, join(at, "bypass"))
    container.sha256 = sha256_of(node.get("checksum"), source, join(at, "checksum"))
    if node.get("profiles") is not None:
        container.profiles = profiles(node["profiles"], source, join(at, "profiles"), variables)
    if node.get("metadata") is not None:
        container.metadata = metadata(node["metadata"], source, join(at, "metadata"), variables)
    return container


# ------------------------------------------------------------------ replicas

_RC_KEYS = frozenset(("pegasus", "replicas"))
_REPLICA_KEYS = frozenset(("lfn", "pfns", "regex", "checksum", "metadata"))
_PFN_KEYS = frozenset(("site", "pfn"))


def parse_replicas(
    doc: object,
    source: str,
    env: Mapping[str, str] | None = None,
    prefix: str = "",
    inline: bool = False,
) -> ReplicaCatalog:
    """A replica catalog (``replicas.yml``, or the workflow's ``replicaCatalog`` with
    ``inline=True``): several PFNs per LFN, sha256 checksums, regex entries, metadata."""
    variables = variables_of(env)
    doc = mapping(doc, source, prefix)
    check_keys(doc, _RC_KEYS, source, prefix)
    format_version(doc, source, prefix, needed=not inline)
    catalog = ReplicaCatalog(source)
    where = join(prefix, "replicas")
    for index, node in enumerate(
        sequence(required(doc, "replicas", source, prefix), source, where)
    ):
        at = "%s[%d]" % (where, index)
        node = mapping(node, source, at)
        check_keys(node, _REPLICA_KEYS, source, at)
        lfn = string(required(node, "lfn", source, at), source, join(at, "lfn"), variables)
        regex = node.get("regex")
        regex = flag(regex, source, join(at, "regex")) if regex is not None else False
        pfns = []
        here = join(at, "pfns")
        for position, pfn in enumerate(sequence(required(node, "pfns", source, at), source, here)):
            spot = "%s[%d]" % (here, position)
            pfn = mapping(pfn, source, spot)
            check_keys(pfn, _PFN_KEYS, source, spot)
            url = string(required(pfn, "pfn", source, spot), source, join(spot, "pfn"), variables)
            site = string(
                required(pfn, "site", source, spot), source, join(spot, "site"), variables
            )
            pfns.append(Replica(url, site))
        entry = ReplicaEntry(
            lfn, pfns, sha256_of(node.get("checksum"), source, join(at, "checksum")), regex
        )
        if node.get("metadata") is not None:
            entry.metadata = metadata(node["metadata"], source, join(at, "metadata"), variables)
        _add_replica(catalog, entry, source, join(at, "lfn"))
    return catalog


def _add_replica(catalog: ReplicaCatalog, entry: ReplicaEntry, source: str, path: str) -> None:
    try:
        catalog.add(entry)
    except re.error as error:
        message = "%r is not a valid regular expression: %s" % (entry.lfn, error)
        raise fail(source, path, message) from None


def parse_replicas_text(
    text_: str, source: str, env: Mapping[str, str] | None = None
) -> ReplicaCatalog:
    """The old file replica catalog: ``lfn pfn key="value" ...`` per line, ``#`` comments.
    ``site`` (or the older ``pool``) names the site; ``checksum.type``/``checksum.value``
    give the sha256; ``regex="true"`` makes the LFN a pattern; other keys are metadata."""
    variables = variables_of(env)
    catalog = ReplicaCatalog(source)
    for number, line in enumerate(text_.splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        where = "line %d" % number
        line = expand(line, variables, source, where)
        try:
            words = shlex.split(line, comments=False, posix=True)
        except ValueError as error:
            raise fail(source, where, "cannot split %r: %s" % (line.strip(), error)) from None
        if len(words) < 2 or "=" in words[0]:
            raise fail(source, where, 'expected: lfn pfn [key="value" ...]')
        lfn, pfn = words[0], words[1]
        attributes = {}
        for word in words[2:]:
            key, equals, value = word.partition("=")
            if not equals or not key:
                raise fail(source, where, '%r is not key="value"' % word)
            attributes[key] = value
        site = attributes.pop("site", None) or attributes.pop("pool", None)
        attributes.pop("pool", None)
        regex = attributes.pop("regex", "false").lower() == "true"
        kind = attributes.pop("checksum.type", None)
        value = attributes.pop("checksum.value", None)
        sha256 = None
        if value is not None:
            if kind not in (None, "sha256"):
                raise fail(source, where, "checksum.type %r is not supported (only sha256)" % kind)
            if not _SHA256.match(value):
                raise fail(
                    source, where, "checksum.value %r is not a sha256 (64 hex digits)" % value
                )
            sha256 = value.lower()
        entry = ReplicaEntry(lfn, [Replica(pfn, site)], sha256, regex)
        if attributes:
            entry.metadata = attributes
        _add_replica(catalog, entry, source, where)
    return catalog


# ------------------------------------------------------------------ text transformation catalog


def parse_transformations_text(
    text_: str, source: str, env: Mapping[str, str] | None = None
) -> TransformationCatalog:
    """The text transformation catalog (``tc.txt``)::

    tr ns::name:1.0 {
        profile env "KEY" "value"
        site local { pfn "/usr/bin/x" arch "x86_64" os "linux" type "INSTALLED" }
    }
    cont centos { type "docker" image "docker:///centos:7" mount "/a:/b" }
    """
    variables = variables_of(env)
    reader = _Tokens(text_, source, variables)
    catalog = TransformationCatalog(source)
    pending = []  # (transformation, position) to check container references at the end
    while not reader.done():
        word, line = reader.next()
        if word == "tr":
            transformation = _text_transformation(reader)
            pending.append((transformation, line))
            add_transformation(catalog, transformation)
        elif word == "cont":
            container = _text_container(reader)
            catalog.containers[container.name] = container
        else:
            raise fail(source, "line %d" % line, "expected 'tr' or 'cont', got %r" % word)
    for transformation, line in pending:
        for site in transformation.sites:
            if site.container is not None and site.container not in catalog.containers:
                raise fail(source, "line %d" % line, "unknown container %r" % site.container)
    return catalog


class _Tokens:
    """Words, quoted strings and braces of the text catalog, with line numbers."""

    _TOKEN = re.compile(r'\s*(?:#[^\n]*|"((?:[^"\\]|\\.)*)"|([{}])|([^\s{}"#]+))', re.S)

    def __init__(self, text_: str, source: str, variables):
        self.source = source
        self.tokens = []  # (word, line)
        position, line = 0, 1
        while position < len(text_):
            match = self._TOKEN.match(text_, position)
            group = match.lastindex if match is not None else None
            if match is None or match.end() == position:
                if text_[position:].strip():
                    raise fail(source, "line %d" % line, "cannot read %r" % text_[position:][:20])
                break
            if group is not None:
                start = line + text_.count("\n", position, match.start(group))
                word = match.group(group)
                if group == 1:
                    word = expand(
                        re.sub(r"\\(.)", r"\1", word), variables, source, "line %d" % start
                    )
                self.tokens.append((word, start))
            line += text_.count("\n", position, match.end())
            position = match.end()
        self.index = 0

    def done(self) -> bool:
        return self.index >= len(self.tokens)

    def next(self):
        if self.done():
            last = self.tokens[-1][1] if self.tokens else 1
            raise fail(self.source, "line %d" % last, "unexpected end of file")
        word, line = self.tokens[self.index]
        self.index += 1
        return word, line

    def expect(self, wanted: str) -> int:
        word, line = self.next()
        if word != wanted:
            raise fail(self.source, "line %d" % line, "expected %r, got %r" % (wanted, word))
        return line

    def peek(self) -> str | None:
        return None if self.done() else self.tokens[self.index][0]


def _split_transformation(name: str) -> tuple:
    """``ns::name:version`` -> (ns, name, version), parts None when absent."""
    namespace = version = None
    if "::" in name:
        namespace, name = name.split("::", 1)
    if ":" in name:
        name, version = name.rsplit(":", 1)
    return namespace or None, name, version or None


def _text_profile(reader: _Tokens, into: dict) -> None:
    namespace, line = reader.next()
    if namespace not in PROFILE_NAMESPACES:
        raise fail(reader.source, "line %d" % line, "unknown profile namespace %r" % namespace)
    key, _ = reader.next()
    value, _ = reader.next()
    into.setdefault(namespace, {})[key] = value


def _text_transformation(reader: _Tokens) -> Transformation:
    full, line = reader.next()
    namespace, name, version = _split_transformation(full)
    transformation = Transformation(name, namespace, version)
    reader.expect("{")
    while True:
        word, line = reader.next()
        if word == "}":
            break
        if word == "profile":
            _text_profile(reader, transformation.profiles)
        elif word == "metadata":
            key, _ = reader.next()
            value, _ = reader.next()
            transformation.metadata[key] = value
        elif word == "site":
            transformation.sites.append(_text_site(reader))
        else:
            raise fail(reader.source, "line %d" % line, "unexpected %r in tr %s" % (word, full))
    if not transformation.sites:
        raise fail(reader.source, "line %d" % line, "tr %s has no site" % full)
    return transformation


def _text_site(reader: _Tokens) -> TransformationSite:
    name, line = reader.next()
    reader.expect("{")
    fields: dict = {}
    site_profiles: dict = {}
    site_metadata: dict = {}
    while True:
        word, where = reader.next()
        if word == "}":
            break
        if word == "profile":
            _text_profile(reader, site_profiles)
        elif word == "metadata":
            key, _ = reader.next()
            value, _ = reader.next()
            site_metadata[key] = value
        elif word in ("pfn", "arch", "os", "osrelease", "osversion", "glibc", "type", "container"):
            fields[word], _ = reader.next()
        else:
            raise fail(reader.source, "line %d" % where, "unexpected %r in site %s" % (word, name))
    if "pfn" not in fields:
        raise fail(reader.source, "line %d" % line, "site %s has no pfn" % name)
    kind = fields.get("type", "INSTALLED").lower()
    if kind not in TRANSFORMATION_TYPES:
        raise fail(reader.source, "line %d" % line, "type %r is not INSTALLED or STAGEABLE" % kind)
    site = TransformationSite(name, fields["pfn"], kind)
    site.arch = fields.get("arch")
    site.os_type = fields["os"].lower() if "os" in fields else None
    site.os_release = fields.get("osrelease")
    site.os_version = fields.get("osversion")
    site.container = fields.get("container")
    site.profiles = site_profiles
    site.metadata = site_metadata
    return site


def _text_container(reader: _Tokens) -> ContainerDef:
    name, line = reader.next()
    reader.expect("{")
    fields: dict = {"mount": []}
    container_profiles: dict = {}
    while True:
        word, where = reader.next()
        if word == "}":
            break
        if word == "profile":
            _text_profile(reader, container_profiles)
        elif word == "mount":
            fields["mount"].append(reader.next()[0])
        elif word in ("type", "image", "image_site", "checksum"):
            fields[word], _ = reader.next()
        else:
            raise fail(reader.source, "line %d" % where, "unexpected %r in cont %s" % (word, name))
    kind = fields.get("type", "").lower()
    if kind not in CONTAINER_TYPES:
        raise fail(reader.source, "line %d" % line, "cont %s: type %r is not one of %s" % (
            name, kind, ", ".join(CONTAINER_TYPES)))  # fmt: skip
    if "image" not in fields:
        raise fail(reader.source, "line %d" % line, "cont %s has no image" % name)
    container = ContainerDef(name, kind, fields["image"])
    container.image_site = fields.get("image_site")
    container.mounts = fields["mount"]
    container.profiles = container_profiles
    return container


# ------------------------------------------------------------------ helpers


def variables_of(env) -> Variables | None:
    """``env`` as Variables (None: no expansion at all)."""
    if env is None or isinstance(env, Variables):
        return env
    return Variables(env)


def string(value: object, source: str, path: str, variables) -> str:
    """A string field, ``${VAR}`` expanded."""
    value = text(value, source, path)
    if variables is not None and "${" in value:
        value = expand(value, variables, source, path)
    return value
