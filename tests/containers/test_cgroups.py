"""Reading a container's usage from cgroup files: v1, v2, the mapping to mount points."""

from __future__ import annotations

import os
import time

import pytest

from containers import cgroups


def write(directory, files: dict) -> str:
    directory.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (directory / name).write_text(text)
    return str(directory)


def test_v1_files(tmp_path):
    dirs = {
        "memory": write(tmp_path / "memory", {"memory.max_usage_in_bytes": "4096\n"}),
        "cpuacct": write(
            tmp_path / "cpuacct",
            {"cpuacct.usage": "2500000000\n", "cpuacct.stat": "user 150\nsystem 50\n"},
        ),
        "blkio": write(
            tmp_path / "blkio",
            {
                "blkio.throttle.io_service_bytes": "8:0 Read 100\n8:0 Write 7\n8:0 Total 107\n"
                "8:16 Read 1\n8:16 Write 2\nTotal 110\n"
            },
        ),
    }
    hertz = os.sysconf("SC_CLK_TCK")
    assert cgroups.read_usage(dirs) == {
        "memory_peak_bytes": 4096,
        "cgroup": 1,
        "cpu_seconds": 2.5,
        "cpu_user_seconds": round(150 / hertz, 3),
        "cpu_system_seconds": round(50 / hertz, 3),
        "io_read_bytes": 101,
        "io_write_bytes": 9,
    }


def test_v2_files(tmp_path):
    unified = write(
        tmp_path / "unified",
        {
            "memory.peak": "8192\n",
            "cpu.stat": "usage_usec 1500000\nuser_usec 1000000\nsystem_usec 500000\n",
            "io.stat": "8:0 rbytes=10 wbytes=20 rios=1 wios=2\n8:16 rbytes=1 wbytes=2\n",
        },
    )
    assert cgroups.read_usage({cgroups.V2: unified}) == {
        "memory_peak_bytes": 8192,
        "cgroup": 2,
        "cpu_seconds": 1.5,
        "cpu_user_seconds": 1.0,
        "cpu_system_seconds": 0.5,
        "io_read_bytes": 11,
        "io_write_bytes": 22,
    }


def test_nothing_readable_is_none(tmp_path):
    assert cgroups.read_usage({"memory": str(tmp_path / "gone")}) is None


def test_dirs_for_maps_hierarchy_paths_to_mount_points():
    table = [
        ("/sys/fs/cgroup/memory", "/", {"memory"}),
        ("/sys/fs/cgroup/cpu,cpuacct", "/", {"cpu", "cpuacct"}),
        ("/sys/fs/cgroup/unified", "/", {cgroups.V2}),
        ("/sys/fs/cgroup/blkio", "/elsewhere", {"blkio"}),  # a namespace we cannot map
    ]
    assert cgroups.dirs_for("/pegasus-lite/x", table) == {
        "memory": "/sys/fs/cgroup/memory/pegasus-lite/x",
        "cpu": "/sys/fs/cgroup/cpu,cpuacct/pegasus-lite/x",
        "cpuacct": "/sys/fs/cgroup/cpu,cpuacct/pegasus-lite/x",
        cgroups.V2: "/sys/fs/cgroup/unified/pegasus-lite/x",
    }


def test_sampler_reads_a_live_cgroup_and_stops():
    if not cgroups.dirs_of_pid(os.getpid()):
        pytest.skip("no cgroup file system visible")
    sampler = cgroups.Sampler(os.getpid, interval=0.02)
    time.sleep(0.2)
    usage = sampler.stop()
    assert usage is not None and usage["sampled"] is True
    assert usage.get("cpu_seconds", 0) > 0 or usage.get("memory_peak_bytes", 0) > 0


def test_sampler_without_a_process_gives_nothing():
    sampler = cgroups.Sampler(lambda: None, interval=0.01)
    time.sleep(0.05)
    assert sampler.stop() is None
