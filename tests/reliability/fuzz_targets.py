"""Fuzz targets: one function per parser of the project, and what to feed each of them.

A target takes one input (text, bytes, a decoded document or an argument list), hands it
to its parser and returns, or lets the parser's own error type escape.  ``run_case`` says
whether that held: any other exception (a traceback for the user), or an own error whose
message is not one line, is a defect.  ``tests/reliability/test_fuzz.py`` runs every
target a few hundred times in CI; ``python -m bench.fuzz`` runs the full count.

Inputs come from strategies (hypothesis) of three kinds: near-valid documents (real
Pegasus files and golden submit directories, mutated a few edits at a time), token soups
of each format's own syntax, and raw unicode or bytes; plus each format's known bombs
(entity and alias expansion, deep nesting, huge numbers, invalid UTF-8).
"""

from __future__ import annotations

import atexit
import contextlib
import copy
import functools
import json
import logging
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Callable

from hypothesis import strategies as st

REPO = Path(__file__).resolve().parents[2]
SHARED = Path(os.environ.get("PEGASUS_LITE_SHARED", REPO.parent / "shared"))
FIXTURES = SHARED / "fixtures" / "pegasus"
GOLDEN = FIXTURES / "golden-pegasus-5.0.5-submitdirs"

# what ${VAR} and $VAR may refer to in every target (a fixed environment: reproducible)
ENV = {"HOME": "/home/user", "PWD": "/work", "TOPDIR": "/work/top", "USER": "user"}


class Defect(Exception):
    """A target broke its contract without a traceback of its own (a leak, two lines)."""


class Target:
    """A parser entry point: ``run(example)``, the errors it may raise, its inputs."""

    def __init__(
        self,
        name: str,
        run: Callable[[Any], object],
        errors: tuple,
        strategy: Callable[[], st.SearchStrategy],
    ):
        self.name = name
        self.run = run
        self.errors = errors
        self._strategy = strategy

    @functools.cached_property
    def strategy(self) -> st.SearchStrategy:
        return self._strategy()


def run_case(target: Target, example: Any) -> BaseException | None:
    """None when the parser kept its contract on ``example``, else what went wrong."""
    try:
        target.run(example)
    except target.errors as error:
        message = str(error)
        if "\n" in message or "\r" in message:
            return Defect("%s: the error is not one line: %r" % (type(error).__name__, message))
        return None
    except Exception as error:  # the defects the fuzzing is for (RecursionError included)
        return error
    return None


def signature(problem: BaseException) -> str:
    """Where a problem comes from (exception type and the project's deepest frame): one
    signature per defect however many inputs trigger it."""
    place = "?"
    trace = problem.__traceback__
    while trace is not None:
        filename = trace.tb_frame.f_code.co_filename
        inside = filename.startswith(str(REPO)) and "site-packages" not in filename
        if inside and "/tests/" not in filename:
            place = "%s:%d" % (os.path.relpath(filename, REPO), trace.tb_lineno)
        trace = trace.tb_next
    if isinstance(problem, Defect):
        place = str(problem).split(":", 1)[0]
    return "%s at %s" % (type(problem).__name__, place)


# ---------------------------------------------------------------------------- scratch files


@functools.cache
def _scratch() -> Path:
    """One private directory per process for the parsers that read files."""
    path = Path(tempfile.mkdtemp(prefix="pegasus-fuzz-"))
    atexit.register(shutil.rmtree, path, True)
    return path


def _file(name: str, data: bytes, mode: int = 0o644) -> str:
    path = _scratch() / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    os.chmod(path, mode)
    return str(path)


@contextlib.contextmanager
def yaml_backend(name: str) -> Iterator[None]:
    """Parse with PyYAML although ryaml is installed (the back end of Python 3.9)."""
    from planner import yamlload

    saved = yamlload._ryaml
    if name == "pyyaml":
        yamlload._ryaml = None
    try:
        yield
    finally:
        yamlload._ryaml = saved


@contextlib.contextmanager
def _quiet(logger: logging.Logger) -> Iterator[None]:
    saved = logger.disabled
    logger.disabled = True
    try:
        yield
    finally:
        logger.disabled = saved


# ---------------------------------------------------------------------------- the targets


def transfer_json(text: str) -> None:
    """pegasus-transfer's JSON list (transfer/inputs.py)."""
    from transfer.inputs import parse_json

    for entry in parse_json(text, ENV):
        entry.describe()


def transfer_v1(text: str) -> None:
    """The old ``# src``/``# dst`` text pairs."""
    from transfer.inputs import parse_v1

    for entry in parse_v1(text, ENV):
        entry.describe()


def transfer_any(text: str) -> None:
    """Either format, as pegasus-transfer reads its input."""
    from transfer.inputs import parse

    for entry in parse(text, ENV):
        entry.describe()


def transfer_entries(doc: object) -> None:
    """Decoded entries, as pegasus-lite hands them over."""
    from transfer.inputs import parse_entries

    for entry in parse_entries(doc, ENV):
        entry.describe()


def url(text: str) -> None:
    """A URL (transfer/urls.py): parsed, shown, and never shown with its password."""
    from transfer.errors import BadInput
    from transfer.urls import URL, redact

    try:
        parsed = URL(text, ENV)
    except BadInput as error:  # the refusal must not show the password either
        password = _password_in(text)
        if password and password in str(error):
            raise Defect("password in the error: %r -> %r" % (text, str(error))) from None
        raise
    shown = str(parsed)
    parsed.location()
    _ = parsed.hostport, parsed.name, parsed.is_local
    redact(text)
    if parsed.password is not None and not parsed.is_local:
        again = URL(shown, ENV).password
        if again not in (None, "XXXX"):
            raise Defect("password shown: %r -> %r" % (text, shown))


def _password_in(text: str) -> str | None:
    """What a reader of ``scheme://user:password@host/`` takes for the password, when it
    appears nowhere else in the text (else no message could avoid it)."""
    _, sep, rest = text.partition("://")
    userinfo = rest.split("/", 1)[0].rpartition("@")[0]
    password = userinfo.partition(":")[2] if ":" in userinfo else ""
    if not sep or len(password) < 4 or text.count(password) > 1 or "XXXX" in password:
        return None
    return password


