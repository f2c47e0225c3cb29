"""Measure cases interleaved and write the results table."""

from __future__ import annotations

import datetime
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"


def spawn_and_wait(argv: Sequence[str], env: dict | None = None) -> float:
    """Seconds to run one command to completion, stdout and stderr to /dev/null."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        started = time.perf_counter()
        pid = os.posix_spawn(
            argv[0],
            list(argv),
            os.environ if env is None else env,
            file_actions=[(os.POSIX_SPAWN_DUP2, devnull, 1), (os.POSIX_SPAWN_DUP2, devnull, 2)],
        )
        _, status = os.waitpid(pid, 0)
        elapsed = time.perf_counter() - started
    finally:
        os.close(devnull)
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError("%s exited %d" % (" ".join(argv), os.waitstatus_to_exitcode(status)))
    return elapsed


def interleaved(cases: dict[str, Callable[[], float]], runs: int, warmup: int = 10):
    """{case: [seconds, ...]}: one run of every case per round, so drift hits all alike."""
    for _ in range(warmup):
        for fn in cases.values():
            fn()
    samples: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(runs):
        for name, fn in cases.items():
            samples[name].append(fn())
    return samples


def quantile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def summary_rows(samples: dict[str, list[float]]) -> list[dict]:
    return [
        {
            "case": name,
            "n": len(values),
            "median_ms": statistics.median(values) * 1000,
            "p10_ms": quantile(values, 0.10) * 1000,
            "p90_ms": quantile(values, 0.90) * 1000,
            "max_ms": max(values) * 1000,
        }
        for name, values in samples.items()
    ]


def machine_line() -> str:
    return "%s, %s, %d CPUs, Python %s" % (
        platform.node(),
        platform.platform(),
        os.cpu_count() or 0,
        platform.python_version(),
    )


def write_results(scenario: str, title: str, sections: list[tuple[str, list[str]]]) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / ("%s.md" % scenario)
    lines = [
        "# %s" % title,
        "",
        "- measured: %s"
        % datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "- machine: %s" % machine_line(),
        "- command: `python -m bench %s`" % " ".join([scenario, *sys.argv[2:]]),
        "",
    ]
    for heading, body in sections:
        lines.extend(["## %s" % heading, "", *body, ""])
    path.write_text("\n".join(lines))
    return path


def table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> list[str]:
    def fmt(value: object) -> str:
        return "%.2f" % value if isinstance(value, float) else str(value)

    out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    out.extend("| " + " | ".join(fmt(v) for v in row) + " |" for row in rows)
    return out
