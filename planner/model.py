"""What the parsers produce and the planner consumes: the abstract workflow and its catalogs.

Plain slotted classes, one object per job and per file use, so a million-job workflow fits
in memory.  Profiles are ``{namespace: {key: value}}`` with string values, as Pegasus keeps
them.  The parsers (workflow_yaml, dax, catalogs, properties) fill these in; nothing here
reads files.
"""

from __future__ import annotations

from typing import Optional

Profiles = dict  # {namespace: {key: str}}

USE_TYPES = ("input", "output", "inout", "checkpoint", "none")
JOB_KINDS = ("job", "pegasusWorkflow", "condorWorkflow")


class Use:
    """One file a job reads or writes (``uses[]`` in the workflow)."""

    __slots__ = (
        "lfn", "type", "stage_out", "register", "optional", "bypass", "size", "metadata",
        "executable",
    )  # fmt: skip

    def __init__(
        self,
        lfn: str,
        type: str,
        stage_out: bool = True,
        register: bool = True,
        optional: bool = False,
        bypass: bool = False,
        size: Optional[int] = None,
        metadata: Optional[dict] = None,
        executable: bool = False,
    ):
        self.lfn = lfn
        self.type = type
        self.stage_out = stage_out
        self.register = register
        self.optional = optional
        self.bypass = bypass
        self.size = size
        self.metadata = metadata
        self.executable = executable

    @property
    def reads(self) -> bool:
        return self.type in ("input", "inout")

    @property
    def writes(self) -> bool:
        return self.type in ("output", "inout")


class Job:
    """One node of the abstract workflow."""

    __slots__ = (
        "id", "name", "namespace", "version", "arguments", "uses", "stdin", "stdout",
        "stderr", "profiles", "metadata", "node_label", "kind", "file", "hooks",
    )  # fmt: skip

    def __init__(
        self,
        id: str,
        name: str,
        namespace: Optional[str] = None,
        version: Optional[str] = None,
        arguments: Optional[list] = None,
        uses: Optional[list] = None,
        kind: str = "job",
    ):
        self.id = id
        self.name = name
        self.namespace = namespace
        self.version = version
        self.arguments: list[str] = arguments if arguments is not None else []
        self.uses: list[Use] = uses if uses is not None else []
        self.stdin: Optional[str] = None
        self.stdout: Optional[str] = None
        self.stderr: Optional[str] = None
        self.profiles: Optional[Profiles] = None
        self.metadata: Optional[dict] = None
        self.node_label: Optional[str] = None
        self.kind = kind
        self.file: Optional[str] = None  # the sub-workflow's file (pegasusWorkflow, condorWorkflow)
        self.hooks: Optional[dict] = None

    @property
    def transformation(self) -> str:
        """``namespace::name:version`` as Pegasus prints it (parts left out when unset)."""
        text = self.name
        if self.namespace:
            text = "%s::%s" % (self.namespace, text)
        if self.version:
            text = "%s:%s" % (text, self.version)
        return text


class Workflow:
    """The abstract workflow: jobs in document order and the edges between them."""

    def __init__(self, name: str, source: str = "<workflow>"):
        self.name = name
        self.source = source  # the file it came from, for messages
        self.pegasus_version: Optional[str] = None
        self.jobs: dict[str, Job] = {}
        self.children: dict[str, list[str]] = {}  # parent id -> child ids
        self.profiles: Profiles = {}
        self.metadata: dict = {}
        self.hooks: dict = {}
        self.site_catalog: Optional[SiteCatalog] = None  # inline catalogs, when present
        self.replica_catalog: Optional[ReplicaCatalog] = None
        self.transformation_catalog: Optional[TransformationCatalog] = None


# ------------------------------------------------------------------ sites


class FileServer:
    __slots__ = ("url", "operation")

    def __init__(self, url: str, operation: str = "all"):
        self.url = url
        self.operation = operation  # all | get | put


class Directory:
    __slots__ = ("type", "path", "shared_fs", "servers")

    def __init__(self, type: str, path: str, shared_fs: bool = False, servers=None):
        self.type = type  # sharedScratch | sharedStorage | localScratch | localStorage
        self.path = path
        self.shared_fs = shared_fs
        self.servers: list[FileServer] = servers if servers is not None else []

    def url(self, operation: str = "get") -> Optional[str]:
        """The first file server serving ``operation`` (get or put), or None."""
        for server in self.servers:
            if server.operation in ("all", operation):
                return server.url
        return None


class Site:
    def __init__(self, name: str):
        self.name = name
        self.arch: Optional[str] = None
        self.os_type: Optional[str] = None
        self.os_release: Optional[str] = None
        self.os_version: Optional[str] = None
        self.directories: list[Directory] = []
        self.grids: list[dict] = []
        self.profiles: Profiles = {}

    def directory(self, type: str) -> Optional[Directory]:
        for directory in self.directories:
            if directory.type == type:
                return directory
        return None


