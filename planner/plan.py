"""Planning: the abstract workflow and its catalogs -> the executable workflow (``Plan``).

The refinement order is Pegasus's (MainEngine): cycle check, data reuse, site selection and
transformation lookup, clustering, stage-out jobs, create-dir jobs, cleanup.  What differs
by design: no stage-in jobs (pegasus-lite fetches raw inputs from the replica URLs itself,
and HTCondor carries the submit host's files), no registration jobs, and every compute job
runs ``pegasus-lite.pyz <job>.json`` with a declarative job spec instead of a shell script.

Site selection: Pegasus picks at random among the ``--sites`` that can run a job; we take
the first site (in the order given) whose transformation catalog entry fits, so the same
inputs always give the same plan.  ``--cleanup inplace`` is planned as ``leaf`` (one job
removes the scratch directory after everything else): it frees space later but never
removes a file a late job still needs.

Specs are plain dicts.  Parts that many jobs share (a raw input's entry, a transformation's
executable and environment, the workflow identity) are one object referenced by every spec
that needs it, so nothing may mutate a spec after planning.
"""

from __future__ import annotations

import gc
import json
import math
import os
import time
from dataclasses import dataclass, field
from typing import Callable

from lite.spec import lfn_problem

from . import cluster as clustering
from . import graph as dag
from . import profiles as prof
from . import reuse
from .errors import CatalogError, PlanError, WorkflowError
from .executable import CLEANUP, COMPUTE, CREATE_DIR, STAGE_OUT, Plan, PlannedJob
from .model import Use
from .replicas import LOCAL, Selector, file_path, is_file_url, to_url

SPEC_VERSION = 1
CONFIGURATIONS = ("condorio", "nonsharedfs", "sharedfs")
INTEGRITY = ("full", "none", "nosymlink")
CLEANUPS = ("none", "leaf", "inplace")
JOBS_PER_DIR = 256
STAGE_OUT_PER_JOB = 10  # Pegasus's BalancedCluster: ceil(jobs at a level / 10) stage-out jobs
MAXJOBS = {"registration": 1, "stagein": 10, "cleanup": 4, "stageout": 10}
PRIORITY = {STAGE_OUT: 900, CLEANUP: 1000, CREATE_DIR: 800}
# condorio: outputs go back to the job's HTCondor sandbox (the start dir), from where HTCondor
# (or the local engine) brings them to initialdir, the workflow's scratch dir
CONDORIO_RETURN = "file://$_CONDOR_SCRATCH_DIR/"

# URL scheme -> the credential variables that may serve it, and whether one is required
# (Pegasus's Job.addCredentialType; http(s) takes PEGASUS_CREDENTIALS only when present)
_CREDENTIALS = {
    "s3": (("PEGASUS_CREDENTIALS",), True),
    "s3s": (("PEGASUS_CREDENTIALS",), True),
    "webdav": (("PEGASUS_CREDENTIALS",), True),
    "webdavs": (("PEGASUS_CREDENTIALS",), True),
    "http": (("PEGASUS_CREDENTIALS",), False),
    "https": (("PEGASUS_CREDENTIALS",), False),
    "scp": (("SSH_PRIVATE_KEY",), True),
    "sftp": (("SSH_PRIVATE_KEY",), True),
    "sshftp": (("SSH_PRIVATE_KEY",), True),
    "gsiftp": (("X509_USER_PROXY",), True),
    "gsidavs": (("X509_USER_PROXY",), True),
    "gsiscp": (("X509_USER_PROXY",), True),
    "srm": (("X509_USER_PROXY",), True),
    "root": (("X509_USER_PROXY",), True),
    "xroot": (("X509_USER_PROXY",), True),
    "xroots": (("X509_USER_PROXY",), True),
    "irods": (("IRODS_ENVIRONMENT_FILE",), True),
    "gs": (("GOOGLE_APPLICATION_CREDENTIALS", "BOTO_CONFIG"), True),
}
_NO_CREDENTIALS = ("file", "moveto", "symlink", "docker", "library", "shub", "oras")


@dataclass
class PlanOptions:
    """What pegasus-plan's command line decides; the planner itself reads no files."""

    sites: list = field(default_factory=lambda: [LOCAL])
    output_sites: list = field(default_factory=lambda: [LOCAL])
    staging_sites: dict = field(default_factory=dict)  # compute site -> staging site
    submit_dir: str = ""  # absolute
    relative_dir: str | None = None  # <user>/pegasus/<wf>/runNNNN: the same below scratch
    scratch_dir: str | None = None  # the workflow's scratch dir on local (condorio)
    output_dir: str | None = None  # outputs go here (file://) instead of the site's storage
    cleanup: str | None = None  # none | leaf | inplace (None: inplace, Pegasus's default)
    cluster: list = field(default_factory=list)  # label, horizontal
    force: bool = False  # no data reuse
    data_configuration: str | None = None  # overrides properties and site profiles
    user: str = ""
    timestamp: str = ""  # 20230303T222333-0800
    uuid: str = ""
    environment: dict | None = None  # the planner's environment (credentials); os.environ
    planner_arguments: str = ""
    # keep each job spec as its JSON text (~0.5 KB) instead of nested dicts (~2.5 KB): what
    # lets a million-job plan fit in a few GB; the writer takes either
    compact_specs: bool = False
    # called as on_job(plan, job) with each compute job once it is built (condor.Streamer
    # writes its files then and drops what only they needed)
    on_job: Callable | None = None


_COMPACT = json.JSONEncoder(separators=(",", ":"), check_circular=False).encode


def plan(inputs, options: PlanOptions, progress: Callable[[str], None] | None = None) -> Plan:
    """The executable workflow for ``inputs`` (.workflow .sites .transformations .replicas
    .properties).  Raises PlanError (one line) for what the user must fix.

    The cyclic garbage collector is paused while planning: the plan is millions of small
    containers and no garbage cycles, and each collection would walk all of them (it
    halves the time for 100k jobs)."""
    collecting = gc.isenabled()
    gc.disable()
    try:
        return _Planner(inputs, options, progress).run()
    finally:
        if collecting:
            gc.enable()


# ====================================================================== small helpers


class _Props:
    """Properties (or None) behind one small interface."""

    def __init__(self, properties):
        self.p = properties

    def get(self, key: str, default: str | None = None) -> str | None:
        if self.p is None:
            return default
        value = self.p.get(key)
        return default if value is None or value == "" else str(value)

    def integer(self, key: str, default: int) -> int:
        value = self.get(key)
        if value is None:
            return default
        try:
            return int(value.strip())
        except ValueError:
            raise PlanError("property %s: %r is not a whole number" % (key, value)) from None

    def profiles(self) -> dict:
        method = getattr(self.p, "profiles", None)
        return prof.normalize(method()) if method is not None else {}

    def site_profiles(self, site: str) -> dict:
        method = getattr(self.p, "site_profiles", None)
        return prof.normalize(method(site)) if method is not None else {}

    def items(self) -> dict:
        method = getattr(self.p, "items", None)
        return dict(method()) if method is not None else {}


def iso_stamp(stamp: str) -> str:
    """Pegasus's ``20230303T222333-0800`` as kickstart's ``2023-03-03T22:23:33-08:00``."""
    s = stamp
    if len(s) >= 15 and s[8] == "T" and s[:8].isdigit() and s[9:15].isdigit():
        zone = s[15:]
        if len(zone) == 5 and zone[0] in "+-" and zone[1:].isdigit():
            zone = zone[:3] + ":" + zone[3:]
        return "%s-%s-%sT%s:%s:%s%s" % (s[:4], s[4:6], s[6:8], s[9:11], s[11:13], s[13:15], zone)
    return stamp


