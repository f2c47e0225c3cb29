"""Every real Pegasus fixture read by discovery and planned; the golden plans compared."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from lite.spec import JobSpec
from planner.errors import PlanError
from planner.executable import CLEANUP, COMPUTE, CREATE_DIR, STAGE_OUT
from planner.plan import PlanOptions, plan

discovery = pytest.importorskip("planner.discovery")

STAMP = "20261121T060000+0000"


def plan_fixture(directory: Path, tmp_path: Path, **override):
    """Plan as the fixture's own script asked (plan_args.json), from the fixture dir."""
    args: dict = {}
    if (directory / "plan_args.json").exists():
        args = json.loads((directory / "plan_args.json").read_text())[0]["kwargs"]
    top = str(directory)
    env = {**os.environ, "TOPDIR": top}
    overrides = {k: v.replace("${TOPDIR}", top) for k, v in args.items() if "." in k}
    overrides.update(override.pop("properties", {}))
    inputs = discovery.load_all(
        override.pop("workflow", "workflow.yml"), args.get("conf"), top, env, overrides
    )
    output_dir = (args.get("output_dir") or "").replace("${TOPDIR}", top) or None
    options = PlanOptions(
        sites=args.get("sites", ["condorpool"]),
        output_sites=args.get("output_sites", [] if args else ["local"]),
        staging_sites=args.get("staging_sites", {}),
        submit_dir=str(tmp_path / "submit" / "run0001"),
        relative_dir="me/pegasus/%s/run0001" % inputs.workflow.name,
        output_dir=output_dir,
        cleanup=args.get("cleanup"),
        cluster=args.get("cluster", []),
        force=args.get("force", False),
        user="me", timestamp=STAMP, uuid="11111111-2222-3333-4444-555555555555",
        environment=env,
    )  # fmt: skip
    for key, value in override.items():
        setattr(options, key, value)
    result = plan(inputs, options)
    for job in result.jobs:
        if job.spec is not None and not job.written:  # a streamed job's spec is on disk
            JobSpec(job.spec)
    return result


def counts(result) -> dict:
    found: dict = {}
    for job in result.jobs:
        found[job.job_class] = found.get(job.job_class, 0) + 1
    return found


def named(result) -> dict:
    return {job.name: job for job in result.jobs}


def test_black_diamond_condorio(fixtures, tmp_path):
    top = fixtures / "pegasus-core-008-black-diamond-pegasuslite-condorio"
    result = plan_fixture(top, tmp_path)
    assert counts(result) == {CREATE_DIR: 1, COMPUTE: 4, STAGE_OUT: 3, CLEANUP: 1}
    pre = named(result)["preprocess_ID0000001"]
    assert pre.input_files[1:] == ["%s/bin/pegasus-keg" % top, "%s/f.a" % top]
    assert pre.initialdir == "%s/shared-scratch/me/pegasus/diamond/run0001" % top
    out = named(result)["stage_out_local_local_2_0"]
    assert out.transfers[0]["dest_urls"] == [
        {"site_label": "local", "url": "file://%s/outputs/f.d" % top}
    ]
    assert result.warnings == []


def test_black_diamond_nonsharedfs_over_webdav(fixtures, tmp_path):
    top = fixtures / "pegasus-core-009-black-diamond-pegasuslite-pegasustransfer"
    result = plan_fixture(top, tmp_path)
    assert result.data_configuration == "nonsharedfs"
    find = named(result)["findrange_ID0000002"]
    b1 = next(f for f in find.spec["inputs"] if f["lfn"] == "f.b1")
    assert b1["sources"] == [{
        "url": "webdavs://workflow.isi.edu/webdav/scratch-90-days/%s/staging-site/scratch/me/"
               "pegasus/diamond/run0001/f.b1" % top,
        "site": "cartman-data",
    }]  # fmt: skip
    # webdav needs PEGASUS_CREDENTIALS, which the fixture does not give: a warning, not a failure
    assert [w.split(" (")[0] for w in result.warnings] == [
        "no PEGASUS_CREDENTIALS for the URLs of site cartman-data"
    ]


def test_data_reuse_full_a_and_b(fixtures, tmp_path):
    result = plan_fixture(fixtures / "pegasus-core-022-data-reuse-full-a", tmp_path)
    assert [j.name for j in result.jobs] == ["stage_out_local_local_2_0"]
    assert [t["lfn"] for t in result.jobs[0].transfers] == ["f.d"]
    result = plan_fixture(fixtures / "pegasus-core-022-data-reuse-full-b", tmp_path)
    assert result.jobs == []
    assert result.warnings == [
        "nothing to run: every job's outputs are already in the replica catalog"
    ]


def test_singularity_with_horizontal_clusters(fixtures, tmp_path):
    result = plan_fixture(fixtures / "pegasus-core-044-singularity", tmp_path)
    jobs = named(result)
    merged = jobs["merge_findrange_PID2_ID1"]
    assert [t["id"] for t in merged.spec["tasks"]] == ["ID0000002", "ID0000003"]
    container = merged.spec["container"]
    assert container["runtime"] == "singularity" and container["image_lfn"] == "ospool-rocky-9.sif"
    # the image comes by scp: the local site's SSH_PRIVATE_KEY goes with the job
    assert merged.spec["credentials"] == [{"env": "SSH_PRIVATE_KEY", "file": "workflow_id_rsa"}]
    assert "/scitech/shared/home/bamboo/.ssh/workflow_id_rsa" in merged.input_files
    assert merged.spec["tasks"][0]["environment"] == {
        "APP_HOME": "/tmp/myscratch", "JAVA_HOME": "/bin/java.1.8",
    }  # fmt: skip
    assert any("workflow_id_rsa does not exist" in w for w in result.warnings)


