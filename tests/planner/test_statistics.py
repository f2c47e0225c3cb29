"""pegasus-statistics on a submit directory built here from real records.

The .out/.err files come from our pegasus-kickstart and pegasus-lite (and one from a real
Pegasus 5.1 PegasusLite job); jobstate.log, the DAG and the .sub files are written by hand
with chosen times, so every count and every wall time is known.  Pegasus's own code (a
test dependency) is the judge of formatting and of what the records say.
"""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest

from planner import records, statistics

BIN = Path(sys.executable).parent
T0 = 1700000000.0
LEAF = "00/00"


# ---------------------------------------------------------------- building a run


class RunBuilder:
    """A submit directory: jobs (.sub), a DAG, braindump.yml, jobstate.log and each
    attempt's rotated .out/.err."""

    def __init__(self, root: Path, workflow: str = "diamond"):
        self.root = root
        self.workflow = workflow
        self.leaf = root / LEAF
        self.leaf.mkdir(parents=True)
        self.jobs: list[tuple[str, list[str]]] = []  # (name, parents)
        self.lines: list[str] = []
        self.tries: dict[str, int] = {}
        self.scratch = root.parent / (root.name + "-scratch")
        self.scratch.mkdir()

    def job(self, name, job_class=1, xform=None, dax_id=None, cluster_size=1, parents=()):
        sub = [
            "universe = %s" % ("vanilla" if job_class == 1 else "local"),
            "executable = %s/pegasus-lite.pyz" % self.root,
            'arguments = "%s.json"' % name,
            "output = %s/%s/%s.out" % (self.root, LEAF, name),
            "error = %s/%s/%s.err" % (self.root, LEAF, name),
            "+pegasus_job_class = %d" % job_class,
            '+pegasus_site = "local"',
            "+pegasus_cluster_size = %d" % cluster_size,
        ]
        if xform:
            sub.append('+pegasus_wf_xformation = "%s"' % xform)
        if dax_id:
            sub.append('+pegasus_wf_dax_job_id = "%s"' % dax_id)
        (self.leaf / (name + ".sub")).write_text("\n".join([*sub, "queue", ""]))
        self.jobs.append((name, list(parents)))

    def event(self, offset: float, name: str, event: str, info: str = "-") -> None:
        attempt = self.tries.get(name, 1)
        self.lines.append("%.3f %s %s %s local - %d" % (T0 + offset, name, event, info, attempt))

    def attempt(self, name, submit, execute, end, code, post_code=None, out=None):
        """One try: events at these offsets from T0, the job's exit code, and what
        produced its .out/.err (a callable writing them)."""
        number = self.tries.get(name, 0) + 1
        self.tries[name] = number
        post = (0 if code == 0 else 1) if post_code is None else post_code
        self.event(submit, name, "SUBMIT", "%d.0" % (100 + len(self.lines)))
        self.event(execute, name, "EXECUTE")
        self.event(end, name, "JOB_TERMINATED")
        self.event(end, name, "JOB_SUCCESS" if code == 0 else "JOB_FAILURE", str(code))
        self.event(end + 0.1, name, "POST_SCRIPT_STARTED")
        self.event(end + 0.3, name, "POST_SCRIPT_TERMINATED")
        self.event(end + 0.3, name, "POST_SCRIPT_%s" % ("SUCCESS" if post == 0 else "FAILURE"),
                   str(post))  # fmt: skip
        base = self.leaf / name
        suffix = ".%03d" % (number - 1)
        if out is not None:
            out(Path(str(base) + ".out" + suffix), Path(str(base) + ".err" + suffix))

    def kickstart(self, xform: str, task_id: str, *command: str):
        def produce(out: Path, err: Path) -> None:
            with open(out, "wb") as o, open(err, "wb") as e:
                subprocess.run(
                    [str(BIN / "pegasus-kickstart"), "-n", xform, "-N", task_id, "-R", "local",
                     *command], stdout=o, stderr=e, cwd=self.scratch, check=False,
                )  # fmt: skip

        return produce

    def lite(self, name: str, tasks: list[dict], outputs: tuple = (), job_id: str | None = None):
        """pegasus-lite runs a spec (its log is the .err, its records the .out)."""

        def produce(out: Path, err: Path) -> None:
            spec = {
                "version": 1,
                "job": {"id": job_id or tasks[0].get("id"), "name": name, "site": "local",
                        "workflow": {"name": self.workflow, "uuid": "u-1", "stamp": "x"}},
                "tasks": tasks,
                "outputs": [{"lfn": lfn} for lfn in outputs],
            }  # fmt: skip
            path = self.scratch / (name + ".json")
            path.write_text(json.dumps(spec))
            env = dict(os.environ, PEGASUS_WN_TMP=str(self.scratch))
            with open(out, "wb") as o, open(err, "wb") as e:
                subprocess.run(
                    [str(BIN / "pegasus-lite"), str(path)], stdout=o, stderr=e,
                    cwd=self.scratch, env=env, check=False,
                )  # fmt: skip

        return produce

    def finish(self, dagman=((0.0, "STARTED", 0),)) -> Path:
        dag = ["# DAG %s" % self.workflow]
        for name, _ in self.jobs:
            dag += [
                "JOB %s %s/%s.sub" % (name, LEAF, name),
                "SCRIPT POST %s %s/pegasus-lite.pyz exitcode -r $RETURN .//%s/%s.out"
                % (name, self.root, LEAF, name),
                "RETRY %s 1" % name,
            ]
        for name, parents in self.jobs:
            dag += ["PARENT %s CHILD %s" % (p, name) for p in parents]
        (self.root / ("%s-0.dag" % self.workflow)).write_text("\n".join(dag) + "\n")
        (self.root / "braindump.yml").write_text(
            'wf_uuid: "u-1"\ndax_label: "%s"\ndag: "%s-0.dag"\njsd: "jobstate.log"\n'
            'submit_dir: "%s"\n' % (self.workflow, self.workflow, self.root)
        )
        head = ["%.3f INTERNAL *** DAGMAN_%s %d ***" % (T0 + t, k, n) for t, k, n in dagman
                if k == "STARTED"]  # fmt: skip
        tail = ["%.3f INTERNAL *** DAGMAN_%s %d ***" % (T0 + t, k, n) for t, k, n in dagman
                if k == "FINISHED"]  # fmt: skip
        (self.root / "jobstate.log").write_text("\n".join(head + self.lines + tail) + "\n")
        return self.root


