"""The worker bundle: one executable zip with kickstart, transfer, containers and lite.

``python3 bundle.pyz job.json`` runs a job on a node where nothing of ours is installed;
``bundle.pyz transfer ARGS`` (pegasus-transfer, for auxiliary jobs) and ``bundle.pyz exitcode
ARGS`` (pegasus-exitcode, the DAG's POST script) need nothing more than the same packages.
Pure-Python copies of requests and what it needs ride along, so file, http(s) and webdav
staging work on a bare node; other schemes use the node's own libraries and say clearly
when one is missing.  Compiled extension modules are never copied (they would tie the
bundle to this machine's Python): charset_normalizer, for one, falls back to its
pure-Python modules.
"""

from __future__ import annotations

import importlib
import os
import shutil
import tempfile
import zipapp
from pathlib import Path

OURS = ("kickstart", "transfer", "containers", "lite")
RIDERS = ("requests", "urllib3", "idna", "certifi", "charset_normalizer")

MAIN = """\
import sys

from lite.cli import main

sys.exit(main())
"""


def _package_dir(name: str) -> Path | None:
    try:
        module = importlib.import_module(name)
    except ImportError:
        return None
    return Path(module.__file__).resolve().parent


def _ignore(directory: str, names: list[str]) -> list[str]:
    return [n for n in names if n == "__pycache__" or n.endswith((".so", ".pyd", ".pyc"))]


def build(out: str, riders: bool = True) -> list[str]:
    """Write the bundle to ``out``; returns the packages it holds."""
    included = []
    with tempfile.TemporaryDirectory(prefix="pegasus-bundle-") as staging:
        for name in OURS + (RIDERS if riders else ()):
            source = _package_dir(name)
            if source is None:
                if name in OURS:
                    raise RuntimeError("package %s is not importable" % name)
                continue
            shutil.copytree(source, os.path.join(staging, name), ignore=_ignore)
            included.append(name)
        Path(staging, "__main__.py").write_text(MAIN)
        tmp = out + ".tmp"
        zipapp.create_archive(staging, tmp, interpreter="/usr/bin/env python3", compressed=True)
        os.replace(tmp, out)
    return included
