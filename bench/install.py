"""A clean, non-editable install of this checkout: what a user's worker node runs.

Also the anchor: Pegasus's own pegasus-transfer (the ``pegasus-wms.worker`` wheel from
PyPI) in a virtual environment of its own, with the wrapper scripts a full Pegasus install
would have put next to it.
"""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / "bench" / "work"

PIP = ["-m", "pip", "install", "-q", "--disable-pip-version-check"]


def _extra_requirements(extras: Sequence[str]) -> list[str]:
    """The requirements of the named extras in pyproject.toml (self-references followed)."""
    try:
        import tomllib
    except ImportError:  # Python < 3.11: let pip resolve the extras itself
        return ["%s[%s]" % (ROOT, ",".join(extras))]
    with open(ROOT / "pyproject.toml", "rb") as fh:
        project = tomllib.load(fh)["project"]
    table = project.get("optional-dependencies", {})
    own = re.compile(r"^%s\[(.*)\]$" % re.escape(project["name"]))
    found: list[str] = []
    pending, seen = list(extras), set()
    while pending:
        extra = pending.pop()
        if extra in seen:
            continue
        seen.add(extra)
        if extra not in table:
            raise ValueError("pyproject.toml has no extra %r" % extra)
        for requirement in table[extra]:
            match = own.match(requirement.replace(" ", ""))
            if match:
                pending.extend(match.group(1).split(","))
            elif requirement not in found:
                found.append(requirement)
    return found


def bench_venv(extras: Sequence[str] = ()) -> Path:
    """bench/work/venv with this checkout installed (bytecode compiled), plus the libraries
    of ``extras`` (e.g. ``("http",)``) when asked; by default no extras."""
    venv = WORK / "venv"
    python = str(venv / "bin" / "python")
    if not (venv / "bin" / "python").exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    if extras:
        # Not forced: pip leaves a library that is already there alone.
        subprocess.run([python, *PIP, *_extra_requirements(extras)], check=True)
    subprocess.run(
        [python, *PIP, "--no-deps", "--force-reinstall", str(ROOT)],
        check=True,
    )  # fmt: skip
    return venv


WRAPPER = """\
#!{python}
# Written by bench/install.py: what a full Pegasus install has in bin/.  Pegasus looks
# its helper tools up by exact name next to sys.argv[0], so sys.argv stays as it is.
import sys
path = {script!r}
sys.path.insert(0, {site!r})
with open(path) as fh:
    code = compile(fh.read(), path, "exec")
exec(code, {{"__name__": "__main__", "__file__": path}})
"""

# pegasus-transfer last: its wrapper existing means the environment is complete
PEGASUS_TOOLS = ("pegasus-integrity", "pegasus-s3", "pegasus-globus-online", "pegasus-transfer")


def pegasus_worker_venv(version: str = "5.1.3") -> Path:
    """bench/work/pegasus-worker-<version>: Pegasus's pegasus-transfer and its helpers.

    Returns the path of its ``pegasus-transfer``."""
    venv = WORK / ("pegasus-worker-%s" % version)
    python = venv / "bin" / "python"
    tool = venv / "bin" / "pegasus-transfer"
    if tool.exists():
        return tool
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    subprocess.run([str(python), *PIP, "pegasus-wms.worker==%s" % version], check=True)
    site = subprocess.run(
        [str(python), "-c", "import Pegasus, os; print(os.path.dirname(os.path.dirname("
         "Pegasus.__file__)))"],
        check=True, capture_output=True, text=True,
    ).stdout.strip()  # fmt: skip
    for name in PEGASUS_TOOLS:
        script = Path(site) / "Pegasus" / "cli" / ("%s.py" % name)
        if not script.exists():
            continue
        wrapper = venv / "bin" / name
        wrapper.write_text(WRAPPER.format(python=python, script=str(script), site=site))
        wrapper.chmod(0o755)
    return tool
