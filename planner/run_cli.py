"""``pegasus-run SUBMITDIR``: run or resume a submit directory on the local engine."""

from __future__ import annotations

import argparse
import os
import sys


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="pegasus-run",
        description="Run a submit directory written by pegasus-plan on this machine, as "
        "HTCondor and DAGMan would (same .dag and .sub files). Run it again after a failure, "
        "a crash or a stop: jobs that succeeded are not run again.",
    )
    p.add_argument(
        "submit_dir", nargs="?", default=os.curdir,
        help="the submit directory (default: the current directory), or its .dag file",
    )  # fmt: skip
    p.add_argument(
        "-j", "--jobs", type=int, default=None, metavar="N",
        help="jobs at a time (default: the number of cores)",
    )  # fmt: skip
    p.add_argument("-v", "--verbose", action="store_true", help="one line per job event")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.jobs is not None and args.jobs < 1:
        sys.stderr.write("pegasus-run: -j must be at least 1\n")
        return 2
    from .engine import run

    return run(args.submit_dir, jobs=args.jobs, verbose=args.verbose, out=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
