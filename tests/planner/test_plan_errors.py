"""What the user must fix: each is a PlanError whose text is one line naming the problem."""

from __future__ import annotations

import pytest

from planner.errors import CatalogError, PlanError, WorkflowError
from planner.model import Job

from .builders import Props, diamond, inputs, job, rc, run, sites, tc, transformation, use, workflow

SUBMIT = "/sub/user/pegasus/diamond/run0001"


def fails(inputs_, error=PlanError, **kw) -> str:
    with pytest.raises(error) as err:
        run(inputs_, SUBMIT, **kw)
    text = str(err.value)
    assert "\n" not in text and text
    return text


def test_missing_transformation():
    inputs_ = diamond("/top")
    inputs_.transformations.transformations = [
        t for t in inputs_.transformations.transformations if t.name != "findrange"
    ]
    assert fails(inputs_, CatalogError) == (
        "job ID0000002: transformation diamond::findrange:4.0 is not in the transformation "
        "catalog for site condorpool"
    )


def test_transformation_installed_elsewhere_only():
    wf = workflow("w", [job("ID1", "sort")])
    catalog = tc(transformation("sort", "/usr/bin/sort", "hpc", "installed"))
    assert fails(inputs(wf, sites("/top"), catalog), sites=["condorpool", "local"]) == (
        "job ID1: transformation sort is not in the transformation catalog for sites "
        "condorpool, local"
    )


def test_missing_replica():
    inputs_ = diamond("/top")
    inputs_.replicas = rc()
    assert fails(inputs_, CatalogError) == (
        "no replica for input 'f.a' (needed by job ID0000001); add it to the replica catalog"
    )


def test_cycle():
    inputs_ = diamond("/top")
    inputs_.workflow.children["ID0000004"] = ["ID0000001"]
    text = fails(inputs_, WorkflowError)
    assert text.startswith("cycle: ID0000001 -> ")
    assert text.endswith(" -> ID0000001") and "ID0000004" in text


def test_unknown_sites():
    assert fails(diamond("/top"), sites=["nowhere"]) == "site 'nowhere' is not in the site catalog"
    assert (
        fails(diamond("/top"), output_sites=["vault"]) == "site 'vault' is not in the site catalog"
    )


def test_output_site_without_storage():
    assert fails(diamond("/top"), output_sites=["condorpool"]) == (
        "output site condorpool has no localStorage or sharedStorage directory with a file "
        "server; add one to the site catalog"
    )


def test_condorio_wants_local_staging():
    assert fails(diamond("/top"), staging_sites={"condorpool": "condorpool"}) == (
        "staging site condorpool for site condorpool: with condorio the staging site is local"
    )


def test_bad_profile_values_name_the_job_and_key():
    inputs_ = diamond("/top")
    inputs_.workflow.jobs["ID0000003"].profiles = {"pegasus": {"memory": "lots"}}
    assert fails(inputs_) == "job ID0000003: pegasus profile memory: 'lots' is not an amount of MB"
    inputs_.workflow.jobs["ID0000003"].profiles = {"dagman": {"RETRY": "twice"}}
    assert fails(inputs_) == "job ID0000003: dagman profile retry: 'twice' is not a number"


def test_bad_properties():
    assert fails(diamond("/top", Props({"pegasus.integrity.checking": "some"}))) == (
        "pegasus.integrity.checking: 'some' is not one of full, none, nosymlink"
    )
    assert fails(diamond("/top", Props({"pegasus.data.configuration": "cloudio"}))) == (
        "data configuration 'cloudio' (site condorpool): use one of condorio, nonsharedfs, sharedfs"
    )
    assert fails(diamond("/top", Props({"dagman.retry": "many"}))) == (
        "property dagman.retry: 'many' is not a whole number"
    )


def test_sub_workflows_are_refused():
    inputs_ = diamond("/top")
    sub = Job("SUB1", "inner", kind="pegasusWorkflow")
    inputs_.workflow.jobs["SUB1"] = sub
    assert fails(inputs_) == (
        "job SUB1: pegasusWorkflow jobs (sub-workflows) are not supported by this planner"
    )


def test_reading_a_file_whose_writer_is_not_an_ancestor():
    wf = workflow("w", [job("A", "keg", [use("x")]), job("B", "keg", [use("x", "output")])])
    catalog = tc(transformation("keg", "/bin/keg", "condorpool", "installed"))
    replicas = rc(("x", [("/top/x", "local")]))  # --force: B is not pruned by data reuse
    assert fails(inputs(wf, sites("/top"), catalog, replicas), wf="w", force=True) == (
        "job A reads 'x' before the job that writes it ran: add a dependency from that job to A"
    )


def test_label_clusters_that_would_make_a_cycle():
    inputs_ = diamond("/top")
    for job_id in ("ID0000001", "ID0000004"):
        inputs_.workflow.jobs[job_id].profiles = {"pegasus": {"label": "ends"}}
    text = fails(inputs_, WorkflowError, cluster=["label"])
    assert text.startswith("clustering made a cycle: merge_preprocess_ID1 -> ")


def test_unknown_options():
    assert fails(diamond("/top"), cleanup="sometimes") == (
        "--cleanup sometimes: use one of none, leaf, inplace"
    )
    assert (
        fails(diamond("/top"), cluster=["vertical"])
        == "--cluster vertical: use label or horizontal"
    )
    assert fails(diamond("/top"), sites=[]) == "no compute site given (--sites)"


def test_an_unknown_container_and_a_shifter_container():
    from .builders import container

    inputs_ = diamond("/top")
    for t in inputs_.transformations.transformations:
        t.sites[0].container = "missing"
    assert fails(inputs_) == (
        "transformation diamond::preprocess:4.0 (site local): container 'missing' is not in "
        "the transformation catalog"
    )
    inputs_.transformations.containers["missing"] = container("missing", "shifter", "shifter:///x")
    assert fails(inputs_) == (
        "container missing: type 'shifter' is not supported (docker or singularity)"
    )
