"""Arguments and file names with shell metacharacters reach the task unchanged, never
through a shell, and the kickstart record states them as the task got them.

Three levels: the pegasus-kickstart command, a pegasus-lite job spec, and the whole chain
(a workflow written with Pegasus's own API -> pegasus-plan -> the local engine -> the task).
The task is a small Python script that writes its ``sys.argv`` as JSON.

Documented behaviour (README, kickstart/argexpand.py): like the C pegasus-kickstart, every
level expands ``$NAME`` and ``${NAME}`` of the task's environment outside single quotes
and a backslash outside quotes makes the next character literal; an unset variable is
kept as written.  Nothing else is interpreted: ``$()``, backticks, ``;``, ``|``, ``*``,
quotes, blanks and line breaks are plain characters, and nothing is ever executed.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.conftest import console_script

CANARY = "expanded canary value"

# (as written in the job, as the task must get it)
PLAIN = [
    "plain",
    "with space",
    "  leading and trailing  ",
    "'single quoted'",
    '"double quoted"',
    "it's",
    "$(touch {pwned}/dollar-paren)",
    "`touch {pwned}/backtick`",
    "line\nbreak",
    "tab\there",
    "a;b",
    "x | y",
    "*",
    "?",
    "[ab]*",
    "~",
    "~/x",
    "h\u00e9llo w\u00f6rld \u2713 \u65e5\u672c",
    "",
    "-n",
    "--",
    "$",
    "x$",
    "100%",
    "a=b",
    "&& touch {pwned}/and",
    "> {pwned}/redirect",
    "\u00a0non-breaking",
]
EXPANDED = [
    ("$ARG_CANARY", CANARY),
    ("${ARG_CANARY}", CANARY),
    ("pre-$ARG_CANARY-post", "pre-%s-post" % CANARY),
    ("'$ARG_CANARY'", "'$ARG_CANARY'"),
    ("\\$ARG_CANARY", "$ARG_CANARY"),
    ("$UNSET_ARG_VARIABLE_Q7", "$UNSET_ARG_VARIABLE_Q7"),
]

# File names the task reads and writes (each also passed as an argument).  Line breaks
# are in the lite-level names only: an HTCondor submit file cannot carry them (the chain
# test checks that pegasus-plan refuses them in one line).
CHAIN_NAMES = ("in put 'q' \"d\" $(x) `y` ; | * h\u00e9 ~.txt", "-out; `z` $(w) \u2713.txt")
LITE_NAMES = ("in\nput 'q' $(x) `y` \u00e9.txt", "-out\tput; `z` \u2713.txt")

TASK = """\
import json, sys
out, source = sys.argv[1], sys.argv[2]
text = None
if source:
    with open(source, encoding="utf-8") as fh:
        text = fh.read()
with open(out, "w", encoding="utf-8", errors="surrogateescape") as fh:
    json.dump({"argv": sys.argv[1:], "input": text}, fh)
"""


def cases(pwned: Path) -> tuple[list[str], list[str]]:
    """(arguments as written, as the task must receive them)."""
    given = [a.replace("{pwned}", str(pwned)) for a in PLAIN]
    expected = list(given)
    for written, wanted in EXPANDED:
        given.append(written)
        expected.append(wanted)
    return given, expected


@pytest.fixture
def area(tmp_path: Path) -> Path:
    (tmp_path / "pwned").mkdir()
    (tmp_path / "task.py").write_text(TASK)
    return tmp_path


def nothing_ran(area: Path) -> None:
    assert list((area / "pwned").iterdir()) == [], "a shell ran part of an argument"


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def records(text: str) -> list[dict]:
    """The YAML records at the head of a job's stdout (before any multipart block)."""
    return yaml.safe_load(text.split("\n---------------pegasus-multipart\n")[0]) or []


# ---------------------------------------------------------------------- pegasus-kickstart


