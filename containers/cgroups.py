"""A container's resource usage, read from its cgroup (v1, v2 or the hybrid of both).

Two ways to get it, both engine-agnostic:

* **A parent cgroup of our own** (exact; needs root and the engine's ``cgroupfs`` driver):
  the container is started with ``--cgroup-parent /pegasus-lite/<name>``.  The engine
  removes the container's own cgroup when it ends, but the parent stays, and the kernel has
  charged it with everything its child used: peak memory, CPU time, I/O.  Read it after the
  run, then :func:`remove_tree` it.
* **Sampling** (when we may not create cgroups: a user in the docker group): a thread finds
  the container's cgroup from its first process and reads it until it disappears.  Peak
  memory is the kernel's own high-water mark; CPU time misses at most the last interval.

Keys (all optional): ``memory_peak_bytes``, ``cpu_seconds``, ``cpu_user_seconds``,
``cpu_system_seconds``, ``io_read_bytes``, ``io_write_bytes``, ``cgroup`` (1 or 2).
"""

from __future__ import annotations

import contextlib
import os
import threading
import time

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

PARENT = "/pegasus-lite"
V2 = "unified"  # our name for the cgroup2 hierarchy in the controller -> directory maps


def mounts() -> list[tuple[str, str, set[str]]]:
    """(mount point, hierarchy root, controllers) of every cgroup file system we can see."""
    found = []
    try:
        with open("/proc/self/mountinfo", encoding="utf-8") as fh:
            lines = fh.read().splitlines()
    except OSError:
        return found
    for line in lines:
        left, _, right = line.partition(" - ")
        fields, rest = left.split(), right.split()
        if len(fields) < 5 or len(rest) < 3:
            continue
        root, point = _unescape(fields[3]), _unescape(fields[4])
        if rest[0] == "cgroup2":
            found.append((point, root, {V2}))
        elif rest[0] == "cgroup":
            options = set(rest[2].split(","))
            found.append((point, root, options - {"rw", "ro"}))
    return found


def _unescape(text: str) -> str:
    return text.replace("\\040", " ").replace("\\011", "\t").replace("\\134", "\\")


def _under(path: str, root: str) -> str | None:
    root = root.rstrip("/")
    if path == root or path.startswith(root + "/"):
        return path[len(root) :]
    return None


def dirs_for(path: str, table: list | None = None) -> dict[str, str]:
    """controller -> directory of the cgroup at ``path`` (a path from the hierarchy root)."""
    dirs: dict[str, str] = {}
    for point, root, controllers in mounts() if table is None else table:
        rel = _under(path, root)
        if rel is None:
            continue
        for controller in controllers:
            dirs.setdefault(controller, point + rel)
    return dirs


def dirs_of_pid(pid: int) -> dict[str, str]:
    """controller -> directory of the cgroups process ``pid`` is in."""
    try:
        with open("/proc/%d/cgroup" % pid, encoding="utf-8") as fh:
            lines = fh.read().splitlines()
    except OSError:
        return {}
    table = mounts()
    dirs: dict[str, str] = {}
    for line in lines:
        _, controllers, path = line.split(":", 2)
        wanted = {V2} if controllers == "" else set(controllers.split(","))
        for point, root, have in table:
            if wanted & have:
                rel = _under(path, root)
                if rel is not None:
                    for controller in wanted & have:
                        dirs.setdefault(controller, point + rel)
    return dirs


def _read(directory: str | None, name: str) -> str | None:
    if not directory:
        return None
    try:
        with open(os.path.join(directory, name), encoding="ascii") as fh:
            return fh.read()
    except (OSError, ValueError):
        return None


def _keyed(text: str | None) -> dict[str, int]:
    values: dict[str, int] = {}
    for line in (text or "").splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[1].isdigit():
            values[parts[0]] = int(parts[1])
    return values


