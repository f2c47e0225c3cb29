"""The DAG helpers, data reuse's two passes and the clustering cuts, on small graphs."""

from __future__ import annotations

import pytest

from planner import cluster, graph, reuse
from planner.errors import PlanError, WorkflowError

from .builders import job, use, workflow


def chain_workflow(n: int):
    jobs = [job("J%d" % i, "x") for i in range(n)]
    return workflow("chain", jobs, {"J%d" % i: ["J%d" % (i + 1)] for i in range(n - 1)})


def test_order_and_levels_are_longest_distance_from_a_root():
    wf = workflow(
        "w", [job(x, "t") for x in "ABCDE"], {"A": ["B", "E"], "B": ["C"], "C": ["D"], "E": ["D"]}
    )
    g = graph.build(wf)
    order = graph.topological_order(g)
    position = {g.ids[i]: n for n, i in enumerate(order)}
    for parent, children in wf.children.items():
        for child in children:
            assert position[parent] < position[child]
    level = graph.levels(g, order)
    assert dict(zip(g.ids, level)) == {"A": 0, "B": 1, "C": 2, "D": 3, "E": 1}
    assert graph.depth(level) == 4


def test_a_cycle_is_named_in_one_line():
    wf = workflow("w", [job(x, "t") for x in "ABCD"], {"A": ["B"], "B": ["C"], "C": ["D", "B"]})
    g = graph.build(wf)
    with pytest.raises(WorkflowError) as err:
        graph.topological_order(g)
    assert str(err.value) == "cycle: B -> C -> B"


def test_a_three_job_cycle_is_named_in_order():
    wf = workflow("w", [job(x, "t") for x in "XYZ"], {"X": ["Y"], "Y": ["Z"], "Z": ["X"]})
    with pytest.raises(WorkflowError) as err:
        graph.topological_order(graph.build(wf))
    text = str(err.value)
    assert text.startswith("cycle: ") and "\n" not in text
    names = text[len("cycle: ") :].split(" -> ")
    assert names[0] == names[-1] and sorted(names[:-1]) == ["X", "Y", "Z"]
    for a, b in zip(names, names[1:]):  # each step is a real edge
        assert b in {"X": ["Y"], "Y": ["Z"], "Z": ["X"]}[a]


def test_a_self_edge_and_unknown_jobs_are_caught():
    with pytest.raises(WorkflowError, match="cycle: A -> A"):
        graph.build(workflow("w", [job("A", "t")], {"A": ["A"]}))
    with pytest.raises(WorkflowError, match="unknown child 'Q'"):
        graph.build(workflow("w", [job("A", "t")], {"A": ["Q"]}))


def test_a_deep_chain_needs_no_recursion():
    n = 100_000
    g = graph.build(chain_workflow(n))
    order = graph.topological_order(g)
    assert order == list(range(n))
    assert graph.levels(g, order)[-1] == n - 1


def test_repeated_edges_count_once():
    wf = workflow("w", [job("A", "t"), job("B", "t")], {"A": ["B", "B"]})
    g = graph.build(wf)
    assert g.children[0] == [1] and g.parents[1] == [0]
    assert graph.topological_order(g) == [0, 1]


# ------------------------------------------------------------------ data reuse


def reduce(wf, in_rc: set, scope="full") -> set:
    g = graph.build(wf)
    jobs = list(wf.jobs.values())
    deleted = reuse.reduce(g, jobs, graph.topological_order(g), in_rc.__contains__, scope)
    return {g.ids[i] for i, d in enumerate(deleted) if d}


def reuse_diamond(b_stage_out=False):
    jobs = [
        job("A", "p", [use("f.a"), use("f.b", "output", stage_out=b_stage_out)]),
        job("B", "f", [use("f.b"), use("f.c", "output", stage_out=False)]),
        job("C", "z", [use("f.c"), use("f.d", "output")]),
    ]
    return workflow("w", jobs, {"A": ["B"], "B": ["C"]})


def test_reuse_final_output_present_prunes_everything_upstream():
    assert reduce(reuse_diamond(), {"f.a", "f.d"}) == {"A", "B", "C"}


def test_reuse_keeps_a_parent_whose_staged_output_is_missing():
    assert reduce(reuse_diamond(b_stage_out=True), {"f.a", "f.d"}) == {"B", "C"}


def test_reuse_partial_looks_only_at_enabled_jobs():
    wf = reuse_diamond()
    assert reduce(wf, {"f.d"}, "partial") == set()
    wf.jobs["C"].profiles = {"pegasus": {"enable_for_data_reuse": "true"}}
    assert reduce(wf, {"f.d"}, "partial") == {"A", "B", "C"}
    assert reduce(wf, {"f.d"}, "none") == set()


def test_reuse_never_drops_a_job_without_outputs():
    wf = workflow("w", [job("A", "p", [use("f.a")])])
    assert reduce(wf, {"f.a"}) == set()


def test_reuse_a_transient_output_a_child_reads_is_not_present():
    wf = reuse_diamond()
    assert reduce(wf, {"f.a", "f.c"}) == {"A", "B"}


# ------------------------------------------------------------------ clustering cuts


@pytest.mark.parametrize(
    "n, size, num, sizes",
    [
        (10, 3, None, [3, 3, 3]),  # the lone tenth job stays a plain job
        (10, 5, None, [5, 5]),
        (10, 20, None, [10]),
        (10, None, 3, [4, 3, 3]),  # Pegasus: n // num each, the first n % num one more
        (10, None, 1, [10]),
        (3, None, 5, []),  # more clusters than jobs: nothing to merge
        (1, 5, None, []),
    ],
)
def test_chunks_cut_as_pegasus_does(n, size, num, sizes):
    assert [len(c) for c in cluster.chunks(list(range(n)), size, num)] == sizes


def test_horizontal_groups_by_level_transformation_and_site():
    order = list(range(8))
    level = [0, 0, 0, 0, 1, 1, 1, 1]
    site = ["a", "a", "a", "b", "a", "a", "a", "a"]
    name = [("ns", "x", "1")] * 4 + [("ns", "y", "1")] * 3 + [("ns", "z", "1")]
    found = cluster.horizontal(order, level, site, name, lambda i: {"clusters.size": "10"})
    assert [(c.name, c.jobs) for c in found] == [
        ("merge_x_PID1_ID1", [0, 1, 2]),
        ("merge_y_PID2_ID1", [4, 5, 6]),
    ]


def test_label_clusters_follow_topological_order_and_skip_singletons():
    order = [3, 0, 2, 1, 4]
    labels = {0: "a", 1: "a", 2: "b", 3: "a", 4: None}
    found = cluster.by_label(
        order, ["s"] * 5, [("", "t%d" % i, "") for i in range(5)],
        lambda i: {"label": labels[i]} if labels[i] else {},
    )  # fmt: skip
    assert [(c.name, c.jobs) for c in found] == [("merge_t3_ID1", [3, 0, 1])]


def test_cluster_rejects_unknown_methods_and_bad_sizes():
    with pytest.raises(PlanError, match="not a clustering method"):
        cluster.cluster(["vertical"], [], [], [], [], lambda i: {})
    with pytest.raises(PlanError, match=r"clusters\.size: must be 1 or more"):
        cluster.horizontal([0, 1], [0, 0], ["s", "s"], ["t", "t"], lambda i: {"clusters.size": "0"})
