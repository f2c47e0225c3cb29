"""Our records read by Pegasus's own consumer, Pegasus.tools.kickstart_parser (pegasus-wms)."""

from __future__ import annotations

import hashlib
import logging

import pytest

kickstart_parser = pytest.importorskip(
    "Pegasus.tools.kickstart_parser", reason="pegasus-wms is a test dependency"
)


def parse(path):
    """Parse as pegasus-monitord does; a record it cannot read is a test failure."""
    records = kickstart_parser.Parser(str(path)).parse_stampede()
    assert records, "Pegasus's parser found no record in %s" % path
    return records


@pytest.fixture(autouse=True)
def fail_on_parser_warnings(caplog):
    """The parser logs KICKSTART-PARSE-ERROR and carries on; for us that is a failure."""
    caplog.set_level(logging.WARNING, logger="Pegasus.tools.kickstart_parser")
    yield
    errors = [r.getMessage() for r in caplog.records if "PARSE-ERROR" in r.getMessage()]
    assert not errors, errors


def test_success(ks):
    run = ks("-n", "keg", "-N", "ID0000001", "-R", "condorpool", "/bin/true")
    (rec,) = parse(run.record_path)
    assert rec["invocation"] is True
    assert rec["exitcode"] == 0 and rec["raw"] == 0
    assert rec["transformation"] == "keg"
    assert rec["derivation"] == "ID0000001"
    assert rec["resource"] == "condorpool"
    assert rec["duration"] == run.record["mainjob"]["duration"]
    assert rec["name"].endswith("/true")
    assert rec["cpu_count"] >= 1


def test_exit_code_and_output(ks):
    run = ks("/bin/sh", "-c", "echo out; echo err >&2; exit 3")
    (rec,) = parse(run.record_path)
    assert rec["exitcode"] == 3
    assert rec["raw"] == 3 << 8
    assert rec["stdout"] == "out\n"
    assert rec["stderr"] == "err\n"


def test_signal(ks):
    run = ks("/bin/sh", "-c", "kill -TERM $$")
    (rec,) = parse(run.record_path)
    assert rec["signal"] == 15
    assert rec["action"] == "Terminated"
    assert run.rc == 143


def test_program_not_found(ks):
    run = ks("/nonexistent")
    (rec,) = parse(run.record_path)
    assert rec["raw"] == -127
    assert run.rc == 127


def test_output_files_become_metadata(ks, tmp_path):
    (tmp_path / "f.a").write_bytes(b"input")
    run = ks(
        "-S", "f.a=f.a", "-s", "f.b=f.b", "/bin/sh", "-c", "cp f.a f.b; echo more >> f.b"
    )  # fmt: skip
    (rec,) = parse(run.record_path)
    data = (tmp_path / "f.b").read_bytes()
    meta = rec["outputs"]["f.b"]
    assert meta._id == "f.b"
    assert meta.get_attribute_value("checksum.type") == "sha256"
    assert meta.get_attribute_value("checksum.value") == hashlib.sha256(data).hexdigest()
    assert meta.get_attribute_value("size") == str(len(data))
    assert "f.a" not in rec["outputs"]
    assert rec["tot_ip_size_mb"] == round(5 / (1024 * 1024), 6)
    assert rec["tot_op_size_mb"] == round(len(data) / (1024 * 1024), 6)


def test_odd_output_is_read_back(ks):
    text = "  spaces\n- invocation: True\ncolon: here\n\x01ctl\n"
    run = ks("/bin/sh", "-c", 'printf "$0"', text)
    (rec,) = parse(run.record_path)
    assert rec["stdout"] == text


def test_appended_records(ks, tmp_path):
    ks("-l", "job.out", "/bin/true")
    ks("-H", "-l", "job.out", "/bin/sh", "-c", "exit 2")
    records = parse(tmp_path / "job.out")
    # the parser reads a file's records as one YAML list and keeps the first, as for
    # Pegasus's own clustered jobs; the whole file must still be valid YAML for it
    assert records[0]["exitcode"] == 0


def test_stdout_stderr_extraction(ks):
    run = ks("/bin/sh", "-c", "echo visible")
    parser = kickstart_parser.Parser(str(run.record_path))
    (rec,) = parser.parse_stdout_stderr()
    assert rec["stdout"] == "visible\n"
