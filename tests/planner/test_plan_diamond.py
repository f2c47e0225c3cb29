"""The black diamond planned in each data configuration: jobs, edges, specs, HTCondor files."""

from __future__ import annotations

import pytest

from lite.spec import JobSpec
from planner.executable import CLEANUP, COMPUTE, CREATE_DIR, STAGE_OUT

from .builders import FA_SHA, KEG_SHA, UUID, Props, by_name, diamond, directory, run, site

SUBMIT = "/sub/user/pegasus/diamond/run0001"
SCRATCH = "/top/scratch/user/pegasus/diamond/run0001"
COMPUTE_JOBS = ["preprocess_ID0000001", "findrange_ID0000002", "findrange_ID0000003",
                "analyze_ID0000004"]  # fmt: skip


def test_condorio_jobs_edges_and_priorities():
    plan = run(diamond("/top"), SUBMIT)
    jobs = by_name(plan)
    assert list(jobs) == [
        "create_dir_diamond_0_local", *COMPUTE_JOBS,
        "stage_out_local_local_0_0", "stage_out_local_local_1_0", "stage_out_local_local_2_0",
        "cleanup_diamond_0_local",
    ]  # fmt: skip
    parents = {name: job.parents for name, job in jobs.items()}
    assert parents["preprocess_ID0000001"] == ["create_dir_diamond_0_local"]
    assert parents["findrange_ID0000002"] == ["preprocess_ID0000001"]
    assert parents["analyze_ID0000004"] == ["findrange_ID0000002", "findrange_ID0000003"]
    assert parents["stage_out_local_local_1_0"] == ["findrange_ID0000002", "findrange_ID0000003"]
    assert parents["cleanup_diamond_0_local"] == [
        "stage_out_local_local_0_0", "stage_out_local_local_1_0", "stage_out_local_local_2_0",
    ]  # fmt: skip
    # parents come first in the list
    seen = set()
    for job in plan.jobs:
        assert set(job.parents) <= seen
        seen.add(job.name)
    priorities = {name: job.priority for name, job in jobs.items()}
    assert priorities == {
        "create_dir_diamond_0_local": 800, "preprocess_ID0000001": 10,
        "findrange_ID0000002": 20, "findrange_ID0000003": 20, "analyze_ID0000004": 30,
        "stage_out_local_local_0_0": 900, "stage_out_local_local_1_0": 900,
        "stage_out_local_local_2_0": 900, "cleanup_diamond_0_local": 1000,
    }  # fmt: skip
    classes = {name: job.job_class for name, job in jobs.items()}
    assert classes["create_dir_diamond_0_local"] == CREATE_DIR
    assert classes["analyze_ID0000004"] == COMPUTE
    assert classes["stage_out_local_local_2_0"] == STAGE_OUT
    assert classes["cleanup_diamond_0_local"] == CLEANUP
    assert {job.category for job in plan.jobs if job.job_class == STAGE_OUT} == {"stageout"}
    assert all(job.directory == "00/00" for job in plan.jobs)
    assert all(job.retry == 1 for job in plan.jobs)
    assert plan.maxjobs == {"registration": 1, "stagein": 10, "cleanup": 4, "stageout": 10}
    assert plan.scratch_dir == SCRATCH
    assert plan.data_configuration == "condorio" and plan.integrity
    assert plan.warnings == []


def test_condorio_compute_job_files_and_spec():
    plan = run(diamond("/top"), SUBMIT)
    pre = by_name(plan)["preprocess_ID0000001"]
    assert pre.universe == "vanilla" and pre.initialdir == SCRATCH
    assert pre.arguments == ["preprocess_ID0000001.json"]
    assert pre.input_files == [
        SUBMIT + "/00/00/preprocess_ID0000001.json", "/opt/bin/pegasus-keg", "/top/f.a",
    ]  # fmt: skip
    assert pre.output_files == ["f.b1", "f.b2"]
    assert pre.environment == {}  # the writer adds PEGASUS_WF_UUID, PEGASUS_DAG_JOB_ID, ...
    assert pre.transformation == "diamond::preprocess:4.0" and pre.dax_job_id == "ID0000001"
    assert pre.success_message == "PegasusLite: exitcode 0"
    spec = pre.spec
    assert spec["job"] == {
        "id": "ID0000001", "name": "preprocess_ID0000001", "site": "condorpool",
        "workflow": {"name": "diamond", "uuid": UUID, "stamp": "2026-11-21T06:00:00+00:00"},
    }  # fmt: skip
    assert spec["tasks"] == [{
        "transformation": "diamond::preprocess:4.0", "id": "ID0000001",
        "executable": {"lfn": "pegasus-keg"},
        "arguments": ["-a", "preprocess", "-i", "f.a", "-o", "f.b1", "f.b2"],
    }]  # fmt: skip
    # HTCondor brings both from the submit host: no sources, checksums from the catalogs
    assert spec["inputs"] == [
        {"lfn": "pegasus-keg", "sha256": KEG_SHA, "executable": True},
        {"lfn": "f.a", "sha256": FA_SHA},
    ]
    assert spec["outputs"] == [
        {"lfn": "f.b1",
         "destinations": [{"url": "file://$_CONDOR_SCRATCH_DIR/f.b1", "site": "condorpool"}]},
        {"lfn": "f.b2",
         "destinations": [{"url": "file://$_CONDOR_SCRATCH_DIR/f.b2", "site": "condorpool"}]},
    ]  # fmt: skip


