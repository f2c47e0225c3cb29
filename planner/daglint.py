"""A DAG file lint: what DAGMan would refuse at start-up, found without DAGMan.

HTCondor's Python bindings (``Submit.from_dag``) only reject unknown commands; they accept
undefined PARENT/CHILD nodes, duplicate node names, non-numeric RETRY values, missing
submit files and cycles, which DAGMan then reports only when the workflow is submitted.
``lint(path)`` finds those, one line per problem, ``<file>:<line>: <what>``.
"""

from __future__ import annotations

import os
import re
import sys
from collections import deque

ALL_NODES = "ALL_NODES"
NODE_COMMANDS = ("JOB", "DATA", "FINAL", "PROVISIONER", "SERVICE")
OTHER_COMMANDS = (
    "SUBDAG", "SPLICE", "SCRIPT", "PARENT", "RETRY", "ABORT-DAG-ON", "VARS", "PRIORITY",
    "CATEGORY", "MAXJOBS", "CONFIG", "SET_JOB_ATTR", "ENV", "DOT", "NODE_STATUS_FILE",
    "JOBSTATE_LOG", "PRE_SKIP", "DONE", "INCLUDE", "SAVE_POINT_FILE", "REJECT", "CONNECT",
    "PIN_IN", "PIN_OUT",
)  # fmt: skip
_VAR = re.compile(r'\s*([A-Za-z_+][A-Za-z0-9_.+]*)\s*=\s*"((?:[^"\\]|\\.)*)"')
_INT = re.compile(r"[+-]?[0-9]+\Z")


class _Dag:
    def __init__(self, path: str):
        self.path = path
        self.dir = os.path.dirname(os.path.abspath(path))
        self.problems: list[tuple[int, str]] = []
        self.nodes: dict[str, str] = {}  # name -> its directory (for scripts)
        self.refs: list[tuple[int, str, str]] = []  # (line, command, node name)
        self.edges: list[tuple[str, str]] = []
        self.scripts: set[tuple[str, str]] = set()

    def problem(self, line: int, message: str) -> None:
        self.problems.append((line, "%s:%d: %s" % (self.path, line, message)))

    def where(self, directory: str | None, name: str) -> str:
        base = self.dir if directory is None else os.path.join(self.dir, directory)
        return os.path.join(base, name)

    def node(self, n: int, words: list[str], kind: str, check_file: bool = True) -> None:
        if len(words) < 3:
            self.problem(n, "%s needs a node name and a file" % kind)
            return
        name, file = words[1], words[2]
        rest = [w.upper() for w in words[3:]]
        directory = None
        if "DIR" in rest:
            at = rest.index("DIR")
            if at + 1 >= len(rest):
                self.problem(n, "%s %s: DIR needs a directory" % (kind, name))
            else:
                directory = words[3 + at + 1]
        if name.upper() in (ALL_NODES, "PARENT", "CHILD"):
            self.problem(n, "%s %s: reserved word as a node name" % (kind, name))
        if name in self.nodes:
            self.problem(n, "node %s defined twice" % name)
        self.nodes[name] = self.where(directory, "")
        if check_file and "NOOP" not in rest and not os.path.isfile(self.where(directory, file)):
            self.problem(n, "%s %s: submit file %s does not exist" % (kind, name, file))

    def ref(self, n: int, command: str, name: str) -> None:
        self.refs.append((n, command, name))

    def integer(self, n: int, what: str, value: str, minimum: int | None = None) -> None:
        if not _INT.match(value) or (minimum is not None and int(value) < minimum):
            self.problem(n, "%s: %r is not %s" % (what, value, _kind(minimum)))


def _kind(minimum: int | None) -> str:
    return "an integer" if minimum is None else "an integer >= %d" % minimum


def _script(dag: _Dag, n: int, words: list[str], scripts: bool) -> None:
    i = 1
    while i < len(words) and words[i].upper() in ("DEFER", "DEBUG"):
        option = words[i].upper()
        if len(words) < i + 3:
            dag.problem(n, "SCRIPT %s needs two values" % option)
            return
        if option == "DEFER":
            dag.integer(n, "SCRIPT DEFER status", words[i + 1])
            dag.integer(n, "SCRIPT DEFER time", words[i + 2], 0)
        i += 3
    if len(words) < i + 3 or words[i].upper() not in ("PRE", "POST", "HOLD"):
        dag.problem(n, "SCRIPT needs PRE, POST or HOLD, a node name and a command")
        return
    kind, name, command = words[i].upper(), words[i + 1], words[i + 2]
    if (kind, name) in dag.scripts:
        dag.problem(n, "node %s has two %s scripts" % (name, kind))
    dag.scripts.add((kind, name))
    dag.ref(n, "SCRIPT " + kind, name)
    if scripts:
        dag.refs.append((n, "\0script", "%s\0%s" % (name, command)))


def _vars(dag: _Dag, n: int, line: str, words: list[str]) -> None:
    if len(words) < 3:
        dag.problem(n, 'VARS needs a node name and name="value" pairs')
        return
    dag.ref(n, "VARS", words[1])
    rest = line.split(None, 2)[2]
    if words[2].upper() in ("PREPEND", "APPEND"):
        rest = rest.split(None, 1)[1] if len(rest.split(None, 1)) > 1 else ""
    count = 0
    while rest.strip():
        match = _VAR.match(rest)
        if not match:
            dag.problem(n, "VARS %s: cannot read %r" % (words[1], rest.strip()))
            return
        count += 1
        rest = rest[match.end() :]
    if not count:
        dag.problem(n, 'VARS %s: no name="value" pair' % words[1])


