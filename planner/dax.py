"""DAX 3.x XML workflows (versions 3.3 to 3.6) into the same model as the YAML reader.

Elements are matched by local name, whatever XML namespace the file declares.  The file is
read with iterparse and each top-level element is converted and dropped as soon as it is
complete, so a large DAX is never held as a whole tree.

An ``<argument>`` mixes text and ``<file name=.../>`` references: the references become
their LFNs and the whole is split on whitespace into the argument list.  Inline
``<file>`` entries (with ``<pfn>``) form the workflow's replica catalog, inline
``<executable>`` entries its transformation catalog.
"""

from __future__ import annotations

import re
import sys
import xml.etree.ElementTree as ET
from collections.abc import Mapping

from . import catalogs as c
from .errors import ParseError
from .model import (
    USE_TYPES,
    Job,
    Replica,
    ReplicaCatalog,
    ReplicaEntry,
    Transformation,
    TransformationCatalog,
    TransformationSite,
    Use,
    Workflow,
)

_PROFILE_NAMESPACES = {ns: ns for ns in c.PROFILE_NAMESPACES}
_PROFILE_NAMESPACES["vds"] = "pegasus"  # the old name of the pegasus namespace
_IGNORED_NAMESPACES = ("stat",)
# DAX 3 hook events -> Pegasus 5 names
_EVENTS = {
    "never": "never", "start": "start", "on_error": "error", "on_success": "success",
    "at_end": "end", "all": "all",
}  # fmt: skip
_TRUE_FALSE = {"true": True, "false": False}
_ID = re.compile(r"^[-0-9a-zA-Z_]+$")
_SHA256 = re.compile(r"^[0-9a-fA-F]{64}$")
_LINKS = {kind: kind for kind in USE_TYPES}


def parse_dax(path: str, env: Mapping[str, str] | None = None) -> Workflow:
    """A DAX file as a Workflow; ``env`` given means ``${VAR}`` in values is expanded."""
    variables = c.variables_of(env)
    reader = _Reader(path, variables)
    try:
        return reader.read()
    except ET.ParseError as error:
        line, column = getattr(error, "position", (0, 0))
        reason = str(error).split(":", 1)[0]
        raise ParseError(
            path, "", "not valid XML: %s at line %d column %d" % (reason, line, column + 1)
        ) from None
    except OSError as error:
        raise ParseError(path, "", "cannot read: %s" % (error.strerror or error)) from None
    except (LookupError, ValueError) as error:  # the declared encoding: unknown, multi-byte
        if "encoding" not in str(error):
            raise
        raise ParseError(path, "", "not valid XML: %s" % error) from None


def _local(tag: str) -> str:
    return tag.rpartition("}")[2] if tag[:1] == "{" else tag