def job_spec(doc: object) -> None:
    """The job spec, decoded (lite/spec.py)."""
    from lite.spec import JobSpec

    JobSpec(doc)


def job_spec_file(data: bytes) -> None:
    """The job spec file, as pegasus-lite loads it."""
    from lite.spec import load

    load(_file("job.json", data))


def _yaml(text: str, backend: str) -> None:
    from planner.yamlload import loads_yaml

    with yaml_backend(backend):
        loads_yaml(text, "doc.yml")


def yaml_ryaml(text: str) -> None:
    """The planner's YAML loader with its fast back end."""
    _yaml(text, "ryaml")


def yaml_pyyaml(text: str) -> None:
    """The planner's YAML loader with PyYAML taught ryaml's rules."""
    _yaml(text, "pyyaml")


def yaml_lazy(text: str) -> None:
    """Big workflows' lazy top-level sequences, with the size thresholds made tiny."""
    from planner import yamlload

    saved = yamlload.LAZY_MIN_BYTES, yamlload.CHUNK_BYTES
    yamlload.LAZY_MIN_BYTES, yamlload.CHUNK_BYTES = 0, 64
    try:
        document = yamlload.load_text(text, "wf.yml", lazy=("jobs", "jobDependencies"))
        if isinstance(document, dict):
            for value in document.values():
                if isinstance(value, yamlload.LazySequence):
                    list(value)
    finally:
        yamlload.LAZY_MIN_BYTES, yamlload.CHUNK_BYTES = saved


def _workflow_file(data: bytes, backend: str) -> None:
    from planner.catalogs import Variables
    from planner.discovery import read_workflow

    with yaml_backend(backend):
        read_workflow(_file("workflow.yml", data), Variables(ENV))


def workflow_file(data: bytes) -> None:
    """A workflow file, YAML or DAX by its first bytes, as pegasus-plan reads it."""
    _workflow_file(data, "ryaml")


def workflow_file_pyyaml(data: bytes) -> None:
    """The same with PyYAML."""
    _workflow_file(data, "pyyaml")


def workflow_doc(doc: object) -> None:
    """A decoded workflow document (planner/workflow_yaml.py)."""
    from planner.workflow_yaml import parse_workflow

    parse_workflow(doc, "workflow.yml", ENV)


def dax(data: bytes) -> None:
    """A DAX 3 XML file (planner/dax.py)."""
    from planner.dax import parse_dax

    parse_dax(_file("workflow.dax", data), ENV)


def sites_doc(doc: object) -> None:
    from planner.catalogs import parse_sites

    parse_sites(doc, "sites.yml", ENV)


def transformations_doc(doc: object) -> None:
    from planner.catalogs import parse_transformations

    parse_transformations(doc, "transformations.yml", ENV)


def replicas_doc(doc: object) -> None:
    from planner.catalogs import parse_replicas

    parse_replicas(doc, "replicas.yml", ENV)


def catalog_yaml(text: str) -> None:
    """YAML text read as each of the three catalogs."""
    from planner import catalogs
    from planner.errors import PlanError
    from planner.yamlload import loads_yaml

    document = loads_yaml(text, "catalog.yml")
    for parse in (catalogs.parse_sites, catalogs.parse_transformations, catalogs.parse_replicas):
        with contextlib.suppress(PlanError):
            parse(copy.deepcopy(document), "catalog.yml", ENV)


def replicas_text(text: str) -> None:
    """The file replica catalog (``lfn pfn key="value"``) and the workflow's cache file."""
    from planner.catalogs import parse_replicas_text

    parse_replicas_text(text, "rc.txt", ENV)


def transformations_text(text: str) -> None:
    """The text transformation catalog (``tr ns::name:1.0 { site ... }``)."""
    from planner.catalogs import parse_transformations_text

    parse_transformations_text(text, "tc.txt", ENV)


def properties(text: str) -> None:
    """Java properties, layered, with their profiles and mode (planner/properties.py)."""
    from planner.errors import PlanError
    from planner.properties import Properties, parse_properties, properties_from_environment

    values = parse_properties(text, "pegasus.properties")
    layered = Properties(properties_from_environment({"_PEGASUS__MODE": "development"}))
    layered.update(values, "pegasus.properties", ENV)
    layered.profiles()
    for site in layered.profile_sites():
        layered.site_profiles(site)
    for key in list(values)[:8]:
        with contextlib.suppress(PlanError):
            layered.get_bool(key)
        with contextlib.suppress(PlanError):
            layered.get_int(key)
    layered.apply_mode()


def properties_file(data: bytes) -> None:
    """A properties file as the planner reads it (encoding included)."""
    from planner.properties import Properties

    Properties().update_from_file(_file("pegasus.properties", data), ENV)


def submit(text: str) -> None:
    """An HTCondor submit description as the local engine reads it (planner/subfile.py)."""
    from planner.subfile import parse_submit

    description = parse_submit(text, "job.sub", {"cluster": "7", "process": "0"})
    for key in list(description.commands)[:16]:
        description.get(key)
    description.arguments()
    description.environment()
    description.remaps()
    description.file_list("transfer_input_files")
    description.get_bool("should_transfer_files")


def dag(text: str) -> None:
    """A DAGMan file as the local engine reads it (planner/dagread.py)."""
    from planner.dagread import parse_dag

    parse_dag(text, str(_scratch() / "wf-0.dag"))


def classad(data: bytes) -> None:
    """HTCondor's plugin ads (transfer/classad_text.py), read, written back, read again."""
    from transfer.classad_text import format_ad, format_long, parse_ads

    for ad in parse_ads(data):
        parse_ads(format_ad(ad).encode("utf-8", "surrogateescape"))
        format_long(ad)


def record(text: str) -> None:
    """Kickstart records as pegasus-exitcode mines them for outputs (lite/exitcode.py)."""
    from lite import exitcode

    exitcode.stream_data(text)
    exitcode.cache_lines(exitcode.output_entries(text))


def statistics_records(text: str) -> None:
    """A job's .out as pegasus-statistics and pegasus-analyzer read its records
    (planner/records.py): damaged records are counted as errors, never raised."""
    from planner.records import parse_records

    found = parse_records(text, "job.out")
    found.integrity_checks()
    for invocation in found.invocations:
        _ = invocation.exitcode, invocation.ok


