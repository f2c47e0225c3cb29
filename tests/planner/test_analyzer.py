"""pegasus-analyzer on submit directories built from real records (see test_statistics)."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from planner import analyzer

from .test_statistics import BIN, LEAF, RunBuilder, build_diamond


@pytest.fixture(scope="module")
def diamond(tmp_path_factory, reference: Path) -> Path:
    return build_diamond(tmp_path_factory.mktemp("analyze") / "run0001", reference)


@pytest.fixture(scope="module")
def success(tmp_path_factory) -> Path:
    b = RunBuilder(tmp_path_factory.mktemp("ok") / "run0001", workflow="hello")
    b.job("hello_ID0000001", xform="hello", dax_id="ID0000001")
    b.attempt("hello_ID0000001", 1.0, 2.0, 3.0, 0,
              out=b.kickstart("hello", "ID0000001", "/bin/true"))  # fmt: skip
    return b.finish(dagman=((0.0, "STARTED", 0), (4.0, "FINISHED", 0)))


def analyze(argv: list[str], capsys) -> tuple[int, str, str]:
    code = analyzer.main(argv)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def block(out: str, title: str) -> list[str]:
    """The lines of the block under a centred title, up to the next title (a title longer
    than 80 columns has no dashes around it, as with Pegasus's str.center)."""
    lines = out.splitlines()
    start = next(i for i, line in enumerate(lines) if line.strip("-") == title)
    titles = ("-----", "=====", "*****", "Job stderr file - ", "Job stdout file - ")
    end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith(titles)),
               len(lines))  # fmt: skip
    body = lines[start + 2 : end]
    while body and body[-1] == "":
        body.pop()
    return body


def test_summary_counts_as_pegasus_prints_them(diamond: Path, capsys):
    code, out, _ = analyze([str(diamond)], capsys)
    assert code == 2
    lines = out.splitlines()
    start = lines.index("Summary".center(80, "*"))
    assert lines[start - 1 : start + 10] == [
        "",
        "Summary".center(80, "*"),
        "",
        " Submit Directory   : %s" % diamond,
        " Workflow Status    : failure",
        " Total jobs         :      7 (100.00%)",
        " # jobs succeeded   :      5 (71.43%)",
        " # jobs failed      :      1 (14.29%)",
        " # jobs held        :      0 (0.00%)",
        " # jobs unsubmitted :      1 (14.29%)",
        "",
    ]


def test_failed_job_with_exit_code_and_stderr_tail(diamond: Path, capsys):
    code, out, err = analyze([str(diamond)], capsys)
    assert code == 2
    assert err == (
        "pegasus-analyzer: workflow failed (1 failed job) wf_uuid: u-1 submit dir: %s\n" % diamond
    )
    lines = out.splitlines()
    assert "Failed jobs' details".center(80, "*") in lines
    # only the job that failed for good: findrange failed once, then succeeded
    assert [line.strip("=") for line in lines if line.startswith("===")] == ["analyze_ID0000007"]
    leaf = diamond / LEAF
    at = lines.index("analyze_ID0000007".center(80, "="))
    assert lines[at + 2 : at + 9] == [
        " last state: POST_SCRIPT_FAILURE",
        "       site: local",
        "submit file: %s" % (leaf / "analyze_ID0000007.sub"),
        "output file: %s" % (leaf / "analyze_ID0000007.out.001"),
        " error file: %s" % (leaf / "analyze_ID0000007.err.001"),
        "   exitcode: 3",
        "      tries: 2",
    ]
    summary = block(out, "Task #1 - Summary")
    assert "exitcode    : 3" in summary
    assert "executable  : /usr/bin/dash" in summary or "executable  : /bin/dash" in summary
    assert summary[-1].startswith("working dir : ")
    # the task's stderr, from its kickstart record: its last 20 lines
    stderr = block(out, "Task #1 - ns::analyze:1 - ID0000007 - Kickstart stderr")
    assert stderr[0] == "(last 20 of 31 lines; -v shows all)"
    assert stderr[1:] == ["line%d" % i for i in range(12, 31)] + ["oops"]
    # the PegasusLite log: the job's .err
    log = block(out, "Job stderr file - %s" % (leaf / "analyze_ID0000007.err.001"))
    assert log[-1] == "PegasusLite: exitcode 3"


