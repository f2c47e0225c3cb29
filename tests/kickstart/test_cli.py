"""pegasus-kickstart as a command: exit codes, records and files, compared with the C tool's."""

from __future__ import annotations

import hashlib
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from tests.conftest import console_script

PY = sys.executable


def wait_for(predicate, timeout=20.0, what="condition"):
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting for %s" % what)
        time.sleep(0.02)


def pid_alive(pid: int) -> bool:
    try:
        with open("/proc/%d/stat" % pid) as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


# Top-level keys of the C tool's record, in its order (shared/reference ks_exit3.yaml).
C_ORDER = [
    "invocation", "version", "start", "duration", "transformation", "derivation",
    "resource", "wf-label", "wf-stamp", "interface", "hostaddr", "hostname", "pid", "uid",
    "user", "gid", "group", "umask", "mainjob", "jobids", "cwd", "usage", "machine", "files",
    "environment", "limits",
]  # fmt: skip


def test_success_record_shape(ks):
    run = ks("/bin/true")
    assert run.rc == 0, run.stderr
    rec = run.record
    keys = list(rec)
    assert keys == [k for k in C_ORDER if k in keys]
    assert rec["version"] == 3.0
    assert "environment" not in rec and "limits" not in rec
    job = rec["mainjob"]
    assert job["status"] == {"raw": 0, "regular_exitcode": 0}
    assert job["executable"]["file_name"] == os.path.realpath("/bin/true")
    assert job["argument_vector"] is None
    assert set(job["usage"]) == {
        "utime", "stime", "maxrss", "minflt", "majflt", "nswap", "inblock", "outblock",
        "msgsnd", "msgrcv", "nsignals", "nvcsw", "nivcsw",
    }  # fmt: skip
    assert rec["machine"]["cpu_count"] >= 1
    assert rec["machine"]["ram_total"] > 0
    assert rec["machine"]["procs_total"] >= 1
    assert set(rec["files"]) == {"stdin", "stdout", "stderr", "metadata"}
    assert rec["files"]["stdin"]["file_name"] == "/dev/null"
    # temporary capture files are removed afterwards
    assert not os.path.exists(rec["files"]["stdout"]["temporary_name"])


def test_exit_code_3_keeps_output_and_adds_environment(ks):
    run = ks("/bin/sh", "-c", "echo hello; echo err >&2; exit 3")
    assert run.rc == 3
    rec = run.record
    assert rec["mainjob"]["status"] == {"raw": 768, "regular_exitcode": 3}
    assert rec["mainjob"]["argument_vector"] == ["-c", "echo hello; echo err >&2; exit 3"]
    assert rec["files"]["stdout"]["data"] == "hello\n"
    assert rec["files"]["stderr"]["data"] == "err\n"
    assert rec["files"]["stdout"]["data_truncated"] is False
    assert rec["environment"]["PATH"] == os.environ["PATH"]
    assert rec["limits"]["RLIMIT_NOFILE_soft"] > 0
    assert "logfile" in rec["files"] and "kickstart" in rec["files"]


def test_killed_by_signal(ks):
    run = ks("/bin/sh", "-c", "kill -9 $$")
    assert run.rc == 128 + 9
    status = run.record["mainjob"]["status"]
    assert status["signalled_signal"] == 9
    assert status["signalled_name"] == "Killed"
    assert status["corefile"] is False


def test_program_not_found(ks):
    run = ks("/nonexistent/program", "x")
    assert run.rc == 127
    job = run.record["mainjob"]
    assert job["status"]["raw"] == -127
    assert job["status"]["failure_error"].startswith("2 ")
    assert job["executable"]["error"] == 2
    assert "cannot execute /nonexistent/program" in run.stderr