def jobstate(text: str) -> None:
    """The engine's jobstate.log, read back to resume a run (planner/jobstate.py)."""
    from planner import jobstate as js

    events = [event for event in map(js.parse_line, text.splitlines()) if event is not None]
    js.histories(events)
    js.last_cluster(events)


def exitcode_check(pair: tuple) -> None:
    """A job's .out and .err judged by pegasus-exitcode: a verdict, whatever they hold."""
    from lite import exitcode

    out, err = pair
    path = _file("job.out", out)
    _file("job.err", err)
    exitcode.check(path, None, success=("PegasusLite: exitcode 0",), rotate=False)


def kickstart_args(argv: list) -> None:
    """pegasus-kickstart's command line (kickstart/cli.py)."""
    from kickstart.cli import parse_args

    parse_args(argv)


def kickstart_expand(text: str) -> None:
    """$VAR expansion of a job's arguments (kickstart/argexpand.py)."""
    from kickstart.argexpand import expand_argument

    if not isinstance(expand_argument(text, ENV), str):
        raise Defect("expand_argument did not return text")


def kickstart_files(data: bytes) -> None:
    """-I argument files and -S/-s @list files."""
    from kickstart.cli import parse_args
    from kickstart.statinfo import FileEntry, read_list_file

    path = _file("args.txt", data)
    parse_args(["-I", path])
    for spec in read_list_file(path):
        FileEntry(spec, True)


def integrity_meta(data: bytes) -> None:
    """Pegasus's .meta JSON as pegasus-integrity --verify loads it (skipped when broken)."""
    from transfer import integrity

    _file("meta/job.meta", data)
    with _quiet(integrity.log):
        integrity.load_meta_dir(str(_scratch() / "meta"))


def integrity_list(text: str) -> None:
    """pegasus-integrity's ``[lfn=]pfn`` lists (``;;;`` or the older ``:``)."""
    from transfer.integrity_cli import split_list

    split_list(text, {})


def credentials(data: bytes) -> None:
    """The PEGASUS_CREDENTIALS INI file (transfer/credentials.py)."""
    from transfer.credentials import Credentials

    path = _file("credentials.conf", data, 0o600)
    found = Credentials({"PEGASUS_CREDENTIALS": path}).section(["default", "amazon"])
    if found is not None and not isinstance(found, dict):
        raise Defect("section is not a mapping")


def credential_json(data: bytes) -> None:
    """The JSON files beside the INI: an HTCondor OAuth token, a Google key file; and the
    node's image-cache entries (containers/cache.py).  (The iRODS environment file is not
    fuzzed: what follows its parsing may connect to the host it names.)"""
    from containers.cache import _read
    from transfer.condor_plugin import read_token
    from transfer.errors import CredentialError

    path = _file("creds/scitokens.use", data, 0o600)
    with contextlib.suppress(CredentialError):
        read_token("scitokens", {"_CONDOR_CREDS": os.path.dirname(path)})
    _read(path)
    with contextlib.suppress(CredentialError):
        from transfer.handlers.gs import GsHandler

        GsHandler._key_file(None, path, None, "GOOGLE_APPLICATION_CREDENTIALS")


def image_tar(data: bytes) -> None:
    """The manifest of a staged ``docker save`` tar, read for the image ID (containers/base.py):
    an ID or None, whatever the manifest holds."""
    import io
    import tarfile

    from containers.base import image_id_from_tar

    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        member = tarfile.TarInfo("manifest.json")
        member.size = len(data)
        tar.addfile(member, io.BytesIO(data))
    found = image_id_from_tar(_file("image.tar", buffer.getvalue()))
    if found is not None and not found.startswith("sha256:"):
        raise Defect("image ID %r" % found)


# ---------------------------------------------------------------------------- real inputs


def _read(path: Path) -> str:
    return path.read_text(encoding="utf-8")


def _files(pattern: str, root: Path = FIXTURES, limit: int = 64 << 10) -> list[Path]:
    """Fixture files matching ``pattern`` (small ones: the mutations stay fast)."""
    if not root.is_dir():
        return []
    return sorted(p for p in root.rglob(pattern) if p.is_file() and p.stat().st_size <= limit)


@functools.cache
def corpus(kind: str) -> tuple:
    """Real inputs of one kind, as text (or decoded documents for ``*_doc`` kinds)."""
    loaders: dict[str, Callable[[], list]] = {
        "transfer_json": lambda: [_read(p) for p in _files("*.in", GOLDEN) if _is_json(p)],
        "rc_text": lambda: (
            [_read(p) for p in _files("*.in", GOLDEN) if not _is_json(p)]
            + [_read(p) for p in _files("*.cache", GOLDEN)]
            + [RC_TEXT]
        ),
        "workflow": lambda: [_read(p) for p in _files("workflow.yml")],
        "sites": lambda: [_read(p) for p in _files("sites.yml")],
        "transformations": lambda: [_read(p) for p in _files("transformations.yml")],
        "replicas": lambda: [_read(p) for p in _files("replicas.yml")],
        "dax": lambda: [_read(p) for p in _files("*.dax", REPO / "tests" / "planner" / "data")],
        "properties": lambda: (
            [_read(p) for p in _files("*.properties")]
            + [_read(p) for p in _files("pegasusrc")]
            + [PROPERTIES_TEXT]
        ),
        "submit": lambda: [_read(p) for p in _files("*.sub", GOLDEN)][:40],
        "dag": lambda: [_read(p) for p in _files("*.dag", GOLDEN)],
        "meta": lambda: [_read(p) for p in _files("*.meta", GOLDEN)][:20],
        "jobstate": lambda: [_read(p) for p in _files("jobstate.log")] + [JOBSTATE_TEXT],
        "record": lambda: (
            [_read(p) for p in _files("*.yaml", REPO / "tests" / "kickstart")]
            + [_read(p) for p in _files("*.out", REPO / "tests" / "lite" / "reference")]
        ),
    }
    fixed: dict[str, list] = {
        "tc_text": [TC_TEXT],
        "classad": CLASSADS,
        "spec": [json.dumps(SPEC), json.dumps(SPEC_MINIMAL)],
        "credentials": [CREDENTIALS_TEXT],
        "credential_json": CREDENTIAL_JSON,
        "manifest": [
            json.dumps([{"Config": "%s.json" % ("ab" * 32), "RepoTags": ["x:1"], "Layers": []}]),
            json.dumps([{"Config": "blobs/sha256/" + "cd" * 32, "Layers": ["a/layer.tar"]}]),
        ],
        "integrity_list": ["a=/tmp/a;;;b=/tmp/b", "/x/y:/x/z", "lfn=pfn", "f.a"],
        "url": URLS,
    }
    if kind in fixed:
        found = list(fixed[kind])
    elif kind == "v1":
        found = [_as_v1(text) for text in corpus("transfer_json")[:20]] + [V1_TEXT]
    else:
        found = loaders[kind]()
    return tuple(t for t in found if t)


