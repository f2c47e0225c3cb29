"""pegasus-plan time and peak memory from 1k to 1M jobs; local engine throughput on no-op jobs.

Planning: for each shape of bench/wfgen.py (``independent``: every job reads the shared
f.in and writes its own output, stageOut true; ``chainfan``: a chain of fan-out/fan-in
stages, depth growing with the jobs; ``independent-no-outputs``: the jobs of Pegasus's own
014-planner-performance-100k test, which read f.in and write nothing) and each size, the
workflow is generated once (untimed), then ``pegasus-plan --sites local --output-sites
local --dir D --cleanup leaf workflow.yml`` of the clean install of this checkout
(bench_venv with the planner extra) runs as a child process in the workflow's directory:
wall time from spawn to exit, and the child's peak RSS (``os.wait4``'s ``ru_maxrss``).
Every run is checked: exit 0, the DAG has exactly one JOB line per workflow job and the
workflow's edges between them, a compute and an auxiliary ``.sub`` parse with HTCondor's
``htcondor2.Submit``, the compute job's lite spec is JSON.  The submit dir is deleted after
each run.

Engine: an independent workflow of N jobs running ``/bin/true`` (no outputs) is planned
(untimed), then ``pegasus-run SUBMITDIR -j CORES`` is timed; checked: exit 0, jobstate.log
ends with ``DAGMAN_FINISHED 0`` and every DAG node's last event is a success.

The real Java pegasus-plan cannot run here: Pegasus's published CI limits for its 100k test
are quoted from shared/anchors/planner.md, labelled as such.
"""

from __future__ import annotations

import argparse
import getpass
import json
import math
import os
import re
import shutil
import signal
import statistics
import sys
import threading
import time
from pathlib import Path

from bench import wfgen
from bench.install import WORK, bench_venv
from bench.runner import table, write_results

BASE = WORK / "planner"
TMPFS = Path("/dev/shm/pegasus-lite-bench-planner")
TMPFS_KIB_PER_JOB = 12  # a submit dir holds about 4 KB per job; generous for tmpfs pages
SIZES = (1_000, 10_000, 100_000, 1_000_000)
SHAPES = ("independent", "chainfan", "independent-no-outputs")
# By default the 014-like shape is planned up to Pegasus's own test size only.
DEFAULT_SHAPES = {"independent": None, "chainfan": None, "independent-no-outputs": 100_000}
MIN_FREE_GB = 20.0
MIN_FREE_INODES = 5_000_000  # a 1M-job submit dir holds 2-3 million files
MIB = 1024 * 1024
JOB_LINE = re.compile(r"^JOB\s+(\S+)\s+(\S+)")
EDGE_LINE = re.compile(r"^PARENT\s+(.+?)\s+CHILD\s+(.+)$")
DAX_ID = re.compile(r"(ID\d{7})$")
PHASE = re.compile(r"^\[\s*([0-9.]+)s\]\s(.*)$")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--sizes",
        default=",".join(str(n) for n in SIZES),
        help="planning: jobs per workflow, comma-separated (default 1000,10000,100000,1000000)",
    )
    parser.add_argument("--max-jobs", type=int, default=None, help="leave out larger sizes")
    parser.add_argument(
        "--shapes",
        default=None,
        help="comma-separated, of %s (default: all, independent-no-outputs up to 100k only)"
        % ", ".join(SHAPES),
    )
    parser.add_argument(
        "--runs", type=int, default=3, help="runs per size up to 100k (default 3; 1 above)"
    )
    parser.add_argument(
        "--timeout", type=float, default=3600.0, help="seconds before a run is stopped"
    )
    parser.add_argument(
        "--engine-sizes", default="200,1000", help="engine: no-op jobs per workflow (200,1000)"
    )
    parser.add_argument("--engine-runs", type=int, default=3, help="engine runs per size (3)")
    parser.add_argument(
        "--engine-chainfan",
        type=int,
        default=200,
        help="engine: also a chainfan workflow of this many touch jobs (0: none)",
    )
    parser.add_argument(
        "-j", "--engine-jobs", type=int, default=None, help="pegasus-run -j (default: cores)"
    )
    parser.add_argument(
        "--tmpfs-sizes",
        default="100000",
        help="also plan these sizes with everything in %s, to tell the planner's own cost "
        "from the filesystem's (default 100000; empty: none)" % TMPFS,
    )
    parser.add_argument("--no-plan", action="store_true", help="leave the planning sizes out")
    parser.add_argument("--no-engine", action="store_true", help="leave the engine out")
    parser.add_argument(
        "--min-free-gb",
        type=float,
        default=MIN_FREE_GB,
        help="skip sizes of 1M and more below this much free disk (default %g)" % MIN_FREE_GB,
    )