def directory_of(number: int) -> str:
    """Hashed submit subdirectories, at most 256 jobs in each: 00/00, 00/01 ... ff/ff."""
    leaf = number // JOBS_PER_DIR
    return "%02x/%02x" % ((leaf >> 8) & 0xFF, leaf & 0xFF)


def uses_of(job) -> list:
    """The job's file uses, with its stdin/stdout/stderr files when ``uses`` leaves them out
    (the Python API adds them; hand-written workflows may not)."""
    uses = job.uses
    if not (job.stdin or job.stdout or job.stderr):
        return uses
    extra = None
    for lfn, kind in ((job.stdin, "input"), (job.stdout, "output"), (job.stderr, "output")):
        if lfn and not any(u.lfn == lfn for u in uses):
            if extra is None:
                extra = list(uses)
            extra.append(Use(lfn, kind, stage_out=False, register=False))
    return uses if extra is None else extra


def _check_file_names(jobs: list) -> None:
    """Every LFN becomes a path under a job's work dir, a scratch dir and the output site:
    one that would leave them (``..``, absolute) or be renamed on the way (``$NAME``) is
    refused here, naming the job and the file, rather than by each job at run time."""
    checked: set = set()
    for job in jobs:
        for use in uses_of(job):
            lfn = use.lfn
            if lfn in checked:
                continue
            problem = lfn_problem(lfn)
            if problem is not None:
                raise WorkflowError(
                    "job %s: file %r %s; use a relative name (directories are allowed: "
                    "a/b/c.txt)" % (job.id, lfn, problem)
                )
            checked.add(lfn)


_BLANKS = frozenset(" \t\n\r")
_QUOTING = frozenset("'\"\\$`")


def argument_words(job) -> list:
    """The task's argument vector from the workflow's argument list.

    Pegasus joins a job's arguments with blanks into a shell script, so ``"-a preprocess"``
    reaches the program as two words, and real workflows rely on it (Pegasus's own tests,
    its tutorials).  An element with blanks is split into words the same way; one that
    also holds quotes, a backslash, ``$`` or a backtick, and any element that is one of the
    job's file names, is passed as written: no shell ever runs, so nothing in it is
    expanded or executed (kickstart's ``$VAR`` rule still applies on the node).
    """
    arguments = job.arguments
    if not any(_BLANKS.intersection(a) for a in arguments):
        return arguments
    names = {use.lfn for use in job.uses}
    words: list = []
    for argument in arguments:
        plain = _BLANKS.intersection(argument) and not _QUOTING.intersection(argument)
        if plain and argument not in names:
            words.extend(argument.split())
        else:
            words.append(argument)
    return words


def _join(base: str, lfn: str) -> str:
    return base + lfn if base.endswith("/") else base + "/" + lfn


def _scheme(url: str) -> str:
    colon = url.find(":")
    return url[:colon].lower() if colon > 0 else "file"


def _basename(path: str) -> str:
    return path.rsplit("/", 1)[-1]


def _safe_name(name: str) -> bool:
    return bool(name) and name not in (".", "..") and "/" not in name and "\0" not in name


class _Area:
    """Where a compute site's jobs keep the workflow's files: the local scratch dir
    (condorio), a staging site's shared scratch (nonsharedfs), or the compute site's shared
    scratch (sharedfs)."""

    __slots__ = (
        "aux_get", "aux_get_needs", "aux_put", "aux_put_needs", "get_base", "get_needs", "kind",
        "path", "put_base", "put_needs", "site",
    )  # fmt: skip

    def __init__(self, kind: str, site: str, get_base: str, put_base: str, path: str | None,
                 aux: tuple | None = None):  # fmt: skip
        self.kind = kind
        self.site = site  # the site label of its URLs (and of its create-dir/cleanup jobs)
        self.get_base = get_base  # how compute jobs reach it
        self.put_base = put_base
        self.path = path  # a local path when the files are on this host (condorio)
        self.get_needs = _needs_of(get_base, site)
        self.put_needs = _needs_of(put_base, site)
        # how jobs on the submit host (stage-out, create-dir, cleanup) reach it: the same
        # URLs, except in sharedfs, where the workers use the shared path directly
        self.aux_get, self.aux_put = aux or (get_base, put_base)
        self.aux_get_needs = _needs_of(self.aux_get, site)
        self.aux_put_needs = _needs_of(self.aux_put, site)


def _needs_of(url: str, site: str) -> tuple:
    """The credentials a URL needs: ((variables, site, required),) or ()."""
    scheme = _scheme(url)
    if scheme in _NO_CREDENTIALS:
        return ()
    found = _CREDENTIALS.get(scheme)
    if found is None:
        return ()
    return ((found[0], site, found[1]),)


class _Template:
    """What every job of one transformation entry on one site shares (profiles merged,
    executable, container, condor keys, environment)."""

    __slots__ = (
        "category",
        "condor",
        "container",
        "container_key",
        "cores",
        "env",
        "exe_input",
        "executable",
        "failure",
        "gpus",
        "image_input",
        "pegasus",
        "priority",
        "profiles",
        "retry",
        "runtime",
        "site",
        "success",
        "walltime",
        "xform",
    )  # fmt: skip


class _Unit:
    """One planned compute job: an abstract job or a cluster of them."""

    __slots__ = ("area", "id", "index", "jobs", "level", "name", "planned", "site")

    def __init__(self, jobs: list, name: str, unit_id: str, site: str):
        self.index = 0  # its node number in the graph of units
        self.jobs = jobs
        self.name = name
        self.id = unit_id
        self.site = site
        self.level = 0
        self.planned: PlannedJob | None = None
        self.area: _Area | None = None


# ====================================================================== the planner