def test_not_executable_then_X(ks, tmp_path):
    script = tmp_path / "job.sh"
    script.write_text("#!/bin/sh\necho ran\n")
    script.chmod(0o644)
    run = ks("./job.sh")
    assert run.rc == 127
    assert run.record["mainjob"]["status"]["failure_error"].startswith("13 ")
    run = ks("-X", "./job.sh")
    assert run.rc == 0, run.stderr
    assert run.record["files"]["stdout"]["data"] == "ran\n"
    assert script.stat().st_mode & 0o111 == 0o111


def test_bare_name_found_in_job_directory_then_path(ks, tmp_path):
    (tmp_path / "localtool").write_text("#!/bin/sh\necho local\n")
    (tmp_path / "localtool").chmod(0o755)
    run = ks("localtool")
    assert run.rc == 0
    assert run.record["mainjob"]["executable"]["file_name"] == str(tmp_path / "localtool")
    run = ks("true")
    assert run.record["mainjob"]["executable"]["file_name"] == os.path.realpath(
        shutil.which("true")
    )


IGNORES_TERM = """
import os, signal, sys, time
signal.signal(signal.SIGTERM, signal.SIG_IGN)
child = os.fork()
if child == 0:
    time.sleep(60)
    os._exit(0)
with open(sys.argv[1], "w") as fh:
    fh.write(str(child))
time.sleep(60)
"""


def test_timeout_kills_a_tree_that_ignores_term(ks, tmp_path):
    started = time.monotonic()
    run = ks("-k", "1", "-K", "1", PY, "-c", IGNORES_TERM, tmp_path / "grandchild.pid")
    assert time.monotonic() - started < 30
    assert run.rc == 14
    status = run.record["mainjob"]["status"]
    assert status["signalled_signal"] == 9
    assert status["timeout"] is True
    assert "Job timed out, sending SIGTERM" in run.stderr
    assert "Job still running, sending SIGKILL" in run.stderr
    grandchild = int((tmp_path / "grandchild.pid").read_text())
    wait_for(lambda: not pid_alive(grandchild), what="grandchild to die")


def test_timeout_term_is_enough_for_a_polite_job(ks):
    run = ks("-k", "1", "sleep", "30")
    assert run.rc == 14
    assert run.record["mainjob"]["status"]["signalled_signal"] == 15
    assert "SIGKILL" not in run.stderr


def test_capture_keeps_last_characters(ks):
    run = ks("-B", "10", "seq", "1", "1000")
    assert run.rc == 0
    out = run.record["files"]["stdout"]
    expected = "".join("%d\n" % i for i in range(1, 1001))
    assert out["data_truncated"] is True
    assert out["data"] == expected[-10:]
    assert out["size"] == len(expected)


def test_capture_default_limit_and_all(ks):
    code = "import sys; sys.stdout.write('x' * 300000)"
    run = ks(PY, "-c", code)
    out = run.record["files"]["stdout"]
    assert out["data_truncated"] is True
    assert len(out["data"]) == 262144
    run = ks("-B", "all", PY, "-c", code)
    out = run.record["files"]["stdout"]
    assert out["data_truncated"] is False
    assert out["data"] == "x" * 300000


def test_quiet_drops_output_only_on_success(ks):
    run = ks("-q", "/bin/echo", "hi")
    assert "data" not in run.record["files"]["stdout"]
    run = ks("-q", "/bin/sh", "-c", "echo hi; exit 1")
    assert run.record["files"]["stdout"]["data"] == "hi\n"


def test_stdio_to_files_and_append(ks, tmp_path):
    (tmp_path / "err.txt").write_text("earlier\n")
    (tmp_path / "in.txt").write_text("from stdin\n")
    run = ks("-i", "in.txt", "-o", "out.txt", "-e", "!err.txt", "/bin/sh", "-c", "cat; echo e >&2")
    assert run.rc == 0, run.stderr
    assert (tmp_path / "out.txt").read_text() == "from stdin\n"
    assert (tmp_path / "err.txt").read_text() == "earlier\ne\n"
    files = run.record["files"]
    assert files["stdout"]["file_name"] == "out.txt"
    assert "data" not in files["stdout"]
    assert files["stderr"]["size"] == len("earlier\ne\n")


