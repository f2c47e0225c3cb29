"""ClassAd text, new syntax, the way HTCondor's starter writes and reads plugin ads.

Standard library only (transfer/ runs on bare worker nodes): ``parse_ads`` reads ads back
to back or as a ``{ ad, ad }`` list into dicts (names lower-cased; expressions we do not
evaluate kept as ``Opaque``), ``format_ad``/``format_long`` write them.
"""

from __future__ import annotations

import math
import re


class Opaque:
    """An expression we do not evaluate (HTCondor may pass any); kept as its source text."""

    __slots__ = ("text",)

    def __init__(self, text: str):
        self.text = text

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Opaque) and other.text == self.text

    def __repr__(self) -> str:
        return "Opaque(%r)" % self.text


class ClassAdSyntaxError(ValueError):
    pass


_SIMPLE_ESCAPES = {
    '"': '"', "'": "'", "?": "?", "\\": "\\",
    "a": "\a", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v",
}  # fmt: skip
_OCTAL = "01234567"


def _unescape(raw: str) -> str:
    """The escapes of a new-syntax string literal; ``raw`` holds one character per byte."""
    out = []
    i, n = 0, len(raw)
    while i < n:
        c = raw[i]
        if c != "\\" or i == n - 1:  # a backslash at the very end stands for itself
            out.append(c)
            i += 1
            continue
        c = raw[i + 1]
        i += 2
        if c in _SIMPLE_ESCAPES:
            out.append(_SIMPLE_ESCAPES[c])
        elif c in _OCTAL:
            number = int(c)
            if i < n and raw[i] in _OCTAL:
                number = number * 8 + int(raw[i])
                i += 1
                if number < 0o40 and i < n and raw[i] in _OCTAL:
                    number = number * 8 + int(raw[i])
                    i += 1
            if number == 0:
                raise ClassAdSyntaxError("a string holds a NUL byte (\\0)")
            out.append(chr(number & 0xFF))
        else:
            out.append(c)  # an unknown escape is the character itself
    return "".join(out)


def _decode(chars: str) -> str:
    """Bytes (one character each) as text: UTF-8, undecodable bytes kept (surrogateescape)."""
    return chars.encode("latin-1").decode("utf-8", "surrogateescape")


class _Token:
    __slots__ = ("end", "kind", "start", "value")

    def __init__(self, kind: str, value: object, start: int, end: int):
        self.kind = kind  # str, attr (a 'quoted' name), num, id, op
        self.value = value
        self.start = start
        self.end = end


_LEXEME = re.compile(
    r"""(?P<skip>\s+|//[^\n]*|/\*.*?\*/)
    |(?P<str>"(?:[^"\\]|\\.)*")
    |(?P<attr>'(?:[^'\\]|\\.)*')
    |(?P<num>0[xX][0-9a-fA-F]+|(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?)
    |(?P<id>[A-Za-z_][A-Za-z0-9_]*)
    |(?P<op>.)""",
    re.S | re.X,
)


def _tokens(text: str) -> list[_Token]:
    found: list[_Token] = []
    for m in _LEXEME.finditer(text):
        kind = m.lastgroup
        if kind == "skip":
            continue
        value = m.group()
        if kind == "op":
            if value in "\"'":
                raise ClassAdSyntaxError(
                    "a string is never closed (at %s)" % _where(text, m.start())
                )
            if text.startswith("/*", m.start()):
                raise ClassAdSyntaxError(
                    "a comment is never closed (at %s)" % _where(text, m.start())
                )
        elif kind in ("str", "attr"):
            value = _decode(_unescape(value[1:-1]))
            last = found[-1] if found else None
            if last is not None and last.kind == kind and not text[last.end : m.start()].strip():
                last.value += value  # "a" "b" is "ab", as HTCondor's lexer reads it
                last.end = m.end()
                continue
        found.append(_Token(kind, value, m.start(), m.end()))
    return found


def _where(text: str, pos: int) -> str:
    return "line %d" % (text.count("\n", 0, pos) + 1)


_CLOSING = {"[": "]", "{": "}", "(": ")"}
_MAX_DEPTH = 100