def _parse(dag: _Dag, scripts: bool) -> None:
    try:
        with open(dag.path, encoding="utf-8", errors="replace") as f:
            lines = f.read().splitlines()
    except OSError as e:
        dag.problems.append((0, "%s: cannot read: %s" % (dag.path, e.strerror)))
        return
    inline = False
    for n, line in enumerate(lines, 1):
        if inline:  # JOB name { ...submit description... }
            inline = line.strip() != "}"
            continue
        words = line.split()
        if not words or words[0].startswith("#"):
            continue
        command = words[0].upper()
        if command in NODE_COMMANDS:
            if len(words) >= 3 and words[2] == "{":
                dag.node(n, words, command, check_file=False)
                inline = True
            else:
                dag.node(n, words, command)
        elif command == "SUBDAG":
            if len(words) < 2 or words[1].upper() != "EXTERNAL":
                dag.problem(n, "SUBDAG needs EXTERNAL")
            else:
                dag.node(n, words[1:], "SUBDAG EXTERNAL")
        elif command == "SPLICE":
            dag.node(n, words, "SPLICE")
        elif command == "SCRIPT":
            _script(dag, n, words, scripts)
        elif command == "PARENT":
            upper = [w.upper() for w in words]
            if "CHILD" not in upper:
                dag.problem(n, "PARENT without CHILD")
                continue
            at = upper.index("CHILD")
            parents, children = words[1:at], words[at + 1 :]
            if not parents or not children:
                dag.problem(n, "PARENT ... CHILD ... needs nodes on both sides")
            for name in parents + children:
                dag.ref(n, "PARENT/CHILD", name)
            dag.edges.extend((p, c) for p in parents for c in children)
        elif command in ("RETRY", "PRIORITY", "ABORT-DAG-ON", "PRE_SKIP"):
            if len(words) < 3:
                dag.problem(n, "%s needs a node name and a number" % command)
                continue
            dag.ref(n, command, words[1])
            minimum = 0 if command == "RETRY" else None
            dag.integer(n, "%s %s" % (command, words[1]), words[2], minimum)
            if command == "RETRY" and len(words) > 3:
                if words[3].upper() != "UNLESS-EXIT" or len(words) != 5:
                    dag.problem(n, "RETRY %s: expected UNLESS-EXIT <value>" % words[1])
                else:
                    dag.integer(n, "RETRY %s UNLESS-EXIT" % words[1], words[4])
        elif command == "CATEGORY":
            if len(words) != 3:
                dag.problem(n, "CATEGORY needs a node name and a category")
                continue
            dag.ref(n, command, words[1])
        elif command == "MAXJOBS":
            if len(words) != 3:
                dag.problem(n, "MAXJOBS needs a category and a number")
                continue
            dag.integer(n, "MAXJOBS %s" % words[1], words[2], 0)
        elif command == "VARS":
            _vars(dag, n, line, words)
        elif command == "DONE":
            if len(words) != 2:
                dag.problem(n, "DONE needs a node name")
                continue
            dag.ref(n, command, words[1])
        elif command not in OTHER_COMMANDS:
            dag.problem(n, "unknown DAG command %s" % words[0])
    if inline:
        dag.problem(len(lines), "an inline submit description is not closed by }")


def _check_refs(dag: _Dag) -> None:
    for n, command, name in dag.refs:
        if command == "\0script":
            node, script = name.split("\0", 1)
            base = dag.nodes.get(node, dag.dir)
            path = script if os.path.isabs(script) else os.path.join(base, script)
            if not (os.path.isfile(path) and os.access(path, os.X_OK)):
                dag.problem(n, "script %s of node %s is not an executable file" % (script, node))
        elif name not in dag.nodes and name.upper() != ALL_NODES:
            dag.problem(n, "%s names unknown node %s" % (command, name))


def _check_cycles(dag: _Dag) -> None:
    children: dict[str, list[str]] = {name: [] for name in dag.nodes}
    indegree = dict.fromkeys(dag.nodes, 0)
    for parent, child in dag.edges:
        if parent in children and child in indegree:
            children[parent].append(child)
            indegree[child] += 1
    ready = deque(name for name, degree in indegree.items() if degree == 0)
    left = len(indegree)
    while ready:
        node = ready.popleft()
        left -= 1
        for child in children[node]:
            indegree[child] -= 1
            if indegree[child] == 0:
                ready.append(child)
    if left:
        cycle = " -> ".join(_cycle(children, indegree))
        dag.problems.append((sys.maxsize, "%s: cycle: %s" % (dag.path, cycle)))


def _cycle(children: dict[str, list[str]], indegree: dict[str, int]) -> list[str]:
    """One cycle among the nodes Kahn's algorithm could not order."""
    stuck = {name for name, degree in indegree.items() if degree > 0}
    node = min(stuck)
    path: list[str] = []
    at: dict[str, int] = {}
    while node not in at:
        at[node] = len(path)
        path.append(node)
        node = min(c for c in children[node] if c in stuck)
    return [*path[at[node] :], node]


def lint(path: str, scripts: bool = False) -> list[str]:
    """The DAG's problems, one line each; empty when DAGMan would accept it.

    ``scripts`` also requires every SCRIPT's command to be an executable file (off by
    default: a DAG planned elsewhere names programs of that machine).
    """
    dag = _Dag(path)
    _parse(dag, scripts)
    _check_refs(dag)
    _check_cycles(dag)
    return [message for _, message in sorted(dag.problems, key=lambda p: p[0])]


def main(argv: list[str] | None = None) -> int:
    """``python -m planner.daglint DAG...``: print the problems; exit 1 if there are any."""
    problems = []
    for path in sys.argv[1:] if argv is None else argv:
        problems.extend(lint(path))
    for line in problems:
        print(line)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
