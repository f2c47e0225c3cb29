"""Read a DAGMan input file (``<wf>-0.dag``) into nodes and edges.

The local engine runs the DAG that ``condor_submit_dag`` would run, so it reads the same
commands with DAGMan's rules: keywords in any case, node names as written, ``ALL_NODES``,
several names on each side of ``PARENT ... CHILD``, ``DONE`` markers.  Commands that would
change what runs and that the engine does not implement (sub-DAGs, splices, FINAL nodes)
are refused with the file and line, rather than ignored.
"""

from __future__ import annotations

import gc
import os
import re

from .errors import EngineError

ALL_NODES = "ALL_NODES"
# Commands that only configure DAGMan's own reporting: nothing for the engine to do.
_IGNORED = {"CONFIG", "DOT", "NODE_STATUS_FILE", "JOBSTATE_LOG", "SET_JOB_ATTR", "ENV",
            "SAVE_POINT_FILE", "MAXPRE", "MAXPOST"}  # fmt: skip
_UNSUPPORTED = {"SUBDAG", "SPLICE", "FINAL", "SERVICE", "PROVISIONER", "INCLUDE", "REJECT",
                "ABORT-DAG-ON", "CONNECT", "PIN_IN", "PIN_OUT", "DATA", "PRE_SKIP"}  # fmt: skip
_VAR = re.compile(r'\s*([A-Za-z_+][A-Za-z0-9_.]*)\s*=\s*"((?:[^"\\]|\\.)*)"')


class Script:
    """A PRE or POST script: the program and its argument string (macros not yet replaced)."""

    __slots__ = ("arguments", "executable", "line")

    def __init__(self, executable: str, arguments: str, line: str):
        self.executable = executable
        self.arguments = arguments
        self.line = line  # where it was defined, for messages


class Node:
    __slots__ = (
        "category", "children", "directory", "done", "name", "noop", "parents", "post", "pre",
        "priority", "retry", "retry_unless_exit", "submit", "vars",
    )  # fmt: skip

    def __init__(self, name: str, submit: str, directory: str):
        self.name = name
        self.submit = submit  # absolute path of the .sub
        self.directory = directory  # absolute: where DAGMan would run condor_submit & scripts
        self.done = False
        self.noop = False
        self.pre: Script | None = None
        self.post: Script | None = None
        self.priority = 0
        self.retry = 0
        self.retry_unless_exit: int | None = None
        self.category: str | None = None
        self.vars: dict[str, str] = {}
        self.parents: list[str] = []
        self.children: list[str] = []


class Dag:
    def __init__(self, path: str):
        self.path = path
        self.directory = os.path.dirname(path)
        self.nodes: dict[str, Node] = {}  # in file order
        self.maxjobs: dict[str, int] = {}  # category -> limit

    def topological(self) -> list[str]:
        """Node names, parents before children (file order among equals)."""
        indegree = {name: len(node.parents) for name, node in self.nodes.items()}
        ready = [name for name, count in indegree.items() if count == 0]
        order: list[str] = []
        while ready:
            batch, ready = ready, []
            for name in batch:
                order.append(name)
                for child in self.nodes[name].children:
                    indegree[child] -= 1
                    if indegree[child] == 0:
                        ready.append(child)
        if len(order) != len(self.nodes):
            stuck = next(name for name, count in indegree.items() if count > 0)
            raise EngineError("%s: the DAG has a cycle through node %s" % (self.path, stuck))
        return order


