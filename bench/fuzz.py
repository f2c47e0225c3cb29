"""python -m bench.fuzz --cases 100000 [--target NAME ...]: the full fuzzing run.

Every parser's target (tests/reliability/fuzz_targets.py) gets ``--cases`` inputs from its
hypothesis strategies, each target in a process of its own (a crash of the interpreter is
then a finding, not the end of the run), ``--jobs`` at a time.  Unlike the CI test, a
failure does not stop a target: each distinct failure (exception type and the project's
deepest frame) is counted once, with the first input that showed it.  Prints one line per
target (cases run, unique failures, time) and writes them as JSON with ``--json``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run_one(name: str, cases: int, seed: int) -> dict:
    """Fuzz one target in this process; the result as a JSON-able dict."""
    from hypothesis import HealthCheck, Phase, given, settings
    from hypothesis import seed as seeded

    from tests.reliability.fuzz_targets import TARGETS, run_case, signature

    target = TARGETS[name]
    failures: dict[str, dict] = {}
    count = 0
    slowest = 0.0

    @seeded(seed)
    @settings(
        max_examples=cases,
        deadline=None,
        database=None,
        phases=(Phase.generate,),
        suppress_health_check=list(HealthCheck),
    )
    @given(target.strategy)
    def body(example) -> None:
        nonlocal count, slowest
        count += 1
        started = time.perf_counter()
        problem = run_case(target, example)
        slowest = max(slowest, time.perf_counter() - started)
        if problem is not None:
            key = signature(problem)
            found = failures.setdefault(
                key, {"count": 0, "message": str(problem)[:300], "example": repr(example)[:600]}
            )
            found["count"] += 1

    started = time.perf_counter()
    body()
    return {
        "target": name,
        "cases": count,
        "failures": failures,
        "seconds": round(time.perf_counter() - started, 1),
        "slowest_case": round(slowest, 3),
    }


def _spawn(name: str, cases: int, seed: int) -> subprocess.Popen:
    """A worker whose output goes to files (a pipe nobody reads could stall it)."""
    command = [sys.executable, "-m", "bench.fuzz", "--one", name, "--cases", str(cases)]
    command += ["--seed", str(seed)]
    out = tempfile.TemporaryFile("w+")  # noqa: SIM115 - closed by _collect
    err = tempfile.TemporaryFile("w+")  # noqa: SIM115
    process = subprocess.Popen(command, cwd=REPO, stdout=out, stderr=err, text=True)
    process.files = (out, err)  # type: ignore[attr-defined]
    return process


def _collect(name: str, process: subprocess.Popen, started: float) -> dict:
    process.wait()
    texts = []
    for handle in process.files:  # type: ignore[attr-defined]
        handle.seek(0)
        texts.append(handle.read())
        handle.close()
    out, err = texts
    lines = [line for line in out.splitlines() if line.startswith("{")]
    if process.returncode == 0 and lines:
        return json.loads(lines[-1])
    return {  # the interpreter itself died (a segfault, the OOM killer): a finding too
        "target": name,
        "cases": None,
        "failures": {
            "process exit %d" % process.returncode: {
                "count": 1,
                "message": err.strip().splitlines()[-1:] or "",
                "example": "",
            }
        },
        "seconds": round(time.monotonic() - started, 1),
        "slowest_case": None,
    }


def _line(result: dict) -> str:
    cases = result["cases"] if result["cases"] is not None else "crashed"
    slowest = result["slowest_case"] if result["slowest_case"] is not None else "-"
    return "%-22s %8s cases %3d unique failures %8.1f s (slowest case %s s)" % (
        result["target"],
        cases,
        len(result["failures"]),
        result["seconds"],
        slowest,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.fuzz", description=__doc__)
    parser.add_argument("--cases", type=int, default=100000, help="inputs per target")
    parser.add_argument("--target", action="append", help="only this target (repeatable)")
    parser.add_argument("--seed", type=int, default=20261121, help="hypothesis seed")
    parser.add_argument("--jobs", type=int, default=2, help="targets fuzzed at once")
    parser.add_argument("--json", metavar="FILE", help="write the results as JSON")
    parser.add_argument("--one", help=argparse.SUPPRESS)  # a worker: one target, JSON out
    args = parser.parse_args(argv)
    if args.one:
        print(json.dumps(run_one(args.one, args.cases, args.seed)))
        return 0

    sys.path.insert(0, REPO)
    from tests.reliability.fuzz_targets import TARGETS

    names = args.target or sorted(TARGETS)
    unknown = [name for name in names if name not in TARGETS]
    if unknown:
        parser.error("unknown target %s (one of %s)" % (unknown[0], ", ".join(sorted(TARGETS))))
    waiting = list(names)
    running: dict[str, tuple] = {}
    results = []
    began = time.monotonic()
    while waiting or running:
        while waiting and len(running) < max(1, args.jobs):
            name = waiting.pop(0)
            running[name] = (_spawn(name, args.cases, args.seed), time.monotonic())
        for name, (process, started) in list(running.items()):
            if process.poll() is None:
                continue
            del running[name]
            result = _collect(name, process, started)
            results.append(result)
            print(_line(result), flush=True)
            for key, failure in result["failures"].items():
                print("    %s (%d cases): %s" % (key, failure["count"], failure["message"]))
                print("        first input: %s" % failure["example"])
        time.sleep(0.2)
    total_cases = sum(r["cases"] or 0 for r in results)
    total_failures = sum(len(r["failures"]) for r in results)
    print(
        "%d targets, %d cases, %d unique failures, %.0f s"
        % (len(results), total_cases, total_failures, time.monotonic() - began)
    )
    if args.json:
        with open(args.json, "w", encoding="utf-8") as fh:
            json.dump({"seed": args.seed, "results": results}, fh, indent=1)
    return 1 if total_failures else 0


if __name__ == "__main__":
    sys.exit(main())
