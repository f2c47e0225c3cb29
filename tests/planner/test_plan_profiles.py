"""Profiles: Pegasus's precedence, condor request_* from pegasus resources, dagman keys."""

from __future__ import annotations

from planner import profiles

from .builders import Props, by_name, diamond, run

SUBMIT = "/sub/user/pegasus/diamond/run0001"


def layered(props=None):
    """env A..E set at every level that may set them; each level wins a different key."""
    inputs = diamond("/top", props or Props(
        {}, profiles={"env": {"A": "props", "B": "props", "C": "props", "D": "props",
                              "E": "props"}},
    ))  # fmt: skip
    inputs.workflow.profiles = {"env": {"A": "workflow", "B": "workflow", "C": "workflow",
                                        "E": "workflow"}}  # fmt: skip
    job = inputs.workflow.jobs["ID0000002"]
    job.profiles = {"env": {"A": "job", "B": "job", "C": "job"}}
    inputs.sites.sites["condorpool"].profiles = {"env": {"A": "site", "B": "site"}}
    findrange = next(t for t in inputs.transformations.transformations if t.name == "findrange")
    findrange.profiles = {"env": {"A": "transformation"}}
    return inputs


def test_precedence_is_transformation_site_job_workflow_properties():
    plan = run(layered(), SUBMIT)
    env = by_name(plan)["findrange_ID0000002"].spec["tasks"][0]["environment"]
    assert env == {"A": "transformation", "B": "site", "C": "job", "D": "props", "E": "workflow"}
    other = by_name(plan)["findrange_ID0000003"].spec["tasks"][0]["environment"]
    assert other == {"A": "transformation", "B": "site", "C": "workflow", "D": "props",
                     "E": "workflow"}  # fmt: skip


def test_the_catalog_entry_for_a_site_beats_the_transformation():
    inputs = layered()
    findrange = next(t for t in inputs.transformations.transformations if t.name == "findrange")
    findrange.sites[0].profiles = {"env": {"A": "entry"}}
    plan = run(inputs, SUBMIT)
    assert by_name(plan)["findrange_ID0000002"].spec["tasks"][0]["environment"]["A"] == "entry"


def test_site_profiles_given_as_properties_sit_under_the_catalogs():
    inputs = layered(Props({}, site={"condorpool": {"env": {"B": "site-prop", "F": "site-prop"}}}))
    env = by_name(run(inputs, SUBMIT))["findrange_ID0000002"].spec["tasks"][0]["environment"]
    assert env["B"] == "site" and env["F"] == "site-prop"


def test_pegasus_resources_become_condor_requests():
    inputs = diamond("/top")
    inputs.workflow.jobs["ID0000001"].profiles = {
        "pegasus": {"cores": "4", "memory": "2 GB", "diskspace": "100", "gpus": "1"},
    }
    inputs.workflow.jobs["ID0000004"].profiles = {
        "pegasus": {"memory": "2048"}, "condor": {"request_memory": "999", "Requirements": "True",
                                                  "+WantGlidein": "True", "universe": "local"},
    }  # fmt: skip
    jobs = by_name(run(inputs, SUBMIT))
    pre = jobs["preprocess_ID0000001"]
    assert pre.condor == {
        "request_cpus": "4", "request_memory": "2048", "request_disk": "102400",
        "request_gpus": "1",
    }  # fmt: skip
    assert pre.cores == 4 and pre.gpus == 1
    analyze = jobs["analyze_ID0000004"]
    assert analyze.condor == {"request_memory": "999", "requirements": "True",
                              "+WantGlidein": "True"}  # fmt: skip
    assert analyze.universe == "vanilla"
    assert jobs["findrange_ID0000002"].condor == {}


def test_walltime_runtime_and_exitcode_messages():
    inputs = diamond("/top")
    jobs = inputs.workflow.jobs
    jobs["ID0000001"].profiles = {"pegasus": {"maxwalltime": "10", "runtime": "30"}}
    jobs["ID0000002"].profiles = {"pegasus": {"runtime": "300"}}
    jobs["ID0000003"].profiles = {"globus": {"maxwalltime": "2"}}
    jobs["ID0000004"].profiles = {"pegasus": {"exitcode.successmsg": "all good",
                                              "exitcode.failuremsg": "Traceback"}}  # fmt: skip
    plan = by_name(run(inputs, SUBMIT))
    task = {name: job.spec["tasks"][0] for name, job in plan.items() if job.spec}
    assert task["preprocess_ID0000001"]["walltime"] == 600
    assert plan["preprocess_ID0000001"].runtime == 30
    assert task["findrange_ID0000002"]["walltime"] == 300
    assert task["findrange_ID0000003"]["walltime"] == 120
    assert "walltime" not in task["analyze_ID0000004"]
    assert task["analyze_ID0000004"]["success_message"] == "all good"
    assert task["analyze_ID0000004"]["failure_message"] == "Traceback"


def test_dagman_retry_priority_and_category():
    props = Props({"dagman.retry": "3", "dagman.big.maxjobs": "2", "dagman.stageout.maxjobs": "5"})
    inputs = diamond("/top", props)
    jobs = inputs.workflow.jobs
    jobs["ID0000002"].profiles = {"dagman": {"RETRY": "5", "CATEGORY": "big"}}
    jobs["ID0000003"].profiles = {"condor": {"priority": "7"}}
    plan = run(inputs, SUBMIT)
    by = by_name(plan)
    assert by["findrange_ID0000002"].retry == 5
    assert by["findrange_ID0000002"].category == "big"
    assert by["findrange_ID0000003"].retry == 3
    assert by["findrange_ID0000003"].priority == 27
    assert by["cleanup_diamond_0_local"].retry == 3
    assert plan.maxjobs == {"registration": 1, "stagein": 10, "cleanup": 4, "stageout": 5,
                            "big": 2}  # fmt: skip


def test_megabytes_and_normalize():
    assert profiles.megabytes("2 GB", "x", "memory") == 2048
    assert profiles.megabytes("512M", "x", "memory") == 512
    assert profiles.megabytes("1.5g", "x", "memory") == 1536
    assert profiles.megabytes("1024 KB", "x", "memory") == 1
    assert profiles.normalize({"DAGMAN": {"Retry": 3}, "condor": {"+Attr": True}}) == {
        "dagman": {"retry": "3"}, "condor": {"+Attr": "true"},
    }  # fmt: skip
    assert profiles.merge({"env": {"a": "1"}}, None, {"env": {"a": "2", "b": "3"}}) == {
        "env": {"a": "2", "b": "3"}
    }
