"""The job spec: what the planner asks pegasus-lite to do for one job, as versioned JSON.

Declarative (no generated shell): what to run, what to stage in and out, checksums,
container, time limit and labels.  ``load()`` checks every field and names the one that is
wrong (``inputs[1].sources[0].url: missing``), so a broken spec fails before anything runs.

Example (``version`` 1)::

    {
      "version": 1,
      "job": {"id": "ID0000001", "name": "preprocess_ID0000001", "site": "condorpool",
              "workflow": {"name": "diamond", "uuid": "1b4...", "stamp": "2026-11-21T06:00:00Z"}},
      "tasks": [{
        "transformation": "diamond::preprocess:4.0",
        "executable": {"lfn": "keg"},                 # or {"path": "/usr/bin/keg"}
        "arguments": ["-i", "f.a", "-o", "f.b1", "f.b2"],
        "environment": {"OMP_NUM_THREADS": "1"},
        "walltime": 600
      }],
      "container": {"runtime": "docker", "image": "docker://127.0.0.1:5000/img:1",
                    "image_lfn": "img.tar", "sha256": "...", "mounts": ["/data:/data:ro"],
                    "gpus": false, "options": ["--shm-size", "1g"]},
      "inputs": [{"lfn": "keg", "executable": true,
                  "sources": [{"url": "file:///bin/keg", "site": "local"}]},
                 {"lfn": "f.a", "sha256": "...", "symlink": true,
                  "sources": [{"url": "http://host/f.a", "site": "web"}]},
                 {"lfn": "run/f.c"}],                 # no sources: HTCondor brings it
      "outputs": [{"lfn": "f.b1", "destinations": [{"url": "file:///out/f.b1", "site": "local"}]},
                  {"lfn": "f.b2", "optional": true, "destinations": [...]}],
      "checkpoints": [{"lfn": "state.ckpt", "sources": [...], "destinations": [...]}],
      "credentials": [{"env": "SSH_PRIVATE_KEY", "file": "id_rsa"}],
      "transfer": {"attempts": 3, "threads": 4}
    }

``container``: ``runtime`` is docker, podman, apptainer or singularity.  ``image`` is the
reference to pull when the node has no copy (``docker://host/name:tag``, ``library://...``;
a path for apptainer).  ``image_lfn`` names the image file (a ``docker save`` tar, or a SIF
for apptainer), usually also listed in ``inputs`` with its sources: it is staged only when
the node's image cache does not already hold the image.  ``sha256`` is that file's checksum
or, with no ``image_lfn``, the pulled image's ID or manifest digest.  ``mounts`` are extra
``host:container[:options]`` binds, ``gpus`` asks for every GPU, ``options`` are appended
to the engine's run command.

``inputs``: an input without ``sources`` is one the batch system brings into the job's
start directory (condorio: HTCondor's transfer_input_files), by its LFN or, for a deep LFN
like ``a/b/c.txt``, by its base name.  Its checksum is the spec's ``sha256`` or, without one,
the value in the ``.meta`` files that came along (the parent jobs' outputs).

``credentials``: secrets the batch system brings into the job's start directory (HTCondor's
transfer_input_files) as ``file``, a bare file name.  pegasus-lite moves each into the work
dir (mode 0600), sets the environment variable ``env`` to its absolute path for staging and
for the tasks (``SSH_PRIVATE_KEY``, ``SSH_PRIVATE_KEY_<site>``, ``PEGASUS_CREDENTIALS``,
``X509_USER_PROXY``, ``IRODS_ENVIRONMENT_FILE``, ``GOOGLE_APPLICATION_CREDENTIALS``, ...: the
names the transfer engine reads), and deletes it when the job ends, whatever the outcome.  A
missing file fails the job (exit 71) before anything is staged.

``tasks[].arguments``: the task's argument vector, passed to the program as it is: no
shell, so quotes, blanks, line breaks, ``;``, ``|``, ``*``, ``$()`` and backticks are plain
characters.  As with pegasus-kickstart (which Pegasus users rely on, since HTCondor does not
do it), ``$NAME`` and ``${NAME}`` of the task's environment are expanded outside single
quotes, an unset one stays as written, and a backslash outside quotes makes the next
character literal (kickstart/argexpand.py).  The record shows the vector the task got.

File names (``lfn``, ``stdin``/``stdout``/``stderr``, ``image_lfn``) are relative paths
inside the work dir: deep names (``a/b/c.txt``) are fine; absolute paths, ``..``, ``.`` or
empty parts, ``$NAME`` (file URLs expand it) and one name inside another (``a`` and
``a/x``) are refused when the spec is loaded.  An output that turns out to be a link out
of the work dir is neither hashed nor staged out: the job fails (71).

``tasks[].success_message`` / ``failure_message``: after the task ends, its stdout and
stderr (the part kickstart keeps in the record, or the named ``stdout``/``stderr`` files)
must contain the success message and must not contain the failure message, else the task
counts as failed (exit 1 when it had exited 0).  ``tasks[].stdin``/``stdout``/``stderr``
name files in the work dir that the task reads and writes instead of captured streams.
"""

