"""The HTCondor writer: submit dirs read back through HTCondor's own bindings, and the DAG lint.

Plans are built by hand here (the planner proper has its own tests).  ``htcondor2.Submit``
parses every ``.sub`` and expands its macros as condor_submit would; the argument and
environment values it gives back are then split with HTCondor's documented "new syntax"
rules (``_split_v2``), which the bindings do not expose.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import zipfile
from pathlib import Path

import pytest
import yaml

htcondor2 = pytest.importorskip("htcondor2")
classad2 = pytest.importorskip("classad2")

from planner import condor, daglint  # noqa: E402
from planner.errors import PlanError  # noqa: E402
from planner.executable import CLEANUP, COMPUTE, STAGE_OUT, Plan, PlannedJob  # noqa: E402

UUID = "f00c0056-abd4-4e8e-b793-24eb760dda1f"
STAMP = "20230303T222333-0800"
GOLDEN = "golden-pegasus-5.0.5-submitdirs"


# --- helpers ---------------------------------------------------------------------------------


def _split_v2(value: str) -> list[str]:
    """Arguments in HTCondor's new syntax (after macro expansion) -> argv.

    The value is wrapped in double quotes, a double quote inside is doubled; blanks split
    arguments; single quotes group, and a doubled single quote inside them is one quote.
    """
    assert value[0] == '"' and value[-1] == '"', value
    inner, raw, i = value[1:-1], [], 0
    while i < len(inner):
        if inner[i] == '"':
            assert inner[i + 1 : i + 2] == '"', "lone double quote in %r" % value
            i += 1
        raw.append(inner[i])
        i += 1
    args: list[str] = []
    current = None
    quoted = False
    text = "".join(raw)
    i = 0
    while i < len(text):
        ch = text[i]
        if quoted:
            if ch == "'":
                if text[i + 1 : i + 2] == "'":
                    current += "'"
                    i += 2
                    continue
                quoted = False
            else:
                current += ch
        elif ch == "'":
            quoted = True
            current = current or ""
        elif ch in " \t":
            if current is not None:
                args.append(current)
            current = None
        else:
            current = (current or "") + ch
        i += 1
    assert not quoted, "unclosed single quote in %r" % value
    if current is not None:
        args.append(current)
    return args


def _split_env(value: str) -> dict[str, str]:
    """An environment value in the new syntax -> {name: value}."""
    env = {}
    for entry in _split_v2(value):
        name, _, rest = entry.partition("=")
        env[name] = rest
    return env


def _compute(name: str, scratch: str, index: int = 0) -> PlannedJob:
    job = PlannedJob(name, COMPUTE, "condorpool")
    job.dax_job_id = "ID%07d" % (index + 1)
    job.transformation = "diamond::keg:4.0"
    job.spec = {
        "version": 1,
        "job": {"id": job.dax_job_id, "name": name, "site": "condorpool"},
        "tasks": [{"executable": {"path": "/usr/bin/keg"}, "arguments": ["-o", "f.%d" % index]}],
        "outputs": [{"lfn": "f.%d" % index}],
    }
    job.input_files = [scratch + "/f.a"]
    job.output_files = ["f.%d" % index]
    job.initialdir = scratch
    job.priority = 10
    return job


def _aux(name: str, job_class: int, transfers: list, category: str | None = None) -> PlannedJob:
    job = PlannedJob(name, job_class, "local")
    job.universe = "local"
    job.transfers = transfers
    job.arguments = ["transfer", "--file", name + ".in"]
    job.success_message = None
    job.category = category
    job.priority = 900 if job_class == STAGE_OUT else 1000
    return job


def _plan(tmp_path: Path, compute: int = 2) -> Plan:
    submit = tmp_path / "submit" / "user" / "pegasus" / "wf" / "run0001"
    scratch = str(tmp_path / "scratch")
    plan = Plan("wf", str(submit))
    plan.uuid = UUID
    plan.timestamp = STAMP
    plan.scratch_dir = scratch
    jobs = []
    for i in range(compute):
        job = _compute("keg_ID%07d" % (i + 1), scratch, i)
        job.directory = "%02x/%02x" % (i // 65536, (i // 256) % 256)
        if i:
            job.parents = [jobs[(i - 1) // 2].name]
        jobs.append(job)
    out = _aux(
        "stage_out_local_local_0_0",
        STAGE_OUT,
        [{"type": "transfer", "lfn": "f.0", "id": 1,
          "src_urls": [{"site_label": "local", "url": "file://%s/f.0" % scratch}],
          "dest_urls": [{"site_label": "local", "url": "file:///srv/out/f.0"}]}],
        "stageout",
    )  # fmt: skip
    out.parents = [jobs[0].name]
    clean = _aux(
        "cleanup_wf_0_local",
        CLEANUP,
        [{"type": "remove", "lfn": "dir", "id": 1,
          "target": {"site_label": "local", "url": "file://" + scratch, "recursive": True}}],
    )  # fmt: skip
    clean.parents = [out.name] + [j.name for j in jobs[1:]]
    plan.jobs = [*jobs, out, clean]
    plan.properties = {"pegasus.data.configuration": "condorio", "dagman.retry": "1"}
    return plan


@pytest.fixture
def bundle(tmp_path: Path) -> str:
    """A stand-in bundle: the writer copies it, it does not look inside."""
    path = tmp_path / "prebuilt.pyz"
    path.write_bytes(b"#!/usr/bin/env python3\nPK-not-really\n")
    return str(path)


def _submit(plan: Plan, job: PlannedJob):
    text = Path(plan.submit_dir, job.directory, job.name + ".sub").read_text(encoding="utf-8")
    return text, htcondor2.Submit(text)


def _one_job_plan(tmp_path: Path, job: PlannedJob) -> Plan:
    plan = Plan("wf", str(tmp_path / "run0001"))
    plan.uuid = UUID
    plan.timestamp = STAMP
    plan.jobs = [job]
    return plan


def _sub_text_for(tmp_path: Path, job: PlannedJob) -> str:
    return condor.submit_text(_one_job_plan(tmp_path, job), job)


# --- the submit directory --------------------------------------------------------------------


def test_write_lays_out_the_submit_dir(tmp_path: Path, bundle: str) -> None:
    plan = _plan(tmp_path)
    calls = []
    condor.write(plan, bundle=bundle, progress=lambda done, total: calls.append((done, total)))
    submit = Path(plan.submit_dir)
    files = sorted(str(p.relative_to(submit)) for p in submit.rglob("*") if p.is_file())
    assert files == [
        "00/00/cleanup_wf_0_local.in",
        "00/00/cleanup_wf_0_local.sub",
        "00/00/keg_ID0000001.json",
        "00/00/keg_ID0000001.sub",
        "00/00/keg_ID0000002.json",
        "00/00/keg_ID0000002.sub",
        "00/00/stage_out_local_local_0_0.in",
        "00/00/stage_out_local_local_0_0.sub",
        "braindump.yml",
        "pegasus-lite.pyz",
        "pegasus.properties",
        "wf-0.dag",
    ]
    assert calls[-1] == (4, 4)
    pyz = submit / "pegasus-lite.pyz"
    assert pyz.read_bytes() == Path(bundle).read_bytes()
    assert stat.S_IMODE(pyz.stat().st_mode) == 0o755
    spec = (submit / "00/00/keg_ID0000001.json").read_text()
    assert json.loads(spec) == plan.jobs[0].spec
    assert ", " not in spec and ": " not in spec  # compact
    assert json.loads((submit / "00/00/stage_out_local_local_0_0.in").read_text()) == (
        plan.jobs[2].transfers
    )
    assert (submit / "pegasus.properties").read_text() == (
        "dagman.retry=1\npegasus.data.configuration=condorio\n"
    )


def test_compute_job_reads_back_through_htcondor(tmp_path: Path, bundle: str) -> None:
    plan = _plan(tmp_path)
    plan.jobs[0].condor = {"request_memory": "2048", "request_disk": "1048576"}
    plan.jobs[0].cores = 4
    plan.jobs[0].gpus = 1
    plan.jobs[0].environment = {"OMP_NUM_THREADS": "4"}
    condor.write(plan, bundle=bundle)
    submit = plan.submit_dir
    job = plan.jobs[0]
    text, sub = _submit(plan, job)
    assert text.startswith("#" * 70 + "\n# PEGASUS WMS GENERATED SUBMIT FILE\n")
    assert "# SUBMIT FILE NAME : keg_ID0000001.sub\n" in text
    assert text.rstrip().endswith("queue\n" + "#" * 70 + "\n# END OF SUBMIT FILE\n" + "#" * 70)
    assert sub["executable"] == submit + "/pegasus-lite.pyz"
    assert _split_v2(sub.expand("arguments")) == ["keg_ID0000001.json"]
    assert sub["universe"] == "vanilla"
    assert sub["initialdir"] == plan.scratch_dir
    assert sub["output"] == submit + "/00/00/keg_ID0000001.out"
    assert sub["error"] == submit + "/00/00/keg_ID0000001.err"
    assert sub["log"] == submit + "/wf-0.log"
    assert sub["transfer_input_files"].split(",") == [
        submit + "/00/00/keg_ID0000001.json",
        plan.scratch_dir + "/f.a",
    ]
    assert sub["transfer_output_files"] == "f.0"
    assert sub["should_transfer_files"] == "YES"
    assert sub["when_to_transfer_output"] == "ON_EXIT"
    assert sub["transfer_executable"] == "true"
    assert (sub["request_cpus"], sub["request_gpus"]) == ("4", "1")
    assert (sub["request_memory"], sub["request_disk"]) == ("2048", "1048576")
    assert sub["notification"] == "NEVER"
    assert sub["periodic_release"] == "False"
    assert sub["periodic_remove"] == condor.PERIODIC_REMOVE
    assert sub["priority"] == "10"
    env = _split_env(sub.expand("environment"))
    assert env == {
        "CONDOR_JOBID": "1.0",  # $(cluster).$(process), expanded by condor_submit
        "PEGASUS_WF_UUID": UUID,
        "PEGASUS_WF_LABEL": "wf",
        "PEGASUS_DAG_JOB_ID": "keg_ID0000001",
        "PEGASUS_SITE": "condorpool",
        "OMP_NUM_THREADS": "4",
    }
    attrs = {k[3:]: classad2.ExprTree(sub.expand(k)).eval() for k in sub if k.startswith("MY.")}
    assert attrs == {
        "WantIOProxy": True,
        "pegasus_generator": "Pegasus",
        "pegasus_root_wf_uuid": UUID,
        "pegasus_wf_uuid": UUID,
        "pegasus_version": "5.0.5",
        "pegasus_wf_name": "wf-0",
        "pegasus_wf_time": STAMP,
        "pegasus_wf_xformation": "diamond::keg:4.0",
        "pegasus_wf_dax_job_id": "ID0000001",
        "pegasus_wf_dag_job_id": "keg_ID0000001",
        "pegasus_job_class": 1,
        "pegasus_site": "condorpool",
        "pegasus_job_runtime": 0,
        "pegasus_cores": 4,
        "pegasus_gpus": 1,
        "pegasus_cluster_size": 1,
    }


def test_key_order_follows_pegasus(tmp_path: Path, bundle: str, fixtures: Path) -> None:
    """Same keys, same order as a real 5.0.5 compute job, plus arguments and request_cpus."""
    plan = _plan(tmp_path)
    condor.write(plan, bundle=bundle)
    _, ours = _submit(plan, plan.jobs[0])
    golden = fixtures / GOLDEN / "process_wf_success/00/00/ls_ID0000001.sub"
    theirs = htcondor2.Submit(golden.read_text())
    assert [k for k in ours if k not in ("arguments", "request_cpus")] == list(theirs)


def test_auxiliary_job_runs_in_the_local_universe(tmp_path: Path, bundle: str) -> None:
    plan = _plan(tmp_path)
    condor.write(plan, bundle=bundle)
    job = plan.jobs[2]
    _, sub = _submit(plan, job)
    jobdir = plan.submit_dir + "/00/00"
    assert sub["universe"] == "local"
    assert sub["executable"] == plan.submit_dir + "/pegasus-lite.pyz"
    assert _split_v2(sub.expand("arguments")) == ["transfer", "--file", job.name + ".in"]
    assert sub["initialdir"] == jobdir  # so the relative .in resolves
    assert Path(jobdir, job.name + ".in").is_file()
    for key in ("should_transfer_files", "when_to_transfer_output", "transfer_executable",
                "transfer_input_files", "transfer_output_files", "request_cpus",
                "MY.WantIOProxy"):  # fmt: skip
        assert key not in sub
    env = _split_env(sub.expand("environment"))
    assert env["PATH"] == os.environ["PATH"]  # the bundle's #!/usr/bin/env python3 needs it
    assert classad2.ExprTree(sub.expand("MY.pegasus_job_class")).eval() == 3
    assert classad2.ExprTree(sub.expand("MY.pegasus_wf_xformation")).eval() == "pegasus::transfer"
    assert classad2.ExprTree(sub.expand("MY.pegasus_wf_dax_job_id")).eval() == "null"


def test_compute_job_in_the_local_universe_names_its_spec_by_path(tmp_path: Path) -> None:
    """No file transfer in the local universe: the bundle reads the spec where it is."""
    job = _compute("keg_ID0000001", str(tmp_path))
    job.universe = "local"
    sub = htcondor2.Submit(_sub_text_for(tmp_path, job))
    spec = str(tmp_path / "run0001" / "00" / "00" / "keg_ID0000001.json")
    assert _split_v2(sub.expand("arguments")) == [spec]
    assert "transfer_input_files" not in sub and "should_transfer_files" not in sub


def test_condor_profile_keys_override_and_pass_through(tmp_path: Path, bundle: str) -> None:
    plan = _plan(tmp_path)
    plan.jobs[0].condor = {
        "request_cpus": "8",
        "periodic_remove": "False",
        "requirements": '(Arch == "X86_64") && (Memory > 1024)',
        "+ProjectName": '"PegasusTest"',
        "My.Owner_group": '"group_a"',
        "transfer_input_files": "/srv/extra.dat",
        "universe": "vanilla",  # the same as the planner's: accepted
    }
    condor.write(plan, bundle=bundle)
    text, sub = _submit(plan, plan.jobs[0])
    assert sub["request_cpus"] == "8"
    assert text.count("request_cpus") == 1
    assert sub["periodic_remove"] == "False"
    assert sub["requirements"] == '(Arch == "X86_64") && (Memory > 1024)'
    assert classad2.ExprTree(sub["MY.ProjectName"]).eval() == "PegasusTest"
    assert classad2.ExprTree(sub["MY.Owner_group"]).eval() == "group_a"
    assert sub["transfer_input_files"].split(",")[-1] == "/srv/extra.dat"


@pytest.mark.parametrize("universe", ["vanilla", "local"])
def test_a_profile_repeating_our_values_changes_nothing(tmp_path: Path, universe: str) -> None:
    """The template (no profile) and the merged path (profile replaces keys) agree."""
    job = _compute("keg_ID0000001", str(tmp_path))
    job.universe = universe
    job.gpus = 2
    job.output_remaps = {"f.0": "/elsewhere/f.0"}
    plain = _sub_text_for(tmp_path, job)
    job.condor = {"priority": "10", "notification": "NEVER", "periodic_release": "False"}
    if universe == "vanilla":
        job.condor.update({"request_cpus": "1", "request_gpus": "2"})
    assert _sub_text_for(tmp_path, job) == plain


@pytest.mark.parametrize(
    ("condor_keys", "message"),
    [
        ({"executable": "/bin/sh"}, "condor profile 'executable' is set by the planner"),
        ({"universe": "local"}, "condor profile 'universe' is set by the planner"),
        ({"bad key": "1"}, "condor profile 'bad key' is not a submit command"),
        ({"requirements": "a\nqueue"}, "condor profile 'requirements': the value must be one"),
    ],
)
def test_condor_profile_mistakes_are_one_line(
    tmp_path: Path, condor_keys: dict, message: str
) -> None:
    job = _compute("keg_ID0000001", str(tmp_path))
    job.condor = condor_keys
    with pytest.raises(PlanError) as error:
        _sub_text_for(tmp_path, job)
    assert str(error.value).startswith("job keg_ID0000001: " + message)
    assert "\n" not in str(error.value)


def test_only_vanilla_and_local_universes(tmp_path: Path) -> None:
    job = _compute("keg_ID0000001", str(tmp_path))
    job.universe = "grid"
    with pytest.raises(PlanError, match=r"^job keg_ID0000001: universe 'grid': only vanilla"):
        _sub_text_for(tmp_path, job)


def test_deep_lfns_are_remapped(tmp_path: Path) -> None:
    job = _compute("keg_ID0000001", str(tmp_path))
    job.output_files = ["out/a/b.txt", "c;d=e.txt"]
    job.output_remaps = {"out/a/b.txt": "/scratch/out/a/b.txt", "c;d=e.txt": "/scratch/c;d=e.txt"}
    sub = htcondor2.Submit(_sub_text_for(tmp_path, job))
    assert sub["transfer_output_files"] == "out/a/b.txt,c;d=e.txt"
    assert sub["transfer_output_remaps"] == (
        '"out/a/b.txt = /scratch/out/a/b.txt; c\\;d\\=e.txt = /scratch/c\\;d\\=e.txt"'
    )


def test_a_comma_in_a_transferred_file_is_refused(tmp_path: Path) -> None:
    job = _compute("keg_ID0000001", str(tmp_path))
    job.input_files = ["/data/ok.txt", "/data/a,b.txt"]
    with pytest.raises(PlanError) as error:
        _sub_text_for(tmp_path, job)
    assert str(error.value) == (
        "job keg_ID0000001 transfer_input_files: HTCondor cannot transfer '/data/a,b.txt': "
        "file names with a comma are not supported"
    )


def test_input_paths_with_blanks_dollars_and_unicode(tmp_path: Path) -> None:
    job = _compute("keg_ID0000001", str(tmp_path))
    job.input_files = ["/data/with space.txt", "/data/$(x)$HOME.txt", "/data/é日本.txt"]
    sub = htcondor2.Submit(_sub_text_for(tmp_path, job))
    assert sub.expand("transfer_input_files").split(",")[1:] == job.input_files


ARGUMENTS = [
    ["plain", "two words", "tab\there", ""],
    ['say "hi"', "it's", "''", '"', "'"],
    ["$HOME", "$(x)", "$ENV(HOME)", "$INT(3)", "a$", "$$", "$$x", "$[1+2]", "$$ENV(HOME)"],
    ["back\\slash", "trailing\\", "\\", '\\"', "C:\\dir\\"],
    ["é", "日本語", "emoji 🚀", "naïve café"],
    ["--opt=a b", "-x", "'quoted' \"both\" $(x) \\"],
]


@pytest.mark.parametrize("args", ARGUMENTS)
def test_arguments_survive_htcondor(tmp_path: Path, args: list[str]) -> None:
    job = _aux("stage_out_local_local_0_0", STAGE_OUT, [])
    job.arguments = args
    sub = htcondor2.Submit(_sub_text_for(tmp_path, job))
    assert _split_v2(sub.expand("arguments")) == args


@pytest.mark.parametrize("args", ARGUMENTS)
def test_environment_values_survive_htcondor(tmp_path: Path, args: list[str]) -> None:
    job = _compute("keg_ID0000001", str(tmp_path))
    job.environment = {"V%d" % i: value for i, value in enumerate(args)}
    sub = htcondor2.Submit(_sub_text_for(tmp_path, job))
    env = _split_env(sub.expand("environment"))
    assert {k: v for k, v in env.items() if k.startswith("V")} == job.environment


def test_classad_strings_survive_htcondor(tmp_path: Path) -> None:
    job = _compute("keg_ID0000001", str(tmp_path))
    job.transformation = 'ns::we"ird\\name $(x):1.0'
    sub = htcondor2.Submit(_sub_text_for(tmp_path, job))
    value = classad2.ExprTree(sub.expand("MY.pegasus_wf_xformation")).eval()
    assert value == job.transformation


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("$$(Memory)", "contains '$$(', which HTCondor substitutes when the job matches"),
        ("$$[1+2]", "contains '$$[', which HTCondor substitutes when the job matches"),
        ("$(DOLLAR)", "contains '$(DOLLAR)', which HTCondor always expands"),
        ("two\nlines", "contains a line break or NUL, which a submit file cannot hold"),
    ],
)
def test_values_a_submit_file_cannot_carry(tmp_path: Path, value: str, message: str) -> None:
    job = _aux("stage_out_local_local_0_0", STAGE_OUT, [])
    job.arguments = ["ok", value]
    with pytest.raises(PlanError) as error:
        _sub_text_for(tmp_path, job)
    assert str(error.value) == "job stage_out_local_local_0_0 arguments " + message


# --- plan-level mistakes -----------------------------------------------------------------------


def test_plan_mistakes_are_one_line(tmp_path: Path, bundle: str) -> None:
    plan = _plan(tmp_path)
    plan.jobs[1].parents = ["nosuchjob"]
    with pytest.raises(PlanError, match=r"^job keg_ID0000002: parent nosuchjob is not an earlier"):
        condor.write(plan, bundle=bundle)
    assert not Path(plan.submit_dir, "wf-0.dag").exists()
    assert not list(Path(plan.submit_dir).glob("wf-0.dag*"))  # no temporary left behind

    plan = _plan(tmp_path)
    plan.jobs[1].name = plan.jobs[0].name
    with pytest.raises(PlanError, match=r"^two jobs are named keg_ID0000001$"):
        condor.write(plan, bundle=bundle)

    plan = _plan(tmp_path)
    plan.jobs[0].name = "bad name"
    with pytest.raises(PlanError, match=r"^job name 'bad name'"):
        condor.write(plan, bundle=bundle)

    plan = _plan(tmp_path)
    plan.submit_dir = str(tmp_path / "with blank")
    with pytest.raises(PlanError, match=r"must be an absolute path without blanks"):
        condor.write(plan, bundle=bundle)

    plan = _plan(tmp_path)
    plan.submit_dir = str(tmp_path / "$HOME")
    with pytest.raises(PlanError, match=r"without blanks, quotes, '\$' or backslashes"):
        condor.write(plan, bundle=bundle)

    plan = _plan(tmp_path)
    plan.maxjobs = {"stagein": "many"}
    with pytest.raises(PlanError, match=r"^MAXJOBS stagein 'many': need a category name"):
        condor.write(plan, bundle=bundle)

    plan = _plan(tmp_path)
    plan.jobs[0].name = "PARENT"
    with pytest.raises(PlanError, match=r"^job name 'PARENT'"):
        condor.write(plan, bundle=bundle)

    plan = _plan(tmp_path)
    shutil.rmtree(plan.submit_dir)  # left by the cases above
    Path(plan.submit_dir).mkdir(parents=True)
    Path(plan.submit_dir, "00").write_text("in the way")
    with pytest.raises(PlanError) as error:
        condor.write(plan, bundle=bundle)
    assert str(error.value) == "cannot write %s/00/00: Not a directory" % plan.submit_dir

    plan = _plan(tmp_path)
    with pytest.raises(PlanError, match=r"^worker bundle /no/such.pyz: no such file$"):
        condor.write(plan, bundle="/no/such.pyz")


# --- the DAG -------------------------------------------------------------------------------------


def test_dag_lines(tmp_path: Path, bundle: str) -> None:
    plan = _plan(tmp_path)
    plan.maxjobs = {"stageout": 2, "cleanup": 1}
    plan.jobs[1].integrity = False
    plan.jobs[1].retry = 3
    condor.write(plan, bundle=bundle)
    submit = plan.submit_dir
    dag = Path(submit, "wf-0.dag").read_text()
    post = submit + "/pegasus-lite.pyz exitcode -r $RETURN"
    meta = " -l wf-0.exitcode.log -M wf-0.cache.meta"
    assert dag == "\n".join(
        [
            "#" * 70,
            "# PEGASUS WMS GENERATED DAG FILE",
            "# DAG wf",
            "# Index = 0, Count = null",
            "#" * 70,
            "MAXJOBS stageout 2",
            "MAXJOBS cleanup 1",
            "",
            "JOB keg_ID0000001 00/00/keg_ID0000001.sub",
            "SCRIPT POST keg_ID0000001 %s -s PegasusLite:+exitcode+0%s  .//00/00/keg_ID0000001.out"
            % (post, meta),
            "PRIORITY keg_ID0000001 10",
            "RETRY keg_ID0000001 1",
            'VARS keg_ID0000001 +DAGNodeRetry="$(RETRY)"',
            "",
            "JOB keg_ID0000002 00/00/keg_ID0000002.sub",
            "SCRIPT POST keg_ID0000002 %s -s PegasusLite:+exitcode+0%s -N  "
            ".//00/00/keg_ID0000002.out" % (post, meta),
            "PRIORITY keg_ID0000002 10",
            "RETRY keg_ID0000002 3",
            'VARS keg_ID0000002 +DAGNodeRetry="$(RETRY)"',
            "",
            "JOB stage_out_local_local_0_0 00/00/stage_out_local_local_0_0.sub",
            # no kickstart record from a bare pegasus-transfer: -I
            "SCRIPT POST stage_out_local_local_0_0 %s -I%s  .//00/00/stage_out_local_local_0_0.out"
            % (post, meta),
            "PRIORITY stage_out_local_local_0_0 900",
            "RETRY stage_out_local_local_0_0 1",
            "CATEGORY stage_out_local_local_0_0 stageout",
            'VARS stage_out_local_local_0_0 +DAGNodeRetry="$(RETRY)"',
            "",
            "JOB cleanup_wf_0_local 00/00/cleanup_wf_0_local.sub",
            "SCRIPT POST cleanup_wf_0_local %s -I%s  .//00/00/cleanup_wf_0_local.out"
            % (post, meta),
            "PRIORITY cleanup_wf_0_local 1000",
            "RETRY cleanup_wf_0_local 1",
            'VARS cleanup_wf_0_local +DAGNodeRetry="$(RETRY)"',
            "",
            "PARENT  keg_ID0000001 CHILD keg_ID0000002",
            "PARENT  keg_ID0000001 CHILD stage_out_local_local_0_0",
            "PARENT  stage_out_local_local_0_0 CHILD cleanup_wf_0_local",
            "PARENT  keg_ID0000002 CHILD cleanup_wf_0_local",
            "#" * 70,
            "# End of DAG",
            "#" * 70,
            "",
        ]
    )


def _from_dag(dag: Path) -> htcondor2.Submit:
    """HTCondor's own DAG reading; it writes <dag>.condor.sub beside the DAG."""
    sub = htcondor2.Submit.from_dag(str(dag), {"DagmanPath": "/bin/true"})
    condor_sub = Path(str(dag) + ".condor.sub")
    assert condor_sub.is_file()
    condor_sub.unlink()
    return sub


