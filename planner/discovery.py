"""Find and read everything pegasus-plan reads: properties, the workflow, three catalogs.

Properties, lowest priority first (Pegasus 5.1 layering): ``~/.pegasusrc``,
``<cwd>/pegasus.properties``, ``--conf``, ``_PEGASUS_*`` environment variables, ``-D``.
Relative paths in properties are relative to the directory pegasus-plan runs in (``cwd``).

Each catalog comes from ``pegasus.catalog.<kind>.file`` (format from
``pegasus.catalog.<kind>``, else sniffed), else from the default file in ``cwd``
(``sites.yml``; ``replicas.yml`` or ``rc.txt``; ``transformations.yml`` or ``tc.txt``).
A catalog inlined in the workflow is combined with the file the way Pegasus does
(CPlanner.loadSiteStore, TransformationFactory.loadInstanceWithStores,
ReplicaCatalogBridge.getReplicaLocations): inline sites replace file sites of the same
name; inline transformations are added on top of the file's; an LFN in the inline replica
catalog takes its replicas from there only.  A catalog file that does not exist is an
empty catalog, as in Pegasus (a note in ``warnings``), so a missing transformation or
replica is reported by the planner, naming the job that needs it.
"""

from __future__ import annotations

import gc
import os
from collections.abc import Mapping

from . import catalogs as c
from .dax import parse_dax
from .errors import ParseError, PlanError
from .model import (
    Directory,
    FileServer,
    ReplicaCatalog,
    Site,
    SiteCatalog,
    TransformationCatalog,
    Workflow,
)
from .properties import Properties, properties_from_environment
from .workflow_yaml import parse_workflow
from .yamlload import load_text, loads_yaml, read_text

_DEFAULTS = {
    "site": ("sites.yml",),
    "replica": ("replicas.yml", "rc.txt"),
    "transformation": ("transformations.yml", "tc.txt"),
}
_KIND_NAMES = {"site": "sites", "replica": "replicas", "transformation": "transformations"}


class Inputs:
    """Everything the planner reads, and where each piece came from (for ``-v``)."""

    def __init__(
        self,
        workflow: Workflow,
        sites: SiteCatalog,
        transformations: TransformationCatalog,
        replicas: ReplicaCatalog,
        properties: Properties,
    ):
        self.workflow = workflow
        self.sites = sites
        self.transformations = transformations
        self.replicas = replicas
        self.properties = properties
        self.sources: dict = {}  # workflow/properties/sites/replicas/transformations -> text
        self.warnings: list = []  # notes for the user (missing catalog files, ...)


def load_all(
    workflow_path: str,
    conf: str | None,
    cwd: str,
    env: Mapping[str, str],
    overrides: Mapping[str, str] | None = None,
    submit_dir: str | None = None,
) -> Inputs:
    """Read the workflow with its properties and catalogs, as pegasus-plan would in ``cwd``
    with environment ``env``.  ``overrides`` are the ``-Dkey=value`` options; ``submit_dir``
    (``--dir``) places the default local site as Pegasus does: ``<parent of
    --dir>/wf-scratch/LOCAL`` and ``.../wf-output`` (``cwd`` when there is no ``--dir``)."""
    cwd = os.path.abspath(cwd)
    properties = load_properties(conf, cwd, env, overrides)
    notes: list = []
    variables = c.Variables({**env, **properties.profiles().get("env", {})})

    path = _absolute(workflow_path, cwd)
    workflow = read_workflow(path, variables)
    sites, site_source = _site_catalog(properties, cwd, variables, workflow, notes)
    replicas, replica_source = _replica_catalog(properties, cwd, variables, workflow, notes)
    transformations, tc_source = _transformation_catalog(
        properties, cwd, variables, workflow, notes
    )
    _add_default_sites(sites, submit_dir, cwd, notes)
    for site_name in properties.profile_sites():
        site = sites.sites.get(site_name)
        if site is not None:  # Pegasus adds these to sites it has loaded
            site.profiles = c.merge_profiles(site.profiles, properties.site_profiles(site_name))

    inputs = Inputs(workflow, sites, transformations, replicas, properties)
    inputs.sources = {
        "workflow": path,
        "properties": ", ".join(properties.sources) or "(none)",
        "sites": site_source,
        "replicas": replica_source,
        "transformations": tc_source,
    }
    inputs.warnings = notes
    return inputs


# ------------------------------------------------------------------ properties


