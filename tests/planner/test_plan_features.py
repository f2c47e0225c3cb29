"""Containers, credentials, checkpoints, deep LFNs, standard streams, metadata, site choice."""

from __future__ import annotations

from .builders import (
    Props,
    by_name,
    container,
    diamond,
    directory,
    inputs,
    job,
    rc,
    run,
    site,
    sites,
    tc,
    transformation,
    use,
    workflow,
)  # fmt: skip

SUBMIT = "/sub/user/pegasus/w/run0001"
SCRATCH = "/top/scratch/user/pegasus/w/run0001"
SIF_SHA = "dd78aaa88e1c6a8bf31c052eacfa03fba616ebfd903d7b2eb1b0ed6853b48713"


def single(uses=(), catalog=None, replicas=None, props=None, extra_sites=(), **job_kw):
    wf = workflow("w", [job("ID1", "keg", list(uses), **job_kw)])
    catalog = catalog or tc(transformation("keg", "/usr/bin/keg", "condorpool", "installed"))
    return inputs(wf, sites("/top", *extra_sites), catalog, replicas or rc(), props)


def keg(plan):
    return by_name(plan)["keg_ID1"]


# ------------------------------------------------------------------ containers


def test_docker_image_pulled_by_reference():
    box = container("box", "docker", "docker:///library/centos:7", mounts=["/data:/data:ro"],
                    profiles={"pegasus": {"container.arguments": "--shm-size 1g"}})  # fmt: skip
    catalog = tc(transformation("keg", "/usr/bin/keg", "condorpool", "installed", container="box"),
                 containers=[box])  # fmt: skip
    spec = keg(run(single(catalog=catalog), SUBMIT, wf="w")).spec
    assert spec["container"] == {
        "runtime": "docker", "image": "docker://library/centos:7", "mounts": ["/data:/data:ro"],
        "options": ["--shm-size", "1g"],
    }  # fmt: skip
    assert spec["tasks"][0]["executable"] == {"path": "/usr/bin/keg"}  # a path in the image
    assert "inputs" not in spec


def test_singularity_image_file_is_staged_with_its_checksum():
    box = container("centos-base", "singularity", "https://example.org/images/centos7.sif",
                    image_site="web", sha256=SIF_SHA,
                    profiles={"env": {"APP_HOME": "/opt/app"}})  # fmt: skip
    catalog = tc(transformation("keg", "/usr/bin/keg", "condorpool", "installed",
                                container="centos-base"), containers=[box])  # fmt: skip
    spec = keg(run(single(catalog=catalog), SUBMIT, wf="w")).spec
    assert spec["container"] == {
        "runtime": "singularity", "image": "https://example.org/images/centos7.sif",
        "image_lfn": "centos7.sif", "sha256": SIF_SHA,
    }  # fmt: skip
    assert spec["inputs"] == [{
        "lfn": "centos7.sif", "sha256": SIF_SHA,
        "sources": [{"url": "https://example.org/images/centos7.sif", "site": "web"}],
    }]  # fmt: skip
    assert spec["tasks"][0]["environment"] == {"APP_HOME": "/opt/app"}


def test_a_submit_host_image_file_travels_with_htcondor():
    box = container("img", "singularity", "/images/tool.sif", image_site="local")
    catalog = tc(transformation("keg", "/usr/bin/keg", "condorpool", "installed", container="img"),
                 containers=[box])  # fmt: skip
    job = keg(run(single(catalog=catalog), SUBMIT, wf="w"))
    assert "/images/tool.sif" in job.input_files
    assert job.spec["inputs"] == [{"lfn": "tool.sif"}]
    assert job.spec["container"]["image_lfn"] == "tool.sif"


def test_an_scp_image_ships_the_ssh_key_from_the_local_sites_profiles(tmp_path):
    key = tmp_path / "workflow_id_rsa"
    key.write_text("key\n")
    box = container("rocky", "singularity", "scp://me@host.example.org/images/rocky.sif",
                    image_site="local")  # fmt: skip
    entry = transformation("keg", "/usr/bin/keg", "condorpool", "installed", container="rocky")
    catalog = tc(entry,
                 containers=[box])  # fmt: skip
    inputs_ = single(catalog=catalog)
    inputs_.sites.sites["local"].profiles = {"env": {"SSH_PRIVATE_KEY": str(key)}}
    plan = run(inputs_, SUBMIT, wf="w")
    job = keg(plan)
    assert job.spec["credentials"] == [{"env": "SSH_PRIVATE_KEY", "file": "workflow_id_rsa"}]
    assert str(key) in job.input_files
    assert plan.warnings == []


# ------------------------------------------------------------------ credentials


