"""Clustered jobs: one planned job, several tasks, files and edges rewired."""

from __future__ import annotations

from .builders import (
    by_name,
    diamond,
    inputs,
    job,
    rc,
    run,
    sites,
    tc,
    transformation,
    use,
    workflow,
)

SUBMIT = "/sub/user/pegasus/diamond/run0001"
SCRATCH = "/top/scratch/user/pegasus/diamond/run0001"


def test_horizontal_merges_the_findrange_level():
    inputs_ = diamond("/top")
    findrange = next(t for t in inputs_.transformations.transformations if t.name == "findrange")
    findrange.profiles = {"pegasus": {"clusters.size": "2", "runtime": "60"}}
    plan = run(inputs_, SUBMIT, cluster=["horizontal"])
    jobs = by_name(plan)
    merged = jobs["merge_findrange_PID2_ID1"]
    assert "findrange_ID0000002" not in jobs and "findrange_ID0000003" not in jobs
    assert merged.parents == ["preprocess_ID0000001"]
    assert jobs["analyze_ID0000004"].parents == ["merge_findrange_PID2_ID1"]
    assert jobs["stage_out_local_local_1_0"].parents == ["merge_findrange_PID2_ID1"]
    assert merged.cluster_size == 2 and merged.runtime == 120
    assert merged.transformation == "pegasus::seqexec" and merged.dax_job_id == "PID2_ID1"
    spec = merged.spec
    assert spec["job"]["id"] == "PID2_ID1"
    assert [(t["id"], t["transformation"], t["arguments"][-1]) for t in spec["tasks"]] == [
        ("ID0000002", "diamond::findrange:4.0", "f.c1"),
        ("ID0000003", "diamond::findrange:4.0", "f.c2"),
    ]
    assert [f["lfn"] for f in spec["inputs"]] == ["pegasus-keg", "f.b1", "f.b2"]
    assert [f["lfn"] for f in spec["outputs"]] == ["f.c1", "f.c2"]
    assert merged.output_files == ["f.c1", "f.c2"]
    assert merged.input_files == [
        SUBMIT + "/00/00/merge_findrange_PID2_ID1.json", "/opt/bin/pegasus-keg",
        SCRATCH + "/f.b1", SCRATCH + "/f.b2", SUBMIT + "/00/00/preprocess_ID0000001.meta",
    ]  # fmt: skip
    assert jobs["analyze_ID0000004"].input_files[-1] == (
        SUBMIT + "/00/00/merge_findrange_PID2_ID1.meta"
    )


def test_horizontal_by_number_of_clusters_per_level():
    jobs = [job("ID%02d" % i, "keg", [use("in"), use("o%d" % i, "output")]) for i in range(10)]
    catalog = tc(transformation("keg", "/bin/keg", profiles={"pegasus": {"clusters.num": "3"}}))
    replicas = rc(("in", [("/top/in", "local")]))
    plan = run(inputs(workflow("w", jobs), sites("/top"), catalog, replicas),
               "/sub/w", cluster=["horizontal"], wf="w")  # fmt: skip
    merged = [j for j in plan.jobs if j.name.startswith("merge_")]
    assert [(j.name, j.cluster_size) for j in merged] == [
        ("merge_keg_PID1_ID1", 4), ("merge_keg_PID1_ID2", 3), ("merge_keg_PID1_ID3", 3),
    ]  # fmt: skip
    assert [t["id"] for t in merged[0].spec["tasks"]] == ["ID00", "ID01", "ID02", "ID03"]
    # one executable and one input for four tasks
    assert merged[0].spec["inputs"] == [{"lfn": "keg", "executable": True}, {"lfn": "in"}]
    assert merged[0].input_files[1:] == ["/bin/keg", "/top/in"]


def test_without_cluster_sizes_horizontal_changes_nothing():
    plan = run(diamond("/top"), SUBMIT, cluster=["horizontal"])
    assert not any(j.name.startswith("merge_") for j in plan.jobs)


def test_label_clusters_a_subgraph_and_keeps_inner_files_inside():
    inputs_ = diamond("/top")
    for job_id in ("ID0000001", "ID0000002", "ID0000003"):
        inputs_.workflow.jobs[job_id].profiles = {"pegasus": {"label": "top"}}
        for u in inputs_.workflow.jobs[job_id].uses:
            if u.lfn in ("f.b1", "f.b2"):
                u.stage_out = False
    plan = run(inputs_, SUBMIT, cluster=["label"])
    jobs = by_name(plan)
    merged = jobs["merge_preprocess_ID1"]
    assert [t["id"] for t in merged.spec["tasks"]] == ["ID0000001", "ID0000002", "ID0000003"]
    assert merged.parents == ["create_dir_diamond_0_local"]
    assert jobs["analyze_ID0000004"].parents == ["merge_preprocess_ID1"]
    # f.b1/f.b2 are made and read inside: declared (lite checks them), not sent anywhere
    outputs = {o["lfn"]: o for o in merged.spec["outputs"]}
    assert outputs["f.b1"] == {"lfn": "f.b1"} and outputs["f.b2"] == {"lfn": "f.b2"}
    assert "destinations" in outputs["f.c1"]
    assert merged.output_files == ["f.c1", "f.c2"]
    assert [f["lfn"] for f in merged.spec["inputs"]] == ["pegasus-keg", "f.a"]


def test_label_key_property_and_label_then_horizontal():
    from .builders import Props

    inputs_ = diamond("/top", Props({"pegasus.clusterer.label.key": "group"}))
    for job_id in ("ID0000002", "ID0000003"):
        inputs_.workflow.jobs[job_id].profiles = {"pegasus": {"group": "g", "label": "ignored"}}
    plan = run(inputs_, SUBMIT, cluster=["label", "horizontal"])
    names = [j.name for j in plan.jobs if j.name.startswith("merge_")]
    assert names == ["merge_findrange_ID1"]