def test_dag_passes_htcondor_and_the_lint(tmp_path: Path, bundle: str) -> None:
    plan = _plan(tmp_path, compute=5)
    condor.write(plan, bundle=bundle)
    dag = Path(plan.submit_dir, "wf-0.dag")
    sub = _from_dag(dag)
    assert sub["executable"] == "/bin/true"
    assert daglint.lint(str(dag), scripts=True) == []


def test_a_1000_job_plan(tmp_path: Path, bundle: str) -> None:
    plan = _plan(tmp_path, compute=1000)
    condor.write(plan, bundle=bundle)
    submit = Path(plan.submit_dir)
    leaves = {}
    for job in plan.jobs:
        if job.spec is not None:
            leaves[job.directory] = leaves.get(job.directory, 0) + 1
        text, sub = _submit(plan, job)
        assert sub["executable"] == str(submit / "pegasus-lite.pyz")
        assert sub.expand("MY.pegasus_wf_dag_job_id") == '"%s"' % job.name
        if job.spec is not None:
            assert _split_v2(sub.expand("arguments")) == [job.name + ".json"]
            spec = json.loads((submit / job.directory / (job.name + ".json")).read_text())
            assert spec == job.spec
    assert sorted(leaves) == ["00/00", "00/01", "00/02", "00/03"]
    assert list(leaves.values()) == [256, 256, 256, 232]
    dag = submit / "wf-0.dag"
    text = dag.read_text()
    assert text.count("\nJOB ") == 1002
    assert text.count("\nPARENT  ") == 999 + 1 + 1 + 999
    assert daglint.lint(str(dag), scripts=True) == []
    _from_dag(dag)


