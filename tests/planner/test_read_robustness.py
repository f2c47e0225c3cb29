"""Any wrong value anywhere in a document is a one-line ParseError, never a traceback."""

from __future__ import annotations

import copy

import pytest

from planner import catalogs as c
from planner.errors import ParseError
from planner.workflow_yaml import parse_workflow
from planner.yamlload import load_yaml

WRONG = (None, [], ["x"], {}, {"k": []}, 7, 1.5, True, "", "x-y", "${UNSET}")


def paths(node, prefix=()):
    """Every (path, value) in a document."""
    yield prefix, node
    if isinstance(node, dict):
        for key, value in node.items():
            yield from paths(value, (*prefix, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from paths(value, (*prefix, index))


def replaced(document, path, value):
    changed = copy.deepcopy(document)
    node = changed
    for step in path[:-1]:
        node = node[step]
    node[path[-1]] = value
    return changed


def each_mutation(document):
    for path, _ in paths(document):
        if path:
            for wrong in WRONG:
                yield replaced(document, path, wrong)


def outcome(parse, document) -> None:
    """Either it parses or it fails with one line; nothing else may escape."""
    try:
        parse(document)
    except ParseError as error:
        assert "\n" not in str(error)
        assert str(error).startswith("doc.yml")


@pytest.mark.parametrize(
    "name,parse",
    [
        ("minimal-examples/workflow.yml", lambda d: parse_workflow(d, "doc.yml", {})),
        (
            "pegasus-core-043-integrity-condorio/workflow.yml",
            lambda d: parse_workflow(d, "doc.yml", {"TOPDIR": "/t"}),
        ),
        ("minimal-examples/sites.yml", lambda d: c.parse_sites(d, "doc.yml", {})),
        ("minimal-examples/transformations.yml", lambda d: c.parse_transformations(d, "doc.yml")),
        ("minimal-examples/replicas.yml", lambda d: c.parse_replicas(d, "doc.yml", {})),
        (
            "pegasus-core-022-data-reuse-full-a/sites.yml",
            lambda d: c.parse_sites(d, "doc.yml", {"TOPDIR": "/t"}),
        ),
    ],
)
def test_every_value_replaced_by_a_wrong_one(fixtures, name, parse):
    document = load_yaml(str(fixtures / name))
    count = 0
    for mutation in each_mutation(document):
        outcome(parse, mutation)
        count += 1
    assert count > 100
