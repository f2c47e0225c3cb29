"""Our pegasus-exitcode (lite/exitcode.py) against Pegasus's own, on real job output: the
PegasusLite jobs of tests/lite/reference, the C kickstart's records, and jobs run here by our
pegasus-lite.  Verdicts, rotation, .meta, cache lines, the log and the command line."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import kickstart
from lite import exitcode as ours
from tests.conftest import console_script

pegasus = pytest.importorskip("Pegasus.exitcode", reason="pegasus-wms is a test dependency")

HERE = Path(__file__).resolve().parent
REFERENCE = HERE / "reference"
KS_REFERENCE = HERE.parent / "kickstart" / "reference"
LITE_OK = "PegasusLite: exitcode 0"


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def place(directory: Path, name: str, out: str, err: str | None = None) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    out_path = directory / (name + ".out")
    out_path.write_text(out)
    if err is not None:
        (directory / (name + ".err")).write_text(err)
    return out_path


def copy_reference(directory: Path, name: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    for suffix in (".out", ".err"):
        shutil.copyfile(REFERENCE / (name + suffix), directory / (name + suffix))
    return directory / (name + ".out")


def pegasus_accepts(out: Path, returncode, success=(), failure=(), invocations=True) -> bool:
    """Pegasus's judgement, in place (no rename, no .meta)."""
    try:
        pegasus.exitcode(
            str(out),
            check_invocations=invocations,
            dagman_job_status=returncode,
            rename=False,
            failure_messages=[m.replace(" ", "+") for m in failure],
            success_messages=[m.replace(" ", "+") for m in success],
            generate_meta=False,
        )
    except pegasus.JobFailed:
        return False
    return True


def record_of(argv: list[str], **options) -> str:
    """A record from our kickstart, in-process."""
    return kickstart.run(argv, kickstart.Options(**options)).record


# ------------------------------------------------------------------ verdicts, cross-checked

KEG_OUT = (REFERENCE / "plite_keg_success.out").read_text()
KEG_ERR = (REFERENCE / "plite_keg_success.err").read_text()
KS_EXIT3 = (KS_REFERENCE / "ks_exit3.yaml").read_text()
KS_TRUE = (KS_REFERENCE / "ks_true.yaml").read_text()
MULTIPART_ONLY = KEG_OUT[KEG_OUT.index("---------------pegasus-multipart") :]
XML_OK = '<invocation><mainjob><status raw="0"><regular exitcode="0"/></status></mainjob>'
XML_BAD = '<invocation><mainjob><status raw="512"><regular exitcode="2"/></status></mainjob>'
SUMMARY_OK = KS_TRUE + '\n[cluster-summary stat="ok", lines=2, tasks=2, succeeded=2, failed=0]\n'
SUMMARY_BAD = KS_TRUE + '\n[cluster-summary stat="fail", lines=2, tasks=2, succeeded=1, failed=1]\n'

# name: (out, err, $RETURN, success messages, failure messages, invocations, expected ok)
CASES = {
    "keg-success": (KEG_OUT, KEG_ERR, 0, [LITE_OK], [], True, True),
    "keg-dagman-failed": (KEG_OUT, KEG_ERR, 1, [LITE_OK], [], True, False),
    "keg-no-return-code": (KEG_OUT, KEG_ERR, None, [LITE_OK], [], True, True),
    "keg-exitcode-1-in-err": (
        KEG_OUT, KEG_ERR.replace(LITE_OK, "PegasusLite: exitcode 1"), 0, [LITE_OK], [], True,
        False,
    ),
    "keg-failure-message": (KEG_OUT, KEG_ERR, 0, [LITE_OK], ["keg: copying"], True, False),
    "keg-two-success-messages": (
        KEG_OUT, KEG_ERR, 0, [LITE_OK, "keg: copying f.a"], [], True, True,
    ),
    "keg-one-success-message-missing": (
        KEG_OUT, KEG_ERR, 0, [LITE_OK, "never printed"], [], True, False,
    ),
    "c-kickstart-true": (KS_TRUE, "", 0, [], [], True, True),
    "c-kickstart-exit-3": (KS_EXIT3, "", 0, [], [], True, False),
    "empty-out": ("", "PegasusLite: exitcode 0\n", 0, [LITE_OK], [], True, False),
    "empty-out-no-invocations": ("", "", 0, [], [], False, True),
    "multipart-but-no-record": (MULTIPART_ONLY, KEG_ERR, 0, [LITE_OK], [], True, False),
    "integrity-error": (
        KEG_OUT.replace("      output: True\n", '      output: True\n      integrity_error: "x"\n'),
        KEG_ERR, 0, [LITE_OK], [], True, False,
    ),
    "xml-record-ok": (XML_OK, "", 0, [], [], True, True),
    "xml-record-failed": (XML_BAD, "", 0, [], [], True, False),
    "cluster-summary-ok": (SUMMARY_OK, "", 0, [], [], True, True),
    "cluster-summary-failed": (SUMMARY_BAD, "", 0, [], [], True, False),
    "cluster-task-without-summary": (
        KS_TRUE + "\n[cluster-task id=1, start=\"x\"]\n", "", 0, [], [], True, False,
    ),
}  # fmt: skip


