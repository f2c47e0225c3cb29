"""What a process is doing, read from /proc: the holds of the TERM tests wait on these."""

from __future__ import annotations

import os
from pathlib import Path

WRITE_SYSCALL = {"x86_64": "1", "aarch64": "64"}.get(os.uname().machine)


def has_open(pid: int, path: Path) -> bool:
    """``pid`` holds ``path`` open (reading it, say)."""
    try:
        fds = os.listdir("/proc/%d/fd" % pid)
    except OSError:
        return False
    for fd in fds:
        try:
            if os.readlink("/proc/%d/fd/%s" % (pid, fd)) == str(path):
                return True
        except OSError:
            pass
    return False


def opened_by_any(path: Path) -> bool:
    """Some live process holds ``path`` open (one the test did not start itself)."""
    return any(has_open(int(e.name), path) for e in os.scandir("/proc") if e.name.isdigit())


def writing_to_stdout(pid: int) -> bool:
    """The process sits in write(1, ...): blocked on a full stdout pipe."""
    try:
        fields = Path("/proc/%d/syscall" % pid).read_text().split()
    except OSError:
        return False
    return fields[:2] == [WRITE_SYSCALL, "0x1"]
