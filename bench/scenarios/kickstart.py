"""pegasus-kickstart overhead: per CLI run and per in-process call, beside the C tool.

Overhead = median(kickstart running /bin/true) - median(/bin/true alone), both started the
same way in the same rounds.  The anchor is Pegasus's C pegasus-kickstart: pass its path
with --anchor-kickstart (or PEGASUS_KICKSTART_C); Pegasus's own documentation of it is in
shared/anchors/worker.md section 5 (5.3 ms median overhead on this kind of machine).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess

from bench.install import bench_venv
from bench.runner import interleaved, spawn_and_wait, summary_rows, table, write_results

IN_PROCESS = r"""
import json, os, sys, time
import kickstart

runs = int(sys.argv[1]); true = sys.argv[2]
def spawn():
    t = time.perf_counter(); pid = os.posix_spawn(true, [true], os.environ); os.wait4(pid, 0)
    return time.perf_counter() - t
def ks():
    t = time.perf_counter(); inv = kickstart.run([true]); assert inv.exitcode == 0
    return time.perf_counter() - t
def ks_h():
    t = time.perf_counter(); kickstart.run([true], kickstart.Options(no_machine=True))
    return time.perf_counter() - t
cases = {"posix_spawn + wait4 /bin/true": spawn, "kickstart.run(['/bin/true'])": ks,
         "kickstart.run(['/bin/true'], no_machine=True)": ks_h}
for _ in range(20):
    for fn in cases.values(): fn()
out = {name: [] for name in cases}
for _ in range(runs):
    for name, fn in cases.items(): out[name].append(fn())
json.dump(out, sys.stdout)
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--runs", type=int, default=200, help="runs per case (default 200)")
    parser.add_argument(
        "--anchor-kickstart",
        default=os.environ.get("PEGASUS_KICKSTART_C"),
        help="path to Pegasus's C pegasus-kickstart, measured side by side",
    )


def run(args: argparse.Namespace) -> str:
    venv = bench_venv()
    ours = str(venv / "bin" / "pegasus-kickstart")
    true = shutil.which("true") or "/bin/true"
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    python = str(venv / "bin" / "python")
    cases = {
        "/bin/true": lambda: spawn_and_wait([true], env),
        "python -c pass (the interpreter's own start)": lambda: spawn_and_wait(
            [python, "-c", "pass"], env
        ),
        "pegasus-lite pegasus-kickstart /bin/true": lambda: spawn_and_wait([ours, true], env),
        "pegasus-lite pegasus-kickstart -H /bin/true": lambda: spawn_and_wait(
            [ours, "-H", true], env
        ),
    }
    anchor = args.anchor_kickstart
    if anchor:
        cases["Pegasus C pegasus-kickstart /bin/true"] = lambda: spawn_and_wait([anchor, true], env)
    cli = summary_rows(interleaved(cases, args.runs))

    proc = subprocess.run(
        [python, "-c", IN_PROCESS, str(args.runs), true],
        capture_output=True, text=True, check=True, env=env,
    )  # fmt: skip
    inproc = summary_rows(json.loads(proc.stdout))

    base = cli[0]["median_ms"]
    anchor_row = next((r for r in cli if r["case"].startswith("Pegasus C")), None)
    cli_rows = []
    for row in cli:
        overhead = row["median_ms"] - base
        vs_anchor = (
            "%.2f" % (overhead / (anchor_row["median_ms"] - base))
            if anchor_row and row is not cli[0]
            else "-"
        )
        cli_rows.append(
            [row["case"], row["n"], row["median_ms"], row["p10_ms"], row["p90_ms"],
             row["max_ms"], overhead, vs_anchor]
        )  # fmt: skip
    in_base = inproc[0]["median_ms"]
    in_rows = [
        [r["case"], r["n"], r["median_ms"], r["p10_ms"], r["p90_ms"], r["median_ms"] - in_base]
        for r in inproc
    ]
    cli_header = ["case", "n", "median ms", "p10 ms", "p90 ms", "max ms", "overhead ms"]
    cli_header.append("overhead / C overhead")
    anchor_note = anchor or "not given (shared/anchors/worker.md: 5.3 ms overhead)"
    in_header = ["case", "n", "median ms", "p10 ms", "p90 ms", "overhead ms"]
    sections = [
        (
            "Command line (goal: overhead at most 25 ms per run)",
            [*table(cli_header, cli_rows), "", "Anchor: %s" % anchor_note],
        ),
        (
            "In-process call, as pegasus-lite makes it (goal: overhead at most 2 ms)",
            table(in_header, in_rows),
        ),
    ]
    path = write_results("kickstart", "pegasus-kickstart overhead", sections)
    return str(path)
