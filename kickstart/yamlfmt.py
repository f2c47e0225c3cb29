"""YAML scalar formatting for invocation records.

The C kickstart prints most strings bare and quotes a few without escaping, so a path with a
colon, a quote or a newline makes its record unparsable. Here every string goes through one of
two emitters that always produce valid YAML 1.1 (what PyYAML, and so Pegasus, reads):
``plain`` keeps the C look for ordinary values, ``quoted`` escapes everything else.

Non-UTF-8 bytes reach us as surrogate escapes (``os.fsdecode``); each is written as ``\\xNN``,
which a reader sees as the Latin-1 character with the same number as the byte.
"""

from __future__ import annotations

# Characters that must be escaped inside a double-quoted scalar: controls, DEL and C1,
# the quote and backslash, the line/paragraph separators and the BOM that YAML treats
# specially, and lone surrogates (raw non-UTF-8 bytes).  ``str.translate`` applies the table
# at C speed: ``re`` alone would add milliseconds to every job's start-up.
_NAMED = {
    "\x00": "\\0",
    "\x07": "\\a",
    "\x08": "\\b",
    "\t": "\\t",
    "\n": "\\n",
    "\x0b": "\\v",
    "\x0c": "\\f",
    "\r": "\\r",
    "\x1b": "\\e",
    '"': '\\"',
    "\\": "\\\\",
    "\u2028": "\\L",
    "\u2029": "\\P",
    "\ufeff": "\\uFEFF",
}


def _escape_table() -> dict:
    table = {}
    for code in [*range(0x20), *range(0x7F, 0xA0)]:
        table[code] = "\\x%02x" % code
    for code in range(0xD800, 0xE000):
        # surrogateescape maps byte 0xNN to U+DCNN; other lone surrogates cannot occur
        table[code] = "\\x%02x" % (code - 0xDC00) if code >= 0xDC80 else "\\ufffd"
    for char, escape in _NAMED.items():
        table[ord(char)] = escape
    return table


_ESCAPES = _escape_table()
# What a literal block cannot carry: everything escaped except tab, newline, quote, backslash.
_NOT_IN_LITERAL = {code: None for code in _ESCAPES if code not in (0x09, 0x0A, 0x22, 0x5C)}

# A bare scalar is only used when it cannot be read back as anything but this string.
_PLAIN_FIRST = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz/_")
_PLAIN_REST = {
    ord(c): None
    for c in "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789/_.+@%=()- "
}
_YAML11_WORDS = frozenset(["y", "n", "yes", "no", "on", "off", "true", "false", "null", "~"])


def quoted(value: str) -> str:
    """Double-quoted scalar that reads back as exactly ``value`` (bytes as Latin-1)."""
    return '"' + value.translate(_ESCAPES) + '"'


def plain(value: str) -> str:
    """Bare scalar when that is unambiguous, otherwise the quoted form."""
    if (
        value[:1] in _PLAIN_FIRST
        and not value.translate(_PLAIN_REST)
        and not value.endswith(" ")
        and value.lower() not in _YAML11_WORDS
        and "  " not in value
    ):
        return value
    return quoted(value)


def _literal_ok(text: str) -> bool:
    # A leading blank on a line would be taken as (or clash with) the block's indentation.
    if len(text.translate(_NOT_IN_LITERAL)) != len(text):
        return False
    return not any(line[:1] in (" ", "\t") for line in text.split("\n"))


def block(text: str, indent: str) -> str:
    """A multi-line value: a literal block like the C tool's ``data: |`` when the text allows
    it, else a double-quoted scalar.  Returns the part after ``key:``, starting with a space."""
    if not text.strip("\n") or not _literal_ok(text):
        return " " + quoted(text)
    if text.endswith("\n\n"):
        header, body = "|+", text[:-1]
    elif text.endswith("\n"):
        header, body = "|", text[:-1]
    else:
        header, body = "|-", text
    lines = body.split("\n")
    return " " + header + "\n" + "\n".join(indent + line if line else "" for line in lines)


def scalar(value: object) -> str:
    """One value of a record extension: bool, None, int, float or string."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return "%d" % value
    if isinstance(value, float):
        if value != value:
            return ".nan"
        if value in (float("inf"), float("-inf")):
            return ".inf" if value > 0 else "-.inf"
        text = repr(value)
        if "e" in text and "." not in text:  # YAML 1.1 reads 1e-07 as a string
            text = text.replace("e", ".0e")
        return text
    return plain(str(value))


def mapping_lines(mapping: dict, indent: str) -> list[str]:
    """A nested dict (values: scalars, lists, dicts) as block YAML lines at ``indent``."""
    out = []
    for key, value in mapping.items():
        name = plain(str(key))
        if isinstance(value, dict):
            if value:
                out.append("%s%s:" % (indent, name))
                out.extend(mapping_lines(value, indent + "  "))
            else:
                out.append("%s%s: {}" % (indent, name))
        elif isinstance(value, (list, tuple)):
            if value:
                out.append("%s%s:" % (indent, name))
                out.extend(_item_lines(value, indent + "  "))
            else:
                out.append("%s%s: []" % (indent, name))
        else:
            out.append("%s%s: %s" % (indent, name, scalar(value)))
    return out


def _item_lines(items: list | tuple, indent: str) -> list[str]:
    out = []
    for item in items:
        if isinstance(item, dict) and item:
            lines = mapping_lines(item, indent + "  ")
            lines[0] = indent + "- " + lines[0][len(indent) + 2 :]
            out.extend(lines)
        elif isinstance(item, (list, tuple)) and item:
            lines = _item_lines(item, indent + "  ")
            lines[0] = indent + "- " + lines[0][len(indent) + 2 :]
            out.extend(lines)
        elif isinstance(item, dict):
            out.append("%s- {}" % indent)
        elif isinstance(item, (list, tuple)):
            out.append("%s- []" % indent)
        else:
            out.append("%s- %s" % (indent, scalar(item)))
    return out