def copy_reference(reference: Path, stem: str):
    def produce(out: Path, err: Path) -> None:
        shutil.copyfile(reference / (stem + ".out"), out)
        shutil.copyfile(reference / (stem + ".err"), err)

    return produce


def transfer_output(out: Path, err: Path) -> None:
    out.write_text("2026-01-01 00:00:00,000    INFO:  1 transfers loaded\n")
    err.write_text("")


def build_diamond(root: Path, reference: Path) -> Path:
    """Seven jobs: a real Pegasus record, a lite job with an output, a retried job, a
    clustered job of 3 tasks, an auxiliary job with no record, a job failing twice, and
    its child that never ran."""
    b = RunBuilder(root)
    b.job("keg_ID0000001", xform="keg", dax_id="ID0000001")
    b.job("preprocess_ID0000002", xform="diamond::preprocess:4.0", dax_id="ID0000002")
    b.job("findrange_ID0000003", xform="ns::findrange:1", dax_id="ID0000003",
          parents=["preprocess_ID0000002"])  # fmt: skip
    b.job("merge_findrange_PID1_ID1", xform="ns::findrange:1", cluster_size=3,
          parents=["preprocess_ID0000002"])  # fmt: skip
    b.job("stage_out_local_local_0_0", job_class=3, parents=["merge_findrange_PID1_ID1"])
    b.job("analyze_ID0000007", xform="ns::analyze:1", dax_id="ID0000007",
          parents=["findrange_ID0000003"])  # fmt: skip
    b.job("final_ID0000008", xform="ns::final:1", dax_id="ID0000008",
          parents=["analyze_ID0000007"])  # fmt: skip

    b.attempt("keg_ID0000001", 1.0, 2.5, 9.2, 0,
              out=copy_reference(reference, "plite_keg_success"))  # fmt: skip
    b.attempt("preprocess_ID0000002", 1.0, 3.0, 13.0, 0, out=b.lite(
        "preprocess_ID0000002",
        [{"transformation": "diamond::preprocess:4.0", "id": "ID0000002",
          "executable": {"path": "/bin/sh"}, "arguments": ["-c", "echo data > f.b"]}],
        outputs=("f.b",),
    ))  # fmt: skip
    b.attempt("findrange_ID0000003", 20.0, 21.9, 31.1, 3, out=b.kickstart(
        "ns::findrange:1", "ID0000003", "sh", "-c", "echo oops >&2; exit 3"))  # fmt: skip
    b.attempt("findrange_ID0000003", 40.0, 41.0, 47.0, 0,
              out=b.kickstart("ns::findrange:1", "ID0000003", "/bin/true"))  # fmt: skip
    b.attempt("merge_findrange_PID1_ID1", 50.0, 50.5, 110.5, 0, out=b.lite(
        "merge_findrange_PID1_ID1",
        [{"transformation": "ns::findrange:1", "id": "ID000000%d" % i,
          "executable": {"path": "/bin/true"}} for i in (4, 5, 6)],
    ))  # fmt: skip
    b.attempt("stage_out_local_local_0_0", 120.0, 120.0, 125.0, 0, out=transfer_output)
    noisy = "for i in $(seq 1 30); do echo line$i >&2; done; echo oops >&2; exit 3"
    for submit, execute, end in ((130.0, 131.0, 141.0), (150.0, 150.2, 400.9)):
        b.attempt("analyze_ID0000007", submit, execute, end, 3, out=b.lite(
            "analyze_ID0000007",
            [{"transformation": "ns::analyze:1", "id": "ID0000007",
              "executable": {"path": "/bin/sh"}, "arguments": ["-c", noisy]}],
        ))  # fmt: skip
    return b.finish(dagman=((0.0, "STARTED", 0), (407.25, "FINISHED", 1)))


