"""YAML documents for the planner: fast (ryaml) when installed, PyYAML otherwise, same result.

ryaml (serde_yaml) resolves plain scalars by the YAML 1.2 core rules: ``yes``/``on`` stay
strings, ``1e3`` is a float, ``0o17`` an int, there are no timestamps and no ``1:20``
sexagesimals.  PyYAML follows YAML 1.1.  The PyYAML loader here is taught the ryaml rules so
a document means the same thing whichever back end reads it; the readers accept the YAML 1.1
booleans where Pegasus (a YAML 1.1 reader) would.  Duplicate keys are an error in both.

Big workflows: ``load_yaml(path, lazy=(...))`` leaves the named top-level block sequences
(``jobs``, ``jobDependencies``) unparsed and returns a ``LazySequence`` for each, parsed a
chunk at a time while it is iterated, so the raw items of a million-job workflow never all
exist at once.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import yaml

from .errors import ParseError

try:  # the fast back end; optional
    import ryaml as _ryaml
except ImportError:  # pragma: no cover - depends on the installation
    _ryaml = None

BACKEND = "ryaml" if _ryaml is not None else "pyyaml"

# a top-level block sequence is split only for files at least this big
LAZY_MIN_BYTES = 4 << 20
CHUNK_BYTES = 1 << 20


# ------------------------------------------------------------------ PyYAML with ryaml's rules

_INT = re.compile(r"^(?:[-+]?(?:0|[1-9][0-9]*)|[-+]?0x[0-9a-fA-F]+|[-+]?0o[0-7]+|[-+]?0b[01]+)$")
_FLOAT = re.compile(
    r"^(?:[-+]?(?:\.[0-9]+|[0-9]+\.[0-9]*)(?:[eE][-+]?[0-9]+)?"
    r"|[-+]?[0-9]+[eE][-+]?[0-9]+"
    r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"
)
_BOOL = re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$")
_NULL = re.compile(r"^(?:~|null|Null|NULL|)$")
_MERGE = re.compile(r"^(?:<<)$")

_Base = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _Loader(_Base):  # type: ignore[misc, valid-type]
    """PyYAML resolving plain scalars as ryaml does, and refusing duplicate keys."""

    yaml_implicit_resolvers: dict = {}

    def construct_mapping(self, node, deep=False):
        if isinstance(node, yaml.MappingNode):
            seen = set()
            for key_node, _value in node.value:
                if key_node.tag == "tag:yaml.org,2002:merge":
                    continue
                key = self.construct_object(key_node, deep=deep)
                try:
                    duplicate = key in seen
                except TypeError:
                    continue  # unhashable: the base class reports it
                if duplicate:
                    raise yaml.constructor.ConstructorError(
                        None, None, 'duplicate entry with key "%s"' % (key,), key_node.start_mark
                    )
                seen.add(key)
        return super().construct_mapping(node, deep=deep)

    def construct_yaml_int(self, node):
        text = self.construct_scalar(node)
        try:
            value = int(text, 0)
        except ValueError:  # more than 4300 digits: Python refuses, ryaml keeps the text
            return text
        if -(2**128) <= value < 2**128:
            return value
        try:  # as ryaml: a float beyond 128 bits, the text beyond a float
            return float(value)
        except OverflowError:
            return text

    def construct_yaml_float(self, node):
        text = self.construct_scalar(node)
        lowered = text.lower()
        if lowered.endswith(".inf"):
            return float("-inf") if text.startswith("-") else float("inf")
        if lowered == ".nan":
            return float("nan")
        value = float(text)
        if value in (float("inf"), float("-inf")):
            return text  # out of range: ryaml keeps the text
        return value


for _tag, _pattern, _first in (
    ("tag:yaml.org,2002:bool", _BOOL, list("tTfF")),
    ("tag:yaml.org,2002:null", _NULL, ["~", "n", "N", ""]),
    ("tag:yaml.org,2002:int", _INT, list("-+0123456789")),
    ("tag:yaml.org,2002:float", _FLOAT, list("-+.0123456789")),
    ("tag:yaml.org,2002:merge", _MERGE, ["<"]),
):
    _Loader.add_implicit_resolver(_tag, _pattern, _first)
_Loader.add_constructor("tag:yaml.org,2002:int", _Loader.construct_yaml_int)
_Loader.add_constructor("tag:yaml.org,2002:float", _Loader.construct_yaml_float)
# ``<<`` where a value is expected is just text, as in ryaml
_Loader.add_constructor("tag:yaml.org,2002:merge", _Loader.construct_scalar)


def _pyyaml_reason(error: yaml.YAMLError) -> str:
    """One line, worded like ryaml's: problem at line L column C[, context at line ...]."""
    problem = getattr(error, "problem", None)
    mark = getattr(error, "problem_mark", None)
    if problem is None:
        return " ".join(str(error).split())
    text = problem
    if mark is not None:
        text += " at line %d column %d" % (mark.line + 1, mark.column + 1)
    context = getattr(error, "context", None)
    if context:
        text += ", " + context
        context_mark = getattr(error, "context_mark", None)
        if context_mark is not None:
            text += " at line %d column %d" % (context_mark.line + 1, context_mark.column + 1)
    return text