def test_post_script_reason_from_the_exitcode_log(diamond: Path, tmp_path: Path, capsys):
    copy = tmp_path / "run0001"
    shutil.copytree(diamond, copy, symlinks=True)
    entries = [
        ("findrange_ID0000003", 1, "the job's exit code was 3\n"),
        ("findrange_ID0000003", 0, ""),
        ("analyze_ID0000007", 1, "the job's exit code was 3\n"),
        ("analyze_ID0000007", 1, "some detail\nthe job's exit code was 3 (second try)\n"),
    ]
    (copy / "diamond-0.exitcode.log").write_text("".join(
        json.dumps({"name": ".//%s/%s.out" % (LEAF, job), "exitcode": code, "std_out": "",
                    "std_err": err}) + "\n" for job, code, err in entries
    ))  # fmt: skip
    code, out, _ = analyze([str(copy)], capsys)
    assert code == 2
    lines = out.splitlines()
    at = lines.index("   exitcode: 3")
    assert lines[at + 1] == "POST script: the job's exit code was 3 (second try)"


def test_verbose_shows_whole_outputs(diamond: Path, capsys):
    code, out, _ = analyze(["-v", str(diamond)], capsys)
    assert code == 2
    stderr = block(out, "Task #1 - ns::analyze:1 - ID0000007 - Kickstart stderr")
    assert stderr == ["line%d" % i for i in range(1, 31)] + ["oops"]


def test_quiet_names_files_only(diamond: Path, capsys):
    code, out, _ = analyze(["-q", "-d", str(diamond)], capsys)
    assert code == 2
    assert "oops" not in out.splitlines()  # no stderr, no log
    assert "PegasusLite: exitcode 3" not in out
    assert "exitcode    : 3" in out.splitlines()
    assert "output file: %s" % (diamond / LEAF / "analyze_ID0000007.out.001") in out


def test_summary_only(diamond: Path, capsys):
    code, out, _ = analyze(["-S", str(diamond)], capsys)
    assert code == 2
    assert " # jobs failed      :      1 (14.29%)" in out.splitlines()
    assert "Failed jobs' details" not in out


def test_invocation_option_says_how_to_rerun(diamond: Path, capsys):
    code, out, _ = analyze(["-p", "invocation", str(diamond)], capsys)
    assert code == 2
    assert (
        "To re-run this job, use: %s/pegasus-lite.pyz analyze_ID0000007.json" % diamond
        in out.splitlines()
    )


def test_failing_job_while_it_retries(diamond: Path, tmp_path: Path, capsys):
    copy = tmp_path / "run0001"
    shutil.copytree(diamond, copy, symlinks=True)
    log = copy / "jobstate.log"
    lines = log.read_text().splitlines()
    cut = next(i for i, line in enumerate(lines)
               if "analyze_ID0000007 EXECUTE" in line and line.endswith(" 2"))  # fmt: skip
    log.write_text("\n".join(lines[: cut + 1]) + "\n")
    (copy / LEAF / "analyze_ID0000007.out.001").unlink()
    (copy / LEAF / "analyze_ID0000007.err.001").unlink()
    code, out, _ = analyze([str(copy)], capsys)
    assert code == 0  # nothing has failed for good yet
    lines = out.splitlines()
    assert " Workflow Status    : running" in lines
    assert " # jobs unknown     :      1 (14.29%)" in lines
    assert "Failing jobs' details".center(80, "*") in lines
    assert "output file: %s" % (copy / LEAF / "analyze_ID0000007.out.000") in lines
    assert "oops" in lines
    assert lines[-4:] == ["Done".center(80, "*"), "", "pegasus-analyzer: end of status report", ""]


def test_success_exits_zero(success: Path):
    result = subprocess.run(
        [str(BIN / "pegasus-analyzer"), str(success)], capture_output=True, text=True,
        check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    lines = result.stdout.splitlines()
    assert " Workflow Status    : success" in lines
    assert " # jobs succeeded   :      1 (100.00%)" in lines
    assert "Failed jobs' details" not in result.stdout
    assert lines[-4:] == ["Done".center(80, "*"), "", "pegasus-analyzer: end of status report", ""]


def test_workflow_not_started(success: Path, tmp_path: Path, capsys):
    copy = tmp_path / "run0001"
    shutil.copytree(success, copy, symlinks=True)
    (copy / "jobstate.log").unlink()
    code, out, _ = analyze([str(copy)], capsys)
    assert code == 0
    lines = out.splitlines()
    assert " Workflow Status    : unknown" in lines
    assert " # jobs unsubmitted :      1 (100.00%)" in lines
    assert " Looks like workflow did not start".center(80, "*") in lines


def test_not_a_submit_dir_is_one_line(tmp_path: Path):
    result = subprocess.run(
        [str(BIN / "pegasus-analyzer"), str(tmp_path)], capture_output=True, text=True,
        check=False,
    )  # fmt: skip
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr == (
        "pegasus-analyzer: %s is not a workflow submit directory (no braindump.yml in it)\n"
        % tmp_path
    )