@pytest.mark.parametrize("name", sorted(CASES))
def test_verdict_matches_pegasus_exitcode(tmp_path, name):
    out_text, err_text, returncode, success, failure, invocations, expected = CASES[name]
    out = place(tmp_path, "job", out_text, err_text)
    assert pegasus_accepts(out, returncode, success, failure, invocations) is expected
    verdict = ours.check(
        str(out), returncode, success, failure, integrity=False, rotate=False,
        invocations=invocations,
    )  # fmt: skip
    assert verdict.ok is expected, verdict.reason
    assert verdict.attempt_out == str(out)
    assert "\n" not in verdict.reason
    assert out.read_text() == out_text  # judged in place


def test_failure_reasons_name_the_problem(tmp_path):
    def reason(name: str) -> str:
        out_text, err_text, returncode, success, failure, invocations, _ = CASES[name]
        out = place(tmp_path / name, "job", out_text, err_text)
        verdict = ours.check(
            str(out), returncode, success, failure, integrity=False, rotate=False,
            invocations=invocations,
        )  # fmt: skip
        return "%s %d" % (verdict.reason, verdict.exitcode)

    assert reason("keg-dagman-failed") == "the job's exit code was 1 1"
    assert reason("c-kickstart-exit-3") == "the task exited with 3 (kickstart raw status 768) 3"
    assert reason("keg-exitcode-1-in-err") == (
        "success message 'PegasusLite: exitcode 0' missing from the job's output 1"
    )
    assert reason("keg-failure-message") == (
        "failure message 'keg: copying' found in the job's output 0"
    )
    assert reason("empty-out") == "the job's stdout is empty: no kickstart record 0"
    assert reason("multipart-but-no-record") == "no kickstart record in the job's stdout 0"
    assert reason("xml-record-failed") == "the task exited with 2 (kickstart raw status 512) 2"
    assert reason("cluster-summary-failed") == "cluster-summary stat=fail 0"
    assert reason("integrity-error").startswith("kickstart could not compute the checksum")


def test_missing_out_file_fails(tmp_path):
    verdict = ours.check(str(tmp_path / "nothing.out"), 0)
    assert not verdict.ok
    assert verdict.reason == "%s does not exist" % (tmp_path / "nothing.out")
    assert verdict.attempt_out is None


def test_task_output_cannot_pose_as_a_status(tmp_path):
    """A task that prints record-like lines: only the record's own status counts.  (Pegasus's
    tool greps 'raw: N' anywhere in the .out and would fail this job.)"""
    record = record_of(["/bin/sh", "-c", "printf '    status:\\n      raw: 5\\n'"])
    out = place(tmp_path, "job", record, LITE_OK + "\n")
    assert ours.check(str(out), 0, [LITE_OK], rotate=False, integrity=False).ok


# ------------------------------------------------------------------ jobs run by our pegasus-lite


def lite_job(tmp_path: Path, name: str, script: str, outputs=("out.txt",), **task) -> Path:
    """Run pegasus-lite on a one-task spec as HTCondor would (stdout/stderr to the submit
    dir's <name>.out/.err); returns the .out path."""
    scratch = tmp_path / ("scratch-" + name)
    scratch.mkdir()
    wn = tmp_path / ("wn-" + name)
    wn.mkdir()
    spec = {
        "version": 1,
        "job": {"id": "ID1", "name": name, "site": "condorpool",
                "workflow": {"name": "wf", "uuid": "u", "stamp": "2026-01-01T00:00:00Z"}},
        "tasks": [{"transformation": "demo::sh", "executable": {"path": "/bin/sh"},
                   "arguments": ["-c", script], **task}],
        "outputs": [{"lfn": lfn, "destinations": [{"url": "file://%s/out/%s" % (tmp_path, lfn)}]}
                    for lfn in outputs],
    }  # fmt: skip
    (scratch / "job.json").write_text(json.dumps(spec))
    submit = tmp_path / "submit" / "00" / "00"
    submit.mkdir(parents=True, exist_ok=True)
    out, err = submit / (name + ".out"), submit / (name + ".err")
    env = dict(os.environ, PEGASUS_WN_TMP=str(wn), PEGASUS_WN_TMP_MIN_SPACE="1")
    with open(out, "w") as fo, open(err, "w") as fe:
        rc = subprocess.call([*console_script("pegasus-lite"), "job.json"], cwd=scratch,
                             stdout=fo, stderr=fe, env=env, timeout=120)  # fmt: skip
    out.with_suffix(".rc").write_text(str(rc))
    return out