class _Planner:
    def __init__(self, inputs, options: PlanOptions, progress):
        self.options = options
        self.say = progress or (lambda message: None)
        self.started = time.monotonic()
        self.phase_started = self.started
        self.wf = inputs.workflow
        wf = self.wf
        self.site_catalog = getattr(inputs, "sites", None) or wf.site_catalog
        self.tc = getattr(inputs, "transformations", None) or wf.transformation_catalog
        self.rc = getattr(inputs, "replicas", None)
        if wf.replica_catalog is not None:  # inline entries win (Pegasus: the workflow's
            if self.rc is None:  # own replicas take precedence over the catalog's)
                self.rc = wf.replica_catalog
            else:
                self.rc = _Overlay(wf.replica_catalog, self.rc)
        self.props = _Props(getattr(inputs, "properties", None))
        self.env = dict(os.environ) if options.environment is None else options.environment
        self.warnings: list = []
        self._missing_credentials: dict = {}
        self._credential_cache: dict = {}
        self._xforms: dict = {}
        self._entries: dict = {}
        self._templates: dict = {}
        self._raw: dict = {}
        self._shared: dict = {}  # (lfn, configuration) -> an intermediate file's input entry
        self._areas: dict = {}
        self._site_profiles: dict = {}
        self._storage: dict = {}
        self._wn_tmp_cache: dict = {}
        self._base: dict | None = None
        self._retry: int | None = None
        self.wf_name = wf.name
        self.submit_dir = os.path.abspath(options.submit_dir) if options.submit_dir else ""
        self.relative = (options.relative_dir or "").strip("/") or "/".join(
            p for p in (options.user or "user", "pegasus", wf.name,
                        os.path.basename(self.submit_dir) or "run0001") if p
        )  # fmt: skip

    # ------------------------------------------------------------------ driver

    def run(self) -> Plan:
        self._check_options()
        wf = self.wf
        jobs = list(wf.jobs.values())
        for job in jobs:
            if job.kind != "job":
                raise WorkflowError(
                    "job %s: %s jobs (sub-workflows) are not supported by this planner"
                    % (job.id, job.kind)
                )
        _check_file_names(jobs)
        g = dag.build(wf)
        order = dag.topological_order(g)
        level = dag.levels(g, order)
        self._phase(
            "graph: %d jobs, %d edges, %d levels" % (len(jobs), g.edge_count, dag.depth(level))
        )
        self.selector = Selector(self.rc, self.props.p)
        self.integrity = self._integrity_mode()

        deleted = bytearray(len(jobs))
        scope = (self.props.get("pegasus.data.reuse.scope") or "full").strip().lower()
        if scope not in reuse.SCOPES:
            raise PlanError(
                "pegasus.data.reuse.scope: %r is not one of %s" % (scope, ", ".join(reuse.SCOPES))
            )
        if not self.options.force and scope != "none" and self.rc is not None and jobs:
            deleted = reuse.reduce(g, jobs, order, self.rc.__contains__, scope)
            pruned = sum(deleted)
            self._phase("data reuse: %d of %d jobs already done (outputs in the replica catalog)"
                        % (pruned, len(jobs)))  # fmt: skip
        kept = [i for i in order if not deleted[i]] if any(deleted) else order
        self.level = level  # pruned jobs keep theirs: their stage-outs are named by it
        if any(deleted):
            level = dag.levels(g, kept)  # pruned parents no longer count

        site = [""] * len(jobs)
        template = [None] * len(jobs)
        for i in kept:
            site[i], template[i] = self._place(jobs[i])
        self._phase("sites and transformations: %d jobs placed" % len(kept))

        units = self._units(g, jobs, kept, level, site, template)
        self._phase("clustering: %d planned compute jobs" % len(units))

        result = self._plan_object()
        self._build(result, g, jobs, units, template, deleted)
        result.warnings = self.warnings + self._credential_warnings()
        if not result.jobs:
            message = (
                "nothing to run: every job's outputs are already in the replica catalog"
                if any(deleted) else "nothing to run: the workflow has no jobs"
            )  # fmt: skip
            result.warnings.append(message)
            self.say(message)
        self._phase("planned %d jobs" % len(result.jobs), total=True)
        return result

    def _phase(self, message: str, total: bool = False) -> None:
        now = time.monotonic()
        spent = now - (self.started if total else self.phase_started)
        self.phase_started = now
        self.say("%s (%.1f s)" % (message, spent))

    def _check_options(self) -> None:
        o = self.options
        if not o.sites:
            raise PlanError("no compute site given (--sites)")
        if not self.submit_dir:
            raise PlanError("no submit directory given")
        if o.cleanup is not None and o.cleanup not in CLEANUPS:
            raise PlanError("--cleanup %s: use one of %s" % (o.cleanup, ", ".join(CLEANUPS)))
        if o.data_configuration is not None and o.data_configuration not in CONFIGURATIONS:
            raise PlanError(
                "data configuration %r: use one of %s"
                % (o.data_configuration, ", ".join(CONFIGURATIONS))
            )
        for method in o.cluster:
            if method not in clustering.METHODS:
                raise PlanError("--cluster %s: use label or horizontal" % method)
        for name in [*o.sites, *o.output_sites, *o.staging_sites.values()]:
            self._site(name)

    def _integrity_mode(self) -> str:
        mode = (self.props.get("pegasus.integrity.checking") or "full").strip().lower()
        if mode not in INTEGRITY:
            raise PlanError(
                "pegasus.integrity.checking: %r is not one of %s" % (mode, ", ".join(INTEGRITY))
            )
        development = (self.props.get("pegasus.mode") or "").strip().lower() == "development"
        if development and self.props.get("pegasus.integrity.checking") is None:
            mode = "none"  # Pegasus's development mode turns integrity checking off
        return mode

    def _plan_object(self) -> Plan:
        o = self.options
        result = Plan(self.wf_name, self.submit_dir)
        result.uuid = o.uuid
        result.timestamp = o.timestamp
        result.integrity = self.integrity != "none"
        result.sites = list(o.sites)
        result.output_sites = list(o.output_sites)
        result.data_configuration = self._configuration(o.sites[0])
        result.scratch_dir = self._local_scratch(required=False)
        result.properties = {str(k): str(v) for k, v in self.props.items().items()}
        result.maxjobs = dict(MAXJOBS)
        return result

    # ------------------------------------------------------------------ sites

    def _site(self, name: str):
        catalog = self.site_catalog
        found = catalog.sites.get(name) if catalog is not None else None
        if found is None:
            raise CatalogError("site %r is not in the site catalog" % name)
        return found

    def _site_layer(self, name: str) -> dict:
        """A site's profiles: the catalog's over those given as properties for it."""
        layer = self._site_profiles.get(name)
        if layer is None:
            catalog = self.site_catalog
            site = catalog.sites.get(name) if catalog is not None else None
            own = prof.normalize(site.profiles) if site is not None else {}
            layer = self._site_profiles[name] = prof.merge(self.props.site_profiles(name), own)
        return layer

    def _configuration(self, site: str) -> str:
        chosen = self.options.data_configuration
        if chosen is None:
            chosen = prof.get(self._site_layer(site), "pegasus", "data.configuration")
        if chosen is None:
            chosen = self.props.get("pegasus.data.configuration")
        chosen = (chosen or "condorio").strip().lower()
        if chosen not in CONFIGURATIONS:
            raise PlanError(
                "data configuration %r (site %s): use one of %s"
                % (chosen, site, ", ".join(CONFIGURATIONS))
            )
        return chosen

    def _local_scratch(self, required: bool = True) -> str | None:
        if self.options.scratch_dir:
            return os.path.abspath(self.options.scratch_dir)
        catalog = self.site_catalog
        local = catalog.sites.get(LOCAL) if catalog is not None else None
        scratch = local.directory("sharedScratch") if local is not None else None
        if scratch is None or not scratch.path:
            if required:
                raise CatalogError(
                    "site 'local' has no sharedScratch directory: condorio keeps the "
                    "workflow's files there; add one to the site catalog"
                )
            return None
        return os.path.join(scratch.path, self.relative)

    def _area(self, compute: str) -> _Area:
        area = self._areas.get(compute)
        if area is not None:
            return area
        config = self._configuration(compute)
        asked = self.options.staging_sites.get(compute)
        if config == "condorio":
            if asked is not None and asked != LOCAL:
                raise PlanError(
                    "staging site %s for site %s: with condorio the staging site is local"
                    % (asked, compute)
                )
            path = self._local_scratch()
            url = "file://" + path
            area = _Area(config, LOCAL, url, url, path)
        else:
            staging = asked or compute
            if config == "sharedfs" and staging != compute:
                raise PlanError(
                    "staging site %s for site %s: with sharedfs the staging site is the "
                    "compute site" % (staging, compute)
                )
            directory = self._site(staging).directory("sharedScratch")
            get = directory.url("get") if directory is not None else None
            put = directory.url("put") if directory is not None else None
            aux = None
            if config == "sharedfs" and directory is not None and directory.path:
                shared = "file://" + directory.path
                aux = (_join(get or shared, self.relative), _join(put or shared, self.relative))
                get = put = shared
            if not get or not put:
                raise CatalogError(
                    "site %s has no sharedScratch directory with get and put file servers: "
                    "%s needs one for %s (or give --staging-site)" % (staging, config, compute)
                )
            rel = self.relative
            area = _Area(config, staging, _join(get, rel), _join(put, rel), None, aux)
        self._areas[compute] = area
        return area

    def _storage_url(self, output_site: str) -> str:
        url = self._storage.get(output_site)
        if url is not None:
            return url
        if self.options.output_dir:
            url = "file://" + os.path.abspath(self.options.output_dir)
        else:
            site = self._site(output_site)
            for kind in ("localStorage", "sharedStorage"):
                directory = site.directory(kind)
                if directory is not None:
                    url = directory.url("put") or (
                        "file://" + directory.path if directory.path else None
                    )
                    if url:
                        break
            if not url:
                raise CatalogError(
                    "output site %s has no localStorage or sharedStorage directory with a "
                    "file server; add one to the site catalog" % output_site
                )
        self._storage[output_site] = url
        return url

    # ------------------------------------------------------------------ transformations

    def _transformation(self, job):
        key = (job.namespace, job.name, job.version)
        found = self._xforms.get(key, False)
        if found is False:
            found = self.tc.find(job.name, job.namespace, job.version) if self.tc else None
            self._xforms[key] = found
        return found

    def _entry(self, xform, site: str):
        """The catalog entry that runs ``xform`` on ``site``: installed there first, else a
        stageable one (from that site, then local, then any)."""
        key = (id(xform), site)
        found = self._entries.get(key, False)
        if found is not False:
            return found
        found = None
        for entry in xform.sites:
            if entry.type == "installed" and entry.site == site:
                found = entry
                break
        if found is None:
            stageable = [e for e in xform.sites if e.type == "stageable"]
            for wanted in (site, LOCAL, None):
                for entry in stageable:
                    if wanted is None or entry.site == wanted:
                        found = entry
                        break
                if found is not None:
                    break
        self._entries[key] = found
        return found

    def _place(self, job) -> tuple:
        """The job's site and template: the first --sites entry the catalog can serve."""
        xform = self._transformation(job)
        candidates = self.options.sites
        pinned = None
        if job.profiles:
            pinned = (job.profiles.get("selector") or {}).get("execution.site") or (
                job.profiles.get("hints") or {}
            ).get("execution.site")
            if pinned:
                self._site(pinned)
                candidates = [pinned]
        if xform is not None:
            for site in candidates:
                entry = self._entry(xform, site)
                if entry is not None:
                    return site, self._template(job, xform, entry, site)
        raise CatalogError(
            "job %s: transformation %s is not in the transformation catalog for site%s %s"
            % (job.id, job.transformation, "s" if len(candidates) > 1 else "",
               ", ".join(candidates))
        )  # fmt: skip

    def _template(self, job, xform, entry, site: str) -> _Template:
        own = job.profiles
        key = (id(entry), site, job.namespace, job.name, job.version)
        if not own:
            found = self._templates.get(key)
            if found is not None:
                return found
        t = _Template()
        t.site = site
        where = "job %s" % job.id
        container = None
        if entry.container:
            container = self.tc.containers.get(entry.container) if self.tc else None
            if container is None:
                raise CatalogError(
                    "transformation %s (site %s): container %r is not in the transformation "
                    "catalog" % (job.transformation, entry.site, entry.container)
                )
        tc_layer = prof.merge(
            prof.normalize(xform.profiles),
            prof.normalize(container.profiles) if container is not None else None,
            prof.normalize(entry.profiles),
        )
        wf_layer = prof.normalize(self.wf.profiles)
        base = self._base_profiles()
        merged = prof.merge(base, wf_layer, prof.normalize(own), self._site_layer(site), tc_layer)
        t.profiles = merged
        t.pegasus = merged.get("pegasus") or {}
        t.condor = prof.condor_requests(merged, where)
        t.env = prof.environment(merged)
        t.walltime = prof.walltime(merged, where)
        t.success = t.pegasus.get("exitcode.successmsg") or None
        t.failure = t.pegasus.get("exitcode.failuremsg") or None
        t.retry = prof.retry(merged, where, self._default_retry())
        t.priority = prof.user_priority(merged, where)
        t.category = prof.category(merged)
        t.runtime = prof.runtime(merged, where)
        t.cores = _count(t.pegasus.get("cores") or t.condor.get("request_cpus"), 1)
        t.gpus = _count(t.pegasus.get("gpus") or t.condor.get("request_gpus"), 0)
        t.xform = job.transformation
        t.executable, t.exe_input = self._executable(job, xform, entry, site, container)
        t.container, t.image_input = self._container(container, merged, site, where)
        t.container_key = container.name if container is not None else None
        if not own:
            self._templates[key] = t
        return t

    def _base_profiles(self) -> dict:
        """The profiles given as properties: the lowest layer of every job's."""
        if self._base is None:
            self._base = self.props.profiles()
        return self._base

    def _default_retry(self) -> int:
        """dagman.retry from the properties: 1, or 0 in Pegasus's development mode."""
        if self._retry is None:
            development = (self.props.get("pegasus.mode") or "").lower() == "development"
            self._retry = self.props.integer("dagman.retry", 0 if development else 1)
        return self._retry

    def _executable(self, job, xform, entry, site: str, container) -> tuple:
        """({"path": ...} or {"lfn": ...}, the staged executable's input or None)."""
        if entry.type == "installed":
            return {"path": file_path(entry.pfn) if is_file_url(entry.pfn) else entry.pfn}, None
        url = to_url(entry.pfn)
        name = _basename(file_path(url) if is_file_url(url) else url.split("?", 1)[0])
        if not _safe_name(name):
            name = "-".join(p for p in (xform.namespace, xform.name, xform.version) if p)
        sha256 = xform.sha256 if self.integrity != "none" else None
        resolved = self._input_entry(name, [(url, entry.site or LOCAL)], site, sha256,
                                     executable=True)  # fmt: skip
        return {"lfn": name}, resolved

    def _container(self, container, merged: dict, site: str, where: str) -> tuple:
        if container is None:
            return None, None
        kind = (container.type or "").lower()
        if kind not in ("docker", "singularity"):
            raise CatalogError(
                "container %s: type %r is not supported (docker or singularity)"
                % (container.name, container.type)
            )
        image = container.image.strip()
        spec: dict = {"runtime": "docker" if kind == "docker" else "singularity"}
        resolved = None
        pulled = image.startswith(("docker://", "library://", "shub://", "oras://"))
        if pulled:
            if image.startswith("docker:///"):
                image = "docker://" + image[len("docker:///") :]
            spec["image"] = image
        else:
            url = to_url(image)
            name = _basename(file_path(url) if is_file_url(url) else url.split("?", 1)[0])
            if not _safe_name(name):
                raise CatalogError("container %s: image %r names no file" % (container.name, image))
            spec["image"] = url
            spec["image_lfn"] = name
            sha = container.sha256 if self.integrity != "none" else None
            resolved = self._input_entry(name, [(url, container.image_site or LOCAL)], site, sha)
        if container.sha256 and self.integrity != "none":
            spec["sha256"] = container.sha256
        if container.mounts:
            spec["mounts"] = list(container.mounts)
        options = prof.container_options(merged, where)
        if options:
            spec["options"] = options
        return spec, resolved

    # ------------------------------------------------------------------ inputs

    def _input_entry(
        self,
        lfn: str,
        candidates: list,
        site: str,
        sha256: str | None,
        executable: bool = False,
        metadata: dict | None = None,
        bypass: bool = False,
    ) -> tuple:
        """(lfn, spec input entry, path HTCondor transfers or None, credential needs).

        A file on the submit host (a ``local`` file URL) travels with HTCondor in condorio
        and nonsharedfs when its name is the LFN's (HTCondor keeps base names); anything
        else is fetched by pegasus-lite from the URLs, in rank order."""
        config = self._configuration(site)
        entry: dict = {"lfn": lfn}
        condor_path = None
        first_url, first_site = candidates[0]
        symlink = config == "sharedfs"
        if (
            not bypass
            and config != "sharedfs"
            and first_site == LOCAL
            and is_file_url(first_url)
            and _basename(file_path(first_url)) == _basename(lfn)
        ):
            condor_path = file_path(first_url)
        else:
            entry["sources"] = [{"url": url, "site": where} for url, where in candidates]
            if symlink and all(is_file_url(url) for url, _ in candidates):
                entry["symlink"] = True
        if sha256 and not (symlink and self.integrity == "nosymlink" and "symlink" in entry):
            entry["sha256"] = sha256
        if executable:
            entry["executable"] = True
        if metadata:
            entry["metadata"] = metadata
        needs: tuple = ()
        if condor_path is None:
            for url, where in candidates:
                needs += _needs_of(url, where)
        return lfn, entry, condor_path, needs

    def _raw_input(self, job, use, site: str) -> tuple | None:
        key = (use.lfn, site, use.bypass, use.executable)
        found = self._raw.get(key)
        if found is not None:
            return found
        entry = self.selector.entry(use.lfn)
        candidates = self.selector.rank(entry, site) if entry is not None else []
        if not candidates:
            if use.optional:
                return None
            raise CatalogError(
                "no replica for input %r (needed by job %s); add it to the replica catalog"
                % (use.lfn, job.id)
            )
        metadata = None
        if entry.metadata or use.metadata:
            metadata = {**(entry.metadata or {}), **(use.metadata or {})}
        sha256 = entry.sha256 if self.integrity != "none" else None
        found = self._input_entry(use.lfn, candidates, site, sha256, use.executable, metadata,
                                  use.bypass)  # fmt: skip
        if not use.metadata:
            self._raw[key] = found  # a use with its own metadata gets its own entry
        return found

    # ------------------------------------------------------------------ units

    def _units(self, g, jobs, kept, level, site, template) -> list:
        methods = list(dict.fromkeys(self.options.cluster))
        clusters = []
        if methods and kept:
            names = [None] * len(jobs)
            for i in kept:
                job = jobs[i]
                names[i] = (job.namespace, job.name, job.version)
            label_key = self.props.get("pegasus.clusterer.label.key") or "label"
            clusters = clustering.cluster(
                methods, kept, level, site, names, lambda i: template[i].pegasus, label_key,
                g.ids,
            )  # fmt: skip
            for c in clusters:
                keys = {template[i].container_key for i in c.jobs}
                if len(keys) > 1:
                    raise PlanError(
                        "cluster %s: its jobs use different containers (%s); one planned job "
                        "runs in one container" % (c.name, ", ".join(sorted(map(str, keys))))
                    )
        unit_of = [-1] * len(jobs)
        units: list = []
        in_cluster = {}
        for c in clusters:
            for i in c.jobs:
                in_cluster[i] = c
        safe: dict = {}  # transformation name -> its DAG-safe form
        for i in kept:
            c = in_cluster.get(i) if clusters else None
            if c is None:
                job = jobs[i]
                name = safe.get(job.name)
                if name is None:
                    name = safe[job.name] = clustering.dagman_name(job.name)
                unit_of[i] = len(units)
                units.append(_Unit([i], name + "_" + job.id, job.id, site[i]))
            elif unit_of[i] < 0:
                for j in c.jobs:
                    unit_of[j] = len(units)
                units.append(_Unit(c.jobs, c.name, c.id, site[i]))
        # the graph of units: job edges between different units
        ids = [u.name for u in units]
        edges = []
        for i in kept:
            u = unit_of[i]
            for c in g.children[i]:
                v = unit_of[c]
                if v >= 0 and v != u:
                    edges.append((u, v))
        if clusters:
            ugraph = dag.from_edges(ids, edges)
        else:
            n = len(units)
            children: list = [[] for _ in range(n)]
            parents: list = [[] for _ in range(n)]
            for u, v in edges:
                children[u].append(v)
                parents[v].append(u)
            ugraph = dag.Graph(ids, children, parents)
        try:
            uorder = dag.topological_order(ugraph)
        except WorkflowError as exc:
            raise WorkflowError("clustering made a %s" % exc) from None
        ulevel = dag.levels(ugraph, uorder)
        for u, unit in enumerate(units):
            unit.level = ulevel[u]
            unit.index = u
        self.ugraph = ugraph
        self.unit_nodes = units
        return [units[u] for u in uorder]

    # ------------------------------------------------------------------ building jobs

    def _build(self, result: Plan, g, jobs: list, units: list, template: list, deleted) -> None:
        o = self.options
        integrity = self.integrity != "none"
        wf_ident = {"name": self.wf_name, "uuid": o.uuid, "stamp": iso_stamp(o.timestamp)}
        wf_metadata = dict(self.wf.metadata) if self.wf.metadata else None
        planned: list = []
        counter = [0]

        def new_job(name: str, job_class: int, site: str) -> PlannedJob:
            job = PlannedJob(name, job_class, site)
            job.directory = directory_of(counter[0])
            counter[0] += 1
            job.integrity = integrity
            return job

        # pass 0: which data areas are used, for their create-dir jobs (numbered first)
        areas: dict = {}
        for unit in units:
            unit.area = self._area(unit.site)
            areas.setdefault(id(unit.area), unit.area)
        create_dirs: dict = {}
        deep_dirs: dict = {}
        for area in areas.values():
            cd = new_job("create_dir_%s_0_%s" % (self.wf_name, area.site), CREATE_DIR, LOCAL)
            self._aux(cd, "pegasus::dirmanager", [area.aux_put_needs])
            create_dirs[id(area)] = cd
            deep_dirs[id(area)] = set()
            planned.append(cd)

        latest: dict = {}  # lfn -> the unit that last wrote it (units go in topological order)
        written: set = set()
        for unit in units:
            for i in unit.jobs:
                for use in uses_of(jobs[i]):
                    if use.type in ("output", "inout"):
                        written.add(use.lfn)
        readers: dict = {}
        if any(len(u.jobs) > 1 for u in units):
            for unit in units:
                for i in unit.jobs:
                    for use in uses_of(jobs[i]):
                        if use.type in ("input", "inout"):
                            readers[use.lfn] = readers.get(use.lfn, 0) + 1

        # (output site, level, producer's name or None, [(lfn, [(url, site)], sha256, area)], unit)
        stage_outs: list = []
        total = len(units)
        step = max(1, total // 10) if total >= 10000 else 0
        parents_of = self.ugraph.parents
        nodes = self.unit_nodes
        on_job = o.on_job
        for done, unit in enumerate(units):
            if step and done and done % step == 0:
                self.say("building jobs: %d of %d (%d%%)" % (done, total, done * 100 // total))
            pj = new_job(unit.name, COMPUTE, unit.site)
            unit.planned = pj
            planned.append(pj)
            self._compute_job(
                pj, unit, jobs, template, latest, written, readers, wf_ident, wf_metadata,
                stage_outs, deep_dirs,
            )  # fmt: skip
            if on_job is not None:
                on_job(result, pj)

        # parents: unit edges, and create-dir for the roots
        for unit in units:
            pj = unit.planned
            names = [nodes[p].planned.name for p in parents_of[unit.index]]
            if not names:
                names = [create_dirs[id(unit.area)].name]
            pj.parents = names

        for area in areas.values():
            cd = create_dirs[id(area)]
            targets = [area.aux_put] + [_join(area.aux_put, d) for d in sorted(deep_dirs[id(area)])]
            cd.transfers = [
                {"id": n + 1, "type": "mkdir", "target": {"site_label": area.site, "url": url}}
                for n, url in enumerate(targets)
            ]

        # pruned jobs' outputs that the output sites still need: from the replica catalog
        if any(deleted) and o.output_sites:
            for i, job in enumerate(jobs):
                if not deleted[i]:
                    continue
                files = []
                for use in job.uses:
                    if use.type in ("output", "inout") and use.stage_out:
                        entry = self.rc.lookup(use.lfn) if self.rc is not None else None
                        if entry is None or not entry.pfns:
                            continue
                        sources = [(to_url(r.pfn), r.site or LOCAL) for r in entry.pfns]
                        sha = entry.sha256 if integrity else None
                        files.append((use.lfn, sources, sha, None))
                if files:
                    for out in o.output_sites:
                        stage_outs.append((out, self.level[i], None, files, None))

        stage_jobs = self._stage_out_jobs(stage_outs, new_job, template, jobs)
        planned.extend(stage_jobs)

        cleanup = o.cleanup or "inplace"
        if cleanup != "none" and units:
            has_child = set()
            for pj in planned:
                has_child.update(pj.parents)
            leaves = [pj.name for pj in planned if pj.name not in has_child]
            for area in areas.values():
                cj = new_job("cleanup_%s_0_%s" % (self.wf_name, area.site), CLEANUP, LOCAL)
                self._aux(cj, "pegasus::cleanup", [area.aux_put_needs])
                cj.transfers = [{
                    "id": 1, "type": "remove",
                    "target": {"site_label": area.site, "url": area.aux_put, "recursive": "True"},
                }]  # fmt: skip
                cj.parents = list(leaves)
                planned.append(cj)

        result.jobs = planned
        # MAXJOBS: Pegasus's defaults, dagman.<category>.maxjobs for those and the jobs' own
        used = [pj.category for pj in planned if pj.category and pj.category not in MAXJOBS]
        for category in dict.fromkeys([*MAXJOBS, *used]):
            key = "dagman.%s.maxjobs" % category
            if category in MAXJOBS or self.props.get(key) is not None:
                result.maxjobs[category] = self.props.integer(key, MAXJOBS.get(category, 0))
        result.braindump = self._braindump(result)

    def _aux(self, pj: PlannedJob, transformation: str, needs: list) -> None:
        """An auxiliary job: pegasus-transfer on the submit host, reading its ``.in``."""
        pj.universe = "local"
        pj.success_message = None
        pj.initialdir = self.submit_dir
        pj.transformation = transformation
        pj.arguments = [
            "transfer", "--file", "%s/%s/%s.in" % (self.submit_dir, pj.directory, pj.name),
        ]  # fmt: skip
        pj.priority = PRIORITY[pj.job_class]
        pj.retry = self._default_retry()
        # the writer adds PEGASUS_WF_UUID, PEGASUS_DAG_JOB_ID...: only the credentials here
        pj.environment = dict(self._credentials_for(needs, pj.name))

    def _compute_job(
        self, pj, unit, jobs, template, latest, written, readers, wf_ident, wf_metadata,
        stage_outs, deep_dirs,
    ) -> None:  # fmt: skip
        """Fill ``pj`` (a planned compute job) from its unit: spec, files, resources."""
        site = unit.site
        area = unit.area
        config = area.kind
        condorio = config == "condorio"
        integrity = self.integrity != "none"
        first = template[unit.jobs[0]]
        jobdir = self.submit_dir + "/" + pj.directory + "/"
        input_files = [jobdir + pj.name + ".json"]
        inputs: list = []
        seen_inputs: set = set()
        condor_names: dict = {}  # base name -> lfn: HTCondor's start dir is flat
        checkpoints: list = []
        needs: list = []
        meta_parents: dict = {}
        tasks = []
        multi = len(unit.jobs) > 1
        produced_inside: set = set()
        inside_reads: dict = {}
        add = self._add_input

        if first.image_input is not None:
            add(first.image_input, inputs, seen_inputs, condor_names, input_files, needs)
        for i in unit.jobs:
            job = jobs[i]
            t = template[i]
            if t.exe_input is not None:
                add(t.exe_input, inputs, seen_inputs, condor_names, input_files, needs)
            for use in uses_of(job):
                kind = use.type
                lfn = use.lfn
                if kind == "input" or kind == "inout":
                    if multi:
                        inside_reads[lfn] = inside_reads.get(lfn, 0) + 1
                        if lfn in produced_inside:
                            continue
                    if lfn in seen_inputs:
                        continue
                    producer = latest.get(lfn)
                    if producer is not None:
                        resolved = self._intermediate(lfn, producer, unit, use)
                        if (
                            integrity
                            and producer.area.kind != "sharedfs"
                            and (config != "sharedfs")
                        ):
                            meta_parents[producer.name] = producer
                    elif lfn in written:
                        raise WorkflowError(
                            "job %s reads %r before the job that writes it ran: add a "
                            "dependency from that job to %s" % (job.id, lfn, job.id)
                        )
                    else:
                        resolved = self._raw_input(job, use, site)
                        if resolved is None:
                            continue
                    add(resolved, inputs, seen_inputs, condor_names, input_files, needs)
                    if kind == "inout" and multi:
                        produced_inside.add(lfn)
                elif kind == "output":
                    if multi:
                        produced_inside.add(lfn)
                elif (
                    kind == "checkpoint"
                    and lfn not in seen_inputs
                    and all(c["lfn"] != lfn for c in checkpoints)
                ):
                    checkpoints.append(self._checkpoint(lfn, area, needs))
                    if condorio and "/" in lfn:
                        deep_dirs[id(area)].add(lfn.rsplit("/", 1)[0])
            tasks.append(self._task(job, t))

        # outputs: every declared one (lite checks and hashes them); delivered where needed
        output_files: list = []
        outputs: list = []
        remaps = None
        staged: list = []
        seen_outputs: set = set()
        has_output_site = bool(self.options.output_sites)
        for i in unit.jobs:
            for use in uses_of(jobs[i]):
                kind = use.type
                if kind != "output" and kind != "inout":
                    continue
                lfn = use.lfn
                if lfn in seen_outputs:
                    continue
                seen_outputs.add(lfn)
                entry: dict = {"lfn": lfn}
                optional = use.optional
                if optional:
                    entry["optional"] = True
                if use.metadata:
                    entry["metadata"] = use.metadata
                wanted = use.stage_out and has_output_site
                if wanted or not multi or readers.get(lfn, 0) > inside_reads.get(lfn, 0):
                    if condorio:
                        if not optional:
                            entry["destinations"] = [{"url": CONDORIO_RETURN + lfn, "site": site}]
                            output_files.append(lfn)
                            if "/" in lfn:
                                if remaps is None:
                                    remaps = {}
                                remaps[lfn] = area.path + "/" + lfn
                                deep_dirs[id(area)].add(lfn.rsplit("/", 1)[0])
                    else:
                        entry["destinations"] = [
                            {"url": _join(area.put_base, lfn), "site": area.site}
                        ]
                        if area.put_needs:
                            needs.append(area.put_needs)
                outputs.append(entry)
                if wanted:
                    staged.append((lfn, [(_join(area.aux_get, lfn), area.site)], None, area))
                latest[lfn] = unit
        if staged:
            for out in self.options.output_sites:
                stage_outs.append((out, unit.level, pj.name, staged, unit))

        for parent in meta_parents.values():
            ppj = parent.planned
            input_files.append(self.submit_dir + "/" + ppj.directory + "/" + ppj.name + ".meta")

        spec: dict = {
            "version": SPEC_VERSION,
            "job": {"id": unit.id, "name": pj.name, "site": site, "workflow": wf_ident},
            "tasks": tasks,
        }
        if first.container is not None:
            spec["container"] = first.container
        if inputs:
            spec["inputs"] = inputs
        if outputs:
            spec["outputs"] = outputs
        if checkpoints:
            spec["checkpoints"] = checkpoints
        if wf_metadata:
            spec["metadata"] = wf_metadata
        if needs:
            credentials = self._credentials_for(needs, pj.name)
            if credentials:
                entries = []
                for variable, path in credentials:
                    entries.append({"env": variable, "file": _basename(path)})
                    if path not in input_files:
                        input_files.append(path)
                spec["credentials"] = entries

        pj.spec = _COMPACT(spec) if self.options.compact_specs else spec
        pj.arguments = [pj.name + ".json"]
        pj.input_files = input_files
        pj.output_files = output_files
        if remaps:
            pj.output_remaps = remaps
        if not condorio:
            wn_tmp = self._wn_tmp(site)
            if wn_tmp:
                pj.environment = {"PEGASUS_WN_TMP": wn_tmp}
        pj.initialdir = area.path if condorio else self.submit_dir
        pj.dax_job_id = unit.id
        pj.cluster_size = len(unit.jobs)
        if multi:
            ts = [template[i] for i in unit.jobs]
            pj.transformation = "pegasus::seqexec"
            pj.runtime = sum(t.runtime for t in ts)
            pj.cores = max(t.cores for t in ts)
            pj.gpus = max(t.gpus for t in ts)
            pj.condor = _max_requests(ts)
            pj.retry = max(t.retry for t in ts)
        else:
            pj.transformation = first.xform
            pj.runtime = first.runtime
            pj.cores = first.cores
            pj.gpus = first.gpus
            pj.condor = first.condor
            pj.retry = first.retry
        pj.priority = (unit.level + 1) * 10 + first.priority
        pj.category = first.category

    @staticmethod
    def _add_input(resolved, inputs, seen, condor_names, input_files, needs) -> None:
        lfn, entry, condor_path, entry_needs = resolved
        if lfn in seen:
            return
        if condor_path is not None:
            base = lfn.rsplit("/", 1)[-1]
            known = condor_names.get(base)
            if known is not None and known != lfn:
                # two files would land on one name in the start dir: fetch this one
                entry = dict(entry, sources=[{"url": "file://" + condor_path, "site": LOCAL}])
            else:
                condor_names[base] = lfn
                input_files.append(condor_path)
        seen.add(lfn)
        inputs.append(entry)
        if entry_needs:
            needs.append(entry_needs)

    def _wn_tmp(self, site: str) -> str | None:
        """The compute site's localScratch: where pegasus-lite makes its work dir."""
        cache = self._wn_tmp_cache
        if site not in cache:
            scratch = self._site(site).directory("localScratch")
            cache[site] = scratch.path if scratch is not None and scratch.path else None
        return cache[site]

    def _task(self, job, t: _Template) -> dict:
        task: dict = {
            "transformation": t.xform,
            "id": job.id,
            "executable": t.executable,
            "arguments": argument_words(job),
        }
        if t.env:
            task["environment"] = t.env
        if t.walltime:
            task["walltime"] = t.walltime
        if t.success:
            task["success_message"] = t.success
        if t.failure:
            task["failure_message"] = t.failure
        if job.stdin:
            task["stdin"] = job.stdin
        if job.stdout:
            task["stdout"] = job.stdout
        if job.stderr:
            task["stderr"] = job.stderr
        if job.metadata:
            task["metadata"] = job.metadata
        return task

    def _intermediate(self, lfn: str, producer: _Unit, unit: _Unit, use) -> tuple:
        """A file another planned job made, from that job's data area (one entry shared by
        all the jobs that read it the same way)."""
        area = producer.area
        config = unit.area.kind
        plain = not (use.executable or use.metadata)
        if plain:
            key = (lfn, config)
            found = self._shared.get(key)
            if found is not None and found[4] is area:
                return found[:4]
        entry: dict = {"lfn": lfn}
        condor_path = None
        needs: tuple = ()
        if area.kind == "condorio" and config != "sharedfs":
            condor_path = area.path + "/" + lfn  # HTCondor brings it from scratch
        else:
            entry["sources"] = [{"url": _join(area.get_base, lfn), "site": area.site}]
            needs = area.get_needs
            if config == "sharedfs" and is_file_url(area.get_base):
                entry["symlink"] = True
        if use.executable:
            entry["executable"] = True
        if use.metadata:
            entry["metadata"] = use.metadata
        if plain:
            self._shared[key] = (lfn, entry, condor_path, needs, area)
        return lfn, entry, condor_path, needs

    def _checkpoint(self, lfn: str, area: _Area, needs: list) -> dict:
        """Checkpoints live in the data area, so a retry (on any node that can reach it)
        restarts from the last one.  In condorio that is the scratch dir by file URL: HTCondor
        cannot carry a file that may not exist yet."""
        if area.kind == "condorio":
            url = "file://" + area.path + "/" + lfn
            return {"lfn": lfn, "sources": [{"url": url, "site": LOCAL}],
                    "destinations": [{"url": url, "site": LOCAL}]}  # fmt: skip
        if area.get_needs:
            needs.append(area.get_needs)
        if area.put_needs:
            needs.append(area.put_needs)
        return {
            "lfn": lfn,
            "sources": [{"url": _join(area.get_base, lfn), "site": area.site}],
            "destinations": [{"url": _join(area.put_base, lfn), "site": area.site}],
        }

    # ------------------------------------------------------------------ stage-out

    def _stage_out_jobs(self, stage_outs: list, new_job, template: list, jobs: list) -> list:
        """``stage_out_local_<site>_<level>_<n>``: per output site and level, the producers
        dealt round-robin over ceil(n/10) jobs (or the ``stageout.clusters`` profile)."""
        pools: dict = {}
        for out, level, producer, files, unit in stage_outs:
            pools.setdefault((out, level), []).append((producer, files, unit))
        result = []
        for (out, level), members in sorted(
            pools.items(), key=lambda item: (item[0][1], item[0][0])
        ):
            wanted = None
            for _, _, unit in members:
                if unit is not None:
                    wanted = template[unit.jobs[0]].pegasus.get("stageout.clusters")
                    break
            if wanted is None:
                wanted = prof.get(self._base_profiles(), "pegasus", "stageout.clusters")
            if wanted:
                try:
                    count = max(1, int(float(wanted)))
                except ValueError:
                    raise PlanError("pegasus profile stageout.clusters: %r is not a number"
                                    % wanted) from None  # fmt: skip
            else:
                count = math.ceil(len(members) / STAGE_OUT_PER_JOB)
            count = min(count, len(members))
            storage = self._storage_url(out)
            groups: list = [[] for _ in range(count)]
            for index, member in enumerate(members):
                groups[index % count].append(member)
            dest_needs = _needs_of(storage, out)
            for n, group in enumerate(groups):
                transfers = []
                needs = [dest_needs]
                parents = []
                for producer, files, _ in group:
                    if producer is not None:
                        parents.append(producer)
                    for lfn, sources, sha, area in files:
                        dest = _join(storage, lfn)
                        if any(url == dest for url, _ in sources):
                            continue  # already where it should be
                        item = {
                            "type": "transfer", "linkage": "output", "lfn": lfn,
                            "id": len(transfers) + 1,
                            "src_urls": [{"site_label": s, "url": u} for u, s in sources],
                            "dest_urls": [{"site_label": out, "url": dest}],
                        }  # fmt: skip
                        if sha:
                            item["checksum"] = sha
                        transfers.append(item)
                        if area is not None:
                            needs.append(area.aux_get_needs)
                        else:
                            for url, where in sources:
                                needs.append(_needs_of(url, where))
                if not transfers:
                    continue
                sj = new_job("stage_out_local_%s_%d_%d" % (out, level, n), STAGE_OUT, LOCAL)
                self._aux(sj, "pegasus::transfer", needs)
                sj.category = "stageout"
                sj.transfers = _COMPACT(transfers) if self.options.compact_specs else transfers
                sj.parents = list(dict.fromkeys(parents))
                result.append(sj)
        return result

    # ------------------------------------------------------------------ credentials

    def _credentials_for(self, needs: list, job_name: str) -> list:
        """[(variable, path)] for the URLs a job touches (``needs``: groups of
        (variables, site, required)).  One file for every site: the plain variable; a
        different file per site: ``NAME_<site>`` each (the transfer engine tries that
        first).  A required credential nobody set becomes a warning."""
        wanted: dict = {}
        for group in needs:
            for item in group:
                wanted[item] = True
        if not wanted:
            return []
        by_variable: dict = {}
        for variables, site, required in wanted:
            found = None
            for variable in variables:
                path = self._credential(variable, site)
                if path is not None:
                    found = (variable, path)
                    break
            if found is None:
                if required:
                    key = (variables, site)
                    self._missing_credentials[key] = self._missing_credentials.get(key, 0) + 1
                continue
            by_variable.setdefault(found[0], {})[site] = found[1]
        result = []
        for variable, per_site in by_variable.items():
            paths = set(per_site.values())
            if len(paths) == 1:
                result.append((variable, paths.pop()))
            else:
                for site, path in sorted(per_site.items()):
                    result.append(("%s_%s" % (variable, site.replace("-", "_")), path))
        return result

    def _credential(self, variable: str, site: str) -> str | None:
        """Pegasus's lookup: the site's env (and pegasus) profiles, the local site's, the
        properties' env profiles, then the planner's environment; ``NAME_<site>`` first."""
        key = (variable, site)
        if key in self._credential_cache:
            return self._credential_cache[key]
        suffixed = "%s_%s" % (variable, site.replace("-", "_"))
        found = None
        layers = [self._site_layer(site)]
        if site != LOCAL and self.site_catalog is not None and LOCAL in self.site_catalog.sites:
            layers.append(self._site_layer(LOCAL))
        for layer in layers:
            env = layer.get("env") or {}
            found = env.get(suffixed) or env.get(variable)
            if not found:
                found = (layer.get("pegasus") or {}).get(variable.lower())
            if found:
                break
        if not found:
            env = self._base_profiles().get("env") or {}
            found = env.get(suffixed) or env.get(variable)
        if not found:
            found = self.env.get(suffixed) or self.env.get(variable)
        if found:
            found = os.path.abspath(os.path.expanduser(found))
            if not os.path.exists(found):
                self.warnings.append(
                    "credential %s for site %s: %s does not exist (jobs that need it will "
                    "fail)" % (variable, site, found)
                )
        self._credential_cache[key] = found or None
        return found or None

    def _credential_warnings(self) -> list:
        return [
            "no %s for the URLs of site %s (%d job%s): set it as an env profile of site %s or "
            "local in the site catalog, or in the environment"
            % (" or ".join(variables), site, count, "" if count == 1 else "s", site)
            for (variables, site), count in sorted(self._missing_credentials.items())
        ]

    # ------------------------------------------------------------------ braindump

    def _braindump(self, result: Plan) -> dict:
        """Pegasus's braindump keys the planner knows; the writer adds the rest (host,
        planner path, versions).  Pegasus's reader refuses other keys, so none are added."""
        o = self.options
        submit = self.submit_dir
        relative = self.relative
        if submit.endswith("/" + relative):
            basedir = submit[: -len(relative) - 1]
        else:
            basedir = os.path.dirname(submit)
        return {
            "user": o.user,
            "root_wf_uuid": o.uuid,
            "wf_uuid": o.uuid,
            "dax": self.wf.source,
            "dax_label": self.wf_name,
            "dax_index": "0",
            "dax_version": self.wf.pegasus_version or "5.0",
            "pegasus_wf_name": result.dag_name,
            "timestamp": o.timestamp,
            "basedir": basedir,
            "submit_dir": submit,
            "planner_arguments": o.planner_arguments,
            "jsd": "jobstate.log",
            "rundir": os.path.basename(submit),
            "vogroup": "pegasus",
            "uses_pmc": "false",
            "properties": "pegasus.properties",
            "condor_log": result.dag_name + ".log",
            "dag": result.dag_name + ".dag",
            "type": "dag",
            "notify": result.dag_name + ".notify",
        }


def _count(value, default: int) -> int:
    """A whole count from a profile value; an HTCondor expression counts as the default."""
    if value is None:
        return default
    try:
        return int(float(value))
    except ValueError:
        return default


def _max_requests(templates: list) -> dict:
    """A cluster asks for what its biggest task asks for (the tasks run one at a time)."""
    merged: dict = {}
    for t in templates:
        for key, value in t.condor.items():
            if key.startswith("request_") and key in merged:
                try:
                    if float(value) > float(merged[key]):
                        merged[key] = value
                except ValueError:
                    pass
            elif key not in merged:
                merged[key] = value
    return merged


class _Overlay:
    """The workflow's inline replicas before the catalog's (first match wins)."""

    def __init__(self, first, second):
        self.first = first
        self.second = second

    def lookup(self, lfn: str):
        found = self.first.lookup(lfn)
        return found if found is not None else self.second.lookup(lfn)

    def __contains__(self, lfn: str) -> bool:
        return self.lookup(lfn) is not None
