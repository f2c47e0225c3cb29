"""Environment-variable rewriting of the job's arguments, as the C tool does it.

HTCondor does not expand ``$VAR`` in a job's arguments, so Pegasus workflows rely on
kickstart to do it on the worker node.  The rules follow the C tool: ``$NAME`` and
``${NAME}`` expand outside single quotes, quote characters themselves are kept, and a
backslash outside quotes makes the next character literal (``\\$HOME`` stays ``$HOME``).

Where the C tool aborts the whole job with exit 1 (an unset variable, ``$$``, a lone ``$``,
an unbalanced quote, a trailing backslash), this keeps the text as written instead, so
``sh -c 'kill -9 $$'`` and a script's own ``$VAR`` reach the program untouched.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping

_NAME_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_")


def _variable(arg: str, i: int, env: Mapping[str, str]) -> tuple[str, int]:
    """(replacement, next index) for the ``$`` at ``arg[i]``."""
    n = len(arg)
    if i + 1 < n and arg[i + 1] == "{":
        close = arg.find("}", i + 2)
        name = arg[i + 2 : close] if close > 0 else ""
        if name and all(c in _NAME_CHARS for c in name) and name in env:
            return env[name], close + 1
        return "$", i + 1
    end = i + 1
    while end < n and arg[end] in _NAME_CHARS:
        end += 1
    name = arg[i + 1 : end]
    if name and name in env:
        return env[name], end
    return arg[i:end], end


def expand_argument(arg: str, env: Mapping[str, str]) -> str:
    if "$" not in arg and "\\" not in arg:
        return arg
    out = []
    quote = ""  # "" outside quotes, else the quote character we are inside
    i = 0
    n = len(arg)
    while i < n:
        c = arg[i]
        if c == "\\" and i + 1 < n:
            if quote:  # inside quotes the backslash stays, with the character it protects
                out.append(arg[i : i + 2])
            else:
                out.append(arg[i + 1])
            i += 2
            continue
        if c == "$" and quote != "'":
            text, i = _variable(arg, i, env)
            out.append(text)
            continue
        if c in "'\"":
            if not quote:
                quote = c
            elif quote == c:
                quote = ""
        out.append(c)
        i += 1
    return "".join(out)


def expand_arguments(argv: list[str], env: Mapping[str, str]) -> list[str]:
    return [expand_argument(arg, env) for arg in argv]