@functools.cache
def documents(kind: str) -> tuple:
    """Decoded documents of one kind (the YAML ones through the planner's loader)."""
    if kind == "spec":
        return (SPEC, SPEC_MINIMAL)
    if kind == "transfer":
        return tuple(json.loads(text) for text in corpus("transfer_json")[:30])
    from planner.errors import PlanError
    from planner.yamlload import loads_yaml

    found = []
    for text in corpus(kind):
        try:  # records: the kickstart ones parse, the .out files around them do not
            found.append(loads_yaml(text, kind))
        except PlanError:
            continue
    return tuple(found)


# the YAML kinds, whose mutated documents are also written back as YAML text
YAML_KINDS = ("workflow", "sites", "transformations", "replicas", "record")


def _is_json(path: Path) -> bool:
    return path.read_text(encoding="utf-8").lstrip().startswith(("[", "{"))


def _as_v1(text: str) -> str:
    lines = []
    for entry in json.loads(text):
        if entry.get("type", "transfer") != "transfer":
            continue
        for source, dest in zip(entry["src_urls"], entry["dest_urls"]):
            lines += ["# src 1 %s" % source.get("site_label", "local"), source["url"]]
            lines += ["# dst 1 %s" % dest.get("site_label", "local"), dest["url"]]
    return "\n".join(lines) + "\n"


RC_TEXT = """\
# file replica catalog
f.a file:///data/f.a site="local" checksum.type="sha256" checksum.value="%s"
f.b gsiftp://host/data/f.b pool="remote" owner="me"
r.* file:///data/[0] site="local" regex="true"
"quoted name" "file:///data/with space" site="local"
""" % ("ab" * 32)

JOBSTATE_TEXT = """\
1700000000 INTERNAL *** DAGMAN_STARTED 1 ***
1700000001 ID0000001 SUBMIT 12.0 local - 1
1700000002 ID0000001 EXECUTE 12.0 local - 1
1700000003 ID0000001 JOB_SUCCESS 0 local - 1
1700000004 ID0000001 POST_SCRIPT_SUCCESS 0 local - 1
1700000005 INTERNAL *** DAGMAN_FINISHED 0 ***
"""

TC_TEXT = """\
tr diamond::preprocess:4.0 {
    profile env "KEY" "value"
    profile pegasus "clusters.size" "3"
    site local {
        pfn "/usr/bin/keg"
        arch "x86_64"
        os "linux"
        type "INSTALLED"
        container "centos"
        metadata "owner" "me"
    }
}
cont centos {
    type "docker"
    image "docker:///centos:7"
    image_site "local"
    mount "/data:/data:ro"
    profile env "IN_CONTAINER" "1"
}
"""

PROPERTIES_TEXT = """\
# comment
! another comment
pegasus.mode = development
pegasus.catalog.site.file=${user.dir}/sites.yml
env.PATH : /bin:/usr/bin
condor.request_memory 2048
dagman.retry=3
pegasus.catalog.site.sites.condorpool.profiles.env.X = y
key\\ with\\ spaces = value \\
    continued \\u00e9
"""

V1_TEXT = """\
# src 1 local
file:///tmp/a
# dst 1 web
http://user:secret@example.org/a
"""

CREDENTIALS_TEXT = """\
[amazon]
endpoint = https://s3.amazonaws.com/

[user@amazon]
access_key = AKIAEXAMPLE
secret_key = abc/def

[default]
username = me
password = pass
"""

CREDENTIAL_JSON = [
    '{"access_token": "eyJhbGciOi.payload.sig", "expires_in": 1200}\n',
    '{"type": "authorized_user", "client_id": "id", "client_secret": "s", "refresh_token": "r"}',
    '{"type": "service_account", "project_id": "p", "private_key": "-----BEGIN", '
    '"client_email": "a@b.iam.gserviceaccount.com", "token_uri": "https://x/token"}',
    '{"irods_host": "127.0.0.1", "irods_port": 1247, "irods_user_name": "rods", '
    '"irods_zone_name": "tempZone"}',
    '{"image": "docker://x/y:1", "digest": "sha256:00", "size": 12, "used": 1.5}',
]

CLASSADS = [
    '[ Url = "http://example.org/a"; LocalFileName = "/scratch/a" ]'
    '[ Url = "s3://bucket/b"; LocalFileName = "/scratch/b"; Retries = 3 ]',
    '{ [ TransferUrl = "file:///a"; TransferSuccess = true; TransferTotalBytes = 12 ], '
    '[ TransferError = "no \\"such\\" file"; TransferSuccess = false ] }',
    '[ a = 1.5e3; b = -7; c = {1, "x", [d = undefined]}; e = a + b; f = 0x1f; g = "\\101\\n" ]',
    "[ PluginData = [ Cache = \"nearby\"; Weight = 2 ]; 'odd name' = true ] /* c */ // x",
]

URLS = [
    "file:///tmp/a",
    "/tmp/relative",
    "symlink://localhost/data/x",
    "moveto://$HOME/x",
    "http://user:secret@example.org:8080/a/b?x=1#y",
    "https://[::1]:443/p",
    "s3://user@amazon/bucket/key",
    "scp://host.example.org/~/file",
    "gsiftp://host:2811//abs/path",
    "go://endpoint/path",
    "docker://127.0.0.1:5000/img:1",
    "irods://zone/home/u",
]

