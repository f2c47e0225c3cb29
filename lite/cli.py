"""``pegasus-lite job.json``: run one planned job on this node (see lite/job.py)."""

from __future__ import annotations

import argparse
import os
import sys


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="pegasus-lite",
        description="Run one planned job on the worker node: pick a work dir, stage in and "
        "verify inputs, run the task under pegasus-kickstart (bare or in a container), check "
        "and stage out the outputs, clean up. Records on stdout, log on stderr, last line "
        "'PegasusLite: exitcode N'.",
    )
    parser.add_argument("spec", help="the job spec (JSON) written by the planner")
    parser.add_argument(
        "--keep-workdir", action="store_true", help="leave the work directory for debugging"
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from .job import Job

    code = Job(args.spec, keep_workdir=args.keep_workdir).run()
    if code > 128:
        # Stopped by a signal: a transfer thread may still be blocked in a read; the
        # interpreter would wait for it at exit, so leave now that all is cleaned up.
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    return code


if __name__ == "__main__":
    sys.exit(main())
