"""From a Pegasus workflow to finished outputs: pegasus-plan, the local engine, statistics.

The split example (README command 1) and Pegasus's black diamond (fixture 008, with a
stand-in for pegasus-keg) are planned and run for real: bytes at the output site, the
submit dir's records, a resumed run that does not repeat what succeeded.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import console_script

REPO = Path(__file__).resolve().parents[2]
KEG = Path(__file__).resolve().parent / "data" / "pegasus-keg"


def run(name: str, *args: str, cwd: Path, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*console_script(name), *args],
        cwd=cwd,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=300,
    )


def submit_dir_of(proc: subprocess.CompletedProcess) -> Path:
    for line in proc.stdout.splitlines():
        if line.startswith("Submit directory: "):
            return Path(line.split(": ", 1)[1])
    raise AssertionError("no submit directory in:\n%s\n%s" % (proc.stdout, proc.stderr))


def submits(submit: Path) -> dict[str, int]:
    """Attempts per job, from the engine's jobstate.log."""
    counts: dict[str, int] = {}
    for line in (submit / "jobstate.log").read_text().splitlines():
        fields = line.split()
        if len(fields) > 2 and fields[2] == "SUBMIT":
            counts[fields[1]] = counts.get(fields[1], 0) + 1
    return counts


def test_split_example_runs_end_to_end(tmp_path):
    subprocess.run(
        [sys.executable, str(REPO / "examples" / "split" / "workflow.py"), "--dir", str(tmp_path)],
        check=True,
        capture_output=True,
    )
    proc = run(
        "pegasus-plan", "--sites", "local", "--output-sites", "local", "--submit", "workflow.yml",
        cwd=tmp_path,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    counts = {p.name: p.read_text().split() for p in (tmp_path / "output").iterdir()}
    assert sorted(counts) == ["count.txt.a", "count.txt.b", "count.txt.c", "count.txt.d"]
    assert counts["count.txt.a"] == ["15", "part.a"]
    assert sum(int(words[0]) for words in counts.values()) == 60
    submit = submit_dir_of(proc)
    assert all(n == 1 for n in submits(submit).values())
    records = list(submit.rglob("wc_ID0000002.out*"))
    assert records and "invocation" in records[0].read_text()

    stats = run("pegasus-statistics", str(submit), cwd=tmp_path)
    assert stats.returncode == 0, stats.stderr
    tasks = next(line for line in stats.stdout.splitlines() if line.startswith("Tasks"))
    assert tasks.split()[1:] == ["5", "0", "0", "5", "0", "5"]


def _diamond(tmp_path: Path, fixtures: Path) -> Path:
    top = tmp_path / "diamond"
    shutil.copytree(fixtures / "pegasus-core-008-black-diamond-pegasuslite-condorio", top)
    for path in top.iterdir():
        path.chmod(0o644)
    (top / "bin").mkdir()
    shutil.copy(KEG, top / "bin" / "pegasus-keg")
    (top / "f.a").write_text("the black diamond's input\n")
    return top


def test_black_diamond_fixture_plans_and_runs_then_resumes(tmp_path, fixtures):
    top = _diamond(tmp_path, fixtures)
    env = {"TOPDIR": str(top)}
    keg = top / "bin" / "pegasus-keg"
    good = keg.read_text()
    # analyze fails on the first run: the run stops there, the rest stays done
    failing = 'sys.exit(3) if "analyze" in argv else None\n    name, inputs, outputs, mode = "keg"'
    keg.write_text(good.replace('name, inputs, outputs, mode = "keg"', failing))
    plan = run(
        "pegasus-plan", "--dir", "submit", "--sites", "condorpool", "--output-sites", "local",
        "--cleanup", "leaf", "--force", "workflow.yml",
        cwd=top, env=env,
    )  # fmt: skip
    assert plan.returncode == 0, plan.stderr
    submit = submit_dir_of(plan)
    first = run("pegasus-run", str(submit), cwd=top, env=env)
    assert first.returncode != 0
    analyzer = run("pegasus-analyzer", str(submit), cwd=top)
    assert analyzer.returncode != 0
    assert "analyze_ID0000004" in analyzer.stdout
    done_before = {job for job, n in submits(submit).items() if not job.startswith("analyze")}

    keg.write_text(good)
    second = run("pegasus-run", str(submit), cwd=top, env=env)
    assert second.returncode == 0, second.stderr
    attempts = submits(submit)
    for job in done_before:
        if job.startswith(("preprocess", "findrange")):
            assert attempts[job] == 1, "%s ran again on resume" % job
    final = (top / "outputs" / "f.d").read_text()
    assert final.startswith("analyze -> f.d\n")
    assert "the black diamond's input" in final
    assert not any((top / "shared-scratch").rglob("f.b1")), "leaf cleanup left scratch files"


@pytest.mark.parametrize("name", ["pegasus-run", "pegasus-statistics", "pegasus-analyzer"])
def test_tools_refuse_a_missing_submit_dir_in_one_line(tmp_path, name):
    proc = run(name, str(tmp_path / "nowhere"), cwd=tmp_path)
    assert proc.returncode != 0
    assert "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize("existing", [False, True])
def test_a_planning_error_after_jobs_were_streamed_leaves_no_files(tmp_path, existing):
    """Compute jobs are written as they are planned: an error at the last job must not
    leave the first ones behind (nor remove a --dir the user made)."""
    from bench import wfgen

    top = tmp_path / "wf"
    wfgen.main(["--shape", "independent", "--jobs", "3", "--dir", str(top)])
    text = (top / "workflow.yml").read_text()
    head, _, tail = text.rpartition("- lfn: f.in")
    (top / "workflow.yml").write_text(head + "- lfn: missing.in" + tail)
    submit = tmp_path / "base" / "run0001"
    if existing:
        submit.mkdir(parents=True)
    proc = run("pegasus-plan", "--dir", str(submit.parent), "--relative-dir", "run0001",
               "workflow.yml", cwd=top)  # fmt: skip
    assert proc.returncode != 0
    assert proc.stderr.strip().splitlines()[-1] == (
        "pegasus-plan: no replica for input 'missing.in' (needed by job ID0000003); "
        "add it to the replica catalog"
    ), proc.stderr
    left = list(submit.rglob("*")) if submit.exists() else []
    assert left == []
    assert submit.exists() == existing