SPEC: dict = {
    "version": 1,
    "job": {
        "id": "ID0000001",
        "name": "preprocess_ID0000001",
        "site": "condorpool",
        "workflow": {"name": "diamond", "uuid": "1b4", "stamp": "2026-11-21T06:00:00Z"},
    },
    "tasks": [
        {
            "transformation": "diamond::preprocess:4.0",
            "id": "ID0000001",
            "executable": {"lfn": "keg"},
            "arguments": ["-i", "f.a", "-o", "f.b1", "f.b2"],
            "environment": {"OMP_NUM_THREADS": "1"},
            "walltime": 600,
            "success_message": "done",
            "failure_message": "error",
            "metadata": {"k": "v"},
            "stdin": "in.txt",
            "stdout": "out.txt",
            "stderr": "err.txt",
        }
    ],
    "container": {
        "runtime": "docker",
        "image": "docker://127.0.0.1:5000/img:1",
        "image_lfn": "img.tar",
        "sha256": "ab" * 32,
        "mounts": ["/data:/data:ro"],
        "gpus": False,
        "options": ["--shm-size", "1g"],
    },
    "inputs": [
        {
            "lfn": "keg",
            "executable": True,
            "sources": [{"url": "file:///bin/keg", "site": "local"}],
        },
        {
            "lfn": "f.a",
            "sha256": "cd" * 32,
            "symlink": True,
            "sources": [{"url": "http://host/f.a", "site": "web", "priority": 10}],
            "metadata": {"size": "12"},
        },
        {"lfn": "img.tar", "sha256": "ab" * 32, "sources": [{"url": "file:///img.tar"}]},
        {"lfn": "run/f.c"},
    ],
    "outputs": [
        {"lfn": "f.b1", "destinations": [{"url": "file:///out/f.b1", "site": "local"}]},
        {"lfn": "f.b2", "optional": True, "destinations": [{"url": "s3://u@amazon/b/f.b2"}]},
    ],
    "checkpoints": [
        {
            "lfn": "state.ckpt",
            "sources": [{"url": "file:///ck/state.ckpt"}],
            "destinations": [{"url": "file:///ck/state.ckpt"}],
        }
    ],
    "credentials": [{"env": "SSH_PRIVATE_KEY", "file": "id_rsa"}],
    "transfer": {"attempts": 3, "threads": 4},
    "metadata": {"wf": "diamond"},
}

SPEC_MINIMAL: dict = {"version": 1, "tasks": [{"executable": {"path": "/bin/true"}}]}


# ---------------------------------------------------------------------------- bombs


def _yaml_laughs(levels: int = 9) -> str:
    lines = ["l0: &l0 [x, x, x, x, x, x, x, x, x]"]
    for level in range(1, levels + 1):
        refs = ", ".join(["*l%d" % (level - 1)] * 9)
        lines.append("l%d: &l%d [%s]" % (level, level, refs))
    return "\n".join(lines) + "\n"


def _xml_laughs(levels: int = 9) -> str:
    entities = ['<!ENTITY e0 "laughs">'] + [
        '<!ENTITY e%d "%s">' % (level, ("&e%d;" % (level - 1)) * 10)
        for level in range(1, levels + 1)
    ]
    return (
        '<?xml version="1.0"?>\n<!DOCTYPE adag [%s]>\n'
        '<adag version="3.6" name="&e%d;"><job id="j1" name="x"/></adag>\n'
        % ("".join(entities), levels)
    )


YAML_BOMBS = [
    _yaml_laughs(),
    "a: " + "[" * 50000 + "]" * 50000 + "\n",
    "- " * 40000 + "x\n",
    "a: &a\n  b: *a\n",
    "x: " + "9" * 5000 + "\n",
    "x: 1e400\n",
    "x: !!python/object/apply:os.system ['true']\n",
    "<<: *nothing\n",
]
XML_BOMBS = [
    _xml_laughs(),
    '<?xml version="1.0"?><!DOCTYPE adag [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
    '<adag version="3.6" name="&x;"><job id="a" name="b"/></adag>',
    '<adag version="3.6">' + "<job>" * 20000 + "</job>" * 20000 + "</adag>",
    '<adag version="3.6"><job id="a" name="b"><uses name="f" size="\u00b2"/></job></adag>',
]
JSON_BOMBS = ["[" * 100000, '{"a":' * 50000, "[1e400]", "[" + "9" * 5000 + "]", "NaN"]


# ---------------------------------------------------------------------------- strategies