class _Reader:
    def __init__(self, source: str, variables):
        self.source = source
        self.variables = variables
        self.replicas: ReplicaCatalog | None = None
        self.transformations: TransformationCatalog | None = None
        self.edges: list = []  # (child id, [parent ids]) checked once all jobs are known

    def fail(self, where: str, message: str) -> ParseError:
        return ParseError(self.source, where, message)

    def value(self, element: ET.Element, name: str, where: str) -> str | None:
        """An attribute, ``${VAR}`` expanded."""
        found = element.get(name)
        if found is not None and self.variables is not None and "${" in found:
            found = c.expand(found, self.variables, self.source, "%s %s" % (where, name))
        return found

    def need(self, element: ET.Element, name: str, where: str) -> str:
        found = self.value(element, name, where)
        if found is None or not found.strip():
            raise self.fail(where, "missing attribute %r" % name)
        return found

    # ---------------------------------------------------------------- document

    def read(self) -> Workflow:
        workflow: Workflow | None = None
        root = None
        depth = 0
        for event, element in ET.iterparse(self.source, events=("start", "end")):
            if event == "start":
                depth += 1
                if depth == 1:
                    root = element
                    workflow = self.adag(element)
                continue
            depth -= 1
            if depth != 1:
                continue
            self.top_level(_local(element.tag), element, workflow)
            root.remove(element)  # type: ignore[union-attr]  # done with it
        if workflow is None:
            raise self.fail("", "empty document")
        if not workflow.jobs:
            raise self.fail("adag", "no jobs: a workflow needs at least one")
        self.link(workflow)
        workflow.replica_catalog = self.replicas
        workflow.transformation_catalog = self.transformations
        return workflow

    def adag(self, element: ET.Element) -> Workflow:
        if _local(element.tag) != "adag":
            raise self.fail(
                "", "not a DAX: the root element is <%s>, not <adag>" % _local(element.tag)
            )
        version = element.get("version") or ""
        if not version.startswith("3."):
            raise self.fail("adag", "DAX version %r is not supported (3.x)" % version)
        name = self.value(element, "name", "adag") or "workflow"
        workflow = Workflow(name, self.source)
        workflow.pegasus_version = version
        return workflow

    def top_level(self, tag: str, element: ET.Element, workflow) -> None:
        if tag == "job":
            self.job(element, workflow, "job")
        elif tag in ("dax", "dag"):
            self.job(element, workflow, "pegasusWorkflow" if tag == "dax" else "condorWorkflow")
        elif tag == "child":
            self.child(element)
        elif tag == "file":
            self.replica(element)
        elif tag == "executable":
            self.executable(element)
        elif tag == "metadata":
            workflow.metadata.update(self.metadata_of([element], "adag"))
        elif tag == "invoke":
            self.hook(element, workflow.hooks, "adag")
        elif tag == "transformation":
            pass  # compound transformations: nothing the planner uses
        else:
            raise self.fail("adag", "unknown element <%s>" % tag)

    # ---------------------------------------------------------------- jobs

    def job(self, element: ET.Element, workflow: Workflow, kind: str) -> None:
        intern = sys.intern
        tag = _local(element.tag)
        job_id = element.get("id")
        if job_id is None:
            raise self.fail("%s[%d]" % (tag, len(workflow.jobs)), "missing attribute 'id'")
        where = "%s %r" % (tag, job_id)
        if not _ID.match(job_id):
            raise self.fail(where, "id %r is not valid (letters, digits, _ and - only)" % job_id)
        if job_id in workflow.jobs:
            raise self.fail(where, "duplicate id %r" % job_id)
        if kind == "job":
            job = Job(job_id, intern(self.need(element, "name", where)), kind=kind)
            namespace = self.value(element, "namespace", where)
            version = self.value(element, "version", where)
            job.namespace = intern(namespace) if namespace else None
            job.version = intern(version) if version else None
        else:
            job = Job(
                job_id, "pegasus-plan" if kind == "pegasusWorkflow" else "condor_dagman", kind=kind
            )
            job.file = intern(self.need(element, "file", where))
        label = element.get("node-label")
        if label:
            job.node_label = label
        profiles: dict = {}
        metadata: list = []
        uses = 0
        for child in element:
            name = _local(child.tag)
            if name == "argument":
                job.arguments = [intern(word) for word in self.argument_text(child, where).split()]
            elif name == "profile":
                self.profile(child, profiles, where)
            elif name == "uses":
                job.uses.append(self.use(child, "%s uses[%d]" % (where, uses)))
                uses += 1
            elif name in ("stdin", "stdout", "stderr"):
                lfn = self.value(child, "name", where) or self.value(child, "file", where)
                if not lfn:
                    raise self.fail("%s %s" % (where, name), "missing attribute 'name'")
                setattr(job, name, intern(lfn))
            elif name == "metadata":
                metadata.append(child)
            elif name == "invoke":
                if job.hooks is None:
                    job.hooks = {}
                self.hook(child, job.hooks, where)
            else:
                raise self.fail(where, "unknown element <%s>" % name)
        if profiles:
            job.profiles = profiles
        if metadata:
            job.metadata = self.metadata_of(metadata, where)
        workflow.jobs[job_id] = job

    def argument_text(self, element: ET.Element, where: str) -> str:
        """Text with each ``<file name=...>`` replaced by its LFN."""
        parts = [element.text or ""]
        for child in element:
            if _local(child.tag) in ("file", "filename"):
                parts.append(
                    self.value(child, "name", where) or self.value(child, "file", where) or ""
                )
            parts.append(child.tail or "")
        text = "".join(parts)
        if self.variables is not None and "${" in text:
            text = c.expand(text, self.variables, self.source, where + " argument")
        return text

    def use(self, element: ET.Element, where: str) -> Use:
        lfn = self.value(element, "name", where) or self.value(element, "file", where)
        if not lfn:
            raise self.fail(where, "missing attribute 'name'")
        link = element.get("link", "none")
        kind = _LINKS.get(link)
        if kind is None:
            raise self.fail(where, "link %r is not one of %s" % (link, ", ".join(USE_TYPES)))
        transfer = element.get("transfer", "true")
        if transfer not in ("true", "false", "optional"):
            raise self.fail(where, "transfer %r is not one of true, false, optional" % transfer)
        register = self.boolean(element, "register", True, where)
        optional = self.boolean(element, "optional", False, where)
        executable = self.boolean(element, "executable", False, where)
        if executable:  # Pegasus names an executable file by its transformation
            namespace, version = element.get("namespace"), element.get("version")
            if namespace:
                lfn = "%s::%s" % (namespace, lfn)
            if version:
                lfn = "%s:%s" % (lfn, version)
        size = element.get("size")
        if size is not None:
            if not (size.strip().isascii() and size.strip().isdigit()):  # not "²"
                raise self.fail(where, "size %r is not a number of bytes" % size)
            size = int(size)
        use = Use(sys.intern(lfn), kind, transfer != "false", register, optional, False, size)
        use.executable = executable
        metadata = [child for child in element if _local(child.tag) == "metadata"]
        if metadata:
            use.metadata = self.metadata_of(metadata, where)
        return use

    def boolean(self, element: ET.Element, name: str, default: bool, where: str) -> bool:
        value = element.get(name)
        if value is None:
            return default
        found = _TRUE_FALSE.get(value.strip().lower())
        if found is None:
            raise self.fail(where, "%s %r is not true or false" % (name, value))
        return found

    def child(self, element: ET.Element) -> None:
        child_id = element.get("ref")
        if not child_id:
            raise self.fail("child[%d]" % len(self.edges), "missing attribute 'ref'")
        parents = []
        for index, parent in enumerate(element):
            if _local(parent.tag) != "parent":
                raise self.fail("child %r" % child_id, "unknown element <%s>" % _local(parent.tag))
            ref = parent.get("ref")
            if not ref:
                raise self.fail(
                    "child %r parent[%d]" % (child_id, index), "missing attribute 'ref'"
                )
            parents.append(ref)
        self.edges.append((child_id, parents))

    def link(self, workflow: Workflow) -> None:
        jobs = workflow.jobs
        children_of = workflow.children
        for child_id, parents in self.edges:
            child = jobs.get(child_id)
            if child is None:
                raise self.fail("child %r" % child_id, "unknown job %r" % child_id)
            for index, parent_id in enumerate(parents):
                parent = jobs.get(parent_id)
                where = "child %r parent[%d]" % (child_id, index)
                if parent is None:
                    raise self.fail(where, "unknown job %r" % parent_id)
                if parent is child:
                    raise self.fail(where, "job %r cannot be its own parent" % child_id)
                known = children_of.setdefault(parent.id, [])
                if child.id not in known:
                    known.append(child.id)
        self.edges = []

    # ---------------------------------------------------------------- shared pieces

    def profile(self, element: ET.Element, into: dict, where: str) -> None:
        namespace = element.get("namespace", "")
        canonical = _PROFILE_NAMESPACES.get(namespace)
        if canonical is None:
            if namespace in _IGNORED_NAMESPACES:
                return
            raise self.fail(
                "%s profile" % where,
                "namespace %r is not one of %s" % (namespace, ", ".join(c.PROFILE_NAMESPACES)),
            )
        key = self.need(element, "key", "%s profile" % where)
        value = (element.text or "").strip()
        if self.variables is not None and "${" in value:
            value = c.expand(value, self.variables, self.source, "%s profile %s" % (where, key))
        into.setdefault(canonical, {})[key] = value

    def metadata_of(self, elements: list, where: str) -> dict:
        result = {}
        for element in elements:
            key = self.need(element, "key", "%s metadata" % where)
            result[key] = (element.text or "").strip()
        return result

    def hook(self, element: ET.Element, into: dict, where: str) -> None:
        when = element.get("when", "")
        event = _EVENTS.get(when)
        if event is None:
            raise self.fail(
                "%s invoke" % where, "when %r is not one of %s" % (when, ", ".join(_EVENTS))
            )
        into.setdefault("shell", []).append({"_on": event, "cmd": (element.text or "").strip()})

    # ---------------------------------------------------------------- inline catalogs

    def replica(self, element: ET.Element) -> None:
        lfn = element.get("name")
        if not lfn:
            raise self.fail("file", "missing attribute 'name'")
        where = "file %r" % lfn
        pfns = []
        metadata = []
        for child in element:
            name = _local(child.tag)
            if name == "pfn":
                url = self.need(child, "url", where + " pfn")
                pfns.append(Replica(url, self.value(child, "site", where + " pfn")))
            elif name == "metadata":
                metadata.append(child)
            elif name != "profile":
                raise self.fail(where, "unknown element <%s>" % name)
        meta = self.metadata_of(metadata, where) if metadata else {}
        sha256 = None
        if "checksum.value" in meta:
            kind = meta.pop("checksum.type", "sha256")
            sha256 = meta.pop("checksum.value")
            if kind != "sha256":
                raise self.fail(where, "checksum.type %r is not supported (only sha256)" % kind)
            if not _SHA256.match(sha256):
                raise self.fail(where, "checksum.value %r is not a sha256 (64 hex digits)" % sha256)
            sha256 = sha256.lower()
        if not pfns and not sha256:
            return  # a file with no location: only a declaration
        entry = ReplicaEntry(sys.intern(lfn), pfns, sha256)
        entry.metadata = meta or None
        if self.replicas is None:
            self.replicas = ReplicaCatalog(self.source)
        self.replicas.add(entry)

    def executable(self, element: ET.Element) -> None:
        name = self.need(element, "name", "executable")
        where = "executable %r" % name
        transformation = Transformation(
            name, element.get("namespace") or None, element.get("version") or None
        )
        installed = self.boolean(element, "installed", True, where)
        arch = element.get("arch")
        os_type = (element.get("os") or "").lower() or None
        metadata = []
        for child in element:
            tag = _local(child.tag)
            if tag == "pfn":
                url = self.need(child, "url", where + " pfn")
                site = TransformationSite(
                    self.value(child, "site", where) or "local", url,
                    "installed" if installed else "stageable",
                )  # fmt: skip
                site.arch = arch
                site.os_type = os_type
                site.os_release = element.get("osrelease")
                site.os_version = element.get("osversion")
                for profile in child:
                    if _local(profile.tag) == "profile":
                        self.profile(profile, site.profiles, where + " pfn")
                transformation.sites.append(site)
            elif tag == "profile":
                self.profile(child, transformation.profiles, where)
            elif tag == "metadata":
                metadata.append(child)
            elif tag != "invoke":
                raise self.fail(where, "unknown element <%s>" % tag)
        if metadata:
            transformation.metadata = self.metadata_of(metadata, where)
            if transformation.metadata.get("checksum.type", "sha256") == "sha256":
                transformation.sha256 = transformation.metadata.get("checksum.value")
        if not transformation.sites:
            raise self.fail(where, "no <pfn>: where is it?")
        if self.transformations is None:
            self.transformations = TransformationCatalog(self.source)
        c.add_transformation(self.transformations, transformation)