def load_properties(
    conf: str | None,
    cwd: str,
    env: Mapping[str, str],
    overrides: Mapping[str, str] | None = None,
) -> Properties:
    """The layered properties, ``pegasus.mode`` defaults applied."""
    properties = Properties()
    home = env.get("HOME")
    if home:
        rc = os.path.join(home, ".pegasusrc")
        if os.path.isfile(rc):
            properties.update_from_file(rc, env)
    local = os.path.join(cwd, "pegasus.properties")
    if os.path.isfile(local):
        properties.update_from_file(local, env)
    if conf is not None:
        conf_path = _absolute(conf, cwd)
        if not os.path.isfile(conf_path):
            raise PlanError("--conf %s: no such properties file" % conf)
        properties.update_from_file(conf_path, env)
    from_env = properties_from_environment(env)
    if from_env:
        properties.update(from_env, "environment (_PEGASUS_*)", env)
    if overrides:
        properties.update(dict(overrides), "-D", env)
    properties.apply_mode()
    return properties


# ------------------------------------------------------------------ the workflow


def read_workflow(path: str, variables: c.Variables | None = None) -> Workflow:
    """A YAML or DAX workflow file (told apart by its first bytes)."""
    try:
        with open(path, "rb") as handle:
            head = handle.read(512)
    except OSError as error:
        raise ParseError(path, "", "cannot read: %s" % (error.strerror or error)) from None
    enabled = gc.isenabled()
    gc.disable()  # millions of new objects, no cycles among them: collection is pure cost
    try:
        if head.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"<"):
            return parse_dax(path, variables)
        text = read_text(path)
        mentions = "${" in text  # no ${ anywhere: the (slower) expansion pass is skipped
        document = load_text(text, path, lazy=("jobs", "jobDependencies"))
        del text
        if not isinstance(document, dict):
            raise ParseError(path, "", "not a Pegasus workflow (expected a YAML mapping)")
        return parse_workflow(document, path, variables if mentions else None)
    finally:
        if enabled:
            gc.enable()


# ------------------------------------------------------------------ catalogs


def _configured(properties: Properties, kind: str, cwd: str) -> tuple:
    """(path or None, declared type or None, which property named it)."""
    key = "pegasus.catalog.%s.file" % kind
    path = properties.get(key)
    declared = properties.get("pegasus.catalog.%s" % kind)
    if path:
        return _absolute(path, cwd), declared, key
    for name in _DEFAULTS[kind]:
        candidate = os.path.join(cwd, name)
        if os.path.isfile(candidate):
            return candidate, declared, None
    return None, declared, None


def _read_catalog(kind: str, path: str, declared: str | None, variables):
    """Parse one catalog file in its format (declared, else sniffed from name and text)."""
    text = read_text(path)
    style = _format(kind, path, declared, text)
    if style == "yaml":
        document = loads_yaml(text, path)
        if kind == "site":
            return c.parse_sites(document, path, variables)
        if kind == "replica":
            return c.parse_replicas(document, path, variables)
        return c.parse_transformations(document, path, variables)
    if kind == "replica":
        return c.parse_replicas_text(text, path, variables)
    return c.parse_transformations_text(text, path, variables)


_TYPES = {
    "site": {"yaml": "yaml"},
    "replica": {"yaml": "yaml", "file": "text", "regex": "text"},
    "transformation": {"yaml": "yaml", "text": "text"},
}
_TYPE_NAMES = {"site": "YAML", "replica": "YAML, File, Regex", "transformation": "YAML, Text"}


def _declared_format(kind: str, declared: str | None) -> str | None:
    """The format ``pegasus.catalog.<kind>`` names (None: sniff it); a type this planner
    does not read (a database, XML) is a mistake."""
    name = (declared or "").strip().lower()
    if not name:
        return None
    found = _TYPES[kind].get(name)
    if found is None:
        raise PlanError(
            "pegasus.catalog.%s = %s: not a supported type (%s)"
            % (kind, declared, _TYPE_NAMES[kind])
        )
    return found


def _format(kind: str, path: str, declared: str | None, text: str) -> str:
    if kind == "site" and text.lstrip().startswith("<"):
        raise PlanError(
            "%s: XML site catalogs are not supported; convert it with "
            "pegasus-sc-converter to YAML" % path
        )
    found = _declared_format(kind, declared)
    if found is not None:
        return found
    if kind == "site" or path.endswith((".yml", ".yaml")):
        return "yaml"
    try:  # what Pegasus does: YAML when it parses to a mapping
        return "yaml" if isinstance(loads_yaml(text, path), dict) else "text"
    except ParseError:
        return "text"