from __future__ import annotations

import json
from typing import Any

VERSION = 1
RUNTIMES = ("docker", "podman", "apptainer", "singularity")


class SpecError(Exception):
    """The spec is not valid: the message names the field."""


def _type(value: Any, kind: type | tuple, where: str) -> Any:
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        names = kind.__name__ if isinstance(kind, type) else " or ".join(k.__name__ for k in kind)
        raise SpecError("%s: expected %s, got %s" % (where, names, type(value).__name__))
    return value


def _field(obj: dict, key: str, kind: type | tuple, where: str, default: Any = ...) -> Any:
    if key not in obj or obj[key] is None:
        if default is ...:
            raise SpecError("%s.%s: missing" % (where, key))
        return default
    return _type(obj[key], kind, "%s.%s" % (where, key))


def _unknown(obj: dict, allowed: set, where: str) -> None:
    extra = sorted(set(obj) - allowed)
    if extra:
        raise SpecError("%s: unknown field %s" % (where, ", ".join(repr(k) for k in extra)))


def lfn_problem(value: str) -> str | None:
    """Why an LFN cannot be a file name inside the work dir, or None when it can.

    Deep names (``a/b/c.txt``) are fine; what could leave the directory or name it twice is
    not: an absolute path, ``..``, ``.`` or empty parts, NUL.  Nor is ``$NAME``/``${NAME}``:
    pegasus-transfer expands those in file URLs (as Pegasus's does), so the file would be
    staged under another name.  The planner refuses the same names before it plans."""
    if not value:
        return "is empty"
    if value[0] == "/":
        return "is an absolute path"
    if "\0" in value:
        return "holds a NUL character"
    if "." in value or "//" in value or value[-1] == "/":
        parts = value.split("/")
        if ".." in parts:
            return "goes up with '..'"
        if "." in parts or "" in parts:
            return "has an empty or '.' part"
    dollar = value.find("$")
    while dollar >= 0:
        after = value[dollar + 1 : dollar + 2]
        if after == "{" or after == "_" or after.isalnum():
            return "holds '$' before a name, which file URLs expand as an environment variable"
        dollar = value.find("$", dollar + 1)
    return None


def _lfn(value: str, where: str) -> str:
    """An LFN becomes a file name in the work dir: it must stay inside it."""
    problem = lfn_problem(value)
    if problem is not None:
        raise SpecError(
            "%s: %r %s: not a safe file name inside the work dir" % (where, value, problem)
        )
    return value


def _sha256(value: Any, where: str) -> str | None:
    if value is None:
        return None
    text = _type(value, str, where).lower()
    if len(text) != 64 or any(c not in "0123456789abcdef" for c in text):
        raise SpecError("%s: not a sha256 in hex" % where)
    return text


class Location:
    """One URL with its site label, as the transfer list wants it."""

    def __init__(self, obj: Any, where: str):
        obj = _type(obj, dict, where)
        _unknown(obj, {"url", "site", "priority"}, where)
        self.url: str = _field(obj, "url", str, where)
        self.site: str = _field(obj, "site", str, where, "local")
        self.priority: int | None = _field(obj, "priority", int, where, None)

    def as_transfer_url(self) -> dict:
        entry = {"url": self.url, "site_label": self.site}
        if self.priority is not None:
            entry["priority"] = self.priority
        return entry


