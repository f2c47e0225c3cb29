"""The local engine's readers: .sub files, DAGs, jobstate.log, and its progress line.

The .sub reader is checked against HTCondor's own bindings on every real Pegasus 5.0.5
submit file, and the DAG reader on every real Pegasus DAG.
"""

from __future__ import annotations

import io
import os
from pathlib import Path

import pytest

from planner import dagread, jobstate, subfile
from planner.errors import EngineError
from planner.progress import Progress

# ---------------------------------------------------------------------- submit files


def test_new_syntax_arguments_follow_htcondor_quoting():
    words = subfile.parse_arguments("\"one \"\"two\"\" 'spacey ''quoted'' argument' '' x\"")
    assert words == ["one", '"two"', "spacey 'quoted' argument", "", "x"]


def test_old_syntax_arguments_split_on_blanks():
    assert subfile.parse_arguments(r"-i f.a  -o \"x\"") == ["-i", "f.a", "-o", '"x"']
    assert subfile.parse_arguments("") == []


def test_environment_in_both_syntaxes():
    new = subfile.parse_environment("\"A=1 B='two words' C='it''s' D=\"\"q\"\" E=\"")
    assert new == {"A": "1", "B": "two words", "C": "it's", "D": '"q"', "E": ""}
    assert subfile.parse_environment("A=1;B=x y; C=3") == {"A": "1", "B": "x y", "C": "3"}


def test_quoting_mistakes_name_the_file():
    with pytest.raises(EngineError, match=r"job\.sub: arguments: unterminated single quote"):
        subfile.parse_arguments('"a \'b"', "job.sub")
    with pytest.raises(EngineError, match="missing the closing double quote"):
        subfile.parse_environment('"A=1', "job.sub")
    with pytest.raises(EngineError, match=r"'B' is not NAME=VALUE"):
        subfile.parse_environment('"A=1 B"', "job.sub")


def test_submit_file_keys_macros_continuations_and_attributes():
    text = "\n".join([
        "# a comment",
        "Universe = vanilla",
        "executable = /bin/echo",
        "arguments = \"$(Cluster).$(Process) $(name:fallback) $(base)/x \\",
        "   more\"",
        "base = /data",
        "+pegasus_site = \"condorpool\"",
        "MY.Extra = 3",
        "environment = \"HOME_COPY=$ENV(HOME) D=$(DOLLAR)x\"",
        "queue",
        "# trailing comment",
    ])  # fmt: skip
    sub = subfile.parse_submit(text, "t.sub", {"Cluster": "12", "Process": "0"})
    assert sub.get("UNIVERSE") == "vanilla"
    assert sub.arguments() == ["12.0", "fallback", "/data/x", "more"]
    assert sub.attributes == {"pegasus_site": '"condorpool"', "Extra": "3"}
    assert sub.environment() == {"HOME_COPY": os.environ.get("HOME", ""), "D": "$x"}
    assert sub.get("nothing") is None
    assert sub.expand("$(undefined)") == ""


def test_file_lists_and_remaps():
    sub = subfile.parse_submit(
        "transfer_input_files = a.txt, /abs/b , dir/\n"
        'transfer_output_remaps = "out.txt = /x/out.txt;log = logs/l"\n'
        "queue 1\n"
    )
    assert sub.file_list("transfer_input_files") == ["a.txt", "/abs/b", "dir/"]
    assert sub.remaps() == {"out.txt": "/x/out.txt", "log": "logs/l"}
    assert sub.file_list("transfer_output_files") == []


@pytest.mark.parametrize(
    "text, message",
    [
        ("executable = /bin/true\n", "t.sub: no queue statement"),
        ("queue 3\n", "t.sub:1: 'queue 3': the local engine runs one job per .sub"),
        ("queue\nqueue\n", "t.sub:2: a second queue statement"),
        ("if defined X\nqueue\n", "t.sub:1: 'if' statements are not supported"),
        ("just words\nqueue\n", "t.sub:1: 'just words' is not 'key = value'"),
        ("getenv = maybe\nqueue\n", "t.sub: getenv = maybe: expected true or false"),
    ],
)
def test_submit_file_mistakes_are_one_line(text, message):
    with pytest.raises(EngineError) as caught:
        sub = subfile.parse_submit(text, "t.sub")
        sub.get_bool("getenv")
    assert str(caught.value).startswith(message)
    assert "\n" not in str(caught.value)


def test_every_golden_submit_file_reads_as_htcondor_reads_it(fixtures):
    """Each key of each real Pegasus .sub expands to what HTCondor's bindings say."""
    htcondor2 = pytest.importorskip("htcondor2")
    paths = sorted((fixtures / "golden-pegasus-5.0.5-submitdirs").rglob("*.sub"))
    assert len(paths) >= 60
    for path in paths:
        theirs = htcondor2.Submit(path.read_text())
        ours = subfile.read_submit(str(path), {"cluster": "1", "process": "0"})
        for key in theirs:
            if key.startswith("+") or key.lower().startswith("my."):
                continue
            assert ours.get(key) == theirs.expand(key), (path.name, key)
        ours.arguments()
        ours.environment()


