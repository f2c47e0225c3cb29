"""What the parsers produce and the planner consumes: the abstract workflow and its catalogs.

Plain slotted classes, one object per job and per file use, so a million-job workflow fits
in memory.  Profiles are ``{namespace: {key: value}}`` with string values, as Pegasus keeps
them.  The parsers (workflow_yaml, dax, catalogs, properties) fill these in; nothing here
reads files.
"""

from __future__ import annotations

Profiles = dict  # {namespace: {key: str}}

USE_TYPES = ("input", "output", "inout", "checkpoint", "none")
JOB_KINDS = ("job", "pegasusWorkflow", "condorWorkflow")


class Use:
    """One file a job reads or writes (``uses[]`` in the workflow)."""

    __slots__ = (
        "bypass",
        "executable",
        "for_planning",
        "lfn",
        "metadata",
        "optional",
        "register",
        "size",
        "stage_out",
        "type",
    )  # fmt: skip

    def __init__(
        self,
        lfn: str,
        type: str,
        stage_out: bool = True,
        register: bool = True,
        optional: bool = False,
        bypass: bool = False,
        size: int | None = None,
        metadata: dict | None = None,
        executable: bool = False,
        for_planning: bool = False,
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
        self.for_planning = for_planning  # forPlanning: the planner reads it, jobs do not

    @property
    def reads(self) -> bool:
        return self.type in ("input", "inout")

    @property
    def writes(self) -> bool:
        return self.type in ("output", "inout")


class Job:
    """One node of the abstract workflow."""

    __slots__ = (
        "arguments",
        "file",
        "hooks",
        "id",
        "kind",
        "metadata",
        "name",
        "namespace",
        "node_label",
        "profiles",
        "stderr",
        "stdin",
        "stdout",
        "uses",
        "version",
    )  # fmt: skip

    def __init__(
        self,
        id: str,
        name: str,
        namespace: str | None = None,
        version: str | None = None,
        arguments: list | None = None,
        uses: list | None = None,
        kind: str = "job",
    ):
        self.id = id
        self.name = name
        self.namespace = namespace
        self.version = version
        self.arguments: list[str] = arguments if arguments is not None else []
        self.uses: list[Use] = uses if uses is not None else []
        self.stdin: str | None = None
        self.stdout: str | None = None
        self.stderr: str | None = None
        self.profiles: Profiles | None = None
        self.metadata: dict | None = None
        self.node_label: str | None = None
        self.kind = kind
        self.file: str | None = None  # the sub-workflow's file (pegasusWorkflow, condorWorkflow)
        self.hooks: dict | None = None

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
        self.pegasus_version: str | None = None
        self.jobs: dict[str, Job] = {}
        self.children: dict[str, list[str]] = {}  # parent id -> child ids
        self.profiles: Profiles = {}
        self.metadata: dict = {}
        self.hooks: dict = {}
        self.site_catalog: SiteCatalog | None = None  # inline catalogs, when present
        self.replica_catalog: ReplicaCatalog | None = None
        self.transformation_catalog: TransformationCatalog | None = None


# ------------------------------------------------------------------ sites


class FileServer:
    __slots__ = ("operation", "url")

    def __init__(self, url: str, operation: str = "all"):
        self.url = url
        self.operation = operation  # all | get | put


class Directory:
    __slots__ = ("path", "servers", "shared_fs", "type")

    def __init__(self, type: str, path: str, shared_fs: bool = False, servers=None):
        self.type = type  # sharedScratch | sharedStorage | localScratch | localStorage
        self.path = path
        self.shared_fs = shared_fs
        self.servers: list[FileServer] = servers if servers is not None else []

    def url(self, operation: str = "get") -> str | None:
        """The first file server serving ``operation`` (get or put), or None."""
        for server in self.servers:
            if server.operation in ("all", operation):
                return server.url
        return None


class Site:
    def __init__(self, name: str):
        self.name = name
        self.arch: str | None = None
        self.os_type: str | None = None
        self.os_release: str | None = None
        self.os_version: str | None = None
        self.directories: list[Directory] = []
        self.grids: list[dict] = []
        self.profiles: Profiles = {}

    def directory(self, type: str) -> Directory | None:
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
        self.image_site: str | None = None
        self.mounts: list[str] = []
        self.sha256: str | None = None
        self.bypass = False
        self.profiles: Profiles = {}
        self.metadata: dict = {}


class TransformationSite:
    def __init__(self, site: str, pfn: str, type: str):
        self.site = site
        self.pfn = pfn
        self.type = type  # installed | stageable
        self.arch: str | None = None
        self.os_type: str | None = None
        self.os_release: str | None = None
        self.os_version: str | None = None
        self.container: str | None = None  # a ContainerDef name
        self.bypass = False
        self.profiles: Profiles = {}
        self.metadata: dict = {}


class Transformation:
    def __init__(self, name: str, namespace: str | None = None, version: str | None = None):
        self.name = name
        self.namespace = namespace
        self.version = version
        self.sites: list[TransformationSite] = []
        self.requires: list[str] = []
        self.sha256: str | None = None
        self.profiles: Profiles = {}
        self.metadata: dict = {}
        self.hooks: dict = {}


class TransformationCatalog:
    def __init__(self, source: str = "<transformations>"):
        self.source = source
        self.transformations: list[Transformation] = []
        self.containers: dict[str, ContainerDef] = {}

    def find(
        self, name: str, namespace: str | None = None, version: str | None = None
    ) -> Transformation | None:
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

    def __init__(self, pfn: str, site: str | None = None):
        self.pfn = pfn
        self.site = site


class ReplicaEntry:
    __slots__ = ("lfn", "metadata", "pattern", "pfns", "regex", "sha256")

    def __init__(self, lfn: str, pfns: list, sha256: str | None = None, regex: bool = False):
        self.lfn = lfn
        self.pfns: list[Replica] = pfns
        self.sha256 = sha256
        self.metadata: dict | None = None
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

    def lookup(self, lfn: str) -> ReplicaEntry | None:
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
