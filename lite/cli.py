"""``pegasus-lite``: not built yet (see the pegasus-lite issue); answers --help."""

from __future__ import annotations

import argparse
import sys


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="pegasus-lite",
        description="Run one planned job on the worker node (stage in, verify, run under "
        "kickstart, stage out). Not built yet: this release ships only pegasus-kickstart.",
    )
    parser.parse_known_args(argv)
    sys.stderr.write("pegasus-lite: not built yet; only pegasus-kickstart is available\n")
    return 1