def test_credentials_by_scheme(tmp_path):
    files = {}
    for name in ("creds.conf", "irods.json", "proxy.pem", "gcs.json"):
        files[name] = tmp_path / name
        files[name].write_text("x")
    env = {
        "PEGASUS_CREDENTIALS": str(files["creds.conf"]),
        "IRODS_ENVIRONMENT_FILE": str(files["irods.json"]),
        "X509_USER_PROXY": str(files["proxy.pem"]),
        "GOOGLE_APPLICATION_CREDENTIALS": str(files["gcs.json"]),
    }
    replicas = rc(
        ("a", [("s3://bucket/a", "cloud")]),
        ("b", [("irods://zone/home/b", "irods")]),
        ("c", [("gsiftp://grid/c", "grid")]),
        ("d", [("gs://bucket/d", "google")]),
        ("e", [("https://web/e", "web")]),
    )
    job = keg(run(single([use(x) for x in "abcde"], replicas=replicas), SUBMIT, wf="w",
                  environment=env))  # fmt: skip
    assert job.spec["credentials"] == [
        {"env": "PEGASUS_CREDENTIALS", "file": "creds.conf"},
        {"env": "IRODS_ENVIRONMENT_FILE", "file": "irods.json"},
        {"env": "X509_USER_PROXY", "file": "proxy.pem"},
        {"env": "GOOGLE_APPLICATION_CREDENTIALS", "file": "gcs.json"},
    ]
    assert [p for p in job.input_files if p.startswith(str(tmp_path))] == [
        str(files[n]) for n in ("creds.conf", "irods.json", "proxy.pem", "gcs.json")
    ]


def test_public_http_needs_no_credential_and_missing_ones_warn():
    replicas = rc(("e", [("https://web/e", "web")]), ("s", [("sftp://host/s", "vault")]))
    plan = run(single([use("e"), use("s")], replicas=replicas), SUBMIT, wf="w")
    assert "credentials" not in keg(plan).spec
    assert plan.warnings == [
        "no SSH_PRIVATE_KEY for the URLs of site vault (1 job): set it as an env profile of "
        "site vault or local in the site catalog, or in the environment"
    ]


