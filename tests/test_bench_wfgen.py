"""bench/wfgen.py writes what pegasus-wms.api would write, with the right jobs and edges."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from bench import wfgen

REPO = Path(__file__).resolve().parents[1]

CASES = {
    "independent": dict(shape="independent", jobs=50),
    "independent-no-outputs": dict(shape="independent", jobs=50, outputs=False),
    "chainfan": dict(shape="chainfan", jobs=50),  # 1 + 4 stages of 11 + one of 4 fans
    "chainfan-fan3": dict(shape="chainfan", jobs=50, fan=3),  # ends in a one-job stage
}


def load(path: Path) -> dict:
    with open(path) as fh:
        return yaml.safe_load(fh)


def data_edges(doc: dict) -> tuple[set, set]:
    """(producer -> consumer edges, raw input lfns) from the jobs' uses."""
    producer = {}
    for job in doc["jobs"]:
        for use in job["uses"]:
            if use["type"] == "output":
                assert use["lfn"] not in producer, "two jobs write %s" % use["lfn"]
                producer[use["lfn"]] = job["id"]
    edges, raw = set(), set()
    for job in doc["jobs"]:
        for use in job["uses"]:
            if use["type"] == "input":
                if use["lfn"] in producer:
                    edges.add((producer[use["lfn"]], job["id"]))
                else:
                    raw.add(use["lfn"])
    return edges, raw


def declared_edges(doc: dict) -> set:
    return {(dep["id"], child) for dep in doc["jobDependencies"] for child in dep["children"]}


def depth(edges: set, ids: list[str]) -> int:
    level = dict.fromkeys(ids, 1)
    for parent, child in sorted(edges, key=lambda e: ids.index(e[0])):  # parents come first
        level[child] = max(level[child], level[parent] + 1)
    return max(level.values())


@pytest.mark.parametrize("case", sorted(CASES))
def test_shape_jobs_edges_and_files(tmp_path, case):
    info = wfgen.generate(directory=tmp_path, **CASES[case])
    doc = load(info.workflow)
    assert doc["pegasus"] == "5.0.4" and doc["name"] == info.name
    ids = [job["id"] for job in doc["jobs"]]
    assert len(ids) == len(set(ids)) == info.jobs == 50
    assert ids[0] == "ID0000001" and ids[-1] == "ID0000050"

    edges, raw = data_edges(doc)
    assert declared_edges(doc) == edges  # the dependencies follow the data exactly
    assert len(edges) == info.edges
    assert depth(edges, ids) == info.depth
    assert raw == {"f.in"}
    replicas = load(tmp_path / "replicas.yml")["replicas"]
    assert [r["lfn"] for r in replicas] == ["f.in"]
    url = replicas[0]["pfns"][0]["pfn"]
    assert url == "file://%s" % (tmp_path.resolve() / "inputs" / "f.in")
    assert Path(url[len("file://") :]).read_text()

    outputs = [u for job in doc["jobs"] for u in job["uses"] if u["type"] == "output"]
    assert sum(u["stageOut"] for u in outputs) == info.stage_out
    if case.startswith("chainfan"):
        assert info.stage_out == 1 and info.depth > 10
        # only the one sink's output leaves; everything else is passed between jobs
        sinks = set(ids) - {p for p, _ in edges}
        assert len(sinks) == 1
        assert len(outputs) - 1 == info.intermediate
    elif case == "independent":
        assert edges == set() and info.stage_out == 50
    else:
        assert outputs == [] and info.transformation == "/bin/true"

    tc = load(tmp_path / "transformations.yml")["transformations"]
    assert tc[0]["sites"] == [{"name": "local", "pfn": info.transformation, "type": "installed"}]
    assert {job["name"] for job in doc["jobs"]} == {tc[0]["name"]}
    sites = load(tmp_path / "sites.yml")["sites"]
    dirs = {d["type"]: d for d in sites[0]["directories"]}
    assert sites[0]["name"] == "local" and set(dirs) == {"sharedScratch", "localStorage"}
    assert dirs["localStorage"]["fileServers"][0]["url"] == "file://%s" % (
        tmp_path.resolve() / "outputs"
    )


def normalise(doc: dict) -> dict:
    """The API writes a job's uses and a parent's children from sets: order them."""
    doc = dict(doc)
    doc.pop("x-pegasus")
    for job in doc.get("jobs", []):
        job["uses"] = sorted(job["uses"], key=lambda u: (u["type"], u["lfn"]))
    if "jobDependencies" in doc:
        doc["jobDependencies"] = sorted(
            ({"id": d["id"], "children": sorted(d["children"])} for d in doc["jobDependencies"]),
            key=lambda d: d["id"],
        )
    return doc


