"""The executable workflow: what planning produces and the writers turn into files.

One ``PlannedJob`` per DAG node.  Compute jobs carry a lite job spec (``spec``); auxiliary
jobs (stage-out, cleanup) carry a pegasus-transfer list (``transfers``).  Paths in
``input_files`` are absolute (HTCondor's transfer_input_files); ``output_files`` are names
in the job's scratch dir, brought back to ``initialdir``.
"""

from __future__ import annotations

# Pegasus's job classes (+pegasus_job_class in the .sub, used by statistics)
COMPUTE = 1
STAGE_IN = 2
STAGE_OUT = 3
REGISTER = 4
INTER_SITE = 5
CREATE_DIR = 6
STAGE_WORKER = 7
CLEANUP = 8
CHMOD = 9
DAX = 10
DAG = 11


class PlannedJob:
    __slots__ = (
        "arguments",
        "category",
        "cluster_size",
        "condor",
        "cores",
        "dax_job_id",
        "directory",
        "environment",
        "gpus",
        "initialdir",
        "input_files",
        "integrity",
        "job_class",
        "name",
        "output_files",
        "output_remaps",
        "parents",
        "priority",
        "retry",
        "runtime",
        "site",
        "spec",
        "success_message",
        "transfers",
        "transformation",
        "universe",
        "written",
    )  # fmt: skip

    def __init__(self, name: str, job_class: int, site: str):
        self.name = name  # the DAG node name, e.g. findrange_ID0000002
        self.job_class = job_class
        self.site = site
        self.universe = "vanilla"  # vanilla (runs through pegasus-lite) | local (submit host)
        self.directory = "00/00"  # relative to the submit dir: where .sub/.json/.out/.err live
        self.spec: dict | str | None = None  # the lite job spec (compute jobs), or its JSON
        self.transfers: list | str | None = None  # the pegasus-transfer list (aux jobs), or JSON
        self.arguments: list[str] = []  # after the executable (the bundle)
        self.input_files: list[str] = []  # transfer_input_files, absolute paths
        self.output_files: list[str] = []  # transfer_output_files, names in the scratch dir
        self.output_remaps: dict[str, str] = {}  # name -> absolute path (deep LFNs)
        self.environment: dict[str, str] = {}
        self.condor: dict[str, str] = {}  # condor profile keys (request_*, requirements, ...)
        self.priority = 0
        self.retry = 1
        self.category: str | None = None  # stagein | stageout | registration | cleanup
        self.parents: list[str] = []  # DAG node names
        self.cluster_size = 1
        self.transformation: str | None = None  # ns::name:ver (compute jobs)
        self.dax_job_id: str | None = None
        self.runtime = 0  # seconds, the pegasus runtime profile
        self.cores = 1
        self.gpus = 0
        self.success_message: str | None = "PegasusLite: exitcode 0"  # None for aux jobs
        self.initialdir: str | None = None  # absolute; the wf scratch dir in condorio
        self.integrity = True
        self.written = False  # its files are on disk already (streamed while planning)


class Plan:
    """Everything the writers need besides the jobs: names, dirs, identity."""

    def __init__(self, workflow: str, submit_dir: str):
        self.workflow = workflow  # the label, e.g. diamond
        self.index = 0
        self.submit_dir = submit_dir  # absolute
        self.scratch_dir: str | None = None  # the wf dir on the local site (condorio)
        self.uuid = ""
        self.timestamp = ""  # 20230303T222333-0800, as Pegasus writes it
        self.jobs: list[PlannedJob] = []  # parents before children
        self.maxjobs: dict[str, int] = {}  # DAG category -> MAXJOBS
        self.braindump: dict[str, str] = {}
        self.properties: dict[str, str] = {}
        self.data_configuration = "condorio"
        self.integrity = True
        self.sites: list[str] = []
        self.output_sites: list[str] = []

    @property
    def dag_name(self) -> str:
        return "%s-%d" % (self.workflow, self.index)
