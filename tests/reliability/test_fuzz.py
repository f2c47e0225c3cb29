"""Fuzzing every parser: only the project's own errors (one line each), never a traceback.

Each target of fuzz_targets.py gets a few hundred inputs here (a fixed seed: CI sees the
same ones every run); ``python -m bench.fuzz`` runs the full count.  Below the fuzz loop,
each defect the fuzzing found has a test of its own with the input that showed it, and the
bombs (entity and alias expansion, deep nesting) run in a child process with a memory cap,
so that a regression is a failed test rather than a crashed or swapped-out test run.
The last tests run the real commands on bad inputs: a non-zero exit, one line, no traceback.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings

from tests.reliability import fuzz_targets as ft

CI_EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "200"))
REPO = ft.REPO


def _fuzz(target: ft.Target) -> None:
    @settings(
        max_examples=CI_EXAMPLES,
        deadline=None,
        database=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
    )
    @given(target.strategy)
    def body(example) -> None:
        problem = ft.run_case(target, example)
        if problem is not None:
            raise problem

    body()


@pytest.mark.parametrize("name", sorted(ft.TARGETS))
def test_parser_survives_fuzzing(name):
    _fuzz(ft.TARGETS[name])


def test_the_real_inputs_are_there():
    """The mutations start from real Pegasus files; without them the fuzzing is blind."""
    if not ft.FIXTURES.is_dir():
        message = "Pegasus fixtures not found at %s (set PEGASUS_LITE_SHARED)" % ft.FIXTURES
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    for kind in ("transfer_json", "rc_text", "workflow", "sites", "transformations"):
        assert ft.corpus(kind), kind
    for kind in ("replicas", "dax", "properties", "submit", "dag", "meta", "record"):
        assert ft.corpus(kind), kind
    assert len(ft.corpus("submit")) >= 10 and len(ft.corpus("transfer_json")) >= 10


def test_a_broken_parser_is_caught():
    """The harness itself: a traceback, and an own error of two lines, are both defects."""

    def crash(text):
        raise KeyError(text)

    def two_lines(text):
        raise ValueError("first\nsecond")

    assert isinstance(ft.run_case(ft.Target("t", crash, (ValueError,), None), "x"), KeyError)
    problem = ft.run_case(ft.Target("t", two_lines, (ValueError,), None), "x")
    assert isinstance(problem, ft.Defect) and "not one line" in str(problem)
    assert ft.run_case(ft.Target("t", crash, (KeyError,), None), "x") is None


# ---------------------------------------------------------------------------- what it found


def _error(target: str, example) -> str:
    """The one-line message of the own error ``example`` gives (the test fails otherwise)."""
    chosen = ft.TARGETS[target]
    try:
        chosen.run(example)
    except chosen.errors as error:
        assert ft.run_case(chosen, example) is None
        return str(error)
    raise AssertionError("%s accepted %r" % (target, example))


def test_transfer_list_nested_too_deeply():
    assert "nested too deeply" in _error("transfer_json", "[" * 100000)
    assert "nested too deeply" in _error("job_spec_file", b"[" * 100000)


def test_transfer_errors_naming_an_odd_lfn_stay_on_one_line():
    entries = [{"lfn": "a\rb\nc", "src_urls": [None], "dest_urls": [{"url": "/x"}]}]
    message = _error("transfer_entries", entries)
    assert message.startswith("entry 1 (a\\rb\\nc) src_urls[0]: needs an object with a")


def test_transfer_priority_that_is_infinite():
    text = '[{"src_urls": [{"url": "/a", "priority": 1e400}], "dest_urls": [{"url": "/b"}]}]'
    assert "priority must be a number, not inf" in _error("transfer_json", text)


def test_url_errors_stay_on_one_line_and_odd_ports_parse():
    assert _error("url", "scp\r\n://host/x") == "not a URL: scp\\r\\n://host/x"
    assert _error("url", "http:x\ny") == "not a URL (no //host part): http:x\\ny"
    from transfer.urls import URL

    assert URL("http://host:\u00b2/x").port is None  # a digit to isdigit(), not to int()


def test_integrity_meta_with_odd_entries_is_skipped(tmp_path):
    from transfer import integrity

    good = {"_id": "f.a", "_type": "file", "_attributes": {"checksum.value": "AB" * 32}}
    (tmp_path / "a.meta").write_text(json.dumps([{"_id": "x", "_attributes": []}, good]))
    (tmp_path / "b.meta").write_text("[" * 100000)
    with ft._quiet(integrity.log):
        assert integrity.load_meta_dir(str(tmp_path)) == {"f.a": "ab" * 32}


def test_credentials_file_errors_are_one_line_without_the_secret():
    message = _error("credentials", b"[amazon]\nendpoint = x\n\xc1\xd2 = 1\n")
    assert message.endswith("is not UTF-8 text")
    message = _error("credentials", b"[default]\nhunter2-the-password\n")
    assert message.endswith("a line is not 'key = value' or a [section] header (line 2)")
    assert "hunter2" not in message
    message = _error("credentials", b"secret_key = hunter2\n")
    assert "no [section] header" in message and "hunter2" not in message


def test_dax_odd_size_and_declared_encodings():
    dax = '<adag version="3.6"><job id="a" name="b"><uses name="f" size="\u00b2"/></job></adag>'
    assert "size '\u00b2' is not a number of bytes" in _error("dax", dax.encode())
    for encoding, reason in (("qF-8", "unknown encoding: qF-8"), ("cp932", "multi-byte")):
        head = '<?xml version="1.0" encoding="%s"?>' % encoding
        assert reason in _error("dax", (head + '<adag version="3.6"/>').encode())


def test_parse_errors_naming_odd_keys_stay_on_one_line():
    sites = {"pegasus": "5.0", "sites": [{"name": "a", "profiles": {"env": {"\rX\n": []}}}]}
    message = _error("sites_doc", sites)
    assert message == (
        "sites.yml: sites[0].profiles.env.\\rX\\n: expected a string or number, got a list"
    )


def test_workflow_size_that_is_not_ascii():
    workflow = {"pegasus": "5.0", "name": "w", "jobs": [{"type": "job", "name": "x", "id": "a",
                "uses": [{"lfn": "f", "type": "input", "size": "\u00b2"}]}]}  # fmt: skip
    assert "is not a size in bytes" in _error("workflow_doc", workflow)


def test_submit_odd_queue_count_and_macro_bomb():
    assert "the local engine runs one job per .sub" in _error("submit", "queue \u00b2\n")
    bomb = "".join("m%d = $(m%d)$(m%d)\n" % (i, i + 1, i + 1) for i in range(30))
    message = _error("submit", bomb + "m30 = x\narguments = $(m0)\nqueue\n")
    assert "macros refer to macros more than 10000 times" in message


def test_submit_lone_continuation_then_blank_line():
    ft.submit("\\\n\nexecutable = /bin/true\nqueue\n")  # was an IndexError


def test_url_with_a_blank_in_its_authority_is_refused_without_its_password():
    message = _error("url", "http://\nuser:secret@example.org:8080/a")
    assert message.startswith("not a URL (a blank or control character before the path): ")
    assert "secret" not in message and "\n" not in message
    assert "secret" not in _error("url", "s3://u:pass word@host/b")
    ft.url("http://user:secret@example.org/a b")  # a blank in the path is a file name's
    for odd in ("\uff11http://u:secret@h/x", "1http://u:secret@h/x"):  # the redaction missed
        message = _error("url", odd)  # a scheme is ASCII, letter first
        assert message.startswith("not a URL: ") and "secret" not in message


def test_classad_nested_too_deeply():
    ad = b"[a=" + b"[a=" * 5000 + b"1" + b"]" * 5001
    assert "nests too deeply" in _error("classad", ad)
    from transfer.classad_text import parse_ads

    assert parse_ads(b"[a=" + b"[a=" * 50 + b"1" + b"]" * 51)[0]["a"]["a"]["a"]


def test_kickstart_unknown_option_with_a_line_break():
    assert _error("kickstart_args", ["-\n"]) == "unknown option -\\n"
    message = _error("kickstart_args", ["-I", "no\nsuch"])
    assert message == "cannot read argument file no\\nsuch: No such file or directory"


def test_records_with_absurd_status_numbers():
    from lite import exitcode

    ft.record("  status:\n    raw: %s\n" % ("7" * 5000))
    with pytest.raises(exitcode._Failed, match="killed by signal 127"):
        exitcode._check_records("  status:\n    raw: %s\n" % ("7" * 5000))
    exitcode._check_records("  status:\n    raw: %s\n" % ("0" * 5000))  # zero is zero


def test_statistics_records_with_infinite_or_deep_values():
    from planner.records import parse_records

    for value in (".inf", ".nan", "1e400"):
        record = "- invocation: True\n  mainjob:\n    status:\n      raw: %s\n" % value
        record += "    usage:\n      maxrss: %s\n" % value
        assert parse_records(record).invocations[0].raw == -1  # "never ran": no real status
    block = "---------------pegasus-multipart\n- integrity_summary:\n    succeeded: .inf\n"
    assert parse_records(block).integrity_checks() == (0, 0, 0.0)
    deep = parse_records("- invocation: True\n  x: " + "[" * 40000 + "\n")  # was a segfault
    assert deep.errors == ["record 1 is not valid YAML (line 2 of the record)"]


def test_damaged_json_files_of_a_run_are_skipped(tmp_path):
    from types import SimpleNamespace

    from planner import analyzer, engine, records, report

    deep = "[" * 100000
    (tmp_path / "exitcode.log").write_text(deep + "\n" + json.dumps({"name": "a/j.out"}) + "\n")
    assert list(analyzer._exitcode_log(str(tmp_path / "exitcode.log"))) == ["j"]
    (tmp_path / "stage_out_1.in").write_text(deep)
    (tmp_path / "stage_out_1.sub").write_text("")
    node = SimpleNamespace(submit=str(tmp_path / "stage_out_1.sub"))
    fake = SimpleNamespace(dag=SimpleNamespace(nodes={"stage_out_1": node}), submit_dir="s")
    assert engine.Engine._outputs_location(fake) == "s"
    job = SimpleNamespace(directory=str(tmp_path), name="stage_out_1")
    assert report._Collector._aux_protocol(job) == "unknown"
    (tmp_path / "b.yml").write_text("a: " + "- " * 40000 + "x\n")  # was a segfault
    assert records._read_braindump(str(tmp_path / "b.yml")) is not None


def test_credential_json_files_nested_too_deeply_or_not_objects(tmp_path):
    import threading
    from types import SimpleNamespace

    from containers.cache import _read
    from transfer.condor_plugin import TokenError, read_token
    from transfer.errors import CredentialError
    from transfer.handlers.gs import GsHandler
    from transfer.handlers.irods import IrodsHandler
    from transfer.urls import URL

    deep = tmp_path / "deep.use"
    deep.write_text("[" * 100000)
    with pytest.raises(TokenError, match="has no access_token"):
        read_token("deep", {"_CONDOR_CREDS": str(tmp_path)})
    assert _read(str(deep)) is None
    for content, reason in (("[" * 100000, "not JSON"), ('"mkdir"', "not a JSON object")):
        deep.write_text(content)
        with pytest.raises(CredentialError, match=reason):
            GsHandler._key_file(None, str(deep), None, "GOOGLE_APPLICATION_CREDENTIALS")
    handler = SimpleNamespace(lock=threading.Lock(), session=None, context=None)
    handler._env_file = lambda site: str(deep)
    handler.context = SimpleNamespace(env={"HOME": str(tmp_path)})
    endpoint = SimpleNamespace(site=None, url=URL("irods://host/zone/x"))
    for content, reason in (("[" * 100000, "cannot read"), ('{"irods_port": "x"}', "port")):
        deep.write_text(content)
        with pytest.raises(CredentialError, match=reason):
            IrodsHandler._session(handler, endpoint)


def test_container_json_files_nested_too_deeply_or_odd(tmp_path):
    from types import SimpleNamespace

    from containers.docker import DockerRuntime

    for manifest in (b"[" * 100000, b'["x"]', b"[7]"):
        ft.image_tar(manifest)  # None, not a traceback
    env = {"PEGASUS_IMAGE_CACHE": str(tmp_path)}
    fake = SimpleNamespace(env=env, api=SimpleNamespace(host="h", info=lambda: {"ID": "e1"}))
    (tmp_path / ("engine-%s.json" % hashlib.sha256(b"h").hexdigest()[:16])).write_text("[" * 100000)
    assert DockerRuntime.engine_facts(fake)["ID"] == "e1"  # asked again, cached anew


def test_pyyaml_ints_beyond_what_ryaml_keeps_are_text():
    import yaml

    from planner.yamlload import _Loader

    document = yaml.load("a: 0x%s\nb: %s\nc: 12\n" % ("f" * 5000, "9" * 5000), Loader=_Loader)
    assert document == {"a": "0x" + "f" * 5000, "b": "9" * 5000, "c": 12}


# ---------------------------------------------------------------------------- bombs

_CHILD = textwrap.dedent(
    """
    import json, resource, sys
    resource.setrlimit(resource.RLIMIT_AS, (%(limit)d, %(limit)d))
    sys.path.insert(0, %(repo)r)
    from tests.reliability import fuzz_targets as ft
    target = ft.TARGETS[%(target)r]
    data = open(%(path)r, "rb").read()
    example = data if %(binary)r else data.decode("utf-8", "surrogatepass")
    try:
        target.run(example)
    except BaseException as error:
        outcome = {"error": type(error).__name__, "message": str(error)[:300],
                   "own": isinstance(error, target.errors)}
    else:
        outcome = {"error": None}
    print(json.dumps(outcome))
    """
)


def _bomb(tmp_path: Path, target: str, data: str | bytes) -> dict:
    """Run one input through a target in a child limited to 1 GB of address space."""
    path = tmp_path / "bomb"
    path.write_bytes(data if isinstance(data, bytes) else data.encode("utf-8"))
    code = _CHILD % {
        "limit": 1 << 30,
        "repo": str(REPO),
        "target": target,
        "path": str(path),
        "binary": isinstance(data, bytes),
    }
    child = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=600, cwd=tmp_path
    )
    assert child.returncode == 0, "the child died (%d): %s" % (child.returncode, child.stderr)
    return json.loads(child.stdout.strip().splitlines()[-1])


def _laughs_workflow() -> str:
    """Billion laughs hidden in a vendor key of a job, with ${...} to make the reader walk it."""
    lines = ["pegasus: '5.0'", "name: w", "x-l0: &l0 ['${HOME}', '${HOME}', '${HOME}']"]
    for level in range(1, 25):
        lines.append("x-l%d: &l%d [*l%d, *l%d, *l%d]" % (level, level, *[level - 1] * 3))
    lines += ["jobs:", "- {type: job, name: x, id: a, x-bomb: *l24}"]
    return "\n".join(lines) + "\n"


BOMBS = [
    ("yaml_ryaml", ft._yaml_laughs(), "repetition limit exceeded"),
    ("yaml_pyyaml", ft._yaml_laughs(), "repetition limit exceeded"),
    ("workflow_file_pyyaml", _laughs_workflow().encode(), "repetition limit exceeded"),
    ("workflow_file", _laughs_workflow().encode(), "repetition limit exceeded"),
    ("yaml_pyyaml", "a: &a\n  b: *a\n", "recursion limit exceeded"),
    ("yaml_pyyaml", "- " * 40000 + "x\n", "recursion limit exceeded"),  # was a segfault
    ("yaml_pyyaml", "a: " + "[" * 60000 + "]" * 60000, "recursion limit exceeded"),
    ("yaml_ryaml", "a: " + "{a: " * 60000 + "}" * 60000, "recursion limit exceeded"),
    ("dax", ft._xml_laughs().encode(), "amplification"),
    ("dax", ft.XML_BOMBS[1].encode(), "external entity"),
    ("transfer_json", "[" * 1000000, "nested too deeply"),
    ("classad", b"[a=" * 200000, "nests too deeply"),
]


@pytest.mark.parametrize("target,data,reason", BOMBS, ids=[b[0] for b in BOMBS])
def test_bombs_are_refused_not_expanded(tmp_path, target, data, reason):
    outcome = _bomb(tmp_path, target, data)
    assert outcome["error"] is not None and outcome["own"], outcome
    assert reason in outcome["message"]


# ---------------------------------------------------------------------------- the commands


def _command(name: str) -> str:
    found = os.path.join(os.path.dirname(sys.executable), name)
    if os.access(found, os.X_OK):
        return found
    return shutil.which(name) or pytest.fail("%s is not installed" % name)


def _run(tmp_path: Path, argv: list, stdin: bytes = b"") -> subprocess.CompletedProcess:
    env = dict(os.environ, HOME=str(tmp_path), PYTHONPATH=str(REPO))
    return subprocess.run(
        [_command(argv[0]), *argv[1:]],
        input=stdin,
        capture_output=True,
        cwd=tmp_path,
        env=env,
        timeout=300,
    )


def _one_line(run: subprocess.CompletedProcess) -> str:
    err = run.stderr.decode("utf-8", "replace")
    assert run.returncode != 0, err
    assert "Traceback" not in err, err
    assert len(err.splitlines()) == 1, err
    return err


BAD_LISTS = {
    "invalid-utf8.json": b'[{"src_urls": [{"url": "/\xff"}]}]',
    "deep.json": b"[" * 200000,
    "wrong-types.json": b'[{"type": "transfer", "src_urls": {"url": 1}, "dest_urls": 7}]',
    "truncated.json": b'[{"type": "transfer", "lfn": "f.a", "src_urls": [{"url": "file:',
}


@pytest.mark.parametrize("name", sorted(BAD_LISTS))
def test_pegasus_transfer_on_bad_lists(tmp_path, name):
    (tmp_path / name).write_bytes(BAD_LISTS[name])
    err = _one_line(_run(tmp_path, ["pegasus-transfer", "-f", name]))
    assert err.startswith("pegasus-transfer: ")
    err = _one_line(_run(tmp_path, ["pegasus-transfer"], stdin=BAD_LISTS[name]))
    assert err.startswith("pegasus-transfer: ")


BAD_WORKFLOWS = {
    "laughs.yml": _laughs_workflow().encode(),
    "deep.yml": b"a: " + b"[" * 100000,
    "invalid-utf8.yml": b"pegasus: '5.0'\nname: \xff\n",
    "laughs.dax": ft._xml_laughs().encode(),
    "encoding.dax": b'<?xml version="1.0" encoding="qF-8"?><adag version="3.6"/>',
    "wrong-types.yml": b"pegasus: '5.0'\nname: w\njobs: [{type: job, id: a, name: [1]}]\n",
}


@pytest.mark.parametrize("name", sorted(BAD_WORKFLOWS))
def test_pegasus_plan_on_bad_workflows(tmp_path, name):
    (tmp_path / name).write_bytes(BAD_WORKFLOWS[name])
    err = _one_line(_run(tmp_path, ["pegasus-plan", name]))
    assert err.startswith("pegasus-plan: %s" % (tmp_path / name))


@pytest.mark.parametrize("data", [b"\xff\xfe{", b"[" * 200000, b'{"version": 1, "tasks": 7}'])
def test_pegasus_lite_on_bad_specs(tmp_path, data):
    """pegasus-lite's stderr is its log: one Error line, then 'exitcode 71' last."""
    (tmp_path / "job.json").write_bytes(data)
    run = _run(tmp_path, ["pegasus-lite", "job.json"])
    err = run.stderr.decode("utf-8", "replace")
    assert run.returncode == 71 and "Traceback" not in err, err
    assert len([line for line in err.splitlines() if "Error:" in line]) == 1, err
    assert err.splitlines()[-1] == "PegasusLite: exitcode 71"