@pytest.fixture(scope="module")
def diamond(tmp_path_factory, reference: Path) -> Path:
    return build_diamond(tmp_path_factory.mktemp("stats") / "run0001", reference)


@pytest.fixture
def fresh(diamond: Path, tmp_path: Path) -> Path:
    """A copy to write statistics into without touching the shared run."""
    copy = tmp_path / "run0001"
    shutil.copytree(diamond, copy, symlinks=True)
    return copy


def run_cli(argv: list[str], capsys) -> tuple[int, str, str]:
    code = statistics.main(argv)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def table(text: str) -> dict[str, list[int]]:
    rows = {}
    for line in text.splitlines():
        parts = line.split()
        if parts and parts[0] in ("Tasks", "Jobs", "Sub-Workflows"):
            rows[parts[0]] = [int(p) for p in parts[1:]]
    return rows


def time_lines(text: str) -> dict[str, str]:
    lines = {}
    for line in text.splitlines():
        if line.startswith(("Workflow wall time", "Cumulative job")):
            label, value = line.split(": ", 1)
            lines[label.rstrip()] = value
    return lines


def pegasus_records(path: Path) -> list[dict]:
    """Each invocation record of a .out as Pegasus's own parser reads it.  Records are
    cut at their ``- invocation:`` lines first: Pegasus's file reader expects the
    ``[cluster-task ...]`` lines pegasus-cluster writes between the records of a
    clustered job, which pegasus-lite does not write."""
    from Pegasus.tools.kickstart_parser import YAMLParser

    parser = YAMLParser(str(path))
    chunks: list[list[str]] = []
    for line in path.read_text().splitlines(True):
        if line.startswith("- invocation:"):
            chunks.append([line])
        elif line.startswith("---------------pegasus-multipart"):
            chunks.append([])  # not a record: dropped below
        elif chunks:
            chunks[-1].append(line)
    entries = [parser.parse_invocation_record("".join(c)) for c in chunks if c]
    return [e for e in entries if e.get("invocation")]


def pegasus_durations(out_files: list[Path]) -> list[tuple[float, bool]]:
    """(duration, failed) of every task record, as Pegasus reads them."""
    return [
        (float(e["duration"]), int(e["raw"]) > 0) for path in out_files
        for e in pegasus_records(path)
    ]  # fmt: skip


# ---------------------------------------------------------------- the summary