@pytest.mark.parametrize(
    "script, task, expected_rc, expected_ok",
    [
        ("echo a > out.txt; echo b > two.txt", {}, 0, True),
        ("echo partial > out.txt; exit 3", {}, 3, False),
        ("true", {}, 71, False),  # declared outputs missing: a wrapper failure
        ("echo a > out.txt; echo b > two.txt", {"success_message": "all done"}, 1, False),
        ("echo a > out.txt; echo b > two.txt; echo ERROR: bad >&2",
         {"failure_message": "ERROR:"}, 1, False),
    ],
)  # fmt: skip
def test_lite_jobs_judged_like_pegasus_judges_them(
    tmp_path, script, task, expected_rc, expected_ok
):
    out = lite_job(tmp_path, "job_ID1", script, outputs=("out.txt", "two.txt"), **task)
    rc = int(out.with_suffix(".rc").read_text())
    assert rc == expected_rc
    assert pegasus_accepts(out, rc, [LITE_OK]) is expected_ok
    verdict = ours.check(str(out), rc, [LITE_OK])
    assert verdict.ok is expected_ok, verdict.reason
    assert verdict.exitcode == expected_rc
    assert verdict.attempt_out == str(out) + ".000"
    meta = out.parent / "job_ID1.meta"
    if not expected_ok:
        assert not meta.exists()
        return
    entries = json.loads(meta.read_text())
    assert [e["_id"] for e in entries] == ["out.txt", "two.txt"]
    for entry in entries:
        attrs = entry["_attributes"]
        assert entry["_type"] == "file"
        assert attrs["checksum.type"] == "sha256"
        assert attrs["checksum.value"] == sha(tmp_path / "out" / entry["_id"])
        assert attrs["size"] == "2"
    assert verdict.outputs == entries


# ------------------------------------------------------------------ .meta, cache, log


def pegasus_meta(tmp_path: Path, name: str) -> tuple[list, str]:
    """What Pegasus's tool writes for a reference job: (.meta JSON, cache lines)."""
    out = copy_reference(tmp_path / "pegasus", name)
    cache = tmp_path / "pegasus" / "wf-0.cache.meta"
    pegasus.exitcode(
        str(out), dagman_job_status=0, rename=False, success_messages=["PegasusLite:+exitcode+0"],
        wf_metadata_log=str(cache),
    )  # fmt: skip
    return json.loads((tmp_path / "pegasus" / (name + ".meta")).read_text()), cache.read_text()


@pytest.mark.parametrize("name", ["plite_keg_success", "plite_docker_success"])
def test_meta_and_cache_lines_match_pegasus(tmp_path, name):
    their_meta, their_cache = pegasus_meta(tmp_path, name)
    out = copy_reference(tmp_path / "ours", name)
    cache = tmp_path / "ours" / "wf-0.cache.meta"
    cache.write_text('earlier.txt @@PFN@@ size="1"\n')  # appended to, never replaced
    verdict = ours.check(str(out), 0, [LITE_OK], meta_cache=str(cache))
    assert verdict.ok, verdict.reason
    assert json.loads((tmp_path / "ours" / (name + ".meta")).read_text()) == their_meta
    assert cache.read_text() == 'earlier.txt @@PFN@@ size="1"\n' + their_cache
    assert their_meta[0]["_id"] == "f.b"


def test_no_outputs_gives_an_empty_meta_and_no_cache_line(tmp_path):
    out = place(tmp_path, "job", KS_TRUE, "")
    cache = tmp_path / "wf-0.cache.meta"
    assert ours.check(str(out), 0, meta_cache=str(cache)).ok
    assert json.loads((tmp_path / "job.meta").read_text()) == []
    assert not cache.exists()