@pytest.mark.parametrize(
    "options, rc, named",
    [
        (["-i", "missing_stdin_file"], 126, "missing_stdin_file"),  # stdio cannot be connected
        (["-s", "@missing.lof"], 2, "missing.lof"),  # unreadable list: exit errno
        (["-w", "/nonexistent/dir"], 127, "/nonexistent/dir"),
    ],
)
def test_setup_failures_skip_the_job(ks, tmp_path, options, rc, named):
    run = ks(*options, "/bin/sh", "-c", "touch ran")
    assert run.rc == rc
    assert "mainjob" not in run.record
    assert not (tmp_path / "ran").exists()
    assert named in run.stderr
    assert "environment" in run.record


def test_stat_before_and_after_with_sha256(ks, tmp_path):
    (tmp_path / "in.txt").write_text("abc")
    run = ks(
        "-S", "a=in.txt", "-s", "b=out.txt", "-s", "c=missing.txt",
        "/bin/sh", "-c", "cat in.txt > out.txt; echo more >> out.txt",
    )  # fmt: skip
    assert run.rc == 0
    files = run.record["files"]
    assert list(files)[:3] == ["a", "b", "c"]
    assert files["a"]["lfn"] == "a"
    assert files["a"]["file_name"] == str(tmp_path / "in.txt")
    assert files["a"]["size"] == 3
    assert "output" not in files["a"] and "sha256" not in files["a"]
    data = (tmp_path / "out.txt").read_bytes()
    assert files["b"]["output"] is True
    assert files["b"]["size"] == len(data)
    assert files["b"]["sha256"] == hashlib.sha256(data).hexdigest()
    assert isinstance(files["b"]["checksum_timing"], float)
    assert files["c"]["error"] == 2
    assert "sha256" not in files["c"]


def test_list_files_skip_comments_and_blank_lines(ks, tmp_path):
    (tmp_path / "x.txt").write_bytes(b"x" * 5000)
    (tmp_path / "y.txt").write_bytes(b"")
    (tmp_path / "list.lof").write_text("x=x.txt\n# a comment\n\n  y.txt  \n")
    run = ks("-s", "@list.lof", "/bin/true")
    files = run.record["files"]
    assert [k for k in files if k not in ("stdin", "stdout", "stderr", "metadata")] == [
        "x",
        "y.txt",
    ]
    assert files["x"]["sha256"] == hashlib.sha256(b"x" * 5000).hexdigest()
    assert files["y.txt"]["sha256"] == hashlib.sha256(b"").hexdigest()


def test_list_file_name_expands_environment(ks, tmp_path):
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "job.in.lof").write_text("f=f.txt\n")
    (tmp_path / "f.txt").write_text("f")
    run = ks("-S", "@$SCRATCH/job.in.lof", "/bin/true", env={"SCRATCH": str(tmp_path / "sub")})
    assert run.record["files"]["f"]["size"] == 1


def test_workdir_options(ks, tmp_path):
    run = ks("-W", "newdir", "/bin/sh", "-c", "pwd")
    assert run.rc == 0
    assert run.record["cwd"] == str(tmp_path / "newdir")
    assert run.record["files"]["stdout"]["data"] == str(tmp_path / "newdir") + "\n"


def test_argument_file(ks, tmp_path):
    (tmp_path / "args.txt").write_text("/bin/echo\na b\nc:d\n")
    run = ks("-I", "args.txt")
    assert run.rc == 0
    assert run.record["mainjob"]["argument_vector"] == ["a b", "c:d"]
    assert run.record["files"]["stdout"]["data"] == "a b c:d\n"
    assert ks("-I", "args.txt", "extra").rc == 127