def test_integrity_fixture_carries_the_catalog_checksum(fixtures, tmp_path):
    result = plan_fixture(fixtures / "pegasus-core-043-integrity-condorio", tmp_path)
    fa = next(f for f in named(result)["preprocess_ID0000001"].spec["inputs"] if f["lfn"] == "f.a")
    assert fa["sha256"] == "ca8ed5988cb4ca0b67c45fd80fd17423aba2a066ca8a63a4e1c6adab067a3e92"


def test_minimal_examples_with_a_staging_site(fixtures, tmp_path):
    result = plan_fixture(
        fixtures / "minimal-examples", tmp_path, staging_sites={"condorpool": "staging"},
        cluster=["label"],
    )  # fmt: skip
    keg = named(result)["keg_ID0000001"]
    assert keg.spec["container"]["options"] == ["--nv"]
    assert keg.spec["container"]["mounts"] == ["/lizard:/lizard:ro"]
    assert keg.condor == {"request_cpus": "2", "request_memory": "2048"}
    assert keg.spec["tasks"][0]["walltime"] == 600
    assert "/srv/data/chunks/0/chunk.0.dat" in keg.input_files  # the regex replica
    assert named(result)["sort_ID0000002"].retry == 5  # its own dagman profile
    assert keg.retry == 3  # dagman.retry in the properties


def test_large_real_workflows_plan(fixtures, tmp_path):
    for name, jobs in (
        ("1000genome-i250", 2660),
        ("wfcommons-montage-chameleon-dss-15d-001", 2122),
    ):
        result = plan_fixture(fixtures / name, tmp_path)
        assert counts(result)[COMPUTE] == jobs
        seen = set()
        for job in result.jobs:
            assert set(job.parents) <= seen, job.name
            seen.add(job.name)


def test_no_outputs_and_inline_catalogs(fixtures, tmp_path):
    result = plan_fixture(fixtures / "pegasus-core-036-condorio-no-outputs", tmp_path)
    assert counts(result) == {CREATE_DIR: 1, COMPUTE: 1, CLEANUP: 1}


def test_a_site_missing_from_the_catalogs_is_one_line(fixtures, tmp_path):
    with pytest.raises(PlanError) as err:
        plan_fixture(fixtures / "access-03-Tutorial-Software", tmp_path)
    assert str(err.value) == "site 'compute' is not in the site catalog"


GOLDEN = "golden-pegasus-5.0.5-submitdirs"


@pytest.mark.parametrize("name", ["process_wf_success", "sample_wf_held"])
def test_golden_plans_have_pegasus_jobs_and_edges(fixtures, tmp_path, name):
    """Pegasus's own plan less what we do differently: no stage-in, registration or
    in-place cleanup jobs."""
    top = fixtures / GOLDEN / name
    catalogs = {
        "pegasus.catalog.%s.file" % kind: "catalogs/%ss.yml" % kind
        for kind in ("site", "replica", "transformation")
        if (top / "catalogs" / ("%ss.yml" % kind)).exists()
    }
    result = plan_fixture(top, tmp_path, properties=catalogs, output_sites=["local"],
                          cleanup="leaf")  # fmt: skip
    dag = next(top.glob("*.dag")).read_text().splitlines()
    skip = ("stage_in_", "register_", "clean_up_")
    golden_jobs = [ln.split()[1] for ln in dag if ln.startswith("JOB ")]
    golden_jobs = [j for j in golden_jobs if not j.startswith(skip)]
    assert sorted(j.name for j in result.jobs) == sorted(golden_jobs)
    priorities = {ln.split()[1]: int(ln.split()[2]) for ln in dag if ln.startswith("PRIORITY ")}
    for job in result.jobs:
        if job.job_class != COMPUTE:
            assert job.priority == priorities[job.name]
    edges = {(ln.split()[1], ln.split()[3]) for ln in dag if ln.startswith("PARENT ")}
    ours = {(p, j.name) for j in result.jobs for p in j.parents}
    kept = {(p, c) for p, c in edges if not p.startswith(skip) and not c.startswith(skip)}
    assert kept <= ours


def test_sub_workflows_are_refused_in_one_line(fixtures, tmp_path):
    top = fixtures / GOLDEN / "hierarchical_wf_success"
    catalogs = {"pegasus.catalog.%s.file" % k: "catalogs/%ss.yml" % k
                for k in ("site", "replica", "transformation")}  # fmt: skip
    with pytest.raises(PlanError) as err:
        plan_fixture(top, tmp_path, properties=catalogs)
    assert str(err.value) == (
        "job diamond_subworkflow: pegasusWorkflow jobs (sub-workflows) are not supported by "
        "this planner"
    )


def test_arguments_with_blanks_become_words_as_pegasus_shell_makes_them(fixtures, tmp_path):
    """043 writes '-a preprocess' as one element: pegasus-keg must get '-a' and 'preprocess'."""
    result = plan_fixture(fixtures / "pegasus-core-043-integrity-condorio", tmp_path)
    arguments = named(result)["preprocess_ID0000001"].spec["tasks"][0]["arguments"]
    assert arguments[:2] == ["-a", "preprocess"]
    assert all(" " not in a for a in arguments)