def test_condorio_children_get_intermediates_and_parent_meta_from_htcondor():
    plan = run(diamond("/top"), SUBMIT)
    analyze = by_name(plan)["analyze_ID0000004"]
    assert analyze.input_files == [
        SUBMIT + "/00/00/analyze_ID0000004.json", "/opt/bin/pegasus-keg",
        SCRATCH + "/f.c1", SCRATCH + "/f.c2",
        SUBMIT + "/00/00/findrange_ID0000002.meta", SUBMIT + "/00/00/findrange_ID0000003.meta",
    ]  # fmt: skip
    assert analyze.spec["inputs"][1:] == [{"lfn": "f.c1"}, {"lfn": "f.c2"}]


def test_condorio_auxiliary_jobs():
    plan = run(diamond("/top"), SUBMIT)
    jobs = by_name(plan)
    mkdir = jobs["create_dir_diamond_0_local"]
    assert mkdir.universe == "local" and mkdir.success_message is None
    assert mkdir.arguments == [
        "transfer",
        "--file",
        SUBMIT + "/00/00/create_dir_diamond_0_local.in",
    ]
    assert mkdir.transfers == [
        {"id": 1, "type": "mkdir", "target": {"site_label": "local", "url": "file://" + SCRATCH}}
    ]
    out = jobs["stage_out_local_local_2_0"]
    assert out.transfers == [{
        "type": "transfer", "linkage": "output", "lfn": "f.d", "id": 1,
        "src_urls": [{"site_label": "local", "url": "file://%s/f.d" % SCRATCH}],
        "dest_urls": [{"site_label": "local", "url": "file:///top/outputs/f.d"}],
    }]  # fmt: skip
    clean = jobs["cleanup_diamond_0_local"]
    assert clean.transfers == [{
        "id": 1, "type": "remove",
        "target": {"site_label": "local", "url": "file://" + SCRATCH, "recursive": "True"},
    }]  # fmt: skip
    assert clean.arguments[-1] == SUBMIT + "/00/00/cleanup_diamond_0_local.in"


def test_outputs_not_staged_are_not_staged_out_and_no_output_site_means_none():
    inputs = diamond("/top")
    for job in inputs.workflow.jobs.values():
        for u in job.uses:
            if u.lfn != "f.d":
                u.stage_out = False
    plan = run(inputs, SUBMIT)
    assert [j.name for j in plan.jobs if j.job_class == STAGE_OUT] == ["stage_out_local_local_2_0"]
    plan = run(diamond("/top"), SUBMIT, output_sites=[])
    assert not [j for j in plan.jobs if j.job_class == STAGE_OUT]
    assert by_name(plan)["cleanup_diamond_0_local"].parents == ["analyze_ID0000004"]


def test_output_dir_overrides_the_storage_directory():
    plan = run(diamond("/top"), SUBMIT, output_dir="/results")
    out = by_name(plan)["stage_out_local_local_2_0"]
    assert out.transfers[0]["dest_urls"] == [{"site_label": "local", "url": "file:///results/f.d"}]


def test_cleanup_none_and_leaf():
    plan = run(diamond("/top"), SUBMIT, cleanup="none")
    assert not [j for j in plan.jobs if j.job_class == CLEANUP]
    plan = run(diamond("/top"), SUBMIT, cleanup="leaf")
    assert [j.name for j in plan.jobs if j.job_class == CLEANUP] == ["cleanup_diamond_0_local"]


def test_integrity_none_leaves_out_every_checksum_and_meta_file():
    plan = run(diamond("/top", Props({"pegasus.integrity.checking": "none"})), SUBMIT)
    assert plan.integrity is False
    for job in plan.jobs:
        assert job.integrity is False
        assert not any(path.endswith(".meta") for path in job.input_files)
        if job.spec:
            assert all("sha256" not in f for f in job.spec.get("inputs", []))


def test_development_mode_retries_nothing_and_checks_nothing():
    plan = run(diamond("/top", Props({"pegasus.mode": "development"})), SUBMIT)
    assert {j.retry for j in plan.jobs} == {0}
    assert plan.integrity is False


