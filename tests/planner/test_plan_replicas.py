"""Replica selection: Default, Regex and Restricted ranking; regex catalog entries."""

from __future__ import annotations

import pytest

from planner.errors import CatalogError, PlanError
from planner.replicas import Selector

from .builders import Props, by_name, inputs, job, rc, run, sites, tc, transformation, use, workflow

SUBMIT = "/sub/user/pegasus/w/run0001"
REPLICAS = [
    ("http://web.example.org/f.x", "web"),
    ("file:///elsewhere/f.x", "other"),  # a file on a site that is neither here nor local
    ("gsiftp://grid.example.org/f.x", "condorpool"),
    ("/top/data/input-1.bin", "local"),
    ("s3://bucket/f.x", "cloud"),
]


def one_job(replicas, props=None, lfn="f.x", **use_kw):
    wf = workflow("w", [job("ID1", "keg", [use(lfn, **use_kw)])])
    catalog = tc(transformation("keg", "/bin/keg", "condorpool", "installed"))
    return inputs(wf, sites("/top"), catalog, replicas, props)


def sources(plan, lfn="f.x"):
    entry = next(f for f in by_name(plan)["keg_ID1"].spec["inputs"] if f["lfn"] == lfn)
    return [(s["url"], s["site"]) for s in entry.get("sources", [])]


def test_default_ranks_files_then_the_compute_site_then_the_rest():
    plan = run(one_job(rc(("f.x", REPLICAS))), SUBMIT, wf="w")
    assert sources(plan) == [
        ("file:///top/data/input-1.bin", "local"),  # its name is not the LFN: lite copies it
        ("gsiftp://grid.example.org/f.x", "condorpool"),
        ("http://web.example.org/f.x", "web"),
        ("s3://bucket/f.x", "cloud"),
    ]


def test_a_local_file_named_as_the_lfn_travels_with_htcondor():
    plan = run(one_job(rc(("f.x", [*REPLICAS, ("/top/f.x", "local")]))), SUBMIT, wf="w")
    # the first file URL wins the top rank; this one is /top/data/input-1.bin: sources
    assert sources(plan)[0] == ("file:///top/data/input-1.bin", "local")
    plan = run(one_job(rc(("f.x", [("/top/f.x", "local"), ("http://w/f.x", "web")]))), SUBMIT,
               wf="w")  # fmt: skip
    keg = by_name(plan)["keg_ID1"]
    assert sources(plan) == []
    assert "/top/f.x" in keg.input_files


def test_regex_selector_ranks_by_the_lowest_matching_rank_and_drops_the_rest():
    props = Props({
        "pegasus.selector.replica": "Regex",
        "pegasus.selector.replica.regex.rank.1": "s3://.*",
        "pegasus.selector.replica.regex.rank.2": "http://.*",
        "pegasus.selector.replica.regex.rank.10": "file://.*",
    })  # fmt: skip
    plan = run(one_job(rc(("f.x", REPLICAS)), props), SUBMIT, wf="w")
    assert sources(plan) == [
        ("s3://bucket/f.x", "cloud"),
        ("http://web.example.org/f.x", "web"),
        ("file:///top/data/input-1.bin", "local"),
    ]


def test_regex_selector_needs_a_rank_and_valid_regexes():
    with pytest.raises(PlanError, match=r"no pegasus\.selector\.replica\.regex\.rank\.N property"):
        Selector(rc(), Props({"pegasus.selector.replica": "Regex"}))
    with pytest.raises(PlanError, match=r"regex.rank.1: '\(' is not a valid regex"):
        Selector(rc(), Props({"pegasus.selector.replica": "regex",
                              "pegasus.selector.replica.regex.rank.1": "("}))  # fmt: skip
    with pytest.raises(PlanError, match="'Nearest' is not a replica selector"):
        Selector(rc(), Props({"pegasus.selector.replica": "Nearest"}))


def test_restricted_selector_ignores_and_prefers_sites():
    props = Props({
        "pegasus.selector.replica": "Restricted",
        "pegasus.selector.replica.*.ignore.stagein.sites": "web",
        "pegasus.selector.replica.condorpool.prefer.stagein.sites": "cloud",
    })  # fmt: skip
    plan = run(one_job(rc(("f.x", REPLICAS)), props), SUBMIT, wf="w")
    assert sources(plan) == [
        ("s3://bucket/f.x", "cloud"),
        ("file:///top/data/input-1.bin", "local"),
        ("gsiftp://grid.example.org/f.x", "condorpool"),
    ]


def test_regex_catalog_entries_fill_in_groups():
    catalog = rc((r"chunk\.([0-9]+)\.dat", [("file:///srv/chunks/[1]/[0]", "local")], None, True))
    plan = run(one_job(catalog, lfn="chunk.7.dat"), SUBMIT, wf="w")
    assert "/srv/chunks/7/chunk.7.dat" in by_name(plan)["keg_ID1"].input_files


def test_missing_replica_is_one_line_and_optional_inputs_are_skipped():
    with pytest.raises(CatalogError) as err:
        run(one_job(rc()), SUBMIT, wf="w")
    assert str(err.value) == (
        "no replica for input 'f.x' (needed by job ID1); add it to the replica catalog"
    )
    plan = run(one_job(rc(), optional=True), SUBMIT, wf="w")
    assert "inputs" not in by_name(plan)["keg_ID1"].spec


def test_only_unusable_replicas_count_as_none():
    with pytest.raises(CatalogError, match=r"no replica for input 'f\.x'"):
        run(one_job(rc(("f.x", [("file:///elsewhere/f.x", "other")]))), SUBMIT, wf="w")


def test_bypass_inputs_are_fetched_by_lite_even_from_the_submit_host():
    plan = run(one_job(rc(("f.x", [("/top/f.x", "local")])), bypass=True), SUBMIT, wf="w")
    assert sources(plan) == [("file:///top/f.x", "local")]
