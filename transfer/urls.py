"""URLs as Pegasus writes them, and how to show them without their secrets."""

from __future__ import annotations

import os
import re
from urllib.parse import unquote

from .errors import BadInput

# Schemes whose "host" part is the local machine: the URL is a path on this node.
LOCAL_SCHEMES = ("file", "symlink", "moveto")


class URL:
    """``scheme://[user[:password]@]host[:port]/path``, or a local path for file-like schemes.

    Pegasus's rules: a URL without ``:`` is a local file; ``file:``, ``file://`` and
    ``file://localhost`` all mean a path; ``$VAR`` is expanded in local paths; repeated
    slashes in a path are one.
    """

    __slots__ = ("host", "password", "path", "port", "raw", "scheme", "user")

    def __init__(self, raw: str, env: dict[str, str] | None = None):
        self.raw = raw
        self.user = self.password = None
        self.port: int | None = None
        self.host = ""
        if ":" not in raw.split("/", 1)[0] and not raw.startswith(LOCAL_SCHEMES):
            raw = "file://" + raw
        scheme, sep, rest = raw.partition(":")
        if not sep or not scheme.replace("+", "").replace("-", "").isalnum():
            raise BadInput("not a URL: %s" % redact(self.raw))
        self.scheme = scheme.lower()
        if self.scheme in LOCAL_SCHEMES:
            if rest.startswith("//localhost/"):
                rest = rest[len("//localhost") :]
            elif rest.startswith("//"):
                rest = rest[2:]
            self.path = _expand(rest, env)
            if not self.path.startswith("/"):
                self.path = os.path.abspath(self.path)
            self.path = _squeeze(self.path)
            return
        if not rest.startswith("//"):
            raise BadInput("not a URL (no //host part): %s" % redact(self.raw))
        authority, slash, path = rest[2:].partition("/")
        self.path = _squeeze("/" + path) if slash else "/"
        userinfo, at, hostport = authority.rpartition("@")
        if at:
            user, colon, password = userinfo.partition(":")
            self.user = unquote(user)
            self.password = unquote(password) if colon else None
        host, colon, port = hostport.rpartition(":") if "]" not in hostport[-1:] else ("", "", "")
        if colon and port.isdigit():
            self.host, self.port = host, int(port)
        else:
            self.host = hostport
        if self.host.startswith("[") and self.host.endswith("]"):
            self.host = self.host[1:-1]

    @property
    def is_local(self) -> bool:
        return self.scheme in LOCAL_SCHEMES

    @property
    def hostport(self) -> str:
        host = "[%s]" % self.host if ":" in self.host else self.host
        return host if self.port is None else "%s:%d" % (host, self.port)

    @property
    def name(self) -> str:
        return self.path.rstrip("/").rsplit("/", 1)[-1]

    def location(self, scheme: str | None = None) -> str:
        """``scheme://host[:port]/path`` without user or password: what a library is given."""
        return "%s://%s%s" % (scheme or self.scheme, self.hostport, self.path)

    def __str__(self) -> str:
        if self.is_local:
            return "%s://%s" % (self.scheme, self.path)
        return redact(self.raw)

    __repr__ = __str__


def _expand(path: str, env: dict[str, str] | None) -> str:
    if "$" not in path:
        return path
    env = os.environ if env is None else env
    out = []
    i = 0
    while i < len(path):
        c = path[i]
        if c != "$":
            out.append(c)
            i += 1
            continue
        if path[i + 1 : i + 2] == "{":
            end = path.find("}", i + 2)
            if end > 0:
                out.append(env.get(path[i + 2 : end], ""))
                i = end + 1
                continue
        j = i + 1
        while j < len(path) and (path[j].isalnum() or path[j] == "_"):
            j += 1
        if j == i + 1:
            out.append("$")
            i += 1
            continue
        out.append(env.get(path[i + 1 : j], ""))  # unset expands to nothing, as in Pegasus
        i = j
    return "".join(out)


def _squeeze(path: str) -> str:
    while "//" in path:
        path = path.replace("//", "/")
    return path


_PASSWORD = re.compile(r"(://[^/?#@\s:]*:)[^/?#@\s]*@")


def redact(text: str) -> str:
    """Replace the password of every ``scheme://user:password@`` in ``text`` with XXXX."""
    return _PASSWORD.sub(r"\1XXXX@", text)