def staging_site():
    return site(
        "staging",
        directory(
            "sharedScratch", "/data/scratch",
            ("https://data.example.org/scratch", "get"),
            ("scp://user@data.example.org/data/scratch", "put"),
        ),
    )  # fmt: skip


def test_nonsharedfs_with_a_staging_site(tmp_path):
    key = tmp_path / "id_rsa"
    key.write_text("not really a key\n")
    key.chmod(0o600)
    props = Props({"pegasus.data.configuration": "nonsharedfs"})
    inputs = diamond("/top", props, extra_sites=[staging_site()])
    plan = run(
        inputs, SUBMIT, staging_sites={"condorpool": "staging"},
        environment={"SSH_PRIVATE_KEY": str(key)},
    )  # fmt: skip
    get = "https://data.example.org/scratch/user/pegasus/diamond/run0001"
    put = "scp://user@data.example.org/data/scratch/user/pegasus/diamond/run0001"
    jobs = by_name(plan)
    assert plan.data_configuration == "nonsharedfs"
    pre = jobs["preprocess_ID0000001"]
    assert pre.initialdir == SUBMIT
    assert pre.output_files == []  # pegasus-lite pushes the outputs to the staging site
    assert pre.spec["outputs"][0] == {
        "lfn": "f.b1", "destinations": [{"url": put + "/f.b1", "site": "staging"}],
    }  # fmt: skip
    # the submit host's files still travel with HTCondor
    assert "/top/f.a" in pre.input_files and "/opt/bin/pegasus-keg" in pre.input_files
    # the scp put URL needs the key: shipped to the job, named by SSH_PRIVATE_KEY
    assert pre.spec["credentials"] == [{"env": "SSH_PRIVATE_KEY", "file": "id_rsa"}]
    assert str(key) in pre.input_files
    find = jobs["findrange_ID0000002"]
    assert {"lfn": "f.b1", "sources": [{"url": get + "/f.b1", "site": "staging"}]} in find.spec[
        "inputs"
    ]
    assert SUBMIT + "/00/00/preprocess_ID0000001.meta" in find.input_files
    out = jobs["stage_out_local_local_2_0"]
    assert out.transfers[0]["src_urls"] == [{"site_label": "staging", "url": get + "/f.d"}]
    assert jobs["create_dir_diamond_0_staging"].transfers[0]["target"]["url"] == put
    assert jobs["create_dir_diamond_0_staging"].environment["SSH_PRIVATE_KEY"] == str(key)
    clean = jobs["cleanup_diamond_0_staging"]
    assert clean.transfers[0]["target"] == {
        "site_label": "staging", "url": put, "recursive": "True",
    }  # fmt: skip
    assert plan.warnings == []


def test_nonsharedfs_without_the_key_warns_once():
    props = Props({"pegasus.data.configuration": "nonsharedfs"})
    plan = run(diamond("/top", props, extra_sites=[staging_site()]), SUBMIT,
               staging_sites={"condorpool": "staging"})  # fmt: skip
    # 4 compute jobs put files there, create-dir and cleanup touch the directory
    assert plan.warnings == [
        "no SSH_PRIVATE_KEY for the URLs of site staging (6 jobs): set it as an env "
        "profile of site staging or local in the site catalog, or in the environment"
    ]
    assert "credentials" not in by_name(plan)["preprocess_ID0000001"].spec


def test_nonsharedfs_staging_defaults_to_the_compute_site():
    props = Props({"pegasus.data.configuration": "nonsharedfs"})
    with pytest.raises(Exception) as err:
        run(diamond("/top", props), SUBMIT)
    assert str(err.value) == (
        "site condorpool has no sharedScratch directory with get and put file servers: "
        "nonsharedfs needs one for condorpool (or give --staging-site)"
    )


def test_sharedfs_uses_the_compute_sites_scratch_by_file_url():
    cluster = site("cluster", directory("sharedScratch", "/shared/scratch"))
    props = Props({"pegasus.data.configuration": "sharedfs"})
    plan = run(diamond("/top", props, extra_sites=[cluster]), SUBMIT, sites=["cluster"])
    base = "file:///shared/scratch/user/pegasus/diamond/run0001"
    jobs = by_name(plan)
    pre = jobs["preprocess_ID0000001"]
    assert pre.input_files == [SUBMIT + "/00/00/preprocess_ID0000001.json"]
    fa = next(f for f in pre.spec["inputs"] if f["lfn"] == "f.a")
    assert fa == {
        "lfn": "f.a", "sources": [{"url": "file:///top/f.a", "site": "local"}],
        "symlink": True, "sha256": FA_SHA,
    }  # fmt: skip
    find = jobs["findrange_ID0000002"]
    b1 = next(f for f in find.spec["inputs"] if f["lfn"] == "f.b1")
    assert b1 == {"lfn": "f.b1", "sources": [{"url": base + "/f.b1", "site": "cluster"}],
                  "symlink": True}  # fmt: skip
    assert pre.spec["outputs"][0]["destinations"] == [{"url": base + "/f.b1", "site": "cluster"}]
    assert "create_dir_diamond_0_cluster" in jobs and "cleanup_diamond_0_cluster" in jobs