# characters that matter to the parsers, beyond what random text brings
_ODD = [
    "\n", "\r\n", "\r", "\t", " ", "\x00", "\x0b", "\x1b", "\x7f", "\x85", "\xa0", "\u2028",
    "\ufeff", "\ud800", "\udcff", "\U0001f600", "\u00b2", "\u0661", "\uff11", "\u0130",
    "9" * 40, "-1", "0", "1e400", "-0.0", "nan", "inf", "..", "../", "/", "~", "*", "?",
    "\\", "\\u", "\\x", '"', "'", "`", "$", "${", "$(", "}", ")", "%", "@", ":", "::", ";",
    ",", "=", "#", "&", "<", ">", "[", "]", "{", "}", "|", "!", "^", "+", "-",
]  # fmt: skip
_TOKENS = {
    "yaml": [
        ": ", "- ", "? ", "&a ", "*a", "!!str ", "!!int ", "!!binary ", "!tag ", "<<: ",
        "---\n", "...\n", "%YAML 1.2\n", "|\n", ">-\n", "  ", "    ", "[", "]", "{", "}",
        "~", "null", "true", "yes", "on", "0o17", "0x1F", "1_000", "1:20", "2001-12-14",
        ".inf", ".nan", "jobs:", "id: ID1", "type: job", "lfn: f.a", "uses:", "pegasus: 5.0",
        "x-key: 1", "sites:", "name: local", "${TOPDIR}", "${UNSET}", "\\${HOME}",
    ],
    "xml": [
        "<adag", "</adag>", "<job", "</job>", "<uses", "<argument>", "</argument>", "<file",
        "<profile", "<child", "<parent", "<invoke", "<pfn", "<metadata", "<executable",
        ' id="ID1"', ' name="x"', ' version="3.6"', ' link="input"', ' ref="ID1"',
        ' namespace="pegasus"', ' key="k"', ' size="12"', ' when="at_end"', ' transfer="true"',
        ' register="maybe"', "/>", ">", "<!--", "-->", "<![CDATA[", "]]>", "&amp;", "&#0;",
        "&#x110000;", "&e;", '<!DOCTYPE adag [<!ENTITY e "x">]>', '<?xml version="1.0"?>',
        'xmlns="http://pegasus.isi.edu/schema/DAX"', "${TOPDIR}",
    ],
    "json": [
        "{", "}", "[", "]", ",", ":", '"', "null", "true", "false", "1e400", "-0", "NaN",
        "Infinity", '"\\ud800"', '"\\u0000"', '"id"', '"type"', '"lfn"', '"url"',
        '"src_urls"', '"dest_urls"', '"site_label"', '"priority"', '"checksum"', '"mkdir"',
        '"remove"', '"target"', '"recursive"', '"version"', '"tasks"', '"executable"',
        '"inputs"', '"sources"', '"sha256"', '"file:///a"', '"/a/../b"',
    ],
    "submit": [
        "executable = ", "arguments = ", "environment = ", "queue", "queue 2", "+Attr = ",
        "MY.x = ", "$(cluster)", "$(process)", "$ENV(HOME)", "$$(attr)", "$(x:default)",
        "$(dollar)", '"', "''", '""', "\\\n", "#", "transfer_output_remaps = ",
        "transfer_input_files = ", "a = /x/a ; b = y", "include : f", "if true", ":=",
    ],
    "dag": [
        "JOB ", "PARENT ", " CHILD ", "SCRIPT PRE ", "SCRIPT POST ", "RETRY ", "PRIORITY ",
        "CATEGORY ", "MAXJOBS ", "VARS ", "DONE", "NOOP", "DIR ", "ALL_NODES", "SUBDAG ",
        "UNLESS-EXIT ", 'x="y"', 'x="a\\"b"', "a.sub", "DEFER 1 2 ", "CONFIG f", "\n",
    ],
    "classad": [
        "[", "]", "{", "}", ";", "=", ",", '"', "'", "\\", "\\0", "\\101", "\\x", "/*", "*/",
        "//", "Url", "LocalFileName", "true", "undefined", "0x", "1e", ".5", "-", "+", "(",
        ")", "a.b", "\xff",
    ],
    "properties": [
        "=", ":", " ", "\\", "\\\n", "\\u", "\\u00e9", "\\uzzzz", "#", "!", "${", "}",
        "pegasus.mode", "development", "env.", "condor.", "dagman.retry", "pegasus.",
        "pegasus.catalog.site.sites.", ".profiles.", "${user.home}", "${UNSET}",
    ],
    "text": [
        "tr ", "cont ", "site ", "{", "}", '"', "\\", "profile ", "metadata ", "pfn ",
        "type ", "image ", "mount ", "arch ", "os ", "container ", "env ", "pegasus ",
        'site="local"', 'pool="x"', 'regex="true"', 'checksum.type="md5"',
        'checksum.value="0"', "#", "${TOPDIR}", "${UNSET}",
    ],
    "record": [
        "- invocation: True\n", "  status:\n", "    raw: ", "  files:\n", "    stdout:\n",
        "      data: |\n", "      data: |+\n", "      data: |-\n", "        ",
        "      output: True\n",
        "      sha256: ", "      checksum_timing: ", "    f.out:\n", '"\\x41"', '"\\u00e9"',
        '"\\U0001f600"', "[cluster-summary stat=ok, failed=0]", "PegasusLite: exitcode 0\n",
        "integrity_error: ", "<status raw=\"0\"/>", "<status ",
        ".inf", "-.inf", ".nan", "1e400", "0x" + "f" * 40, "  mainjob:\n", "    usage:\n",
        "      maxrss: ", "    status:\n", "      raw: ", "      regular_exitcode: ",
        "---------------pegasus-multipart\n", "- integrity_summary:\n", "    succeeded: ",
        "[cluster-summary duration=1e400]",
    ],
    "jobstate": [
        "1700000000 ", "INTERNAL ", "*** ", "DAGMAN_STARTED ", "DAGMAN_FINISHED ", "ID1 ",
        "SUBMIT ", "EXECUTE ", "JOB_SUCCESS ", "JOB_FAILURE ", "POST_SCRIPT_STARTED ",
        "POST_SCRIPT_SUCCESS ", "12.0 ", "\u00b2.0 ", "local ", "- ", "0", "1e400 ", "nan ",
        "\n",
    ],
    "url": [
        "://", "file:", "file://", "file://localhost/", "http://", "s3://", "scp://", "@",
        ":", "u:p@", "[::1]", ":8080", ":\u00b2", ":99999999999999999999", "$HOME",
        "${HOME}", "${", "//", "/./", "/../", "?", "#", "%2F", "%", "symlink://", "moveto://",
    ],
    "args": [
        "-n", "-N", "-R", "-L", "-T", "-i", "-o", "-e", "-l", "-S", "-s", "-w", "-W", "-B",
        "-k", "-K", "-H", "-X", "-f", "-q", "-V", "-t", "--", "-", "-h", "all", "0x10", "010",
        "-1", "nan", "1e400", "!out", "^out", "!^", "@list", "/bin/true", "x=y",
    ],
}  # fmt: skip

ANY_CHAR = st.characters(codec=None, exclude_categories=())