ODD_ARGS = [
    'a"b',
    "c: d",
    "new\nline",
    "tab\there",
    "café ☕",
    "- dash",
    "#hash",
    "{braces}",
    "[list]",
    "'single'",
    "trailing space ",
    "yes",
    "null",
    "0o17",
    "",
    "- invocation: True",
]


def test_odd_arguments_and_file_names(ks, tmp_path):
    odd = 'we:ird "name" #1.txt'
    (tmp_path / odd).write_text("z")
    run = ks("-s", "lfn: x=" + odd, "/bin/echo", *ODD_ARGS)
    assert run.rc == 0, run.stderr
    rec = run.record
    assert rec["mainjob"]["argument_vector"] == ODD_ARGS
    assert rec["files"]["lfn: x"]["file_name"] == str(tmp_path / odd)
    assert rec["files"]["stdout"]["data"] == " ".join(ODD_ARGS) + "\n"


def test_non_utf8_bytes_survive_as_latin1(ks, tmp_path):
    arg = os.fsdecode(b"caf\xe9-\xff")
    run = ks("/bin/sh", "-c", r"printf 'raw \377\376 end\n'; printf '\001ctl\n' >&2", arg)
    assert run.rc == 0
    rec = run.record
    assert rec["mainjob"]["argument_vector"][-1] == "caf\xe9-\xff"
    assert rec["files"]["stdout"]["data"] == "raw \xff\xfe end\n"
    assert rec["files"]["stderr"]["data"] == "\x01ctl\n"


def test_output_that_looks_like_yaml_or_records(ks):
    text = "  leading spaces\n- invocation: True\n---------------pegasus-multipart\nkey: [1, 2\n"
    run = ks(PY, "-c", "import sys; sys.stdout.write(%r)" % text)
    assert run.records is not None and len(run.records) == 1
    assert run.record["files"]["stdout"]["data"] == text


def test_labels_and_job_ids(ks):
    run = ks(
        "-n", "ns::keg:1.0", "-N", "ID0000001", "-R", "condorpool", "-L", "'diamond'",
        "-T", "2026-01-01T00:00:00+00:00", "/bin/true",
        env={"CONDOR_JOBID": "12.3", "SLURM_JOBID": "77"},
    )  # fmt: skip
    rec = run.record
    assert rec["transformation"] == "ns::keg:1.0"
    assert rec["derivation"] == "ID0000001"
    assert rec["resource"] == "condorpool"
    assert rec["wf-label"] == "diamond"  # one pair of quotes stripped, as the C tool does
    assert rec["wf-stamp"] == "2026-01-01T00:00:00+00:00"
    assert rec["jobids"] == {"condor": "12.3", "lrmtype": "slurm", "lrm": "77"}


def test_condor_job_ad_gives_the_job_id(ks, tmp_path):
    ad = tmp_path / ".job.ad"
    ad.write_text('ClusterId = 4242\nProcId = 7\nOwner = "someone"\n')
    env = {"_CONDOR_JOB_AD": str(ad), "CONDOR_JOBID": ""}
    assert ks("/bin/true", env=env).record["jobids"] == {"condor": "4242.7"}


def test_no_machine_section(ks):
    assert "machine" not in ks("-H", "/bin/true").record


def test_full_record_redacts_secrets(ks):
    secrets = {
        "AWS_SECRET_ACCESS_KEY": "s3cr3t-aws-value",
        "MY_API_TOKEN": "tok-123456789",
        "DB_PASSWORD": "hunter2-pass",
        "HTTP_PROXY": "http://alice:pr0xy-pw@proxy.example:3128",
    }
    run = ks("-f", "/bin/true", env=secrets)
    assert run.rc == 0
    env = run.record["environment"]
    for value in secrets.values():
        assert value.split("@")[0].split(":")[-1] not in run.stdout.decode("utf-8", "replace")
    assert env["AWS_SECRET_ACCESS_KEY"] == "<redacted>"
    assert env["HTTP_PROXY"] == "http://alice:<redacted>@proxy.example:3128"
    assert "limits" in run.record