def read_usage(dirs: dict[str, str]) -> dict | None:
    """What the cgroups in ``dirs`` used so far; None when none of the files can be read."""
    usage: dict = {}
    v2 = dirs.get(V2)
    text = _read(dirs.get("memory"), "memory.max_usage_in_bytes")
    if text is not None:
        usage["memory_peak_bytes"] = int(text)
        usage["cgroup"] = 1
    else:
        text = _read(v2, "memory.peak")
        if text is not None and text.strip().isdigit():
            usage["memory_peak_bytes"] = int(text)
            usage["cgroup"] = 2
    text = _read(dirs.get("cpuacct"), "cpuacct.usage")
    if text is not None:
        usage["cpu_seconds"] = round(int(text) / 1e9, 6)
        ticks = _keyed(_read(dirs.get("cpuacct"), "cpuacct.stat"))
        hertz = os.sysconf("SC_CLK_TCK") or 100
        if "user" in ticks:
            usage["cpu_user_seconds"] = round(ticks["user"] / hertz, 3)
            usage["cpu_system_seconds"] = round(ticks.get("system", 0) / hertz, 3)
    else:
        stat = _keyed(_read(v2, "cpu.stat"))
        if "usage_usec" in stat:
            usage["cpu_seconds"] = round(stat["usage_usec"] / 1e6, 6)
            usage["cpu_user_seconds"] = round(stat.get("user_usec", 0) / 1e6, 6)
            usage["cpu_system_seconds"] = round(stat.get("system_usec", 0) / 1e6, 6)
    io = _io_v1(_read(dirs.get("blkio"), "blkio.throttle.io_service_bytes"))
    if io is None:
        io = _io_v2(_read(v2, "io.stat"))
    if io is not None:
        usage["io_read_bytes"], usage["io_write_bytes"] = io
    if not usage:
        return None
    usage.setdefault("cgroup", 2 if v2 and "memory" not in dirs else 1)
    return usage


def _io_v1(text: str | None) -> tuple[int, int] | None:
    if text is None:
        return None
    read = write = 0
    for line in text.splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[2].isdigit():
            if parts[1] == "Read":
                read += int(parts[2])
            elif parts[1] == "Write":
                write += int(parts[2])
    return read, write


def _io_v2(text: str | None) -> tuple[int, int] | None:
    if text is None:
        return None
    read = write = 0
    for line in text.splitlines():
        for field in line.split()[1:]:
            key, _, value = field.partition("=")
            if key == "rbytes" and value.isdigit():
                read += int(value)
            elif key == "wbytes" and value.isdigit():
                write += int(value)
    return read, write


# ---------------------------------------------------------------------- our parent cgroup


def parent_path(name: str) -> str:
    return "%s/%s" % (PARENT, name)


def can_use_parent() -> bool:
    """We may create cgroups (root) and see a hierarchy rooted at its top."""
    if os.geteuid() != 0:
        return False
    return any(root == "/" and os.access(point, os.W_OK) for point, root, _ in mounts())


def parent_usage(name: str) -> dict | None:
    return read_usage(dirs_for(parent_path(name)))


def remove_tree(path: str, timeout: float = 3.0) -> None:
    """rmdir the cgroup at ``path`` and its children, in every hierarchy.  A process that
    is still leaving (podman's conmon outlives ``podman rm`` by a moment) gets ``timeout``
    seconds to go; after that the empty directories left are for the next cleanup."""
    directories = set(dirs_for(path).values())
    deadline = time.monotonic() + timeout
    while True:
        for directory in directories:
            if os.path.isdir(directory):
                for current, _subdirs, _files in os.walk(directory, topdown=False):
                    with contextlib.suppress(OSError):
                        os.rmdir(current)
        directories = {d for d in directories if os.path.isdir(d)}
        if not directories or time.monotonic() > deadline:
            return
        time.sleep(0.02)


# ---------------------------------------------------------------------- sampling


class Sampler:
    """Reads the cgroup of a running container until it ends (see the module docstring)."""

    def __init__(self, find_pid: Callable[[], int | None], interval: float = 0.1):
        self.find_pid = find_pid
        self.interval = interval
        self.last: dict | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="cgroup-sampler", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        pid = None
        delay = 0.005
        while pid is None and not self._stop.is_set():
            try:
                pid = self.find_pid()
            except Exception:
                pid = None
            if pid is None:
                self._stop.wait(delay)
                delay = min(delay * 2, self.interval)
        if pid is None:
            return
        dirs = dirs_of_pid(pid)
        delay = 0.01
        while dirs and not self._stop.is_set():
            usage = read_usage(dirs)
            if usage is None:
                return  # the cgroup is gone: the container ended
            self.last = _merge(self.last, usage)
            self._stop.wait(delay)
            delay = min(delay * 2, self.interval)

    def stop(self) -> dict | None:
        self._stop.set()
        self._thread.join(timeout=2)
        if self.last is None:
            return None
        return {**self.last, "sampled": True}


def _merge(old: dict | None, new: dict) -> dict:
    """Counters only grow: keep the largest value seen for each."""
    if old is None:
        return dict(new)
    merged = dict(old)
    for key, value in new.items():
        merged[key] = max(value, merged.get(key, value)) if key != "cgroup" else value
    return merged