def _locations(obj: dict, key: str, where: str, required: bool = True) -> list[Location]:
    items = _field(obj, key, list, where, None if not required else ...)
    if items is None:
        return []
    if required and not items:
        raise SpecError("%s.%s: needs at least one URL" % (where, key))
    return [Location(item, "%s.%s[%d]" % (where, key, i)) for i, item in enumerate(items)]


class InputFile:
    def __init__(self, obj: Any, where: str):
        obj = _type(obj, dict, where)
        _unknown(obj, {"lfn", "sources", "sha256", "executable", "symlink", "metadata"}, where)
        self.lfn = _lfn(_field(obj, "lfn", str, where), where + ".lfn")
        # no sources: the batch system brings the file into the start dir (condorio)
        self.sources = _locations(obj, "sources", where, required=False)
        self.sha256 = _sha256(obj.get("sha256"), where + ".sha256")
        self.executable: bool = _field(obj, "executable", bool, where, False)
        self.symlink: bool = _field(obj, "symlink", bool, where, False)
        self.metadata: dict = _field(obj, "metadata", dict, where, {})


class OutputFile:
    def __init__(self, obj: Any, where: str):
        obj = _type(obj, dict, where)
        _unknown(obj, {"lfn", "destinations", "optional", "metadata"}, where)
        self.lfn = _lfn(_field(obj, "lfn", str, where), where + ".lfn")
        self.destinations = _locations(obj, "destinations", where, required=False)
        self.optional: bool = _field(obj, "optional", bool, where, False)
        self.metadata: dict = _field(obj, "metadata", dict, where, {})


class Checkpoint:
    """Staged in when present (a retry), staged out even when the task is stopped."""

    def __init__(self, obj: Any, where: str):
        obj = _type(obj, dict, where)
        _unknown(obj, {"lfn", "sources", "destinations"}, where)
        self.lfn = _lfn(_field(obj, "lfn", str, where), where + ".lfn")
        self.sources = _locations(obj, "sources", where, required=False)
        self.destinations = _locations(obj, "destinations", where, required=False)


class Container:
    def __init__(self, obj: Any, where: str):
        obj = _type(obj, dict, where)
        _unknown(
            obj, {"runtime", "image", "image_lfn", "sha256", "mounts", "gpus", "options"}, where
        )
        self.runtime: str = _field(obj, "runtime", str, where)
        if self.runtime not in RUNTIMES:
            raise SpecError(
                "%s.runtime: %r is not one of %s" % (where, self.runtime, ", ".join(RUNTIMES))
            )
        self.image: str = _field(obj, "image", str, where)
        image_lfn = _field(obj, "image_lfn", str, where, None)
        self.image_lfn = _lfn(image_lfn, where + ".image_lfn") if image_lfn else None
        self.sha256 = _sha256(obj.get("sha256"), where + ".sha256")
        mounts = _field(obj, "mounts", list, where, [])
        self.mounts: list[str] = [
            _type(m, str, "%s.mounts[%d]" % (where, i)) for i, m in enumerate(mounts)
        ]
        self.gpus: bool = _field(obj, "gpus", bool, where, False)
        options = _field(obj, "options", list, where, [])
        self.options: list[str] = [
            _type(o, str, "%s.options[%d]" % (where, i)) for i, o in enumerate(options)
        ]


def _env_name(value: str, where: str) -> str:
    ok = value[:1].isascii() and (value[:1].isalpha() or value[:1] == "_")
    if not ok or not all(c.isascii() and (c.isalnum() or c == "_") for c in value):
        raise SpecError("%s: %r is not an environment variable name" % (where, value))
    return value