def api_twin(doc: dict, info: wfgen.Generated, out: Path) -> None:
    """The same workflow and catalogs built with pegasus-wms.api (dependencies inferred)."""
    api = pytest.importorskip("Pegasus.api")
    out.mkdir()
    name = doc["jobs"][0]["name"]
    tr = api.Transformation(name, site="local", pfn=info.transformation, is_stageable=False)
    wf = api.Workflow(doc["name"])  # infer_dependencies: edges from the files, not ours
    for job in doc["jobs"]:
        j = api.Job(tr).add_args(*job["arguments"])
        for use in job["uses"]:
            if use["type"] == "input":
                j.add_inputs(api.File(use["lfn"]))
            else:
                j.add_outputs(
                    api.File(use["lfn"]),
                    stage_out=use["stageOut"],
                    register_replica=use["registerReplica"],
                )
        wf.add_jobs(j)
    wf.write(str(out / "workflow.yml"))
    api.TransformationCatalog().add_transformations(tr).write(str(out / "transformations.yml"))
    rc = api.ReplicaCatalog()
    rc.add_replica("local", "f.in", "file://%s" % (info.directory / "inputs" / "f.in"))
    rc.write(str(out / "replicas.yml"))
    site = api.Site("local")
    for kind, sub in ((api.Directory.SHARED_SCRATCH, "scratch"),
                      (api.Directory.LOCAL_STORAGE, "outputs")):  # fmt: skip
        path = str(info.directory / sub)
        site.add_directories(
            api.Directory(kind, path).add_file_servers(
                api.FileServer("file://" + path, api.Operation.ALL)
            )
        )
    api.SiteCatalog().add_sites(site).write(str(out / "sites.yml"))


@pytest.mark.parametrize("case", sorted(CASES))
def test_same_documents_as_the_api(tmp_path, case):
    info = wfgen.generate(directory=tmp_path / "ours", **CASES[case])
    doc = load(info.workflow)
    api_twin(doc, info, tmp_path / "api")
    for name in ("workflow.yml", "replicas.yml", "transformations.yml", "sites.yml"):
        ours, theirs = load(tmp_path / "ours" / name), load(tmp_path / "api" / name)
        assert list(ours) == list(theirs), name  # the same keys in the same order
        assert normalise(ours) == normalise(theirs), name
        assert list(ours["x-pegasus"]) == list(theirs["x-pegasus"])
    ours, theirs = load(tmp_path / "ours" / "workflow.yml"), load(tmp_path / "api" / "workflow.yml")
    assert [list(j) for j in ours["jobs"]] == [list(j) for j in theirs["jobs"]]
    keys = [[list(u) for u in sorted(j["uses"], key=lambda u: u["lfn"])] for j in ours["jobs"]]
    assert keys == [
        [list(u) for u in sorted(j["uses"], key=lambda u: u["lfn"])] for j in theirs["jobs"]
    ]


@pytest.mark.parametrize("case", ["independent", "chainfan"])
def test_pegasus_readers_load_it(tmp_path, case):
    """Pegasus's own loaders (Pegasus.workflow and the catalog modules) accept the files."""
    workflow = pytest.importorskip("Pegasus.workflow")
    from Pegasus import replica_catalog, site_catalog, transformation_catalog
    from Pegasus.api import Properties

    info = wfgen.generate(directory=tmp_path, **CASES[case])
    with open(info.workflow) as fh:
        wf = workflow.load(fh)
    assert len(wf.jobs) == 50
    edges = {(p, c) for p, dep in wf.dependencies.items() for c in dep.children_ids}
    assert len(edges) == info.edges
    with open(tmp_path / "replicas.yml") as fh:
        assert len(replica_catalog.load(fh).entries) == 1
    with open(tmp_path / "transformations.yml") as fh:
        assert len(transformation_catalog.load(fh).transformations) == 1
    with open(tmp_path / "sites.yml") as fh:
        assert list(site_catalog.load(fh).sites) == ["local"]
    props = Properties.load(tmp_path / "pegasus.properties")
    assert props["pegasus.data.configuration"] == "condorio"


def test_command_line(tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "bench.wfgen", "--shape", "chainfan", "--jobs", "23",
         "--fan", "4", "--dir", str(tmp_path / "wf")],
        cwd=REPO, capture_output=True, text=True,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == (
        "%s: 23 jobs, 34 edges, depth 11, 1 staged out, 22 intermediate files"
        % (tmp_path / "wf" / "workflow.yml")
    )
    assert len(load(tmp_path / "wf" / "workflow.yml")["jobs"]) == 23

    bad = subprocess.run(
        [sys.executable, "-m", "bench.wfgen", "--shape", "chainfan", "--jobs", "0",
         "--dir", str(tmp_path / "bad")],
        cwd=REPO, capture_output=True, text=True,
    )  # fmt: skip
    assert bad.returncode == 2
    assert bad.stderr == "wfgen: a workflow needs at least one job\n"