def test_summary_table_counts_tasks_jobs_retries(diamond: Path, fresh: Path, capsys):
    code, out, err = run_cli([str(fresh)], capsys)
    assert code == 0, err
    # Tasks: 8 planned (1+1+1+3+1+1), 6 succeeded, ID0000007 failed, ID0000008 never ran,
    # 2 retries (findrange, analyze).  Jobs: 7, the auxiliary one included.
    assert table(out) == {
        "Tasks": [6, 1, 1, 8, 2, 9],
        "Jobs": [5, 1, 1, 7, 2, 8],
        "Sub-Workflows": [0, 0, 0, 0, 0, 0],
    }
    assert "Type           Succeeded Failed  Incomplete  Total     Retries   Total+Retries" in out
    assert "Tasks          6         1       1           8         2         9" in out.splitlines()
    assert "-" * 78 in out.splitlines()


def test_wall_times_are_pegasus_formatted(diamond: Path, fresh: Path, capsys):
    from Pegasus.plots_stats.utils import format_seconds as pegasus_format

    code, out, _ = run_cli([str(fresh)], capsys)
    assert code == 0
    times = time_lines(out)
    leaf = fresh / LEAF
    outs = sorted(p for p in leaf.iterdir() if ".out." in p.name and "stage_out" not in p.name)
    durations = pegasus_durations(outs)
    assert len(durations) == 9  # keg 1, preprocess 1, findrange 2, merge 3, analyze 2
    # the auxiliary job left no record: it counts with EXECUTE..JOB_TERMINATED (5 s)
    job_wall = sum(d for d, _ in durations) + 5.0
    badput = sum(d for d, failed in durations if failed)
    assert times == {
        "Workflow wall time": pegasus_format(Decimal("407.250000")),
        "Cumulative job wall time": pegasus_format(job_wall),
        "Cumulative job wall time as seen from submit side": pegasus_format(358.0),
        "Cumulative job badput wall time": pegasus_format(badput),
        "Cumulative job badput wall time as seen from submit side": pegasus_format(270.0),
    }
    assert times["Workflow wall time"] == "6 mins, 47 secs"
    # whole seconds of EXECUTE..JOB_TERMINATED: 7+10+10+6+60+5+10+250
    assert times["Cumulative job wall time as seen from submit side"] == "5 mins, 58 secs"
    assert times["Cumulative job badput wall time as seen from submit side"] == "4 mins, 30 secs"
    assert (
        "Workflow wall time                                       : 6 mins, 47 secs"
        in out.splitlines()
    )


def test_integrity_lines_from_records_and_multipart(diamond: Path, fresh: Path, capsys):
    from Pegasus.plots_stats.utils import format_seconds as pegasus_format

    code, out, _ = run_cli([str(fresh)], capsys)
    assert code == 0
    lines = out.splitlines()
    # Pegasus's record: 2 inputs verified in 0.016 s (its multipart integrity_summary)
    assert "2 files checksums compared with total duration of 0.02 secs" in lines
    # outputs hashed by kickstart: one in the Pegasus record, one in preprocess's
    hashing = Decimal(0)
    for name in ("keg_ID0000001.out.000", "preprocess_ID0000002.out.000"):
        (entry,) = pegasus_records(fresh / LEAF / name)
        (meta,) = entry["outputs"].values()
        hashing += Decimal(meta.get_attribute_value("checksum.timing")).quantize(Decimal("0.001"))
    expected = "2 files checksums generated with total duration of %s" % pegasus_format(hashing)
    assert expected in lines
    assert "Failures: 0 job failures had integrity errors" in lines
    assert not any(line.startswith("Total:") for line in lines)


def test_summary_file_is_what_was_printed(diamond: Path, fresh: Path, capsys):
    code, out, _ = run_cli([str(fresh)], capsys)
    assert code == 0
    path = fresh / "statistics" / "summary.txt"
    printed = [line.rstrip() for line in path.read_text().splitlines()]
    lines = out.splitlines()
    assert lines[: len(printed)] == printed
    assert lines[len(printed) :] == ["", "%-30s: %s" % ("Summary", path)]
    # the file keeps Pegasus's padded columns
    assert any(line.startswith("Sub-Workflows  0") and line.endswith(" ") for line in
               path.read_text().splitlines())  # fmt: skip


