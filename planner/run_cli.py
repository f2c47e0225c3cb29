"""Placeholder while the planner issue is built."""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    sys.stderr.write("not built yet\n")
    return 1