def odd_text(max_size: int = 60) -> st.SearchStrategy:
    """Random unicode (surrogates and controls included) and the characters that matter."""
    pieces = st.one_of(st.text(ANY_CHAR, max_size=8), st.sampled_from(_ODD))
    return st.lists(pieces, max_size=max_size // 4).map("".join)


def soup(tokens: list) -> st.SearchStrategy:
    """A format's own tokens in random order, with odd text between them."""
    piece = st.one_of(st.sampled_from(tokens), st.sampled_from(_ODD), st.text(ANY_CHAR, max_size=4))
    return st.lists(piece, max_size=60).map("".join)


_EDITS = ("insert", "delete", "repeat", "replace", "cut", "splice")


@st.composite
def mutated(draw, texts: tuple, tokens: list) -> str:
    """A real document with a few edits: insert, delete, duplicate, replace, cut, splice."""
    text = texts[draw(st.integers(0, len(texts) - 1))]
    snippet = _snippet(tuple(tokens))
    for _ in range(draw(st.integers(1, 5))):
        size = len(text)
        start = draw(st.integers(0, size))
        end = draw(st.integers(start, min(size, start + 80)))
        operation = draw(_EDITS)
        if operation == "insert":
            text = text[:start] + draw(snippet) + text[start:]
        elif operation == "delete":
            text = text[:start] + text[end:]
        elif operation == "repeat":
            text = text[:end] + text[start:end] * draw(st.integers(1, 4)) + text[end:]
        elif operation == "replace":
            text = text[:start] + draw(snippet) + text[end:]
        elif operation == "cut":
            text = text[:start]
        else:
            other = texts[draw(st.integers(0, len(texts) - 1))]
            text = text[:start] + other[draw(st.integers(0, len(other))) :]
    return text


# strategies built once: building them anew for every draw costs more than the draw
_EDITS = st.sampled_from(("insert", "delete", "repeat", "replace", "cut", "splice"))
_DOC_EDITS = st.sampled_from(("replace", "remove", "add", "wrap", "share"))


@functools.cache
def _snippet(tokens: tuple) -> st.SearchStrategy:
    return st.one_of(st.sampled_from(tokens), st.sampled_from(_ODD), odd_text(12))


@functools.cache
def _small_value() -> st.SearchStrategy:
    return json_values(8)


@functools.cache
def _new_key() -> st.SearchStrategy:
    return st.one_of(st.sampled_from(_KEYS), odd_text(8))


def text_inputs(kind: str, tokens: list, bombs: list = ()) -> st.SearchStrategy:
    """What a text parser gets: mutated real documents, token soup, odd text, bombs."""
    choices = [soup(tokens), odd_text()]
    texts = corpus(kind)
    if texts:
        choices.insert(0, mutated(texts, tokens))
        choices.append(st.sampled_from(texts))
    if kind in YAML_KINDS and documents(kind):
        choices.append(mutated_docs(documents(kind)).map(_dump))
    if bombs:
        choices.append(st.sampled_from(list(bombs)))
    return st.one_of(choices)


def _dump(doc: object) -> str:
    """A mutated document as YAML (shared objects become anchors and aliases)."""
    import yaml

    try:
        return yaml.safe_dump(doc, allow_unicode=True, sort_keys=False)
    except (yaml.YAMLError, ValueError, TypeError, RecursionError):
        return ""


@st.composite
def _byte_edits(draw, data: bytes) -> bytes:
    for _ in range(draw(st.integers(0, 3))):
        at = draw(st.integers(0, len(data)))
        junk = draw(
            st.one_of(
                st.binary(max_size=6),
                st.sampled_from([b"\xff", b"\xc3", b"\xed\xa0\x80", b"\xef\xbb\xbf", b"\x00"]),
            )
        )
        data = data[:at] + junk + data[at + draw(st.integers(0, 2)) :]
    return data


def byte_inputs(kind: str, tokens: list, bombs: list = ()) -> st.SearchStrategy:
    """A file parser's input: the text inputs as bytes (invalid UTF-8 edits included)."""
    encoded = text_inputs(kind, tokens, bombs).map(lambda t: t.encode("utf-8", "surrogatepass"))
    return st.one_of(encoded.flatmap(_byte_edits), st.binary(max_size=200))


def json_values(max_leaves: int = 20) -> st.SearchStrategy:
    """Anything a JSON or YAML document may decode to, odd values favoured."""
    leaf = st.one_of(
        st.none(),
        st.booleans(),
        st.integers(),
        st.sampled_from([0, -1, 2**63, -(2**63) - 1, 10**400, -0.0, "", "\u00b2", "-"]),
        st.sampled_from([float("inf"), float("-inf"), float("nan"), 1e308, 5e-324]),
        st.floats(),
        odd_text(24),
    )
    return st.recursive(
        leaf,
        lambda inner: st.one_of(
            st.lists(inner, max_size=4), st.dictionaries(odd_text(12), inner, max_size=4)
        ),
        max_leaves=max_leaves,
    )


def _slots(node: object, found: list) -> list:
    """Every (container, key) of a document: where a mutation may strike."""
    if isinstance(node, dict):
        for key, value in node.items():
            found.append((node, key))
            _slots(value, found)
    elif isinstance(node, list):
        for index, value in enumerate(node):
            found.append((node, index))
            _slots(value, found)
    return found


def _holds(node: object, target: object) -> bool:
    """Whether ``target`` is ``node`` or inside it (by identity)."""
    if node is target:
        return True
    if isinstance(node, dict):
        return any(_holds(value, target) for value in node.values())
    if isinstance(node, list):
        return any(_holds(value, target) for value in node)
    return False


_KEYS = [
    "x-extra", "id", "type", "name", "lfn", "url", "site", "sources", "destinations",
    "arguments", "profiles", "metadata", "pegasus", "checksum", "priority", "target",
    "src_urls", "dest_urls", "recursive", "environment", "executable", "<<",
]  # fmt: skip


@st.composite
def mutated_docs(draw, docs: tuple) -> object:
    """A real decoded document with a few values replaced, removed, added or rewrapped."""
    doc = copy.deepcopy(docs[draw(st.integers(0, len(docs) - 1))])
    value = _small_value()
    for _ in range(draw(st.integers(1, 4))):
        slots = _slots(doc, [])
        if not slots:
            return doc
        container, key = slots[draw(st.integers(0, len(slots) - 1))]
        operation = draw(_DOC_EDITS)
        if operation == "replace":
            container[key] = draw(value)
        elif operation == "remove":
            del container[key]
        elif operation == "add" and isinstance(container, dict):
            container[draw(_new_key())] = draw(value)
        elif operation == "add":
            container.insert(key, draw(value))
        elif operation == "wrap":
            inner = container[key]
            container[key] = [inner] if draw(st.booleans()) else {"k": inner}
        else:  # the same object twice, as a YAML alias gives it (never a cycle)
            other_container, other_key = slots[draw(st.integers(0, len(slots) - 1))]
            shared = other_container[other_key]
            if not _holds(shared, container):
                container[key] = shared
    return doc


def doc_inputs(kind: str) -> st.SearchStrategy:
    """A decoded-document parser's input: mutated real documents, or any JSON value."""
    docs = documents(kind)
    if not docs:
        return json_values()
    return st.one_of(mutated_docs(docs), mutated_docs(docs), json_values())


def argv_inputs() -> st.SearchStrategy:
    word = st.one_of(st.sampled_from(_TOKENS["args"]), odd_text(12), st.sampled_from(_ODD))
    return st.lists(word, max_size=8)


def _pairs() -> st.SearchStrategy:
    out = byte_inputs("record", _TOKENS["record"])
    err = st.one_of(st.just(b""), st.binary(max_size=40), out)
    return st.tuples(out, err)


# ---------------------------------------------------------------------------- the registry


def _targets() -> dict[str, Target]:
    from kickstart.errors import KickstartError
    from lite.spec import SpecError
    from planner.errors import PlanError
    from transfer.classad_text import ClassAdSyntaxError
    from transfer.errors import BadInput

    tokens = _TOKENS
    yaml_bombs = YAML_BOMBS
    found = [
        Target("transfer_json", transfer_json, (BadInput,),
               lambda: text_inputs("transfer_json", tokens["json"], JSON_BOMBS)),
        Target("transfer_v1", transfer_v1, (BadInput,),
               lambda: text_inputs("v1", tokens["url"] + ["# src 1 ", "# dst 1 ", "\n"])),
        Target("transfer_any", transfer_any, (BadInput,),
               lambda: text_inputs("transfer_json", tokens["json"] + ["# src"], JSON_BOMBS)),
        Target("transfer_entries", transfer_entries, (BadInput,),
               lambda: doc_inputs("transfer")),
        Target("url", url, (BadInput,), lambda: text_inputs("url", tokens["url"])),
        Target("job_spec", job_spec, (SpecError,), lambda: doc_inputs("spec")),
        Target("job_spec_file", job_spec_file, (SpecError,),
               lambda: byte_inputs("spec", tokens["json"], JSON_BOMBS)),
        Target("yaml_ryaml", yaml_ryaml, (PlanError,),
               lambda: text_inputs("workflow", tokens["yaml"], yaml_bombs)),
        Target("yaml_pyyaml", yaml_pyyaml, (PlanError,),
               lambda: text_inputs("workflow", tokens["yaml"], yaml_bombs)),
        Target("yaml_lazy", yaml_lazy, (PlanError,),
               lambda: text_inputs("workflow", tokens["yaml"])),
        Target("workflow_file", workflow_file, (PlanError,),
               lambda: st.one_of(byte_inputs("workflow", tokens["yaml"], yaml_bombs),
                                 byte_inputs("dax", tokens["xml"]))),
        Target("workflow_file_pyyaml", workflow_file_pyyaml, (PlanError,),
               lambda: byte_inputs("workflow", tokens["yaml"], yaml_bombs)),
        Target("workflow_doc", workflow_doc, (PlanError,), lambda: doc_inputs("workflow")),
        Target("dax", dax, (PlanError,), lambda: byte_inputs("dax", tokens["xml"], XML_BOMBS)),
        Target("sites_doc", sites_doc, (PlanError,), lambda: doc_inputs("sites")),
        Target("transformations_doc", transformations_doc, (PlanError,),
               lambda: doc_inputs("transformations")),
        Target("replicas_doc", replicas_doc, (PlanError,), lambda: doc_inputs("replicas")),
        Target("catalog_yaml", catalog_yaml, (PlanError,),
               lambda: st.one_of(text_inputs("sites", tokens["yaml"]),
                                 text_inputs("transformations", tokens["yaml"]),
                                 text_inputs("replicas", tokens["yaml"], yaml_bombs))),
        Target("replicas_text", replicas_text, (PlanError,),
               lambda: text_inputs("rc_text", tokens["text"])),
        Target("transformations_text", transformations_text, (PlanError,),
               lambda: text_inputs("tc_text", tokens["text"])),
        Target("properties", properties, (PlanError,),
               lambda: text_inputs("properties", tokens["properties"])),
        Target("properties_file", properties_file, (PlanError,),
               lambda: byte_inputs("properties", tokens["properties"])),
        Target("submit", submit, (PlanError,), lambda: text_inputs("submit", tokens["submit"])),
        Target("dag", dag, (PlanError,), lambda: text_inputs("dag", tokens["dag"])),
        Target("classad", classad, (ClassAdSyntaxError,),
               lambda: byte_inputs("classad", tokens["classad"])),
        Target("record", record, (), lambda: text_inputs("record", tokens["record"])),
        Target("exitcode_check", exitcode_check, (), _pairs),
        Target("statistics_records", statistics_records, (),
               lambda: text_inputs("record", tokens["record"] + tokens["yaml"])),
        Target("jobstate", jobstate, (), lambda: text_inputs("jobstate", tokens["jobstate"])),
        Target("kickstart_args", kickstart_args, (KickstartError,), argv_inputs),
        Target("kickstart_expand", kickstart_expand, (),
               lambda: st.one_of(odd_text(), soup(["$", "${", "}", "'", '"', "\\", "HOME",
                                                   "PWD", "$$", "_"]))),
        Target("kickstart_files", kickstart_files, (KickstartError,),
               lambda: byte_inputs("integrity_list", tokens["args"] + ["\n", "#", "="])),
        Target("integrity_meta", integrity_meta, (),
               lambda: byte_inputs("meta", tokens["json"] + ['"_attributes"', '"_id"',
                                                            '"checksum.value"'], JSON_BOMBS)),
        Target("integrity_list", integrity_list, (),
               lambda: text_inputs("integrity_list", [";;;", ":", "=", "/tmp", "lfn"])),
        Target("credential_json", credential_json, (),
               lambda: byte_inputs("credential_json", tokens["json"] + [
                   '"access_token"', '"type"', '"service_account"', '"authorized_user"',
                   '"irods_host"', '"irods_port"', '"private_key"', '"client_id"'], JSON_BOMBS)),
        Target("image_tar", image_tar, (),
               lambda: byte_inputs("manifest", tokens["json"] + ['"Config"', '"RepoTags"',
                                                                '"Layers"'], JSON_BOMBS)),
        Target("credentials", credentials, (BadInput,),
               lambda: byte_inputs("credentials", ["[", "]", "=", ":", "\n", "  ", "%(x)s",
                                                   "[default]", "password = ", ";", "#"])),
    ]  # fmt: skip
    return {target.name: target for target in found}


TARGETS: dict[str, Target] = _targets()
