"""Where the job works: the first scratch directory that exists, is writable and has room.

The candidates and their order are PegasusLite's; the job gets a private subdirectory of
the winner, removed at the end unless asked to keep it.
"""

from __future__ import annotations

import os
import shutil
import tempfile

from .log import log

CANDIDATES = (
    "PEGASUS_WN_TMP", "_CONDOR_SCRATCH_DIR", "OSG_WN_TMP", "TG_NODE_SCRATCH",
    "TG_CLUSTER_SCRATCH", "SCRATCH", "TMPDIR", "TMP",
)  # fmt: skip
DEFAULT_MIN_SPACE_KIB = 1000000  # PEGASUS_WN_TMP_MIN_SPACE, as in PegasusLite


class WorkDirError(Exception):
    pass


def candidates(env: dict[str, str]) -> list[str]:
    found = [env[name] for name in CANDIDATES if env.get(name)]
    return [*found, "/tmp"]


def pick(env: dict[str, str]) -> str:
    """Create and return a private work directory (pegasus.XXXXXXXXX) in the first good place."""
    try:
        need_kib = int(env.get("PEGASUS_WN_TMP_MIN_SPACE", DEFAULT_MIN_SPACE_KIB))
    except ValueError:
        need_kib = DEFAULT_MIN_SPACE_KIB
    for directory in candidates(env):
        log("Checking %s for potential use as work space... " % directory)
        if not os.path.isdir(directory):
            log("  Workdir: %s does not exist" % directory)
            continue
        try:
            st = os.statvfs(directory)
        except OSError:
            log("  Workdir: cannot read the free space of %s" % directory)
            continue
        free_kib = st.f_bavail * st.f_frsize // 1024
        if free_kib < need_kib:
            log("  Workdir: not enough disk space available in %s" % directory)
            continue
        try:
            path = tempfile.mkdtemp(prefix="pegasus.", dir=directory)
        except OSError:
            log("  Workdir: not allowed to write to %s" % directory)
            continue
        log("  Workdir is %s - %s available" % (path, _si(free_kib * 1024)))
        return path
    raise WorkDirError("no usable work directory among %s" % ", ".join(candidates(env)))


def _si(size: float) -> str:
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if size < 1000 or unit == "TB":
            return "%.0f%s" % (size, unit) if unit == "B" else "%.1f%s" % (size, unit)
        size /= 1000
    return "%.1fTB" % size


def is_full(path: str) -> bool:
    """No block left for us on the file system holding ``path``."""
    try:
        return os.statvfs(path).f_bavail == 0
    except OSError:
        return False


def remove(path: str) -> None:
    shutil.rmtree(path, ignore_errors=True)
