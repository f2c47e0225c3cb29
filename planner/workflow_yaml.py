"""Pegasus 5 YAML workflows (wf-5.0) into the model, job by job.

Built for size: a million-job workflow is converted one raw job at a time (each raw dict
is dropped once converted), LFNs and arguments are interned so a file named by many jobs
is one string, and the common case of every job costs a few dict lookups and type checks;
the slow paths run only to word an error.  What pegasus-wms.api writes is accepted even
where it breaks the schema (integer ``size``, numbers in arguments, inline catalogs without
``pegasus``).
"""

from __future__ import annotations

import re
import sys
from collections.abc import Mapping

from . import catalogs as c
from .errors import ParseError
from .model import JOB_KINDS, USE_TYPES, Job, Use, Workflow
from .yamlload import LazySequence

_WORKFLOW_KEYS = frozenset(
    (
        "pegasus", "name", "version", "jobs", "jobDependencies", "profiles", "hooks",
        "metadata", "siteCatalog", "replicaCatalog", "transformationCatalog",
    )
)  # fmt: skip
_JOB_KEYS = frozenset(
    (
        "type", "name", "namespace", "version", "id", "arguments", "uses", "stdin", "stdout",
        "stderr", "nodeLabel", "profiles", "hooks", "metadata", "file",
    )
)  # fmt: skip
_USE_KEYS = frozenset(
    (
        "lfn", "type", "stageOut", "registerReplica", "optional", "bypass", "size", "metadata",
        "executable", "forPlanning", "namespace", "version",
    )
)  # fmt: skip
_INPUT_KEYS = frozenset(("lfn", "type"))
_OUTPUT_KEYS = frozenset(("lfn", "type", "stageOut", "registerReplica"))
_RARE_KEYS = frozenset(("stdin", "stdout", "stderr", "nodeLabel", "profiles", "metadata", "hooks"))
_DEPENDENCY_KEYS = frozenset(("id", "children"))
_USE_TYPE = {kind: kind for kind in USE_TYPES}  # the canonical string objects
_KIND = {kind: kind for kind in JOB_KINDS}
_SUBWORKFLOW_NAME = {"pegasusWorkflow": "pegasus-plan", "condorWorkflow": "condor_dagman"}
_ID = re.compile(r"^[-0-9a-zA-Z_]+$")
_NAME = re.compile(r"^\w[\w.-]*$")


def parse_workflow(doc: object, source: str, env: Mapping[str, str] | None = None) -> Workflow:
    """A workflow document (from yamlload) as a Workflow; ``env`` given means ``${VAR}`` in
    strings is expanded from it, as pegasus-plan expands the whole file."""
    variables = c.variables_of(env)
    doc = c.mapping(doc, source, "")
    c.check_keys(doc, _WORKFLOW_KEYS, source, "")
    version = c.format_version(doc, source, "", needed=True)
    name = c.string(c.required(doc, "name", source, ""), source, "name", variables)
    if not _NAME.match(name):
        raise ParseError(
            source, "name", "%r is not a valid workflow name (letters, digits, _ - .)" % name
        )
    workflow = Workflow(name, source)
    workflow.pegasus_version = version
    if doc.get("profiles") is not None:
        workflow.profiles = c.profiles(doc["profiles"], source, "profiles", variables)
    if doc.get("metadata") is not None:
        workflow.metadata = c.metadata(doc["metadata"], source, "metadata", variables)
    if doc.get("hooks") is not None:
        workflow.hooks = c.hooks(doc["hooks"], source, "hooks")
    if doc.get("siteCatalog") is not None:
        workflow.site_catalog = c.parse_sites(
            doc["siteCatalog"], source, variables, prefix="siteCatalog", inline=True
        )
    if doc.get("replicaCatalog") is not None:
        workflow.replica_catalog = c.parse_replicas(
            doc["replicaCatalog"], source, variables, prefix="replicaCatalog", inline=True
        )
    if doc.get("transformationCatalog") is not None:
        workflow.transformation_catalog = c.parse_transformations(
            doc["transformationCatalog"], source, variables, prefix="transformationCatalog",
            inline=True,
        )  # fmt: skip
    jobs = c.required(doc, "jobs", source, "")
    if not isinstance(jobs, (list, LazySequence)):
        raise ParseError(source, "jobs", "expected a list, got %s" % c.describe(jobs))
    _read_jobs(workflow, jobs, source, variables)
    if not workflow.jobs:
        raise ParseError(source, "jobs", "no jobs: a workflow needs at least one")
    dependencies = doc.get("jobDependencies")
    if dependencies is not None:
        if not isinstance(dependencies, (list, LazySequence)):
            raise ParseError(
                source, "jobDependencies", "expected a list, got %s" % c.describe(dependencies)
            )
        _read_dependencies(workflow, dependencies, source, variables)
    return workflow