class SiteCatalog:
    def __init__(self, source: str = "<sites>"):
        self.source = source
        self.sites: dict[str, Site] = {}


# ------------------------------------------------------------------ transformations


class ContainerDef:
    def __init__(self, name: str, type: str, image: str):
        self.name = name
        self.type = type  # docker | singularity | shifter
        self.image = image
        self.image_site: Optional[str] = None
        self.mounts: list[str] = []
        self.sha256: Optional[str] = None
        self.bypass = False
        self.profiles: Profiles = {}
        self.metadata: dict = {}


class TransformationSite:
    def __init__(self, site: str, pfn: str, type: str):
        self.site = site
        self.pfn = pfn
        self.type = type  # installed | stageable
        self.arch: Optional[str] = None
        self.os_type: Optional[str] = None
        self.container: Optional[str] = None  # a ContainerDef name
        self.bypass = False
        self.profiles: Profiles = {}
        self.metadata: dict = {}


class Transformation:
    def __init__(self, name: str, namespace: Optional[str] = None, version: Optional[str] = None):
        self.name = name
        self.namespace = namespace
        self.version = version
        self.sites: list[TransformationSite] = []
        self.requires: list[str] = []
        self.sha256: Optional[str] = None
        self.profiles: Profiles = {}
        self.metadata: dict = {}
        self.hooks: dict = {}


class TransformationCatalog:
    def __init__(self, source: str = "<transformations>"):
        self.source = source
        self.transformations: list[Transformation] = []
        self.containers: dict[str, ContainerDef] = {}

    def find(
        self, name: str, namespace: Optional[str] = None, version: Optional[str] = None
    ) -> Optional[Transformation]:
        """Pegasus's match: name equal; namespace and version equal when the job gives them."""
        for t in self.transformations:
            if t.name != name:
                continue
            if namespace is not None and t.namespace is not None and t.namespace != namespace:
                continue
            if version is not None and t.version is not None and t.version != version:
                continue
            return t
        return None


# ------------------------------------------------------------------ replicas


class Replica:
    __slots__ = ("pfn", "site")

    def __init__(self, pfn: str, site: Optional[str] = None):
        self.pfn = pfn
        self.site = site


class ReplicaEntry:
    __slots__ = ("lfn", "pfns", "sha256", "metadata", "regex", "pattern")

    def __init__(self, lfn: str, pfns: list, sha256: Optional[str] = None, regex: bool = False):
        self.lfn = lfn
        self.pfns: list[Replica] = pfns
        self.sha256 = sha256
        self.metadata: Optional[dict] = None
        self.regex = regex
        self.pattern = None  # the compiled regex, for regex entries


class ReplicaCatalog:
    """Exact LFNs in a dict; regex entries tried in order after them (first match wins)."""

    def __init__(self, source: str = "<replicas>"):
        self.source = source
        self.entries: dict[str, ReplicaEntry] = {}
        self.regex_entries: list[ReplicaEntry] = []

    def add(self, entry: ReplicaEntry) -> None:
        if entry.regex:
            import re

            entry.pattern = re.compile(entry.lfn)
            self.regex_entries.append(entry)
            return
        known = self.entries.get(entry.lfn)
        if known is None:
            self.entries[entry.lfn] = entry
            return
        known.pfns.extend(p for p in entry.pfns if all(p.pfn != k.pfn for k in known.pfns))
        known.sha256 = known.sha256 or entry.sha256
        if entry.metadata:
            known.metadata = {**(known.metadata or {}), **entry.metadata}

    def merge(self, other: ReplicaCatalog) -> None:
        for entry in other.entries.values():
            self.add(entry)
        self.regex_entries.extend(other.regex_entries)

    def lookup(self, lfn: str) -> Optional[ReplicaEntry]:
        """The entry for ``lfn``; a regex match yields a new entry with ``[n]`` substituted."""
        entry = self.entries.get(lfn)
        if entry is not None:
            return entry
        for candidate in self.regex_entries:
            match = candidate.pattern.fullmatch(lfn)
            if match is None:
                continue
            groups = [match.group(0), *match.groups()]
            pfns = []
            for replica in candidate.pfns:
                pfn = replica.pfn
                for index in range(len(groups) - 1, -1, -1):  # [10] before [1]
                    pfn = pfn.replace("[%d]" % index, groups[index] or "")
                pfns.append(Replica(pfn, replica.site))
            found = ReplicaEntry(lfn, pfns, candidate.sha256)
            found.metadata = candidate.metadata
            return found
        return None

    def __contains__(self, lfn: str) -> bool:
        return self.lookup(lfn) is not None
