"""pegasus-integrity: every mode, exit codes, the multipart file, and compatibility in both
directions with the real tool (pegasus-wms.worker 5.1.3 from PyPI, in its own virtual
environment built by the ``real_integrity`` fixture and cached under .pytest_cache)."""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import console_script
from tests.servers import unavailable
from transfer import integrity
from transfer.integrity_cli import write_multipart

yaml = pytest.importorskip("yaml")

WORKER_VERSION = "5.1.3"
MARKER = "---------------pegasus-multipart\n"
PREFIX = "Integrity check: "
HEX = re.compile(r"^[0-9a-f]{64}$")


def sha(path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


class Run:
    def __init__(self, proc: subprocess.CompletedProcess):
        self.rc = proc.returncode
        self.stdout = proc.stdout
        self.stderr = proc.stderr

    @property
    def lines(self) -> list[str]:
        """stdout and stderr together (the original printed both on stdout)."""
        return self.stdout.splitlines() + self.stderr.splitlines()

    def __repr__(self) -> str:
        return "rc=%s\nstdout=%s\nstderr=%s" % (self.rc, self.stdout, self.stderr)


def clean_env(extra: dict | None = None) -> dict:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("KICKSTART_INTEGRITY_DATA", "PEGASUS_MULTIPART_DIR", "PEGASUS_PYTHONPATH")
    }
    env.update(extra or {})
    return env


def runner(cmd: list[str], default_cwd: Path):
    def run(*args, cwd=None, env=None, stdin=None) -> Run:
        proc = subprocess.run(
            [*cmd, *args],
            input=stdin,
            capture_output=True,
            text=True,
            errors="surrogateescape",
            cwd=cwd or default_cwd,
            env=clean_env(env),
            timeout=120,
            check=False,
        )
        return Run(proc)

    return run


@pytest.fixture
def ours(tmp_path):
    """ours(*args, cwd=, env=, stdin=) runs the installed pegasus-integrity (cwd: tmp_path)."""
    return runner(console_script("pegasus-integrity"), tmp_path)


@pytest.fixture(scope="session")
def real_integrity(request, tmp_path_factory) -> list[str]:
    """The command line of the real pegasus-integrity: pegasus-wms.worker==5.1.3 installed in a
    venv of its own (it has no console scripts, so its module file is run directly).  The venv
    is cached per version and Python under .pytest_cache, else built under the session tmp."""
    if not (shutil.which("openssl") or shutil.which("sha256sum")):
        unavailable("the real pegasus-integrity needs openssl or sha256sum on PATH")
    key = "pegasus-wms.worker-%s-py%d.%d" % (WORKER_VERSION, *sys.version_info[:2])
    cache = getattr(request.config, "cache", None)
    base = Path(cache.mkdir("venvs")) if cache is not None else tmp_path_factory.mktemp("venvs")
    venv = base / key
    python = venv / "bin" / "python"
    if not (venv / "ready").exists():
        build = Path(str(venv) + ".build.%d" % os.getpid())
        shutil.rmtree(build, ignore_errors=True)
        packages = ["pegasus-wms.worker==%s" % WORKER_VERSION, "six>=1.9.0"]
        pip = ["install", "--quiet", "--disable-pip-version-check", "--no-deps", *packages]
        # pegasus-integrity imports only Pegasus.tools.worker_utils (which needs six); boto3
        # and globus-sdk are for pegasus-transfer, so they are left out.  Fast path: a venv
        # without pip, filled by this interpreter's pip (--python needs pip >= 22.3).
        fast = [
            [sys.executable, "-m", "venv", "--without-pip", str(build)],
            [sys.executable, "-m", "pip", "--python", str(build / "bin" / "python"), *pip],
        ]
        slow = [
            [sys.executable, "-m", "venv", str(build)],
            [str(build / "bin" / "python"), "-m", "pip", *pip],
        ]
        error = None
        for steps in (fast, slow):
            shutil.rmtree(build, ignore_errors=True)
            for step in steps:
                proc = subprocess.run(step, capture_output=True, text=True, check=False)
                if proc.returncode != 0:
                    error = (proc.stderr or proc.stdout).strip()[-500:]
                    break
            else:
                error = None
                break
        if error is not None:
            shutil.rmtree(build, ignore_errors=True)
            unavailable("cannot install pegasus-wms.worker==%s: %s" % (WORKER_VERSION, error))
        (build / "ready").write_text(WORKER_VERSION + "\n")
        if not (venv / "ready").exists():  # else another process finished first
            shutil.rmtree(venv, ignore_errors=True)  # a leftover without "ready"
            try:
                os.rename(build, venv)  # bin/ scripts keep the build path; python works
            except OSError:
                pass
        shutil.rmtree(build, ignore_errors=True)
        if not (venv / "ready").exists():
            unavailable("the pegasus-wms.worker venv at %s is not usable" % venv)
    script = subprocess.run(
        [
            str(python),
            "-c",
            "import os, Pegasus.cli as c; "
            "print(os.path.join(c.__path__[0], 'pegasus-integrity.py'))",
        ],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    if not script or not os.path.exists(script):
        shutil.rmtree(venv, ignore_errors=True)
        unavailable(
            "pegasus-wms.worker==%s has no Pegasus/cli/pegasus-integrity.py" % WORKER_VERSION
        )
    return [str(python), script]


@pytest.fixture
def theirs(real_integrity, tmp_path):
    return runner(real_integrity, tmp_path)


@pytest.fixture
def files(tmp_path) -> dict[str, str]:
    """Three data files in tmp_path (one with a space in its name), name -> sha256."""
    content = {"f.a": b"alpha\n", "f b": b"bravo " * 1000, "keg": os.urandom(300_000)}
    for name, data in content.items():
        (tmp_path / name).write_bytes(data)
    return {name: hashlib.sha256(data).hexdigest() for name, data in content.items()}


def meta_list(sums: dict[str, str]) -> list[dict]:
    return [integrity.meta_entry(lfn, value, 0.0) for lfn, value in sums.items()]


def planner_in_meta(path: Path, sums: dict[str, str]) -> None:
    """``<job>.in.meta`` exactly as the planner prints it (Integrity.generateChecksumMetadataFile
    in Pegasus 5.1: tabs, ``"key":"value"`` attributes, hand-built JSON)."""
    parts = []
    for lfn, value in sums.items():
        attrs = ['\n\t\t\t"checksum.type":"sha256",', '\n\t\t\t"checksum.value":"%s",' % value]
        attrs[-1] = attrs[-1][:-1]
        parts.append(
            '\n\t{\n\t\t"_type": "file",\n\t\t"_id": "%s",\n\t\t"_attributes": {%s\n\t\t}\n\t},'
            % (lfn, "".join(attrs))
        )
    body = "".join(parts)[:-1]
    path.write_text("[\n" + body + "\n]\n")


def tamper(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))


