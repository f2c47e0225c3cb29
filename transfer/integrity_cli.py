"""``pegasus-integrity``: not built yet (see the transfer issue); answers --help."""

from __future__ import annotations

import argparse
import sys


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="pegasus-integrity",
        description="sha256 generation and verification, drop-in for Pegasus's "
        "pegasus-integrity. Not built yet: this release ships only pegasus-kickstart.",
    )
    parser.parse_known_args(argv)
    sys.stderr.write("pegasus-integrity: not built yet; only pegasus-kickstart is available\n")
    return 1