def test_a_key_per_site_uses_site_suffixed_variables(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    key_a = tmp_path / "a" / "id_a"
    key_b = tmp_path / "b" / "id_b"
    key_a.write_text("a")
    key_b.write_text("b")
    replicas = rc(("x", [("scp://h1/x", "site-a")]), ("y", [("scp://h2/y", "site-b")]))
    plan = run(single([use("x"), use("y")], replicas=replicas), SUBMIT, wf="w",
               environment={"SSH_PRIVATE_KEY_site_a": str(key_a),
                            "SSH_PRIVATE_KEY": str(key_b)})  # fmt: skip
    assert keg(plan).spec["credentials"] == [
        {"env": "SSH_PRIVATE_KEY_site_a", "file": "id_a"},
        {"env": "SSH_PRIVATE_KEY_site_b", "file": "id_b"},
    ]


def test_a_credential_file_that_does_not_exist_warns():
    replicas = rc(("x", [("scp://h1/x", "far")]))
    plan = run(single([use("x")], replicas=replicas), SUBMIT, wf="w",
               environment={"SSH_PRIVATE_KEY": "/nowhere/id_rsa"})  # fmt: skip
    assert plan.warnings == [
        "credential SSH_PRIVATE_KEY for site far: /nowhere/id_rsa does not exist (jobs that "
        "need it will fail)"
    ]


# ------------------------------------------------------------------ checkpoints


def test_checkpoints_live_in_the_scratch_dir():
    job = keg(run(single([use("state.ckpt", "checkpoint")]), SUBMIT, wf="w"))
    url = "file://%s/state.ckpt" % SCRATCH
    assert job.spec["checkpoints"] == [{
        "lfn": "state.ckpt", "sources": [{"url": url, "site": "local"}],
        "destinations": [{"url": url, "site": "local"}],
    }]  # fmt: skip
    assert "state.ckpt" not in job.output_files


def test_checkpoints_on_a_staging_site():
    staging = site("stash", directory("sharedScratch", "/s", ("https://stash/s", "all")))
    props = Props({"pegasus.data.configuration": "nonsharedfs"})
    job = keg(run(single([use("state.ckpt", "checkpoint")], props=props, extra_sites=[staging]),
                  SUBMIT, wf="w", staging_sites={"condorpool": "stash"}))  # fmt: skip
    url = "https://stash/s/user/pegasus/w/run0001/state.ckpt"
    assert job.spec["checkpoints"] == [{
        "lfn": "state.ckpt", "sources": [{"url": url, "site": "stash"}],
        "destinations": [{"url": url, "site": "stash"}],
    }]  # fmt: skip


# ------------------------------------------------------------------ files and streams


def test_deep_lfns_are_remapped_and_their_directories_made():
    plan = run(single([use("out/data/r.txt", "output")]), SUBMIT, wf="w")
    job = keg(plan)
    assert job.output_files == ["out/data/r.txt"]
    assert job.output_remaps == {"out/data/r.txt": SCRATCH + "/out/data/r.txt"}
    mkdir = by_name(plan)["create_dir_w_0_local"].transfers
    assert [t["target"]["url"] for t in mkdir] == [
        "file://" + SCRATCH, "file://%s/out/data" % SCRATCH,
    ]  # fmt: skip


def test_two_inputs_with_one_base_name_do_not_collide_in_the_start_dir():
    replicas = rc(
        ("a/x.txt", [("/data/a/x.txt", "local")]), ("b/x.txt", [("/data/b/x.txt", "local")])
    )
    job = keg(run(single([use("a/x.txt"), use("b/x.txt")], replicas=replicas), SUBMIT, wf="w"))
    assert job.input_files[1:] == ["/data/a/x.txt"]
    assert job.spec["inputs"] == [
        {"lfn": "a/x.txt"},
        {"lfn": "b/x.txt", "sources": [{"url": "file:///data/b/x.txt", "site": "local"}]},
    ]


def test_stdout_and_stdin_files_the_uses_leave_out():
    inputs_ = single(replicas=rc(("in.txt", [("/top/in.txt", "local")])))
    j = inputs_.workflow.jobs["ID1"]
    j.stdin, j.stdout = "in.txt", "out.txt"
    job = keg(run(inputs_, SUBMIT, wf="w"))
    task = job.spec["tasks"][0]
    assert task["stdin"] == "in.txt" and task["stdout"] == "out.txt"
    assert job.spec["inputs"] == [{"lfn": "in.txt"}]
    assert [o["lfn"] for o in job.spec["outputs"]] == ["out.txt"]
    assert job.output_files == ["out.txt"]


def test_metadata_of_workflow_job_and_files():
    replicas = rc(("in.txt", [("/top/in.txt", "local")]))
    replicas.entries["in.txt"].metadata = {"origin": "catalog", "kind": "raw"}
    inputs_ = single([use("in.txt", metadata={"kind": "input"}),
                      use("r.txt", "output", metadata={"unit": "m"})],
                     replicas=replicas)  # fmt: skip
    inputs_.workflow.metadata = {"project": "lizard"}
    inputs_.workflow.jobs["ID1"].metadata = {"step": "1"}
    spec = keg(run(inputs_, SUBMIT, wf="w")).spec
    assert spec["metadata"] == {"project": "lizard"}
    assert spec["tasks"][0]["metadata"] == {"step": "1"}
    assert spec["inputs"][0]["metadata"] == {"origin": "catalog", "kind": "input"}
    assert spec["outputs"][0]["metadata"] == {"unit": "m"}


def test_optional_outputs_are_not_waited_for_by_htcondor():
    job = keg(run(single([use("maybe.txt", "output", optional=True)]), SUBMIT, wf="w"))
    assert job.spec["outputs"] == [{"lfn": "maybe.txt", "optional": True}]
    assert job.output_files == []


# ------------------------------------------------------------------ sites and executables


def test_the_first_site_that_has_the_transformation_runs_it():
    catalog = tc(transformation("keg", "/opt/keg", "hpc", "installed"))
    extra = [site("hpc")]
    plan = run(single(catalog=catalog, extra_sites=extra), SUBMIT, wf="w",
               sites=["condorpool", "hpc"])  # fmt: skip
    assert keg(plan).site == "hpc"
    assert keg(plan).spec["tasks"][0]["executable"] == {"path": "/opt/keg"}


def test_a_job_can_pin_its_site():
    catalog = tc(transformation("keg", "/opt/keg", "condorpool", "installed"))
    catalog.transformations[0].sites.append(catalog.transformations[0].sites[0].__class__(
        "hpc", "/hpc/keg", "installed"))  # fmt: skip
    inputs_ = single(catalog=catalog, extra_sites=[site("hpc")],
                     profiles={"selector": {"execution.site": "hpc"}})  # fmt: skip
    plan = run(inputs_, SUBMIT, wf="w", sites=["condorpool", "hpc"])
    assert keg(plan).site == "hpc"


def test_installed_beats_stageable_and_a_remote_stageable_is_fetched():
    catalog = tc(transformation("keg", "https://tools.example.org/keg", "web", "stageable",
                                sha256="a" * 64))  # fmt: skip
    job = keg(run(single(catalog=catalog), SUBMIT, wf="w"))
    assert job.spec["inputs"] == [{
        "lfn": "keg", "executable": True, "sha256": "a" * 64,
        "sources": [{"url": "https://tools.example.org/keg", "site": "web"}],
    }]  # fmt: skip
    catalog.transformations[0].sites.append(
        catalog.transformations[0].sites[0].__class__("condorpool", "/usr/bin/keg", "installed")
    )
    job = keg(run(single(catalog=catalog), SUBMIT, wf="w"))
    assert job.spec["tasks"][0]["executable"] == {"path": "/usr/bin/keg"}
    assert "inputs" not in job.spec


def test_same_inputs_give_the_same_plan():
    first = run(diamond("/top"), SUBMIT)
    second = run(diamond("/top"), SUBMIT)
    assert [(j.name, j.parents, j.spec, j.transfers, j.input_files) for j in first.jobs] == [
        (j.name, j.parents, j.spec, j.transfers, j.input_files) for j in second.jobs
    ]