def one_multipart(directory: Path) -> tuple[str, str]:
    (entry,) = sorted(directory.iterdir())
    return entry.name, entry.read_text()


def pegasus_multipart(text: str, tmp_path: Path) -> list[dict]:
    """The block as Pegasus's monitord reads it (kickstart_parser, marker included)."""
    from Pegasus.tools.kickstart_parser import YAMLParser

    return YAMLParser(str(tmp_path / "job.out")).parse_multipart_record(MARKER + text)


def kickstart_record(tmp_path: Path, *command: str, env=None) -> Path:
    """Run ``command`` under our pegasus-kickstart (which gives it $KICKSTART_INTEGRITY_DATA and
    pastes that file into the record's ``files:``), as pegasus-transfer runs in a stage-in job."""
    out = tmp_path / "job.out"
    proc = subprocess.run(
        [*console_script("pegasus-kickstart"), "-n", "tr", "-N", "ID1", "-H", *command],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=clean_env(env),
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    out.write_text(proc.stdout)
    return out


def exitcode_meta(outfile: Path, name: str) -> Path:
    """``<job>.meta`` as pegasus-exitcode writes it from the job's kickstart record."""
    from Pegasus import exitcode
    from Pegasus.monitoring.metadata import Metadata

    files = exitcode.parse_metadata_from_kickstart(str(outfile))
    assert files, "no output: True entries in the record"
    Metadata.write_to_jsonfile(files, str(outfile.parent), name, prefix="pegasus-exitcode")
    return outfile.parent / name


# --- modes ------------------------------------------------------------------------------------


def test_generate_prints_sha256sum_lines(ours, files):
    run = ours("--generate", "f.a;;;f b;;;keg")
    assert run.rc == 0, run
    assert run.stdout == "".join("%s  %s\n" % (files[n], n) for n in ("f.a", "f b", "keg"))
    assert run.stderr == ""
    assert ours("--generate=f.a").stdout == "%s  f.a\n" % files["f.a"]


def test_generate_missing_file_fails_after_hashing_the_rest(ours, files):
    run = ours("--generate", "f.a;;;missing;;;keg")
    assert run.rc == 1
    assert run.stdout == "%s  f.a\n%s  keg\n" % (files["f.a"], files["keg"])
    assert run.stderr == PREFIX + "File missing does not exist\n"


def test_generate_a_directory_is_one_clear_line(ours, tmp_path):
    (tmp_path / "d").mkdir()
    run = ours("--generate", "d")
    assert run.rc == 1 and run.stdout == ""
    assert run.stderr == PREFIX + "Unable to determine sha256 of d: Is a directory\n"


def test_generate_yaml(ours, files):
    run = ours("--generate-yaml", "x=f.a;;;keg")
    assert run.rc == 0, run
    blocks = run.stdout.split("\n\n")
    assert blocks[-1] == ""  # every block is followed by an empty line, as the original's print
    for block, name in zip(blocks[:-1], ("f.a", "keg")):
        assert re.fullmatch(r"      sha256: [0-9a-f]{64}\n      checksum_timing: \d+\.\d{3}", block)
        assert yaml.safe_load(block)["sha256"] == files[name]
    assert ours("--generate-yaml", "nope").rc == 1


def _fullstat_fields(path: Path) -> dict:
    st = path.stat()
    return {"size": st.st_size, "inode": st.st_ino, "nlink": st.st_nlink, "uid": st.st_uid}


def test_generate_fullstat_yaml_prints_when_no_kickstart_file(ours, files, tmp_path):
    run = ours("--generate-fullstat-yaml", "lfn.a=f.a;;;f b")
    assert run.rc == 0, run
    assert run.stdout.endswith("\n\n")
    doc = yaml.safe_load("files:\n" + run.stdout)["files"]
    assert list(doc) == ["lfn.a", "f b"]  # without an lfn the pfn is the key (not "None")
    entry = doc["lfn.a"]
    assert entry["file_name"] == "f.a"
    assert entry["comment"] == "entry generated by pegasus-integrity"
    assert entry["sha256"] == files["f.a"]
    assert entry["output"] is True
    assert entry["mode"] == "0o%o" % (tmp_path / "f.a").stat().st_mode  # a string in YAML 1.1
    for key, value in _fullstat_fields(tmp_path / "f.a").items():
        assert entry[key] == value
    # the original's lines, in its order; times are naive UTC ISO, as datetime.utcfromtimestamp
    keys = [line.split(":")[0].strip() for line in run.stdout.splitlines()[1:17]]
    assert keys[:7] == ["comment", "file_name", "mode", "size", "inode", "nlink", "mtime"]
    assert keys[-3:] == ["output", "sha256", "checksum_timing"]
    assert re.search(r"\n      ctime: \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{6})?\n", run.stdout)


def test_generate_fullstat_yaml_appends_to_kickstart_file(ours, files, tmp_path):
    data = tmp_path / "ks.integrity"
    data.write_text("    existing: {}\n")
    env = {"KICKSTART_INTEGRITY_DATA": str(data)}
    assert ours("--generate-fullstat-yaml=a=f.a", env=env).stdout == ""
    run = ours("--generate-fullstat-yaml=b=keg", env=env)
    assert run.rc == 0 and run.stdout == "" and run.stderr == ""
    doc = yaml.safe_load("files:\n" + data.read_text())["files"]
    assert list(doc) == ["existing", "a", "b"]
    assert doc["b"]["sha256"] == files["keg"]


def test_generate_fullstat_yaml_errors(ours, files, tmp_path):
    run = ours("--generate-fullstat-yaml", "a=missing")
    assert run.rc == 1 and run.stderr == PREFIX + "File missing does not exist\n"
    target = tmp_path / "nodir" / "ks"
    run = ours("--generate-fullstat-yaml", "a=f.a", env={"KICKSTART_INTEGRITY_DATA": str(target)})
    assert run.rc == 1
    assert run.stderr == (
        PREFIX + "Unable to append to $KICKSTART_INTEGRITY_DATA (%s): "
        "No such file or directory\n" % target
    )


def test_fullstat_yaml_escapes_odd_names(ours, tmp_path):
    name = 'q"uo\\te\tx'
    (tmp_path / name).write_bytes(b"x")
    run = ours("--generate-fullstat-yaml", name)
    assert run.rc == 0, run
    doc = yaml.safe_load("files:\n" + run.stdout)["files"]
    assert doc[name]["file_name"] == name
    raw = os.fsdecode(b"caf\xe9")  # not UTF-8
    (tmp_path / raw).write_bytes(b"y")
    run = ours("--generate-fullstat-yaml", raw)
    assert run.rc == 0, run
    assert yaml.safe_load("files:\n" + run.stdout)["files"]["caf\xe9"]["size"] == 1


@pytest.mark.parametrize("flag", ["--generate-xmls", "--generate-fullstat-xmls"])
def test_xml_modes_are_accepted_and_do_nothing(ours, files, flag):
    run = ours(flag, "f.a")
    assert (run.rc, run.stdout, run.stderr) == (0, "", "")


@pytest.mark.parametrize(
    "args", [[], ["--print-timings"], ["--generate", "f.a", "--verify", "f.a"], ["x"]]
)
def test_exactly_one_mode(ours, files, args):
    run = ours(*args)
    assert run.rc == 1
    assert (
        PREFIX + "One, and only one, of --generate-* and --verify needs to be specified"
        in run.stderr.splitlines()
    )
    assert run.stdout.startswith("usage: pegasus-integrity [options]")
    assert "--generate-fullstat-yaml" in run.stdout


def test_help_and_bad_option(ours):
    assert ours("--help").rc == 0
    run = ours("--frobnicate", "x")
    assert run.rc == 2 and "no such option: --frobnicate" in run.stderr


def test_no_openssl_or_sha256sum_needed(ours, files):
    run = ours("--generate", "f.a", env={"PATH": "/nonexistent"})
    assert run.rc == 0 and run.stdout == "%s  f.a\n" % files["f.a"]


def test_empty_lists_do_nothing(ours, files, tmp_path):
    integrity.write_meta(str(tmp_path / "j.meta"), meta_list(files))
    assert ours("--generate", "").rc == 0
    assert ours("--verify", "").rc == 0
    assert ours("--verify=stdin", stdin="\n").rc == 0
    run = ours("--verify", ";;;f.a;;;")
    assert run.rc == 0 and run.stderr == ""


# --- verify -----------------------------------------------------------------------------------


def test_verify_success(ours, files, tmp_path):
    integrity.write_meta(str(tmp_path / "parent.meta"), meta_list(files))
    run = ours("--verify", "f.a;;;f b;;;keg")
    assert (run.rc, run.stdout, run.stderr) == (0, "", "")


def test_verify_reports_each_failure_and_checks_every_file(ours, files, tmp_path):
    sums = dict(files)
    sums["f b"] = "0" * 64
    sums["gone"] = files["f.a"]
    integrity.write_meta(str(tmp_path / "parent.meta"), meta_list(sums))
    run = ours("--verify", "gone;;;f b;;;nometa;;;f.a;;;keg")
    assert run.rc == 1
    assert run.stdout == ""
    lines = run.stderr.splitlines()
    assert lines[0] == PREFIX + "File gone does not exist"
    assert re.fullmatch(
        re.escape(PREFIX + "f b: Expected checksum (%s) does not match the calculated checksum (%s)"
                  % ("0" * 64, files["f b"])) + r" \(timing: \d+\.\d{3}\)",
        lines[1],
    )  # fmt: skip
    assert lines[2] == PREFIX + "No checksum in the meta data for nometa"
    assert len(lines) == 3


def test_verify_stdin_lines_and_non_utf8_names(files, tmp_path):
    raw = os.fsdecode(b"caf\xe9.dat")
    (tmp_path / raw).write_bytes(b"bytes")
    sums = {"f.a": files["f.a"], raw: sha(tmp_path / raw), "keg": files["keg"]}
    integrity.write_meta(str(tmp_path / "p.meta"), meta_list(sums))
    proc = subprocess.run(
        [*console_script("pegasus-integrity"), "--verify=stdin"],
        input=b"f.a;;;" + os.fsencode(raw) + b"\r\nkeg\n",
        capture_output=True,
        cwd=tmp_path,
        env=clean_env(),
        check=False,
    )
    assert (proc.returncode, proc.stdout, proc.stderr) == (0, b"", b"")
    tamper(tmp_path / raw)
    proc = subprocess.run(
        [*console_script("pegasus-integrity"), "--verify=stdin"],
        input=os.fsencode(raw),
        capture_output=True,
        cwd=tmp_path,
        env=clean_env(),
        check=False,
    )
    assert proc.returncode == 1
    assert proc.stderr.startswith(b"Integrity check: caf\xe9.dat: Expected checksum (")


def test_main_in_process(files, tmp_path, monkeypatch, capsys):
    from transfer.integrity_cli import main

    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("KICKSTART_INTEGRITY_DATA", raising=False)
    assert main(["--help"]) == 0
    capsys.readouterr()
    assert main(["--generate", "f.a"]) == 0
    assert capsys.readouterr().out == "%s  f.a\n" % files["f.a"]
    assert main(["--verify", "f.a"]) == 1
    assert capsys.readouterr().err == PREFIX + "No checksum in the meta data for f.a\n"
    assert main(["--bogus"]) == 2


def test_verify_lfn_equals_pfn(ours, files, tmp_path):
    integrity.write_meta(str(tmp_path / "p.meta"), meta_list({"logical": files["keg"]}))
    assert ours("--verify", "logical=keg").rc == 0
    run = ours("--verify", "logical=f.a")
    assert run.rc == 1 and "f.a: Expected checksum" in run.stderr


def test_verify_stdin_and_multipart_file(ours, files, tmp_path):
    sums = dict(files)
    sums["keg"] = "f" * 64
    sums["gone"] = files["f.a"]
    integrity.write_meta(str(tmp_path / "p.meta"), meta_list(sums))
    multipart = tmp_path / "mp"
    multipart.mkdir()
    before = int(time.time())
    run = ours(
        "--print-timings",
        "--verify=stdin",
        stdin="f.a;;;f b;;;keg;;;gone;;;nometa\n",
        env={"PEGASUS_MULTIPART_DIR": str(multipart)},
    )
    after = int(time.time())
    assert run.rc == 1
    name, text = one_multipart(multipart)
    epoch, _, suffix = name.partition("-")
    assert suffix == "integrity" and before <= int(epoch) <= after
    doc = yaml.safe_load(text)
    attempts = doc[0]["integrity_verification_attempts"]
    assert [a["lfn"] for a in attempts] == ["f.a", "f b", "keg", "gone"]  # nometa: no attempt
    assert attempts[0] == {"lfn": "f.a", "pfn": "f.a", "sha256": files["f.a"], "success": True}
    assert attempts[2]["success"] is False and attempts[2]["sha256_expected"] == "f" * 64
    assert attempts[2]["sha256"] == files["keg"]
    assert attempts[3]["sha256"] == "None"  # as the original writes a file it could not hash
    summary = doc[1]["integrity_summary"]
    assert (summary["succeeded"], summary["failed"]) == (2, 2)
    assert isinstance(summary["duration"], float)
    assert re.search(r"\n    duration: \d+\.\d{3}\n$", text)
    # and as Pegasus reads it, from the kickstart .out the multipart block is appended to
    parsed = pegasus_multipart(text, tmp_path)
    assert parsed[0]["multipart"] is True
    assert parsed[0]["integrity_verification_attempts"] == attempts
    assert parsed[1]["integrity_summary"]["failed"] == 2


def test_multipart_in_a_job_out_reads_with_pegasus_parser(ours, files, tmp_path):
    from Pegasus.tools.kickstart_parser import Parser

    integrity.write_meta(str(tmp_path / "p.meta"), meta_list(files))
    multipart = tmp_path / "mp"
    multipart.mkdir()
    env = {"PEGASUS_MULTIPART_DIR": str(multipart)}
    assert ours("--print-timings", "--verify=f.a;;;keg", env=env).rc == 0
    out = kickstart_record(tmp_path, "/bin/true")
    with open(out, "a") as fh:  # what pegasus_include_multipart appends
        for entry in sorted(multipart.iterdir()):
            fh.write("\n" + MARKER + entry.read_text())
    records = Parser(str(out)).parse_stampede()
    summaries = [r["integrity_summary"] for r in records if "integrity_summary" in r]
    assert summaries == [{"succeeded": 2, "failed": 0, "duration": summaries[0]["duration"]}]
    assert any(r.get("invocation") for r in records)


def test_print_timings_without_multipart_dir_logs_the_summary(ours, files, tmp_path):
    integrity.write_meta(str(tmp_path / "p.meta"), meta_list(files))
    run = ours("--print-timings", "--verify", "f.a")
    assert run.rc == 0
    assert re.fullmatch(re.escape(PREFIX) + r"1 succeeded, 0 failed, \d+\.\d{3} s .*\n", run.stderr)


def test_multipart_never_overwrites_one_from_the_same_second(tmp_path):
    first = write_multipart(str(tmp_path), 1700000000, "- a: 1\n")
    second = write_multipart(str(tmp_path), 1700000000, "- b: 2\n")
    assert Path(first).name == "1700000000-integrity"
    assert Path(second).name == "1700000000-integrity-2"
    assert Path(first).read_text() == "- a: 1\n"


def test_unwritable_multipart_dir_is_one_line_and_not_fatal(ours, files, tmp_path):
    integrity.write_meta(str(tmp_path / "p.meta"), meta_list(files))
    env = {"PEGASUS_MULTIPART_DIR": str(tmp_path / "missing")}
    run = ours("--print-timings", "--verify", "f.a", env=env)
    assert run.rc == 0
    assert run.stderr.startswith(PREFIX + "Unable to write stats to $PEGASUS_MULTIPART_DIR: ")
    assert len(run.stderr.splitlines()) == 1


def test_meta_files_as_pegasus_reads_them(ours, files, tmp_path):
    planner_in_meta(tmp_path / "job.in.meta", {"f.a": files["f.a"]})
    (tmp_path / "empty.meta").write_text("[]")  # 2 bytes: skipped silently
    (tmp_path / "broken.meta").write_text("{not json")
    (tmp_path / "upper.meta").write_text(json.dumps(meta_list({"keg": files["keg"].upper()})))
    # metadata without a checksum (the planner writes any RC metadata) names no checksum
    (tmp_path / "other.meta").write_text(
        json.dumps([{"_id": "f b", "_type": "file", "_attributes": {"size": "6000"}}])
    )
    run = ours("--verify", "f.a;;;keg")
    assert run.rc == 0
    assert run.stderr.splitlines() == [PREFIX + "unable to read ./broken.meta: Expecting "
                                       "property name enclosed in double quotes: line 1 column 2 "
                                       "(char 1)"]  # fmt: skip
    run = ours("--verify", "f b")
    assert run.rc == 1 and PREFIX + "No checksum in the meta data for f b" in run.stderr


def test_debug_lists_meta_files(ours, files, tmp_path):
    integrity.write_meta(str(tmp_path / "p.meta"), meta_list(files))
    run = ours("--debug", "--verify", "keg")
    assert run.rc == 0
    assert PREFIX + "Loading metadata from p.meta" in run.stderr.splitlines()
    assert any(line.startswith(PREFIX + "keg: checksum verified") for line in run.lines)


def test_older_colon_separator_when_unambiguous(ours, files, tmp_path):
    """Pegasus 5.0 to 5.1.1 planners wrote ``lfn:lfn`` (5.1.2 switched to ``;;;``)."""
    (tmp_path / "x:y").write_bytes(b"colon in the name")
    sums = dict(files)
    sums["x:y"] = sha(tmp_path / "x:y")
    integrity.write_meta(str(tmp_path / "p.meta"), meta_list(sums))
    mp = tmp_path / "mp"
    mp.mkdir()
    env = {"PEGASUS_MULTIPART_DIR": str(mp)}
    # as a 5.0.5 PegasusLite script sends it
    run = ours("--print-timings", "--verify=stdin", stdin="keg:f.a:f b\n", env=env)
    assert run.rc == 0, run
    _, text = one_multipart(mp)
    attempts = yaml.safe_load(text)[0]["integrity_verification_attempts"]
    assert [a["lfn"] for a in attempts] == ["keg", "f.a", "f b"]
    # a name with a colon that has a checksum (or exists) is one name
    assert ours("--verify", "x:y").rc == 0
    # never with ;;; in the list
    run = ours("--verify", "keg:f.a;;;f b")
    assert run.rc == 1 and PREFIX + "No checksum in the meta data for keg:f.a" in run.stderr
    # nothing to go by: kept whole
    run = ours("--verify", "p:q")
    assert run.rc == 1 and run.stderr == PREFIX + "No checksum in the meta data for p:q\n"
    # a tampered file in an old list still fails
    tamper(tmp_path / "keg")
    assert ours("--verify", "f.a:keg").rc == 1


def test_equals_sign_in_a_file_name(ours, tmp_path):
    (tmp_path / "x=1.dat").write_bytes(b"eq")
    integrity.write_meta(
        str(tmp_path / "p.meta"), meta_list({"x=1.dat": sha(tmp_path / "x=1.dat")})
    )
    assert ours("--verify", "x=1.dat").rc == 0
    assert ours("--generate", "x=1.dat").stdout.endswith("  x=1.dat\n")


# --- compatibility with the real pegasus-integrity --------------------------------------------


def test_real_tool_runs(theirs, files):
    run = theirs("--generate", "f.a")
    assert run.rc == 0, run
    assert run.stdout == "%s  f.a\n" % files["f.a"]


def test_our_meta_files_verify_with_theirs(theirs, ours, files, tmp_path):
    """transfer.integrity.write_meta (what pegasus-transfer and our exitcode path write)."""
    entries = [integrity.meta_entry(lfn, files[lfn], 0.01, str(tmp_path / lfn)) for lfn in files]
    integrity.write_meta(str(tmp_path / "parent.meta"), entries)
    spec = "f.a;;;f b;;;keg"
    run = theirs("--verify", spec)
    assert run.rc == 0, run
    tamper(tmp_path / "keg")
    run = theirs("--verify", spec)
    assert run.rc == 1
    assert "keg: Expected checksum (%s) does not match" % files["keg"] in run.stdout
    assert ours("--verify", spec).rc == 1


def test_our_fullstat_yaml_through_kickstart_and_exitcode_verifies_with_theirs(
    theirs, files, tmp_path
):
    """Stage-in: pegasus-transfer -> our --generate-fullstat-yaml -> kickstart record ->
    pegasus-exitcode's <job>.meta -> the child job's real pegasus-integrity --verify."""
    ours_cmd = " ".join(console_script("pegasus-integrity"))
    record = kickstart_record(
        tmp_path, "/bin/sh", "-c", "%s --generate-fullstat-yaml='f.a=f.a;;;keg=keg'" % ours_cmd
    )
    child = tmp_path / "child"
    child.mkdir()
    exitcode_meta(record, "stage_in_0.meta").rename(child / "stage_in_0.meta")
    meta = json.loads((child / "stage_in_0.meta").read_text())
    assert {e["_id"]: e["_attributes"]["checksum.value"] for e in meta} == {
        "f.a": files["f.a"],
        "keg": files["keg"],
    }
    for name in ("f.a", "keg"):
        shutil.copy(tmp_path / name, child / name)
    multipart = child / "mp"
    multipart.mkdir()
    run = theirs(
        "--print-timings",
        "--verify=stdin",
        stdin="f.a;;;keg\n",
        cwd=child,
        env={"PEGASUS_MULTIPART_DIR": str(multipart)},
    )
    assert run.rc == 0, run
    _, text = one_multipart(multipart)
    assert yaml.safe_load(text)[1]["integrity_summary"]["succeeded"] == 2
    tamper(child / "f.a")
    run = theirs("--verify=stdin", stdin="f.a;;;keg\n", cwd=child)
    assert run.rc == 1 and "f.a: Expected checksum (%s)" % files["f.a"] in run.stdout


def test_their_fullstat_yaml_through_kickstart_and_exitcode_verifies_with_ours(
    theirs, ours, real_integrity, files, tmp_path
):
    their_cmd = " ".join("'%s'" % part for part in real_integrity)
    record = kickstart_record(
        tmp_path, "/bin/sh", "-c", "%s --generate-fullstat-yaml='f b=f b'" % their_cmd
    )
    child = tmp_path / "child"
    child.mkdir()
    exitcode_meta(record, "parent.meta").rename(child / "parent.meta")
    shutil.copy(tmp_path / "f b", child / "f b")
    multipart = child / "mp"
    multipart.mkdir()
    env = {"PEGASUS_MULTIPART_DIR": str(multipart)}
    run = ours("--print-timings", "--verify=stdin", stdin="f b\n", cwd=child, env=env)
    assert run.rc == 0, run
    _, text = one_multipart(multipart)
    attempts = yaml.safe_load(text)[0]["integrity_verification_attempts"]
    assert attempts == [{"lfn": "f b", "pfn": "f b", "sha256": files["f b"], "success": True}]
    tamper(child / "f b")
    run = ours("--verify=stdin", stdin="f b\n", cwd=child)
    assert run.rc == 1 and "f b: Expected checksum (%s)" % files["f b"] in run.stderr


def test_their_generate_output_as_meta_verifies_with_ours(theirs, ours, files, tmp_path):
    run = theirs("--generate", "f.a;;;keg")
    assert run.rc == 0, run
    sums = dict(line.split("  ", 1)[::-1] for line in run.stdout.splitlines())
    integrity.write_meta(str(tmp_path / "p.meta"), meta_list(sums))
    assert ours("--verify", "f.a;;;keg").rc == 0
    tamper(tmp_path / "f.a")
    assert ours("--verify", "f.a;;;keg").rc == 1


def test_planner_in_meta_verifies_with_both(theirs, ours, files, tmp_path):
    """The planner's tab-indented <job>.in.meta (replica-catalog checksums)."""
    planner_in_meta(tmp_path / "preprocess_ID0000001.in.meta", files)
    text = (tmp_path / "preprocess_ID0000001.in.meta").read_text()
    assert text.startswith('[\n\n\t{\n\t\t"_type": "file",') and '"checksum.type":"sha256"' in text
    for tool in (theirs, ours):
        run = tool("--print-timings", "--verify=stdin", stdin="f.a;;;f b;;;keg\n")
        assert run.rc == 0, run
    tamper(tmp_path / "f b")
    run = ours("--verify=stdin", stdin="f.a;;;f b;;;keg\n")
    assert run.rc == 1 and "f b: Expected checksum (%s)" % files["f b"] in run.stderr
    assert theirs("--verify=stdin", stdin="f.a;;;f b;;;keg\n").rc == 1


def _normalise(lines: list[str]) -> list[str]:
    out = []
    for line in lines:
        line = re.sub(r"(timing: |checksum_timing: |duration: )\d+\.\d{3}", r"\g<1>T", line)
        line = re.sub(r"^(      atime: ).*", r"\g<1>A", line)
        out.append(line)
    return out


@pytest.fixture
def mixed_meta(files, tmp_path) -> dict[str, str]:
    """A .meta where "f b" has a wrong checksum and "gone" names a file that is not there."""
    sums = dict(files)
    sums["f b"] = "0" * 64
    sums["gone"] = files["f.a"]
    integrity.write_meta(str(tmp_path / "p.meta"), meta_list(sums))
    return sums


@pytest.mark.parametrize(
    "args",
    [
        ["--generate", "f.a;;;f b;;;keg"],
        ["--generate", "f.a;;;missing"],
        ["--generate-yaml", "f.a;;;x=keg"],
        ["--generate-fullstat-yaml", "lfn.a=f.a;;;k=keg"],
        ["--generate-xmls", "f.a"],
        ["--verify", "f.a;;;keg"],
        ["--verify", "f.a;;;f b;;;nometa;;;keg"],
        ["--verify", "k=keg;;;f b=f.a"],
        ["--verify", ""],
    ],
    ids=lambda args: " ".join(args),
)
def test_same_lines_as_the_real_tool(theirs, ours, mixed_meta, args):
    mine, real = ours(*args), theirs(*args)
    assert mine.rc == real.rc, (mine, real)
    # ours: results on stdout, diagnostics on stderr; theirs: everything on stdout
    assert _normalise(mine.lines) == _normalise(real.stdout.splitlines())
    assert real.stderr == ""


def test_same_multipart_file_as_the_real_tool(theirs, ours, mixed_meta, tmp_path):
    for tool, name in ((ours, "mine"), (theirs, "real")):
        mp = tmp_path / name
        mp.mkdir()
        run = tool(
            "--print-timings",
            "--verify=stdin",
            stdin="f.a;;;f b;;;keg;;;nometa\n",
            env={"PEGASUS_MULTIPART_DIR": str(mp)},
        )
        assert run.rc == 1
    mine = one_multipart(tmp_path / "mine")[1].splitlines()
    assert _normalise(mine) == _normalise(one_multipart(tmp_path / "real")[1].splitlines())


def test_same_usage_error_as_the_real_tool(theirs, ours):
    mine, real = ours(), theirs()
    assert mine.rc == real.rc == 1
    assert mine.stderr.splitlines() == real.stdout.splitlines()[:1]
    assert real.stdout.splitlines()[1].lower().startswith("usage: pegasus-integrity")
    assert mine.stdout.splitlines()[0].startswith("usage: pegasus-integrity")


def test_documented_differences_from_the_real_tool(theirs, ours, files, tmp_path):
    """Where we are deliberately better; each keeps the original's exit code."""
    integrity.write_meta(str(tmp_path / "p.meta"), meta_list({"gone": files["f.a"]}))
    # a missing file: one line (theirs adds a mismatch against "None")
    mine, real = ours("--verify", "gone"), theirs("--verify", "gone")
    assert mine.rc == real.rc == 1
    assert mine.lines == [PREFIX + "File gone does not exist"]
    assert real.stdout.splitlines()[0] == PREFIX + "File gone does not exist"
    assert "calculated checksum (None)" in real.stdout
    # generate: every file is hashed; theirs stops at the first failure
    mine, real = ours("--generate", "missing;;;f.a"), theirs("--generate", "missing;;;f.a")
    assert mine.rc == real.rc == 1
    assert mine.stdout == "%s  f.a\n" % files["f.a"] and files["f.a"] not in real.stdout
    # no lfn: the pfn is the key (theirs writes "None")
    mine = ours("--generate-fullstat-yaml", "f.a")
    real = theirs("--generate-fullstat-yaml", "f.a")
    assert mine.stdout.startswith('    "f.a":\n') and real.stdout.startswith('    "None":\n')