# ------------------------------------------------------------------ limits of both back ends

# ryaml (serde_yaml) refuses collections nested deeper than 128 and documents whose aliases
# replay more than 100 events per event of the text (billion laughs).  PyYAML has neither
# limit: its C composer recurses without bound (deep input crashes the interpreter) and its
# aliases share objects that the readers then walk once per reference.  libyaml, under both,
# scans nested flow collections ([[[[...) in quadratic time.
MAX_DEPTH = 128
MAX_REPLAY = 100
MAX_FLOW_DEPTH = 1000  # the cheap pre-scan's bound: stray brackets in scalars count too
_BRACKETS = re.compile(r"[\[{]+|[\]}]+")


def _limit(problem: str, mark) -> yaml.YAMLError:
    return yaml.MarkedYAMLError(problem=problem, problem_mark=mark)


def check_flow_depth(text: str) -> None:
    """Refuse ``[[[[...`` deeper than any back end reads before libyaml spends minutes on it
    (a yaml.YAMLError naming the place)."""
    if text.count("[") + text.count("{") <= MAX_FLOW_DEPTH:
        return
    depth = 0
    for match in _BRACKETS.finditer(text):
        run = match.group()
        if run[0] in "[{":
            depth += len(run)
            if depth > MAX_FLOW_DEPTH:
                line = text.count("\n", 0, match.start())
                column = match.start() - (text.rfind("\n", 0, match.start()) + 1)
                mark = yaml.Mark("", match.start(), line, column, None, None)
                raise _limit("recursion limit exceeded", mark)
        else:
            depth = max(0, depth - len(run))


def _pyyaml_load(text: str) -> object:
    """PyYAML, after an event scan that applies ryaml's depth and alias limits."""
    check_limits(text, _Loader)
    return yaml.load(text, Loader=_Loader)


def check_limits(text: str, loader=None) -> None:
    """Raise a yaml.YAMLError where ``text`` breaks ryaml's limits (nesting depth, alias
    replays), so that PyYAML (``loader``, the planner's by default) may then load it safely.
    An event scan: no recursion, no objects built, about a tenth of a load's time."""
    check_flow_depth(text)
    depth = 0
    events = 0
    replayed = 0  # alias replays, nested ones counted as often as they are replayed
    last_alias = None
    anchors: dict = {}  # anchor -> alias replays inside its node
    inside: list = []  # per open collection: [anchor, alias replays so far]
    starts = (yaml.SequenceStartEvent, yaml.MappingStartEvent)
    ends = (yaml.SequenceEndEvent, yaml.MappingEndEvent)
    for event in yaml.parse(text, Loader=loader or _Loader):
        events += 1
        if isinstance(event, starts):
            depth += 1
            if depth > MAX_DEPTH:
                raise _limit("recursion limit exceeded", event.start_mark)
            inside.append([event.anchor, 0])
        elif isinstance(event, ends):
            depth -= 1
            anchor, count = inside.pop()
            if anchor is not None:
                anchors[anchor] = count
            if inside:
                inside[-1][1] += count
        elif isinstance(event, yaml.AliasEvent):
            count = anchors.get(event.anchor)
            if count is None:
                if any(anchor == event.anchor for anchor, _ in inside):  # a node in itself
                    raise _limit("recursion limit exceeded", event.start_mark)
                continue  # an unknown anchor: the load below says so
            replayed += count + 1
            if inside:
                inside[-1][1] += count + 1
            last_alias = event
        elif isinstance(event, yaml.ScalarEvent) and event.anchor is not None:
            anchors[event.anchor] = 0
    if replayed > MAX_REPLAY * events:
        raise _limit("repetition limit exceeded", last_alias.start_mark)


def _apply_merges(node: object) -> object:
    """``<<`` merge keys, which ryaml leaves as plain keys (PyYAML merges them itself)."""
    if isinstance(node, list):
        for index, item in enumerate(node):
            node[index] = _apply_merges(item)
        return node
    if not isinstance(node, dict):
        return node
    for key in node:
        node[key] = _apply_merges(node[key])
    merge = node.get("<<")
    if isinstance(merge, dict):
        sources = [merge]
    elif isinstance(merge, list) and merge and all(isinstance(m, dict) for m in merge):
        sources = merge
    else:
        return node
    merged: dict = {}
    for source in reversed(sources):  # earlier mappings win
        merged.update(source)
    for key, value in node.items():
        if key != "<<":
            merged[key] = value
    return merged


def _parse(text: str, source: str, line_offset: int = 0) -> object:
    """One document from text; errors name the line in the whole file."""
    try:
        check_flow_depth(text)
        if _ryaml is not None:
            document = _ryaml.loads(text)
            if "<<" in text:
                document = _apply_merges(document)
            return document
        return _pyyaml_load(text)
    except yaml.YAMLError as error:
        reason = _pyyaml_reason(error)
    except Exception as error:  # ryaml raises InvalidYamlError and ValueError
        reason = " ".join(str(error).split())
        if "unhashable" in reason:
            reason = "a list or mapping used as a mapping key"
        elif not re.search(r"\bline \d", reason):
            reason = _located(text) or reason  # ask PyYAML where it is
    if line_offset:
        reason = re.sub(
            r"\bline (\d+)", lambda m: "line %d" % (int(m.group(1)) + line_offset), reason
        )
    raise ParseError(source, "", "not valid YAML: %s" % reason)


