"""The HTCondor writer: an executable workflow (``Plan``) becomes a submit directory.

The files follow what pegasus-plan 5.0.5 writes (key set, key order, ``+pegasus_*``
attributes, DAG layout), so HTCondor, DAGMan and Pegasus's own tools read them, with one
change of design: every job's executable is the worker bundle ``pegasus-lite.pyz``.  Keys a
condor profile adds come after Pegasus's sorted block; keys it replaces keep their place.

Built for a million jobs: one ``%`` template per file kind, plain ``open``/``write`` for
the per-job files (the directory is new), each hashed directory created once, one shared
JSON encoder.  The DAG is streamed to a temporary name and renamed last, so a submit dir
with a ``.dag`` is complete.

Everything we write into the submit language goes through ``literal()``: HTCondor expands
``$(name)`` and ``$ENV(...)`` in every value and joins a line ending in a backslash with the
next one, so a user's ``$`` or path could otherwise change meaning.  User condor profile
values pass through untouched (there a ``$(cluster)`` is meant).
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import re
import shutil
import socket
import sys
import tempfile
import time
from typing import Callable

from planner.errors import PlanError
from planner.executable import (
    CLEANUP,
    CREATE_DIR,
    INTER_SITE,
    REGISTER,
    STAGE_IN,
    STAGE_OUT,
    Plan,
    PlannedJob,
)

BUNDLE = "pegasus-lite.pyz"
PEGASUS_VERSION = "5.0.5"  # the Pegasus release whose submit-dir formats we write
PERIODIC_REMOVE = "(JobStatus == 5) && ((CurrentTime - EnteredCurrentStatus) > 1800)"
DEFAULT_MAXJOBS = {"registration": 1, "stagein": 10, "cleanup": 4, "stageout": 10}
PROGRESS_EVERY = 10000

Progress = Callable[[int, int], None]

# Pegasus's braindump keys, in its order; Pegasus.braindump refuses any other key.
BRAINDUMP_KEYS = (
    "user", "grid_dn", "submit_hostname", "root_wf_uuid", "wf_uuid", "dax", "dax_label",
    "dax_index", "dax_version", "pegasus_wf_name", "timestamp", "basedir", "submit_dir",
    "planner", "planner_version", "pegasus_build", "planner_arguments", "jsd", "rundir",
    "bindir", "vogroup", "uses_pmc", "properties", "condor_log", "dag", "type", "notify",
    "script", "app",
)  # fmt: skip

# Keys the writer owns: a condor profile cannot replace them without breaking the job.
RESERVED = frozenset(
    ("executable", "arguments", "environment", "queue", "log", "output", "error", "initialdir",
     "transfer_executable", "universe")
)  # fmt: skip
APPENDED = frozenset(("transfer_input_files", "transfer_output_files"))

AUX_XFORMATION = {
    STAGE_IN: "pegasus::transfer",
    STAGE_OUT: "pegasus::transfer",
    INTER_SITE: "pegasus::transfer",
    CLEANUP: "pegasus::cleanup",
    CREATE_DIR: "pegasus::dirmanager",
    REGISTER: "pegasus::rc-client",
}

_NODE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*\Z")
_DAG_WORDS = frozenset(("PARENT", "CHILD", "ALL_NODES"))
_DIRECTORY = re.compile(r"[A-Za-z0-9_.+-]+(/[A-Za-z0-9_.+-]+)*\Z")
_CONDOR_KEY = re.compile(r"(\+|[Mm][Yy]\.)?[A-Za-z_][A-Za-z0-9_.]*\Z")
_ENV_NAME = re.compile(r"[^\s=\"'$]+\Z")
_NEEDS_QUOTES = re.compile(r"[\s']")
_MACRO = re.compile(r"(\$+)(?=(\(|\[|[A-Za-z_][A-Za-z0-9_]*\())")
_PLAIN = re.compile(r"[A-Za-z0-9_./+=:@%,-]*\Z")
_BAD_CHARS = re.compile(r"[\n\r\x00]")
_CREATE = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_CLOEXEC", 0)
_JSON = json.JSONEncoder(separators=(",", ":"), check_circular=False).encode

SUB = """\
######################################################################
# PEGASUS WMS GENERATED SUBMIT FILE
# DAG : %s, Index = %d, Count = null
# SUBMIT FILE NAME : %s.sub
######################################################################
stream_error  = false
stream_output = false
environment = "%s"
%s%s
+pegasus_generator = "Pegasus"
+pegasus_root_wf_uuid = %s
+pegasus_wf_uuid = %s
+pegasus_version = "%s"
+pegasus_wf_name = %s
+pegasus_wf_time = %s
+pegasus_wf_xformation = %s
+pegasus_wf_dax_job_id = %s
+pegasus_wf_dag_job_id = "%s"
+pegasus_job_class = %d
+pegasus_site = %s
+pegasus_job_runtime = %d
+pegasus_cores = %d
+pegasus_gpus = %d
+pegasus_cluster_size = %d
queue
######################################################################
# END OF SUBMIT FILE
######################################################################
"""

# The keys between the environment and the +attributes, in Pegasus's (sorted) order.
VANILLA_BODY = """\
+WantIOProxy = True
%serror = %s
executable = %s
initialdir = %s
log = %s
notification = NEVER
output = %s
periodic_release = False
periodic_remove = %s
priority = %s
request_cpus = %s
%sshould_transfer_files = YES
submit_event_user_notes = %s
transfer_executable = true
%s%s%suniverse = vanilla
when_to_transfer_output = ON_EXIT"""

LOCAL_BODY = """\
%serror = %s
executable = %s
initialdir = %s
log = %s
notification = NEVER
output = %s
periodic_release = False
periodic_remove = %s
priority = %s
submit_event_user_notes = %s
universe = local"""

LOCAL_FIXED = {"notification": "NEVER", "periodic_release": "False"}
VANILLA_FIXED = {
    **LOCAL_FIXED,
    "should_transfer_files": "YES",
    "transfer_executable": "true",
    "when_to_transfer_output": "ON_EXIT",
}
LOCAL_KEYS = frozenset(
    ("arguments", "error", "executable", "initialdir", "log", "notification", "output",
     "periodic_release", "periodic_remove", "priority", "submit_event_user_notes", "universe")
)  # fmt: skip
VANILLA_KEYS = LOCAL_KEYS | frozenset(
    ("request_cpus", "request_gpus", "should_transfer_files", "transfer_executable",
     "transfer_input_files", "transfer_output_files", "transfer_output_remaps",
     "when_to_transfer_output")
)  # fmt: skip

DAG_HEAD = """\
######################################################################
# PEGASUS WMS GENERATED DAG FILE
# DAG %s
# Index = %d, Count = null
######################################################################
"""

DAG_JOB = """
JOB %s %s/%s.sub
SCRIPT POST %s %s exitcode -r $RETURN%s -l %s.exitcode.log -M %s.cache.meta%s  .//%s/%s.out
PRIORITY %s %d
RETRY %s %d
%sVARS %s +DAGNodeRetry="$(RETRY)"
"""

DAG_TAIL = """\
######################################################################
# End of DAG
######################################################################
"""


# --- the submit language -------------------------------------------------------------------


def literal(value: str, what: str) -> str:
    """``value`` written so HTCondor's macro expansion gives it back unchanged.

    A ``$`` that would start a macro becomes ``$(DOLLAR)``.  ``$$(`` and ``$$[`` are
    match-time substitutions and ``$(DOLLAR)`` itself cannot be written literally: those
    are refused, as are line breaks (the submit language is one line per key).
    """
    if _BAD_CHARS.search(value):
        raise PlanError("%s contains a line break or NUL, which a submit file cannot hold" % what)
    if "$" not in value:
        return value

    def escape(match: re.Match) -> str:
        run, after = match.group(1), match.group(2)
        if len(run) == 1:
            if after == "[":
                return run
            if after == "(" and value[match.end() + 1 : match.end() + 8].lower() == "dollar)":
                raise PlanError(
                    "%s contains '$(DOLLAR)', which HTCondor always expands" % what
                )  # fmt: skip
            return "$(DOLLAR)"
        if after in ("(", "["):
            raise PlanError(
                "%s contains '%s', which HTCondor substitutes when the job matches"
                % (what, run[:2] + after)
            )
        return run

    return _MACRO.sub(escape, value)


def _path(value: str, what: str) -> str:
    """A path as a bare submit value: no surrounding blanks, no trailing backslash."""
    if value != value.strip() or value.endswith("\\"):
        raise PlanError("%s %r starts or ends with a blank or a backslash" % (what, value))
    return literal(value, "%s %r" % (what, value))  # a refusal names the file


def _v2(arg: str) -> str:
    if not arg:
        return "''"
    if _NEEDS_QUOTES.search(arg) is None:
        return arg
    return "'%s'" % arg.replace("'", "''")


def quote_arguments(args: list[str], what: str = "arguments") -> str:
    """The ``arguments`` value in HTCondor's new syntax: each argument comes back intact."""
    raw = " ".join([_v2(a) for a in args])
    return '"%s"' % literal(raw.replace('"', '""'), what)


def quote_environment(env: dict[str, str], what: str = "environment") -> str:
    """The ``environment`` value in HTCondor's new syntax (quoted, blank-separated)."""
    return '"%s"' % _environment_body(env, what)


def _environment_body(env: dict[str, str], what: str) -> str:
    parts = []
    for name, value in env.items():
        if not _ENV_NAME.match(name):
            raise PlanError("%s: %r is not a valid environment variable name" % (what, name))
        parts.append("%s=%s" % (name, _v2(str(value))))
    return literal(" ".join(parts).replace('"', '""'), what)


def classad_string(value: str, what: str) -> str:
    """A ClassAd string literal (for ``+attr = "..."`` lines)."""
    if '"' in value or "\\" in value:
        value = value.replace("\\", "\\\\").replace('"', '\\"')
    return '"%s"' % literal(value, what)


def _file_list(files: list[str], what: str) -> str:
    joined = ",".join(files)
    if joined.count(",") != len(files) - 1:
        bad = next(f for f in files if "," in f)
        raise PlanError(
            "%s: HTCondor cannot transfer %r: file names with a comma are not supported"
            % (what, bad)
        )
    if _PLAIN.match(joined):
        return joined
    return ",".join([_path(f, what) for f in files])


def _remaps(remaps: dict[str, str], what: str) -> str:
    parts = []
    for name, target in remaps.items():
        for item in (name, target):
            if not item or '"' in item or "\\" in item or item != item.strip():
                raise PlanError("%s: cannot remap %r to %r" % (what, name, target))
        name = name.replace(";", "\\;").replace("=", "\\=")
        target = target.replace(";", "\\;").replace("=", "\\=")
        parts.append("%s = %s" % (name, target))
    return '"%s"' % literal("; ".join(parts), what)


# --- one submit file ------------------------------------------------------------------------


class _Writer:
    """What every job of one plan shares, worked out once."""

    def __init__(self, plan: Plan):
        if not _NODE.match(plan.workflow or ""):
            raise PlanError("workflow name %r: use letters, digits, '_' and '-'" % plan.workflow)
        submit = plan.submit_dir
        if not os.path.isabs(submit or "") or re.search(r"[\s$\"'\\]", submit):
            raise PlanError(
                "submit directory %r must be an absolute path without blanks, quotes, '$' "
                "or backslashes (DAGMan reads its lines word by word)" % submit
            )
        self.plan = plan
        self.submit = os.path.normpath(submit)
        self.dag_name = plan.dag_name
        self.executable = self.submit + "/" + BUNDLE
        self.log = self.submit + "/" + self.dag_name + ".log"
        braindump = plan.braindump or {}
        what = "workflow %s" % plan.workflow
        self.root_uuid = classad_string(braindump.get("root_wf_uuid") or plan.uuid, what)
        self.uuid = classad_string(plan.uuid, what)
        self.wf_name = classad_string(self.dag_name, what)
        self.wf_time = classad_string(plan.timestamp, what)
        self.env_base = _environment_body(
            {"CONDOR_JOBID": "X", "PEGASUS_WF_UUID": plan.uuid, "PEGASUS_WF_LABEL": plan.workflow},
            what,
        ).replace("CONDOR_JOBID=X", "CONDOR_JOBID=$(cluster).$(process)")
        self.local_path = os.environ.get("PATH", "/usr/local/bin:/usr/bin:/bin")
        self.sites: dict[str, tuple[str, str, str]] = {}
        self.xforms: dict[str, str] = {}
        self.profiles: dict[tuple, tuple[dict, str]] = {}

    def site(self, site: str) -> tuple[str, str, str]:
        known = self.sites.get(site)
        if known is None:
            what = "site %r" % site
            env = _environment_body({"PEGASUS_SITE": site}, what)
            notes = literal("pool:%s" % site, what)
            if notes != notes.strip() or notes.endswith("\\"):
                raise PlanError("site name %r starts or ends with a blank" % site)
            known = self.sites[site] = (env, notes, classad_string(site, what))
        return known

    def xformation(self, name: str) -> str:
        known = self.xforms.get(name)
        if known is None:
            known = self.xforms[name] = classad_string(name, "transformation %r" % name)
        return known

    def submit_text(self, job: PlannedJob) -> str:
        name = job.name
        what = "job %s" % name
        jobdir = "%s/%s" % (self.submit, job.directory)
        if job.universe not in ("vanilla", "local"):
            raise PlanError(
                "%s: universe %r: only vanilla and local are written" % (what, job.universe)
            )
        vanilla = job.universe == "vanilla"
        site_env, notes, site = self.site(job.site)

        env = "%s PEGASUS_DAG_JOB_ID=%s %s" % (self.env_base, name, site_env)
        extra = job.environment
        if not vanilla and "PATH" not in extra:
            extra = dict(extra)
            extra["PATH"] = self.local_path
        if extra:
            env = "%s %s" % (env, _environment_body(extra, what))

        spec_file = None
        args = job.arguments
        if job.spec is not None:
            spec_file = "%s/%s.json" % (jobdir, name)
            args = args or [name + ".json" if vanilla else spec_file]
        values = {
            "arguments": quote_arguments(args, what + " arguments") if args else None,
            "error": "%s/%s.err" % (jobdir, name),
            "executable": self.executable,
            "initialdir": _path(job.initialdir, what + " initialdir") if job.initialdir else jobdir,
            "log": self.log,
            "output": "%s/%s.out" % (jobdir, name),
            "periodic_remove": PERIODIC_REMOVE,
            "priority": str(int(job.priority)),
            "submit_event_user_notes": notes,
        }
        if vanilla:
            values["request_cpus"] = str(int(job.cores))
            values["request_gpus"] = str(int(job.gpus)) if job.gpus else None
            inputs = job.input_files
            if spec_file is not None and spec_file not in inputs:
                inputs = [spec_file, *inputs]
            outputs = job.output_files
            values["transfer_input_files"] = (
                _file_list(inputs, what + " transfer_input_files") if inputs else None
            )
            values["transfer_output_files"] = (
                _file_list(outputs, what + " transfer_output_files") if outputs else None
            )
            values["transfer_output_remaps"] = (
                _remaps(job.output_remaps, what) if job.output_remaps else None
            )

        overrides, added = self.profile(job) if job.condor else (None, "")
        if overrides:
            body = self._merged_body(job, vanilla, values, overrides)
        else:
            body = self._body(vanilla, values)

        xform = job.transformation or AUX_XFORMATION.get(job.job_class, "pegasus::transfer")
        return SUB % (
            self.plan.workflow,
            self.plan.index,
            name,
            env,
            body,
            added,
            self.root_uuid,
            self.uuid,
            PEGASUS_VERSION,
            self.wf_name,
            self.wf_time,
            self.xformation(xform),
            classad_string(job.dax_job_id or "null", what),
            name,
            job.job_class,
            site,
            int(job.runtime),
            int(job.cores),
            int(job.gpus),
            int(job.cluster_size),
        )

    @staticmethod
    def _body(vanilla: bool, v: dict) -> str:
        """The fixed keys through one template: the common, fast case."""
        arguments = v["arguments"]
        arguments = "arguments = %s\n" % arguments if arguments is not None else ""
        common = (
            arguments,
            v["error"],
            v["executable"],
            v["initialdir"],
            v["log"],
            v["output"],
            v["periodic_remove"],
            v["priority"],
        )
        if not vanilla:
            return LOCAL_BODY % (*common, v["submit_event_user_notes"])
        gpus, inputs = v["request_gpus"], v["transfer_input_files"]
        outputs, remaps = v["transfer_output_files"], v["transfer_output_remaps"]
        return VANILLA_BODY % (
            *common,
            v["request_cpus"],
            "request_gpus = %s\n" % gpus if gpus is not None else "",
            v["submit_event_user_notes"],
            "transfer_input_files = %s\n" % inputs if inputs is not None else "",
            "transfer_output_files = %s\n" % outputs if outputs is not None else "",
            "transfer_output_remaps = %s\n" % remaps if remaps is not None else "",
        )

    @staticmethod
    def _merged_body(job: PlannedJob, vanilla: bool, values: dict, overrides: dict) -> str:
        """The fixed keys with a condor profile's replacements (same order as ``_body``)."""
        keys = dict(VANILLA_FIXED if vanilla else LOCAL_FIXED)
        keys.update(values)
        keys["universe"] = job.universe
        for key, value in overrides.items():
            if key in APPENDED and keys.get(key):
                keys[key] = "%s,%s" % (keys[key], value)
            else:
                keys[key] = value
        lines = ["%s = %s" % kv for kv in sorted(keys.items()) if kv[1] is not None]
        if vanilla:
            lines.insert(0, "+WantIOProxy = True")
        return "\n".join(lines)

    def profile(self, job: PlannedJob) -> tuple[dict, str]:
        """A condor profile split into replacements of our keys and lines it adds.

        Worked out once per distinct profile: in a large workflow most jobs share one.
        """
        cache_key = (job.universe, *job.condor.items())
        known = self.profiles.get(cache_key)
        if known is not None:
            return known
        fixed = VANILLA_KEYS if job.universe != "local" else LOCAL_KEYS
        overrides, added, attrs = {}, [], []
        for key, value in job.condor.items():
            what = "job %s: condor profile %r" % (job.name, key)
            if not _CONDOR_KEY.match(key):
                raise PlanError("%s is not a submit command or ClassAd attribute name" % what)
            value = str(value)
            if _BAD_CHARS.search(value) or value.rstrip().endswith("\\"):
                raise PlanError("%s: the value must be one line, not ending in a backslash" % what)
            lower = key.lower()
            if key[0] == "+" or lower.startswith("my."):
                attrs.append("\n%s = %s" % (key, value))
            elif lower in RESERVED:
                if lower == "universe" and value.strip() == job.universe:
                    continue
                raise PlanError("%s is set by the planner and cannot be overridden" % what)
            elif lower in fixed:
                overrides[lower] = value.strip()
            else:
                added.append("\n%s = %s" % (lower, value.strip()))
        known = self.profiles[cache_key] = (overrides, "".join(sorted(added) + attrs))
        return known


def submit_text(plan: Plan, job: PlannedJob) -> str:
    """The ``.sub`` for one job (what ``write`` puts in ``<dir>/<job>.sub``)."""
    return _Writer(plan).submit_text(job)


# --- the DAG --------------------------------------------------------------------------------


def _dag_job(w: _Writer, job: PlannedJob) -> str:
    name = job.name
    success = ""
    if job.success_message:
        message = job.success_message.replace(" ", "+")
        if re.search(r"[\s\"']", message):
            raise PlanError("job %s: success message %r cannot be written" % (name, message))
        success = " -s " + message
    if job.spec is None:
        # auxiliary jobs run pegasus-transfer bare: their .out holds no kickstart record
        success += " -I"
    category = "CATEGORY %s %s\n" % (name, job.category) if job.category else ""
    return DAG_JOB % (
        name,
        job.directory,
        name,
        name,
        w.executable,
        success,
        w.dag_name,
        w.dag_name,
        "" if job.integrity else " -N",
        job.directory,
        name,
        name,
        int(job.priority),
        name,
        int(job.retry),
        category,
        name,
    )


def _check_name(job: PlannedJob) -> None:
    name = job.name
    if not _NODE.match(name or "") or name.upper() in _DAG_WORDS:
        raise PlanError("job name %r: use letters, digits, '_', '.' and '-'" % name)


def _check_job(job: PlannedJob, seen: set) -> None:
    _check_name(job)
    name = job.name
    if name in seen:
        raise PlanError("two jobs are named %s" % name)
    for parent in job.parents:
        if parent not in seen:
            raise PlanError("job %s: parent %s is not an earlier job of the plan" % (name, parent))
    if job.category is not None and not _NODE.match(job.category):
        raise PlanError("job %s: category %r is not a DAG category name" % (name, job.category))
    if job.spec is None and job.transfers is None and job.universe != "local":
        raise PlanError("job %s has neither a job spec nor a transfer list" % name)


# --- braindump and properties ---------------------------------------------------------------


def _user() -> str:
    for key in ("USER", "LOGNAME"):
        if os.environ.get(key):
            return os.environ[key]
    try:
        import pwd

        return pwd.getpwuid(os.getuid()).pw_name
    except (ImportError, KeyError):
        return str(os.getuid())


def braindump_text(plan: Plan) -> str:
    """``braindump.yml`` as Pegasus writes it: its keys, every value a quoted string."""
    dag = plan.dag_name
    planner = sys.argv[0] if sys.argv and sys.argv[0] else "pegasus-plan"
    values = {
        "user": _user(),
        "grid_dn": None,
        "submit_hostname": socket.gethostname(),
        "root_wf_uuid": plan.uuid,
        "wf_uuid": plan.uuid,
        "dax": "",
        "dax_label": plan.workflow,
        "dax_index": str(plan.index),
        "dax_version": "5.0",
        "pegasus_wf_name": dag,
        "timestamp": plan.timestamp,
        "basedir": os.path.dirname(plan.submit_dir),
        "submit_dir": plan.submit_dir,
        "planner": os.path.abspath(planner),
        "planner_version": PEGASUS_VERSION,
        "pegasus_build": "",
        "planner_arguments": "",
        "jsd": "jobstate.log",
        "rundir": os.path.basename(plan.submit_dir),
        "bindir": os.path.dirname(os.path.abspath(planner)),
        "vogroup": "pegasus",
        "uses_pmc": "false",
        "properties": "pegasus.properties",
        "condor_log": dag + ".log",
        "dag": dag + ".dag",
        "type": "dag",
        "notify": dag + ".notify",
    }
    for key, value in (plan.braindump or {}).items():
        if key not in BRAINDUMP_KEYS:
            raise PlanError("braindump key %r is not one Pegasus reads" % key)
        values[key] = value
    lines = []
    for key in BRAINDUMP_KEYS:
        if key not in values:
            continue
        value = values[key]
        lines.append("%s: %s\n" % (key, "null" if value is None else json.dumps(str(value))))
    return "".join(lines)


def _properties_key(text: str) -> str:
    out = []
    for ch in text:
        if ch in " =:#!\\":
            out.append("\\" + ch)
        else:
            out.append(ch)
    return "".join(out)


def _properties_value(text: str) -> str:
    text = text.replace("\\", "\\\\").replace("\n", "\\n").replace("\r", "\\r")
    if text.startswith(" "):
        text = "\\" + text
    return text


def properties_text(properties: dict[str, str]) -> str:
    """Java properties text, one sorted ``key=value`` per line, escaped as Java reads it."""
    return "".join(
        "%s=%s\n" % (_properties_key(k), _properties_value(str(v)))
        for k, v in sorted(properties.items())
    )


def _create(path: str, text: str, mode: int = 0o644) -> None:
    """One new file, written with as few calls as Python allows (no buffered wrapper)."""
    data = text.encode("utf-8")
    fd = os.open(path, _CREATE, mode)
    try:
        if os.write(fd, data) != len(data):
            raise OSError("short write to %s" % path)
    finally:
        os.close(fd)


def _atomic_write(path: str, text: str, mode: int = 0o644) -> None:
    tmp = "%s.tmp%d" % (path, os.getpid())
    try:
        with open(os.open(tmp, _CREATE, mode), "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


# --- the worker bundle ----------------------------------------------------------------------


def _cache_dir() -> str:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "pegasus-lite")


def _source_digest() -> str:
    """A hash of every file the bundle would hold: a change in any of them rebuilds it."""
    from lite import bundle as builder

    digest = hashlib.sha256(b"pegasus-lite bundle 1\n")
    for name in builder.OURS + builder.RIDERS:
        spec = importlib.util.find_spec(name)
        if spec is None or not spec.submodule_search_locations:
            digest.update(("missing %s\n" % name).encode())
            continue
        root = os.path.realpath(next(iter(spec.submodule_search_locations)))
        for top, dirs, files in os.walk(root):
            dirs[:] = sorted(d for d in dirs if d != "__pycache__")
            for file in sorted(files):
                if file.endswith((".so", ".pyd", ".pyc")):
                    continue
                path = os.path.join(top, file)
                digest.update(("%s/%s\n" % (name, os.path.relpath(path, root))).encode())
                with open(path, "rb") as f:
                    digest.update(hashlib.sha256(f.read()).digest())
    return digest.hexdigest()


def cached_bundle() -> str:
    """The built bundle for the code installed now, built once into the user's cache."""
    from lite import bundle as builder

    cache = _cache_dir()
    path = os.path.join(cache, "pegasus-lite-%s.pyz" % _source_digest()[:24])
    if os.path.isfile(path):
        return path
    os.makedirs(cache, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".build-", suffix=".pyz", dir=cache)
    os.close(fd)
    try:
        builder.build(tmp)
        os.chmod(tmp, 0o755)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path


def install_bundle(submit_dir: str, bundle: str | None = None) -> str:
    """Put the worker bundle at ``<submit_dir>/pegasus-lite.pyz`` (mode 0755)."""
    target = os.path.join(submit_dir, BUNDLE)
    if bundle is None:
        try:
            bundle = cached_bundle()
        except OSError:  # no usable cache dir: build straight into the submit dir
            from lite import bundle as builder

            builder.build(target)
            os.chmod(target, 0o755)
            return target
    elif not os.path.isfile(bundle):
        raise PlanError("worker bundle %s: no such file" % bundle)
    tmp = target + ".tmp"
    shutil.copyfile(bundle, tmp)
    os.chmod(tmp, 0o755)
    os.replace(tmp, target)
    return target


# --- the whole submit dir -------------------------------------------------------------------


def write(plan: Plan, bundle: str | None = None, progress: Progress | None = None) -> None:
    """Write the submit directory of ``plan``; ``progress(done, total)`` is told as jobs go.

    ``bundle`` is an already built ``pegasus-lite.pyz`` to copy; without it the bundle is
    built (once per version of the code, cached under ``~/.cache/pegasus-lite``).
    """
    w = _Writer(plan)
    submit = w.submit
    try:
        os.makedirs(submit, exist_ok=True)
    except OSError as e:
        raise PlanError("cannot create the submit directory %s: %s" % (submit, e.strerror)) from e
    try:
        install_bundle(submit, bundle)
    except OSError as e:
        raise PlanError("cannot install the worker bundle: %s" % e) from e

    dag_path = "%s/%s.dag" % (submit, w.dag_name)
    dag_tmp = "%s.tmp%d" % (dag_path, os.getpid())
    total = len(plan.jobs)
    made: set = set()
    seen: set = set()
    try:
        with open(dag_tmp, "w", encoding="utf-8") as dag:
            dag.write(DAG_HEAD % (plan.workflow, plan.index))
            for category, limit in (plan.maxjobs or DEFAULT_MAXJOBS).items():
                if not _NODE.match(category) or not re.match(r"[0-9]+\Z", str(limit)):
                    raise PlanError(
                        "MAXJOBS %s %r: need a category name and a count" % (category, limit)
                    )
                dag.write("MAXJOBS %s %s\n" % (category, limit))
            chunk = []
            for done, job in enumerate(plan.jobs, 1):
                _check_job(job, seen)
                seen.add(job.name)
                if not job.written:
                    _write_job_files(w, job, made)
                chunk.append(_dag_job(w, job))
                if done % PROGRESS_EVERY == 0:
                    dag.write("".join(chunk))
                    chunk = []
                    if progress is not None:
                        progress(done, total)
            dag.write("".join(chunk))
            dag.write("\n")
            chunk = []
            for job in plan.jobs:
                child = job.name
                for parent in job.parents:
                    chunk.append("PARENT  %s CHILD %s\n" % (parent, child))
                if len(chunk) >= PROGRESS_EVERY:
                    dag.write("".join(chunk))
                    chunk = []
            dag.write("".join(chunk))
            dag.write(DAG_TAIL)
        braindump = plan.braindump or {}
        properties = braindump.get("properties") or "pegasus.properties"
        _atomic_write("%s/%s" % (submit, os.path.basename(properties)),
                      properties_text(plan.properties or {}), 0o600)  # fmt: skip
        _atomic_write(submit + "/braindump.yml", braindump_text(plan))
        os.replace(dag_tmp, dag_path)
    except OSError as e:
        where = e.filename or submit
        raise PlanError("cannot write %s: %s" % (where, e.strerror or e)) from e
    finally:
        if os.path.exists(dag_tmp):
            os.unlink(dag_tmp)
    if progress is not None:
        progress(total, total)


def _write_job_files(w: _Writer, job: PlannedJob, made: set) -> None:
    """``<dir>/<job>.sub`` and its ``.json`` (compute) or ``.in`` (auxiliary)."""
    directory = job.directory
    if directory not in made:
        if not _DIRECTORY.match(directory) or ".." in directory.split("/"):
            raise PlanError("job %s: bad directory %r" % (job.name, directory))
        os.makedirs("%s/%s" % (w.submit, directory), exist_ok=True)
        made.add(directory)
    base = "%s/%s/%s" % (w.submit, directory, job.name)
    _create(base + ".sub", w.submit_text(job))
    # a job spec (its tasks' env profiles) and a transfer list (its URLs) may carry
    # secrets the job needs: they are their owner's alone
    if job.spec is not None:
        spec = job.spec
        _create(base + ".json", spec if isinstance(spec, str) else _JSON(spec), 0o600)
    elif job.transfers is not None:
        transfers = job.transfers
        _create(base + ".in", transfers if isinstance(transfers, str) else _JSON(transfers), 0o600)


_NOTHING: dict = {}  # what a streamed job's dicts become (nothing reads them again)


class Streamer:
    """Writes each compute job's files the moment the planner has built it, then keeps
    only what the DAG needs (name, directory, parents, retry...): a million-job plan then
    never holds a million job specs and submit descriptions at once.  ``write`` does the
    rest (auxiliary jobs, the DAG, braindump, the bundle) when planning is done.

    Pass it as ``PlanOptions.on_job``; ``started`` says whether it created the submit dir
    (so a planning error can remove the half-written dir)."""

    def __init__(self) -> None:
        self.writer: _Writer | None = None
        self.made: set = set()
        self.started = False

    def __call__(self, plan: Plan, job: PlannedJob) -> None:
        w = self.writer
        if w is None:
            w = self.writer = _Writer(plan)
            os.makedirs(w.submit, exist_ok=True)
            self.started = True
        _check_name(job)
        try:
            _write_job_files(w, job, self.made)
        except OSError as e:
            where = e.filename or w.submit
            raise PlanError("cannot write %s: %s" % (where, e.strerror or e)) from e
        job.written = True
        if job.spec is not None:
            job.spec = ""  # not None: still a compute job for the DAG
        job.transfers = None if job.transfers is None else ""
        job.arguments = job.input_files = job.output_files = ()
        job.environment = job.condor = job.output_remaps = _NOTHING


def now_stamp() -> str:
    """The planning time as Pegasus writes it (``20230303T222333-0800``)."""
    return time.strftime("%Y%m%dT%H%M%S%z")
