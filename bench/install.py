"""A clean, non-editable install of this checkout: what a user's worker node runs."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / "bench" / "work"


def bench_venv() -> Path:
    """bench/work/venv with this checkout installed (no extras, bytecode compiled)."""
    venv = WORK / "venv"
    if not (venv / "bin" / "python").exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    subprocess.run(
        [str(venv / "bin" / "python"), "-m", "pip", "install", "-q", "--no-deps",
         "--force-reinstall", "--disable-pip-version-check", str(ROOT)],
        check=True,
    )  # fmt: skip
    return venv
