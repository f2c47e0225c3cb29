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


def test_a_signal_the_wait_did_not_see_arrive_still_reaches_the_job(tmp_path):
    """The Python handler of a signal may not have run when the wait for the job starts (the
    signal landed just before it): the wait must still end and forward it. Here another
    thread takes the signal while the main thread blocks it, the same state for the wait."""
    import signal
    import threading
    import time

    started = tmp_path / "started"
    done = threading.Event()

    def send_term_once_the_job_runs() -> None:
        deadline = time.monotonic() + 60
        while not started.exists() and time.monotonic() < deadline:
            time.sleep(0.01)
        os.kill(os.getpid(), signal.SIGTERM)  # delivered here: the main thread blocks it
        done.wait(90)

    helper = threading.Thread(target=send_term_once_the_job_runs)
    helper.start()  # before the mask: a new thread inherits it
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM})
    try:
        inv = kickstart.run(
            ["/bin/sh", "-c", 'touch "%s"; exec sleep 60' % started],
            kickstart.Options(no_machine=True),
        )
    finally:
        done.set()
        helper.join()
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM})
    rec = yaml.safe_load(inv.record)[0]
    assert rec["mainjob"]["status"]["forwarded_signals"] == [15]
    assert inv.exitcode == 128 + signal.SIGTERM  # the job died of it: it did not sleep on


def test_an_output_that_is_a_fifo_is_not_read(tmp_path):
    """A FIFO left as an output has no writer: hashing it would block forever."""
    import subprocess
    import sys

    code = (
        "import kickstart, sys\n"
        "from kickstart.statinfo import FileEntry\n"
        "out = FileEntry.named('out', 'out.txt', True)\n"
        "inv = kickstart.run(['/bin/sh', '-c', 'mkfifo out.txt'],\n"
        "    kickstart.Options(no_machine=True, stat_after=[out]))\n"
        "sys.stdout.write(inv.record)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=60,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    entry = yaml.safe_load(done.stdout)[0]["files"]["out"]
    assert entry["integrity_error"] == "failed creating a checksum: not a regular file"
    assert "sha256" not in entry