# ---------------------------------------------------------------- one child process


class Child:
    """One finished child process: wall seconds, exit code, rusage, its stderr lines."""

    def __init__(self, seconds: float, code: int, maxrss_kib: int, cpu: float, err: Path):
        self.seconds, self.code, self.maxrss_kib, self.cpu = seconds, code, maxrss_kib, cpu
        self.err = err
        self.phases: list[tuple[float, str]] = []  # the planner's "[  1.2s] message" lines

    @property
    def planned_at(self) -> float | None:
        """When the planner started writing the submit dir (its "writing N jobs" line)."""
        found = [t for t, message in self.phases if message.startswith("writing ")]
        return found[-1] if found else None

    def stderr_lines(self, limit: int = 400) -> list[str]:
        """The first ``limit`` lines of its stderr (a runaway warning loop stays cheap)."""
        lines = []
        try:
            with open(self.err, errors="replace") as fh:
                for line in fh:
                    lines.append(line.rstrip("\n"))
                    if len(lines) >= limit:
                        break
        except OSError:
            pass
        return lines

    def tail(self, count: int = 20) -> list[str]:
        try:
            with open(self.err, errors="replace") as fh:
                return [line.rstrip("\n") for line in fh.readlines()[-count:]]
        except OSError:
            return []

    def problem(self) -> str:
        """One line: why it failed, from its last stderr line."""
        lines = [line for line in self.tail() if line.strip()]
        last = lines[-1].strip() if lines else "(no stderr)"
        if self.code < 0:
            return "killed by signal %d: %s" % (-self.code, last)
        return "exit %d: %s" % (self.code, last[:300])


# A small process between the bench and the measured one.  Linux counts the memory of the
# process a child was forked from into the child's ru_maxrss, so spawning the planner from
# the bench itself (hundreds of MB after reading a 1M-job DAG) would report the bench's size.
# This launcher is a bare interpreter (-I -S, ~10 MB): it spawns, waits and reports.
LAUNCHER = r"""
import json, os, sys, time
result, argv = sys.argv[1], sys.argv[2:]
started = time.perf_counter()
pid = os.posix_spawn(argv[0], argv, os.environ)
_, status, usage = os.wait4(pid, 0)
elapsed = time.perf_counter() - started
with open(result, "w") as fh:
    json.dump({"seconds": elapsed, "code": os.waitstatus_to_exitcode(status),
               "maxrss_kib": usage.ru_maxrss, "cpu": usage.ru_utime + usage.ru_stime}, fh)
"""