def _located(text: str) -> str | None:
    """PyYAML's reason for rejecting text (it always names the line), or None."""
    try:
        _pyyaml_load(text)
    except yaml.YAMLError as error:
        return _pyyaml_reason(error)
    except Exception:
        return None
    return None


def loads_yaml(text: str, source: str) -> object:
    """Parse one YAML document; a syntax error is a ParseError naming the line."""
    return _parse(text, source)


def read_text(path: str) -> str:
    """A file's text (UTF-8), or a ParseError that says why it cannot be read."""
    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except OSError as error:
        raise ParseError(path, "", "cannot read: %s" % (error.strerror or error)) from None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        raise ParseError(path, "", "not UTF-8 text (line %d)" % line) from None


def load_yaml(path: str, lazy: tuple = ()) -> object:
    """Parse a YAML file.  Top-level block sequences named in ``lazy`` may come back as
    ``LazySequence`` (only for big files in the block layout pegasus-wms.api writes)."""
    return load_text(read_text(path), path, lazy)


def load_text(text: str, source: str, lazy: tuple = ()) -> object:
    """``load_yaml`` for text already read."""
    if lazy and len(text) >= LAZY_MIN_BYTES:
        document = _load_split(text, source, lazy)
        if document is not None:
            return document
    return _parse(text, source)


# ------------------------------------------------------------------ big documents, lazily

_TOP_KEY = re.compile(r"^[^ \t\r\n#\-][^\n]*", re.M)
_FIRST_ITEM = re.compile(r"^( *)-(?=[ \r\n]|$)", re.M)
_ITEM_START: dict = {}  # indent -> compiled pattern of an item line at that indent


def _item_pattern(indent: int) -> re.Pattern:
    pattern = _ITEM_START.get(indent)
    if pattern is None:
        pattern = re.compile(r"^ {%d}-(?=[ \r\n]|$)" % indent, re.M)
        _ITEM_START[indent] = pattern
    return pattern


class LazySequence:
    """A top-level block sequence, parsed a chunk of items at a time as it is iterated."""

    def __init__(self, text: str, start: int, end: int, indent: int, source: str):
        self._text = text
        self._start = start  # offset of the first item line
        self._end = end
        self._indent = indent
        self.source = source

    def __iter__(self) -> Iterator[object]:
        text, end = self._text, self._end
        items = _item_pattern(self._indent)
        position = self._start
        line = text.count("\n", 0, position)
        while position < end:
            cut = min(position + CHUNK_BYTES, end)
            if cut < end:
                found = items.search(text, cut, end)
                cut = found.start() if found is not None else end
            chunk = text[position:cut]
            parsed = _parse(chunk, self.source, line_offset=line)
            if parsed is not None:
                if not isinstance(parsed, list):
                    raise ParseError(self.source, "", "not valid YAML near line %d" % (line + 1))
                yield from parsed
            line += chunk.count("\n")
            position = cut


def _load_split(text: str, source: str, lazy: tuple) -> dict | None:
    """The document with the ``lazy`` sequences left as LazySequence; None if the layout is
    not a plain top-level block mapping (the caller then parses the whole text)."""
    keys = list(_TOP_KEY.finditer(text))
    if not keys or (
        text[: keys[0].start()].strip("\r\n \t") and not _only_comments(text[: keys[0].start()])
    ):
        return None
    pieces = []  # the text parsed now: everything but the lazy blocks
    lazies = {}
    cursor = 0
    for index, match in enumerate(keys):
        line = match.group(0).rstrip()
        name, colon, rest = line.partition(":")
        if line.startswith(("...", "%")) or not colon:
            return None
        if name not in lazy or rest.split("#", 1)[0].strip():
            continue
        block_start = match.end() + 1
        block_end = keys[index + 1].start() if index + 1 < len(keys) else len(text)
        first = _FIRST_ITEM.search(text, block_start, block_end)
        if first is None or (
            text[block_start : first.start()].strip("\r\n \t")
            and not (_only_comments(text[block_start : first.start()]))
        ):
            return None
        pieces.append(text[cursor:block_start])
        lazies[name] = LazySequence(text, first.start(), block_end, len(first.group(1)), source)
        cursor = block_end
    if not lazies:
        return None
    pieces.append(text[cursor:])
    skeleton = "".join(pieces)
    try:
        document = _parse(skeleton, source)
    except ParseError:
        return None  # the caller parses the whole text and reports the true line
    if not isinstance(document, dict):
        return None
    for name, sequence in lazies.items():
        document[name] = sequence
    return document


def _only_comments(text: str) -> bool:
    return all(not line.strip() or line.lstrip().startswith("#") for line in text.splitlines())
