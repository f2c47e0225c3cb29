"""The ``machine:`` section: uname, memory, CPUs, load and a process census.

Linux reads /proc; elsewhere only uname and the page size are known.  Every read is one
``os.read`` of a small file: the census touches a few hundred files per record, and the
C tool spends most of its run time there.
"""

from __future__ import annotations

import os

from .yamlfmt import plain


def _read(path: str, size: int = 65536) -> str:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return ""
    try:
        return os.read(fd, size).decode("utf-8", "replace")
    except OSError:
        return ""
    finally:
        os.close(fd)


def _meminfo() -> dict[str, int]:
    wanted = {
        "MemTotal": "ram_total",
        "MemFree": "ram_free",
        "Shmem": "ram_shared",
        "Buffers": "ram_buffer",
        "SwapTotal": "swap_total",
        "SwapFree": "swap_free",
    }
    found = {}
    for line in _read("/proc/meminfo").splitlines():
        name, _, rest = line.partition(":")
        key = wanted.get(name)
        if key:
            try:
                found[key] = int(rest.split()[0])
            except (IndexError, ValueError):
                pass
    return {key: found[key] for key in wanted.values() if key in found}


def _cpuinfo() -> dict[str, object]:
    count = 0
    speed = None
    vendor = None
    model = None
    for line in _read("/proc/cpuinfo", 1 << 20).splitlines():
        name, _, value = line.partition(":")
        name = name.strip()
        value = value.strip()
        if name == "processor":
            count += 1
        elif name == "cpu MHz" and speed is None:
            try:
                speed = int(float(value) + 0.5)
            except ValueError:
                pass
        elif name == "vendor_id" and vendor is None:
            vendor = value
        elif name == "model name" and model is None:
            model = " ".join(value.split())
    info: dict[str, object] = {"cpu_count": count or os.cpu_count() or 0}
    if speed is not None:
        info["cpu_speed"] = speed
    if vendor:
        info["cpu_vendor"] = vendor
    if model:
        info["cpu_model"] = model
    return info


def _state_of(stat_text: str) -> tuple:
    """(state letter, threads, vsize bytes, rss pages) from a /proc/<id>/stat line."""
    tail = stat_text[stat_text.rfind(")") + 2 :].split()
    try:
        return tail[0], int(tail[17]), int(tail[20]), int(tail[21])
    except (IndexError, ValueError):
        return "?", 1, 0, 0


# /proc state letter -> the C tool's counter name; anything else (idle kernel threads, ...)
# counts as "other".  Counters are printed in this order, and only when non-zero.
_STATES = {"R": "running", "S": "sleeping", "D": "waiting", "T": "stopped", "Z": "zombie"}
_STATE_ORDER = ("running", "sleeping", "waiting", "stopped", "zombie", "other")


def _census(page_size: int) -> dict[str, int]:
    procs = dict.fromkeys(_STATE_ORDER, 0)
    tasks = dict.fromkeys(_STATE_ORDER, 0)
    vmsize = 0
    rss = 0
    try:
        pids = [name for name in os.listdir("/proc") if name.isdigit()]
    except OSError:
        pids = []
    for pid in pids:
        text = _read("/proc/%s/stat" % pid, 1024)
        if not text:
            continue
        state, threads, vsize, rss_pages = _state_of(text)
        bucket = _STATES.get(state, "other")
        procs[bucket] += 1
        vmsize += vsize
        rss += rss_pages
        if threads == 1:  # the one task is the process itself: no need to list it
            tasks[bucket] += 1
            continue
        try:
            tids = os.listdir("/proc/%s/task" % pid)
        except OSError:
            continue
        for tid in tids:
            task_text = _read("/proc/%s/task/%s/stat" % (pid, tid), 1024)
            if task_text:
                tasks[_STATES.get(_state_of(task_text)[0], "other")] += 1
    if not pids:
        return {}
    census = {"procs_total": sum(procs.values())}
    census.update(("procs_" + k, v) for k, v in procs.items() if v)
    census["procs_vmsize"] = vmsize // 1024
    census["procs_rss"] = rss * page_size // 1024
    census["task_total"] = sum(tasks.values())
    census.update(("task_" + k, v) for k, v in tasks.items() if v)
    return census


def machine_lines(indent: str) -> list[str]:
    """Lines of the ``machine:`` mapping (without the ``machine:`` key itself)."""
    uname = os.uname()
    try:
        page_size = os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError):
        page_size = 4096
    values: dict[str, object] = {
        "page-size": page_size,
        "uname_system": uname.sysname.lower(),
        "uname_nodename": uname.nodename,
        "uname_release": uname.release,
        "uname_machine": uname.machine,
    }
    if os.path.isdir("/proc/self"):
        values.update(_meminfo())
        values.update(_cpuinfo())
        load = _read("/proc/loadavg").split()
        if len(load) >= 3:
            values["load_min1"] = load[0]
            values["load_min5"] = load[1]
            values["load_min15"] = load[2]
        values.update(_census(page_size))
    lines = []
    for key, value in values.items():
        if isinstance(value, str) and not key.startswith("load_"):
            value = plain(value)
        lines.append("%s%s: %s" % (indent, key, value))
    return lines