def run_child(argv: list[str], cwd: Path, out: Path, err: Path, timeout: float) -> Child:
    """Run ``argv`` in ``cwd`` through the launcher (own process group, stopped after
    ``timeout`` s): wall time, exit code, peak RSS and CPU of that process alone."""
    fd_in = os.open(os.devnull, os.O_RDONLY)
    fd_out = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    fd_err = os.open(err, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    report = out.with_suffix(".rusage.json")
    report.unlink(missing_ok=True)
    launcher = [sys.executable, "-I", "-S", "-c", LAUNCHER, str(report), *argv]
    here = os.getcwd()
    os.chdir(cwd)
    try:
        pid = os.posix_spawn(
            launcher[0],
            launcher,
            env,
            file_actions=[
                (os.POSIX_SPAWN_DUP2, fd_in, 0),
                (os.POSIX_SPAWN_DUP2, fd_out, 1),
                (os.POSIX_SPAWN_DUP2, fd_err, 2),
            ],
            setpgroup=0,
        )
    finally:
        os.chdir(here)
        for fd in (fd_in, fd_out, fd_err):
            os.close(fd)
    done = threading.Event()

    def stop() -> None:
        if not done.is_set():
            try:
                os.killpg(pid, signal.SIGKILL)  # the group of the launcher started above
            except OSError:
                pass

    timer = threading.Timer(timeout, stop)
    timer.daemon = True
    timer.start()
    try:
        _, status, _ = os.wait4(pid, 0)
    finally:
        done.set()
        timer.cancel()
    try:
        figures = json.loads(report.read_text())
    except (OSError, ValueError):
        code = os.waitstatus_to_exitcode(status)
        figures = {"seconds": timeout, "code": code or -signal.SIGKILL, "maxrss_kib": 0,
                   "cpu": 0.0}  # fmt: skip
    report.unlink(missing_ok=True)
    return Child(figures["seconds"], figures["code"], figures["maxrss_kib"], figures["cpu"], err)


# ---------------------------------------------------------------- checks


def submit_dir_of(base: Path, name: str) -> Path | None:
    """Where pegasus-plan put the plan: BASE/USER/pegasus/WF/run0001, else any run dir."""
    expected = base / getpass.getuser() / "pegasus" / name / "run0001"
    if expected.is_dir():
        return expected
    found = sorted(base.glob("*/pegasus/*/run*"))
    return found[0] if found else None


def read_dag(submit: Path, name: str) -> tuple[dict[str, str], list[tuple[str, str]]]:
    """({node: .sub path}, [(parent, child)]) of ``<name>-0.dag``."""
    nodes: dict[str, str] = {}
    edges: list[tuple[str, str]] = []
    with open(submit / ("%s-0.dag" % name)) as fh:
        for line in fh:
            if line.startswith("JOB"):
                match = JOB_LINE.match(line)
                if match:
                    nodes[match.group(1)] = match.group(2)
            elif line.startswith("PARENT"):
                match = EDGE_LINE.match(line.strip())
                if match:
                    for parent in match.group(1).split():
                        edges.extend((parent, child) for child in match.group(2).split())
    return nodes, edges


def parse_sub(path: Path) -> str | None:
    """None when HTCondor's own parser takes the .sub and it runs the bundle."""
    try:
        import htcondor2
    except ImportError:
        return "htcondor2 not importable: .sub not checked"
    try:
        text = path.read_text()
        sub = htcondor2.Submit(text)
    except Exception as exc:  # the bindings raise ValueError, RuntimeError, ...
        return "%s does not parse: %s" % (path.name, str(exc).splitlines()[0][:200])
    executable = sub.get("executable") or ""
    if not executable.endswith("pegasus-lite.pyz"):
        return "%s: executable is %r, not the bundle" % (path.name, executable)
    return None


def check_plan(submit: Path | None, info: wfgen.Generated) -> tuple[str | None, dict]:
    """(problem or None, figures) for one plan of ``info``'s workflow."""
    if submit is None:
        return "no submit directory was written", {}
    try:
        nodes, edges = read_dag(submit, info.name)
    except OSError as exc:
        return "no DAG: %s" % exc, {}
    compute = {}
    for node in nodes:
        match = DAX_ID.search(node)
        if match:
            if match.group(1) in compute:
                return "two DAG nodes for %s" % match.group(1), {}
            compute[match.group(1)] = node
    figures = {"nodes": len(nodes), "aux": len(nodes) - len(compute), "edges": len(edges)}
    if len(compute) != info.jobs:
        return "DAG has %d compute JOB lines for %d jobs" % (len(compute), info.jobs), figures
    expected = {"ID%07d" % i for i in range(1, info.jobs + 1)}
    if set(compute) != expected:
        return "DAG compute nodes are not ID0000001..ID%07d" % info.jobs, figures
    names = set(compute.values())
    between = sum(1 for p, c in edges if p in names and c in names)
    if between != info.edges:
        return "DAG has %d edges between compute jobs, workflow %d" % (between, info.edges), figures
    first = compute["ID0000001"]
    problem = parse_sub(submit / nodes[first])
    if problem:
        return problem, figures
    spec = (submit / nodes[first]).with_suffix(".json")
    try:
        json.loads(spec.read_text())
    except (OSError, ValueError) as exc:
        return "lite spec %s: %s" % (spec.name, exc), figures
    aux = sorted(set(nodes) - names)
    if aux:
        problem = parse_sub(submit / nodes[aux[0]])
        if problem:
            return problem, figures
    return None, figures


def check_jobstate(submit: Path, nodes: set[str]) -> str | None:
    """None when jobstate.log says the DAG finished 0 and every node succeeded."""
    last: dict[str, str] = {}
    finished = None
    try:
        with open(submit / "jobstate.log") as fh:
            for line in fh:
                parts = line.split()
                if len(parts) >= 5 and parts[1] == "INTERNAL" and parts[3] == "DAGMAN_FINISHED":
                    finished = parts[4]
                elif len(parts) >= 3 and parts[1] != "INTERNAL":
                    last[parts[1]] = parts[2]
    except OSError as exc:
        return "no jobstate.log: %s" % exc.strerror
    if finished != "0":
        return "jobstate.log: DAGMAN_FINISHED %s" % finished
    failed = sorted(n for n in nodes if last.get(n) not in ("POST_SCRIPT_SUCCESS", "JOB_SUCCESS"))
    if failed:
        return "%d of %d nodes did not succeed (e.g. %s: %s)" % (
            len(failed),
            len(nodes),
            failed[0],
            last.get(failed[0], "no events"),
        )
    return None


# ---------------------------------------------------------------- planning


def planner_argv(venv: Path, base: Path) -> list[str]:
    return [
        str(venv / "bin" / "pegasus-plan"),
        "--sites", "local", "--output-sites", "local",
        "--dir", str(base), "--cleanup", "leaf", "workflow.yml",
    ]  # fmt: skip


def clean_run(info: wfgen.Generated, base: Path) -> None:
    """The submit dir and whatever the plan or run left in the workflow's scratch/outputs."""
    for path in (base, info.directory / "scratch", info.directory / "outputs"):
        shutil.rmtree(path, ignore_errors=True)
    os.sync()  # the deletion's writes land now, not during the next timed run


def shape_args(shape: str) -> dict:
    if shape == "independent-no-outputs":
        return {"shape": "independent", "outputs": False}
    return {"shape": shape}


def free_space(path: Path) -> tuple[float, int]:
    """(free GB, free inodes) where the bench writes."""
    path.mkdir(parents=True, exist_ok=True)
    usage = shutil.disk_usage(path)
    stat = os.statvfs(path)
    return usage.free / 1e9, stat.f_favail


def file_create_ms(base: Path, count: int = 2000) -> float:
    """Milliseconds to create, write and close one small file where the submit dirs go: the
    floor under a planner that writes two files per job."""
    probe = base / "fs-probe"
    shutil.rmtree(probe, ignore_errors=True)
    probe.mkdir(parents=True)
    text = "x" * 1500  # about a .sub
    started = time.perf_counter()
    for i in range(count):
        with open(probe / ("f%d.sub" % i), "w") as fh:
            fh.write(text)
    elapsed = time.perf_counter() - started
    shutil.rmtree(probe, ignore_errors=True)
    return elapsed * 1000 / count


def plan_case(
    venv: Path, shape: str, jobs: int, runs: int, timeout: float, root: Path = BASE
) -> dict:
    """Generate once, plan ``runs`` times; every run checked and its submit dir removed."""
    wf_dir = root / ("%s-%d" % (shape, jobs))
    shutil.rmtree(wf_dir, ignore_errors=True)
    started = time.perf_counter()
    info = wfgen.generate(directory=wf_dir, jobs=jobs, name="%s-%d" % (shape, jobs),
                          **shape_args(shape))  # fmt: skip
    result = {
        "shape": shape,
        "jobs": jobs,
        "info": info,
        "generate_s": time.perf_counter() - started,
        "yaml_mb": info.workflow.stat().st_size / MIB,
        "children": [],
        "figures": {},
        "error": None,
    }
    for attempt in range(runs):
        base = wf_dir / ("submit-%d" % attempt)
        clean_run(info, base)
        print("  %s %d jobs: plan run %d/%d" % (shape, jobs, attempt + 1, runs), flush=True)
        child = run_child(planner_argv(venv, base), wf_dir, wf_dir / "plan.out",
                          wf_dir / "plan.err", timeout)  # fmt: skip
        if child.code != 0:
            result["error"] = child.problem()
        else:
            problem, figures = check_plan(submit_dir_of(base, info.name), info)
            result["figures"] = figures
            if problem:
                result["error"] = "plan written but wrong: %s" % problem
        if result["error"]:
            result["error_stderr"] = child.tail()
            clean_run(info, base)
            break
        child.phases = [
            (float(m.group(1)), m.group(2)) for m in map(PHASE.match, child.stderr_lines()) if m
        ]
        result["children"].append(child)
        clean_run(info, base)
        print("    %.2f s, peak RSS %.0f MB" % (child.seconds, child.maxrss_kib / 1024), flush=True)
    shutil.rmtree(wf_dir, ignore_errors=True)
    return result


def plan_in_memory(venv: Path, shapes: dict, sizes: list[int], args) -> list[dict]:
    """The same plans with the workflow and submit dir in tmpfs: no disk under the files."""
    out: list[dict] = []
    if not TMPFS.parent.is_dir():
        return [{"shape": "-", "jobs": 0, "skipped": "no %s on this machine" % TMPFS.parent}]
    for shape, limit in shapes.items():
        for jobs in [n for n in sizes if limit is None or n <= limit]:
            free = shutil.disk_usage(TMPFS.parent).free
            if free < jobs * TMPFS_KIB_PER_JOB * 1024 * 2:
                out.append({"shape": shape, "jobs": jobs, "skipped": "skipped: %.1f GB free in "
                            "%s" % (free / 1e9, TMPFS.parent)})  # fmt: skip
                continue
            try:
                out.append(plan_case(venv, shape, jobs, args.runs, args.timeout, root=TMPFS))
            finally:
                shutil.rmtree(TMPFS, ignore_errors=True)
    return out


def median_child(children: list[Child]) -> Child:
    ordered = sorted(children, key=lambda c: c.seconds)
    return ordered[(len(ordered) - 1) // 2]


def plan_rows(results: list[dict]) -> list[list[object]]:
    rows = []
    for r in results:
        label = r["shape"]
        if r.get("skipped"):
            rows.append([label, r["jobs"], 0, *["-"] * 9, r["skipped"]])
            continue
        children = r["children"]
        if not children:
            rows.append([label, r["jobs"], 0, *["-"] * 9, "**FAIL**: %s" % r["error"]])
            continue
        seconds = [c.seconds for c in children]
        wall = statistics.median(seconds)
        rss = statistics.median(c.maxrss_kib for c in children) / 1024
        cpu = statistics.median(c.cpu for c in children)
        marks = [c.planned_at for c in children if c.planned_at is not None]
        planned = "%.1f" % statistics.median(marks) if marks else "-"
        writing = (
            "%.1f" % statistics.median(c.seconds - c.planned_at for c in children if c.planned_at)
            if marks
            else "-"
        )
        f = r["figures"]
        nodes = "%d + %d aux" % (f.get("nodes", 0) - f.get("aux", 0), f.get("aux", 0))
        note = "ok" if not r["error"] else "**FAIL** (run %d): %s" % (len(children) + 1,
                                                                      r["error"])  # fmt: skip
        rows.append([
            label, r["jobs"], len(children), wall, min(seconds), max(seconds), planned, writing,
            "%.0f" % (r["jobs"] / wall), "%.0f" % rss, "%.1f" % (rss / (r["jobs"] / 1000)),
            "%.1f" % cpu, "%s; %s" % (nodes, note),
        ])  # fmt: skip
    return rows


def exponent(small: dict, large: dict, key) -> float | None:
    """The power p in cost ~ jobs^p between two sizes: 1.0 is linear."""
    try:
        a, b = key(small), key(large)
        return math.log(b / a) / math.log(large["jobs"] / small["jobs"])
    except (ValueError, ZeroDivisionError, TypeError):
        return None


def wall(r: dict) -> float | None:
    return statistics.median(c.seconds for c in r["children"]) if r.get("children") else None


def peak_mb(r: dict) -> float | None:
    if not r.get("children"):
        return None
    return statistics.median(c.maxrss_kib for c in r["children"]) / 1024


def growth_rows(results: list[dict]) -> list[list[object]]:
    rows = []
    for shape in dict.fromkeys(r["shape"] for r in results):
        done = [r for r in results if r["shape"] == shape and r.get("children") and not r["error"]]
        for small, large in zip(done, done[1:]):
            t = exponent(small, large, wall)
            m = exponent(small, large, peak_mb)
            rows.append([shape, "%d -> %d" % (small["jobs"], large["jobs"]),
                         "%.2f" % t if t is not None else "-",
                         "%.2f" % m if m is not None else "-"])  # fmt: skip
    return rows


def verdict(ok: bool) -> str:
    return "**pass**" if ok else "**FAIL**"


def goal_rows(results: list[dict], engine: list[dict]) -> list[list[object]]:
    rows = []
    by = {(r["shape"], r["jobs"]): r for r in results}
    for shape in dict.fromkeys(r["shape"] for r in results):
        r = by.get((shape, 100_000))
        goal = "%s: 100k jobs planned in at most 10 s" % shape
        if r and r.get("children") and not r["error"]:
            rows.append([goal, "%.1f s" % wall(r), verdict(wall(r) <= 10)])
        else:
            rows.append([goal, _why(r), "-" if not r or r.get("skipped") else "**FAIL**"])
        r = by.get((shape, 1_000_000))
        goal = "%s: 1M jobs in at most 2 min and 4 GB" % shape
        if r and r.get("children") and not r["error"]:
            ok = wall(r) <= 120 and peak_mb(r) <= 4096
            rows.append([goal, "%.1f s, %.0f MB" % (wall(r), peak_mb(r)), verdict(ok)])
        else:
            rows.append([goal, _why(r), "-" if not r or r.get("skipped") else "**FAIL**"])
        done = [r for r in results if r["shape"] == shape and r.get("children") and not r["error"]]
        big = [r for r in done if r["jobs"] >= 10_000]
        goal = "%s: time and memory grow linearly (power <= 1.2, two largest sizes)" % shape
        if len(big) >= 2:
            t, m = exponent(big[-2], big[-1], wall), exponent(big[-2], big[-1], peak_mb)
            ok = t is not None and m is not None and t <= 1.2 and m <= 1.2
            rows.append([goal, "time ^%.2f, memory ^%.2f (%d -> %d)" % (
                t or 0, m or 0, big[-2]["jobs"], big[-1]["jobs"]), verdict(ok)])  # fmt: skip
        else:
            rows.append([goal, "not measured (needs two sizes >= 10k)", "-"])
    goal = "local engine: at least 50 no-op jobs/s"
    measured = [e for e in engine if e["shape"] == "independent-no-outputs" and e["samples"]]
    if measured:
        e = max(measured, key=lambda e: e["jobs"])
        rate = e["jobs"] / statistics.median(e["samples"])
        rows.append([goal, "%.1f jobs/s (%d jobs, -j %d)" % (rate, e["jobs"], e["j"]),
                     verdict(rate >= 50)])  # fmt: skip
    else:
        why = next((e["error"] for e in engine if e["error"]), "not measured")
        rows.append([goal, why, "-" if why == "not measured" else "**FAIL**"])
    return rows


def _why(r: dict | None) -> str:
    if not r:
        return "not measured"
    return r.get("skipped") or r.get("error") or "not measured"


def phase_lines(results: list[dict]) -> list[str]:
    """The planner's own progress lines of the median run at each shape's largest size."""
    out: list[str] = []
    for shape in dict.fromkeys(r["shape"] for r in results):
        done = [r for r in results if r["shape"] == shape and r.get("children")]
        if not done:
            continue
        r = done[-1]
        child = median_child(r["children"])
        out.append("%s, %d jobs (median run, %.2f s wall):" % (shape, r["jobs"], child.seconds))
        out.append("")
        out += ["    [%7.2f s] %s" % p for p in child.phases] or ["    (no progress lines)"]
        out.append("")
    return out


# ---------------------------------------------------------------- the engine


def engine_case(venv: Path, shape: str, jobs: int, runs: int, cores: int, timeout: float) -> dict:
    wf_dir = BASE / ("engine-%s-%d" % (shape, jobs))
    shutil.rmtree(wf_dir, ignore_errors=True)
    info = wfgen.generate(directory=wf_dir, jobs=jobs, name="engine-%s-%d" % (shape, jobs),
                          **shape_args(shape))  # fmt: skip
    result = {"shape": shape, "jobs": jobs, "j": cores, "samples": [], "rss": [], "nodes": 0,
              "error": None, "dir": wf_dir}  # fmt: skip
    run_tool = str(venv / "bin" / "pegasus-run")
    for attempt in range(runs):
        base = wf_dir / ("submit-%d" % attempt)
        clean_run(info, base)
        plan = run_child(planner_argv(venv, base), wf_dir, wf_dir / "plan.out",
                         wf_dir / "plan.err", timeout)  # fmt: skip
        if plan.code != 0:
            result["error"] = "pegasus-plan %s" % plan.problem()
            result["error_stderr"] = plan.tail()
            break
        submit = submit_dir_of(base, info.name)
        problem, _ = check_plan(submit, info)
        if problem:
            result["error"] = "plan wrong: %s" % problem
            break
        nodes, _ = read_dag(submit, info.name)
        result["nodes"] = len(nodes)
        print("  engine %s %d jobs: run %d/%d" % (shape, jobs, attempt + 1, runs), flush=True)
        child = run_child([run_tool, str(submit), "-j", str(cores)], wf_dir,
                          wf_dir / "run.out", wf_dir / "run.err", timeout)  # fmt: skip
        if child.code != 0:
            result["error"] = "pegasus-run %s" % child.problem()
            result["error_stderr"] = child.tail()
            break
        problem = check_jobstate(submit, set(nodes))
        if problem:
            result["error"] = problem
            break
        result["samples"].append(child.seconds)
        result["rss"].append(child.maxrss_kib / 1024)
        clean_run(info, base)
        print("    %.2f s" % child.seconds, flush=True)
    if not result["error"]:
        shutil.rmtree(wf_dir, ignore_errors=True)
    return result


def engine_rows(engine: list[dict]) -> list[list[object]]:
    rows = []
    for e in engine:
        if not e["samples"]:
            rows.append([e["shape"], e["jobs"], e["nodes"] or "-", e["j"], 0, "-", "-", "-",
                         "-", "**FAIL**: %s" % e["error"]])  # fmt: skip
            continue
        med = statistics.median(e["samples"])
        rows.append([
            e["shape"], e["jobs"], e["nodes"], e["j"], len(e["samples"]), med,
            "%.1f" % (e["jobs"] / med), "%.1f" % (e["nodes"] / med),
            "%.0f" % statistics.median(e["rss"]),
            "ok" if not e["error"] else "**FAIL** (run %d): %s" % (len(e["samples"]) + 1,
                                                                   e["error"]),
        ])  # fmt: skip
    return rows


# ---------------------------------------------------------------- the report

REFERENCE = [
    "Not measured here: the real pegasus-plan (Java) cannot run on this machine.  These are "
    "the limits of Pegasus's own CI test `test/core/014-planner-performance-100k` "
    "(100,000 independent jobs, one shared input, no outputs, condorio; a run outside the "
    "limits fails the test), as shared/anchors/planner.md section 3 reports them:",
    "",
    "| Pegasus CI test | when | lower limit s | upper limit s |",
    "|---|---|---|---|",
    "| 014-planner-performance-100k | 2016 | 300, then 1200 | 1800, then 2000 |",
    "| 014-planner-performance-100k | 2018 (new host) | 200 | 400 |",
    "| 014-planner-performance-100k | 2018-2024, current | 200 | 600 / 750 / 900, now 1600 |",
    "",
    "The lower limit exists to catch a planner that got much faster: Pegasus's planner on its "
    "CI host takes at least 200 s for 100k independent jobs.  The same shape here is the "
    "`independent-no-outputs` row (the `independent` row adds one staged-out output per "
    "job).",
]


def failure_lines(results: list[dict], engine: list[dict]) -> list[str]:
    """The stderr of failed runs, so a planner bug can be reproduced from the report."""
    out: list[str] = []
    for r in results:
        if r.get("error"):
            out += ["%s, %d jobs: %s" % (r["shape"], r["jobs"], r["error"]), "", "```"]
            out += r.get("error_stderr") or ["(no stderr)"]
            out += ["```", ""]
    for e in engine:
        if e["error"]:
            out += ["engine %s, %d jobs: %s (left in %s)" % (e["shape"], e["jobs"], e["error"],
                                                            e["dir"]), "", "```"]  # fmt: skip
            out += e.get("error_stderr") or ["(no stderr)"]
            out += ["```", ""]
    return out or ["None."]


def method_notes(args, venv: Path, cores: int, notes: list[str], load, elapsed) -> list[str]:
    lines = [
        "- Planner: `%s --sites local --output-sites local --dir D --cleanup leaf "
        "workflow.yml`, run in the generated workflow's directory (catalogs found by their "
        "default names, pegasus.properties: condorio), stdout/stderr to files, default "
        "verbosity; the install is bench/work/venv (this checkout, not editable, with the "
        "planner extra)." % (venv / "bin" / "pegasus-plan"),
        "- Wall time: spawn to exit of the pegasus-plan process (interpreter start, imports, "
        "parsing, planning, writing the submit dir, the bundle).  Peak RSS: `ru_maxrss` "
        "from os.wait4 (the largest resident set of the process and any child it waited "
        "for), taken by a bare launcher interpreter (about 10 MB) that spawns the command: "
        "Linux counts the spawning process's memory into a child's ru_maxrss, so the bench "
        "does not spawn it itself.  Before each run the previous run's submit dir is "
        "deleted and `sync` called (not timed).  CPU: user + system seconds.  read+plan: "
        "the planner's own clock when it "
        "prints `writing N jobs` (after parsing and planning, from its start); write+exit: "
        "the rest of the wall time (the submit dir, the bundle, interpreter start and "
        "exit).",
        "- Runs: %d per size up to 100k (median, min, max), 1 at 1M; each in a fresh --dir, "
        "deleted after the run (not timed).  Workflow generation (bench/wfgen.py, plain text "
        "writes in the pegasus-wms.api layout) is not timed." % args.runs,
        "- Checked after every run: exit 0; `<wf>-0.dag` has one JOB line per workflow job "
        "(ID0000001..IDn, each once) and exactly the workflow's edges between them; the first "
        "compute job's and the first auxiliary job's .sub parse with `htcondor2.Submit` and "
        "run `pegasus-lite.pyz`; the compute job's lite spec is JSON.",
        "- Shapes: `independent` (each job reads f.in, writes out_<i>, stageOut true, task "
        "`touch out_<i>`), `chainfan` (job 1 reads f.in; then stages of 10 jobs fanning out "
        "from one file and back in to one job: 2 levels per 11 jobs, so 1M jobs are 181,819 "
        "levels deep; intermediate files between all jobs, the last output staged out), "
        "`independent-no-outputs` (Pegasus's 014 test: jobs read f.in, write nothing, run "
        "/bin/true).",
        "- Engine: `pegasus-run SUBMITDIR -j %d` (the cores of this machine unless -j) on a "
        "freshly planned submit dir per run (planning not timed); jobs/s = workflow jobs / "
        "wall time, nodes/s counts the auxiliary DAG nodes too.  Checked: exit 0, "
        "jobstate.log `DAGMAN_FINISHED 0`, every DAG node's last event POST_SCRIPT_SUCCESS "
        "(or JOB_SUCCESS)." % cores,
        "- Shared machine: load average %.2f before, %.2f after; the scenario took %.0f s."
        % (load[0], load[1], elapsed),
    ]
    lines += ["- " + note for note in notes]
    return lines


def parse_sizes(text: str) -> list[int]:
    return [int(part.replace("_", "")) for part in text.split(",") if part.strip()]


def run(args: argparse.Namespace) -> Path:
    started = time.monotonic()
    load_before = os.getloadavg()[0]
    venv = bench_venv(("planner",))
    cores = args.engine_jobs or os.cpu_count() or 1
    notes: list[str] = []
    sizes = sorted(n for n in parse_sizes(args.sizes) if not args.max_jobs or n <= args.max_jobs)
    if args.shapes:
        shapes = dict.fromkeys(s.strip() for s in args.shapes.split(",") if s.strip())
    else:
        shapes = dict(DEFAULT_SHAPES)
    for shape in shapes:
        if shape not in SHAPES:
            raise SystemExit("unknown shape %r (one of %s)" % (shape, ", ".join(SHAPES)))
    fs_before = file_create_ms(BASE)
    results: list[dict] = []
    if not args.no_plan:
        for shape, limit in shapes.items():
            broken = None
            for jobs in [n for n in sizes if limit is None or n <= limit]:
                if broken:
                    results.append({"shape": shape, "jobs": jobs,
                                    "skipped": "not run: %d jobs failed" % broken})  # fmt: skip
                    continue
                if jobs >= 1_000_000:
                    gb, inodes = free_space(BASE)
                    if gb < args.min_free_gb or inodes < MIN_FREE_INODES:
                        why = "skipped: %.1f GB and %d inodes free under %s (needs %g GB, %d)" % (
                            gb, inodes, BASE, args.min_free_gb, MIN_FREE_INODES)  # fmt: skip
                        results.append({"shape": shape, "jobs": jobs, "skipped": why})
                        continue
                runs = args.runs if jobs <= 100_000 else 1
                result = plan_case(venv, shape, jobs, runs, args.timeout)
                results.append(result)
                if not result["children"]:
                    broken = jobs
    in_memory: list[dict] = []
    tmpfs_sizes = [n for n in parse_sizes(args.tmpfs_sizes) if n in sizes or not sizes]
    if not args.no_plan and tmpfs_sizes:
        in_memory = plan_in_memory(venv, shapes, tmpfs_sizes, args)
    engine: list[dict] = []
    if not args.no_engine:
        cases = [("independent-no-outputs", n) for n in parse_sizes(args.engine_sizes)]
        if args.engine_chainfan:
            cases.append(("chainfan", args.engine_chainfan))
        for shape, jobs in cases:
            engine.append(engine_case(venv, shape, jobs, args.engine_runs, cores, args.timeout))
    load = (load_before, os.getloadavg()[0])
    notes.append(
        "Filesystem under bench/work/planner (where the submit dirs go): creating one "
        "1.5 KB file took %.3f ms before the runs and %.3f ms after (2000 files, Python "
        "open/write/close); a plan writes about two files per DAG node (.sub and .json or "
        ".in), so at this rate 1M jobs need %.0f s just for the files."
        % (fs_before, file_create_ms(BASE), 2e6 * fs_before / 1000)
    )
    elapsed = time.monotonic() - started

    plan_header = ["shape", "jobs", "runs", "median s", "min s", "max s", "read+plan s",
                   "write+exit s", "jobs/s",
                   "peak RSS MB", "MB per 1k jobs", "CPU s", "DAG nodes; check"]  # fmt: skip
    sizes_note = [
        "",
        "Workflow sizes (workflow.yml, MB): "
        + ", ".join(
            "%s %d: %.1f" % (r["shape"], r["jobs"], r["yaml_mb"]) for r in results if "yaml_mb" in r
        ),
    ]
    engine_header = ["workflow", "jobs", "DAG nodes", "-j", "runs", "median s", "jobs/s",
                     "nodes/s", "peak RSS MB", "check"]  # fmt: skip
    memory_body = ["Not measured (--tmpfs-sizes empty)."]
    if in_memory:
        memory_body = [
            *table(plan_header, plan_rows(in_memory)),
            "",
            "No disk under the files: the difference to the table above is what the "
            "filesystem costs; what is left is the planner's own work.",
        ]
    sections = [
        ("Goals", table(["goal", "measured (median)", "result"], goal_rows(results, engine))),
        ("Planning time and peak memory", table(plan_header, plan_rows(results)) + sizes_note),
        ("The same plans in memory (workflow and submit dir in tmpfs %s)" % TMPFS.parent,
         memory_body),
        ("Growth between sizes (power p in cost ~ jobs^p; 1.0 = linear)",
         table(["shape", "sizes", "time p", "memory p"], growth_rows(results))),
        ("The planner's own progress lines", phase_lines(results)),
        ("Local engine throughput (no-op jobs)", table(engine_header, engine_rows(engine))),
        ("Failures", failure_lines(results, engine)),
        ("Published reference: Pegasus's planner (not measured here)", REFERENCE),
        ("How this was measured", method_notes(args, venv, cores, notes, load, elapsed)),
    ]  # fmt: skip
    return write_results("planner", "pegasus-plan and the local engine at scale", sections)
