"""``pegasus-transfer``: not built yet (see the transfer issue); answers --help."""

from __future__ import annotations

import argparse
import sys


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="pegasus-transfer",
        description="Multi-protocol copier, drop-in for Pegasus's pegasus-transfer. "
        "Not built yet: this release ships only pegasus-kickstart.",
    )
    parser.parse_known_args(argv)
    sys.stderr.write("pegasus-transfer: not built yet; only pegasus-kickstart is available\n")
    return 1