def test_record_file_appends_records(ks, tmp_path):
    for _ in range(2):
        run = ks("-l", "rec.yaml", "/bin/true")
        assert run.rc == 0 and run.stdout == b""
    records = yaml.safe_load((tmp_path / "rec.yaml").read_text())
    assert len(records) == 2
    assert all(r["invocation"] is True for r in records)


def test_integrity_data_and_metadata_from_the_job(ks):
    job = (
        'printf \'    "f.out":\\n      sha256: abc\\n\' >> "$KICKSTART_INTEGRITY_DATA";'
        'printf \'{"key": "value"}\\n\' > "$KICKSTART_METADATA"'
    )
    run = ks("/bin/sh", "-c", job)
    assert run.rc == 0, run.stderr
    files = run.record["files"]
    assert files["f.out"] == {"sha256": "abc"}
    assert files["metadata"]["data"] == '{"key": "value"}\n'


def test_usage_errors(ks):
    run = ks()
    assert run.rc == 127 and "Usage:" in run.stderr and run.stdout == b""
    run = ks("-Y", "/bin/true")
    assert run.rc == 127 and "unknown option -Y" in run.stderr
    run = ks("-n")
    assert run.rc == 127 and "needs a value" in run.stderr
    run = ks("-k", "soon", "/bin/true")
    assert run.rc == 127 and "-k needs a number" in run.stderr


def test_version(ks):
    run = ks("-V")
    assert run.rc == 0 and run.stdout.decode().startswith("5.1")


def test_options_stop_at_first_argument(ks):
    run = ks("/bin/echo", "-n", "x")
    assert run.record["mainjob"]["argument_vector"] == ["-n", "x"]
    run = ks("-nTR", "--", "/bin/true")
    assert run.record["transformation"] == "TR"


def test_term_is_forwarded_to_the_job(tmp_path):
    marker = tmp_path / "started"
    cmd = [*console_script("pegasus-kickstart"), "/bin/sh", "-c", 'touch "$0"; exec sleep 60']
    proc = subprocess.Popen([*cmd, str(marker)], cwd=tmp_path, stdout=subprocess.PIPE)
    try:
        wait_for(marker.exists, what="job to start")
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert proc.returncode == 128 + 15
    rec = yaml.safe_load(out)[0]
    assert rec["mainjob"]["status"]["signalled_signal"] == 15
    assert rec["mainjob"]["status"]["forwarded_signals"] == [15]


def test_arguments_expand_environment_variables_like_the_c_tool(ks):
    args = ["$DATA", "${DATA}x", "\\$DATA", "'$DATA'", '"${DATA}"', "$$", "$UNSET_X", "a\\b"]
    run = ks("/bin/echo", *args, env={"DATA": "/data/run 1"})
    assert run.rc == 0, run.stderr
    assert run.record["mainjob"]["argument_vector"] == [
        "/data/run 1",
        "/data/run 1x",
        "$DATA",
        "'$DATA'",
        '"/data/run 1"',
        "$$",  # the C tool aborts with exit 1 on these two; we pass them on as written
        "$UNSET_X",
        "ab",
    ]


REFERENCE = Path(__file__).resolve().parent / "reference"
EXIT3_LABELS = ["-n", "ns::tr:1.0", "-N", "ID01", "-R", "condorpool", "-L", "wflabel"]
EXIT3_LABELS += ["-T", "2026-01-01T00:00:00Z"]


def assert_has_keys_of(ours: dict, theirs: dict, path: str = "") -> None:
    for key, value in theirs.items():
        assert key in ours, "missing %s%s" % (path, key)
        if isinstance(value, dict) and key not in ("environment", "limits", "jobids"):
            assert_has_keys_of(ours[key], value, path + key + ".")