# --- braindump -----------------------------------------------------------------------------------


def test_braindump_reads_like_pegasus(tmp_path: Path, bundle: str, fixtures: Path) -> None:
    plan = _plan(tmp_path)
    plan.braindump = {"dax": "/home/u/workflow.yml", "basedir": str(tmp_path / "submit")}
    condor.write(plan, bundle=bundle)
    text = Path(plan.submit_dir, "braindump.yml").read_text()
    data = yaml.safe_load(text)
    golden = yaml.safe_load((fixtures / GOLDEN / "process_wf_success/braindump.yml").read_text())
    assert list(data) == list(golden)
    assert data["grid_dn"] is None
    assert all(isinstance(v, str) for k, v in data.items() if k != "grid_dn")
    assert data["wf_uuid"] == data["root_wf_uuid"] == UUID
    assert data["pegasus_wf_name"] == "wf-0"
    assert data["dag"] == "wf-0.dag"
    assert data["condor_log"] == "wf-0.log"
    assert data["submit_dir"] == plan.submit_dir
    assert data["rundir"] == "run0001"
    assert data["dax"] == "/home/u/workflow.yml"
    assert data["jsd"] == "jobstate.log"
    from Pegasus import braindump  # the real reader refuses unknown keys

    loaded = braindump.loads(text)
    assert str(loaded.submit_dir) == plan.submit_dir


