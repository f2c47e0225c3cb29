"""Read an HTCondor submit description (``.sub``) the way condor_submit would, for our keys.

The local engine runs a job from the same file HTCondor would get, so it needs the submit
language's rules: case-insensitive ``key = value`` lines, ``+Attr``/``MY.Attr`` attributes,
comments, backslash line continuations, ``$(macro)`` expansion, and the two syntaxes of
``arguments`` and ``environment``.  Anything it cannot honour is a one-line ``EngineError``
naming the file and line, never a silently different job.
"""

from __future__ import annotations

import os
import re

from .errors import EngineError

_MACRO = re.compile(r"\$(ENV)?\(([A-Za-z0-9_.+]+)(?::([^)]*))?\)", re.IGNORECASE)
_TRUE = {"true", "yes", "t", "y", "1"}
_FALSE = {"false", "no", "f", "n", "0"}
_UNSUPPORTED = ("include", "if", "elif", "else", "endif", "error", "warning")
_MAX_DEPTH = 32
_MAX_EXPANSIONS = 10000  # macro references replaced in one value: a bomb stops here


class SubmitDescription:
    """The commands of one submit file.  Values come back with macros expanded."""

    def __init__(self, source: str = "<submit>"):
        self.source = source
        self.commands: dict[str, str] = {}  # lower-case key -> raw value
        self.attributes: dict[str, str] = {}  # +Attr / MY.Attr -> raw value (case kept)
        self.macros: dict[str, str] = {}  # predefined and DAG VARS macros, lower-case names
        self.queue_count = 0
        self._expansions = 0  # in the value being expanded

    # ------------------------------------------------------------------ values

    def raw(self, key: str) -> str | None:
        return self.commands.get(key.lower())

    def get(self, key: str, default: str | None = None) -> str | None:
        """The value of ``key`` with ``$(...)`` macros expanded, or ``default``."""
        value = self.commands.get(key.lower())
        if value is None:
            return default
        return self.expand(value)

    def get_bool(self, key: str, default: bool = False) -> bool:
        value = self.get(key)
        if value is None or not value.strip():
            return default
        word = value.strip().strip('"').lower()
        if word in _TRUE:
            return True
        if word in _FALSE:
            return False
        raise EngineError("%s: %s = %s: expected true or false" % (self.source, key, value))

    def expand(self, value: str, depth: int = 0) -> str:
        if "$" not in value:
            return value
        if depth > _MAX_DEPTH:
            raise EngineError("%s: macros nest too deeply in %r" % (self.source, value))
        if depth == 0:
            self._expansions = 0

        def one(match: re.Match) -> str:
            start = match.start()
            if start > 0 and match.string[start - 1] == "$":
                return match.group(0)  # $$(attr): the machine ad's, left for the job
            name, default = match.group(2), match.group(3)
            if match.group(1):  # $ENV(NAME)
                return os.environ.get(name, default or "")
            lowered = name.lower()
            if lowered == "dollar":
                return "$"
            if lowered in self.macros:
                found = self.macros[lowered]
            elif lowered in self.commands:
                found = self.commands[lowered]
            elif default is not None:
                found = default
            else:
                return ""  # condor_submit expands an undefined macro to nothing
            self._expansions += 1
            if self._expansions > _MAX_EXPANSIONS:
                raise EngineError(
                    "%s: macros refer to macros more than %d times in %r"
                    % (self.source, _MAX_EXPANSIONS, value[:80])
                )
            return self.expand(found, depth + 1)

        return _MACRO.sub(one, value)

    # ------------------------------------------------------------------ typed views

    def arguments(self) -> list[str]:
        value = self.get("arguments")
        if value is None:
            value = self.get("args", "")
        return parse_arguments(value, self.source)

    def environment(self) -> dict[str, str]:
        value = self.get("environment")
        if value is None:
            value = self.get("env", "")
        return parse_environment(value, self.source)

    def file_list(self, key: str) -> list[str]:
        """A comma-separated list of names (transfer_input_files, transfer_output_files)."""
        value = self.get(key)
        if value is None:
            return []
        return [item.strip() for item in value.strip().strip('"').split(",") if item.strip()]

    def remaps(self) -> dict[str, str]:
        """``transfer_output_remaps = "a = /x/a ; b = y"`` as {name: destination}."""
        value = (self.get("transfer_output_remaps") or "").strip()
        if len(value) >= 2 and value[0] == value[-1] == '"':
            value = value[1:-1]
        remaps = {}
        for item in re.split(r"(?<!\\);", value):
            if not item.strip():
                continue
            name, sep, dest = item.partition("=")
            if not sep or not name.strip() or not dest.strip():
                raise EngineError(
                    "%s: transfer_output_remaps: %r is not NAME = DESTINATION"
                    % (self.source, item.strip())
                )
            remaps[_unescape(name.strip())] = _unescape(dest.strip())
        return remaps


def _unescape(text: str) -> str:
    return text.replace("\\;", ";").replace("\\=", "=")


# ---------------------------------------------------------------------- arguments, environment