def test_csv_summary_and_times(diamond: Path, fresh: Path, capsys):
    code, out, _ = run_cli([str(fresh), "--csv"], capsys)
    assert code == 0
    summary = fresh / "statistics" / "summary.csv"
    times = fresh / "statistics" / "summary-time.csv"
    assert out.splitlines() == [
        "%-30s: %s" % ("Summary", summary),
        "%-30s: %s" % ("Summary Time", times),
    ]

    def rows(path: Path) -> list[list[str]]:
        text = "".join(
            line for line in path.read_bytes().decode().splitlines(True)
            if line.strip() and not line.startswith("#")
        )  # fmt: skip
        return list(csv.reader(io.StringIO(text)))

    assert rows(summary) == [
        ["Type", "Succeeded", "Failed", "Incomplete", "Total", "Retries", "Total+Retries"],
        ["Tasks", "6", "1", "1", "8", "2", "9"],
        ["Jobs", "5", "1", "1", "7", "2", "8"],
        ["Sub-Workflows", "0", "0", "0", "0", "0", "0"],
    ]
    assert b"\r\n" in summary.read_bytes()  # the csv module's lines, as Pegasus's
    values = dict(rows(times)[1:])
    assert rows(times)[0] == ["stat_type", "time_seconds"]
    assert float(values["workflow_wall_time"]) == 407.25
    assert float(values["cumulative_job_walltime_from_submit_side"]) == 358.0
    assert float(values["cumulative_job_badput_walltime_from_submit_side"]) == 270.0
    assert 5.0 < float(values["workflow_cumulative_job_wall_time"]) < 6.0
    # -f csv is Pegasus's spelling of the same
    code, out2, _ = run_cli([str(fresh), "-f", "csv"], capsys)
    assert (code, out2) == (0, out)


def test_all_adds_one_row_per_try(diamond: Path, fresh: Path, capsys):
    out_dir = fresh / "elsewhere"
    code, out, _ = run_cli([str(fresh), "-s", "all", "-o", str(out_dir)], capsys)
    assert code == 0
    jobs = out_dir / "jobs.txt"
    assert out.splitlines()[-5:] == [
        "%-30s: %s" % ("Summary", out_dir / "summary.txt"),
        "%-30s: %s" % ("Workflow execution statistics", out_dir / "workflow.txt"),
        "%-30s: %s" % ("Job instance statistics", jobs),
        "%-30s: %s" % ("Transformation statistics", out_dir / "breakdown.txt"),
        "%-30s: %s" % ("Integrity statistics", out_dir / "integrity.txt"),
    ]
    text = jobs.read_text().splitlines()
    header = next(i for i, line in enumerate(text) if line.startswith("Job "))
    assert text[header - 1] == "# u-1 (diamond)"
    assert text[header].split() == list(statistics.JOB_COLUMNS)
    rows = [line.split() for line in text[header + 1 :]]
    by_try = {(r[0], r[1]): r for r in rows}
    assert [r[0] for r in rows] == [
        "keg_ID0000001", "preprocess_ID0000002", "findrange_ID0000003",
        "findrange_ID0000003", "merge_findrange_PID1_ID1", "stage_out_local_local_0_0",
        "analyze_ID0000007", "analyze_ID0000007",
    ]  # fmt: skip
    column = {name: i for i, name in enumerate(statistics.JOB_COLUMNS)}
    assert by_try[("findrange_ID0000003", "1")][column["Exitcode"]] == "3"
    assert by_try[("findrange_ID0000003", "2")][column["Exitcode"]] == "0"
    assert by_try[("analyze_ID0000007", "2")][column["Runtime"]] == "250.0"
    assert by_try[("analyze_ID0000007", "2")][column["CondorQTime"]] == "0.2"
    assert by_try[("analyze_ID0000007", "2")][column["Post"]] == "0.2"
    assert by_try[("stage_out_local_local_0_0", "1")][column["Kickstart"]] == "5.0"
    assert by_try[("stage_out_local_local_0_0", "1")][column["CPU-Time"]] == "-"
    assert by_try[("keg_ID0000001", "1")][column["Kickstart"]] == "0.003"
    assert by_try[("keg_ID0000001", "1")][column["Hostname"]] == "192.0.2.2"
    assert by_try[("keg_ID0000001", "1")][column["Resource"]] == "-"
    assert not (fresh / "statistics").exists()