def test_pegasus_integrity_with_broken_meta_files(tmp_path):
    (tmp_path / "f.a").write_bytes(b"data")
    (tmp_path / "a.meta").write_bytes(b"[" * 200000)
    (tmp_path / "b.meta").write_bytes(b'[{"_id": "f.a", "_attributes": "x"}]')
    (tmp_path / "c.meta").write_bytes(b"\xff\xfe")
    run = _run(tmp_path, ["pegasus-integrity", "--verify=f.a"])
    err = run.stderr.decode("utf-8", "replace")
    assert run.returncode != 0 and "Traceback" not in err, err
    lines = err.splitlines()  # Pegasus's log lines: one per problem
    assert len(lines) == 2 and lines[0].startswith("Integrity check: unable to read ./a.meta: ")
    assert lines[1] == "Integrity check: No checksum in the meta data for f.a"


@pytest.mark.parametrize(
    "argv,data",
    [
        (["-I", "args.txt"], b""),  # an empty argument file: no application
        (["-s", "@missing.txt", "/bin/true"], None),
        (["-S", "@.", "/bin/true"], None),  # a directory as the list file
        (["-B", "1e400", "/bin/true"], None),
        (["-k", "nan-ish", "/bin/true"], None),
    ],
)
def test_pegasus_kickstart_on_bad_arguments(tmp_path, argv, data):
    if data is not None:
        (tmp_path / "args.txt").write_bytes(data)
    run = _run(tmp_path, ["pegasus-kickstart", *argv])
    err = run.stderr.decode("utf-8", "replace")
    assert run.returncode != 0 and "Traceback" not in err, err
    assert err.startswith("pegasus-kickstart: ") or "Usage:" in err, err


def test_pegasus_kickstart_argument_file_with_odd_bytes(tmp_path):
    """-I's arguments reach the program byte for byte, invalid UTF-8 included."""
    (tmp_path / "args.txt").write_bytes(b"/bin/echo\n\xff\xfe $(x) `y`\n")
    run = _run(tmp_path, ["pegasus-kickstart", "-o", "-", "-I", "args.txt"])
    assert run.returncode == 0, run.stderr
    assert b"\xff\xfe $(x) `y`" in run.stdout