class Credential:
    """A secret file the batch system put in the start dir, named to the job by ``env``."""

    def __init__(self, obj: Any, where: str):
        obj = _type(obj, dict, where)
        _unknown(obj, {"env", "file"}, where)
        self.env: str = _env_name(_field(obj, "env", str, where), where + ".env")
        self.file: str = _field(obj, "file", str, where)
        if self.file in ("", ".", "..") or "/" in self.file or "\0" in self.file:
            raise SpecError(
                "%s.file: %r is not a bare file name (the batch system puts the file in the "
                "job's start directory)" % (where, self.file)
            )


class Task:
    def __init__(self, obj: Any, where: str):
        obj = _type(obj, dict, where)
        allowed = {
            "transformation", "id", "executable", "arguments", "environment", "walltime",
            "success_message", "failure_message", "metadata", "stdin", "stdout", "stderr",
        }  # fmt: skip
        _unknown(obj, allowed, where)
        self.transformation: str | None = _field(obj, "transformation", str, where, None)
        self.id: str | None = _field(obj, "id", str, where, None)
        executable = _field(obj, "executable", dict, where)
        _unknown(executable, {"path", "lfn"}, where + ".executable")
        if ("path" in executable) == ("lfn" in executable):
            raise SpecError("%s.executable: give exactly one of path or lfn" % where)
        self.executable_path: str | None = _field(
            executable, "path", str, where + ".executable", None
        )
        lfn = _field(executable, "lfn", str, where + ".executable", None)
        self.executable_lfn = _lfn(lfn, where + ".executable.lfn") if lfn else None
        arguments = _field(obj, "arguments", list, where, [])
        self.arguments: list[str] = [
            _type(a, str, "%s.arguments[%d]" % (where, i)) for i, a in enumerate(arguments)
        ]
        environment = _field(obj, "environment", dict, where, {})
        for key, value in environment.items():
            _type(value, str, "%s.environment.%s" % (where, key))
        self.environment: dict[str, str] = dict(environment)
        walltime = _field(obj, "walltime", (int, float), where, None)
        if walltime is not None and walltime <= 0:
            raise SpecError("%s.walltime: must be above 0 seconds" % where)
        self.walltime: float | None = walltime
        self.success_message: str | None = _field(obj, "success_message", str, where, None)
        self.failure_message: str | None = _field(obj, "failure_message", str, where, None)
        self.metadata: dict = _field(obj, "metadata", dict, where, {})
        for stream in ("stdin", "stdout", "stderr"):
            value = _field(obj, stream, str, where, None)
            setattr(self, stream, _lfn(value, "%s.%s" % (where, stream)) if value else None)