def test_all_adds_workflow_breakdown_and_integrity(diamond: Path, fresh: Path, capsys):
    code, _, _ = run_cli([str(fresh), "-s", "all"], capsys)
    assert code == 0
    stats = fresh / "statistics"

    def rows(name: str) -> dict[tuple[str, str], list[str]]:
        found = {}
        for line in (stats / name).read_text().splitlines():
            parts = line.split()
            if parts and not line.startswith(("#", "-", "Type", "Transformation")):
                found.setdefault(tuple(parts[:2]), parts[2:])
        return found

    breakdown = rows("breakdown.txt")
    assert breakdown[("ns::analyze:1", "failed")][0] == "2"
    assert breakdown[("ns::findrange:1", "failed")][0] == "1"
    assert breakdown[("ns::findrange:1", "successful")][0] == "4"  # a retry and 3 merged
    assert breakdown[("dagman::post", "failed")][0] == "3"
    assert breakdown[("dagman::post", "successful")][0] == "5"
    assert rows("integrity.txt")[("check", "input")] == ["2", "0.016"]
    workflow = (stats / "workflow.txt").read_text().splitlines()
    assert "u-1 (diamond)" + " " * 70 + "0" in workflow
    assert workflow.count("Jobs           5          1         1           7         2         8"
                          + " " * 14) == 2  # fmt: skip


def test_quiet_prints_nothing_but_writes(diamond: Path, fresh: Path, capsys):
    code, out, err = run_cli([str(fresh), "-q"], capsys)
    assert (code, out, err) == (0, "", "")
    assert table((fresh / "statistics" / "summary.txt").read_text())["Jobs"] == [5, 1, 1, 7, 2, 8]


def test_not_a_submit_dir_is_one_line(tmp_path: Path):
    result = subprocess.run(
        [str(BIN / "pegasus-statistics"), str(tmp_path)], capture_output=True, text=True,
        check=False,
    )  # fmt: skip
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr == (
        "pegasus-statistics: %s is not a workflow submit directory (no braindump.yml in it)\n"
        % tmp_path
    )
    missing = tmp_path / "nope"
    result = subprocess.run(
        [str(BIN / "pegasus-statistics"), str(missing)], capture_output=True, text=True,
        check=False,
    )  # fmt: skip
    assert (result.returncode, result.stderr) == (
        1, "pegasus-statistics: %s: no such directory\n" % missing)  # fmt: skip


def test_running_workflow_has_no_wall_time_and_counts_incomplete(diamond, tmp_path, capsys):
    copy = tmp_path / "run0001"
    shutil.copytree(diamond, copy, symlinks=True)
    log = copy / "jobstate.log"
    lines = log.read_text().splitlines()
    # stop just after analyze's second SUBMIT: it is running, DAGMan has not finished
    cut = next(i for i, line in enumerate(lines)
               if "analyze_ID0000007 SUBMIT" in line and line.endswith(" 2"))  # fmt: skip
    log.write_text("\n".join(lines[: cut + 1]) + "\n")
    (copy / LEAF / "analyze_ID0000007.out.001").unlink()
    code, out, _ = run_cli([str(copy)], capsys)
    assert code == 0
    # analyze is neither succeeded nor failed; its second try counts as a job retry, but
    # its task has only one record so far (task retries count records, as Pegasus's do)
    assert table(out)["Jobs"] == [5, 0, 2, 7, 2, 7]
    assert table(out)["Tasks"] == [6, 0, 2, 8, 1, 7]
    assert time_lines(out)["Workflow wall time"] == "-"


def test_unknown_levels_are_named_and_ignored(diamond: Path, fresh: Path, capsys):
    code, _, err = run_cli([str(fresh), "-s", "bogus,ti_stats"], capsys)
    assert code == 0
    assert err.splitlines() == [
        "Invalid value(s) for statistics_level, ignoring <bogus>",
        "pegasus-statistics: ti_stats not computed by this version, ignoring",
    ]
    assert sorted(os.listdir(fresh / "statistics")) == ["summary.txt"]


# ---------------------------------------------------------------- the pieces


@pytest.mark.parametrize(
    "value",
    [None, 0, 0.0, 0.004, 0.5, 1, 1.0, 1.004, 59.999, 60, 61.5, 119, 3599.9, 3600, 3661,
     86399, 86400, 90061, 31535999, 31536000, 31536000 * 2 + 86400 * 3, -5, -0.5,
     Decimal("0.000"), Decimal("0.016"), Decimal("1.000"), Decimal("12.345000"),
     Decimal("407.250000"), Decimal("7322.5")],
)  # fmt: skip
def test_format_seconds_matches_pegasus(value):
    from Pegasus.plots_stats.utils import format_seconds as pegasus_format

    assert statistics.format_seconds(value) == pegasus_format(value)


