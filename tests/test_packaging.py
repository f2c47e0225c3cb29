"""What a plain (non-editable) install gets: every package of ours, subpackages included.

The editable install the tests run from hides a missing subpackage; a worker node's
install would not have had transfer.handlers, so nothing could be staged.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TOP = ("kickstart", "transfer", "containers", "lite", "planner")


def test_the_wheel_holds_every_package(tmp_path):
    # from a copy: a stale build/ beside the sources would hide a missing package
    source = tmp_path / "src"
    ignore = shutil.ignore_patterns(".venv", "build", ".git", "work", "__pycache__", "*.egg-info")
    shutil.copytree(ROOT, source, ignore=ignore)
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path), str(source)],
        check=True, capture_output=True,
    )  # fmt: skip
    (wheel,) = tmp_path.glob("pegasus_lite-*.whl")
    with zipfile.ZipFile(wheel) as zf:
        names = set(zf.namelist())
    expected = sorted(
        str(init.relative_to(ROOT))
        for top in TOP
        for init in (ROOT / top).rglob("__init__.py")
        if "__pycache__" not in init.parts
    )
    assert expected and [name for name in expected if name not in names] == []
    assert any(name.endswith("scripts/pegasus-kickstart") for name in names)