def test_golden_compute_job_environment_and_transfers(fixtures):
    path = fixtures / "golden-pegasus-5.0.5-submitdirs/process_wf_success/00/00/ls_ID0000001.sub"
    sub = subfile.read_submit(str(path), {"cluster": "7", "process": "0"})
    env = sub.environment()
    assert env["CONDOR_JOBID"] == "7.0"
    assert env["PEGASUS_DAG_JOB_ID"] == "ls_ID0000001"
    assert sub.file_list("transfer_output_files") == ["listing.txt"]
    assert [os.path.basename(f) for f in sub.file_list("transfer_input_files")] == [
        "pegasus-worker-5.0.5-x86_64_rhel_8.tar.gz",
        "pegasus-lite-common.sh",
    ]
    assert sub.attributes["pegasus_site"] == '"condorpool"'


# ---------------------------------------------------------------------- DAGs


def test_golden_dag_reads_with_scripts_categories_and_edges(fixtures):
    dag = dagread.read_dag(
        str(fixtures / "golden-pegasus-5.0.5-submitdirs/process_wf_success/process-0.dag")
    )
    assert list(dag.nodes) == [
        "create_dir_process_0_local", "ls_ID0000001", "stage_out_local_local_0_0",
        "cleanup_process_0_local", "register_local_0_0",
    ]  # fmt: skip
    assert dag.maxjobs == {"registration": 1, "stagein": 10, "cleanup": 4, "stageout": 10}
    ls = dag.nodes["ls_ID0000001"]
    assert ls.submit == os.path.join(dag.directory, "00/00/ls_ID0000001.sub")
    assert ls.priority == 10 and ls.retry == 1 and ls.category is None
    assert ls.post.executable.endswith("/pegasus-exitcode")
    assert ls.post.arguments.split() == [
        "-r", "$RETURN", "-s", "PegasusLite:+exitcode+0", "-l", "process-0.exitcode.log",
        "-M", "process-0.cache.meta", ".//00/00/ls_ID0000001.out",
    ]  # fmt: skip
    assert ls.vars == {"+DAGNodeRetry": "$(RETRY)"}
    assert dag.nodes["stage_out_local_local_0_0"].category == "stageout"
    assert dag.nodes["stage_out_local_local_0_0"].children == [
        "cleanup_process_0_local",
        "register_local_0_0",
    ]
    assert dag.topological()[:2] == ["create_dir_process_0_local", "ls_ID0000001"]


def test_every_golden_dag_reads_or_is_refused_in_one_line(fixtures):
    for path in sorted((fixtures / "golden-pegasus-5.0.5-submitdirs").rglob("*.dag")):
        if path.name == "sample.dag":
            with pytest.raises(EngineError) as caught:
                dagread.read_dag(str(path))
            assert str(caught.value) == (
                "%s:1: SUBDAG is not supported by the local engine (run it with "
                "condor_submit_dag)" % path
            )
            continue
        dag = dagread.read_dag(str(path))
        assert dag.nodes and len(dag.topological()) == len(dag.nodes)


def test_dag_commands_in_any_case_many_names_done_all_nodes_and_vars(tmp_path):
    text = "\n".join([
        "job A a.sub",
        "JOB B b.sub DIR sub DONE",
        "JOB C c.sub NOOP",
        "Parent A B child C",
        "RETRY ALL_NODES 2 UNLESS-EXIT 42",
        "PRIORITY C -5",
        "SCRIPT DEFER 4 30 PRE C pre.sh $JOB  arg2",
        'VARS C name="v \\"q\\"" other="x y"',
        "DOT dag.dot",
        "MAXJOBS stagein 3",
        "CATEGORY A stagein",
    ])  # fmt: skip
    dag = dagread.parse_dag(text, str(tmp_path / "w.dag"))
    assert dag.nodes["B"].done and dag.nodes["B"].directory == str(tmp_path / "sub")
    assert dag.nodes["B"].submit == str(tmp_path / "sub" / "b.sub")
    assert dag.nodes["C"].noop and dag.nodes["C"].parents == ["A", "B"]
    assert all(n.retry == 2 and n.retry_unless_exit == 42 for n in dag.nodes.values())
    assert dag.nodes["C"].priority == -5
    assert (dag.nodes["C"].pre.executable, dag.nodes["C"].pre.arguments) == ("pre.sh", "$JOB  arg2")
    assert dag.nodes["C"].vars == {"name": 'v "q"', "other": "x y"}
    assert dag.maxjobs == {"stagein": 3} and dag.nodes["A"].category == "stagein"