class JobSpec:
    def __init__(self, doc: Any):
        doc = _type(doc, dict, "spec")
        allowed = {
            "version", "job", "tasks", "container", "inputs", "outputs", "checkpoints",
            "credentials", "transfer", "metadata",
        }  # fmt: skip
        _unknown(doc, allowed, "spec")
        version = _field(doc, "version", int, "spec")
        if version != VERSION:
            raise SpecError(
                "spec.version: %d is not supported (this pegasus-lite reads %d)"
                % (version, VERSION)
            )
        job = _field(doc, "job", dict, "spec", {})
        _unknown(job, {"id", "name", "site", "workflow"}, "spec.job")
        self.job_id: str | None = _field(job, "id", str, "spec.job", None)
        self.job_name: str | None = _field(job, "name", str, "spec.job", None)
        self.site: str | None = _field(job, "site", str, "spec.job", None)
        workflow = _field(job, "workflow", dict, "spec.job", {})
        _unknown(workflow, {"name", "uuid", "stamp"}, "spec.job.workflow")
        self.workflow_name: str | None = _field(workflow, "name", str, "spec.job.workflow", None)
        self.workflow_uuid: str | None = _field(workflow, "uuid", str, "spec.job.workflow", None)
        self.workflow_stamp: str | None = _field(workflow, "stamp", str, "spec.job.workflow", None)
        tasks = _field(doc, "tasks", list, "spec")
        if not tasks:
            raise SpecError("spec.tasks: needs at least one task")
        self.tasks = [Task(t, "spec.tasks[%d]" % i) for i, t in enumerate(tasks)]
        container = doc.get("container")
        self.container = Container(container, "spec.container") if container else None
        self.inputs = [
            InputFile(f, "spec.inputs[%d]" % i)
            for i, f in enumerate(_field(doc, "inputs", list, "spec", []))
        ]
        self.outputs = [
            OutputFile(f, "spec.outputs[%d]" % i)
            for i, f in enumerate(_field(doc, "outputs", list, "spec", []))
        ]
        self.checkpoints = [
            Checkpoint(f, "spec.checkpoints[%d]" % i)
            for i, f in enumerate(_field(doc, "checkpoints", list, "spec", []))
        ]
        self.credentials = [
            Credential(c, "spec.credentials[%d]" % i)
            for i, c in enumerate(_field(doc, "credentials", list, "spec", []))
        ]
        transfer = _field(doc, "transfer", dict, "spec", {})
        _unknown(transfer, {"attempts", "threads"}, "spec.transfer")
        self.transfer_attempts: int = _field(transfer, "attempts", int, "spec.transfer", 3)
        self.transfer_threads: int = _field(transfer, "threads", int, "spec.transfer", 4)
        self.metadata: dict = _field(doc, "metadata", dict, "spec", {})
        self._check_names()

    def _check_names(self) -> None:
        seen: dict[str, str] = {}
        for kind, files in (("inputs", self.inputs), ("checkpoints", self.checkpoints)):
            for i, f in enumerate(files):
                where = "spec.%s[%d].lfn" % (kind, i)
                if f.lfn in seen:
                    raise SpecError("%s: %r is also %s" % (where, f.lfn, seen[f.lfn]))
                seen[f.lfn] = where
        self._check_nesting()
        names: dict[str, int] = {}
        for i, credential in enumerate(self.credentials):
            if credential.env in names:
                raise SpecError(
                    "spec.credentials[%d].env: %s is also spec.credentials[%d].env"
                    % (i, credential.env, names[credential.env])
                )
            names[credential.env] = i  # one file may serve several variables
        container = self.container
        if container is not None and container.image_lfn and container.sha256:
            for i, f in enumerate(self.inputs):
                if f.lfn == container.image_lfn and f.sha256 and f.sha256 != container.sha256:
                    raise SpecError(
                        "spec.container.sha256: differs from spec.inputs[%d].sha256, the same "
                        "file %r" % (i, f.lfn)
                    )
        for task_index, task in enumerate(self.tasks):
            if task.executable_lfn and not any(f.lfn == task.executable_lfn for f in self.inputs):
                raise SpecError(
                    "spec.tasks[%d].executable.lfn: %r is not among the inputs"
                    % (task_index, task.executable_lfn)
                )

    def _check_nesting(self) -> None:
        """No file of the job lies inside another (``a`` and ``a/x``): with ``a`` staged as
        a link to a directory elsewhere, ``a/x`` would be written there, outside the work
        dir."""
        named: dict[str, str] = {}
        for kind, files in (
            ("inputs", self.inputs), ("outputs", self.outputs), ("checkpoints", self.checkpoints)
        ):  # fmt: skip
            for i, f in enumerate(files):
                named.setdefault(f.lfn, "spec.%s[%d].lfn" % (kind, i))
        for i, task in enumerate(self.tasks):
            for stream in ("stdin", "stdout", "stderr"):
                name = getattr(task, stream)
                if name:
                    named.setdefault(name, "spec.tasks[%d].%s" % (i, stream))
        for name, where in named.items():
            slash = name.find("/")
            while slash > 0:
                outer = named.get(name[:slash])
                if outer is not None:
                    raise SpecError(
                        "%s: %r lies inside %r, which is also a file of the job (%s)"
                        % (where, name, name[:slash], outer)
                    )
                slash = name.find("/", slash + 1)


def load(path: str) -> JobSpec:
    try:
        with open(path, encoding="utf-8") as fh:
            doc = json.load(fh)
    except OSError as exc:
        raise SpecError("cannot read job spec %s: %s" % (path, exc.strerror)) from None
    except ValueError as exc:
        raise SpecError("job spec %s is not valid JSON: %s" % (path, exc)) from None
    except RecursionError:
        raise SpecError("job spec %s is not valid JSON: nested too deeply" % path) from None
    return JobSpec(doc)
