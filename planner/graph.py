"""The workflow's DAG as integer-indexed arrays: order, cycles and levels without recursion.

Jobs are numbered in document order; ``children[i]`` and ``parents[i]`` are lists of job
numbers.  Lists of ints (not dicts of objects) keep a million-job graph compact, and every
walk is iterative, so a million-deep chain cannot overflow the stack.
"""

from __future__ import annotations

from collections.abc import Iterable

from .errors import WorkflowError


class Graph:
    """Parent/child adjacency over job numbers 0..n-1, with the job ids for messages."""

    __slots__ = ("children", "ids", "parents")

    def __init__(self, ids: list, children: list, parents: list):
        self.ids = ids
        self.children = children
        self.parents = parents

    def __len__(self) -> int:
        return len(self.ids)

    @property
    def edge_count(self) -> int:
        return sum(len(c) for c in self.children)


def from_edges(ids: list, edges: Iterable[tuple]) -> Graph:
    """A graph over ``ids`` from (parent number, child number) pairs; repeated edges dropped."""
    n = len(ids)
    children: list = [[] for _ in range(n)]
    parents: list = [[] for _ in range(n)]
    seen = set()
    for parent, child in edges:
        if (parent, child) in seen:
            continue
        seen.add((parent, child))
        children[parent].append(child)
        parents[child].append(parent)
    return Graph(ids, children, parents)


def build(workflow) -> Graph:
    """The workflow's jobs (document order) and edges; an edge to an unknown job is an error
    (the readers catch it first; this check is one dict lookup per edge)."""
    ids = list(workflow.jobs)
    index = {job_id: i for i, job_id in enumerate(ids)}
    n = len(ids)
    children: list = [[] for _ in range(n)]
    parents: list = [[] for _ in range(n)]
    for parent_id, child_ids in workflow.children.items():
        p = index.get(parent_id)
        if p is None:
            raise WorkflowError("jobDependencies: unknown job %r" % parent_id)
        kids = children[p]
        for child_id in child_ids:
            c = index.get(child_id)
            if c is None:
                raise WorkflowError(
                    "jobDependencies: job %r has an unknown child %r" % (parent_id, child_id)
                )
            if c == p:
                raise WorkflowError("cycle: %s -> %s" % (parent_id, parent_id))
            kids.append(c)
            parents[c].append(p)
    for i in range(n):  # a repeated edge would count twice in the in-degrees
        if len(children[i]) > 1 and len(set(children[i])) != len(children[i]):
            children[i] = list(dict.fromkeys(children[i]))
        if len(parents[i]) > 1 and len(set(parents[i])) != len(parents[i]):
            parents[i] = list(dict.fromkeys(parents[i]))
    return Graph(ids, children, parents)


def topological_order(graph: Graph, keep: bytearray | None = None) -> list:
    """Kahn's algorithm; roots in document order first.  ``keep`` (1 = in the graph) limits
    the walk to a subgraph.  A cycle is a WorkflowError naming it."""
    children = graph.children
    parents = graph.parents
    n = len(children)
    if keep is None:
        indegree = [len(p) for p in parents]
        ready = [i for i in range(n) if not indegree[i]]
        wanted = n
    else:
        indegree = [0] * n
        wanted = 0
        for i in range(n):
            if keep[i]:
                wanted += 1
                indegree[i] = sum(1 for p in parents[i] if keep[p])
        ready = [i for i in range(n) if keep[i] and not indegree[i]]
    order = ready  # the queue is the result list itself: read position `head`
    head = 0
    while head < len(order):
        node = order[head]
        head += 1
        for child in children[node]:
            if keep is not None and not keep[child]:
                continue
            left = indegree[child] - 1
            indegree[child] = left
            if not left:
                order.append(child)
    if len(order) != wanted:
        raise WorkflowError("cycle: %s" % describe_cycle(graph, indegree, keep))
    return order


def describe_cycle(graph: Graph, indegree: list, keep: bytearray | None = None) -> str:
    """``ID1 -> ID2 -> ID3 -> ID1`` for one cycle among the nodes Kahn could not order.

    Every unordered node has an unordered parent, so walking parents from any of them must
    revisit a node: the walk from that node back to itself is a cycle."""
    start = next(i for i, d in enumerate(indegree) if d > 0 and (keep is None or keep[i]))
    position: dict = {}
    path = []
    node = start
    while node not in position:
        position[node] = len(path)
        path.append(node)
        node = next(p for p in graph.parents[node] if indegree[p] > 0 and (keep is None or keep[p]))
    loop = path[position[node] :]
    loop.reverse()  # walked child -> parent; print parent -> child
    first = loop.index(min(loop))  # start at the job that comes first in the document
    loop = loop[first:] + loop[:first]
    ids = graph.ids
    return " -> ".join(str(ids[i]) for i in [*loop, loop[0]])


def levels(graph: Graph, order: list) -> list:
    """Longest distance from a root (roots are 0), as Pegasus levels a workflow."""
    level = [0] * len(graph.children)
    children = graph.children
    for node in order:
        below = level[node] + 1
        for child in children[node]:
            if level[child] < below:
                level[child] = below
    return level


def depth(level: list, order: list | None = None) -> int:
    """The number of levels (0 for an empty graph)."""
    nodes = level if order is None else [level[i] for i in order]
    return (max(nodes) + 1) if nodes else 0