@pytest.mark.parametrize(
    "text, message",
    [
        ("JOB A a.sub\nPARENT A CHILD X\n", "w.dag:2: no JOB named 'X'"),
        ("JOB A a.sub\nJOB A b.sub\n", "w.dag:2: JOB A is defined twice"),
        ("JOB A a.sub\nRETRY A many\n", "w.dag:2: RETRY count 'many' is not an integer"),
        ("JOB A a.sub\nPRIORITY B 3\n", "w.dag:2: no JOB named 'B'"),
        ("JOB A a.sub\nJOB B b.sub\nPARENT A CHILD B\nPARENT B CHILD A\n",
         "w.dag: the DAG has a cycle through node A"),
        ("JOB A a.sub\nFINAL F f.sub\n", "w.dag:2: FINAL is not supported by the local engine"),
        ("JOB A a.sub\nFROB A\n", "w.dag:2: unknown DAG command 'FROB'"),
        ("# nothing\n", "w.dag: no JOB in the DAG"),
        ('JOB A a.sub\nVARS A x=unquoted\n', "w.dag:2: VARS: cannot read 'x=unquoted'"),
    ],
)  # fmt: skip
def test_dag_mistakes_are_one_line_with_the_line_number(text, message):
    with pytest.raises(EngineError) as caught:
        dagread.parse_dag(text, "w.dag")
    assert str(caught.value).startswith(message)


# ---------------------------------------------------------------------- jobstate.log


def test_jobstate_lines_round_trip_and_a_torn_line_is_skipped(tmp_path):
    path = str(tmp_path / "jobstate.log")
    writer = jobstate.Writer(path)
    writer.dagman_started(4242)
    writer.job("a_ID1", jobstate.SUBMIT, "1.0", "local", 1, stamp=1700000000.5)
    writer.job("a_ID1", jobstate.JOB_SUCCESS, 0, "local", 1)
    writer.job("a_ID1", jobstate.POST_SCRIPT_SUCCESS, 0, "local", 1)
    writer.job("b_ID2", jobstate.JOB_FAILURE, 3, "local", 2)
    writer.close()
    with open(path, "a") as fh:
        fh.write("1700000001.000 b_ID2 POST_SCRI")  # the engine died mid-line
    lines = Path(path).read_text().splitlines()
    assert lines[1] == "1700000000.500 a_ID1 SUBMIT 1.0 local - 1"
    events = jobstate.read(path)
    assert [(e.job, e.event, e.info) for e in events] == [
        ("INTERNAL", "DAGMAN_STARTED", "4242"),
        ("a_ID1", "SUBMIT", "1.0"),
        ("a_ID1", "JOB_SUCCESS", "0"),
        ("a_ID1", "POST_SCRIPT_SUCCESS", "0"),
        ("b_ID2", "JOB_FAILURE", "3"),
    ]
    history = jobstate.histories(events)
    assert history["a_ID1"].succeeded(has_post=True)
    assert not history["b_ID2"].succeeded(has_post=False)
    assert history["b_ID2"].attempts == 2
    assert jobstate.last_cluster(events) == 1
    # the next writer starts on a fresh line: the torn one stays unreadable, nothing else
    writer = jobstate.Writer(path)
    writer.dagman_finished(1)
    writer.close()
    assert Path(path).read_text().splitlines()[-1].endswith("INTERNAL *** DAGMAN_FINISHED 1 ***")
    assert len(jobstate.read(path)) == 6


def test_job_success_counts_only_without_a_post_script():
    history = jobstate.histories([jobstate.parse_line("1.0 a JOB_SUCCESS 0 local - 1")])["a"]
    assert history.succeeded(has_post=False)
    assert not history.succeeded(has_post=True)


# ---------------------------------------------------------------------- progress


def test_progress_redraws_in_place_on_a_terminal():
    out = io.StringIO()
    progress = Progress(out, total=3, tty=True)
    progress.update(1, 2, 0, force=True)
    progress.event("a: failed", always=True)
    progress.finish(["summary"])
    text = out.getvalue()
    assert text.startswith("\r\x1b[K[")
    assert "done 1, running 2, failed 0, total 3" in text
    assert "a: failed\n" in text
    assert text.endswith("\r\x1b[Ksummary\n")


def test_progress_prints_whole_lines_elsewhere_and_events_only_when_asked():
    out = io.StringIO()
    progress = Progress(out, total=2, tty=False)
    progress.update(0, 1, 0, force=True)
    progress.event("a: started")  # not verbose: not shown
    progress.update(0, 0, 1)  # a failure: shown at once
    lines = out.getvalue().splitlines()
    assert "\r" not in out.getvalue()
    assert [line.split("] ", 1)[1] for line in lines] == [
        "done 0, running 1, failed 0, total 2",
        "done 0, running 0, failed 1, total 2",
    ]
    verbose = io.StringIO()
    Progress(verbose, total=1, verbose=True, tty=False).event("a: started")
    assert verbose.getvalue().endswith("] a: started\n")