def _file_catalog(kind: str, properties: Properties, cwd: str, variables, notes: list):
    """(catalog or None, source text) from the configured or default file."""
    path, declared, key = _configured(properties, kind, cwd)
    _declared_format(kind, declared)
    if path is None:
        return None, None
    if not os.path.exists(path):
        notes.append(
            "%s catalog %s (from %s) does not exist: using an empty catalog" % (kind, path, key)
        )
        return None, "%s (missing)" % path
    return _read_catalog(kind, path, declared, variables), path


def _site_catalog(properties, cwd, variables, workflow: Workflow, notes) -> tuple:
    from_file, source = _file_catalog("site", properties, cwd, variables, notes)
    inline = workflow.site_catalog
    if inline is None:
        return from_file or SiteCatalog(source or "<default>"), source or "default"
    combined = SiteCatalog(workflow.source if from_file is None else source)
    combined.sites.update(inline.sites)
    if from_file is None:
        return combined, "%s (inline)" % workflow.source
    # Pegasus prefers the workflow's own entry for a site; the file supplies the rest
    for name, site in from_file.sites.items():
        combined.sites.setdefault(name, site)
    return combined, "%s (inline) + %s" % (workflow.source, source)


def _replica_catalog(properties, cwd, variables, workflow: Workflow, notes) -> tuple:
    from_file, source = _file_catalog("replica", properties, cwd, variables, notes)
    inline = workflow.replica_catalog
    if inline is None:
        return from_file or ReplicaCatalog(source or "<none>"), source or "(none)"
    combined = ReplicaCatalog(workflow.source if from_file is None else source)
    combined.entries.update(inline.entries)
    combined.regex_entries.extend(inline.regex_entries)
    if from_file is None:
        return combined, "%s (inline)" % workflow.source
    # an LFN in the workflow's catalog takes its locations from there only
    for lfn, entry in from_file.entries.items():
        combined.entries.setdefault(lfn, entry)
    combined.regex_entries.extend(from_file.regex_entries)
    return combined, "%s (inline) + %s" % (workflow.source, source)


def _transformation_catalog(properties, cwd, variables, workflow: Workflow, notes) -> tuple:
    from_file, source = _file_catalog("transformation", properties, cwd, variables, notes)
    inline = workflow.transformation_catalog
    if inline is None:
        return from_file or TransformationCatalog(source or "<none>"), source or "(none)"
    if from_file is None:
        combined = TransformationCatalog(workflow.source)
        combined.transformations.extend(inline.transformations)
        combined.containers.update(inline.containers)
        return combined, "%s (inline)" % workflow.source
    # Pegasus inserts the workflow's entries into the file's catalog
    known = {(t.namespace, t.name, t.version): t for t in from_file.transformations}
    for transformation in inline.transformations:
        c.add_transformation(from_file, transformation, known)
    from_file.containers.update(inline.containers)
    return from_file, "%s + %s (inline)" % (source, workflow.source)


def _add_default_sites(sites: SiteCatalog, submit_dir: str | None, cwd: str, notes) -> None:
    """Pegasus 5 adds ``local`` (and ``condorpool``) when the catalog lacks them."""
    if "local" not in sites.sites:
        base = cwd
        if submit_dir:
            submit = _absolute(submit_dir, cwd)
            base = cwd if submit == cwd else os.path.dirname(submit)
        sites.sites["local"] = default_local_site(base)
        notes.append("site catalog has no 'local' site: using the default (%s)" % base)
    if "condorpool" not in sites.sites:
        condorpool = Site("condorpool")
        condorpool.arch = _machine()
        condorpool.os_type = "linux"
        condorpool.profiles = {"pegasus": {"style": "condor"}}
        sites.sites["condorpool"] = condorpool


def default_local_site(base: str) -> Site:
    """The local site Pegasus builds: shared scratch ``<base>/wf-scratch/LOCAL``, shared
    storage ``<base>/wf-output``, each served by a file:// server."""
    site = Site("local")
    site.arch = _machine()
    site.os_type = "linux"
    for kind, path in (
        ("sharedScratch", os.path.join(base, "wf-scratch", "LOCAL")),
        ("sharedStorage", os.path.join(base, "wf-output")),
    ):
        site.directories.append(Directory(kind, path, False, [FileServer("file://" + path)]))
    return site


def _machine() -> str:
    machine = os.uname().machine if hasattr(os, "uname") else "x86_64"
    return {"arm64": "aarch64", "i686": "x86", "i386": "x86"}.get(machine, machine)


def _absolute(path: str, cwd: str) -> str:
    path = os.path.expanduser(path)
    return path if os.path.isabs(path) else os.path.normpath(os.path.join(cwd, path))