class _Parser:
    """Ads and lists of ads; attribute values are literals, lists, nested ads or Opaque."""

    def __init__(self, text: str, tokens: list[_Token]):
        self.text = text
        self.tokens = tokens
        self.pos = 0

    def fail(self, message: str) -> ClassAdSyntaxError:
        if self.pos < len(self.tokens):
            where = _where(self.text, self.tokens[self.pos].start)
        else:
            where = "the end"
        return ClassAdSyntaxError("%s (at %s)" % (message, where))

    def peek(self, value: str) -> bool:
        return (
            self.pos < len(self.tokens)
            and self.tokens[self.pos].kind == "op"
            and self.tokens[self.pos].value == value
        )

    def expect(self, value: str, what: str) -> None:
        if not self.peek(value):
            raise self.fail("expected %s" % what)
        self.pos += 1

    def document(self) -> list[dict]:
        """Ads one after another, or in ``{ ad, ad }`` lists (condor_q -long:new)."""
        ads = []
        while self.pos < len(self.tokens):
            if self.peek("{"):
                self.pos += 1
                while not self.peek("}"):
                    ads.append(self.record())
                    if self.peek(","):
                        self.pos += 1
                    elif not self.peek("}"):
                        raise self.fail("expected ',' or '}' after an ad")
                self.pos += 1
            else:
                ads.append(self.record())
        return ads

    def record(self) -> dict:
        self.expect("[", "'[' to start an ad")
        ad: dict = {}
        while not self.peek("]"):
            if self.pos >= len(self.tokens):
                raise self.fail("the ad is never closed with ']'")
            name = self.tokens[self.pos]
            if name.kind not in ("id", "attr"):
                raise self.fail("expected an attribute name")
            self.pos += 1
            self.expect("=", "'=' after %s" % name.value)
            ad[str(name.value).lower()] = self.value(self.span((";", "]"), name.value))
            if self.peek(";"):
                self.pos += 1
        self.pos += 1
        return ad

    def span(self, ends: tuple[str, ...], name: object) -> list[_Token]:
        """The tokens of one expression: up to a terminator outside any bracket."""
        start = self.pos
        stack: list[str] = []
        while self.pos < len(self.tokens):
            token = self.tokens[self.pos]
            if token.kind == "op":
                if not stack and token.value in ends:
                    break
                if token.value in _CLOSING:
                    stack.append(_CLOSING[token.value])
                    if len(stack) > _MAX_DEPTH:  # each level is a recursion of value()
                        raise self.fail("the value of %s nests too deeply" % name)
                elif token.value in ")]}" and (not stack or stack.pop() != token.value):
                    raise self.fail("unbalanced %r in the value of %s" % (token.value, name))
            self.pos += 1
        else:
            raise self.fail("the value of %s runs to the end of the input" % name)
        if self.pos == start:
            raise self.fail("%s has no value" % name)
        return self.tokens[start : self.pos]

    def value(self, span: list[_Token]) -> object:
        first, last = span[0], span[-1]
        if len(span) == 1:
            if first.kind == "str":
                return first.value
            if first.kind == "num":
                return _number(first.value)
            if first.kind == "id":
                word = first.value.lower()
                if word in ("true", "false"):
                    return word == "true"
                if word == "undefined":
                    return None
        if len(span) == 2 and first.kind == "op" and first.value == "-" and last.kind == "num":
            number = _number(last.value)
            if not isinstance(number, Opaque):
                return -number
        if first.kind == "op" and first.value in ("[", "{") and self._encloses(span):
            inner = _Parser(self.text, span)
            if first.value == "[":
                return inner.record()
            return inner.items()
        return Opaque(self.text[first.start : last.end])

    @staticmethod
    def _encloses(span: list[_Token]) -> bool:
        """True when the first bracket closes at the last token (``[a=1]`` not ``[a=1].a``)."""
        depth = 0
        for index, token in enumerate(span):
            if token.kind != "op":
                continue
            if token.value in _CLOSING:
                depth += 1
            elif token.value in ")]}":
                depth -= 1
                if depth == 0:
                    return index == len(span) - 1
        return False

    def items(self) -> list:
        self.expect("{", "'{'")
        found = []
        while not self.peek("}"):
            found.append(self.value(self.span((",", "}"), "a list item")))
            if self.peek(","):
                self.pos += 1
        self.pos += 1
        return found


def _number(text: str) -> object:
    try:
        if text[:2] in ("0x", "0X"):
            return int(text, 16)
        if any(c in text for c in ".eE"):
            return float(text)
        if len(text) > 1 and text[0] == "0":
            return int(text, 8)
        return int(text)
    except ValueError:
        return Opaque(text)


def parse_ads(data: bytes) -> list[dict]:
    """The ads of a new-syntax ClassAd file: a dict per ad, attribute names lower-cased."""
    text = data.decode("latin-1")  # one character per byte; string values decode as UTF-8
    return _Parser(text, _tokens(text)).document()


_ESCAPES_OUT = {0x22: '\\"', 0x5C: "\\\\", 0x0A: "\\n", 0x09: "\\t", 0x0D: "\\r"}


def quote(text: str) -> str:
    """A string literal HTCondor reads back byte for byte: ASCII, octal for other bytes."""
    try:
        data = text.encode("utf-8", "surrogateescape")  # a file name's raw bytes come back
    except UnicodeEncodeError:
        data = text.encode("utf-8", "replace")
    out = ['"']
    for byte in data:
        if byte in _ESCAPES_OUT:
            out.append(_ESCAPES_OUT[byte])
        elif 0x20 <= byte < 0x7F:
            out.append(chr(byte))
        elif byte:  # a NUL cannot be in a ClassAd string: dropped
            out.append("\\%03o" % byte)
    out.append('"')
    return "".join(out)


def format_value(value: object) -> str:
    if value is None:
        return "undefined"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return "%.6f" % (value if math.isfinite(value) else 0.0)
    if isinstance(value, str):
        return quote(value)
    if isinstance(value, Opaque):
        return value.text
    if isinstance(value, dict):
        if not value:
            return "[ ]"
        return "[ %s ]" % "; ".join("%s = %s" % (k, format_value(v)) for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return "{ %s }" % ", ".join(format_value(v) for v in value)
    raise TypeError("no ClassAd form for %r" % (value,))


def format_ad(ad: dict) -> str:
    """One ad, one attribute per line (the new syntax the starter's output reader wants)."""
    lines = ["    %s = %s" % (name, format_value(value)) for name, value in ad.items()]
    return "[\n%s\n]\n" % ";\n".join(lines)


def format_long(ad: dict) -> str:
    """The long form (``Name = value`` lines) the starter reads from ``-classad``."""
    return "".join("%s = %s\n" % (name, format_value(value)) for name, value in ad.items())
