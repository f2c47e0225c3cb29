"""``pegasus-lite job.json``: run one planned job on this node (see lite/job.py).

The same command (and the worker bundle, which is every planned job's executable) has
subcommands for the other jobs of a workflow: ``transfer ARGS`` is pegasus-transfer (the
auxiliary stage-out and cleanup jobs), ``exitcode ARGS`` is pegasus-exitcode (the DAG's POST
script), ``bundle OUT`` writes the bundle.  Each imports only what it needs.
"""

from __future__ import annotations

import os
import sys


def build_parser():
    import argparse

    parser = argparse.ArgumentParser(
        prog="pegasus-lite",
        description="Run one planned job on the worker node: pick a work dir, stage in and "
        "verify inputs, run the task under pegasus-kickstart (bare or in a container), check "
        "and stage out the outputs, clean up. Records on stdout, log on stderr, last line "
        "'PegasusLite: exitcode N'.  Other uses: 'pegasus-lite transfer ARGS' is pegasus-transfer, "
        "'pegasus-lite exitcode ARGS' is pegasus-exitcode, 'pegasus-lite bundle OUT' writes "
        "the worker bundle.",
    )
    parser.add_argument("spec", help="the job spec (JSON) written by the planner")
    parser.add_argument(
        "--keep-workdir", action="store_true", help="leave the work directory for debugging"
    )
    return parser


def bundle_main(argv: list[str]) -> int:
    import argparse

    parser = argparse.ArgumentParser(
        prog="pegasus-lite bundle",
        description="Write the worker bundle: one executable zip (kickstart, transfer, "
        "containers, lite, and pure-Python requests) that runs 'python3 OUT.pyz job.json'.",
    )
    parser.add_argument("out", help="where to write the .pyz")
    parser.add_argument("--no-riders", action="store_true", help="leave out requests & co.")
    args = parser.parse_args(argv)
    from .bundle import build

    included = build(args.out, riders=not args.no_riders)
    sys.stderr.write("pegasus-lite: wrote %s with %s\n" % (args.out, ", ".join(included)))
    return 0


def _quick_parse(argv: list[str]) -> tuple[str, bool] | None:
    """The every-job case (``job.json`` with or without --keep-workdir) without argparse,
    which costs ~8 ms of each job's start; anything else goes to argparse."""
    keep = "--keep-workdir" in argv
    rest = [a for a in argv if a != "--keep-workdir"]
    if len(rest) == 1 and not rest[0].startswith("-"):
        return rest[0], keep
    return None


def main(argv: list[str] | None = None, hard_exit: bool = True) -> int:
    """``hard_exit=False``: a caller that ends the process itself (the local engine's forked
    child) gets the exit code back even when a signal stopped the job."""
    argv = sys.argv[1:] if argv is None else argv
    command = argv[0] if argv else None
    if command == "transfer":
        from transfer.cli import main as transfer_main

        return transfer_main(argv[1:])
    if command == "exitcode":
        from .exitcode import main as exitcode_main

        return exitcode_main(argv[1:])
    if command == "bundle":
        return bundle_main(argv[1:])
    quick = _quick_parse(argv)
    if quick is None:
        args = build_parser().parse_args(argv)
        quick = args.spec, args.keep_workdir
    spec, keep = quick
    from .job import Job

    code = Job(spec, keep_workdir=keep).run()
    if code > 128 and hard_exit:
        # Stopped by a signal: a transfer thread may still be blocked in a read; the
        # interpreter would wait for it at exit, so leave now that all is cleaned up.
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    return code


if __name__ == "__main__":
    sys.exit(main())