def test_sharedfs_nosymlink_skips_checksums_of_linked_files():
    cluster = site("cluster", directory("sharedScratch", "/shared/scratch"))
    props = Props({"pegasus.data.configuration": "sharedfs",
                   "pegasus.integrity.checking": "nosymlink"})  # fmt: skip
    plan = run(diamond("/top", props, extra_sites=[cluster]), SUBMIT, sites=["cluster"])
    fa = next(f for f in by_name(plan)["preprocess_ID0000001"].spec["inputs"] if f["lfn"] == "f.a")
    assert "sha256" not in fa and fa["symlink"] is True


def test_every_spec_is_valid_for_pegasus_lite():
    for plan in (
        run(diamond("/top"), SUBMIT),
        run(diamond("/top", Props({"pegasus.data.configuration": "nonsharedfs"}),
                    extra_sites=[staging_site()]), SUBMIT, staging_sites={"condorpool": "staging"}),
    ):  # fmt: skip
        specs = [JobSpec(j.spec) for j in plan.jobs if j.spec is not None]
        assert len(specs) == 4


def test_more_than_256_jobs_spread_over_hashed_directories():
    from .builders import inputs, job, rc, sites, tc, transformation, use, workflow

    jobs = [job("ID%04d" % i, "keg", [use("f.a")]) for i in range(600)]
    plan = run(
        inputs(workflow("many", jobs), sites("/top"), tc(transformation("keg", "/bin/keg")),
               rc(("f.a", [("/top/f.a", "local")]))),
        "/sub/many", wf="many",
    )  # fmt: skip
    dirs = [j.directory for j in plan.jobs]
    assert dirs[0] == "00/00" and dirs[255] == "00/00" and dirs[256] == "00/01"
    assert max(dirs.count(d) for d in set(dirs)) == 256


def test_sharedfs_auxiliary_jobs_reach_the_scratch_through_its_file_server():
    cluster = site(
        "cluster", directory("sharedScratch", "/shared/scratch", ("gsiftp://hpc/shared", "all"))
    )
    props = Props({"pegasus.data.configuration": "sharedfs"})
    plan = run(diamond("/top", props, extra_sites=[cluster]), SUBMIT, sites=["cluster"])
    jobs = by_name(plan)
    server = "gsiftp://hpc/shared/user/pegasus/diamond/run0001"
    assert jobs["preprocess_ID0000001"].spec["outputs"][0]["destinations"] == [
        {"url": "file:///shared/scratch/user/pegasus/diamond/run0001/f.b1", "site": "cluster"}
    ]
    out = jobs["stage_out_local_local_2_0"].transfers[0]
    assert out["src_urls"] == [{"site_label": "cluster", "url": server + "/f.d"}]
    assert jobs["create_dir_diamond_0_cluster"].transfers[0]["target"]["url"] == server
    assert jobs["cleanup_diamond_0_cluster"].transfers[0]["target"]["url"] == server
    # gsiftp wants an X509 proxy on the submit host, which nobody set
    assert plan.warnings == [
        "no X509_USER_PROXY for the URLs of site cluster (5 jobs): set it as an env profile "
        "of site cluster or local in the site catalog, or in the environment"
    ]


def test_progress_lines_per_phase_and_every_tenth_of_a_big_plan():
    from planner.plan import plan as make_plan

    from .builders import inputs, job, options, rc, sites, tc, transformation, use, workflow

    n = 12_000
    jobs = [job("ID%05d" % i, "keg", [use("f.a"), use("o%d" % i, "output")]) for i in range(n)]
    big = inputs(workflow("big", jobs), sites("/top"), tc(transformation("keg", "/bin/keg")),
                 rc(("f.a", [("/top/f.a", "local")])))  # fmt: skip
    lines: list = []
    result = make_plan(big, options("/sub/big", wf="big"), progress=lines.append)
    assert len(result.jobs) == 1 + n + n // 10 + 1  # create-dir, compute, stage-out, cleanup
    phases = [line for line in lines if not line.startswith("building")]
    assert [line.split(":")[0] for line in phases[:4]] == [
        "graph", "data reuse", "sites and transformations", "clustering",
    ]  # fmt: skip
    assert len(phases) == 5 and all(line.endswith(" s)") for line in phases)
    building = [line for line in lines if line.startswith("building jobs")]
    assert building[0] == "building jobs: 1200 of 12000 (10%)"
    assert building[-1] == "building jobs: 10800 of 12000 (90%)" and len(building) == 9
    assert lines[-1].startswith("planned 13202 jobs (")
