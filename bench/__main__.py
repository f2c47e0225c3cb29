"""python -m bench SCENARIO [options]: see bench/__init__.py."""

from __future__ import annotations

import argparse
import importlib
import sys

SCENARIOS = ("kickstart", "transfer", "lite", "planner", "reliability")


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench")
    sub = parser.add_subparsers(dest="scenario", required=True)
    modules = {}
    for name in SCENARIOS:
        module = importlib.import_module("bench.scenarios.%s" % name)
        module.add_arguments(sub.add_parser(name, help=(module.__doc__ or "").splitlines()[0]))
        modules[name] = module
    args = parser.parse_args()
    path = modules[args.scenario].run(args)
    with open(path) as fh:
        print(fh.read())
    print("written to %s" % path, file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