@pytest.mark.parametrize(
    "reference, args",
    [
        ("ks_true.yaml", ["/bin/true"]),
        ("ks_exit3.yaml", [*EXIT3_LABELS, "/bin/sh", "-c", "echo hello; echo err >&2; exit 3"]),
    ],
)
def test_records_match_the_c_tools_structure(ks, reference, args):
    """Every key the C tool wrote is in ours, at the same place, with the same labels."""
    theirs = yaml.safe_load((REFERENCE / reference).read_text())[0]
    run = ks(*args)
    ours = run.record
    assert_has_keys_of(ours, theirs)
    for key in ("transformation", "derivation", "resource", "wf-label", "wf-stamp"):
        assert ours.get(key) == theirs.get(key)
    assert ours["mainjob"]["status"] == theirs["mainjob"]["status"]
    assert ours["mainjob"]["argument_vector"] == theirs["mainjob"]["argument_vector"]
    if "limits" in theirs:
        assert set(theirs["limits"]) <= set(ours["limits"])


def test_side_jobs_run_in_order_around_the_main_job(ks, tmp_path):
    env = {
        "GRIDSTART_SETUP": "/bin/sh -c 'echo setup >> order'",
        "KICKSTART_PREJOB": "/bin/sh -c 'echo pre >> order'",
        "KICKSTART_POSTJOB": "/bin/sh -c 'echo post >> order'",
        "KICKSTART_CLEANUP": "/bin/sh -c 'echo cleanup >> order; exit 9'",
    }
    run = ks("/bin/sh", "-c", "echo main >> order", env=env)
    assert run.rc == 0  # cleanup's status never counts
    assert (tmp_path / "order").read_text().split() == ["setup", "pre", "main", "post", "cleanup"]
    keys = [k for k in run.record if k in ("setup", "prejob", "mainjob", "postjob", "cleanup")]
    assert keys == ["setup", "prejob", "mainjob", "postjob", "cleanup"]
    assert run.record["cleanup"]["status"]["regular_exitcode"] == 9
    assert "environment" in run.record  # a failed part makes the record a full one


def test_failed_prejob_skips_the_main_job(ks, tmp_path):
    run = ks("/bin/sh", "-c", "touch ran", env={"KICKSTART_PREJOB": "/bin/sh -c 'exit 4'"})
    assert run.rc == 4
    assert "mainjob" not in run.record
    assert not (tmp_path / "ran").exists()


def test_failed_postjob_fails_a_good_main_job(ks):
    run = ks("/bin/true", env={"KICKSTART_POSTJOB": "/bin/sh -c 'exit 5'"})
    assert run.rc == 5


def test_wrapper_and_prepended_path(ks, tmp_path):
    bindir = tmp_path / "bin"
    bindir.mkdir()
    (bindir / "mytool").write_text('#!/bin/sh\necho tool "$@"\n')
    (bindir / "mytool").chmod(0o755)
    env = {"KICKSTART_PREPEND_PATH": str(bindir), "KICKSTART_WRAPPER": "/usr/bin/env FOO=1"}
    run = ks("mytool", "x", env=env)
    assert run.rc == 0, run.stderr
    assert run.record["files"]["stdout"]["data"] == "tool x\n"
    assert run.record["mainjob"]["argument_vector"] == ["FOO=1", "mytool", "x"]


def test_output_backup_with_caret(ks, tmp_path):
    (tmp_path / "log.txt").write_text("first\n")
    run = ks("-o", "^log.txt", "/bin/echo", "second")
    assert run.rc == 0
    assert (tmp_path / "log.txt.000").read_text() == "first\n"
    assert (tmp_path / "log.txt").read_text() == "second\n"


def test_capture_size_in_c_notation(ks):
    run = ks("-B", "0x4", "/bin/echo", "abcdefgh")
    assert run.record["files"]["stdout"]["data"] == "fgh\n"
    assert ks("-B", "0", "/bin/true").rc == 127
    assert ks("-K", "0", "/bin/true").rc == 127