def _split_new(text: str, what: str, source: str) -> list[str]:
    """The new syntax inside the outer double quotes: whitespace separates words, single
    quotes group (``''`` inside them is a literal quote), ``""`` is a literal double quote."""
    words: list[str] = []
    current: list[str] = []
    started = False
    quoted = False
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c == '"':
            if i + 1 < n and text[i + 1] == '"':
                current.append('"')
                started = True
                i += 2
                continue
            raise EngineError(
                '%s: %s: a lone " inside the quoted value (write "" for a literal one)'
                % (source, what)
            )
        if quoted:
            if c == "'":
                if i + 1 < n and text[i + 1] == "'":
                    current.append("'")
                    i += 2
                    continue
                quoted = False
            else:
                current.append(c)
        elif c == "'":
            quoted = True
            started = True
        elif c.isspace():
            if started:
                words.append("".join(current))
                current, started = [], False
        else:
            current.append(c)
            started = True
        i += 1
    if quoted:
        raise EngineError("%s: %s: unterminated single quote" % (source, what))
    if started:
        words.append("".join(current))
    return words


def _is_new_syntax(value: str) -> bool:
    return value.startswith('"')


def _strip_outer(value: str, what: str, source: str) -> str:
    if len(value) < 2 or not value.endswith('"'):
        raise EngineError("%s: %s: missing the closing double quote" % (source, what))
    return value[1:-1]


def parse_arguments(value: str, source: str = "<submit>") -> list[str]:
    """``arguments``: new syntax when the value is in double quotes, else the old one
    (whitespace-separated, ``\\"`` for a literal double quote)."""
    value = value.strip()
    if not value:
        return []
    if _is_new_syntax(value):
        return _split_new(_strip_outer(value, "arguments", source), "arguments", source)
    return [word.replace('\\"', '"') for word in value.split()]


def parse_environment(value: str, source: str = "<submit>") -> dict[str, str]:
    """``environment``: new syntax ``"K=V K2='v w'"``, or the old ``K=V;K2=V2``."""
    value = value.strip()
    if not value:
        return {}
    if _is_new_syntax(value):
        items = _split_new(_strip_outer(value, "environment", source), "environment", source)
    else:
        items = [item.strip() for item in value.split(";") if item.strip()]
    env: dict[str, str] = {}
    for item in items:
        name, sep, val = item.partition("=")
        if not sep or not name:
            raise EngineError("%s: environment: %r is not NAME=VALUE" % (source, item))
        env[name] = val
    return env


# ---------------------------------------------------------------------- the file


def _logical_lines(text: str):
    """(line number, text) with backslash continuations joined and comments dropped."""
    pending: list[str] = []
    first = 0
    for number, line in enumerate(text.splitlines(), 1):
        stripped = line.strip()
        if not pending and (not stripped or stripped.startswith("#")):
            continue
        if not pending:
            first = number
        if stripped.endswith("\\"):
            pending.append(line.rstrip()[:-1])
            continue
        pending.append(line)
        yield first, "".join(pending).strip()
        pending = []
    if pending:
        yield first, "".join(pending).strip()


def parse_submit(
    text: str, source: str = "<submit>", macros: dict[str, str] | None = None
) -> SubmitDescription:
    """Parse a submit description; ``macros`` are predefined values (Cluster, Process, DAG
    VARS) that ``$(name)`` finds before the file's own keys."""
    sub = SubmitDescription(source)
    for name, value in (macros or {}).items():
        sub.macros[name.lower()] = value
    for number, line in _logical_lines(text):
        if not line:  # a lone continuation backslash, then a blank line
            continue
        where = "%s:%d" % (source, number)
        head = line.split(None, 1)[0].lower()
        if head == "queue":
            if sub.queue_count:
                raise EngineError("%s: a second queue statement (one job per .sub)" % where)
            rest = line[5:].strip()
            if rest and not (rest.isascii() and rest.isdigit() and int(rest) == 1):
                raise EngineError("%s: 'queue %s': the local engine runs one job per .sub"
                                  % (where, rest))  # fmt: skip
            sub.queue_count = 1
            continue
        if sub.queue_count:
            raise EngineError("%s: commands after queue (one job per .sub)" % where)
        key, sep, value = line.partition("=")
        key = key.strip()
        if not sep or not key:
            if head in _UNSUPPORTED:
                raise EngineError(
                    "%s: %r statements are not supported by the local engine" % (where, head)
                )
            raise EngineError("%s: %r is not 'key = value'" % (where, line))
        if key.endswith(":"):
            raise EngineError("%s: %r: ':=' is not supported" % (where, line))
        value = value.strip()
        if key.startswith("+"):
            sub.attributes[key[1:]] = value
        elif key.lower().startswith("my."):
            sub.attributes[key[3:]] = value
        elif re.fullmatch(r"[A-Za-z_][A-Za-z0-9_.]*", key):
            sub.commands[key.lower()] = value
        else:
            raise EngineError("%s: %r is not a valid submit key" % (where, key))
    if not sub.queue_count:
        raise EngineError("%s: no queue statement" % source)
    return sub


def read_submit(path: str, macros: dict[str, str] | None = None) -> SubmitDescription:
    try:
        with open(path, encoding="utf-8") as fh:
            text = fh.read()
    except OSError as exc:
        raise EngineError("cannot read submit file %s: %s" % (path, exc.strerror)) from None
    except UnicodeDecodeError:
        raise EngineError("submit file %s is not UTF-8 text" % path) from None
    return parse_submit(text, path, macros)
