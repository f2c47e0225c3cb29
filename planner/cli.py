"""``pegasus-plan``: not built yet (see the planner issue); answers --help."""

from __future__ import annotations

import argparse
import sys


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="pegasus-plan",
        description="Plan a Pegasus 5 workflow into HTCondor submit files and a DAG, or run it "
        "on the local engine. Not built yet.",
    )
    parser.parse_known_args(argv)
    sys.stderr.write("pegasus-plan: not built yet\n")
    return 1
