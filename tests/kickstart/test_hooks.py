"""The library hooks pegasus-lite uses: extra record sections and a signal callback."""

from __future__ import annotations

import os
import signal
import threading

import yaml

import kickstart

ENV = {"PATH": "/usr/bin:/bin"}


def test_extra_section_is_rendered_after_the_job(tmp_path):
    marker = tmp_path / "written-by-the-job"

    def section():
        return {
            "container": {
                "runtime": "docker",
                "argument_vector": ["/bin/sh", "-c", "echo 'a: b'"],
                "job_wrote": marker.read_text(),
                "usage": {"memory_peak_bytes": 1 << 20, "cpu_seconds": 0.25, "sampled": False},
            }
        }

    options = kickstart.Options(no_machine=True, extra_sections=section)
    inv = kickstart.run(["/bin/sh", "-c", "echo done > %s" % marker], options, env=ENV)
    (record,) = yaml.safe_load(inv.record)
    assert record["container"] == {
        "runtime": "docker",
        "argument_vector": ["/bin/sh", "-c", "echo 'a: b'"],
        "job_wrote": "done\n",
        "usage": {"memory_peak_bytes": 1 << 20, "cpu_seconds": 0.25, "sampled": False},
    }
    assert record["mainjob"]["status"]["regular_exitcode"] == 0


def test_extra_section_as_ready_lines():
    options = kickstart.Options(no_machine=True, extra_sections=lambda: ["  extra: 1"])
    (record,) = yaml.safe_load(kickstart.run(["/bin/true"], options, env=ENV).record)
    assert record["extra"] == 1


def test_a_failing_extension_does_not_cost_the_record():
    logged = []

    def broken():
        raise RuntimeError("no engine")

    options = kickstart.Options(no_machine=True, extra_sections=broken, log=logged.append)
    inv = kickstart.run(["/bin/sh", "-c", "exit 4"], options, env=ENV)
    (record,) = yaml.safe_load(inv.record)
    assert inv.exitcode == 4 and record["mainjob"]["status"]["regular_exitcode"] == 4
    assert logged == ["record extension failed: no engine"]


def test_on_signal_hears_about_each_forwarded_signal():
    heard = []
    options = kickstart.Options(no_machine=True, on_signal=lambda s, pgid: heard.append((s, pgid)))
    timer = threading.Timer(0.3, os.kill, (os.getpid(), signal.SIGTERM))
    timer.start()
    try:
        inv = kickstart.run(["/bin/sleep", "10"], options, env=ENV)
    finally:
        timer.cancel()
    assert inv.job.signals == [signal.SIGTERM]
    assert heard == [(signal.SIGTERM, inv.job.pid)]
    assert inv.exitcode == 128 + signal.SIGTERM


def test_no_hooks_no_trace():
    inv = kickstart.run(["/bin/true"], kickstart.Options(no_machine=True), env=ENV)
    assert "container" not in yaml.safe_load(inv.record)[0]