def test_unknown_braindump_key_is_refused(tmp_path: Path, bundle: str) -> None:
    plan = _plan(tmp_path)
    plan.braindump = {"scratch": "/x"}
    with pytest.raises(PlanError, match=r"^braindump key 'scratch' is not one Pegasus reads$"):
        condor.write(plan, bundle=bundle)


# --- the worker bundle -----------------------------------------------------------------------


def test_bundle_is_built_once_and_cached(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from lite import bundle as builder

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    first = _plan(tmp_path / "one")
    condor.write(first)
    cached = list((tmp_path / "cache" / "pegasus-lite").iterdir())
    assert len(cached) == 1 and cached[0].name.endswith(".pyz")
    pyz = Path(first.submit_dir, "pegasus-lite.pyz")
    assert pyz.read_bytes() == cached[0].read_bytes()
    assert stat.S_IMODE(pyz.stat().st_mode) == 0o755
    with zipfile.ZipFile(pyz) as archive:
        assert {"__main__.py", "lite/cli.py", "transfer/__init__.py"} <= set(archive.namelist())

    def no_rebuild(out: str, riders: bool = True) -> list:
        raise AssertionError("the cached bundle should have been reused")

    monkeypatch.setattr(builder, "build", no_rebuild)
    second = _plan(tmp_path / "two")
    condor.write(second)
    assert Path(second.submit_dir, "pegasus-lite.pyz").read_bytes() == cached[0].read_bytes()
    assert [p.name for p in (tmp_path / "cache" / "pegasus-lite").iterdir()] == [cached[0].name]


# --- golden Pegasus output through the same checks -----------------------------------------------


def test_golden_submit_files_parse(fixtures: Path) -> None:
    subs = sorted((fixtures / GOLDEN).rglob("*.sub"))
    assert len(subs) == 65
    for path in subs:
        sub = htcondor2.Submit(path.read_text())
        assert sub["executable"], path
        if "arguments" in sub and sub["arguments"].startswith('"'):
            assert _split_v2(sub.expand("arguments")), path
        if "environment" in sub:
            env = _split_env(sub.expand("environment"))
            assert all(name for name in env), path


def test_golden_dags_pass_htcondor_and_the_lint(fixtures: Path, tmp_path: Path) -> None:
    dags = sorted(p for p in (fixtures / GOLDEN).rglob("*.dag") if p.name != "sample.dag")
    assert len(dags) == 6
    for dag in dags:
        assert daglint.lint(str(dag)) == [], dag
        copy = tmp_path / dag.name
        shutil.copyfile(dag, copy)
        _from_dag(copy)


def test_lint_reports_the_malformed_golden_sample(fixtures: Path) -> None:
    problems = daglint.lint(str(fixtures / GOLDEN / "sample.dag"))
    text = "\n".join(p.split("sample.dag:", 1)[1] for p in problems)
    assert "3: node job0 defined twice" in text
    assert "7: node job2 defined twice" in text
    assert "6: JOB needs a node name and a file" in text
    assert "10: SCRIPT PRE names unknown node job4" in text
    assert "14: VARS names unknown node job5" in text


# --- the lint on broken DAGs ------------------------------------------------------------------


GOOD = """\
# a comment
MAXJOBS stageout 10
JOB a a.sub
JOB b b.sub DIR sub
JOB c c.sub NOOP
SCRIPT POST a post.sh -r $RETURN
SCRIPT DEFER 4 60 PRE b pre.sh
PRIORITY a 10
PRIORITY b -5
RETRY a 2 UNLESS-EXIT 42
CATEGORY b stageout
VARS a +DAGNodeRetry="$(RETRY)" other="x \\"y\\""
VARS ALL_NODES APPEND k="v"
ABORT-DAG-ON a 3 RETURN 1
PARENT a CHILD b c
"""


def _dag_dir(tmp_path: Path, text: str) -> Path:
    (tmp_path / "sub").mkdir()
    for name in ("a.sub", "sub/b.sub"):
        (tmp_path / name).write_text("executable = /bin/true\nqueue\n")
    for name in ("post.sh", "sub/pre.sh"):
        (tmp_path / name).write_text("#!/bin/sh\n")
        (tmp_path / name).chmod(0o755)
    dag = tmp_path / "test.dag"
    dag.write_text(text)
    return dag


def test_lint_accepts_a_good_dag(tmp_path: Path) -> None:
    dag = _dag_dir(tmp_path, GOOD)
    assert daglint.lint(str(dag), scripts=True) == []
    _from_dag(dag)


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        (("JOB a a.sub", "JOB a missing.sub"), "3: JOB a: submit file missing.sub does not exist"),
        (("JOB c c.sub NOOP", "JOB c c.sub NOOP\nJOB a a.sub"), "6: node a defined twice"),
        (("PARENT a CHILD b c", "PARENT a CHILD b x"), "15: PARENT/CHILD names unknown node x"),
        (("PARENT a CHILD b c", "PARENT a CHILD b\nPARENT b CHILD a"), "cycle: a -> b -> a"),
        (("RETRY a 2 UNLESS-EXIT 42", "RETRY a two"), "10: RETRY a: 'two' is not an integer >= 0"),
        (("RETRY a 2 UNLESS-EXIT 42", "RETRY a -1"), "10: RETRY a: '-1' is not an integer >= 0"),
        (("PRIORITY b -5", "PRIORITY b high"), "9: PRIORITY b: 'high' is not an integer"),
        (("MAXJOBS stageout 10", "MAXJOBS stageout ten"), "2: MAXJOBS stageout: 'ten' is not"),
        (("SCRIPT POST a post.sh", "SCRIPT POST z post.sh"), "6: SCRIPT POST names unknown node z"),
        (("SCRIPT POST a post.sh", "SCRIPT POST a gone.sh"), "6: script gone.sh of node a is not"),
        (("PRIORITY a 10", "SCRIPT POST a post.sh"), "8: node a has two POST scripts"),
        (("CATEGORY b stageout", "CATEGORY q stageout"), "11: CATEGORY names unknown node q"),
        (('VARS a +DAGNodeRetry="$(RETRY)"', "VARS a nonsense"), "12: VARS a: cannot read"),
        (("ABORT-DAG-ON a 3", "FOO a 3"), "14: unknown DAG command FOO"),
        (("PARENT a CHILD b c", "PARENT a b c"), "15: PARENT without CHILD"),
    ],
)
def test_lint_finds_each_problem(tmp_path: Path, change: tuple, problem: str) -> None:
    assert change[0] in GOOD
    dag = _dag_dir(tmp_path, GOOD.replace(change[0], change[1], 1))
    problems = daglint.lint(str(dag), scripts=True)
    assert len(problems) == 1, problems
    assert problems[0].startswith("%s:%s" % (dag, problem)) or problems[0].startswith(
        "%s: %s" % (dag, problem)
    ), problems