def test_records_parse_like_pegasus(diamond: Path):
    """Our parser and Pegasus's find the same records with the same fields."""
    for path in sorted((diamond / LEAF).glob("*.out.*")):
        ours = records.read_records(str(path))
        theirs = pegasus_records(path)
        assert ours.errors == []
        real = [i for i in ours.invocations if not i.synthetic]
        assert [(i.transformation, i.task_id, i.raw, i.duration) for i in real] == [
            (e["transformation"], e["derivation"], int(e["raw"]), float(e["duration"]))
            for e in theirs
        ], path.name


def test_damaged_record_costs_only_itself(reference: Path):
    good = (reference / "ks_exit3.yaml").read_text()
    truncated = good[: len(good) // 2].rsplit("\n", 3)[0] + '\n  broken: "unterminated\n'
    text = truncated + good + "node epilogue: job done\n"
    parsed = records.parse_records(text, "x.out")
    assert len(parsed.invocations) == 1
    assert parsed.invocations[0].exitcode == 3
    assert parsed.invocations[0].stderr == "err\n"
    (problem,) = parsed.errors
    assert problem.startswith("record 1 is not valid YAML (line ")


def test_torn_and_foreign_jobstate_lines_are_skipped(diamond: Path, tmp_path: Path, capsys):
    copy = tmp_path / "run0001"
    shutil.copytree(diamond, copy, symlinks=True)
    log = copy / "jobstate.log"
    text = log.read_text()
    # a crash tore the last line; a stray note landed in the middle
    log.write_text("not an event\n" + text + "%.3f analyze_ID0000007 JOB_SUC" % (T0 + 500))
    code, out, _ = run_cli([str(copy)], capsys)
    assert code == 0
    assert table(out)["Jobs"] == [5, 1, 1, 7, 2, 8]
    assert time_lines(out)["Workflow wall time"] == "6 mins, 47 secs"


def test_pyyaml_reads_records_as_ryaml_does(diamond: Path, monkeypatch):
    """Without ryaml (an optional speed-up) the records read the same."""

    def fields(recs: records.Records) -> list[tuple]:
        return [
            (i.transformation, i.task_id, i.raw, i.duration, i.stderr, i.stdout, i.argv,
             i.executable, i.checksum_count, i.hostname, i.utime, i.stime)
            for i in recs.invocations
        ] + [recs.integrity_checks()]  # fmt: skip

    paths = sorted((diamond / LEAF).glob("*.out.*"))
    fast = [fields(records.read_records(str(p))) for p in paths]
    monkeypatch.setattr(records, "_RYAML", False)
    assert [fields(records.read_records(str(p))) for p in paths] == fast


def test_earlier_statistics_files_do_not_linger(diamond: Path, fresh: Path, capsys):
    stats = fresh / "statistics"
    stats.mkdir()
    (stats / "jobs.txt").write_text("from an earlier run\n")
    (stats / "notes.md").write_text("the user's\n")
    code, _, _ = run_cli([str(fresh)], capsys)
    assert code == 0
    assert sorted(os.listdir(stats)) == ["notes.md", "summary.txt"]


def test_clustered_tasks_sharing_an_id_count_one_each(tmp_path: Path, capsys):
    """A clustered spec whose tasks carry no id of their own: every record says the job's
    id, yet the job ran three tasks."""
    b = RunBuilder(tmp_path / "run0001", workflow="merged")
    b.job("merge_x_PID1_ID1", xform="x", cluster_size=3)
    tasks = [{"transformation": "x", "executable": {"path": "/bin/true"}}] * 3
    b.attempt("merge_x_PID1_ID1", 1.0, 2.0, 3.0, 0,
              out=b.lite("merge_x_PID1_ID1", tasks, job_id="ID1"))  # fmt: skip
    root = b.finish(dagman=((0.0, "STARTED", 0), (4.0, "FINISHED", 0)))
    code, out, _ = run_cli([str(root)], capsys)
    assert code == 0
    assert table(out)["Tasks"] == [3, 0, 0, 3, 0, 3]
