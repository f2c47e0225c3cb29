"""Data reuse in a whole plan: Pegasus's 022 cases and a partly done workflow."""

from __future__ import annotations

from planner.executable import COMPUTE, STAGE_OUT

from .builders import FA_SHA, Props, by_name, diamond, rc, run

SUBMIT = "/sub/user/pegasus/diamond/run0001"
FD_SHA = "b" * 64


def reuse_diamond(props=None):
    """022's workflow: only f.d is staged out; f.d is already in the replica catalog."""
    inputs = diamond("/top", props)
    for job in inputs.workflow.jobs.values():
        for u in job.uses:
            u.stage_out = u.lfn == "f.d"
    inputs.replicas = rc(("f.a", [("/top/f.a", "local")], FA_SHA),
                         ("f.d", [("/archive/f.d", "local")], FD_SHA))  # fmt: skip
    return inputs


def test_full_a_leaves_only_the_stage_out_of_the_existing_output():
    plan = run(reuse_diamond(), SUBMIT)
    assert [j.name for j in plan.jobs] == ["stage_out_local_local_2_0"]
    out = plan.jobs[0]
    assert out.job_class == STAGE_OUT and out.parents == []
    assert out.transfers == [{
        "type": "transfer", "linkage": "output", "lfn": "f.d", "id": 1,
        "src_urls": [{"site_label": "local", "url": "file:///archive/f.d"}],
        "dest_urls": [{"site_label": "local", "url": "file:///top/outputs/f.d"}],
        "checksum": FD_SHA,
    }]  # fmt: skip
    assert plan.warnings == []


def test_full_b_without_an_output_site_plans_nothing_and_says_so():
    lines = []
    from planner.plan import plan as make_plan

    from .builders import options

    result = make_plan(reuse_diamond(), options(SUBMIT, output_sites=[]), progress=lines.append)
    assert result.jobs == []
    assert result.warnings == [
        "nothing to run: every job's outputs are already in the replica catalog"
    ]
    assert any(line.startswith("data reuse: 4 of 4 jobs already done") for line in lines)


def test_force_and_scope_none_plan_every_job():
    for plan in (
        run(reuse_diamond(), SUBMIT, force=True),
        run(reuse_diamond(Props({"pegasus.data.reuse.scope": "none"})), SUBMIT),
    ):
        assert len([j for j in plan.jobs if j.job_class == COMPUTE]) == 4


def test_an_existing_intermediate_file_is_read_from_the_catalog():
    inputs = diamond("/top")
    inputs.replicas = rc(("f.a", [("/top/f.a", "local")], FA_SHA),
                         ("f.b1", [("/archive/f.b1", "local")], "c" * 64),
                         ("f.b2", [("http://web/f.b2", "web")], "d" * 64))  # fmt: skip
    plan = run(inputs, SUBMIT)
    jobs = by_name(plan)
    assert "preprocess_ID0000001" not in jobs
    assert jobs["findrange_ID0000002"].parents == ["create_dir_diamond_0_local"]
    assert "/archive/f.b1" in jobs["findrange_ID0000002"].input_files
    b2 = next(f for f in jobs["findrange_ID0000003"].spec["inputs"] if f["lfn"] == "f.b2")
    assert b2 == {"lfn": "f.b2", "sha256": "d" * 64,
                  "sources": [{"url": "http://web/f.b2", "site": "web"}]}  # fmt: skip
    # the pruned job's staged outputs still reach the output site, from the catalog
    # (level 0 of what is left, with the findranges' outputs)
    out = jobs["stage_out_local_local_0_0"]
    assert [t["lfn"] for t in out.transfers] == ["f.c1", "f.c2", "f.b1", "f.b2"]
    assert out.transfers[2]["src_urls"] == [{"site_label": "local", "url": "file:///archive/f.b1"}]
    assert out.parents == ["findrange_ID0000002", "findrange_ID0000003"]
    # levels are counted on what is left: the findranges are roots now
    assert jobs["findrange_ID0000002"].priority == 10