def _read_jobs(workflow: Workflow, raw_jobs, source: str, variables) -> None:
    intern = sys.intern
    jobs = workflow.jobs
    drop = type(raw_jobs) is list
    id_ok = _ID.match
    job_keys = _JOB_KEYS.issuperset
    use_type = _USE_TYPE.get
    profile_cache: dict = {}
    for index, raw in enumerate(raw_jobs):
        if drop:
            raw_jobs[index] = None  # the raw dict goes as soon as it is converted
        if type(raw) is not dict:
            raise ParseError(
                source, "jobs[%d]" % index, "expected a mapping, got %s" % c.describe(raw)
            )
        if variables is not None:
            c.expand_tree(raw, variables, source, "jobs[%d]" % index)
        if not job_keys(raw):
            c.check_keys(raw, _JOB_KEYS, source, "jobs[%d]" % index)

        job_id = raw.get("id")
        if type(job_id) is not str or not id_ok(job_id):
            job_id = _job_id(job_id, source, "jobs[%d]" % index)
        if job_id in jobs:
            first = list(jobs).index(job_id)
            raise ParseError(
                source, "jobs[%d].id" % index, "duplicate id %r (also jobs[%d])" % (job_id, first)
            )
        kind = raw.get("type")
        kind = _KIND.get(kind) if type(kind) is str else None
        if kind is None:
            _bad_kind(raw, source, index)
        if kind == "job":
            name = raw.get("name")
            if type(name) is not str:
                name = c.text(c.required(raw, "name", source, "jobs[%d]" % index), source,
                              "jobs[%d].name" % index)  # fmt: skip
            job = Job(job_id, intern(name), kind=kind)
            namespace = raw.get("namespace")
            if namespace is not None:
                if type(namespace) is not str:
                    namespace = c.text(namespace, source, "jobs[%d].namespace" % index)
                job.namespace = intern(namespace)
            version = raw.get("version")
            if version is not None:
                if type(version) is not str:
                    version = c.text(version, source, "jobs[%d].version" % index)
                job.version = intern(version)
        else:
            job = Job(job_id, _SUBWORKFLOW_NAME[kind], kind=kind)
            at = "jobs[%d]" % index
            job.file = intern(c.text(c.required(raw, "file", source, at), source, at + ".file"))

        arguments = raw.get("arguments")
        if arguments is not None:
            if type(arguments) is not list:
                c.sequence(arguments, source, "jobs[%d].arguments" % index)
            for position, argument in enumerate(arguments):
                if type(argument) is not str:
                    argument = _argument(argument, source, index, position)
                arguments[position] = intern(argument)
            job.arguments = arguments

        uses = raw.get("uses")
        if uses is not None:
            if type(uses) is not list:
                c.sequence(uses, source, "jobs[%d].uses" % index)
            for position, use in enumerate(uses):
                if type(use) is dict:
                    keys = use.keys()
                    if keys == _INPUT_KEYS:  # what the API writes for an input
                        lfn = use["lfn"]
                        kind_of_use = use["type"]
                        kind_of_use = use_type(kind_of_use) if type(kind_of_use) is str else None
                        if type(lfn) is str and kind_of_use is not None:
                            uses[position] = Use(intern(lfn), kind_of_use)
                            continue
                    elif keys == _OUTPUT_KEYS:  # ... and for an output
                        lfn = use["lfn"]
                        kind_of_use = use["type"]
                        kind_of_use = use_type(kind_of_use) if type(kind_of_use) is str else None
                        stage_out = use["stageOut"]
                        register = use["registerReplica"]
                        if (
                            type(lfn) is str
                            and kind_of_use is not None
                            and (stage_out is True or stage_out is False)
                            and (register is True or register is False)
                        ):
                            uses[position] = Use(intern(lfn), kind_of_use, stage_out, register)
                            continue
                uses[position] = _use(use, source, "jobs[%d].uses[%d]" % (index, position))
            job.uses = uses

        if not _RARE_KEYS.isdisjoint(raw):
            _optional_fields(job, raw, source, index, profile_cache)
        jobs[job_id] = job


def _optional_fields(job: Job, raw: dict, source: str, index: int, cache: dict) -> None:
    at = "jobs[%d]" % index
    intern = sys.intern
    for key in ("stdin", "stdout", "stderr"):
        value = raw.get(key)
        if value is not None:
            setattr(job, key, intern(c.text(value, source, "%s.%s" % (at, key))))
    if raw.get("nodeLabel") is not None:
        job.node_label = c.text(raw["nodeLabel"], source, at + ".nodeLabel")
    if raw.get("profiles") is not None:
        job.profiles = _shared_profiles(raw["profiles"], source, at + ".profiles", cache)
    if raw.get("metadata") is not None:
        job.metadata = c.metadata(raw["metadata"], source, at + ".metadata")
    if raw.get("hooks") is not None:
        job.hooks = c.hooks(raw["hooks"], source, at + ".hooks")