def test_no_metadata_writes_no_meta(tmp_path):
    out = copy_reference(tmp_path, "plite_keg_success")
    cache = tmp_path / "wf-0.cache.meta"
    assert ours.check(str(out), 0, [LITE_OK], integrity=False, meta_cache=str(cache)).ok
    assert not (tmp_path / "plite_keg_success.meta").exists()
    assert not cache.exists()


def test_log_gets_one_json_line_per_judgement(tmp_path):
    out = copy_reference(tmp_path, "plite_keg_success")
    log = tmp_path / "wf-0.exitcode.log"
    ours.check(str(out), 0, [LITE_OK], log=str(log), retry=0)
    shutil.copyfile(REFERENCE / "plite_keg_success.out", out)
    ours.check(str(out), 2, [LITE_OK], log=str(log), retry=1)
    first, second = (json.loads(line) for line in log.read_text().splitlines())
    assert set(first) == {
        "name",
        "timestamp",
        "exitcode",
        "app_exitcode",
        "retry",
        "job_retry",
        "std_out",
        "std_err",
    }  # fmt: skip  (Pegasus's keys)
    assert (first["exitcode"], first["app_exitcode"], first["retry"], first["job_retry"]) == (
        0, 0, 0, 0,
    )  # fmt: skip
    assert first["name"] == str(out)
    assert (second["exitcode"], second["app_exitcode"], second["retry"]) == (1, 2, 1)
    assert second["std_err"] == "the job's exit code was 2\n"


# ------------------------------------------------------------------ rotation


def test_rotation_keeps_every_attempt(tmp_path):
    directory = tmp_path / "00" / "00"
    out = place(directory, "job", "attempt 1", "err 1")
    first = ours.check(str(out), 1)
    assert (first.attempt, first.attempt_out) == (0, str(out) + ".000")
    assert first.attempt_err == str(directory / "job.err.000")
    place(directory, "job", "attempt 2")  # no .err this time
    second = ours.check(str(out), 1)
    assert (second.attempt, second.attempt_out) == (1, str(out) + ".001")
    assert sorted(p.name for p in directory.iterdir()) == [
        "job.err.000", "job.out.000", "job.out.001",
    ]  # fmt: skip
    assert (directory / "job.out.000").read_text() == "attempt 1"
    assert (directory / "job.err.000").read_text() == "err 1"
    assert (directory / "job.out.001").read_text() == "attempt 2"


def test_rotation_numbers_like_pegasus(tmp_path):
    """Both tools pick the same next number, whichever of them rotated before."""
    directory = tmp_path / "d"
    out = place(directory, "job", KEG_OUT, KEG_ERR)
    pegasus.exitcode(str(out), dagman_job_status=0, generate_meta=False)
    place(directory, "job", KEG_OUT, KEG_ERR)
    assert ours.check(str(out), 0, integrity=False).attempt == 1
    place(directory, "job", KEG_OUT, KEG_ERR)
    pegasus.exitcode(str(out), dagman_job_status=0, generate_meta=False)
    assert sorted(p.name for p in directory.iterdir()) == [
        "job.err.000", "job.err.001", "job.err.002", "job.out.000", "job.out.001", "job.out.002",
    ]  # fmt: skip


def test_an_already_rotated_out_is_judged_where_it_is(tmp_path):
    out = place(tmp_path, "job", KEG_OUT)
    rotated = tmp_path / "job.out.004"
    out.rename(rotated)
    (tmp_path / "job.err.004").write_text(KEG_ERR)
    verdict = ours.check(str(rotated), 0, [LITE_OK])
    assert verdict.ok, verdict.reason
    assert (verdict.attempt, verdict.attempt_out) == (None, str(rotated))
    assert (tmp_path / "job.meta").exists()


# ------------------------------------------------------------------ records


def test_stream_data_gives_back_what_the_task_printed():
    cases = {
        "plain": "hello\nworld\n",
        "no-newline": "no newline at the end",
        "blank-lines-kept": "a\n\n\n",
        "leading-blanks": "  indented\n\ttab\n",
        "controls-and-quotes": 'bell\a "quoted" back\\slash \x1b[0m\n',
        "unicode": "caf\u00e9 \u2603\n",
    }
    for name, text in cases.items():
        env = dict(os.environ, T=text)
        argv = ["/bin/sh", "-c", 'printf "%s" "$T"; printf "err:%s" "$T" >&2']
        inv = kickstart.run(argv, kickstart.Options(expand_arguments=False), env=env)
        streams = ours.stream_data(inv.record)
        assert streams == {"stdout": text, "stderr": "err:" + text}, name


