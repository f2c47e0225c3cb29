"""kickstart.run(): the in-process call pegasus-lite makes, with no second interpreter."""

from __future__ import annotations

import os

import yaml

import kickstart


def test_run_returns_record_and_exit_code_without_printing(capfd, tmp_path):
    inv = kickstart.run(
        ["/bin/sh", "-c", "echo $GREETING; exit 7"],
        kickstart.Options(transformation="tr", no_machine=True),
        env={"GREETING": "hello", "PATH": "/usr/bin:/bin"},
    )
    out, err = capfd.readouterr()
    assert out == "" and err == ""
    assert inv.exitcode == 7
    rec = yaml.safe_load(inv.record)[0]
    assert rec["transformation"] == "tr"
    assert rec["files"]["stdout"]["data"] == "hello\n"
    assert rec["environment"] == {
        "GREETING": "hello",
        "PATH": "/usr/bin:/bin",
        "KICKSTART_INTEGRITY_DATA": rec["environment"]["KICKSTART_INTEGRITY_DATA"],
        "KICKSTART_METADATA": rec["environment"]["KICKSTART_METADATA"],
    }
    assert "machine" not in rec


def test_the_callers_environment_and_handlers_are_left_alone():
    import signal

    before_env = dict(os.environ)
    before = {s: signal.getsignal(s) for s in (signal.SIGTERM, signal.SIGINT)}
    inv = kickstart.run(["/bin/true"], env={"PATH": "/usr/bin:/bin"})
    assert inv.exitcode == 0
    assert dict(os.environ) == before_env
    assert {s: signal.getsignal(s) for s in before} == before


def test_options_reject_unknown_names():
    try:
        kickstart.Options(no_such_option=True)
    except TypeError as exc:
        assert "no_such_option" in str(exc)
    else:
        raise AssertionError("Options accepted an unknown name")


def test_log_callback_reports_timeouts():
    lines = []
    inv = kickstart.run(
        ["/bin/sleep", "30"], kickstart.Options(term_after=0.2, log=lines.append, no_machine=True)
    )
    assert inv.exitcode == 14
    assert lines == ["Job timed out, sending SIGTERM"]