def test_kickstart_passes_every_argument_unchanged(area):
    given, expected = cases(area / "pwned")
    out = area / "result.json"
    env = dict(os.environ, ARG_CANARY=CANARY)
    env.pop("UNSET_ARG_VARIABLE_Q7", None)
    proc = subprocess.run(
        [*console_script("pegasus-kickstart"), sys.executable, str(area / "task.py"),
         str(out), "", *given],
        cwd=area, env=env, capture_output=True, timeout=120,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    got = json.loads(out.read_text(encoding="utf-8"))
    assert got["argv"] == [str(out), "", *expected]
    (record,) = records(proc.stdout.decode("utf-8"))
    assert record["mainjob"]["argument_vector"] == [str(area / "task.py"), str(out), "", *expected]
    nothing_ran(area)


def test_kickstart_argument_file_keeps_blanks_and_metacharacters(area):
    """-I: one argument per line, nothing split or interpreted (line breaks cannot be in it)."""
    given = [a.replace("{pwned}", str(area / "pwned")) for a in PLAIN if "\n" not in a]
    out = area / "result.json"
    lines = [sys.executable, str(area / "task.py"), str(out), "", *given]
    (area / "args.txt").write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    proc = subprocess.run(
        [*console_script("pegasus-kickstart"), "-I", str(area / "args.txt")],
        cwd=area, capture_output=True, timeout=120,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert json.loads(out.read_text(encoding="utf-8"))["argv"] == [str(out), "", *given]
    nothing_ran(area)


# ---------------------------------------------------------------------- a lite job spec


def test_lite_job_passes_arguments_and_odd_file_names(area):
    given, expected = cases(area / "pwned")
    source_name, out_name = LITE_NAMES
    data = area / "data"
    data.mkdir()
    (data / "source").write_text("input bytes \u2713\n", encoding="utf-8")
    dest = area / "dest"
    spec = {
        "version": 1,
        "job": {"id": "ID0000001", "name": "argv_ID0000001", "site": "local"},
        "tasks": [{
            "transformation": "argv",
            "executable": {"path": sys.executable},
            "arguments": [str(area / "task.py"), out_name, source_name, *given],
            "environment": {"ARG_CANARY": CANARY},
        }],
        "inputs": [{"lfn": source_name, "sources": [{"url": "file://%s" % (data / "source")}]}],
        "outputs": [{"lfn": out_name,
                     "destinations": [{"url": "file://%s/%s" % (dest, out_name)}]}],
    }  # fmt: skip
    scratch, wn = area / "scratch", area / "wn"
    scratch.mkdir()
    wn.mkdir()
    (scratch / "job.json").write_text(json.dumps(spec))
    env = dict(os.environ, PEGASUS_WN_TMP=str(wn), PEGASUS_WN_TMP_MIN_SPACE="1")
    env.pop("UNSET_ARG_VARIABLE_Q7", None)
    proc = subprocess.run(
        [*console_script("pegasus-lite"), "job.json"],
        cwd=scratch, env=env, capture_output=True, timeout=120,
    )  # fmt: skip
    stderr = proc.stderr.decode("utf-8", "replace")
    assert proc.returncode == 0, stderr
    got = json.loads((dest / out_name).read_text(encoding="utf-8"))
    assert got["argv"] == [out_name, source_name, *expected]
    assert got["input"] == "input bytes \u2713\n"
    (record,) = records(proc.stdout.decode("utf-8"))
    assert record["mainjob"]["argument_vector"] == [
        str(area / "task.py"), out_name, source_name, *expected,
    ]  # fmt: skip
    assert record["files"][source_name]["lfn"] == source_name
    assert record["files"][out_name]["lfn"] == out_name
    assert record["files"][out_name]["sha256"] == sha256(dest / out_name)
    meta = json.loads((scratch / "argv_ID0000001.meta").read_text(encoding="utf-8"))
    assert [m["_id"] for m in meta] == [out_name]
    assert list(wn.iterdir()) == []
    nothing_ran(area)


# ---------------------------------------------------------------------- the whole chain


def write_workflow(top: Path, given: list[str], names: tuple[str, str]) -> None:
    """The workflow and its catalogs, with Pegasus's API as a user writes them."""
    from Pegasus.api import (
        Directory,
        File,
        FileServer,
        Job,
        Operation,
        Properties,
        ReplicaCatalog,
        Site,
        SiteCatalog,
        Transformation,
        TransformationCatalog,
        Workflow,
    )

    source_name, out_name = names
    props = Properties()
    props["pegasus.data.configuration"] = "condorio"
    props.write(str(top / "pegasus.properties"))
    local = Site("local").add_directories(
        Directory(Directory.SHARED_SCRATCH, str(top / "scratch")).add_file_servers(
            FileServer("file://" + str(top / "scratch"), Operation.ALL)
        ),
        Directory(Directory.LOCAL_STORAGE, str(top / "output")).add_file_servers(
            FileServer("file://" + str(top / "output"), Operation.ALL)
        ),
    )
    SiteCatalog().add_sites(local).write(str(top / "sites.yml"))
    data = top / "data"
    data.mkdir()
    (data / source_name).write_text("chain input \u2713\n", encoding="utf-8")
    ReplicaCatalog().add_replica("local", source_name, str(data / source_name)).write(
        str(top / "replicas.yml")
    )
    python = Transformation("argv", site="local", pfn=sys.executable, is_stageable=False)
    TransformationCatalog().add_transformations(python).write(str(top / "transformations.yml"))
    source, out = File(source_name), File(out_name)
    job = (
        Job(python, _id="ID0000001")
        .add_args(str(top / "task.py"), out, source, *given)
        .add_inputs(source)
        .add_outputs(out, stage_out=True, register_replica=False)
        .add_env(ARG_CANARY=CANARY)
    )
    Workflow("argv").add_jobs(job).write(str(top / "workflow.yml"))


def run_tool(
    name: str, *args: str, cwd: Path, env: dict | None = None
) -> subprocess.CompletedProcess:
    env = dict(os.environ, **(env or {}))
    env.pop("UNSET_ARG_VARIABLE_Q7", None)
    return subprocess.run(
        [*console_script(name), *args], cwd=cwd, env=env, capture_output=True, timeout=300
    )


def test_workflow_arguments_reach_the_task_through_plan_and_engine(area):
    htcondor2 = pytest.importorskip("htcondor2")
    given, expected = cases(area / "pwned")
    # pegasus-plan expands ${NAME} in the whole workflow file when it reads it, as
    # Pegasus does (an unset one is an error); $NAME is left for kickstart on the node
    expected[given.index("${ARG_CANARY}")] = "plan-time value"

    # Pegasus joins a workflow's arguments with blanks for its shell, so an argument with
    # blanks reaches the program as words: the same here, for plain words; with quotes,
    # a backslash, $ or a backtick in it, it is passed whole (no shell runs here)
    def words(argument: str) -> list[str]:
        plain = any(c in argument for c in " \t\n\r") and not any(c in argument for c in "'\"\\$`")
        return argument.split() if plain else [argument]

    at_plan = [a.replace("${ARG_CANARY}", "plan-time value") for a in given]
    expected = [
        word for g, e in zip(at_plan, expected) for word in (words(g) if words(g) != [g] else [e])
    ]
    write_workflow(area, given, CHAIN_NAMES)
    plan = run_tool("pegasus-plan", "--dir", "submit", "--sites", "local",
                    "--output-sites", "local", "workflow.yml", cwd=area,
                    env={"ARG_CANARY": "plan-time value"})  # fmt: skip
    assert plan.returncode == 0, plan.stderr.decode()
    (sub_path,) = list((area / "submit").rglob("argv_ID0000001.sub"))

    # the .sub is sound for HTCondor: its arguments are the spec's name, its files intact
    sub = htcondor2.Submit(sub_path.read_text(encoding="utf-8"))
    assert sub["arguments"].strip('"') == "argv_ID0000001.json"
    assert sub.expand("transfer_output_files") == CHAIN_NAMES[1]
    assert sub.expand("transfer_input_files").split(",")[-1] == str(area / "data" / CHAIN_NAMES[0])
    spec = json.loads(sub_path.with_suffix(".json").read_text(encoding="utf-8"))
    planned = [word for a in given for word in words(a.replace("${ARG_CANARY}", "plan-time value"))]
    assert spec["tasks"][0]["arguments"] == [str(area / "task.py"), *CHAIN_NAMES[::-1], *planned]

    submit = sub_path.parent
    while not (submit / "braindump.yml").exists():
        submit = submit.parent
    ran = run_tool("pegasus-run", str(submit), cwd=area)
    assert ran.returncode == 0, ran.stderr.decode()

    source_name, out_name = CHAIN_NAMES
    got = json.loads((area / "output" / out_name).read_text(encoding="utf-8"))
    assert got["argv"] == [out_name, source_name, *expected]
    assert got["input"] == "chain input \u2713\n"
    outs = sorted(submit.rglob("argv_ID0000001.out*"))
    assert outs, "no job output in the submit dir"
    (record,) = records(outs[-1].read_text(encoding="utf-8"))
    assert record["mainjob"]["argument_vector"] == [
        str(area / "task.py"), out_name, source_name, *expected,
    ]  # fmt: skip
    nothing_ran(area)


def test_plan_refuses_a_file_name_a_submit_file_cannot_hold(area):
    """condorio: HTCondor moves the files, and a name with a line break cannot be written
    in a .sub: one line naming the job and the file, no traceback."""
    write_workflow(area, ["x"], ("in\nput.txt", "out.txt"))
    plan = run_tool("pegasus-plan", "--dir", "submit", "--sites", "local",
                    "--output-sites", "local", "workflow.yml", cwd=area)  # fmt: skip
    stderr = plan.stderr.decode()
    assert plan.returncode != 0
    assert "Traceback" not in stderr
    errors = [line for line in stderr.splitlines() if not line.startswith("[")]
    assert len(errors) == 1, stderr
    assert "argv_ID0000001" in errors[0] and "in\\nput.txt" in errors[0], errors