def _shared_profiles(raw: object, source: str, at: str, cache: dict) -> dict:
    """Jobs of one workflow with the same profiles share one dict (treat job profiles as
    read-only): a million jobs carrying ``pegasus: {memory: 2048}`` hold one copy."""
    try:
        key = tuple(
            (namespace, tuple((k, v, type(v)) for k, v in values.items()))
            for namespace, values in raw.items()  # type: ignore[union-attr]
        )
        found = cache.get(key)
    except (AttributeError, TypeError):  # not mappings, or unhashable values: say why
        return c.profiles(raw, source, at)
    if found is None:
        found = c.profiles(raw, source, at)
        for values in found.values():
            for name, value in values.items():
                values[name] = sys.intern(value)
        if len(cache) < 10000:
            cache[key] = found
    return found


def _read_dependencies(workflow: Workflow, raw_edges, source: str, variables) -> None:
    jobs = workflow.jobs
    children_of = workflow.children
    drop = type(raw_edges) is list
    for index, raw in enumerate(raw_edges):
        if drop:
            raw_edges[index] = None
        at = "jobDependencies[%d]" % index
        if type(raw) is not dict:
            raise ParseError(source, at, "expected a mapping, got %s" % c.describe(raw))
        if variables is not None:
            c.expand_tree(raw, variables, source, at)
        if not _DEPENDENCY_KEYS.issuperset(raw):
            c.check_keys(raw, _DEPENDENCY_KEYS, source, at)
        parent_id = raw.get("id")
        parent = jobs.get(parent_id) if type(parent_id) is str else None
        if parent is None:
            parent_id = c.text(c.required(raw, "id", source, at), source, at + ".id")
            parent = jobs.get(parent_id)
            if parent is None:
                raise ParseError(source, at + ".id", "unknown job %r" % parent_id)
        children = raw.get("children")
        if children is None:
            continue
        if type(children) is not list:
            c.sequence(children, source, at + ".children")
        known = children_of.get(parent.id)
        fresh = known is None
        if fresh:
            known = []
        for position, child_id in enumerate(children):
            child = jobs.get(child_id) if type(child_id) is str else None
            if child is None or child is parent:
                where = "%s.children[%d]" % (at, position)
                if child is parent:
                    raise ParseError(source, where, "job %r cannot be its own child" % child_id)
                child_id = c.text(child_id, source, where)
                child = jobs.get(child_id)
                if child is None:
                    raise ParseError(source, where, "unknown job %r" % child_id)
            known.append(child.id)
        if not fresh or len(known) > 1:
            unique = list(dict.fromkeys(known))
            if len(unique) != len(known):
                known[:] = unique
        if fresh and known:
            children_of[parent.id] = known


# ------------------------------------------------------------------ slow paths (errors, coercions)


def _job_id(value: object, source: str, at: str) -> str:
    if value is None:
        raise ParseError(source, at, "missing required key 'id'")
    value = c.text(value, source, at + ".id")
    if not _ID.match(value):
        raise ParseError(
            source, at + ".id", "%r is not a valid job id (letters, digits, _ and - only)" % value
        )
    return value


def _bad_kind(raw: dict, source: str, index: int) -> None:
    value = raw.get("type")
    if value is None:
        raise ParseError(source, "jobs[%d]" % index, "missing required key 'type'")
    c.one_of(value, JOB_KINDS, source, "jobs[%d].type" % index)


def _argument(value: object, source: str, index: int, position: int) -> str:
    if value is True or value is False:
        return "true" if value else "false"
    if value is None:
        raise ParseError(
            source, "jobs[%d].arguments[%d]" % (index, position), "expected a string, got nothing"
        )
    return c.text(value, source, "jobs[%d].arguments[%d]" % (index, position))


def _use(use: object, source: str, at: str) -> Use:
    """Any ``uses`` entry: every field checked, YAML 1.1 booleans accepted."""
    use = c.mapping(use, source, at)
    c.check_keys(use, _USE_KEYS, source, at)
    lfn = sys.intern(c.text(c.required(use, "lfn", source, at), source, at + ".lfn"))
    kind = _USE_TYPE[c.one_of(c.required(use, "type", source, at), USE_TYPES, source, at + ".type")]
    flags = []
    for key, default in (
        ("stageOut", True), ("registerReplica", True), ("optional", False), ("bypass", False),
        ("executable", False), ("forPlanning", False),
    ):  # fmt: skip
        value = use.get(key, default)
        flags.append(value if value is default else c.flag(value, source, "%s.%s" % (at, key)))
    stage_out, register, optional, bypass, executable, for_planning = flags
    size = use.get("size")
    if size is not None and type(size) is not int:
        size = _size(size, source, at + ".size")
    meta = use.get("metadata")
    if meta is not None:
        meta = c.metadata(meta, source, at + ".metadata")
    return Use(
        lfn, kind, stage_out, register, optional, bypass, size, meta, executable, for_planning
    )


def _size(value: object, source: str, at: str) -> int:
    if type(value) is str and value.strip().isascii() and value.strip().isdigit():
        return int(value)
    if type(value) is float and value.is_integer() and value >= 0:
        return int(value)
    raise ParseError(source, at, "%r is not a size in bytes" % (value,))