def _int(text: str, where: str, what: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise EngineError("%s: %s %r is not an integer" % (where, what, text)) from None


class _Reader:
    def __init__(self, path: str):
        self.dag = Dag(path)
        # (where, names, apply) applied once every JOB is known: DAGMan allows forward refs
        self.pending: list[tuple[str, list[str], object]] = []
        self.edges: list[tuple[str, list[str], list[str]]] = []
        self.handlers = {
            name[4:]: getattr(self, name) for name in dir(self) if name.startswith("cmd_")
        }

    def targets(self, where: str, name: str) -> list[Node]:
        if name == ALL_NODES:
            return list(self.dag.nodes.values())
        node = self.dag.nodes.get(name)
        if node is None:
            raise EngineError("%s: no JOB named %r" % (where, name))
        return [node]

    def later(self, where: str, name: str, apply) -> None:
        self.pending.append((where, [name], apply))

    def line(self, path: str, number: int, words: list[str], text: str) -> None:
        where = "%s:%d" % (path, number)
        keyword = words[0].upper()
        handler = self.handlers.get(keyword)
        if handler is not None:
            handler(where, words[1:], text)
        elif keyword in _IGNORED:
            return
        elif keyword in _UNSUPPORTED:
            raise EngineError(
                "%s: %s is not supported by the local engine (run it with condor_submit_dag)"
                % (where, keyword)
            )
        else:
            raise EngineError("%s: unknown DAG command %r" % (where, words[0]))

    def cmd_JOB(self, where: str, args: list[str], text: str) -> None:
        if len(args) < 2:
            raise EngineError("%s: JOB needs a name and a submit file" % where)
        name, submit = args[0], args[1]
        if "{" in args[1:2]:
            raise EngineError("%s: inline submit descriptions are not supported" % where)
        if name == ALL_NODES:
            raise EngineError("%s: %r cannot be a node name" % (where, name))
        if name in self.dag.nodes:
            raise EngineError("%s: JOB %s is defined twice" % (where, name))
        directory = self.dag.directory
        rest = args[2:]
        done = noop = False
        i = 0
        while i < len(rest):
            word = rest[i].upper()
            if word == "DIR" and i + 1 < len(rest):
                directory = os.path.join(self.dag.directory, rest[i + 1])
                i += 2
                continue
            if word == "DONE":
                done = True
            elif word == "NOOP":
                noop = True
            else:
                raise EngineError("%s: unexpected %r after JOB %s" % (where, rest[i], name))
            i += 1
        node = Node(name, os.path.join(directory, submit), directory)
        node.done, node.noop = done, noop
        self.dag.nodes[name] = node

    def cmd_SCRIPT(self, where: str, args: list[str], text: str) -> None:
        i = 0
        while i < len(args) and args[i].upper() in ("DEFER", "DEBUG"):
            i += 3  # DEFER status time / DEBUG file type: timing and logging only
        if len(args) < i + 3:
            raise EngineError("%s: SCRIPT needs PRE|POST, a node and a program" % where)
        kind = args[i].upper()
        if kind not in ("PRE", "POST"):
            raise EngineError("%s: SCRIPT %s is not supported (PRE or POST)" % (where, args[i]))
        name, program = args[i + 1], args[i + 2]
        # the argument string is the rest of the line, as written
        words = text.split(None, i + 4)
        arguments = words[i + 4] if len(words) > i + 4 else ""

        def apply(node: Node) -> None:
            script = Script(program, arguments, where)
            if kind == "PRE":
                node.pre = script
            else:
                node.post = script

        self.later(where, name, apply)

    def cmd_RETRY(self, where: str, args: list[str], text: str) -> None:
        if len(args) not in (2, 4):
            raise EngineError("%s: RETRY needs a node and a count [UNLESS-EXIT code]" % where)
        count = _int(args[1], where, "RETRY count")
        unless = None
        if len(args) == 4:
            if args[2].upper() != "UNLESS-EXIT":
                raise EngineError("%s: unexpected %r in RETRY" % (where, args[2]))
            unless = _int(args[3], where, "UNLESS-EXIT code")
        if count < 0:
            raise EngineError("%s: RETRY count must not be negative" % where)

        def apply(node: Node) -> None:
            node.retry, node.retry_unless_exit = count, unless

        self.later(where, args[0], apply)

    def cmd_PRIORITY(self, where: str, args: list[str], text: str) -> None:
        if len(args) != 2:
            raise EngineError("%s: PRIORITY needs a node and a number" % where)
        value = _int(args[1], where, "PRIORITY")
        self.later(where, args[0], lambda node: setattr(node, "priority", value))

    def cmd_CATEGORY(self, where: str, args: list[str], text: str) -> None:
        if len(args) != 2:
            raise EngineError("%s: CATEGORY needs a node and a category" % where)
        category = args[1]
        self.later(where, args[0], lambda node: setattr(node, "category", category))

    def cmd_MAXJOBS(self, where: str, args: list[str], text: str) -> None:
        if len(args) != 2:
            raise EngineError("%s: MAXJOBS needs a category and a number" % where)
        value = _int(args[1], where, "MAXJOBS")
        if value < 0:
            raise EngineError("%s: MAXJOBS must not be negative" % where)
        self.dag.maxjobs[args[0]] = value

    def cmd_VARS(self, where: str, args: list[str], text: str) -> None:
        if not args:
            raise EngineError("%s: VARS needs a node" % where)
        rest = text.strip()[4:].lstrip()[len(args[0]) :]
        if args[1:2] and args[1].upper() in ("PREPEND", "APPEND"):
            rest = rest.lstrip()[len(args[1]) :]
        pairs: dict[str, str] = {}
        position = 0
        while rest[position:].strip():
            match = _VAR.match(rest, position)
            if match is None:
                raise EngineError(
                    '%s: VARS: cannot read %r (expected name="value")'
                    % (where, rest[position:].strip())
                )
            value = re.sub(r"\\(.)", r"\1", match.group(2))
            pairs[match.group(1)] = value
            position = match.end()
        self.later(where, args[0], lambda node: node.vars.update(pairs))

    def cmd_PARENT(self, where: str, args: list[str], text: str) -> None:
        upper = [a.upper() for a in args]
        if "CHILD" not in upper:
            raise EngineError("%s: PARENT without CHILD" % where)
        split = upper.index("CHILD")
        parents, children = args[:split], args[split + 1 :]
        if not parents or not children:
            raise EngineError("%s: PARENT ... CHILD ... needs names on both sides" % where)
        self.edges.append((where, parents, children))

    def finish(self) -> Dag:
        for where, names, apply in self.pending:
            for name in names:
                for node in self.targets(where, name):
                    apply(node)  # type: ignore[operator]
        nodes = self.dag.nodes
        seen: set[tuple[str, str]] = set()
        for where, parents, children in self.edges:
            for parent in parents:
                for child in children:
                    if parent not in nodes:
                        raise EngineError("%s: no JOB named %r" % (where, parent))
                    if child not in nodes:
                        raise EngineError("%s: no JOB named %r" % (where, child))
                    if parent == child:
                        raise EngineError("%s: node %s is its own parent" % (where, parent))
                    if (parent, child) not in seen:
                        seen.add((parent, child))
                        nodes[parent].children.append(child)
                        nodes[child].parents.append(parent)
        return self.dag


def parse_dag(text: str, path: str) -> Dag:
    """``path`` names the file in messages and anchors relative submit files and DIRs."""
    reader = _Reader(path)
    collecting = gc.isenabled()
    gc.disable()  # a big DAG is ~10 objects a line, none garbage: the GC would only slow it
    try:
        for number, line in enumerate(text.splitlines(), 1):
            stripped = line.strip()
            if not stripped or stripped[0] == "#":
                continue
            reader.line(path, number, stripped.split(), stripped)
        dag = reader.finish()
    finally:
        if collecting:
            gc.enable()
    if not dag.nodes:
        raise EngineError("%s: no JOB in the DAG" % path)
    dag.topological()  # a cycle is an error now, not a run that never ends
    return dag


def read_dag(path: str) -> Dag:
    path = os.path.abspath(path)
    try:
        with open(path, encoding="utf-8") as fh:
            text = fh.read()
    except OSError as exc:
        raise EngineError("cannot read DAG %s: %s" % (path, exc.strerror)) from None
    except UnicodeDecodeError:
        raise EngineError("DAG %s is not UTF-8 text" % path) from None
    return parse_dag(text, path)
