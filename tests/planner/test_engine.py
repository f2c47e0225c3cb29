"""The local engine runs hand-written submit dirs with real processes, as DAGMan would.

Jobs are small shell scripts (vanilla and local universe) or the real worker bundle with
hand-written lite job specs.  Each job appends its name to a shared log, so the tests count
what ran; ordering and concurrency are read from files the jobs write.  No test sleeps:
waiting is polling with a deadline.
"""

from __future__ import annotations

import io
import json
import os
import signal
import stat
import subprocess
import time
from pathlib import Path

import pytest

from planner import engine, jobstate
from tests.conftest import console_script

DEADLINE = 60.0


def wait_for(predicate, what: str, deadline: float = DEADLINE):
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        value = predicate()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError("timed out waiting for %s" % what)


def alive(pid: int) -> bool:
    try:
        with open("/proc/%d/stat" % pid) as fh:
            return fh.read().split(") ", 1)[1][0] != "Z"
    except (FileNotFoundError, IndexError):
        return False


class SubmitDir:
    """A submit dir written by hand: one script, one .sub per job, one DAG."""

    def __init__(self, root: Path):
        self.root = root
        self.submit = root / "submit"
        self.work = root / "work"  # initialdir of the vanilla jobs
        self.scratch = root / "scratch"  # PEGASUS_LOCAL_SCRATCH
        self.log = root / "ran.log"
        for d in (self.submit / "00" / "00", self.submit / "bin", self.work, self.scratch):
            d.mkdir(parents=True, exist_ok=True)
        self.dag: list[str] = []

    def job(self, name: str, script: str, universe: str = "vanilla", inputs=(), outputs=None,
            remaps: str | None = None, retry: int = 0, priority: int | None = None,
            category: str | None = None, post: str | None = None, pre: str | None = None,
            env: dict | None = None, sub_extra: str = "") -> Path:  # fmt: skip
        program = self.submit / "bin" / (name + ".sh")
        program.write_text('#!/bin/sh\necho "%s" >> "%s"\n%s\n' % (name, self.log, script))
        program.chmod(0o755)
        jobdir = self.submit / "00" / "00"
        environment = {"NAME": name, "ROOT": str(self.root), **(env or {})}
        lines = [
            "universe = %s" % universe,
            "executable = %s" % program,
            "output = %s/%s.out" % (jobdir, name),
            "error = %s/%s.err" % (jobdir, name),
            'environment = "%s CONDOR_JOBID=$(cluster).$(process)"'
            % " ".join("%s='%s'" % kv for kv in environment.items()),
            '+pegasus_site = "local"',
        ]
        if universe == "vanilla":
            lines += [
                "initialdir = %s" % self.work,
                "should_transfer_files = YES",
                "when_to_transfer_output = ON_EXIT",
                "transfer_executable = true",
            ]
            if inputs:
                lines.append("transfer_input_files = %s" % ",".join(inputs))
            if outputs is not None:
                lines.append("transfer_output_files = %s" % ",".join(outputs))
            if remaps:
                lines.append('transfer_output_remaps = "%s"' % remaps)
        else:
            lines.append("initialdir = %s" % self.work)
        (jobdir / (name + ".sub")).write_text("\n".join(lines) + "\n" + sub_extra + "queue\n")
        self.dag.append("JOB %s 00/00/%s.sub" % (name, name))
        if retry:
            self.dag.append("RETRY %s %d" % (name, retry))
        if priority is not None:
            self.dag.append("PRIORITY %s %d" % (name, priority))
        if category:
            self.dag.append("CATEGORY %s %s" % (name, category))
        if post:
            self.dag.append("SCRIPT POST %s %s" % (name, post))
        if pre:
            self.dag.append("SCRIPT PRE %s %s" % (name, pre))
        return jobdir

    def script(self, name: str, body: str) -> str:
        path = self.submit / "bin" / name
        path.write_text("#!/bin/sh\n" + body + "\n")
        path.chmod(0o755)
        return str(path)

    def edge(self, parent: str, child: str) -> None:
        self.dag.append("PARENT %s CHILD %s" % (parent, child))

    def write(self, *extra: str) -> Path:
        (self.submit / "w-0.dag").write_text("\n".join([*extra, *self.dag]) + "\n")
        return self.submit

    def ran(self) -> list[str]:
        return self.log.read_text().split() if self.log.exists() else []

    def env(self) -> dict:
        return {**os.environ, "PEGASUS_LOCAL_SCRATCH": str(self.scratch)}

    def run(self, *args: str) -> subprocess.CompletedProcess:
        if not (self.submit / "w-0.dag").exists():
            self.write()
        return subprocess.run(
            [*console_script("pegasus-run"), str(self.submit), *args],
            env=self.env(), capture_output=True, text=True, timeout=120,
        )  # fmt: skip

    def start(self, *args: str) -> subprocess.Popen:
        if not (self.submit / "w-0.dag").exists():
            self.write()
        return subprocess.Popen(
            [*console_script("pegasus-run"), str(self.submit), *args],
            env=self.env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip

    def events(self) -> list[jobstate.Event]:
        lines = (self.submit / "jobstate.log").read_text().splitlines()
        events = [jobstate.parse_line(line) for line in lines]
        assert None not in events, lines
        return events

    def submits(self, name: str) -> int:
        return sum(1 for e in self.events() if e.job == name and e.event == jobstate.SUBMIT)


@pytest.fixture
def sd(tmp_path) -> SubmitDir:
    return SubmitDir(tmp_path)


def no_traceback(proc: subprocess.CompletedProcess) -> None:
    assert "Traceback" not in proc.stderr, proc.stderr


# ---------------------------------------------------------------------- HTCondor semantics


def test_vanilla_job_gets_its_inputs_in_a_scratch_dir_and_its_outputs_back(sd):
    (sd.work / "rel.txt").write_text("relative\n")
    (sd.work / "stdin.txt").write_text("from input\n")
    other = sd.root / "elsewhere"
    (other / "tree" / "deep").mkdir(parents=True)
    (other / "abs.txt").write_text("absolute\n")
    (other / "tree" / "deep" / "t.txt").write_text("in a tree\n")
    (other / "flat").mkdir()
    (other / "flat" / "f.txt").write_text("flattened\n")
    (sd.work / "remapped").mkdir()
    jobdir = sd.job(
        "copy",
        'test "$PWD" = "$_CONDOR_SCRATCH_DIR" && test "$TMPDIR" = "$PWD"\n'
        'echo "cwd=$PWD args=$1|$2 words=$WORDS"\n'
        "cat rel.txt abs.txt tree/deep/t.txt f.txt > out.txt\n"
        "mkdir -p sub && echo deep > sub/deep.txt\n"
        "echo moved > r.txt\necho untouched-by-engine > stray.txt\necho oops >&2\n"
        'read line; echo "stdin=$line"',
        inputs=["rel.txt", str(other / "abs.txt"), str(other / "tree"), str(other / "flat") + "/"],
        outputs=["out.txt", "sub/deep.txt", "r.txt"],
        remaps="r.txt = remapped/r2.txt",
        env={"WORDS": "two words"},
        sub_extra="arguments = \"first 'second arg'\"\ninput = stdin.txt\n",
    )
    proc = sd.run()
    assert proc.returncode == 0, proc.stderr
    assert (sd.work / "out.txt").read_text() == "relative\nabsolute\nin a tree\nflattened\n"
    assert (sd.work / "deep.txt").read_text() == "deep\n"
    assert (sd.work / "remapped" / "r2.txt").read_text() == "moved\n"
    assert not (sd.work / "stray.txt").exists() and not (sd.work / "r.txt").exists()
    out = (jobdir / "copy.out.000").read_text()
    assert "args=first|second arg words=two words" in out
    assert out.endswith("stdin=from input\n")
    cwd = out.split("cwd=", 1)[1].split()[0]
    assert cwd.startswith(str(sd.scratch)) and not os.path.exists(cwd)
    assert (jobdir / "copy.err.000").read_text() == "oops\n"
    assert not (jobdir / "copy.out").exists()
    assert os.listdir(sd.scratch) == []  # the engine's scratch root is gone
    assert "pegasus-run: 1 job: 1 succeeded, 0 failed, 0 not run" in proc.stderr


def test_without_transfer_output_files_new_and_changed_files_come_back(sd):
    (sd.work / "same.txt").write_text("same\n")
    (sd.work / "edit.txt").write_text("before\n")
    sd.job("auto", "echo new > new.txt\necho after > edit.txt\nmkdir d && touch d/x",
           inputs=["same.txt", "edit.txt"])  # fmt: skip
    os.utime(sd.work / "same.txt", (1_000_000, 1_000_000))
    proc = sd.run()
    assert proc.returncode == 0, proc.stderr
    assert (sd.work / "new.txt").read_text() == "new\n"
    assert (sd.work / "edit.txt").read_text() == "after\n"
    assert os.stat(sd.work / "same.txt").st_mtime == 1_000_000  # not copied back over itself
    assert not (sd.work / "d").exists()  # HTCondor does not bring back new directories


def test_local_universe_job_runs_in_initialdir_without_file_transfer(sd):
    jobdir = sd.job("here", 'echo "$PWD" > where.txt\ntest -z "$_CONDOR_SCRATCH_DIR"',
                    universe="local")  # fmt: skip
    proc = sd.run()
    assert proc.returncode == 0, proc.stderr
    assert (sd.work / "where.txt").read_text() == "%s\n" % sd.work
    assert (jobdir / "here.out.000").exists()


def test_a_listed_output_the_job_did_not_write_fails_the_attempt_like_a_hold(sd):
    jobdir = sd.job("forgetful", "echo made > made.txt", outputs=["made.txt", "nope.txt"])
    proc = sd.run()
    no_traceback(proc)
    assert proc.returncode == 1
    message = "transfer_output_files: nope.txt not created by the job (HTCondor would hold the job)"
    assert "failed: forgetful (attempt 1): %s" % message in proc.stderr
    assert (jobdir / "forgetful.err.000").read_text() == "pegasus-run: %s\n" % message
    assert (sd.work / "made.txt").read_text() == "made\n"
    kinds = [(e.event, e.info) for e in sd.events() if e.job == "forgetful"]
    assert kinds[-2:] == [(jobstate.JOB_HELD, "-"), (jobstate.JOB_FAILURE, str(engine.HELD))]


def test_a_missing_input_fails_the_attempt_and_says_what_is_missing(sd):
    sd.job("needy", "true", inputs=["absent.txt"])
    proc = sd.run()
    assert proc.returncode == 1
    assert "transfer_input_files: cannot copy %s" % (sd.work / "absent.txt") in proc.stderr
    assert "(HTCondor would hold the job)" in proc.stderr
    no_traceback(proc)


# ---------------------------------------------------------------------- DAGMan semantics


def test_diamond_runs_in_dependency_order(sd):
    stamp = 'date +%s%N > "$ROOT/$NAME.start"\n{work}\ndate +%s%N > "$ROOT/$NAME.end"'
    for name in ("a", "b", "c", "d"):
        sd.job(name, stamp.format(work="echo %s > %s.txt" % (name, name)), outputs=[name + ".txt"])
    for parent, child in (("a", "b"), ("a", "c"), ("b", "d"), ("c", "d")):
        sd.edge(parent, child)
    sd.write()
    proc = sd.run("-j", "4", "-v")
    assert proc.returncode == 0, proc.stderr

    def t(name: str, what: str) -> int:
        return int((sd.root / ("%s.%s" % (name, what))).read_text())

    assert t("b", "start") >= t("a", "end") and t("c", "start") >= t("a", "end")
    assert t("d", "start") >= max(t("b", "end"), t("c", "end"))
    assert sorted(sd.ran()) == ["a", "b", "c", "d"]
    assert "a: started (attempt 1)" in proc.stderr and "d: succeeded (attempt 1)" in proc.stderr


def test_a_failing_job_is_retried_then_its_descendants_never_run(sd):
    jobdir = sd.job("flaky", 'echo "try $(wc -l < "$ROOT/ran.log")"\nexit 3', retry=2)
    sd.job("kid", "true")
    sd.job("grandkid", "true")
    sd.job("bystander", "true")
    sd.edge("flaky", "kid")
    sd.edge("kid", "grandkid")
    sd.write()
    proc = sd.run()
    no_traceback(proc)
    assert proc.returncode == 1
    assert sorted(sd.ran()) == ["bystander", "flaky", "flaky", "flaky"]
    assert "failed: flaky (attempt 3): exit code 3" in proc.stderr
    assert "4 jobs: 1 succeeded, 1 failed, 2 not run" in proc.stderr
    assert [p.name for p in sorted(jobdir.glob("flaky.out.*"))] == [
        "flaky.out.000", "flaky.out.001", "flaky.out.002",
    ]  # fmt: skip
    assert sd.submits("flaky") == 3
    ends = [e for e in sd.events() if e.job == "flaky" and e.event == jobstate.JOB_FAILURE]
    assert [(e.info, e.attempt) for e in ends] == [("3", 1), ("3", 2), ("3", 3)]
    assert sd.events()[-1].event == jobstate.DAGMAN_FINISHED and sd.events()[-1].info == "1"


def test_retry_unless_exit_stops_retrying(sd):
    sd.job("fatal", "exit 7")
    sd.write("RETRY fatal 5 UNLESS-EXIT 7")
    proc = sd.run()
    assert proc.returncode == 1 and sd.ran() == ["fatal"]


def test_the_post_script_decides_as_in_dagman(sd):
    post = sd.script(
        "post.sh", 'echo "$1 $2 $3 $4" >> "%s/post.log"\n[ "$1" = rescued ] || exit "$2"' % sd.root
    )
    jobdir = sd.job("rescued", "exit 5", post="%s $JOB $RETURN $RETRY $MAX_RETRIES" % post)
    sd.job("doomed", "exit 0", post="%s $JOB 9 $RETRY $MAX_RETRIES" % post, retry=1)
    sd.write()
    proc = sd.run()
    assert proc.returncode == 1
    assert sorted((sd.root / "post.log").read_text().splitlines()) == [
        "doomed 9 0 1", "doomed 9 1 1", "rescued 5 0 0",
    ]  # fmt: skip
    assert "failed: doomed (attempt 2): POST script exit code 9" in proc.stderr
    assert (jobdir / "rescued.out.000").exists()  # not our POST: the engine rotated
    rescued = [e.event for e in sd.events() if e.job == "rescued"]
    assert rescued[-4:] == [
        jobstate.JOB_FAILURE, jobstate.POST_SCRIPT_STARTED, jobstate.POST_SCRIPT_TERMINATED,
        jobstate.POST_SCRIPT_SUCCESS,
    ]  # fmt: skip


def test_a_failed_pre_script_means_the_job_does_not_run(sd):
    pre = sd.script("pre.sh", "echo 'no licence left' >&2; exit 4")
    sd.job("gated", "true", pre=pre)
    sd.write()
    proc = sd.run()
    assert proc.returncode == 1 and sd.ran() == []
    assert "failed: gated (attempt 1): PRE script exit code 4: no licence left" in proc.stderr


def test_ready_jobs_start_in_priority_order(sd):
    for name, priority in (("low", 1), ("top", 30), ("mid", 10), ("high", 20)):
        sd.job(name, "true", priority=priority)
    sd.write()
    assert sd.run("-j", "1").returncode == 0
    assert sd.ran() == ["top", "high", "mid", "low"]


CONCURRENCY = """
mkdir -p "$ROOT/running"; touch "$ROOT/running/$NAME"
i=0; max=0
while [ $i -lt 100 ]; do
  n=$(ls "$ROOT/running" | wc -l); [ "$n" -gt "$max" ] && max=$n
  if [ $i -ge 5 ] && { [ "$max" -ge "$WANT" ] || [ $i -ge 20 ]; }; then break; fi
  i=$((i+1)); sleep 0.02
done
echo $max >> "$ROOT/counts"; rm "$ROOT/running/$NAME"
"""


def test_maxjobs_limits_a_category_and_j_limits_the_rest(sd):
    for i in range(5):
        sd.job("cat%d" % i, CONCURRENCY, category="stagein", env={"WANT": "2"})
    sd.write("MAXJOBS stagein 2")
    assert sd.run("-j", "5").returncode == 0
    counts = [int(n) for n in (sd.root / "counts").read_text().split()]
    assert len(counts) == 5 and max(counts) == 2

    other = SubmitDir(sd.root / "second")
    for i in range(5):
        other.job("j%d" % i, CONCURRENCY, env={"WANT": "3"})
    other.write()
    assert other.run("-j", "3").returncode == 0
    counts = [int(n) for n in (other.root / "counts").read_text().split()]
    assert len(counts) == 5 and max(counts) == 3


# ---------------------------------------------------------------------- resume, lock, stop


BLOCKER = 'echo $$ > "$ROOT/$NAME.pid"\nwhile [ ! -e "$ROOT/release" ]; do sleep 0.02; done\n' \
          'echo done > blocked.txt'  # fmt: skip


def test_kill_9_then_pegasus_run_resumes_without_repeating_successes(sd):
    jobdir = sd.job("first", "echo one > one.txt", outputs=["one.txt"])
    sd.job("blocked", BLOCKER, outputs=["blocked.txt"])
    sd.job("side", "true")
    sd.job("last", "cat one.txt blocked.txt > last.txt", inputs=["one.txt", "blocked.txt"],
           outputs=["last.txt"])  # fmt: skip
    sd.edge("first", "blocked")
    sd.edge("blocked", "last")
    sd.write()
    engine_proc = sd.start("-j", "2")
    pid_file = sd.root / "blocked.pid"
    wait_for(lambda: pid_file.exists() and pid_file.read_text().strip(), "the blocked job")
    job_pid = int(pid_file.read_text())
    wait_for(lambda: "side" in sd.ran(), "the side job")
    engine_proc.kill()
    engine_proc.communicate()
    # the job's process does not outlive its engine (PR_SET_PDEATHSIG)
    wait_for(lambda: not alive(job_pid), "the orphaned job to die", deadline=10)
    pid_file.unlink()
    (sd.root / "release").touch()
    proc = sd.run("-j", "2")
    assert proc.returncode == 0, proc.stderr
    assert sorted(sd.ran()) == ["blocked", "blocked", "first", "last", "side"]
    assert (sd.work / "last.txt").read_text() == "one\ndone\n"
    assert "2 of 4 jobs already succeeded in an earlier run" in proc.stderr
    assert sd.submits("first") == 1 and sd.submits("blocked") == 2
    # the killed attempt's files were kept, the new attempt has its own
    assert (jobdir / "blocked.out.000").exists() and (jobdir / "blocked.out.001").exists()
    starts = [e for e in sd.events() if e.event == jobstate.DAGMAN_STARTED]
    assert len(starts) == 2
    attempts = [e.attempt for e in sd.events() if e.job == "blocked" and e.event == "SUBMIT"]
    assert attempts == [1, 2]
    assert os.listdir(sd.scratch) == []


def test_a_second_engine_on_the_same_submit_dir_is_refused(sd):
    sd.job("blocked", BLOCKER)
    sd.write()
    first = sd.start()
    wait_for(lambda: (sd.root / "blocked.pid").exists(), "the first engine's job")
    second = sd.run()
    assert second.returncode == 1
    assert second.stderr == (
        "pegasus-run: %s is being run by another engine (pid %d); wait for it or stop it "
        "first\n" % (sd.submit, first.pid)
    )
    (sd.root / "release").touch()
    _out, err = first.communicate(timeout=60)
    assert first.returncode == 0, err


def test_sigterm_stops_the_jobs_records_the_attempts_and_a_rerun_finishes(sd):
    jobdir = sd.job("blocked", BLOCKER)
    sd.job("waiting", "true")
    sd.edge("blocked", "waiting")
    sd.write()
    proc = sd.start()
    wait_for(lambda: (sd.root / "blocked.pid").exists() and
             (sd.root / "blocked.pid").read_text().strip(), "the job")  # fmt: skip
    job_pid = int((sd.root / "blocked.pid").read_text())
    proc.send_signal(signal.SIGTERM)
    _out, err = proc.communicate(timeout=60)
    assert proc.returncode == 128 + signal.SIGTERM, err
    assert "got SIGTERM: stopping 1 running job" in err
    assert "failed: blocked (attempt 1): stopped: the engine got SIGTERM" in err
    assert not alive(job_pid)
    events = sd.events()
    assert [(e.event, e.info) for e in events if e.job == "blocked"][-1] == (
        jobstate.JOB_FAILURE, str(-signal.SIGTERM),
    )  # fmt: skip
    assert (events[-1].event, events[-1].info) == (jobstate.DAGMAN_FINISHED, "143")
    assert (jobdir / "blocked.out.000").exists()
    (sd.root / "release").touch()
    again = sd.run()
    assert again.returncode == 0, again.stderr
    assert sd.ran() == ["blocked", "blocked", "waiting"]


# ---------------------------------------------------------------------- mistakes


def test_a_missing_submit_dir_is_one_line(tmp_path):
    proc = subprocess.run([*console_script("pegasus-run"), str(tmp_path / "nope")],
                          capture_output=True, text=True)  # fmt: skip
    assert proc.returncode == 1
    assert proc.stderr == "pegasus-run: %s: no such submit directory\n" % (tmp_path / "nope")


def test_a_broken_dag_is_one_line_with_its_line_number(sd):
    sd.job("a", "true")
    sd.edge("a", "ghost")
    submit = sd.write()
    proc = sd.run()
    assert proc.returncode == 1
    assert proc.stderr == "pegasus-run: %s:2: no JOB named 'ghost'\n" % (submit / "w-0.dag")


def test_a_broken_submit_file_fails_that_job_only(sd):
    jobdir = sd.job("broken", "true")
    sub = jobdir / "broken.sub"
    sub.write_text(sub.read_text().replace("queue", "queue 4"))
    sd.job("fine", "true")
    sd.write()
    proc = sd.run()
    no_traceback(proc)
    assert proc.returncode == 1 and sd.ran() == ["fine"]
    assert "failed: broken (attempt 1): %s:" % sub in proc.stderr
    assert "'queue 4': the local engine runs one job per .sub" in proc.stderr


def test_run_is_callable_in_process_and_reports_on_the_stream_given(sd, monkeypatch):
    sd.job("only", "echo hi")
    sd.write()
    monkeypatch.setenv("PEGASUS_LOCAL_SCRATCH", str(sd.scratch))
    out = io.StringIO()
    assert engine.run(str(sd.submit), jobs=1, out=out) == 0
    assert "pegasus-run: 1 job: 1 succeeded" in out.getvalue()
    assert "outputs are in %s" % sd.submit in out.getvalue()
    out = io.StringIO()
    assert engine.run(str(sd.submit), out=out) == 0  # again: nothing left to do
    assert "1 of 1 jobs already succeeded" in out.getvalue()
    assert sd.ran() == ["only"]


def test_the_summary_names_where_the_stage_out_jobs_put_the_outputs(sd):
    jobdir = sd.job("stage_out_local_local_0_0", "true", universe="local")
    listing = [
        {
            "type": "transfer",
            "lfn": "f.d",
            "id": 1,
            "src_urls": [{"site_label": "local", "url": "file:///scratch/f.d"}],
            "dest_urls": [{"site_label": "local", "url": "file://%s/out/f.d" % sd.root}],
        }
    ]
    (jobdir / "stage_out_local_local_0_0.in").write_text(json.dumps(listing))
    proc = sd.run()
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr.splitlines()[-1] == "pegasus-run: outputs are in %s/out" % sd.root


# ---------------------------------------------------------------------- the worker bundle


@pytest.fixture(scope="module")
def bundle(tmp_path_factory) -> Path:
    from lite.bundle import build

    path = tmp_path_factory.mktemp("bundle") / "pegasus-lite.pyz"
    build(str(path), riders=False)
    return path


def bundle_job(sd: SubmitDir, bundle: Path, name: str, task: list[str], retry: int = 0) -> Path:
    """A compute job as the planner writes one (condorio): the bundle is the executable,
    the lite spec comes in by transfer_input_files, the POST is ``bundle exitcode``."""
    jobdir = sd.submit / "00" / "00"
    dest = sd.root / "outputs"
    dest.mkdir(exist_ok=True)
    spec = {
        "version": 1,
        "job": {"id": name, "name": name, "site": "local"},
        "tasks": [{"transformation": "test::sh", "executable": {"path": "/bin/sh"},
                   "arguments": ["-c", *task]}],
        "inputs": [{"lfn": "in.txt"}],
        "outputs": [{"lfn": "up.txt",
                     "destinations": [{"url": "file://%s/%s.txt" % (dest, name)}]}],
    }  # fmt: skip
    (jobdir / (name + ".json")).write_text(json.dumps(spec))
    (jobdir / (name + ".sub")).write_text(
        "\n".join([
            "universe = vanilla",
            "executable = %s" % (sd.submit / "pegasus-lite.pyz"),
            "arguments = %s.json" % name,
            "initialdir = %s" % sd.work,
            "output = %s/%s.out" % (jobdir, name),
            "error = %s/%s.err" % (jobdir, name),
            'environment = "PEGASUS_WN_TMP_MIN_SPACE=1 CONDOR_JOBID=$(cluster).$(process)"',
            "should_transfer_files = YES",
            "when_to_transfer_output = ON_EXIT",
            "transfer_executable = true",
            "transfer_input_files = %s/%s.json,in.txt" % (jobdir, name),
            '+pegasus_site = "local"',
            "queue",
        ]) + "\n"
    )  # fmt: skip
    sd.dag += [
        "JOB %s 00/00/%s.sub" % (name, name),
        "SCRIPT POST %s %s exitcode -r $RETURN -s PegasusLite:+exitcode+0 -l w-0.exitcode.log "
        "-M w-0.cache.meta  .//00/00/%s.out" % (name, sd.submit / "pegasus-lite.pyz", name),
        "RETRY %s %d" % (name, retry),
    ]
    return jobdir


PARENT_CMDLINE = 'tr a-z A-Z < in.txt > up.txt; tr "\\000" " " < /proc/$PPID/cmdline > "%s"'


def test_bundle_jobs_run_forked_from_the_engine_with_the_post_script_in_process(sd, bundle):
    pytest.importorskip("lite.exitcode")
    target = sd.submit / "pegasus-lite.pyz"
    target.write_bytes(bundle.read_bytes())
    # not executable: only the engine's in-process paths can run it (exec would fail)
    target.chmod(stat.S_IRUSR | stat.S_IWUSR)
    (sd.work / "in.txt").write_text("hello\n")
    for i in range(3):
        jobdir = bundle_job(sd, bundle, "up_ID%d" % i,
                            [PARENT_CMDLINE % (sd.root / ("parent%d.txt" % i))])  # fmt: skip
    sd.edge("up_ID0", "up_ID1")
    sd.write()
    proc = sd.run("-j", "2")
    assert proc.returncode == 0, proc.stderr
    for i in range(3):
        name = "up_ID%d" % i
        assert (sd.root / "outputs" / (name + ".txt")).read_text() == "HELLO\n"
        record = (jobdir / (name + ".out.000")).read_text()
        assert "- invocation: True" in record and "raw: 0" in record
        assert (jobdir / (name + ".err.000")).read_text().endswith("PegasusLite: exitcode 0\n")
        # the task's parent is lite in a fork of the engine, not a new python on the bundle
        parent = (sd.root / ("parent%d.txt" % i)).read_text()
        assert "pegasus-run" in parent and "pegasus-lite.pyz" not in parent
        meta = json.loads((jobdir / (name + ".meta")).read_text())
        assert [m["_id"] for m in meta] == ["up.txt"]
    judged = [json.loads(line) for line in (sd.submit / "w-0.exitcode.log").read_text().split("\n")
              if line]  # fmt: skip
    assert sorted(j["exitcode"] for j in judged) == [0, 0, 0]
    names = [e.job for e in sd.events() if e.event == jobstate.POST_SCRIPT_SUCCESS]
    assert sorted(names) == ["up_ID0", "up_ID1", "up_ID2"]


def test_a_failing_bundle_job_is_judged_by_exitcode_and_retried(sd, bundle):
    pytest.importorskip("lite.exitcode")
    (sd.submit / "pegasus-lite.pyz").write_bytes(bundle.read_bytes())
    (sd.work / "in.txt").write_text("x\n")
    jobdir = bundle_job(sd, bundle, "bad_ID1", ["echo trying >&2; exit 3"], retry=1)
    sd.write()
    proc = sd.run()
    no_traceback(proc)
    assert proc.returncode == 1
    assert sd.submits("bad_ID1") == 2
    assert "failed: bad_ID1 (attempt 2): job exit code 3; POST script exit code 1: " \
           "pegasus-exitcode: " in proc.stderr  # fmt: skip
    assert (jobdir / "bad_ID1.err.001").read_text().endswith("PegasusLite: exitcode 3\n")
    assert not (jobdir / "bad_ID1.meta").exists()