def test_stream_data_reads_the_c_kickstart_record_too():
    assert ours.stream_data(KS_EXIT3) == {"stdout": "hello\n", "stderr": "err\n"}
    assert ours.stream_data(KEG_OUT) == {"stdout": "keg: copying f.a to f.b\n"}


def test_unquote_reads_yaml_escapes():
    assert ours.unquote('"a\\tb\\n\\"q\\" \\\\ \\x41\\u00e9\\e"') == 'a\tb\n"q" \\ A\u00e9\x1b'
    assert ours.unquote("bare value") == "bare value"


def test_command_line_messages_use_plus_for_space():
    assert ours.unquote_message("PegasusLite:+exitcode+0") == LITE_OK
    assert ours.unquote_message("a\\+b+c") == "a+b c"
    assert ours.unquote_message("back\\slash") == "back\\slash"


# ------------------------------------------------------------------ command line


def run_cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*console_script("pegasus-lite"), "exitcode", *args], cwd=cwd, capture_output=True,
        text=True, timeout=60,
    )  # fmt: skip


def test_cli_as_the_dag_post_script_calls_it(tmp_path):
    copy_reference(tmp_path / "00" / "00", "plite_keg_success")
    done = run_cli(
        "-r", "0", "-s", "PegasusLite:+exitcode+0", "-l", "wf-0.exitcode.log", "-M",
        "wf-0.cache.meta", ".//00/00/plite_keg_success.out", cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stderr == "" and done.stdout == ""
    assert sorted(p.name for p in (tmp_path / "00" / "00").iterdir()) == [
        "plite_keg_success.err.000", "plite_keg_success.meta", "plite_keg_success.out.000",
    ]  # fmt: skip
    assert (tmp_path / "wf-0.cache.meta").read_text().startswith("f.b @@PFN@@ user=")
    assert json.loads((tmp_path / "wf-0.exitcode.log").read_text())["exitcode"] == 0


def test_cli_failure_is_exit_1_with_one_line(tmp_path):
    copy_reference(tmp_path, "plite_keg_success")
    done = run_cli("-r", "1", "-N", "plite_keg_success.out", cwd=tmp_path)
    assert done.returncode == 1
    assert done.stderr == "pegasus-exitcode: plite_keg_success.out: the job's exit code was 1\n"
    assert (tmp_path / "plite_keg_success.out.000").exists()


def test_cli_no_rename_and_no_invocations(tmp_path):
    (tmp_path / "aux.out").write_text("")
    done = run_cli("-r", "0", "-n", "-I", "aux.out", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "aux.out").exists()
    assert (tmp_path / "aux.meta").read_text().strip() == "[]"


def test_cli_usage_error_is_one_clear_message(tmp_path):
    done = run_cli(cwd=tmp_path)
    assert done.returncode == 2
    assert "the following arguments are required: outfile" in done.stderr
    assert "Traceback" not in done.stderr


def test_pegasus_own_cli_agrees_on_a_lite_job(tmp_path):
    """Pegasus's pegasus-exitcode script, run as DAGMan would, on our pegasus-lite's output."""
    script = Path(pegasus.__file__).parent / "cli" / "pegasus-exitcode.py"
    ok_out = lite_job(tmp_path, "ok_ID1", "echo a > out.txt")
    bad_out = lite_job(tmp_path, "bad_ID1", "echo a > out.txt; exit 4")
    for out, rc, expected in ((ok_out, 0, 0), (bad_out, 4, 1)):
        done = subprocess.run(
            [sys.executable, str(script), "-r", str(rc), "-n", "-N",
             "-s", "PegasusLite:+exitcode+0", out.name],
            cwd=out.parent, capture_output=True, text=True, timeout=60,
            env=dict(os.environ, PYTHONPATH=str(Path(pegasus.__file__).parents[1])),
        )  # fmt: skip
        assert done.returncode == expected, done.stdout + done.stderr
        assert run_cli("-r", str(rc), "-n", "-N", "-s", "PegasusLite:+exitcode+0", out.name,
                       cwd=out.parent).returncode == expected  # fmt: skip


def test_a_program_that_never_started_fails_the_job(tmp_path):
    record = record_of(["/nonexistent/program"])
    assert "raw: -127" in record
    out = place(tmp_path, "job", record, "")
    verdict = ours.check(str(out), 0, rotate=False, integrity=False)
    assert not verdict.ok
    assert verdict.reason == "the task did not start (kickstart raw status -127)"
    assert verdict.exitcode == 127
